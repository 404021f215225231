"""Answer what Ansible's ``ansible.builtin.psrp`` connection sends, without running its PowerShell.

``Runspace.invoke`` calls :func:`try_invoke` first. It recognises, by structure (not by a hash
of one version's text), the scripts ansible-core 2.16-2.22 sends over PSRP and answers them from
the machine model; anything else returns False and the engine evaluates it as a script.

What ansible-core sends (``lib/ansible/plugins/connection/psrp.py``, ``plugins/shell/powershell.py``
and ``executor/powershell/``; versions read at their release tags):

* Modules, 2.19+: the script is ``bootstrap_wrapper.ps1`` (decoded from the shell plugin's
  ``-EncodedCommand``); the pipeline input is lines: the bootstrap JSON ``{"name": "exec_wrapper",
  "script": <exec_wrapper.ps1>, "params": {...}}``, a line of four NUL characters, then the exec
  manifest JSON ``{"scripts": {name: {"script": base64, "path"}}, "actions": [{"name", "params",
  "secure_params"}], "signed_hashlist": [...]}``. ``module_wrapper.ps1``'s params name the module
  (``Script``: ``ansible_collections.ansible.windows.plugins.modules.win_ping.ps1``) and carry the
  arguments (``Variables[0]`` = ``complex_args``) and the task ``Environment``. Further NUL lines
  separate input for the action (``psrp_put_file.ps1`` receives base64 chunks that way).
  2.22 gzips the manifest JSON and sends it as one base64 line when that is shorter, with the
  bootstrap param ``DecompressInput`` true; exec_wrapper.ps1 expands it line by line.
* Modules, 2.16-2.18: ``bootstrap_wrapper.ps1`` does ``$input | Out-String`` and splits on the
  NULs: input is ``exec_wrapper.ps1`` + NULs + manifest JSON ``{"module_entry": base64 source,
  "module_args", "actions": ["module_powershell_wrapper"], "environment", ...}``; the module is
  identified from its source.
* Result: the module prints one JSON document, which arrives as an output string; the exit code
  goes through ``$host.SetShouldExit`` (module_wrapper.ps1: 0, or 1 after a failure).
* put_file: 2.19+ runs ``psrp_put_file.ps1`` through the bootstrap with ``Path``; 2.16-2.18 send a
  begin/process/end script with the path as the first positional argument. Both read base64
  chunks from the pipeline input (``""`` for an empty file) and print ``{"sha1":"<hex>"}``.
* fetch_file: 2.19+ runs ``psrp_fetch_file.ps1`` (``Path``, ``BufferSize``): output ``[FILE]`` then
  base64 chunks, or ``[DIR]``, or an error "<path> does not exist". 2.16-2.18 run a setup script
  kept in the global scope (``$fs`` FileStream), a read script per ``Offset``/``BufferSize`` and
  ``$fs.Close()``.
* ``script`` on 2.19+: ``PowerShell ... -File <path> args`` becomes ``param([string]$Path,
  [Parameter(ValueFromRemainingArguments)][string[]]$ScriptArgs) & $Path @ScriptArgs`` with
  arguments: the uploaded file is read from the sandbox and evaluated by the engine.
* Shell plugin helpers of 2.16-2.18 (``mkdtemp``, ``expand_user``, ``remove``) are
  ``-EncodedCommand`` scripts with ``Set-StrictMode`` and an ``If (-not $?)`` rc suffix; they are
  answered here because they use .NET calls outside the engine's script subset.
* ``raw``: the command text plus ``\\nexit $LASTEXITCODE``, which is plain script for the engine:
  not handled here.

Unknown modules get a module failure that says winhost does not emulate them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import hashlib
import json
import re
import threading
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from psrpcore import Command
from psrpcore.types import ErrorCategory

from winhost.engine import ansible_async
from winhost.engine.ansible_modules import (
    ModuleContext,
    ModuleCrash,
    ModuleFail,
    ModuleSpec,
    find_by_name,
    find_by_source,
    invocation,
    validate,
)
from winhost.engine.ansible_modules._capture import new_session, run_script
from winhost.engine.ansible_modules._winpath import WinFS, WinPathError, user_environment, user_profile
from winhost.engine.ansible_modules.win_whoami import resolve_account
from winhost.engine.errors import PSRuntimeError, make_error_record
from winhost.engine.native import split_command_line

NUL_LINE = "\0\0\0\0"

# ------------------------------------------------------------------------------------------------
# Recognising the scripts (structure, whitespace- and case-insensitive)


def _norm(script: str) -> str:
    return re.sub(r"\s+", " ", script).lower()


def _is_bootstrap_v2(n: str) -> bool:
    """2.19+ bootstrap_wrapper.ps1: JSON lines up to a NUL line, then ``& $cmd @splat``."""
    return "`0`0`0`0" in n and "convertfrom-json" in n and "$code.script" in n


def _is_bootstrap_v1(n: str) -> bool:
    """2.16-2.18 bootstrap_wrapper.ps1: ``$input | Out-String`` split on the NULs."""
    return "`0`0`0`0" in n and "out-string" in n and "[scriptblock]::create(" in n


def _is_put_v1(n: str) -> bool:
    return "unboundarguments[0]" in n and "frombase64string($input)" in n and "::create($path)" in n


def _is_pypsrp_copy(n: str) -> bool:
    """pypsrp's Client.copy_file script: data chunks then the expected SHA1 as the last input."""
    return _is_put_v1(n) and "$expected_hash" in n and "$dest.fullname" in n


def _is_pypsrp_fetch(n: str) -> bool:
    """pypsrp's Client.fetch_file script: whole file as base64, then its SHA1."""
    return "$myinvocation.unboundarguments[0]" in n and "$fs.read($bytes" in n and "$src.openread()" in n


def _is_fetch_v1_setup(n: str) -> bool:
    return "param([string]$path)" in n and "system.io.filestream" in n and "[dir]" in n


def _is_fetch_v1_read(n: str) -> bool:
    return "param([int64]$offset, [int]$buffersize)" in n and "$fs.seek($offset" in n


def _is_fetch_v1_close(n: str) -> bool:
    return n.strip() == "$fs.close()"


def _is_file_wrapper(n: str) -> bool:
    return "valuefromremainingarguments" in n and "& $path @scriptargs" in n


_Q = r"'((?:[^']|'')*)'"
_MKDTEMP_V1 = re.compile(
    r"\$tmp_path\s*=\s*\[System\.Environment\]::ExpandEnvironmentVariables\(" + _Q + r"\)\s*"
    r"\$tmp\s*=\s*New-Item\s+-Type\s+Directory\s+-Path\s+\$tmp_path\s+-Name\s+" + _Q + r"\s*"
    r"Write-Output\s+-InputObject\s+\$tmp\.FullName",
    re.IGNORECASE,
)
_EXPAND_USER_V1 = re.compile(
    r"Write-Output\s+(?:\(Get-Location\)\.Path|\(\(Get-Location\)\.Path\s*\+\s*"
    + _Q
    + r"\)|"
    + _Q
    + r")\s*$",
    re.IGNORECASE,
)
_REMOVE = re.compile(r"^\s*Remove-Item\s+" + _Q + r"\s+-Force(\s+-Recurse)?\s*;\s*$", re.IGNORECASE)
_STRICT_PREFIX = re.compile(r"^\s*Set-StrictMode\s+-Version\s+Latest\s*", re.IGNORECASE)
_RC_SUFFIX = re.compile(r"\s*If\s*\(-not\s+\$\?\)\s*\{.*\}\s*$", re.IGNORECASE | re.DOTALL)
_CONSOLE_ENCODING = re.compile(
    r"^\s*try\s*\{\s*\[Console\]::OutputEncoding[^}]*\}\s*catch\s*\{\s*\}\s*;?\s*", re.IGNORECASE
)


def _unq(text: str) -> str:
    return text.replace("''", "'")


# ------------------------------------------------------------------------------------------------
# Entry point


def try_invoke(runspace: Any, commands: list[Command], input: Iterable[Any] | None, host: Any) -> bool:
    """Handle the pipeline if it is Ansible's; return False to let the engine evaluate it."""
    if len(commands) != 1 or not commands[0].is_script:
        return False
    command = commands[0]
    script = str(command.command_text)
    n = _norm(script)
    args = [_plain(value) for name, value in command.parameters if name is None]
    session = _Session(runspace, host)
    if _is_bootstrap_v2(n):
        _bootstrap_v2(session, _lines(input))
    elif _is_bootstrap_v1(n):
        _bootstrap_v1(session, _lines(input))
    elif _is_pypsrp_copy(n):
        expand = len(args) > 1 and str(args[1]).lower() == "true"
        _pypsrp_copy(session, str(args[0]) if args else "", expand, _lines(input))
    elif _is_pypsrp_fetch(n):
        expand = len(args) > 1 and str(args[1]).lower() == "true"
        _pypsrp_fetch(session, str(args[0]) if args else "", expand)
    elif _is_put_v1(n):
        _put_file(session, str(args[0]) if args else "", _lines(input), wrapper_errors=False)
    elif _is_fetch_v1_setup(n):
        _fetch_v1_setup(session, str(args[0]) if args else "")
    elif _is_fetch_v1_read(n):
        _fetch_v1_read(session, int(args[0]), int(args[1]))
    elif _is_fetch_v1_close(n):
        _fetch_states.pop(id(runspace), None)
    elif _is_file_wrapper(n) and args:
        _run_script_file(session, str(args[0]), [str(a) for a in args[1:]])
    else:
        return _shell_helper(session, script)
    return True


class _CollectingHost:
    """The pipeline's host, except that output is collected: a script block's output flows on
    through the pipeline of the script that invoked it."""

    def __init__(self, host: Any) -> None:
        self._host = host
        self.output: list[Any] = []

    def write_output(self, value: Any) -> None:
        self.output.append(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)


def run_block(runspace: Any, text: str, input: Iterable[Any] | None, host: Any) -> list[Any] | None:
    """A script block invoked from script (``$lines | & $bootstrap``): when its text is Ansible's
    bootstrap wrapper, answer it as :func:`try_invoke` answers the same script sent as a pipeline
    (the exec wrapper is emulated, not evaluated) and return its output; otherwise ``None``."""
    n = _norm(text)
    if not (_is_bootstrap_v2(n) or _is_bootstrap_v1(n)):
        return None
    collector = _CollectingHost(host)
    session = _Session(runspace, collector)
    if _is_bootstrap_v2(n):
        _bootstrap_v2(session, _lines(input))
    else:
        _bootstrap_v1(session, _lines(input))
    return collector.output


def _plain(value: Any) -> Any:
    """psrpcore may hand primitives wrapped as PSObject subclasses of str/int; keep them as is."""
    return value


def _lines(input: Iterable[Any] | None) -> Iterator[str]:
    """Pipeline input as strings; ansible's put_file yields one-element lists."""
    if input is None:
        return
    for item in input:
        if isinstance(item, (list, tuple)):
            for sub in item:
                yield "" if sub is None else str(sub)
        else:
            yield "" if item is None else str(item)


class _Session:
    """The runspace, its host and the user's view of the machine."""

    def __init__(self, runspace: Any, host: Any) -> None:
        self.runspace = runspace
        self.host = host
        self.machine = runspace.machine
        self.user = str(getattr(runspace, "user", "Administrator"))
        self.env = user_environment(self.machine, self.user)
        cwd = user_profile(self.user)
        scope = getattr(runspace, "global_scope", None)
        if scope is not None and hasattr(scope, "get"):
            cwd = str(scope.get("__location", cwd))
        self.fs = WinFS(self.machine.sandbox(), self.env, cwd)
        # Windows creates a profile with its Temp folder at first logon.
        self.fs.ensure_dir(self.env["TEMP"])

    def output(self, value: Any) -> None:
        self.host.write_output(value)

    def exit(self, code: int) -> None:
        self.host.set_should_exit(code)

    def wrapper_error(self, message: str, exc_text: str = "") -> None:
        """exec_wrapper.ps1 Write-AnsibleErrorJson: JSON on stdout and SetShouldExit(1)."""
        self.output(
            _json(
                {
                    "failed": True,
                    "msg": f"failure during exec_wrapper: {message}",
                    "exception": exc_text or message,
                }
            )
        )
        self.exit(1)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------------------------------
# 2.19+ bootstrap + exec_wrapper manifest


def _read_until_nul(lines: Iterator[str]) -> tuple[str, bool]:
    """Join lines up to the NUL separator; the flag says whether a separator was seen."""
    parts: list[str] = []
    for line in lines:
        if line == NUL_LINE:
            return "\n".join(parts), True
        parts.append(line)
    return "\n".join(parts), False


def _bootstrap_v2(session: _Session, lines: Iterator[str]) -> None:
    code_json, _ = _read_until_nul(lines)
    try:
        code = json.loads(code_json)
    except ValueError as exc:
        session.host.write_host(f"ConvertFrom-Json : Invalid JSON primitive: {exc}", is_error=True)
        session.exit(1)
        return
    name = str(code.get("name", ""))
    wrapper = str(code.get("script", ""))
    if name != "exec_wrapper" and "get-nextansibleaction" not in wrapper.lower():
        session.output(
            _json({"failed": True, "msg": f"winhost does not emulate the bootstrap script '{name}'"})
        )
        session.exit(1)
        return
    params = code.get("params") if isinstance(code.get("params"), dict) else {}
    try:
        manifest_json = _manifest_text(lines, params)
    except _WrapperError as exc:
        session.wrapper_error(str(exc))
        return
    try:
        manifest = json.loads(manifest_json)
    except ValueError as exc:
        session.wrapper_error(f"Conversion from JSON failed with error: {exc}")
        return
    _run_actions(session, manifest, lines)


class _WrapperError(Exception):
    """A .NET exception exec_wrapper.ps1's process block reports through Write-AnsibleErrorJson."""


def _manifest_text(lines: Iterator[str], params: dict[str, Any]) -> str:
    """The exec manifest JSON as exec_wrapper.ps1's process block feeds it to ConvertFrom-Json.

    Each input line up to the NUL line is decoded on its own: with ``-EncodeInputOutput`` it is
    base64 of UTF-8; with ``-DecompressInput`` (ansible-core 2.22+, module_manifest.py
    ``_get_bootstrap_input``: ``gzip.compress`` then base64, when that is shorter) it is base64 of
    a gzip stream that ``[GZipStream]::new(..., [CompressionMode]::Decompress)`` expands to UTF-8.
    """
    parts: list[str] = []
    for line in lines:
        if line == NUL_LINE:
            break
        if params.get("EncodeInputOutput"):
            parts.append(_from_base64(line).decode("utf-8", errors="replace"))
        elif params.get("DecompressInput"):
            parts.append(_gunzip(_from_base64(line)).decode("utf-8", errors="replace"))
        else:
            parts.append(line)
    return "\n".join(parts)


def _from_base64(text: str) -> bytes:
    """[Convert]::FromBase64String, which ignores white space and refuses anything else."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _WrapperError(
            'Exception calling "FromBase64String" with "1" argument(s): "The input is not a valid '
            "Base-64 string as it contains a non-base 64 character, more than two padding "
            'characters, or an illegal character among the padding characters. "'
        ) from None


def _gunzip(data: bytes) -> bytes:
    """GZipStream.CopyTo over a MemoryStream of ``data``."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        raise _WrapperError(
            'Exception calling "CopyTo" with "1" argument(s): "The magic number in GZip header is '
            'not correct. Make sure you are passing in a GZip stream."'
        ) from None


def _script_text(manifest: dict[str, Any], name: str) -> str:
    info = manifest.get("scripts", {}).get(name)
    if not info:
        raise KeyError(name)
    return base64.b64decode(info["script"]).decode("utf-8", errors="replace")


def add_csharp_type(session: _Session) -> None:
    """``Add-CSharpType`` (Ansible.ModuleUtils.AddType.psm1, 2.16-2.22): every call compiles its
    references into a new assembly (CodeDom on Windows PowerShell, Roslyn on PowerShell 7) and
    loads it into the process; it never looks for an assembly of the same source, and a loaded
    assembly cannot be unloaded. The exec wrapper calls it once per module with C# utils, and
    once more in become_wrapper.ps1. winhost compiles nothing; it counts."""
    runspace = session.runspace
    runspace.assemblies = getattr(runspace, "assemblies", 0) + 1
    hook = getattr(runspace, "on_compile", None)
    if hook is not None:
        hook(runspace.assemblies)


def _run_actions(session: _Session, manifest: dict[str, Any], lines: Iterator[str]) -> None:
    actions = list(manifest.get("actions", []))
    for index, action in enumerate(actions):
        name = str(action.get("name", ""))
        params = dict(action.get("params") or {})
        if name == "become_wrapper.ps1":
            # the wrapper's Import-CSharpUtil (AccessToken, Become, Process) compiles first
            add_csharp_type(session)
            if not _become(session, params, dict(action.get("secure_params") or {})):
                return
            continue
        if name == "coverage_wrapper.ps1":
            continue
        if name == "async_wrapper.ps1":
            _start_async(session, manifest, params, actions[index + 1 :])
            return
        _run_action(session, manifest, name, params, lines)
        return
    session.wrapper_error("no action left in the exec manifest")


def _start_async(
    session: _Session, manifest: dict[str, Any], params: dict[str, Any], rest: list[dict[str, Any]]
) -> None:
    """async_wrapper.ps1: the rest of the manifest (async_watchdog.ps1, then the module) runs as a
    job in a new process (winhost.engine.ansible_async)."""
    timeout = 0
    if rest and rest[0].get("name") == "async_watchdog.ps1":
        timeout = int((rest[0].get("params") or {}).get("Timeout", 0))
        rest = rest[1:]
    user = session.user

    def job(host: Any) -> None:
        child = _Session(new_session(session.runspace), host)
        child.user = user
        _run_actions(child, {**manifest, "actions": rest}, iter(()))

    result = ansible_async.start_job(session.fs, session.env, params, timeout, job)
    session.output(_json(result))
    session.exit(0)


def _run_action(
    session: _Session, manifest: dict[str, Any], name: str, params: dict[str, Any], lines: Iterator[str]
) -> None:
    """The manifest's last action: the module, a file transfer or a shell helper."""
    if name == "module_wrapper.ps1":
        _module_wrapper_v2(session, manifest, params)
    elif name == "psrp_put_file.ps1":
        _put_file(session, str(params.get("Path", "")), lines, wrapper_errors=True)
    elif name == "psrp_fetch_file.ps1":
        _fetch_v2(session, str(params.get("Path", "")), int(params.get("BufferSize", 65536)))
    elif name == "winrm_put_file.ps1":  # ansible.builtin.winrm: the same contract over stdin
        _put_file(session, str(params.get("Path", "")), lines, wrapper_errors=True)
    elif name == "winrm_fetch_file.ps1":
        _fetch_winrm(session, str(params.get("Path", "")), params)
    elif name == "powershell_mkdtemp.ps1":
        _mkdtemp(session, str(params.get("Directory", "")), str(params.get("Name", "")))
    elif name == "powershell_expand_user.ps1":
        session.output(_expand_user(session, str(params.get("Path", ""))))
    else:
        session.wrapper_error(f"winhost does not emulate the exec wrapper action '{name}'")


def _become(session: _Session, params: dict[str, Any], secure: dict[str, Any]) -> bool:
    """become_wrapper.ps1 (runas): the next actions run as ``BecomeUser``. Ansible.Become
    translates the name to a SID (NTAccount.Translate) and, given a password, logs the account on
    (LogonUser); a failure reaches Ansible as the exec wrapper's error for the
    CreateProcessAsUser call."""
    call = 'Exception calling "CreateProcessAsUser" with "9" argument(s): '
    user = str(params.get("BecomeUser") or "")
    account = resolve_account(session.machine, user)
    if account is None:
        session.wrapper_error(call + '"Some or all identity references could not be translated."')
        return False
    password = secure.get("BecomePassword")
    local = session.machine.accounts.get(account["account_name"])
    if (
        account["type"] == "User"
        and password is not None
        and local is not None
        and password != local.password
    ):
        session.wrapper_error(
            call + f'"Failed to logon {account["domain_name"]}\\{account["account_name"]} (The user name or '
            'password is incorrect, Win32ErrorCode 1326 - 0x0000052E)"'
        )
        return False
    if account["type"] == "User":
        session.user = account["account_name"]
    else:
        session.user = f"{account['domain_name']}\\{account['account_name']}"
    return True


def _module_args(params: dict[str, Any]) -> dict[str, Any]:
    """``complex_args`` as module_wrapper.ps1 sets it: from ``Variables`` (2.19-2.21, a list of
    Set-Variable splats) or, on 2.22+, by parsing ``ArgumentJSON`` with ConvertFrom-Json."""
    if params.get("ArgumentJSON"):
        value = json.loads(str(params["ArgumentJSON"]))
        return dict(value) if isinstance(value, dict) else {}
    module_args: dict[str, Any] = {}
    for variable in params.get("Variables") or []:
        if str(variable.get("Name", "")).lower() == "complex_args":
            module_args = dict(variable.get("Value") or {})
    return module_args


def _module_wrapper_v2(session: _Session, manifest: dict[str, Any], params: dict[str, Any]) -> None:
    script_name = str(params.get("Script", ""))
    try:
        module_args = _module_args(params)
    except ValueError as exc:
        session.wrapper_error(f"Conversion from JSON failed with error: {exc}")
        return
    environment = {str(k): str(v) for k, v in (params.get("Environment") or {}).items()}
    if params.get("CSharpModules"):
        add_csharp_type(session)  # module_wrapper.ps1: Import-CSharpUtil -Name $CSharpModules
    if not params.get("ForModule"):
        # The ``script`` action (substyle script): the script runs in a new PowerShell instance.
        try:
            text = _script_text(manifest, script_name)
        except KeyError:
            session.wrapper_error(f"Could not find the script '{script_name}'.")
            return
        _run_script_action(session, text, environment)
        return
    display, spec = find_by_name(script_name)
    if spec is None:
        try:
            spec = find_by_source(_script_text(manifest, script_name))
        except KeyError:
            spec = None
        if spec is not None and find_by_name(script_name)[0].split(".")[:2] != spec.collection.split("."):
            spec = None
    run_module(session, spec, display, module_args, environment)


# ------------------------------------------------------------------------------------------------
# 2.16-2.18 bootstrap: exec_wrapper + NULs + manifest JSON in one input string


def _bootstrap_v1(session: _Session, lines: Iterator[str]) -> None:
    payload = "\r\n".join(lines)
    parts = [p for p in payload.split(NUL_LINE, 1) if p]
    if len(parts) != 2:
        session.host.write_error(_error_record("invalid payload", "invalid payload"))
        session.exit(1)
        return
    try:
        manifest = json.loads(parts[1])
    except ValueError as exc:
        session.output(_json({"failed": True, "msg": f"internal error: failed to parse the manifest: {exc}"}))
        session.exit(1)
        return
    actions = [str(a) for a in manifest.get("actions", [])]
    if any(a in ("async_wrapper", "async_watchdog") for a in actions):
        session.output(_json({"failed": True, "msg": "winhost does not emulate async tasks (async_wrapper)"}))
        session.exit(1)
        return
    if "become_wrapper" in actions:
        add_csharp_type(session)  # become_wrapper.ps1: Add-CSharpType AccessToken, Become, Process
        # 2.16-2.18: become_user/become_password in the manifest
        become = {"BecomeUser": manifest.get("become_user")}
        if not _become(session, become, {"BecomePassword": manifest.get("become_password")}):
            return
    if manifest.get("csharp_utils_module"):
        add_csharp_type(session)  # module_powershell_wrapper.ps1: Add-CSharpType -References
    source = base64.b64decode(manifest.get("module_entry", "")).decode("utf-8", errors="replace")
    module_args = dict(manifest.get("module_args") or {})
    environment = {str(k): str(v) for k, v in (manifest.get("environment") or {}).items()}
    if "module_script_wrapper" in actions:
        _run_script_action(session, source, environment)
        return
    spec = find_by_source(source)
    display = (
        f"{spec.collection}.{spec.name}" if spec else str(module_args.get("_ansible_module_name", "unknown"))
    )
    run_module(session, spec, display, module_args, environment)


# ------------------------------------------------------------------------------------------------
# Modules


def run_module(
    session: _Session,
    spec: ModuleSpec | None,
    display: str,
    module_args: dict[str, Any],
    environment: dict[str, str],
) -> None:
    """Answer one module invocation with the JSON the real module prints, and its exit code."""
    module_name = str(module_args.get("_ansible_module_name") or display)
    if spec is None:
        session.output(
            _json(
                {
                    "failed": True,
                    "changed": False,
                    "msg": f"winhost does not emulate module {module_name}",
                }
            )
        )
        session.exit(1)
        return
    env = {**session.env, **environment}
    fs = WinFS(session.fs.root, env, session.fs.cwd)
    check_mode = bool(module_args.get("_ansible_check_mode", False))
    ctx = ModuleContext(
        runspace=session.runspace,
        machine=session.machine,
        user=session.user,
        params={},
        fs=fs,
        env=env,
        check_mode=check_mode,
        diff_mode=bool(module_args.get("_ansible_diff", False)),
        module_name=module_name,
    )
    basic = spec.style == "basic"
    result: dict[str, Any] = {"changed": False} if basic else {}
    rc = 0
    try:
        if check_mode and not spec.supports_check_mode:
            msg = (
                f"remote module ({module_name}) does not support check mode"
                if basic
                else "remote module does not support check mode"
            )
            result = {"changed": False, "skipped": True, "msg": msg}
        else:
            ctx.params = validate(spec, module_args, module_name, fs)
            result.update(spec.run(ctx))
    except ModuleFail as fail:
        result.update(fail.extra)
        result.update(failed=True, msg=fail.msg)
        rc = 1
    except ModuleCrash as crash:
        # module_wrapper.ps1 Write-AnsibleErrorDetail -ForModule
        session.output(
            _json(
                {
                    "failed": True,
                    "msg": f"Unhandled exception while executing module: {crash}",
                    "exception": f"{crash}\r\nAt {spec.name}.ps1 (winhost emulation)",
                }
            )
        )
        session.exit(1)
        return
    except (OSError, WinPathError) as exc:
        message = getattr(exc, "strerror", None) or str(exc)
        session.output(
            _json(
                {
                    "failed": True,
                    "msg": f"Unhandled exception while executing module: {message}",
                    "exception": str(exc),
                }
            )
        )
        session.exit(1)
        return
    result.setdefault("changed", False)
    if basic and ctx.params and "invocation" not in result:
        result["invocation"] = invocation(spec, ctx.params)
    if ctx.warnings:
        result["warnings"] = list(ctx.warnings)
    session.output(_json(result))
    session.exit(rc)


def _run_script_text(session: _Session, text: str, args: list[str], environment: dict[str, str]) -> None:
    """A script run by Ansible (``script`` action): its output and errors come back as text."""
    stdout, stderr, rc = run_script(session.runspace, text, args=args)
    if stdout:
        session.output(stdout.rstrip("\r\n"))
    if stderr:
        session.host.write_host(stderr.rstrip("\r\n"), is_error=True)
    session.exit(rc)


_WRAP_FOR_EXEC = re.compile(r"\s*&\s*(?P<cmd>.*?)\s*;\s*exit\s+\$LASTEXITCODE\s*", re.IGNORECASE | re.DOTALL)


def _run_script_action(session: _Session, text: str, environment: dict[str, str]) -> None:
    """The ``script`` action: its payload is the shell plugin's ``wrap_for_exec`` of the command.

    ``& <uploaded path> <args>; exit $LASTEXITCODE`` runs the uploaded ``.ps1`` with its
    arguments; other script text is evaluated as it is.
    """
    match = _WRAP_FOR_EXEC.fullmatch(text)
    if match is None:
        _run_script_text(session, text, [], environment)
        return
    tokens = [t.strip("'") for t in split_command_line(match.group("cmd"))]
    if tokens and tokens[0].lower().endswith(".ps1"):
        _run_script_file(session, tokens[0], tokens[1:])
        return
    session.host.write_host(
        f"winhost does not emulate running '{tokens[0] if tokens else ''}'", is_error=True
    )
    session.exit(1)


def _run_script_file(session: _Session, path: str, args: list[str]) -> None:
    try:
        real = session.fs.real(path)
        text = real.read_text(encoding="utf-8-sig")
    except (OSError, WinPathError):
        session.host.write_error(
            _error_record(
                f"The term '{path}' is not recognized as the name of a cmdlet, function, script file, or operable "
                "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
                "and try again.",
                "CommandNotFoundException",
                category="ObjectNotFound",
            )
        )
        session.exit(1)
        return
    _run_script_text(session, text, args, {})


# ------------------------------------------------------------------------------------------------
# File transfer


def _put_file(session: _Session, path: str, lines: Iterator[str], wrapper_errors: bool) -> None:
    """Write base64 chunks to ``path``; print ``{"sha1":"<hex>"}`` like psrp_put_file.ps1."""
    try:
        real = session.fs.real(path)
        handle = open(real, "wb")  # noqa: SIM115 - closed below, mirrors [File]::Create + Close
    except (OSError, WinPathError) as exc:
        _consume(lines)
        message = _io_message(exc, session.fs.full_name(path) if _valid(session, path) else path)
        if wrapper_errors:
            session.wrapper_error(f'Exception calling "Create" with "1" argument(s): "{message}"')
        else:
            session.host.write_error(
                _error_record(
                    f'Exception calling "Create" with "1" argument(s): "{message}"',
                    "DirectoryNotFoundException",
                )
            )
            session.exit(1)
        return
    digest = hashlib.sha1()
    with handle:
        for chunk in lines:
            if not chunk:
                continue
            try:
                data = base64.b64decode(chunk, validate=True)
            except (binascii.Error, ValueError):
                session.host.write_error(
                    _error_record(
                        'Exception calling "FromBase64String" with "1" argument(s): "The input is not a valid Base-64 '
                        "string as it contains a non-base 64 character, more than two padding characters, or an "
                        'illegal character among the padding characters."',
                        "FormatException",
                    )
                )
                continue
            digest.update(data)
            handle.write(data)
    session.output(f'{{"sha1":"{digest.hexdigest()}"}}')


def _pypsrp_copy(session: _Session, path: str, expand: bool, lines: Iterator[str]) -> None:
    """pypsrp's copy script: every input line but the last is base64 data; the last is the
    base64 of the expected SHA1 hex digest. A mismatch throws (the pipeline fails) and leaves the
    destination alone; otherwise the file is written and its full name is output. (The script's
    attempt to lift MaximumAllowedMemory by reflection succeeds quietly, as on the host of
    pypsrp's test_client_copy_file recording.)"""
    chunks = [base64.b64decode(c) for c in lines if c]
    expected = chunks.pop().decode("utf-8", errors="replace") if chunks else ""
    digest = hashlib.sha1()
    for chunk in chunks:
        digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected:
        message = f"Transport failure, hash mismatch\r\nActual: {actual}\r\nExpected: {expected}"
        raise PSRuntimeError(
            make_error_record(message, message, ErrorCategory.OperationStopped, target=message)
        )
    if expand:
        path = _expand_env(session, path)
    session.fs.real(path).write_bytes(b"".join(chunks))
    session.output(session.fs.full_name(path))


def _pypsrp_fetch(session: _Session, path: str, expand: bool) -> None:
    """pypsrp's fetch script: throws for a directory or a missing path; otherwise outputs the file
    as one base64 string (it reads Length bytes at once) and then the lower-case SHA1 hex."""
    if expand:
        path = _expand_env(session, path)
    full = session.fs.full_name(path)
    real = session.fs.real(path)
    if real.is_dir():
        message = f"The path at '{full}' is a directory, src must be a file"
    elif not real.exists():
        message = f"The path at '{full}' does not exist"
    else:
        data = real.read_bytes()
        if data:
            session.output(base64.b64encode(data).decode())
        session.output(hashlib.sha1(data).hexdigest())
        return
    raise PSRuntimeError(make_error_record(message, message, ErrorCategory.OperationStopped, target=message))


def _expand_env(session: _Session, text: str) -> str:
    """[Environment]::ExpandEnvironmentVariables: %NAME% replaced, unknown names kept."""
    return re.sub(r"%([^%]+)%", lambda m: session.env.get(m.group(1), m.group(0)), text)


def _consume(lines: Iterator[str]) -> None:
    for _ in lines:
        pass


def _valid(session: _Session, path: str) -> bool:
    try:
        session.fs.split(path)
    except WinPathError:
        return False
    return True


def _io_message(exc: BaseException, path: str) -> str:
    if isinstance(exc, WinPathError):
        return str(exc)
    if isinstance(exc, IsADirectoryError):
        return f"Access to the path '{path}' is denied."
    if isinstance(exc, FileNotFoundError):
        return f"Could not find a part of the path '{path}'."
    if isinstance(exc, PermissionError):
        return f"Access to the path '{path}' is denied."
    return str(exc)


def _fetch_v2(session: _Session, path: str, buffer_size: int) -> None:
    try:
        real = session.fs.real(path)
    except WinPathError:
        real = Path("/nonexistent/winhost")
    if real.is_file():
        session.output("[FILE]")
        with open(real, "rb") as handle:
            for chunk in iter(lambda: handle.read(max(buffer_size, 1)), b""):
                if session.host.stop_requested.is_set():
                    break
                session.output(base64.b64encode(chunk).decode())
    elif real.is_dir():
        session.output("[DIR]")
    else:
        session.host.write_error(
            _error_record(
                f"{path} does not exist",
                "Microsoft.PowerShell.Commands.WriteErrorException",
                category="NotSpecified",
            )
        )


def _fetch_winrm(session: _Session, path: str, params: dict[str, Any]) -> None:
    """winrm_fetch_file.ps1 (ansible.builtin.winrm): one ``BufferSize`` read at ``Offset`` as
    base64, ``[DIR]``, or "<path> does not exist" on the host's error line and exit 1."""
    try:
        real = session.fs.real(path)
    except WinPathError:
        real = Path("/nonexistent/winhost")
    if real.is_file():
        with open(real, "rb") as handle:
            handle.seek(int(params.get("Offset", 0)))
            data = handle.read(max(int(params.get("BufferSize", 524288)), 1))
        if data:
            session.output(base64.b64encode(data).decode())
    elif real.is_dir():
        session.output("[DIR]")
    else:
        session.host.write_host(f"{path} does not exist", is_error=True)
        session.exit(1)


@dataclasses.dataclass
class _FetchState:
    real: Path


_fetch_states: dict[int, _FetchState] = {}
_fetch_lock = threading.Lock()


def _fetch_v1_setup(session: _Session, path: str) -> None:
    """2.16-2.18: the setup script keeps ``$fs`` in the global scope (use_local_scope=False)."""
    try:
        real = session.fs.real(path)
    except WinPathError:
        real = Path("/nonexistent/winhost")
    if real.is_file():
        with _fetch_lock:
            _fetch_states[id(session.runspace)] = _FetchState(real)
    elif real.is_dir():
        session.output("[DIR]")
    else:
        session.host.write_error(
            _error_record(f"{path} does not exist", "Microsoft.PowerShell.Commands.WriteErrorException")
        )
        session.exit(1)


def _fetch_v1_read(session: _Session, offset: int, buffer_size: int) -> None:
    state = _fetch_states.get(id(session.runspace))
    if state is None:
        session.host.write_error(
            _error_record("You cannot call a method on a null-valued expression.", "InvokeMethodOnNull")
        )
        session.exit(1)
        return
    with open(state.real, "rb") as handle:
        handle.seek(offset)
        data = handle.read(buffer_size)
    if data:
        session.output(base64.b64encode(data).decode())


# ------------------------------------------------------------------------------------------------
# Shell plugin helpers


def _mkdtemp(session: _Session, directory: str, name: str) -> None:
    from winhost.engine.ansible_modules._winpath import expand_environment_variables

    parent = expand_environment_variables(directory, session.env)
    target = parent.rstrip("\\/") + "\\" + name
    try:
        real = session.fs.real(target)
        if real.exists():
            session.host.write_error(
                _error_record(
                    f"An item with the specified name {session.fs.full_name(target)} already exists.",
                    "DirectoryExist,Microsoft.PowerShell.Commands.NewItemCommand",
                    category="ResourceExists",
                )
            )
            session.exit(1)
            return
        real.mkdir(parents=True)
    except (OSError, WinPathError) as exc:
        session.host.write_error(
            _error_record(str(exc), "NewItemIOError,Microsoft.PowerShell.Commands.NewItemCommand")
        )
        session.exit(1)
        return
    session.output(session.fs.full_name(target))


def _expand_user(session: _Session, path: str) -> str:
    profile = session.env["USERPROFILE"]
    if path == "~":
        return profile
    if path.startswith("~\\"):
        return profile + "\\" + path[2:]
    return path


def _shell_helper(session: _Session, script: str) -> bool:
    """2.16-2.18 shell plugin scripts outside the engine's subset (see the module docstring)."""
    body = _STRICT_PREFIX.sub("", script, count=1)
    body = _RC_SUFFIX.sub("", body)
    body = _CONSOLE_ENCODING.sub("", body).strip()
    match = _MKDTEMP_V1.search(body)
    if match:
        _mkdtemp(session, _unq(match.group(1)), _unq(match.group(2)))
        return True
    match = _EXPAND_USER_V1.fullmatch(body)
    if match and body.lower().startswith("write-output"):
        if match.group(1) is not None:
            session.output(session.fs.cwd + _unq(match.group(1)))
        elif match.group(2) is not None:
            session.output(_unq(match.group(2)))
        else:
            session.output(session.fs.cwd)
        return True
    match = _REMOVE.match(body)
    if match and body != script.strip():
        path = _unq(match.group(1))
        try:
            real = session.fs.real(path)
        except WinPathError:
            return False
        if real.is_dir() and match.group(2):
            import shutil

            shutil.rmtree(real, ignore_errors=True)
        elif real.is_file():
            real.unlink()
        return True
    return False


# ------------------------------------------------------------------------------------------------


def _error_record(message: str, error_id: str, category: str = "NotSpecified") -> Any:
    from psrpcore.types import ErrorCategory

    from winhost.engine.errors import make_error_record

    return make_error_record(message, error_id, getattr(ErrorCategory, category, ErrorCategory.NotSpecified))
