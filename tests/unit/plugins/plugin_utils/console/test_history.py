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


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the file to another user (chown)")
def test_another_users_file_is_never_read_or_written(tmp_path: Path) -> None:
    """A history file another user planted where the path points (a shared directory): what this
    user types must not land in a file that user can read."""
    path = tmp_path / "hist"
    path.write_text(json.dumps("planted") + "\n")
    os.chmod(path, 0o666)
    os.chown(path, 65534, 65534)
    history = History(str(path))
    assert history.load() == []
    assert "belongs to uid 65534" in history.problem and "--no-history" in history.problem
    assert history.add("Get-Date") is Keep.FILE  # kept in memory; the file is left alone
    assert path.read_text() == json.dumps("planted") + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666


def test_a_hard_link_to_another_file_is_never_written(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    path = tmp_path / "hist"
    os.link(victim, path)
    history = History(str(path))
    assert history.load() == [] and "not a regular file with one link" in history.problem
    history.add("Get-Date")
    assert victim.read_text() == "keep\n"


def test_an_unusable_path_is_a_warning_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for path in (blocker / "hist", Path("/proc/no-such-dir/hist")):
        history = History(str(path))
        assert history.load() == []
        assert history.problem.startswith(f"history file {path} cannot be used (")
        history.add("Get-Date")  # no exception either
