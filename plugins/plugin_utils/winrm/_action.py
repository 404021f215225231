# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base class for action plugins that configure Windows through PSRP command pipelines.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Every remote step is one ``PipelineRequest`` (docs/dev/architecture.md, "Pipeline API") made of
documented cmdlets with named, typed parameters: no script text is ever built from user values.
The action plugin reads the current state, decides in Python what must change (the functions in
the other ``_winrm_*`` helpers, which are unit-tested without a connection), and only then sends
the commands that apply the change, unless the task runs in check mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

PipelineInvoker = Callable[[dict[str, Any]], Mapping[str, Any]]


class WinRMConfigError(Exception):
    """A desired state that cannot be reached (or may not be, for safety); message is user-facing."""


class RemoteCommandError(WinRMConfigError):
    """A pipeline ended with error records or in the Failed state."""

    def __init__(self, host: str, action: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.host = host
        self.action = action
        self.errors = list(errors)
        details = "; ".join(_error_text(e) for e in self.errors) or "the pipeline failed"
        super().__init__(f"{host}: {action} failed: {details}")


def _error_text(record: Mapping[str, Any]) -> str:
    """One line of text from an error record shaped like win_powershell's ``error`` entries."""
    text = record.get("output") or record.get("message")
    if not text:
        exc = record.get("exception")
        if isinstance(exc, Mapping):
            text = exc.get("message")
    if not text:
        text = str(record.get("error_details") or record)
    category = record.get("category_info")
    reason = category.get("reason") if isinstance(category, Mapping) else None
    error_id = record.get("fully_qualified_error_id")
    extra = ", ".join(str(p) for p in (reason, error_id) if p)
    return f"{str(text).strip()} ({extra})" if extra else str(text).strip()


def command(name: str, /, *args: Any, **parameters: Any) -> dict[str, Any]:
    """One cmdlet with named parameters (in the given order) and optional positional arguments.

    A parameter whose value is ``True`` is still sent as a typed boolean; switch parameters take a
    boolean in PSRP (``-Force:$true``), so this is also how switches are sent.
    """
    cmd: dict[str, Any] = {"name": name, "is_script": False, "parameters": dict(parameters)}
    if args:
        cmd["arguments"] = list(args)
    return cmd


def statements(*groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join several pipelines into one request: each group becomes its own statement."""
    out: list[dict[str, Any]] = []
    for group in groups:
        for index, cmd in enumerate(group):
            entry = dict(cmd)
            if index == len(group) - 1:
                entry["end_of_statement"] = True
            out.append(entry)
    return out


@dataclass
class PipelineRunner:
    """Sends requests through ``Connection.invoke_pipeline`` and turns failures into errors."""

    invoke: PipelineInvoker
    host: str
    sent: int = 0

    def run(
        self,
        action: str,
        commands: Sequence[dict[str, Any]],
        *,
        depth: int = 2,
        ignore_errors: bool = False,
        input_objects: Iterable[Any] | None = None,
    ) -> list[Any]:
        """Run one request; ``action`` says what it does for error messages ("read listeners")."""
        request: dict[str, Any] = {"commands": list(commands), "depth": depth}
        if input_objects is not None:
            request["input"] = list(input_objects)
        self.sent += 1
        result = self.invoke(request)
        errors = list(result.get("error") or [])
        failed = result.get("state") == "Failed"
        if failed or (errors and not ignore_errors):
            raise RemoteCommandError(self.host, action, errors)
        return list(result.get("output") or [])


@dataclass(frozen=True)
class ConnectionFacts:
    """How the play reaches this host right now (used to refuse self-disconnecting changes)."""

    transport: str | None  # "http" | "https"
    port: int | None
    auth: str | None  # basic | negotiate | ntlm | kerberos | credssp | certificate


def _first(values: Iterable[Any]) -> Any:
    for value in values:
        if value not in (None, ""):
            return value
    return None


class WinRMActionBase(ActionBase):
    """Validates arguments, finds the pipeline entry point and turns decision errors into results.

    Subclasses set ``ARGUMENT_SPEC`` (and the usual validator keywords) and implement ``manage``.
    """

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    MODULE: str = ""
    ARGUMENT_SPEC: dict[str, Any] = {}
    MUTUALLY_EXCLUSIVE: list[Sequence[str]] = []
    REQUIRED_IF: list[Sequence[Any]] = []
    REQUIRED_TOGETHER: list[Sequence[str]] = []

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        del tmp
        _, args = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC,
            mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
            required_if=self.REQUIRED_IF,
            required_together=self.REQUIRED_TOGETHER,
        )
        host = str(task_vars.get("inventory_hostname") or self._play_context.remote_addr or "host")
        invoke = getattr(self._connection, "invoke_pipeline", None)
        if invoke is None:
            raise AnsibleActionFail(
                f"{host}: {self.MODULE} needs the psremoting.core.psrp connection plugin "
                f"(set ansible_connection=psremoting.core.psrp); this host uses "
                f"'{getattr(self._connection, '_load_name', type(self._connection).__name__)}'"
            )
        runner = PipelineRunner(invoke=invoke, host=host)
        context = TaskContext(
            host=host,
            check_mode=bool(self._task.check_mode),
            diff=bool(self._task.diff),
            connection=self.connection_facts(task_vars),
        )
        try:
            result.update(self.manage(runner, args, context))
        except WinRMConfigError as exc:
            result["failed"] = True
            result["changed"] = False
            result["msg"] = str(exc)
            if isinstance(exc, RemoteCommandError):
                result["error"] = exc.errors
        result.setdefault("changed", False)
        return result

    def connection_facts(self, task_vars: Mapping[str, Any]) -> ConnectionFacts:
        """Read transport, port and auth from the connection plugin, falling back to host vars."""

        def option(*names: str) -> Any:
            for name in names:
                try:
                    value = self._connection.get_option(name)
                except Exception:  # noqa: S112 - the option may not exist on this plugin
                    continue
                if value not in (None, ""):
                    return value
            return None

        transport = _first(
            (
                option("protocol", "scheme", "transport"),
                task_vars.get("ansible_psrp_protocol"),
            )
        )
        port = _first((option("port"), task_vars.get("ansible_port")))
        auth = _first((option("auth"), task_vars.get("ansible_psrp_auth")))
        if transport is None and port is not None:
            transport = "http" if int(port) in (80, 5985) else "https"
        if port is None and transport is not None:
            port = 5985 if str(transport).lower() == "http" else 5986
        return ConnectionFacts(
            transport=str(transport).lower() if transport else None,
            port=int(port) if port is not None else None,
            auth=str(auth).lower() if auth else None,
        )

    def manage(self, runner: PipelineRunner, args: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class TaskContext:
    host: str
    check_mode: bool
    diff: bool
    connection: ConnectionFacts
