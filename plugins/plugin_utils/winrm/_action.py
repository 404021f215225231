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

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    OPTION_TABLE,
    ConnectionSettings,
    OptionError,
    read_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Problems

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
    address: str | None = None  # the host name or address the play connects to
    configuration: str | None = None  # the session configuration (endpoint) the play uses


class _OptionReader:
    """``get_option`` of the task's connection, with the psrp defaults for options it does not have
    (ansible.builtin.psrp has the same options as psremoting.core.psrp except the session ones)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def __call__(self, name: str) -> Any:
        try:
            return self._connection.get_option(name)
        except KeyError:
            return None if name == "remote_addr" else OPTION_TABLE[name][1]


def connection_settings(connection: Any, host: str) -> ConnectionSettings:
    """The connection's options read and resolved once, by the code the connection plugin uses
    (``_options.read_settings``): protocol and port follow ansible.builtin.psrp (no protocol and
    port 5985 is http, any other port https). Raises ``WinRMConfigError`` for a bad option."""
    try:
        return read_settings(_OptionReader(connection), host)
    except OptionError as exc:
        raise WinRMConfigError(str(exc)) from None


def connection_facts(connection: Any, host: str) -> ConnectionFacts:
    settings = connection_settings(connection, host)
    return ConnectionFacts(
        transport=settings.protocol,
        port=int(settings.port),
        auth=settings.auth,
        address=settings.host,
        configuration=settings.configuration_name,
    )


def require_pipeline(connection: Any, host: str, module: str) -> PipelineInvoker:
    """The connection's ``invoke_pipeline``: the one check that a module runs over psremoting.core.psrp."""
    invoke = getattr(connection, "invoke_pipeline", None)
    if invoke is None:
        raise AnsibleActionFail(
            f"{host}: {module} needs the psremoting.core.psrp connection plugin "
            f"(set ansible_connection=psremoting.core.psrp); this host uses "
            f"'{getattr(connection, '_load_name', type(connection).__name__)}'"
        )
    return invoke


R = TypeVar("R")


class WinRMActionBase(ActionBase, Generic[R]):
    """Validates arguments, checks every value, finds the pipeline entry point and turns decision
    errors into results.

    Subclasses set ``ARGUMENT_SPEC`` (and the usual validator keywords), may set ``CHECKS``
    (option -> checker from ``_validate``; a list option is checked entry by entry) and extend
    ``check_values`` for checks across options, turn the checked values into their typed request
    (a frozen dataclass) in ``request``, and implement ``manage``. Every check runs before the
    first request: a task with a bad value sends nothing and names every bad value.
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
    CHECKS: dict[str, Callable[[Any], Any]] = {}

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
        try:
            request = self.request(self.checked(args, host))
            invoke = require_pipeline(self._connection, host, self.MODULE)
            context = TaskContext(
                host=host,
                check_mode=bool(self._task.check_mode),
                diff=bool(self._task.diff),
                connection=connection_facts(self._connection, host),
            )
            result.update(self.manage(PipelineRunner(invoke=invoke, host=host), request, context))
        except WinRMConfigError as exc:
            result["failed"] = True
            result["changed"] = False
            result["msg"] = str(exc)
            if isinstance(exc, RemoteCommandError):
                result["error"] = exc.errors
        result.setdefault("changed", False)
        return result

    def checked(self, args: dict[str, Any], host: str) -> dict[str, Any]:
        """``args`` with every value checked and normalized; raises naming every bad value."""
        problems = Problems(host=host, module=self.MODULE)
        out = dict(args)
        for option, checker in self.CHECKS.items():
            value = args.get(option)
            if isinstance(value, list):
                out[option] = problems.check_each(option, value, checker)
            else:
                out[option] = problems.check(option, value, checker)
        self.check_values(out, problems)
        problems.raise_for(WinRMConfigError)
        return out

    def check_values(self, args: dict[str, Any], problems: Problems) -> None:
        """Checks that involve several options; add to ``problems``."""

    REQUEST: type[Any] | None = None  # a dataclass whose fields are the module's options

    def request(self, args: dict[str, Any]) -> R:
        """The typed request of the checked values: ``REQUEST`` built from the options of the same
        names (every option read once, here); override for a request shaped otherwise."""
        if self.REQUEST is None:
            raise NotImplementedError(f"{type(self).__name__} sets neither REQUEST nor request()")
        names = [f.name for f in dataclasses.fields(self.REQUEST)]
        return self.REQUEST(**{name: args[name] for name in names})

    def manage(self, runner: PipelineRunner, request: R, context: TaskContext) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class TaskContext:
    host: str
    check_mode: bool
    diff: bool
    connection: ConnectionFacts
