"""The connection plugin on the Windows hosts: raw, a PowerShell module, the script module, and
put/fetch checked by SHA-256 (pytest-ansible's ansible_adhoc fixture). Changes nothing but a
directory under C:\\Windows\\Temp that is removed afterwards."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.windows, pytest.mark.integration]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _results(result: Any) -> dict[str, dict[str, Any]]:
    return {host: dict(r) for host, r in result.items()}


def _assert_ok(results: dict[str, dict[str, Any]]) -> None:
    failed = {host: r.get("msg") or r.get("stderr") for host, r in results.items() if r.get("failed")}
    assert failed == {}


@pytest.mark.runs_ps1("connection.raw_command")
def test_raw_output_and_rc(windows: Any, windows_target: Any) -> None:
    ok = _results(
        windows.raw("$PSVersionTable.PSVersion.Major; Write-Output ($env:COMPUTERNAME.Length -gt 0)")
    )
    assert set(ok) == set(windows_target.hosts)
    for result in ok.values():
        assert result["rc"] == 0
        major, nonempty = result["stdout_lines"][:2]
        assert int(major) >= 5 and nonempty == "True"
    failing = _results(windows.raw("Write-Error 'planted'; exit 3"))
    for result in failing.values():
        assert result["rc"] == 3 and "planted" in result["stderr"]


def test_powershell_module(windows: Any) -> None:
    results = _results(windows.win_ping(data="suite"))
    _assert_ok(results)
    assert {r["ping"] for r in results.values()} == {"suite"}


@pytest.mark.runs_ps1("connection.run_file")
def test_script_module_with_arguments(windows: Any, tmp_path: Path) -> None:
    script = tmp_path / "args.ps1"
    script.write_text("param([string]$Name, [int]$Count)\n'{0}x{1}' -f $Name, ($Count * 2)\n")
    results = _results(windows.script(f"{script} -Name suite -Count 21"))
    _assert_ok(results)
    assert {r["stdout"].strip() for r in results.values()} == {"suitex42"}


@pytest.mark.runs_ps1("transfer.put_file", "transfer.fetch_file")
@pytest.mark.parametrize("size", [0, 1, 300_000, 2_500_000])
def test_put_and_fetch_keep_every_byte(windows: Any, remote_tmp: str, tmp_path: Path, size: int) -> None:
    payload = os.urandom(size // 2) + b"compressible " * ((size - size // 2) // 13 + 1)
    payload = payload[:size]
    digest = hashlib.sha256(payload).hexdigest()
    local = tmp_path / "payload.bin"
    local.write_bytes(payload)
    remote = f"{remote_tmp}\\payload-{size}.bin"
    put = _results(windows.win_copy(src=str(local), dest=remote))
    _assert_ok(put)
    stat = _results(windows.win_stat(path=remote, get_checksum=True, checksum_algorithm="sha256"))
    assert {r["stat"]["checksum"] for r in stat.values()} == {digest}
    fetched = tmp_path / "fetched"
    back = _results(windows.fetch(src=remote, dest=f"{fetched}/"))
    _assert_ok(back)
    for host in back:
        copy = fetched / host / remote.replace("\\", "/").replace(":", "")
        if not copy.exists():  # ansible.builtin.fetch keeps the Windows path as it is
            (copy,) = (p for p in (fetched / host).rglob(f"payload-{size}.bin"))
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest
        assert copy.stat().st_mode & 0o777 == 0o666 & ~_umask(), "the builtin's mode: 0o666 minus the umask"
