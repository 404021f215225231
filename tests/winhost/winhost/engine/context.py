"""Execution state shared by the evaluator and the cmdlets: scopes, streams, preferences."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from psrpcore.types import (
    CommandOrigin,
    CommandTypes,
    ErrorCategory,
    ErrorRecord,
    InvocationInfo,
    PSCustomObject,
)

from winhost.engine.errors import PipelineStopped, PSRuntimeError, make_error_record
from winhost.engine.model import CIDict, Machine

if TYPE_CHECKING:
    import threading

    from winhost.engine.cmdlets.registry import CmdletSpec


class PipelineHost(Protocol):
    """Implemented by the WSMan layer; the engine writes every stream through it."""

    stop_requested: threading.Event

    def write_output(self, value: Any) -> None: ...
    def write_error(self, record: ErrorRecord) -> None: ...
    def write_warning(self, message: str) -> None: ...
    def write_verbose(self, message: str) -> None: ...
    def write_debug(self, message: str) -> None: ...
    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None: ...
    def write_progress(self, activity: str, status: str, percent: int = -1) -> None: ...
    def write_host(
        self,
        text: str,
        newline: bool = True,
        is_error: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None: ...
    def set_should_exit(self, code: int) -> None: ...
    def read_line(self, prompt: str, secure: bool = False) -> Any: ...


class ScriptEngine(Protocol):
    """What cmdlets and .NET methods call back into: the evaluator of the running pipeline
    (injected as ``ExecutionContext.engine``, so that lower layers never import it)."""

    ctx: ExecutionContext

    def invoke_block(
        self,
        block: Any,
        params: list[tuple[str | None, Any]],
        input_iter: Iterator[Any] | None,
        *,
        scope: Scope | None = None,
        dollar_under: Any = None,
        set_under: bool = False,
    ) -> Iterator[Any]: ...
    def call_scriptblock(
        self,
        block: Any,
        args: list[Any] | None = None,
        dollar_under: Any = None,
        set_under: bool = False,
        input_values: list[Any] | None = None,
    ) -> list[Any]: ...
    def call_method(self, target: Any, name: str, args: list[Any]) -> Any: ...
    def script_block(self, text: str, scope: Scope) -> Any: ...


class Scope:
    """A PowerShell variable scope (global, script, function, script block)."""

    def __init__(self, parent: Scope | None = None) -> None:
        self.parent = parent
        self.variables: CIDict[Any] = CIDict()
        self.functions: CIDict[Any] = CIDict()

    def lookup(self, name: str) -> tuple[bool, Any]:
        key = name.lower()
        scope: Scope | None = self
        while scope is not None:
            entry = scope.variables.entry(key)
            if entry is not None:
                return True, entry[1]
            scope = scope.parent
        return False, None

    def get(self, name: str, default: Any = None) -> Any:
        found, value = self.lookup(name)
        return value if found else default

    def set(self, name: str, value: Any) -> None:
        self.variables[name] = value

    def find_function(self, name: str) -> Any:
        key = name.lower()
        scope: Scope | None = self
        while scope is not None:
            entry = scope.functions.entry(key)
            if entry is not None:
                return entry[1]
            scope = scope.parent
        return None

    def root(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


ACTION_VALUES = ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend", "Break")


def _action_name(value: Any) -> str:
    text = str(getattr(value, "name", value))
    for v in ACTION_VALUES:
        if v.lower() == text.lower():
            return v
    if text.isdigit():
        return ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore")[int(text)]
    return "Continue"


def user_environment(machine: Machine, user: str) -> dict[str, str]:
    """Per-user variables Windows derives from the session's account (USERNAME, USERPROFILE...)."""
    short = user.rsplit("\\", maxsplit=1)[-1]
    profile = f"C:\\Users\\{short}"
    return {
        "USERNAME": short,
        "USERDOMAIN": machine.computer_name,
        "USERPROFILE": profile,
        "HOMEDRIVE": "C:",
        "HOMEPATH": f"\\Users\\{short}",
        "APPDATA": f"{profile}\\AppData\\Roaming",
        "LOCALAPPDATA": f"{profile}\\AppData\\Local",
        "TEMP": f"{profile}\\AppData\\Local\\Temp",
        "TMP": f"{profile}\\AppData\\Local\\Temp",
    }


def initial_environment(machine: Machine, user: str) -> CIDict[str]:
    """The environment a new session process starts with: the user's, then the machine's."""
    env: CIDict[str] = CIDict(user_environment(machine, user))
    with machine.lock:
        for key, value in machine.environment.items():
            env[key] = value
    return env


class ExecutionContext:
    """One pipeline's view of a runspace: machine, user, host, scopes."""

    def __init__(
        self,
        machine: Machine,
        user: str,
        host: PipelineHost,
        global_scope: Scope,
        process_env: CIDict[str] | None = None,
    ) -> None:
        self.machine = machine
        self.user = user
        self.host = host
        self.global_scope = global_scope
        #: The session process's environment (wsmprovhost.exe): a copy of the machine's and the
        #: user's variables taken when the runspace opened; $env: changes stay in this session.
        self.process_env: CIDict[str] = (
            process_env if process_env is not None else initial_environment(machine, user)
        )
        self.errors: list[ErrorRecord] = global_scope.get("Error")
        self.error_count = 0  # errors written by this pipeline, for $?
        self.last_status = True  # $?: did the previous statement succeed
        #: Called between statements: runs nested pipelines queued for this runspace.
        self.checkpoint: Callable[[], None] | None = None
        #: Makes a new runspace in this session's process ([RunspaceFactory]::CreateRunspace); set by
        #: the runspace that runs this pipeline, so engine modules need not import runspace.py.
        self.new_runspace: Callable[[], Any] | None = None
        #: Answers a script block the engine does not evaluate itself: given its text and its
        #: pipeline input, returns its output, or None to let the engine evaluate it. The runspace
        #: sets it (Ansible's bootstrap wrapper invoked from script: ansible_exec.run_block).
        self.foreign_block: Callable[[str, Iterator[Any] | None], list[Any] | None] | None = None
        #: Errors whose catch blocks are running, innermost last (what a bare ``throw`` rethrows).
        self.handling: list[ErrorRecord] = []
        self._finally_depth = 0  # finally blocks running after a stop (see stopping_finally)
        self._engine: ScriptEngine | None = None
        self.location = str(global_scope.get("__location", "C:\\Users\\" + user.rsplit("\\", maxsplit=1)[-1]))

    @property
    def engine(self) -> ScriptEngine:
        """The evaluator running this pipeline (set by the evaluator when it starts)."""
        if self._engine is None:
            raise RuntimeError("winhost: no script engine attached to this execution context")
        return self._engine

    @engine.setter
    def engine(self, engine: ScriptEngine) -> None:
        self._engine = engine

    # -- environment ----------------------------------------------------------------------------
    def user_environment(self) -> dict[str, str]:
        return user_environment(self.machine, self.user)

    def env_get(self, name: str) -> str | None:
        return self.process_env.get(name)

    def env_items(self) -> dict[str, str]:
        return dict(self.process_env.items())

    def env_set(self, name: str, value: Any, target: str = "Process") -> None:
        """Set or (with None/"") remove a variable; target Machine also changes the machine's."""
        from winhost.engine.values import to_string

        text = None if value is None or value == "" else to_string(value)
        if text is None:
            self.process_env.pop(name, None)
        else:
            self.process_env[name] = text
        if target.lower() == "machine":
            with self.machine.lock:
                if text is None:
                    self.machine.environment.pop(name, None)
                else:
                    self.machine.environment[name] = text

    # -- stop ---------------------------------------------------------------------------------
    def check_stop(self) -> None:
        if self.host.stop_requested.is_set() and not self._finally_depth:
            raise PipelineStopped()

    @contextlib.contextmanager
    def stopping_finally(self) -> Iterator[None]:
        """A finally block running after a stop: its statements are not stopped again."""
        self._finally_depth += 1
        try:
            yield
        finally:
            self._finally_depth -= 1

    def statement_done(self) -> None:
        """A statement finished: run the nested pipelines waiting for this pipeline's thread."""
        if self.checkpoint is not None:
            self.checkpoint()

    # -- streams --------------------------------------------------------------------------------
    def preference(self, scope: Scope, name: str, default: str) -> str:
        return _action_name(scope.get(name, default))

    def write_error(self, record: ErrorRecord, scope: Scope, action: str | None = None) -> None:
        """Non-terminating error, honouring -ErrorAction / $ErrorActionPreference."""
        act = _action_name(action) if action else self.preference(scope, "ErrorActionPreference", "Continue")
        self.error_count += 1
        if act == "Stop":
            raise PSRuntimeError(record)
        if act != "Ignore":
            self.errors.insert(0, record)
        if act in ("Continue", "Inquire"):
            self.host.write_error(record)

    def write_warning(self, message: str, scope: Scope, action: str | None = None) -> None:
        act = _action_name(action) if action else self.preference(scope, "WarningPreference", "Continue")
        if act == "Stop":
            raise PSRuntimeError(
                make_error_record(
                    'The running command stopped because the preference variable "WarningPreference" or common '
                    f"parameter is set to Stop: {message}",
                    "ActionPreferenceStop",
                    ErrorCategory.OperationStopped,
                )
            )
        if act not in ("SilentlyContinue", "Ignore"):
            self.host.write_warning(message)

    def _shown(self, scope: Scope, preference: str, forced: bool | None) -> bool:
        """A -Verbose/-Debug switch (``forced``) wins over $VerbosePreference/$DebugPreference."""
        if forced is not None:
            return forced
        return self.preference(scope, preference, "SilentlyContinue") in ("Continue", "Inquire", "Stop")

    def write_verbose(self, message: str, scope: Scope, forced: bool | None = None) -> None:
        if self._shown(scope, "VerbosePreference", forced):
            self.host.write_verbose(message)

    def write_debug(self, message: str, scope: Scope, forced: bool | None = None) -> None:
        if self._shown(scope, "DebugPreference", forced):
            self.host.write_debug(message)


@dataclasses.dataclass(frozen=True)
class CommandPosition:
    """Where a command stands in the script: what InvocationInfo reports (ScriptLineNumber,
    OffsetInLine, Line, PositionMessage, PipelineLength/Position, InvocationName)."""

    line: str  # the whole source line
    line_number: int  # 1-based
    offset: int  # 1-based column of the command's first character
    extent: str  # the command's text on its first line (what the ~~~ underline covers)
    invocation_name: str  # the name as typed (an alias stays an alias)
    pipeline_length: int = 1
    pipeline_position: int = 1

    @property
    def message(self) -> str:
        """PowerShell's position message: ``At line:1 char:1`` + the line + the underline
        (System.Management.Automation.Language.PositionUtilities, lines joined with CRLF)."""
        underline = "~" * max(len(self.extent), 1)
        return (
            f"At line:{self.line_number} char:{self.offset}\r\n"
            f"+ {self.line}\r\n"
            f"+ {' ' * (self.offset - 1)}{underline}"
        )


@dataclasses.dataclass
class CommandCall:
    """One cmdlet invocation: bound arguments + pipeline input + stream helpers."""

    ctx: ExecutionContext
    spec: CmdletSpec
    args: dict[str, Any]
    scope: Scope
    pipeline: Iterator[Any] | None = None
    expecting_input: bool = False
    position: CommandPosition | None = None

    # -- arguments --------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self.args

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)

    def switch(self, name: str) -> bool:
        from winhost.engine.values import to_bool

        return name in self.args and to_bool(self.args[name])

    def strings(self, name: str) -> list[str] | None:
        """A ``string[]`` parameter as a list, or None when not bound."""
        if name not in self.args or self.args[name] is None:
            return None
        from winhost.engine.values import as_list, to_string

        return [to_string(v) for v in as_list(self.args[name])]

    def string(self, name: str, default: str | None = None) -> str | None:
        from winhost.engine.values import to_string

        value = self.args.get(name)
        return default if value is None else to_string(value)

    # -- input ------------------------------------------------------------------------------------
    def input(self) -> Iterator[Any]:
        if self.pipeline is None:
            return
        for item in self.pipeline:
            self.ctx.check_stop()
            yield item

    def each(self, name: str) -> Iterator[Any]:
        """The bound value(s) of ``name``, else every pipeline object (ValueFromPipeline)."""
        from winhost.engine.values import as_list

        if name in self.args:
            yield from as_list(self.args[name])
        else:
            yield from self.input()

    # -- streams ----------------------------------------------------------------------------------
    @property
    def error_action(self) -> str | None:
        value = self.args.get("ErrorAction")
        return None if value is None else _action_name(value)

    def record(
        self,
        message: str,
        error_id: str,
        category: ErrorCategory = ErrorCategory.NotSpecified,
        target: Any = None,
        exception_type: str = "System.InvalidOperationException",
    ) -> ErrorRecord:
        """An error record of this cmdlet (FullyQualifiedErrorId ``id,Command``, InvocationInfo)."""
        record = make_error_record(
            message,
            error_id,
            category,
            target=target,
            exception_type=exception_type,
            command=self.spec.command_type,
        )
        self._add_invocation(record)
        return record

    def error(
        self,
        message: str,
        error_id: str,
        category: ErrorCategory = ErrorCategory.NotSpecified,
        target: Any = None,
        exception_type: str = "System.InvalidOperationException",
    ) -> None:
        """A non-terminating error (honours -ErrorAction and $ErrorActionPreference)."""
        record = self.record(message, error_id, category, target, exception_type)
        self.ctx.write_error(record, self.scope, self.error_action)

    def fail(
        self,
        message: str,
        error_id: str,
        category: ErrorCategory = ErrorCategory.NotSpecified,
        target: Any = None,
        exception_type: str = "System.InvalidOperationException",
    ) -> PSRuntimeError:
        """A terminating error for this cmdlet (raise the result)."""
        return PSRuntimeError(self.record(message, error_id, category, target, exception_type))

    def _add_invocation(self, record: ErrorRecord) -> None:
        """Cmdlet errors carry InvocationInfo (MyCommand, InvocationName) with extended info, as
        Windows serializes them (MS-PSRP 2.2.3.15.1)."""
        my_command = PSCustomObject(
            Name=self.spec.name, CommandType=CommandTypes.Cmdlet, Definition=self.spec.name
        )
        pos = self.position
        record.InvocationInfo = InvocationInfo(
            BoundParameters={k: v for k, v in self.args.items() if isinstance(v, (str, int, bool))},
            CommandOrigin=CommandOrigin.Internal if pos is None else CommandOrigin.Runspace,
            ExpectingInput=self.expecting_input,
            HistoryId=1,
            InvocationName=pos.invocation_name if pos else self.spec.name,
            Line=pos.line if pos else "",
            MyCommand=my_command,
            OffsetInLine=pos.offset if pos else 0,
            PipelineLength=pos.pipeline_length if pos else 1,
            PipelinePosition=pos.pipeline_position if pos else 1,
            PositionMessage=pos.message if pos else "",
            PSCommandPath=None,
            PSScriptRoot="",
            ScriptLineNumber=pos.line_number if pos else 0,
            ScriptName="",
            UnboundArguments=[],
        )
        record.PipelineIterationInfo = [0, 1]
        record.serialize_extended_info = True

    def verbose(self, message: str) -> None:
        forced = None
        if "Verbose" in self.args:
            from winhost.engine.values import to_bool

            forced = to_bool(self.args["Verbose"])
        self.ctx.write_verbose(message, self.scope, forced)

    def warning(self, message: str) -> None:
        self.ctx.write_warning(message, self.scope, self.args.get("WarningAction"))

    def should_process(self, target: str, action: str) -> bool:
        """-WhatIf support: print PowerShell's "What if:" line and skip the change."""
        if self.switch("WhatIf"):
            self.ctx.host.write_host(f'What if: Performing the operation "{action}" on target "{target}".')
            return False
        return True


def iterate(values: Iterable[Any]) -> Iterator[Any]:
    yield from values
