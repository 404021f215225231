"""Runspace: runs PSRP pipelines (lists of psrpcore ``Command``) against a Machine.

The WSMan layer creates one :class:`Runspace` per runspace pool and calls :meth:`Runspace.invoke`
for each pipeline in a worker thread. Output and every other stream go through the
:class:`PipelineHost` the caller passes in. Variables and functions defined by a pipeline stay
in the runspace (global scope) for the next pipeline unless the command used local scope.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from psrpcore import Command
from psrpcore.types import ErrorCategory, ErrorRecord, PSObject

from winhost.engine.ansible_exec import run_block as ansible_exec_block
from winhost.engine.ansible_exec import try_invoke as ansible_exec_invoke
from winhost.engine.catalogue import lookup
from winhost.engine.cmdlets.filesystem import ensure_standard_dirs
from winhost.engine.cmdlets.system import HISTORY_VARIABLE, history_entry
from winhost.engine.context import ExecutionContext, PipelineHost, Scope, initial_environment
from winhost.engine.errors import ExitSignal, FlowControl, PipelineStopped, PSRuntimeError, make_error_record
from winhost.engine.evaluator import Evaluator
from winhost.engine.hostui import set_current
from winhost.engine.jea_session import jea_session_for
from winhost.engine.merge import merge_targets, merged_stream, restore_host_for
from winhost.engine.metadata import command_metadata
from winhost.engine.model import CIDict, Machine, SessionConfiguration
from winhost.engine.values import to_output
from winhost.engine.variables import initial_globals

__all__ = ["PipelineHost", "PipelineStopped", "Runspace"]


class Runspace:
    """One runspace: global scope + machine + the user it runs as."""

    def __init__(self, machine: Machine, user: str, configuration_name: str) -> None:
        self.machine = machine
        self.configuration_name = configuration_name
        #: A JEA endpoint's session (visible commands, identity, transcript); None elsewhere.
        self.jea = jea_session_for(machine, user, self.session_configuration)
        self.connected_user = user
        self.user = self.jea.run_as if self.jea is not None and self.jea.config.virtual_account else user
        user = self.user
        self.global_scope = Scope()
        self.reset()
        ensure_standard_dirs(machine, user)
        # The session's process environment (wsmprovhost.exe): $env: changes stay in this session.
        self.process_env: CIDict[str] = initial_environment(machine, user)
        # Assemblies Ansible's Add-CSharpType compiled into this session's process (they cannot be
        # unloaded), and who to tell about each compile (the host's counters).
        self.assemblies = 0
        self.on_compile: Callable[[int], None] | None = None
        # Nested pipelines (MS-PSRP 2.2.3.11 IsNested) run in the thread of the pipeline that is
        # running, between its statements, as PowerShell runs them; see invoke_nested.
        self._nested_lock = threading.Lock()
        self._running = 0
        self._nested_jobs: list[Callable[[], None]] = []

    @property
    def session_configuration(self) -> SessionConfiguration | None:
        """The endpoint this runspace was opened on (name or full resource URI)."""
        name = self.configuration_name.rstrip("/").rsplit("/", 1)[-1]
        with self.machine.lock:
            return self.machine.session_configurations.get(name)

    @property
    def language_mode(self) -> str:
        sc = self.session_configuration
        return sc.language_mode if sc is not None else "FullLanguage"

    def reset(self) -> None:
        """ResetRunspaceState: forget variables and functions defined by earlier pipelines (the
        process environment stays: it belongs to the host process, not the runspace state)."""
        self.global_scope = Scope()
        for name, value in initial_globals(self.machine, self.user).items():
            self.global_scope.set(name, value)

    def command_metadata(
        self, names: list[str] | None, command_type: int, namespaces: list[str] | None
    ) -> list[Any]:
        """GET_COMMAND_METADATA (MS-PSRP 2.2.2.14): the count object, then each command."""
        return command_metadata(dict(self.global_scope.functions.items()), names, command_type, namespaces)

    def add_history(self, commands: list[Command], status: str, start: datetime.datetime) -> None:
        """Record a pipeline the client created with AddToHistory (see Get-History)."""
        entries = list(self.global_scope.get(HISTORY_VARIABLE) or [])
        line = " | ".join(c.command_text for c in commands)
        end = datetime.datetime.now(datetime.timezone.utc)
        entries.append(history_entry(len(entries) + 1, line, status, start, end))
        self.global_scope.set(HISTORY_VARIABLE, entries)

    def invoke_nested(self, commands: list[Command], input: Iterable[Any] | None, host: PipelineHost) -> None:
        """A nested pipeline: runs in the running pipeline's thread at its next statement (it
        sees the state that pipeline has made), or at once when no pipeline is running."""
        done = threading.Event()
        failure: list[BaseException] = []

        def job() -> None:
            try:
                self.invoke(commands, input, host)
            except BaseException as exc:  # handed back to the nested pipeline's own thread
                failure.append(exc)
            finally:
                done.set()

        with self._nested_lock:
            queued = self._running > 0
            if queued:
                self._nested_jobs.append(job)
        if not queued:
            job()
        while not done.wait(0.05):
            if host.stop_requested.is_set():
                raise PipelineStopped()
        if failure:
            raise failure[0]

    def _run_nested_jobs(self) -> None:
        while True:
            with self._nested_lock:
                if not self._nested_jobs:
                    return
                job = self._nested_jobs.pop(0)
            job()

    def invoke(self, commands: list[Command], input: Iterable[Any] | None, host: PipelineHost) -> None:
        with self._nested_lock:
            self._running += 1
        try:
            self._invoke(commands, input, host)
        finally:
            with self._nested_lock:
                self._running -= 1
            self._run_nested_jobs()

    def _invoke(self, commands: list[Command], input: Iterable[Any] | None, host: PipelineHost) -> None:
        """Run one pipeline; returns when done, raises PipelineStopped when the client stopped it.

        A terminating error ends the pipeline: it is written to the error stream and
        PSRuntimeError is raised so the caller can report PipelineState Failed with it.
        """
        # Ansible's exec wrapper and file transfer are script text: NoLanguage refuses them below.
        if self.language_mode != "NoLanguage" and ansible_exec_invoke(self, commands, input, host):
            return
        ctx = ExecutionContext(self.machine, self.user, host, self.global_scope, self.process_env)
        ctx.checkpoint = self._run_nested_jobs
        ctx.new_runspace = lambda: Runspace(self.machine, self.user, "Microsoft.PowerShell")
        ctx.foreign_block = lambda text, items: ansible_exec_block(self, text, items, host)
        previous_ctx = set_current(ctx)  # $Host.UI forwards to this pipeline's host
        try:
            self._run_statements(ctx, commands, input, host)
        finally:
            set_current(previous_ctx)

    def _run_statements(
        self, ctx: ExecutionContext, commands: list[Command], input: Iterable[Any] | None, host: PipelineHost
    ) -> None:
        evaluator = Evaluator(ctx)
        statements: list[list[Command]] = [[]]
        for command in commands:
            statements[-1].append(command)
            if command.end_of_statement:
                statements.append([])
        statements = [s for s in statements if s]
        input_iter: Iterator[Any] | None = iter(input) if input is not None else None
        try:
            for index, statement in enumerate(statements):
                self._check_statement(statement)
                if not self._providers_visible(ctx, statement):
                    continue
                stream = self._statement_stream(evaluator, statement, input_iter if index == 0 else None)
                for value in stream:
                    ctx.check_stop()
                    host.write_output(to_output(value))
        except PipelineStopped:
            raise
        except ExitSignal as exc:
            host.set_should_exit(exc.code)
        except FlowControl:
            pass
        except PSRuntimeError as exc:
            if host.stop_requested.is_set():
                raise PipelineStopped() from exc
            raise
        finally:
            self.global_scope.set("__location", ctx.location)

    def _check_statement(self, statement: list[Command]) -> None:
        """What the endpoint refuses before a statement runs: script text in NoLanguage mode, and on
        a JEA endpoint a command that is not visible or an argument a role does not allow."""
        if self.language_mode == "NoLanguage" and any(c.is_script for c in statement):
            # JEA RestrictedRemoteServer endpoints run in NoLanguage mode
            # (about_Language_Modes): script text fails when its statement is reached.
            raise PSRuntimeError(
                make_error_record(
                    "The syntax is not supported by this runspace. This can occur if the runspace is in "
                    "no-language mode.",
                    "ScriptsNotAllowed",
                    ErrorCategory.ParserError,
                    exception_type="System.Management.Automation.ParseException",
                )
            )
        if self.jea is not None:
            self.jea.check_statement(statement)

    def _providers_visible(self, ctx: ExecutionContext, statement: list[Command]) -> bool:
        """A JEA endpoint's VisibleProviders: a command given a path on a hidden provider writes
        ProviderNotFound ("Cannot find a provider with the name 'FileSystem'.") and does not run."""
        sc = self.session_configuration
        visible = {p.lower() for p in (sc.visible_providers if sc is not None else [])}
        if self.jea is not None and self.jea.restricted:
            # RestrictedRemoteServer: no provider unless the session or a role makes it visible.
            visible = {p.lower() for p in self.jea.capabilities.providers}
        elif not visible:
            return True
        for command in statement:
            if command.is_script:
                continue
            for name, value in command.parameters:
                if name is not None and name.lower() not in ("path", "literalpath", "destination"):
                    continue
                provider = provider_of(str(value)) if isinstance(value, str) else None
                if provider is None or provider.lower() in visible:
                    continue
                spec = lookup(command.command_text)
                record = make_error_record(
                    f"Cannot find a provider with the name '{provider}'.",
                    "ProviderNotFound",
                    ErrorCategory.ObjectNotFound,
                    target=provider,
                    exception_type="System.Management.Automation.ProviderNotFoundException",
                    command=spec.command_type if spec is not None else None,
                )
                ctx.write_error(record, ctx.global_scope)
                return False
        return True

    def _statement_stream(
        self, evaluator: Evaluator, statement: list[Command], input_iter: Iterator[Any] | None
    ) -> Iterator[Any]:
        stream: Iterator[Any] | None = input_iter
        expecting = input_iter is not None
        ctx = evaluator.ctx
        for command in statement:
            targets = merge_targets(command)
            if targets and stream is not None:
                stream = restore_host_for(ctx, stream, ctx.host)
            params = [(name, _unwrap(value)) for name, value in command.parameters]
            if command.is_script:
                local = command.use_local_scope is True
                stream = evaluator.script_stream(
                    command.command_text, params, stream, local_scope=local, expecting_input=expecting
                )
            elif self.jea is not None and self.jea.is_get_command(command.command_text):
                stream = self.jea.get_command(params)
            elif self.jea is not None and self.jea.is_get_help(command.command_text):
                stream = self.jea.get_help(
                    params, lambda record, action: ctx.write_error(record, self.global_scope, action)
                )
            else:
                spec = lookup(command.command_text)
                if spec is not None:
                    # A switch added without a value (pypsrp add_parameter("Stream"), MS-PSRP
                    # 2.2.3.13: the value is null) is present, as PowerShell binds it.
                    params = [
                        (name, True if value is None and name and spec.is_switch(name) else value)
                        for name, value in params
                    ]
                stream = evaluator.command_stream(
                    command.command_text, params, stream, self.global_scope, expecting_input=expecting
                )
            if targets:
                stream = merged_stream(ctx, stream, targets)
            expecting = True
        assert stream is not None
        return stream


_DRIVE_PROVIDERS = {
    "wsman": "WSMan",
    "cert": "Certificate",
    "hklm": "Registry",
    "hkcu": "Registry",
    "env": "Environment",
    "function": "Function",
    "variable": "Variable",
    "alias": "Alias",
}


def provider_of(path: str) -> str | None:
    """The provider of a drive-qualified path (``C:\\x`` FileSystem, ``WSMan:\\...`` WSMan ...)."""
    drive, sep, _ = path.partition(":")
    if not sep or not drive or "\\" in drive or "/" in drive:
        return None
    if len(drive) == 1 and drive.isalpha():
        return "FileSystem"
    return _DRIVE_PROVIDERS.get(drive.lower())


def _unwrap(value: Any) -> Any:
    """Deserialized client values: psrpcore gives PSObjects for primitives with notes; keep them."""
    if isinstance(value, ErrorRecord):
        return value
    if isinstance(value, PSObject) and hasattr(value, "PSObject"):
        return value
    return value
