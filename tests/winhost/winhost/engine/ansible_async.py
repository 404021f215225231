"""Ansible's async tasks on Windows (ansible-core 2.19+): async_wrapper.ps1 and async_watchdog.ps1.

async_wrapper.ps1 starts a detached powershell.exe for the rest of the exec manifest, writes the
job's results file ``<AsyncDir>\\<jid>.<pid>`` ({started, finished false, results_file,
ansible_job_id, _ansible_suppress_tmpdir_delete}, UTF-8 without BOM, [File]::WriteAllText) and
returns that JSON at once. async_watchdog.ps1 in the new process runs the module, waits up to
``Timeout`` seconds, and rewrites the file (Set-Content -Encoding UTF8: Windows PowerShell writes a
BOM) with the module's JSON merged over it and ``finished`` true, or ``failed`` with "failure
during async watchdog: timed out waiting for module completion".

winhost has no processes: the job runs in a thread, in a new engine runspace of the same machine
and user (a new process has a fresh session state).
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from winhost.engine.ansible_modules._winpath import WinFS
from winhost.engine.hosts import RecordingHost


def _expand(text: str, env: Mapping[str, str]) -> str:
    """[Environment]::ExpandEnvironmentVariables: %NAME% of a defined variable, else as written."""
    lower = {k.lower(): v for k, v in env.items()}
    return re.sub(r"%([^%]+)%", lambda m: lower.get(m.group(1).lower(), m.group(0)), text)


def _write(fs: WinFS, path: str, result: dict[str, Any], bom: bool) -> None:
    real = fs.real(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
    real.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (text + ("\r\n" if bom else "")).encode("utf-8"))


def _module_result(output: list[Any]) -> dict[str, Any]:
    """The module's JSON in its output (Out-String), from the first ``{`` to the last ``}``."""
    text = "\r\n".join(str(item) for item in output)
    start, end = text.find("{"), text.rfind("}")
    if start == -1:
        raise ValueError("No start of json char found in module result")
    if end == -1:
        raise ValueError("No end of json char found in module result")
    result: dict[str, Any] = json.loads(text[start : end + 1])
    junk = text[end + 1 :].strip()
    if junk:
        result.setdefault("warnings", []).append(f"Module invocation had junk after the JSON data: {junk}")
    return result


def start_job(
    fs: WinFS,
    env: Mapping[str, str],
    params: Mapping[str, Any],
    timeout: int,
    run: Callable[[RecordingHost], None],
) -> dict[str, Any]:
    """Start the job ``run`` (the rest of the manifest, given a host to write to); return the
    wrapper's JSON result."""
    async_dir = _expand(str(params.get("AsyncDir", "")), env)
    local_jid = f"{params.get('AsyncJid', '')}.{random.randint(1000, 65000)}"
    path = f"{async_dir.rstrip(chr(92))}\\{local_jid}"
    result: dict[str, Any] = {
        "started": True,
        "finished": False,
        "results_file": path,
        "ansible_job_id": local_jid,
        "_ansible_suppress_tmpdir_delete": True,
        "ansible_async_watchdog_pid": random.randint(1000, 65000),
    }
    _write(fs, path, result, bom=False)
    threading.Thread(
        target=_watchdog,
        args=(fs, path, dict(result), timeout, run),
        name=f"winhost-async-{local_jid}",
        daemon=True,
    ).start()
    return result


def _watchdog(
    fs: WinFS, path: str, result: dict[str, Any], timeout: int, run: Callable[[RecordingHost], None]
) -> None:
    host = RecordingHost()
    worker = threading.Thread(target=run, args=(host,), daemon=True)
    worker.start()
    worker.join(timeout)
    result["finished"] = True
    try:
        if worker.is_alive():
            host.stop_requested.set()
            raise TimeoutError("timed out waiting for module completion")
        result.update(_module_result(host.output))
    except (TimeoutError, ValueError) as exc:
        result.update(
            failed=True,
            msg=f"failure during async watchdog: {exc}",
            exception=str(exc),
            stdout="\r\n".join(str(item) for item in host.output),
            stderr="",
        )
    _write(fs, path, result, bom=True)
