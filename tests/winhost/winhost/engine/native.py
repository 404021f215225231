"""The native programs winhost emulates: command lines as ``CreateProcess`` would run them.

Processes are not simulated: ``powershell.exe`` (-Command, -EncodedCommand, -File, stdin) runs the
script text through the engine in a new session (``ansible_modules._capture``); ``cmd.exe /c``
knows ``echo`` and ``exit /b``; ``hostname.exe`` and ``whoami.exe`` answer from the model. Any
other executable fails the way a missing one does on Windows (FileNotFoundError, "Could not find
file"). win_shell/win_command and a pipeline calling a program share this one emulation.

From a pipeline, PowerShell turns a native program's stdout into one string per line, its exit
code into ``$LASTEXITCODE`` and, in a remote session, its stderr lines into NativeCommandError
error records (about_Automatic_Variables $LASTEXITCODE; about_Redirection). A pipeline reaches
the programs in :data:`KNOWN`; any other program stays outside the emulated subset.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from psrpcore.types import ErrorCategory

from winhost.engine.ansible_modules._capture import run_script
from winhost.engine.ansible_modules._winpath import WinFS
from winhost.engine.errors import make_error_record
from winhost.engine.values import to_string

#: The programs a pipeline may call by name or path.
KNOWN = {"cmd", "hostname", "whoami"}


class ProcessContext(Protocol):
    """Who starts the process, on which machine, with which file system view."""

    runspace: Any  # the calling session (powershell.exe starts a new one like it), or None
    machine: Any
    user: str
    fs: WinFS


@dataclasses.dataclass
class _PipelineProcess:
    runspace: Any
    machine: Any
    user: str
    fs: WinFS


def exe_stem(name: str) -> str:
    """``cmd`` for ``cmd.exe`` / ``C:\\Windows\\System32\\cmd.exe`` / ``cmd`` (lower case)."""
    leaf = name.replace("/", "\\").rsplit("\\", 1)[-1].lower()
    return leaf[:-4] if leaf.endswith(".exe") else leaf


def program_name(name: str) -> str | None:
    """The known program ``name`` names, or None."""
    stem = exe_stem(name)
    return stem if stem in KNOWN else None


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


Result = tuple[str, str, int]


def _powershell_script(ctx: ProcessContext, rest: list[str]) -> tuple[str | None, list[str]]:
    """The script a powershell.exe command line runs (about_PowerShell_exe) and its arguments;
    None when it reads the script from stdin."""
    for index, arg in enumerate(rest):
        low = arg.lower()
        has_value = index + 1 < len(rest)
        if low in ("-encodedcommand", "-enc", "-ec", "-e") and has_value:
            return base64.b64decode(rest[index + 1]).decode("utf-16-le"), []
        if low in ("-command", "-c") and has_value:
            return " ".join(rest[index + 1 :]), []
        if low in ("-file", "-f") and has_value:
            return ctx.fs.real(rest[index + 1]).read_text(encoding="utf-8-sig"), rest[index + 2 :]
        if not low.startswith("-"):
            return " ".join(rest[index:]), []
    return None, []


def _powershell(ctx: ProcessContext, command_line: str, rest: list[str], stdin: str | None) -> Result:
    script, script_args = _powershell_script(ctx, rest)
    if script is None:
        script, stdin = stdin or "", None
    return run_script(ctx.runspace, script, stdin, args=script_args)


def _cmd(ctx: ProcessContext, command_line: str, rest: list[str], stdin: str | None) -> Result:
    # cmd.exe takes the rest of its command line after /c as it is (quotes included).
    match = re.search(r"\s/[cC]\s", command_line + " ")
    body = (command_line + " ")[match.end() :].rstrip() if match else ""
    word, _, text = body.strip().partition(" ")
    if word.lower() == "echo":
        return text + "\r\n", "", 0
    if word.lower() == "exit":
        code = text.replace("/b", "").replace("/B", "").strip()
        return "", "", int(code or 0)
    if not body.strip():
        return "", "", 0
    message = f"'{word}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    return "", message, 1


def _hostname(ctx: ProcessContext, command_line: str, rest: list[str], stdin: str | None) -> Result:
    return f"{ctx.machine.computer_name}\r\n", "", 0


def _whoami(ctx: ProcessContext, command_line: str, rest: list[str], stdin: str | None) -> Result:
    if ctx.user.lower().startswith("winrm virtual users\\"):  # a JEA virtual account
        return f"{ctx.user.lower()}\r\n", "", 0
    return f"{ctx.machine.computer_name.lower()}\\{ctx.user.split(chr(92))[-1].lower()}\r\n", "", 0


_PROGRAMS: dict[str, Callable[[ProcessContext, str, list[str], str | None], Result]] = {
    "powershell": _powershell,
    "pwsh": _powershell,
    "cmd": _cmd,
    "hostname": _hostname,
    "whoami": _whoami,
}


def run_command_line(ctx: ProcessContext, command_line: str, stdin: str | None) -> Result:
    """Run one command line: (stdout, stderr, exit code); FileNotFoundError for executables
    winhost does not have."""
    argv = split_command_line(command_line)
    if not argv:
        raise FileNotFoundError("Could not find file ''.")
    program = _PROGRAMS.get(exe_stem(argv[0]))
    if program is None:
        raise FileNotFoundError(f"Could not find file '{argv[0]}'.")
    return program(ctx, command_line, argv[1:], stdin)


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) and not arg.startswith('"') else arg


def run_native(ctx: Any, scope: Any, name: str, args: list[Any]) -> Iterator[Any]:
    """Run a known program from a pipeline; yields its stdout lines and sets $LASTEXITCODE."""
    env = ctx.env_items()
    process = _PipelineProcess(None, ctx.machine, ctx.user, WinFS(ctx.machine.sandbox(), env, ctx.location))
    # cmd.exe reads its command line after /c as it is: "cmd.exe /c echo hi" whether the caller
    # passed "/c echo hi" as one argument (PowerShell then quotes it) or as three.
    quote = (lambda text: text) if program_name(name) == "cmd" else _quote
    line = " ".join([_quote(name), *(quote(to_string(a)) for a in args)])
    stdout, stderr, rc = run_command_line(process, line, None)
    scope.root().set("LASTEXITCODE", rc)
    for text in stderr.splitlines():
        record = make_error_record(text, "NativeCommandError", ErrorCategory.NotSpecified, target=text)
        ctx.write_error(record, scope)
    yield from stdout.splitlines()
