"""The native programs winhost emulates, one emulation for every caller: a WinRS command
(winhost/wsman/winrs.py), win_command/win_shell, and a pipeline that calls a program.

Processes are not simulated. A command line is read as ``CreateProcess`` reads it
(``CommandLineToArgvW`` rules) and the program it names runs against the machine model:

* ``cmd.exe /c``: the interpreter in :mod:`winhost.engine.cmdexe`;
* ``powershell.exe``/``pwsh.exe``: :mod:`winhost.engine.console` (a new runspace, like a new
  process, with the process's environment and working directory);
* ``hostname.exe`` and ``whoami.exe`` answer from the model;
* ``shutdown.exe /r [/t N]`` restarts the machine model after N seconds (``Machine.restart``),
  ``/a`` aborts a pending restart (Windows Commands reference: shutdown; system error codes
  1190 ERROR_SHUTDOWN_IS_SCHEDULED and 1116 ERROR_NO_SHUTDOWN_IN_PROGRESS).

Any other executable fails the way a missing one does on Windows: WinRS faults with
0x80070002 (:class:`ProgramNotFound`), win_command reports "Could not find file", cmd.exe prints
"is not recognized as an internal or external command" with errorlevel 9009.

A WinRS shell ([MS-WSMV] 3.1.4.11 Command) starts its command line through ``cmd.exe /c`` unless
the client sets ``WINRS_SKIP_CMD_SHELL``; then the command names the program itself and Windows
looks for it as CreateProcess does with an application name (no PATH search: only a full path
works).

From a pipeline, PowerShell turns a native program's stdout into one string per line, its exit
code into ``$LASTEXITCODE`` and, in a remote session, its stderr lines into NativeCommandError
error records (about_Automatic_Variables $LASTEXITCODE; about_Redirection).
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from psrpcore.types import ErrorCategory

from winhost.engine import cmdexe
from winhost.engine.ansible_modules._capture import new_session
from winhost.engine.ansible_modules._winpath import WinFS
from winhost.engine.console import run_powershell
from winhost.engine.errors import make_error_record
from winhost.engine.values import to_string

#: The programs winhost runs (by name from a pipeline or cmd.exe, by full path from WinRS).
KNOWN_PROGRAMS = ("cmd", "powershell", "pwsh", "hostname", "whoami", "shutdown")
SYSTEM32 = "C:\\Windows\\system32"
PROGRAM_PATHS = {
    "cmd": f"{SYSTEM32}\\cmd.exe",
    "powershell": f"{SYSTEM32}\\WindowsPowerShell\\v1.0\\powershell.exe",
    "hostname": f"{SYSTEM32}\\hostname.exe",
    "whoami": f"{SYSTEM32}\\whoami.exe",
    "shutdown": f"{SYSTEM32}\\shutdown.exe",
}
#: cmd.exe's errorlevel for a command it cannot find.
NOT_RECOGNIZED = cmdexe.NOT_RECOGNIZED


class ProgramNotFound(Exception):
    """CreateProcess failed with ERROR_FILE_NOT_FOUND (WinRS faults with 0x80070002)."""


class ProcessIO(Protocol):
    stop_requested: threading.Event

    def write_stdout(self, text: str) -> None: ...
    def write_stderr(self, text: str) -> None: ...


class Stdin:
    """A process's standard input: fed by WinRS Send, read as text lines (blocking)."""

    def __init__(self, console: bool, decode: Callable[[bytes], str]) -> None:
        self.console = console  # WINRS_CONSOLEMODE_STDIN: stdin is the (empty) console
        self._decode = decode
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self.ended = console

    def feed(self, data: bytes, end: bool) -> None:
        if self.ended:
            return
        if data:
            self._queue.put(data)
        if end:
            self.ended = True
            self._queue.put(None)

    def close(self) -> None:
        """End of input (the process was stopped or the shell deleted)."""
        if not self.ended:
            self.ended = True
        self._queue.put(None)

    def chunks(self) -> Iterator[bytes]:
        if self.console:
            return
        while True:
            item = self._queue.get()
            if item is None:
                return
            yield item

    def lines(self) -> Iterator[str]:
        """Lines without their CR LF / LF, as PowerShell's ``$input`` reads redirected stdin."""
        pending = b""
        for chunk in self.chunks():
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield self._decode(line).removesuffix("\r")
        if pending:
            yield self._decode(pending).removesuffix("\r")

    def read_all(self) -> str:
        return self._decode(b"".join(self.chunks()))


@dataclass
class Process:
    """What a started program sees: machine, account, environment, directory, stdio."""

    machine: Any
    user: str
    env: dict[str, str]
    cwd: str
    io: ProcessIO
    stdin: Stdin
    #: A new engine runspace for this machine and user (powershell.exe is a new process).
    new_runspace: Callable[[], Any]
    errorlevel: int = 0
    #: cmd.exe redirections of the command running now: stream -> target ("stdout"/"stderr"/None).
    redirect: dict[str, str | None] = field(default_factory=dict)

    def fs(self) -> WinFS:
        """The file system as this process sees it (environment and working directory)."""
        return WinFS(self.machine.sandbox(), self.env, self.cwd)

    def out(self, text: str) -> None:
        self._write("stdout", text)

    def err(self, text: str) -> None:
        self._write("stderr", text)

    def _write(self, stream: str, text: str) -> None:
        target = self.redirect.get(stream, stream)
        if target == "stdout":
            self.io.write_stdout(text)
        elif target == "stderr":
            self.io.write_stderr(text)
        elif target is not None and target.startswith("file:"):
            with open(self.fs().real(target[5:]), "ab") as handle:
                handle.write(text.encode("utf-8"))


def exe_stem(name: str) -> str:
    """``cmd`` for ``cmd.exe`` / ``C:\\Windows\\System32\\cmd.exe`` / ``"cmd"`` (lower case)."""
    leaf = name.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    return leaf[:-4] if leaf.endswith(".exe") else leaf


def program_name(name: str) -> str | None:
    """The known program ``name`` names, or None."""
    stem = exe_stem(name)
    return stem if stem in KNOWN_PROGRAMS else None


def is_program_path(name: str) -> bool:
    """Does a command name name a file (a path or a program/script extension) rather than a
    command PowerShell looks up?"""
    low = name.lower()
    return low.startswith(("./", ".\\", "c:\\")) or low.endswith((".exe", ".ps1", ".cmd", ".bat"))


def split_command_line(line: str) -> list[str]:
    """``CommandLineToArgvW`` rules: quotes group, 2n backslashes + quote -> n backslashes."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    has_token = False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            j = i
            while j < len(line) and line[j] == "\\":
                j += 1
            count = j - i
            if j < len(line) and line[j] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    i = j + 1
                else:
                    i = j
                has_token = True
                continue
            current.append("\\" * count)
            i = j
            has_token = True
            continue
        if ch == '"':
            if in_quotes and i + 1 < len(line) and line[i + 1] == '"':
                current.append('"')
                i += 2
                continue
            in_quotes = not in_quotes
            has_token = True
        elif ch in " \t" and not in_quotes:
            if has_token:
                args.append("".join(current))
                current, has_token = [], False
        else:
            current.append(ch)
            has_token = True
        i += 1
    if has_token:
        args.append("".join(current))
    return args


def start(process: Process, command: str, arguments: list[str], skip_cmd_shell: bool) -> Callable[[], int]:
    """Check that the program exists (raise ProgramNotFound) and return the function that runs it.

    Without WINRS_SKIP_CMD_SHELL, WinRS runs ``cmd.exe /c <command> <arguments>``; with it the
    command must name the program by its full path."""
    line = " ".join([command, *arguments]).strip()
    if not skip_cmd_shell:
        return lambda: cmdexe.run_cmd_line(process, line, _launch)
    name = program_name(command)
    if name is None or PROGRAM_PATHS.get(name, "").lower() != command.strip('"').lower():
        raise ProgramNotFound(command)
    return lambda: run_program(process, name, line)


def _launch(process: Process, command_line: str) -> int | None:
    """cmd.exe starting the program a command names (None: there is no such program)."""
    argv = split_command_line(command_line)
    name = program_name(argv[0]) if argv else None
    return None if name is None else run_program(process, name, command_line)


def run_program(process: Process, name: str, command_line: str) -> int:
    """Run the known program ``name`` with its whole command line; its exit code."""
    args = split_command_line(command_line)[1:]
    if name == "cmd":
        match = re.search(r"\s/[cCkK](\s|$)", command_line)
        if match is None:
            return 0
        child = Process(
            process.machine,
            process.user,
            dict(process.env),
            process.cwd,
            process.io,
            process.stdin,
            process.new_runspace,
        )
        child.redirect = dict(process.redirect)
        return cmdexe.run_cmd_line(child, command_line[match.end() :], _launch)
    if name in ("powershell", "pwsh"):
        return run_powershell(process, args)
    if name == "hostname":
        process.out(f"{process.machine.computer_name}\r\n")
        return 0
    if name == "shutdown":
        return _shutdown(process, args)
    if process.user.lower().startswith("winrm virtual users\\"):  # a JEA virtual account
        process.out(f"{process.user.lower()}\r\n")
        return 0
    short = process.user.rsplit("\\", 1)[-1].lower()
    process.out(f"{process.machine.computer_name.lower()}\\{short}\r\n")
    return 0


def _shutdown(process: Process, args: list[str]) -> int:
    """shutdown.exe: ``/r`` (restart, after ``/t`` seconds, 30 by default; ``/c`` comment) and
    ``/a`` (abort); the messages are the system error texts shutdown.exe prints with the code."""
    flags = [a.lower().replace("-", "/", 1) for a in args]
    machine = process.machine
    if "/a" in flags:
        with machine.lock:
            timer, machine.pending_restart = machine.pending_restart, None
        if timer is None:
            process.err("Unable to abort the system shutdown because no shutdown was in progress.(1116)\r\n")
            return 1116
        timer.cancel()
        return 0
    if "/r" not in flags:
        process.err("winhost: shutdown.exe emulates /r and /a only\r\n")
        return 1
    delay = 30
    if "/t" in flags and flags.index("/t") + 1 < len(args):
        delay = int(args[flags.index("/t") + 1])
    with machine.lock:
        if machine.pending_restart is not None:
            process.err("A system shutdown has already been scheduled.(1190)\r\n")
            return 1190
        machine.pending_restart = threading.Timer(delay, machine.restart)
        machine.pending_restart.daemon = True
        machine.pending_restart.start()
    return 0


# ------------------------------------------------------------------- a process started in-engine


class _Captured:
    """stdout/stderr of a process run to its end (win_command, a pipeline)."""

    def __init__(self, stop_requested: threading.Event | None = None) -> None:
        self.stop_requested = stop_requested or threading.Event()
        self.stdout: list[str] = []
        self.stderr: list[str] = []

    def write_stdout(self, text: str) -> None:
        self.stdout.append(text)

    def write_stderr(self, text: str) -> None:
        self.stderr.append(text)


def _run_captured(
    command_line: str,
    stdin: str | None,
    *,
    machine: Any,
    user: str,
    env: dict[str, str],
    cwd: str,
    new_runspace: Callable[[], Any],
) -> tuple[str, str, int]:
    argv = split_command_line(command_line)
    name = program_name(argv[0]) if argv else None
    if name is None:
        raise FileNotFoundError(f"Could not find file '{argv[0] if argv else ''}'.")
    pipe = Stdin(console=stdin is None, decode=lambda data: data.decode("utf-8"))
    if stdin is not None:
        pipe.feed(stdin.encode("utf-8"), end=True)
    io = _Captured()
    process = Process(machine, user, dict(env), cwd, io, pipe, new_runspace)
    rc = run_program(process, name, command_line)
    return "".join(io.stdout), "".join(io.stderr), rc


def run_command_line(ctx: Any, command_line: str, stdin: str | None) -> tuple[str, str, int]:
    """Run one command line for a module (``ctx``: runspace, machine, user, fs): (stdout,
    stderr, exit code); FileNotFoundError for executables winhost does not have."""
    return _run_captured(
        command_line,
        stdin,
        machine=ctx.machine,
        user=ctx.user,
        env=dict(ctx.fs.env),
        cwd=ctx.fs.cwd,
        new_runspace=lambda: new_session(ctx.runspace),
    )


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) and not arg.startswith('"') else arg


def _native_arguments(arguments: list[tuple[str | None, Any]]) -> list[str]:
    """A native command gets its parameters as written (``-Name`` then the value), each
    argument as text (about_Parsing, "Passing arguments to native commands")."""
    args: list[str] = []
    for name, value in arguments:
        if name is not None:
            args.append(f"-{name}")
            if value is True:  # a -Name with no value after it
                continue
        args.extend(to_string(item) for item in (value if isinstance(value, list) else [value]))
    return args


def run_native(ctx: Any, scope: Any, name: str, arguments: list[tuple[str | None, Any]]) -> Iterator[Any]:
    """Run a known program from a pipeline; yields its stdout lines and sets $LASTEXITCODE."""
    args = _native_arguments(arguments)
    # cmd.exe reads its command line after /c as it is: "cmd.exe /c echo hi" whether the caller
    # passed "/c echo hi" as one argument (PowerShell then quotes it) or as three.
    quote = (lambda text: text) if program_name(name) == "cmd" else _quote
    line = " ".join([_quote(name), *(quote(a) for a in args)])
    new_runspace = ctx.new_runspace or (lambda: new_session(ctx.runspace))
    stdout, stderr, rc = _run_captured(
        line,
        None,
        machine=ctx.machine,
        user=ctx.user,
        env=ctx.env_items(),
        cwd=ctx.location,
        new_runspace=new_runspace,
    )
    scope.root().set("LASTEXITCODE", rc)
    for text in stderr.splitlines():
        record = make_error_record(text, "NativeCommandError", ErrorCategory.NotSpecified, target=text)
        ctx.write_error(record, scope)
    yield from stdout.splitlines()


# ------------------------------------------------------------------------------------ environment


def process_environment(machine: Any, user: str, extra: dict[str, str], no_profile: bool) -> dict[str, str]:
    """The environment of a process WinRS starts: the machine's, the user's profile variables
    (``WINRS_NOPROFILE``: the Default profile, no AppData), the shell's ``rsp:Environment``
    variables, and cmd.exe's PROMPT."""
    from winhost.engine.context import user_environment

    env: dict[str, str] = {}
    with machine.lock:
        env.update(machine.environment.items())
    profile = user_environment(machine, user)
    if no_profile:
        for key in ("APPDATA", "LOCALAPPDATA"):
            profile.pop(key, None)
        profile["USERPROFILE"] = "C:\\Users\\Default"
        profile["TEMP"] = profile["TMP"] = "C:\\Windows\\TEMP"
    env.update(profile)
    env["PROMPT"] = "$P$G"
    env.update(extra)
    return env
