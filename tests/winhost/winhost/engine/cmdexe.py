"""cmd.exe ``/c``: the small interpreter winhost runs for WinRS commands, win_command/win_shell
and pipelines that call ``cmd.exe`` (one emulation, winhost/engine/native.py starts it).

``&&``, ``||`` and ``&`` between commands, ``%NAME%`` expansion, the redirections
``>&2``/``1>&2``/``2>&1``/``>nul``/``2>nul``/``> file``/``>> file``, and the built-ins ``echo``,
``set``, ``exit``, ``cd``, ``type``, ``dir``, ``ver`` and ``rem`` (Windows Commands reference: cmd,
echo, set, exit; "Command redirection operators"). A command that is neither a built-in nor a
program winhost knows gets cmd.exe's message "'x' is not recognized as an internal or external
command, operable program or batch file." and errorlevel 9009: 9009 (0x2331) is cmd.exe's message
MSG_DIR_BAD_COMMAND_OR_FILE in cmdmsg.h, whose text is that message, as Microsoft's Error Lookup
Tool shows (https://stackoverflow.com/questions/23091906, "Official MS reference for cmd.exe
%errorlevel% 9009").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from winhost.engine.native import Process

#: Folders Windows creates with the Hidden attribute (winhost's model has no attributes).
HIDDEN = frozenset({"AppData"})
#: cmd.exe's errorlevel for a command it cannot find.
NOT_RECOGNIZED = 9009

#: Starts a program named at the start of a command (its exit code), or None when there is none.
Launcher = Callable[["Process", str], "int | None"]

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


def run_cmd_line(process: Process, line: str, launch: Launcher) -> int:
    """``cmd.exe /c line``: returns the exit code (``exit N`` or the last errorlevel); ``launch``
    starts the programs it names."""
    for op, command in split_operators(expand(process, line)):
        if (op == "&&" and process.errorlevel != 0) or (op == "||" and process.errorlevel == 0):
            continue
        if op == "|":
            process.err("winhost: cmd.exe pipes between programs are not emulated\r\n")
            process.errorlevel = 1
            continue
        try:
            process.errorlevel = _run_simple(process, command, launch)
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


def _run_simple(process: Process, command: str, launch: Launcher) -> int:
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
        return _dispatch(process, text, launch)
    finally:
        process.redirect = {}


def _dispatch(process: Process, text: str, launch: Launcher) -> int:
    stripped = text.lstrip(" \t@")
    word = re.match(r"[^\s.\\/:]*", stripped)
    name = (word.group(0) if word else "").lower()
    rest = stripped[len(name) :]
    builtin = _BUILTINS.get(name)
    if builtin is not None:
        return builtin(process, rest)
    if not stripped.strip():
        return process.errorlevel
    code = launch(process, stripped)
    if code is None:
        match = re.match(r'"([^"]*)"|\S+', stripped)
        first = (match.group(1) if match and match.group(1) is not None else match.group(0)) if match else ""
        process.err(
            f"'{first}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
        )
        return NOT_RECOGNIZED
    return code


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
    return process.fs()


def _write_file(process: Process, path: str, text: str) -> None:
    _fs(process).real(path).write_bytes(text.encode("utf-8"))
