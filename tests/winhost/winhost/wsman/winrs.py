"""WinRS command shells (resource URI ``.../wsman/1/windows/shell/cmd``) of one host.

What Windows does, from [MS-WSMV] 3.1.4.1 (Create of a cmd shell, 2.2.4.37 Shell), 3.1.4.11
(Command: ``rsp:Command`` + ``rsp:Arguments``), 3.1.4.12 (Signal: ``signal/terminate``,
``signal/ctrl_c``), 3.1.4.13 (Send: ``rsp:Stream Name="stdin"`` with ``End``), 3.1.4.14 (Receive:
``stdout``/``stderr`` streams, ``rsp:CommandState`` Running or Done with ``rsp:ExitCode``) and the
options of 2.2.4.x: ``WINRS_CODEPAGE`` (Create), ``WINRS_NOPROFILE`` (Create),
``WINRS_SKIP_CMD_SHELL`` and ``WINRS_CONSOLEMODE_STDIN`` (Command). The response shapes follow the
real Windows exchanges recorded in pypsrp's source distribution (tests/tests_pypsrp/responses/
test_winrs_*.yml): a cmd shell's Create answer lists fewer properties than a PowerShell shell's,
a finished command's last Receive carries empty ``End="true"`` streams before CommandState Done,
and a Receive without a CommandId is refused by the cmd plugin with error 87.

Each command runs in a worker thread (winhost.engine.native): its stdout/stderr are kept as bytes in
the shell's code page until a Receive takes them.
"""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from winhost.engine import native as processes
from winhost.engine.runspace import Runspace
from winhost.wsman import faults as wsfaults
from winhost.wsman import namespaces as ns
from winhost.wsman.faults import WSManFault

#: Windows' OEM code page when the client does not send WINRS_CODEPAGE.
DEFAULT_CODEPAGE = 437
#: How long Receive keeps collecting once it has data (as for PowerShell shells).
LINGER_SECONDS = 0.2
_CMD_PROVIDER = ("Shell cmd plugin", r"%systemroot%\system32\winrscmd.dll")


def codec_for(codepage: int) -> str:
    name = "utf-8" if codepage == 65001 else f"cp{codepage}"
    try:
        codecs.lookup(name)
    except LookupError:
        raise wsfaults.invalid_parameter(f"WINRS_CODEPAGE {codepage} is not a valid code page.") from None
    return name


def program_not_found() -> WSManFault:
    """CreateProcess failed: ERROR_FILE_NOT_FOUND as an HRESULT (0x80070002), a Receiver fault."""
    text = "The system cannot find the file specified. "
    return WSManFault(
        2147942402, "w:InternalError", text, text, sender=False, provider=_CMD_PROVIDER, provider_text=True
    )


def receive_needs_command() -> WSManFault:
    """A Receive on a cmd shell without a CommandId (test_winrs_fail_poll_process.yml)."""
    text = "The parameter is incorrect. "
    return WSManFault(
        wsfaults.ERROR_INVALID_PARAMETER,
        "w:InvalidParameter",
        text,
        text,
        fault_detail="InvalidValue",
        provider=_CMD_PROVIDER,
        provider_text=True,
    )


@dataclass
class WinRSCommand:
    """One process started by a Command, with what it wrote and not yet received."""

    command_id: str
    stdin: processes.Stdin
    stop_requested: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    exit_code: int | None = None
    reported_done: bool = False


class _CommandIO:
    def __init__(self, shell: WinRSShell, command: WinRSCommand) -> None:
        self.shell = shell
        self.command = command
        self.stop_requested = command.stop_requested

    def write_stdout(self, text: str) -> None:
        self.shell.append(self.command, "stdout", text)

    def write_stderr(self, text: str) -> None:
        self.shell.append(self.command, "stderr", text)


class WinRSShell:
    """The WinRS state of one cmd shell (what ``Shell.winrs`` holds)."""

    def __init__(
        self,
        machine: Any,
        user: str,
        *,
        environment: dict[str, str],
        working_directory: str | None,
        codepage: int,
        no_profile: bool,
    ) -> None:
        self.machine = machine
        self.user = user
        self.codec = codec_for(codepage)
        self.codepage = codepage
        self.no_profile = no_profile
        self.environment = dict(environment)
        self.working_directory_given = bool(working_directory)
        short = user.rsplit("\\", 1)[-1]
        self.working_directory = working_directory or (
            "C:\\Users\\Default" if no_profile else f"C:\\Users\\{short}"
        )
        if not no_profile:  # the profile is loaded at logon: its folders exist
            from winhost.engine.cmdlets.filesystem import ensure_standard_dirs

            ensure_standard_dirs(machine, user)
        self.cond = threading.Condition()
        self.commands: dict[str, WinRSCommand] = {}
        self.closed = False

    # ----------------------------------------------------------------------------- commands
    def start_command(
        self,
        command_id: str,
        command: str,
        arguments: list[str],
        *,
        skip_cmd_shell: bool,
        console_stdin: bool,
    ) -> WinRSCommand:
        cmd = WinRSCommand(command_id, processes.Stdin(console_stdin, self.decode))
        env = processes.process_environment(self.machine, self.user, self.environment, self.no_profile)
        process = processes.Process(
            self.machine,
            self.user,
            env,
            self.working_directory,
            _CommandIO(self, cmd),
            cmd.stdin,
            lambda: Runspace(self.machine, self.user, "Microsoft.PowerShell"),
        )
        try:
            run = processes.start(process, command, arguments, skip_cmd_shell)
        except processes.ProgramNotFound:
            raise program_not_found() from None
        with self.cond:
            self.commands[command_id] = cmd
        threading.Thread(
            target=self._run, args=(cmd, run), name=f"winhost-winrs-{command_id}", daemon=True
        ).start()
        return cmd

    def _run(self, cmd: WinRSCommand, run: Callable[[], int]) -> None:
        try:
            code = run()
        except Exception as exc:  # the process crashed: what it said goes to stderr
            self.append(cmd, "stderr", f"{exc}\r\n")
            code = 1
        with self.cond:
            cmd.exit_code = code
            cmd.finished.set()
            self.cond.notify_all()

    def decode(self, data: bytes) -> str:
        return data.decode(self.codec, errors="replace")

    def append(self, cmd: WinRSCommand, stream: str, text: str) -> None:
        data = text.encode(self.codec, errors="replace")
        with self.cond:
            (cmd.stdout if stream == "stdout" else cmd.stderr).extend(data)
            self.cond.notify_all()

    def feed(self, command_id: str, data: bytes, end: bool) -> None:
        cmd = self.commands.get(command_id)
        if cmd is None:
            raise wsfaults.command_not_found()
        cmd.stdin.feed(data, end)

    def ctrl_c(self, command_id: str) -> None:
        cmd = self.commands.get(command_id)
        if cmd is None:
            raise wsfaults.command_not_found()
        if not cmd.finished.is_set():
            cmd.stop_requested.set()
            cmd.stdin.close()

    def terminate(self, command_id: str) -> bool:
        with self.cond:
            cmd = self.commands.pop(command_id, None)
            self.cond.notify_all()
        if cmd is None:
            return False
        cmd.stop_requested.set()
        cmd.stdin.close()
        return True

    def open_operations(self) -> int:
        return len(self.commands)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            commands = list(self.commands.values())
            self.cond.notify_all()
        for cmd in commands:
            cmd.stop_requested.set()
            cmd.stdin.close()

    # ------------------------------------------------------------------------------ receive
    def receive(
        self,
        command_id: str,
        streams: list[str],
        *,
        budget: int,
        timeout: float,
        alive: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> tuple[list[tuple[str, bytes]], bool, int | None]:
        """Wait for output or the end of the command; return ``([(stream, data)], done, rc)``."""
        deadline = clock() + timeout
        with self.cond:
            cmd = self.commands.get(command_id)
            if cmd is None:
                raise wsfaults.command_not_found()
            while not (self._pending(cmd, streams) or cmd.finished.is_set()):
                alive()
                remaining = deadline - clock()
                if remaining <= 0:
                    raise wsfaults.operation_timeout()
                self.cond.wait(min(remaining, 1.0))
                if command_id not in self.commands:
                    raise wsfaults.command_not_found()
            linger_end = clock() + LINGER_SECONDS
            while not cmd.finished.is_set() and self._pending(cmd, streams) < budget:
                remaining = linger_end - clock()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            chunks: list[tuple[str, bytes]] = []
            left = budget
            for name in streams:
                buffer = cmd.stdout if name == "stdout" else cmd.stderr if name == "stderr" else None
                if buffer is None or not buffer or left <= 0:
                    continue
                data = bytes(buffer[:left])
                del buffer[: len(data)]
                left -= len(data)
                chunks.append((name, data))
            done = cmd.finished.is_set() and not self._pending(cmd, streams)
            if done:
                cmd.reported_done = True
            return chunks, done, cmd.exit_code if done else None

    @staticmethod
    def _pending(cmd: WinRSCommand, streams: list[str]) -> int:
        return (len(cmd.stdout) if "stdout" in streams else 0) + (
            len(cmd.stderr) if "stderr" in streams else 0
        )


def option_flag(options: dict[str, str], name: str, default: bool = False) -> bool:
    value = options.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


def shell_resource(uri: str) -> bool:
    return uri.rstrip("/") == ns.R_CMD
