"""A JEA session: the runspace side of :mod:`winhost.engine.jea`.

A runspace opened on an endpoint registered from a .pssc gets a :class:`JeaSession`. Before each
command of a pipeline runs it answers as the JEA session would (Microsoft docs cited in jea.py):

- a command that is not visible: CommandNotFoundException ("The term 'Stop-Service' is not
  recognized ..."), also for an external program not in VisibleExternalCommands;
- an argument a role's parameter restriction refuses: ParameterArgumentValidationError / a
  parameter the proxy does not have: NamedParameterNotFound;
- ``Get-Command``: the visible commands only (the RestrictedRemoteServer proxy);
- ``Get-Help``: the RestrictedRemoteServer proxy's parameters, then what Windows PowerShell 5.1
  answers without a visible provider (:mod:`winhost.engine.jea_help`);
- every command is written to the session's transcript (TranscriptDirectory).

Nothing here runs when the endpoint is not file-based (no JEA settings).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator
from typing import Any

from psrpcore.types import ErrorRecord

from winhost.engine import jea, jea_help
from winhost.engine.catalogue import lookup
from winhost.engine.errors import PSRuntimeError, command_not_found, not_emulated
from winhost.engine.native import exe_stem, program_name
from winhost.engine.wildcards import wildcard_match

_SYSTEM32 = "C:\\Windows\\System32\\"


class JeaSession:
    """What one user may run on one JEA endpoint, and the transcript of the session."""

    def __init__(self, machine: Any, user: str, configuration: str, config_file: dict[str, Any]) -> None:
        self.machine = machine
        self.connected_user = user
        self.configuration = configuration
        self.config = jea.JeaConfiguration(config_file)
        self.capabilities = jea.capabilities_for(self.config, machine, user)
        qualified = user if "\\" in user else f"{machine.computer_name}\\{user}"
        self.run_as = jea.virtual_account(machine, qualified) if self.config.virtual_account else qualified
        self._transcript: str | None = None
        self._lock = threading.Lock()
        if self.config.transcript_directory:
            self._start_transcript(qualified)

    @property
    def restricted(self) -> bool:
        return self.config.restricted

    def is_get_command(self, name: str) -> bool:
        bare = name.rsplit("\\", 1)[-1].lower()
        return self.restricted and bare in ("get-command", "gcm")

    def is_get_help(self, name: str) -> bool:
        return self.restricted and jea_help.is_get_help(name)

    def get_help(
        self,
        parameters: list[tuple[str | None, Any]],
        write_error: Callable[[ErrorRecord, str | None], None],
    ) -> Iterator[Any]:
        """The Get-Help proxy of a RestrictedRemoteServer session (jea_help.py says what Windows does)."""
        return jea_help.answer(
            parameters,
            lambda name: self.capabilities.command(name) is not None,
            bool(self.capabilities.providers),
            write_error,
        )

    def check_statement(self, statement: list[Any]) -> None:
        """Before a statement runs: each command is transcribed, and the first one the session
        refuses ends the pipeline with its error record (a terminating error, as on Windows)."""
        for command in statement:
            if command.is_script:
                continue
            parameters = [(name, value) for name, value in command.parameters]
            error = self.refusal(command.command_text, parameters)
            self.record(command.command_text, parameters, error)
            if error is not None:
                raise PSRuntimeError(error)

    # -- visibility and parameter restrictions ------------------------------------------------------
    def refusal(self, name: str, parameters: list[tuple[str | None, Any]]) -> ErrorRecord | None:
        """The error record the session gives for this command, or None when it may run."""
        if not self.restricted:
            return None
        program = program_name(name)
        if program is not None and lookup(name) is None:
            path = name if "\\" in name else f"{_SYSTEM32}{exe_stem(name)}.exe"
            return None if self.capabilities.external_visible(path) else command_not_found(name).record
        visible = self.capabilities.command(name)
        if visible is None:
            return command_not_found(name).record
        if jea_help.is_get_help(visible.name):
            return jea_help.refusal(parameters)
        if lookup(visible.name) is None:
            # Visible (a role's function, say) but not in winhost's catalogue: say so rather than
            # pretend it does not exist.
            return not_emulated(f"the JEA session command {visible.name}").record
        return jea.check_parameters(visible, parameters)

    def get_command(self, parameters: list[tuple[str | None, Any]]) -> Iterator[Any]:
        """The Get-Command proxy: CommandInfo of the visible commands matching -Name (default *)."""
        patterns = [str(v) for name, v in parameters if name is None or name.lower() == "name"] or ["*"]
        for command in self.capabilities.visible_names():
            if any(wildcard_match(command, p) for p in patterns):
                yield jea.command_info(command, self.capabilities.command(command))

    # -- transcript ----------------------------------------------------------------------------
    def _start_transcript(self, user: str) -> None:
        now = datetime.datetime.now()
        path = jea.transcript_path(self.machine, self.config.transcript_directory, now)
        self._transcript = path
        self._append(jea.transcript_header(self.machine, user, self.run_as, now))

    @property
    def transcript(self) -> str | None:
        """The Windows path of this session's transcript (None: not transcribed)."""
        return self._transcript

    def record(self, name: str, parameters: list[tuple[str | None, Any]], error: ErrorRecord | None) -> None:
        if self._transcript is None:
            return
        text = jea.transcript_invocation(name, parameters)
        if error is not None:
            text += f"{error.Exception.Message}\r\n"
        self._append(text)

    def _append(self, text: str) -> None:
        assert self._transcript is not None
        drive_root = self.machine.sandbox()
        parts = [p for p in self._transcript.partition(":")[2].split("\\") if p]
        real = drive_root.joinpath(*parts)
        with self._lock:
            real.parent.mkdir(parents=True, exist_ok=True)
            with real.open("a", encoding="utf-8", newline="") as handle:
                handle.write(text)


def jea_session_for(machine: Any, user: str, sc: Any) -> JeaSession | None:
    """The JEA session of a runspace on ``sc`` (None: not registered from a configuration file)."""
    if sc is None or sc.config_file is None:
        return None
    return JeaSession(machine, user, sc.name, sc.config_file)
