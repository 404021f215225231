"""Session clean-up on the Windows hosts: the sessions a run opens (one per host, shared by its
tasks) are gone from the host once the run ends, as Remove-PSSession would leave it. Read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.windows, pytest.mark.integration]

LIST = {"name": "List sessions", "psremoting.core.pssession_info": {}}


def test_sessions_of_a_run_are_removed_when_it_ends(windows_target: Any, tmp_path: Path) -> None:
    tasks = [
        {"name": "Raw", "ansible.builtin.raw": "$PID"},
        {"name": "Module", "ansible.windows.win_ping": {}},
        {"name": "Script", "psremoting.core.invoke_command": {"script": "Get-Service -Name WinRM"}},
        LIST,
    ]
    first = windows_target.playbook(tmp_path, [{"gather_facts": False, "tasks": tasks}])
    assert first.ok, first.output()
    own: dict[str, set[str]] = {}
    for host, result in first.task("List sessions").items():
        own[host] = {s["ShellId"] for s in result["sessions"] if s["Protected"]}
        assert own[host], f"{host}: the run's own session is listed while it runs"
    later = windows_target.playbook(tmp_path, [{"gather_facts": False, "tasks": [LIST]}])
    assert later.ok, later.output()
    for host, result in later.task("List sessions").items():
        left = own[host] & {s["ShellId"] for s in result["sessions"]}
        assert left == set(), f"{host}: sessions of the finished run still open"
