"""The programs a WinRS command starts: ``cmd.exe`` and ``powershell.exe``, run against the model.

A WinRS shell ([MS-WSMV] 3.1.4.11 Command) starts its command line through ``cmd.exe /c`` unless
the client sets ``WINRS_SKIP_CMD_SHELL``; then the command names the program itself and Windows
looks for it as CreateProcess does with an application name (no PATH search: only a full path
works). winhost has no processes, so:

* ``cmd.exe /c`` is a small interpreter: ``&&``, ``||`` and ``&`` between commands, ``%NAME%``
  expansion, the redirections ``>&2``/``1>&2``/``2>&1``/``>nul``/``2>nul``/``> file``/``>> file``,
  and the built-ins ``echo``, ``set``, ``exit``, ``cd``, ``type``, ``dir``, ``ver`` and ``rem``. Anything
  else that is not a known program gets cmd.exe's "is not recognized" message and errorlevel
  9009 (Windows Commands reference: cmd, echo, set, exit; "Command redirection operators").
* ``powershell.exe`` reads ``-EncodedCommand``/``-Command``/``-File``/``-`` like
  about_PowerShell_exe and runs the script in a new engine runspace of the same machine and user
  (a new process, so a fresh session state) with the shell's environment and working directory.
  Redirected stdin becomes ``$input`` line by line; output objects are written as console text,
  ``Write-Host`` as text and LF (as the recordings show for a redirected console), errors to
  stderr, as CLIXML (``#< CLIXML``) when the command was ``-EncodedCommand``, as PowerShell's
  console host does for an encoded command. Ansible's bootstrap wrapper then reaches
  winhost.engine.ansible_exec exactly as it does over PSRP.
* ``hostname.exe`` and ``whoami.exe`` answer from the model.
"""

from __future__ import annotations

import base64
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from xml.sax.saxutils import escape

#: Folders Windows creates with the Hidden attribute (winhost's model has no attributes).
HIDDEN = frozenset({"AppData"})
#: cmd.exe's errorlevel for a command it cannot find.
NOT_RECOGNIZED = 9009
KNOWN_PROGRAMS = ("cmd", "powershell", "pwsh", "hostname", "whoami")
SYSTEM32 = "C:\\Windows\\system32"
PROGRAM_PATHS = {
    "cmd": f"{SYSTEM32}\\cmd.exe",
    "powershell": f"{SYSTEM32}\\WindowsPowerShell\\v1.0\\powershell.exe",
    "hostname": f"{SYSTEM32}\\hostname.exe",
    "whoami": f"{SYSTEM32}\\whoami.exe",
}


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
    errorlevel: int = 0
    #: cmd.exe redirections of the command running now: stream -> target ("stdout"/"stderr"/None).
    redirect: dict[str, str | None] = field(default_factory=dict)

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
            _append_file(self, target[5:], text)


def program_name(path: str) -> str | None:
    leaf = path.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    stem = leaf[:-4] if leaf.endswith(".exe") else leaf
    return stem if stem in KNOWN_PROGRAMS else None


def start(process: Process, command: str, arguments: list[str], skip_cmd_shell: bool) -> Callable[[], int]:
    """Check that the program exists (raise ProgramNotFound) and return the function that runs it.

    Without WINRS_SKIP_CMD_SHELL, WinRS runs ``cmd.exe /c <command> <arguments>``; with it the
    command must name the program by its full path."""
    line = " ".join([command, *arguments]).strip()
    if not skip_cmd_shell:
        return lambda: run_cmd_line(process, line)
    name = program_name(command)
    if name is None or PROGRAM_PATHS.get(name, "").lower() != command.strip('"').lower():
        raise ProgramNotFound(command)
    return lambda: run_program(process, name, line)


def run_program(process: Process, name: str, command_line: str) -> int:
    from winhost.engine.native import split_command_line

    args = split_command_line(command_line)[1:]
    if name == "cmd":
        match = re.search(r"\s/[cCkK](\s|$)", command_line)
        if match is None:
            return 0
        child = Process(
            process.machine, process.user, dict(process.env), process.cwd, process.io, process.stdin
        )
        child.redirect = dict(process.redirect)
        return run_cmd_line(child, command_line[match.end() :])
    if name in ("powershell", "pwsh"):
        return run_powershell(process, args)
    if name == "hostname":
        process.out(f"{process.machine.computer_name}\r\n")
        return 0
    short = process.user.rsplit("\\", 1)[-1].lower()
    process.out(f"{process.machine.computer_name.lower()}\\{short}\r\n")
    return 0


# ------------------------------------------------------------------------------------ cmd.exe

_OPERATORS = re.compile(r"&&|\|\||&|\|")
_REDIRECT = re.compile(r"\s*(?P<fd>[12]?)(?P<op>>>?)\s*(?P<target>&[12]|\"[^\"]*\"|[^\s&|<>]+)")


def split_operators(line: str) -> list[tuple[str, str]]:
    """``[(operator before, command)]``: cmd.exe's ``&``, ``&&``, ``||`` and ``|`` outside quotes."""
    parts: list[tuple[str, str]] = []
    op, start, quoted, i = "", 0, False, 0
    while i < len(line):
        ch = line[i]
        if ch == "^" and not quoted:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and not (ch == "&" and i > 0 and line[i - 1] in "<>"):
            match = _OPERATORS.match(line, i)
            if match:
                parts.append((op, line[start:i]))
                op, start, i = match.group(0), match.end(), match.end()
                continue
        i += 1
    parts.append((op, line[start:]))
    return parts


def expand(process: Process, text: str) -> str:
    """``%NAME%`` expansion as cmd /c does it: unknown names stay as written."""
    env = {k.lower(): v for k, v in process.env.items()}
    return re.sub(r"%([^%\s]+)%", lambda m: env.get(m.group(1).lower(), m.group(0)), text)


def run_cmd_line(process: Process, line: str) -> int:
    """``cmd.exe /c line``: returns the exit code (``exit N`` or the last errorlevel)."""
    for op, command in split_operators(expand(process, line)):
        if (op == "&&" and process.errorlevel != 0) or (op == "||" and process.errorlevel == 0):
            continue
        if op == "|":
            process.err("winhost: cmd.exe pipes between programs are not emulated\r\n")
            process.errorlevel = 1
            continue
        try:
            process.errorlevel = _run_simple(process, command)
        except _CmdExit as exc:
            return exc.code
    return process.errorlevel


class _CmdExit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _parse_redirects(command: str) -> tuple[str, dict[str, str | None]]:
    redirect: dict[str, str | None] = {}

    def apply(match: re.Match[str]) -> str:
        stream = "stderr" if match.group("fd") == "2" else "stdout"
        target = match.group("target").strip('"')
        if target in ("&1", "&2"):
            redirect[stream] = "stdout" if target == "&1" else "stderr"
        elif target.lower() == "nul":
            redirect[stream] = None
        else:
            redirect[stream] = ("file:" if match.group("op") == ">>" else "file:!") + target
        return ""

    return _REDIRECT.sub(apply, command), redirect


def _run_simple(process: Process, command: str) -> int:
    text, redirect = _parse_redirects(command)
    for stream, target in redirect.items():
        if target is not None and target.startswith("file:"):
            path = target.removeprefix("file:").removeprefix("!")
            try:
                if target.startswith("file:!"):
                    _write_file(process, path, "")
                elif not _fs(process).real(path).parent.is_dir():
                    raise FileNotFoundError(path)
            except OSError:
                process.err("The system cannot find the path specified.\r\n")
                return 1
            redirect[stream] = "file:" + path
    process.redirect = redirect
    try:
        return _dispatch(process, text)
    finally:
        process.redirect = {}


def _dispatch(process: Process, text: str) -> int:
    stripped = text.lstrip(" \t@")
    word = re.match(r"[^\s.\\/:]*", stripped)
    name = (word.group(0) if word else "").lower()
    rest = stripped[len(name) :]
    builtin = _BUILTINS.get(name)
    if builtin is not None:
        return builtin(process, rest)
    if not stripped.strip():
        return process.errorlevel
    from winhost.engine.native import split_command_line

    argv = split_command_line(stripped)
    program = program_name(argv[0]) if argv else None
    if program is None:
        first = argv[0] if argv else stripped
        process.err(
            f"'{first}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
        )
        return NOT_RECOGNIZED
    return run_program(process, program, stripped)


def _echo(process: Process, rest: str) -> int:
    if rest[:1] in (".", ":", "/") and rest[:2] != "/?":
        process.out(rest[1:] + "\r\n")
    elif not rest.strip():
        process.out("ECHO is on.\r\n")
    else:
        process.out(rest[1:] + "\r\n")
    return 0


def _set(process: Process, rest: str) -> int:
    arg = rest.strip().strip('"')
    if "=" in arg:
        name, _, value = arg.partition("=")
        for key in [k for k in process.env if k.lower() == name.lower()]:
            del process.env[key]
        if value:
            process.env[name] = value
        return 0
    matches = sorted(
        (item for item in process.env.items() if item[0].lower().startswith(arg.lower())),
        key=lambda item: item[0].lower(),
    )
    if not matches:
        process.err(f"Environment variable {arg} not defined\r\n")
        return 1
    process.out("".join(f"{k}={v}\r\n" for k, v in matches))
    return 0


def _exit(process: Process, rest: str) -> int:
    words = rest.split()
    batch = bool(words) and words[0].lower() == "/b"
    code_text = words[1 if batch else 0] if len(words) > (1 if batch else 0) else ""
    code = int(code_text) if re.fullmatch(r"-?\d+", code_text) else (process.errorlevel if batch else 0)
    raise _CmdExit(code)


def _cd(process: Process, rest: str) -> int:
    target = rest.strip().strip('"')
    if not target:
        process.out(process.cwd + "\r\n")
        return 0
    fs = _fs(process)
    if not fs.real(target).is_dir():
        process.err("The system cannot find the path specified.\r\n")
        return 1
    process.cwd = fs.full_name(target)
    return 0


def _type(process: Process, rest: str) -> int:
    target = rest.strip().strip('"')
    real = _fs(process).real(target)
    if not real.is_file():
        process.err("The system cannot find the file specified.\r\n")
        return 1
    process.out(real.read_bytes().decode("utf-8", errors="replace"))
    return 0


def _ver(process: Process, rest: str) -> int:
    version = str(getattr(process.machine, "os_version", "10.0.17763"))
    process.out(f"\r\nMicrosoft Windows [Version {version}.1]\r\n")
    return 0


def _rem(process: Process, rest: str) -> int:
    return process.errorlevel


def _dir(process: Process, rest: str) -> int:
    """``dir [path] [/b]``: the listing layout of cmd.exe (as in pypsrp's test_client_execute_cmd
    recording): header, ``.``/``..`` and entries sorted by name, then the totals."""
    import datetime
    import shutil
    import zlib

    words = [w for w in rest.split() if w]
    bare = any(w.lower() == "/b" for w in words)
    paths = [w.strip('"') for w in words if not w.startswith("/")]
    fs = _fs(process)
    target = paths[0] if paths else process.cwd
    real = fs.real(target)
    if not real.is_dir():
        process.err("File Not Found\r\n")
        return 1
    # Windows creates a profile's AppData folder hidden; dir leaves hidden entries out.
    entries = sorted((p for p in real.iterdir() if p.name not in HIDDEN), key=lambda p: p.name.lower())
    if bare:
        process.out("".join(f"{p.name}\r\n" for p in entries))
        return 0

    def stamp(path: Any) -> str:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%m/%d/%Y  %I:%M %p")

    serial = zlib.crc32(str(process.machine.computer_name).encode()) & 0xFFFFFFFF
    lines = [
        " Volume in drive C has no label.",
        f" Volume Serial Number is {serial >> 16:04X}-{serial & 0xFFFF:04X}",
        "",
        f" Directory of {fs.full_name(target)}",
        "",
        f"{stamp(real)}    <DIR>          .",
        f"{stamp(real.parent)}    <DIR>          ..",
    ]
    files = [p for p in entries if p.is_file()]
    for path in entries:
        field = "    <DIR>         " if path.is_dir() else f"{path.stat().st_size:>18,}"
        lines.append(f"{stamp(path)}{field} {path.name}")
    total = sum(p.stat().st_size for p in files)
    free = shutil.disk_usage(real).free
    lines.append(f"{len(files):>16} File(s){total:>15,} bytes")
    lines.append(f"{len(entries) - len(files) + 2:>16} Dir(s){free:>16,} bytes free")
    process.out("".join(line + "\r\n" for line in lines))
    return 0


_BUILTINS: dict[str, Callable[[Process, str], int]] = {
    "echo": _echo,
    "set": _set,
    "exit": _exit,
    "cd": _cd,
    "chdir": _cd,
    "type": _type,
    "ver": _ver,
    "rem": _rem,
    "dir": _dir,
}


def _fs(process: Process) -> Any:
    from winhost.engine.ansible_modules._winpath import WinFS

    return WinFS(process.machine.sandbox(), process.env, process.cwd)


def _write_file(process: Process, path: str, text: str) -> None:
    _fs(process).real(path).write_bytes(text.encode("utf-8"))


def _append_file(process: Process, path: str, text: str) -> None:
    with open(_fs(process).real(path), "ab") as handle:
        handle.write(text.encode("utf-8"))


# ------------------------------------------------------------------------------- powershell.exe

_VALUE_SWITCHES = (
    "executionpolicy",
    "inputformat",
    "outputformat",
    "windowstyle",
    "version",
    "psconsolefile",
)
_FLAG_SWITCHES = ("noprofile", "noninteractive", "nologo", "noexit", "sta", "mta")


def _switch(arg: str, names: tuple[str, ...]) -> bool:
    low = arg.lower().lstrip("-/")
    return len(low) >= 2 and any(name.startswith(low) for name in names)


def parse_powershell_args(args: list[str], read_stdin: Callable[[], str]) -> tuple[str, list[str], bool, str]:
    """``(script, file arguments, encoded, mode)`` from powershell.exe's arguments
    (about_PowerShell_exe). ``mode`` is "command", "file" or "stdin"."""
    index = 0
    while index < len(args):
        arg = args[index]
        low = arg.lower()
        if low == "-":
            return read_stdin(), [], False, "stdin"
        if low in ("-e", "-ec", "-en", "-enc") or (len(low) > 3 and "-encodedcommand".startswith(low)):
            text = args[index + 1] if index + 1 < len(args) else ""
            return base64.b64decode(text).decode("utf-16-le"), [], True, "command"
        if low in ("-c", "-co", "-com") or (len(low) > 3 and "-command".startswith(low)):
            rest = args[index + 1 :]
            if rest == ["-"]:
                return read_stdin(), [], False, "stdin"
            return " ".join(rest), [], False, "command"
        if low in ("-f", "-fi", "-file") or (len(low) > 3 and "-file".startswith(low)):
            rest = args[index + 1 :]
            return "", rest, False, "file"
        if arg.startswith("-") and _switch(arg, _VALUE_SWITCHES):
            index += 2
            continue
        if arg.startswith("-") and _switch(arg, _FLAG_SWITCHES):
            index += 1
            continue
        return " ".join(args[index:]), [], False, "command"
    return read_stdin(), [], False, "stdin"


def run_powershell(process: Process, args: list[str]) -> int:
    from psrpcore import Command

    from winhost.engine.ansible_modules._capture import bind_command_line, switch_parameters
    from winhost.engine.model import CIDict
    from winhost.engine.runspace import Runspace

    script, file_args, encoded, mode = parse_powershell_args(args, process.stdin.read_all)
    host = ConsoleHost(process, clixml=encoded)
    if mode == "file":
        if not file_args:
            process.err("-File requires a file path argument.\r\n")
            return 64
        real = _fs(process).real(file_args[0])
        if not real.is_file():
            process.err(f"The argument '{file_args[0]}' to the -File parameter does not exist.\r\n")
            return 64
        script = real.read_text(encoding="utf-8-sig")
        file_args = file_args[1:]
    runspace = Runspace(process.machine, process.user, "Microsoft.PowerShell")
    runspace.process_env = CIDict(dict(process.env))
    runspace.global_scope.set("__location", process.cwd)
    command = Command(script, is_script=True)
    for name, value in bind_command_line(file_args, switch_parameters(script)):
        command.add_parameter(name, value)
    # powershell.exe reads redirected stdin only when the script enumerates $input; a script that
    # does not finishes without the client ever closing stdin (pypsrp's WinRS recordings).
    reads_input = "$input" in script.lower()
    stdin = process.stdin.lines() if reads_input and not process.stdin.console and mode != "stdin" else None
    try:
        runspace.invoke([command], stdin, host)
    except Exception as exc:  # a terminating error ends the process with exit code 1
        host.write_error_text(str(exc))
        if host.exit_code is None:
            host.exit_code = 1
    host.close()
    if host.exit_code is not None:
        return host.exit_code
    return 1 if host.errors else 0


class ConsoleHost:
    """powershell.exe's console host with redirected stdout/stderr (the engine's PipelineHost)."""

    def __init__(self, process: Process, clixml: bool) -> None:
        self.process = process
        self.stop_requested = process.io.stop_requested
        self.clixml = clixml
        self.exit_code: int | None = None
        self.errors = 0
        self._objects: list[Any] = []
        self._error_lines: list[str] = []

    def _flush(self) -> None:
        from winhost.engine.formatting import format_objects

        if self._objects:
            self.process.out(format_objects(self._objects))
            self._objects = []

    def write_output(self, value: Any) -> None:
        from winhost.engine.formatting import is_structured, render

        if is_structured(value):
            self._objects.append(value)
            return
        self._flush()
        self.process.out(render(value) + "\r\n")

    def write_error(self, record: Any) -> None:
        from winhost.engine.ansible_modules._capture import render_error

        self.errors += 1
        self.write_error_text(render_error(record).rstrip("\r\n "))

    def write_error_text(self, text: str) -> None:
        self._flush()
        if self.clixml:
            self._error_lines.append(text + "\r\n")
        else:
            self.process.err(text + "\r\n")

    def write_warning(self, message: str) -> None:
        self._flush()
        self.process.out(f"WARNING: {message}\r\n")

    def write_verbose(self, message: str) -> None:
        pass

    def write_debug(self, message: str) -> None:
        pass

    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None:
        pass  # Write-Host reaches the console through write_host; other records are not shown

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        pass

    def write_host(
        self,
        text: str,
        newline: bool = True,
        is_error: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None:
        if is_error:
            self.write_error_text(text)
            return
        self._flush()
        self.process.out(text + ("\n" if newline else ""))

    def set_should_exit(self, code: int) -> None:
        self.exit_code = int(code)

    def host_call(self, method: str, params: list[Any], wait: bool = False) -> Any:
        """``$host.UI`` calls: the console writes them to stdout (WriteErrorLine to stderr); the
        Write*Line calls for the verbose/debug/warning streams were already written."""
        text = str(params[-1]) if params else ""
        if method == "WriteErrorLine":
            self.write_error_text(text)
        elif method in ("Write1", "Write2"):
            self._flush()
            self.process.out(text)
        elif method in ("WriteLine1", "WriteLine2", "WriteLine3"):
            self._flush()
            self.process.out(text + "\r\n")
        elif method.startswith(("ReadLine", "Prompt")):
            self.read_line("")
        return None

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        raise RuntimeError(
            "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."
        )

    def close(self) -> None:
        self._flush()
        if self._error_lines:
            body = "".join(f'<S S="Error">{_clixml_text(line)}</S>' for line in self._error_lines)
            self.process.err(
                '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
                f"{body}</Objs>"
            )
            self._error_lines = []


def _clixml_text(text: str) -> str:
    """CLIXML string escaping ([MS-PSRP] 2.2.5.3.2): control characters as ``_xHHHH_``."""
    escaped = escape(text).replace("_x", "_x005F_x")
    return re.sub(r"[\x00-\x1f]", lambda m: f"_x{ord(m.group(0)):04X}_", escaped)


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
