# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base class of the collection's module actions.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Every action of a module (invoke_command, pssession, pssession_info, winrm_endpoint_check and the
WinRM modules) runs the same steps in ``ModuleAction.run``:

1. the argument spec (``ARGUMENT_SPEC`` and the validator keywords), as Ansible validates it,
   on the arguments ``task_args`` gives (a dictionary option spread into options, for example);
2. every value checked (``CHECKS``, ``check_values``) before anything is sent: a task with a bad
   value sends nothing and names every bad value, with the host and what is allowed;
3. the checked values become the typed request (``REQUEST``, a frozen dataclass, or ``request``);
4. ``perform`` does the work; what it needs of the connection comes from here: the one check that
   the host uses the psremoting.core.psrp connection (``psrp_connection``), and the connection's
   options read once by the connection plugin's own reader (``TaskContext.settings``, so the
   transport and port are the connection's, resolved as ansible.builtin.psrp resolves them);
5. a ``TaskError`` (or Ansible's ``AnsibleActionFail``) becomes a failed result, values marked
   ``no_log`` never appear in the result. Connection failures propagate: Ansible reports the
   host unreachable.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator, ValidationResult
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import NoLogError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    OPTION_TABLE,
    ConnectionSettings,
    OptionError,
    read_settings,
    unknown_psrp_variables,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Problems


class TaskError(Exception):
    """The task fails with this user-facing message (no change was made unless it says so)."""

    def details(self) -> dict[str, Any]:
        """Extra result keys (e.g. the remote error records)."""
        return {}


class RemoteCommandError(TaskError):
    """A pipeline ended with error records or in the Failed state."""

    def __init__(self, host: str, action: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.host = host
        self.action = action
        self.errors = list(errors)
        details = "; ".join(_error_text(e) for e in self.errors) or "the pipeline failed"
        super().__init__(f"{host}: {action} failed: {details}")

    def details(self) -> dict[str, Any]:
        return {"error": self.errors}


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


PipelineInvoker = Callable[[dict[str, Any]], Mapping[str, Any]]


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
    port 5985 is http, any other port https). Raises ``TaskError`` for a bad option."""
    try:
        return read_settings(_OptionReader(connection), host)
    except OptionError as exc:
        raise TaskError(str(exc)) from None


def _unsupported(spec: Mapping[str, Any], where: str | tuple[str, ...]) -> str:
    """``'name'`` of an unknown option (``'parent.name'`` in a suboption), with the closest known
    option of the same level when there is one: ``'sensitive_parameter' (did you mean
    'sensitive_parameters'?)``."""
    path = (where,) if isinstance(where, str) else tuple(str(p) for p in where)
    level: Mapping[str, Any] = spec
    for parent in path[:-1]:
        level = (level.get(parent) or {}).get("options") or {}
    known = list(level)
    for option in level.values():
        known.extend(option.get("aliases") or ())
    close = difflib.get_close_matches(path[-1], known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"'{'.'.join(path)}'{hint}"


def facts_of(settings: ConnectionSettings) -> ConnectionFacts:
    return ConnectionFacts(
        transport=settings.protocol,
        port=int(settings.port),
        auth=settings.auth,
        address=settings.host,
        configuration=settings.configuration_name,
    )


def connection_facts(connection: Any, host: str) -> ConnectionFacts:
    return facts_of(connection_settings(connection, host))


def require_pipeline(connection: Any, host: str, module: str) -> Any:
    """The connection itself if it is psremoting.core.psrp (it has the Pipeline API); the one
    check that a module runs over that connection plugin."""
    if getattr(connection, "invoke_pipeline", None) is None:
        raise AnsibleActionFail(
            f"{host}: {module} needs the psremoting.core.psrp connection plugin "
            f"(set ansible_connection=psremoting.core.psrp); this host uses "
            f"'{getattr(connection, '_load_name', type(connection).__name__)}'"
        )
    return connection


@dataclass(frozen=True)
class TaskContext:
    """The task's host and modes; the connection's settings are read on first use, once."""

    host: str
    check_mode: bool
    diff: bool
    read: Callable[[], ConnectionSettings] = dataclasses.field(repr=False, compare=False)

    @functools.cached_property
    def settings(self) -> ConnectionSettings:
        return self.read()

    @functools.cached_property
    def connection(self) -> ConnectionFacts:
        return facts_of(self.settings)


R = TypeVar("R")


class ModuleAction(ActionBase, Generic[R]):
    """Base of every module action of the collection (see the module docstring for the steps).

    Subclasses set ``MODULE`` and ``ARGUMENT_SPEC`` (plus the validator keywords they need), may
    set ``CHECKS`` (option -> checker from ``winrm._validate``; a list option is checked entry by
    entry) and extend ``check_values`` for checks across options, set ``REQUEST`` (a dataclass
    whose fields are options) or override ``request``, and implement ``perform``, or ``manage``
    when the work is typed pipelines in the task's session (the WinRM modules).
    """

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    MODULE: ClassVar[str] = ""
    ARGUMENT_SPEC: ClassVar[dict[str, Any]] = {}
    MUTUALLY_EXCLUSIVE: ClassVar[Sequence[Sequence[str]]] = []
    REQUIRED_ONE_OF: ClassVar[Sequence[Sequence[str]]] = []
    REQUIRED_IF: ClassVar[Sequence[Sequence[Any]]] = []
    REQUIRED_TOGETHER: ClassVar[Sequence[Sequence[str]]] = []
    CHECKS: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    REQUEST: ClassVar[type[Any] | None] = None
    # Exceptions of the action's own helpers that mean "the task fails with this message".
    TASK_ERRORS: ClassVar[tuple[type[Exception], ...]] = ()

    task_vars: dict[str, Any]

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self.task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, self.task_vars)
        del tmp
        host = self.host_name()
        for variable in unknown_psrp_variables(self.task_vars):
            Display().warning(
                f"{host}: {variable} is not a variable of the psremoting.core.psrp connection and is "
                "ignored (ansible-doc -t connection psremoting.core.psrp lists them)"
            )
        try:
            self._task.args = self.task_args(dict(self._task.args), host)
        except TaskError as exc:
            return dict(result, failed=True, changed=False, msg=str(exc))
        try:
            validation, args = self.validated_args(host)
        except TaskError as exc:
            return dict(result, failed=True, changed=False, msg=str(exc))
        no_log_values = set(getattr(validation, "_no_log_values", set()))
        context = TaskContext(
            host=host,
            check_mode=bool(self._task.check_mode),
            diff=bool(self._task.diff),
            read=lambda: connection_settings(self._connection, host),
        )
        try:
            request = self.request(self.checked(args, host))
            result.update(self.perform(request, context))
        except (TaskError, AnsibleActionFail, *self.TASK_ERRORS) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            if isinstance(exc, TaskError):
                result.update(exc.details())
        result.setdefault("changed", False)
        return remove_values(result, no_log_values) if no_log_values else result

    def host_name(self) -> str:
        """The inventory name of the task's host (how every message names it)."""
        return str(self.task_vars.get("inventory_hostname") or self._play_context.remote_addr or "host")

    # -- values ---------------------------------------------------------------------------------
    def task_args(self, args: dict[str, Any], host: str) -> dict[str, Any]:
        """The task's arguments as the argument spec is to see them (default: as given); raise
        ``TaskError`` to refuse the task before anything is read."""
        return args

    def validated_args(self, host: str) -> tuple[ValidationResult, dict[str, Any]]:
        """The task's arguments validated against the argument spec, as Ansible validates them.

        A bad argument fails the task with a message naming the host, the module, the option and
        the fix, and never with the arguments themselves: ActionBase.validate_argument_spec
        attaches them to its error, which Ansible then prints (a typo'd option holding a password
        included), so the spec is applied here instead.
        """
        validator = ArgumentSpecValidator(
            self.ARGUMENT_SPEC,
            mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
            required_one_of=self.REQUIRED_ONE_OF,
            required_if=self.REQUIRED_IF,
            required_together=self.REQUIRED_TOGETHER,
        )
        args = dict(self._task.args)
        validation = validator.validate(args)
        args.update(validation.validated_parameters)
        errors = list(validation.errors.errors)  # (the container has no length or truth value)
        if not errors:
            return validation, args
        module = f"psremoting.core.{self.MODULE}"
        if validation.unsupported_parameters:
            unknown = validation.unsupported_parameters
            named = ", ".join(sorted(_unsupported(self.ARGUMENT_SPEC, p) for p in unknown))
            message = f"{host}: {module} has no option {named}; nothing was sent (ansible-doc {module})"
        else:
            # every problem, each naming its option (Ansible's first one is often the no_log
            # scan's, which names none: "dictionary requested, could not parse JSON ...")
            problems = [str(e.error_message) for e in errors if not isinstance(e, NoLogError)]
            message = f"{host}: {module} refuses the task, nothing was sent: " + "; ".join(
                problems or [str(errors[0].error_message)]
            )
        no_log_values = set(getattr(validation, "_no_log_values", set()))
        raise TaskError(remove_values(message, no_log_values) if no_log_values else message)

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
        problems.raise_for(TaskError)
        return out

    def check_values(self, args: dict[str, Any], problems: Problems) -> None:
        """Checks that involve several options; add to ``problems``."""

    def request(self, args: dict[str, Any]) -> R:
        """The typed request of the checked values: ``REQUEST`` built from the options of the same
        names (every option read once, here); override for a request shaped otherwise."""
        if self.REQUEST is None:
            raise NotImplementedError(f"{type(self).__name__} sets neither REQUEST nor request()")
        names = [f.name for f in dataclasses.fields(self.REQUEST)]
        return self.REQUEST(**{name: args[name] for name in names})

    # -- the work -------------------------------------------------------------------------------
    def psrp_connection(self, context: TaskContext) -> Any:
        """The task's connection, checked to be psremoting.core.psrp (one place for the check)."""
        return require_pipeline(self._connection, context.host, self.MODULE)

    def runner(self, context: TaskContext) -> PipelineRunner:
        """Typed pipelines over the task's psremoting.core.psrp session."""
        return PipelineRunner(invoke=self.psrp_connection(context).invoke_pipeline, host=context.host)

    def perform(self, request: R, context: TaskContext) -> dict[str, Any]:
        """The task's work; by default ``manage`` over the session's pipeline runner."""
        return self.manage(self.runner(context), request, context)

    def manage(self, runner: PipelineRunner, request: R, context: TaskContext) -> dict[str, Any]:
        """Read the state, decide in Python, apply (not in check mode): the WinRM modules."""
        raise NotImplementedError(f"{type(self).__name__} implements neither perform() nor manage()")
