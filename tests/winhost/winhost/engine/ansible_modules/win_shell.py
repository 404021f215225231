"""ansible.windows.win_shell and win_command: run a command through the engine.

Sources: ansible-collections/ansible.windows plugins/modules/win_shell.ps1 (Legacy util; default
executable powershell.exe with the command ``-EncodedCommand``; ``cmd`` executable gets ``/c``) and
win_command.ps1 (Ansible.Basic; ``_raw_params``/``cmd``/``argv``; no check mode). Both return
``cmd``, ``stdout``, ``stderr``, ``rc``, ``start``, ``end``, ``delta`` and ``changed`` true, skip
with ``creates``/``removes``, and fail with "non-zero return code" when rc != 0.

The command line runs through winhost's process emulation (winhost/engine/native.py).
"""

from __future__ import annotations

import base64
import datetime
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleFail, ModuleSpec
from winhost.engine.native import exe_stem, run_command_line


def _timed(
    ctx: ModuleContext,
    command_line: str,
    stdin: str | None,
    result: dict[str, Any],
    clean_stderr: Callable[[str], str] | None = None,
) -> None:
    start = datetime.datetime.now(datetime.UTC)
    try:
        stdout, stderr, rc = run_command_line(ctx, command_line, stdin)
    except FileNotFoundError as exc:
        result.update(changed=False, rc=2)
        raise ModuleFail(f"Failed to run: '{command_line}': {exc}", **result) from None
    end = datetime.datetime.now(datetime.UTC)
    delta = end - start
    hours, remainder = divmod(delta.total_seconds(), 3600)
    minutes, seconds = divmod(remainder, 60)
    result.update(
        stdout=stdout,
        stderr=clean_stderr(stderr) if clean_stderr is not None else stderr,
        rc=rc,
        start=start.strftime("%Y-%m-%d %H:%M:%S.%f"),
        end=end.strftime("%Y-%m-%d %H:%M:%S.%f"),
        delta=f"{int(hours)}:{int(minutes):02d}:{seconds:09.6f}",
    )
    if rc != 0:
        raise ModuleFail("non-zero return code", **result)


_CLIXML = re.compile(r"(?s)(?P<pre1>.*)#< CLIXML(?P<pre2>.*)(?P<clixml><Objs.+</Objs>)(?P<post>.*)")


def format_stderr(raw: str) -> str:
    """win_shell.ps1's Format-Stderr: the Error strings of a CLIXML stderr (what powershell.exe
    writes for -EncodedCommand) with their ``_x000D__x000A_`` removed, between the text around it,
    trimmed; any other stderr as it is."""
    match = _CLIXML.match(raw)
    if match is None:
        return raw
    try:
        root = ET.fromstring(match.group("clixml"))
    except ET.ParseError as exc:
        return f"***EXCEPTION PARSING CLIXML: {exc}***{raw}"
    errors = [
        (node.text or "").replace("_x000D__x000A_", "")
        for node in root
        if node.tag.rsplit("}", 1)[-1] == "S" and node.get("S") == "Error"
    ]
    filtered = "".join(f"{text}\r\n" for text in errors)  # Out-String: one line each
    merged = f"{match.group('pre1')}{match.group('pre2')}{filtered}{match.group('post')}\r\n"
    return merged.strip()


def _skip(ctx: ModuleContext, cmd: str) -> dict[str, Any] | None:
    creates, removes = ctx.params.get("creates"), ctx.params.get("removes")
    if creates and ctx.fs.real(creates).exists():
        return {
            "msg": f"skipped, since {creates} exists",
            "cmd": cmd,
            "changed": False,
            "skipped": True,
            "rc": 0,
        }
    if removes and not ctx.fs.real(removes).exists():
        return {
            "msg": f"skipped, since {removes} does not exist",
            "cmd": cmd,
            "changed": False,
            "skipped": True,
            "rc": 0,
        }
    return None


def run_shell(ctx: ModuleContext) -> dict[str, Any]:
    raw = str(ctx.params["_raw_params"]).strip()
    skipped = _skip(ctx, raw)
    if skipped is not None:
        return skipped
    result: dict[str, Any] = {"changed": True, "cmd": raw}
    executable = ctx.params.get("executable")
    if not executable or exe_stem(executable) == "powershell":
        encoded = base64.b64encode(raw.encode("utf-16-le")).decode()
        line = f'"powershell.exe" -noninteractive -encodedcommand {encoded}'
    else:
        exe = executable if executable.lower().endswith(".exe") else executable + ".exe"
        line = f'"{exe}" /c {raw}'
    _timed(ctx, line, ctx.params.get("stdin"), result, format_stderr)
    return result


def run_command(ctx: ModuleContext) -> dict[str, Any]:
    p = ctx.params
    given = [k for k in ("_raw_params", "argv", "cmd") if p.get(k)]
    if not given:
        raise ModuleFail("one of the following is required: _raw_params, argv, cmd")
    if len(given) > 1:
        raise ModuleFail(f"parameters are mutually exclusive: {', '.join(given)}")
    if p.get("cmd"):
        line = str(p["cmd"])
    elif p.get("_raw_params"):
        line = str(p["_raw_params"]).strip()
    else:
        line = " ".join(_quote_arg(a) for a in p["argv"])
    result: dict[str, Any] = {"cmd": line, "rc": 0}
    skipped = _skip(ctx, line)
    if skipped is not None:
        return {**result, "msg": skipped["msg"], "skipped": True}
    result["changed"] = True
    _timed(ctx, line, p.get("stdin"), result)
    return result


def _quote_arg(arg: str) -> str:
    """``ConvertTo-EscapedArgument``: C argument quoting for argv."""
    if arg and not any(c in arg for c in ' \t\n\v"'):
        return arg
    out, backslashes = ['"'], 0
    for ch in arg:
        if ch == "\\":
            backslashes += 1
            continue
        if ch == '"':
            out.append("\\" * (backslashes * 2 + 1) + '"')
        else:
            out.append("\\" * backslashes + ch)
        backslashes = 0
    out.append("\\" * (backslashes * 2) + '"')
    return "".join(out)


SPECS = (
    ModuleSpec(
        name="win_shell",
        run=run_shell,
        style="legacy",
        supports_check_mode=False,
        options={
            "_raw_params": {"type": "str", "required": True},
            "chdir": {"type": "path"},
            "executable": {"type": "path"},
            "creates": {"type": "path"},
            "removes": {"type": "path"},
            "stdin": {"type": "str"},
            "no_profile": {"type": "bool", "default": False},
            "output_encoding_override": {"type": "str"},
        },
        fingerprints=("format-stderr", "$raw_command_line", "-encodedcommand"),
    ),
    ModuleSpec(
        name="win_command",
        run=run_command,
        supports_check_mode=False,
        options={
            "_raw_params": {"type": "str"},
            "cmd": {"type": "str"},
            "argv": {"type": "list", "elements": "str"},
            "chdir": {"type": "path"},
            "creates": {"type": "path"},
            "removes": {"type": "path"},
            "stdin": {"type": "str"},
            "output_encoding_override": {"type": "str"},
        },
        fingerprints=("_raw_params", "argv", "start-ansiblewindowsprocess"),
    ),
)
