"""History of the console: file mode, multi-line entries, what is never stored."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.console._history import History, Keep, classify


@pytest.mark.parametrize(
    ("entry", "keep"),
    [
        ("Get-Service W32time", Keep.FILE),
        ("$cred = ConvertTo-SecureString 'P@ss' -AsPlainText -Force", Keep.MEMORY),
        ("New-LocalUser -Name x -Password $p", Keep.MEMORY),
        ("$env:API_TOKEN = 'abc'", Keep.MEMORY),
        ("Get-Secret foo", Keep.MEMORY),
        (" Get-Date", Keep.NOWHERE),
        ("   ", Keep.NOWHERE),
    ],
)
def test_classify(entry: str, keep: Keep) -> None:
    assert classify(entry) is keep


def test_file_is_private_and_round_trips_multiline(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "hist"
    history = History(str(path))
    assert history.load() == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    history.add("function f {\n  'a'\n}")
    history.add("Get-Date")
    history.add("$p = Read-Host -AsSecureString; $password = 'x'")
    history.add(" hidden")
    assert History(str(path)).load() == ["function f {\n  'a'\n}", "Get-Date"]
    assert "password" not in path.read_text()


def test_wide_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "hist"
    path.write_text(json.dumps("Get-Date") + "\n")
    os.chmod(path, 0o644)
    assert History(str(path)).load() == ["Get-Date"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_damaged_and_sensitive_lines_on_disk_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "hist"
    path.write_text('not json\n"Get-Date"\n"$token = 1"\n42\n')
    os.chmod(path, 0o600)
    assert History(str(path)).load() == ["Get-Date"]


def test_trimmed_to_limit(tmp_path: Path) -> None:
    path = tmp_path / "hist"
    history = History(str(path), limit=3)
    for i in range(10):
        history.add(f"Write-Output {i}")
    assert history.load() == ["Write-Output 7", "Write-Output 8", "Write-Output 9"]
    assert len(path.read_text().splitlines()) == 3  # rewritten once it grew past twice the limit
