"""The few native programs winhost answers from the model when a pipeline calls them.

``cmd.exe /c echo ...`` / ``exit /b N``, ``hostname.exe`` and ``whoami.exe`` (the same emulation
as win_shell's, winhost/engine/ansible_modules/win_shell.py). PowerShell turns a native
program's stdout into one string per line, its exit code into ``$LASTEXITCODE`` and, in a remote
session, its stderr lines into NativeCommandError error records (about_Automatic_Variables
$LASTEXITCODE; about_Redirection). Any other program stays outside the emulated subset.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine.errors import make_error_record

KNOWN = {"cmd", "hostname", "whoami"}


def program_name(name: str) -> str | None:
    """``cmd`` for ``cmd.exe`` / ``C:\\Windows\\System32\\cmd.exe`` / ``cmd``; None if unknown."""
    leaf = name.replace("/", "\\").rsplit("\\", 1)[-1].lower()
    stem = leaf[:-4] if leaf.endswith(".exe") else leaf
    return stem if stem in KNOWN else None


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) and not arg.startswith('"') else arg


def run_native(ctx: Any, scope: Any, name: str, args: list[Any]) -> Iterator[Any]:
    """Run a known program; yields its stdout lines and sets $LASTEXITCODE."""
    from winhost.engine.ansible_modules import ModuleContext
    from winhost.engine.ansible_modules._winpath import WinFS
    from winhost.engine.ansible_modules.win_shell import run_command_line
    from winhost.engine.values import to_string

    env = ctx.env_items()
    module_ctx = ModuleContext(
        runspace=None,
        machine=ctx.machine,
        user=ctx.user,
        params={},
        fs=WinFS(ctx.machine.sandbox(), env, ctx.location),
        env=env,
    )
    # cmd.exe reads its command line after /c as it is: "cmd.exe /c echo hi" whether the caller
    # passed "/c echo hi" as one argument (PowerShell then quotes it) or as three.
    quote = (lambda text: text) if program_name(name) == "cmd" else _quote
    line = " ".join([_quote(name), *(quote(to_string(a)) for a in args)])
    stdout, stderr, rc = run_command_line(module_ctx, line, None)
    scope.root().set("LASTEXITCODE", rc)
    for text in stderr.splitlines():
        record = make_error_record(text, "NativeCommandError", ErrorCategory.NotSpecified, target=text)
        ctx.write_error(record, scope)
    yield from stdout.splitlines()
