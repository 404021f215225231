"""pssession_info and pssession go through the task's connection (issue 16): the listing and the
removal are the connection's own shell operations, sent by its backend (the session broker, or
the worker's session with ``session_persist: false``) over the session's WSMan connection. The
actions create no WSMan client of their own, and listing creates no shell.

What Windows does is Get-PSSession -ComputerName (a WS-Management Enumerate of the shell resource,
MS-WSMV 3.1.4.8) and Remove-PSSession (a WS-Management Delete with the ShellId selector, MS-WSMV
3.1.4.11); winhost counts each request, each TCP connection and each shell it creates.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import run_tasks
from winhost_session import winhost_session

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01", mode="thread")]

# no idle-orphan sweep (one Enumerate of its own when the broker opens a session): every
# Enumerate counted below is one of the tasks'
VARS = "  vars: {ansible_psrp_orphan_idle: 0%s}\n"


def _task(module: str, register: str, extra_vars: str = "", args: str = "{}") -> str:
    return f"- {module}: {args}\n  register: {register}\n" + VARS % extra_vars


def _play(tasks: str) -> str:
    """The task list indented under the play's ``tasks:``."""
    return "".join(f"    {line}\n" for line in tasks.splitlines())


def _wait_for(condition: Any, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def _results(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [task["hosts"]["dc01"] for task in data["plays"][0]["tasks"]]


def _leftovers(winhost: Any, count: int) -> tuple[list[Any], list[str]]:
    """``count`` shells of the same user opened by clients of their own (left-over sessions)."""
    sessions = [winhost_session(winhost, "dc01") for _ in range(count)]
    for session in sessions:
        session.open()
    handler = winhost.hostset.host("dc01").handler
    shells = handler.shells.all()
    for shell in shells:
        # created an hour before the run: never taken for one of the run's own sessions by the
        # fallback protection (a connected shell of the user created since the run started)
        shell.created -= 3600
    return sessions, [s.shell_id.upper() for s in shells]


def test_broker_lists_and_removes_over_its_own_connection(winhost: Any, tmp_path: Path) -> None:
    sessions, leftover = _leftovers(winhost, 2)
    try:
        winhost.reset_stats("dc01")
        tasks = (
            "- raw: Write-Output warm\n"
            + VARS % ""
            + _task("psremoting.core.pssession_info", "before")
            + _task("psremoting.core.pssession", "removed", args="{state: absent}")
            + _task("psremoting.core.pssession_info", "after")
        )
        rc, data, out = run_tasks(winhost, tmp_path, "dc01", _play(tasks))
        assert rc == 0, out[-3000:]
        _warm, before, removed, after = _results(data)
        own = [row for row in before["sessions"] if row["Protected"]]
        assert len(own) == 1 and own[0]["ShellId"] not in leftover
        assert before["protection"]["method"] == "shell_id"  # the broker named its own shell
        assert sorted(r["ShellId"] for r in before["sessions"] if not r["Protected"]) == sorted(leftover)
        assert sorted(r["ShellId"] for r in removed["removed"]) == sorted(leftover)
        assert [r["ShellId"] for r in removed["protected"]] == [own[0]["ShellId"]]
        assert removed["changed"] is True
        assert [r["ShellId"] for r in after["sessions"]] == [own[0]["ShellId"]]
        # the run's own shell is deleted by the broker once the run has ended
        assert _wait_for(lambda: winhost.stats("dc01")["shells_open"] == 0, 60)
        stats = winhost.stats("dc01")
        requests = stats["wsman_requests"]
        # one shell in the whole run (the broker's session); every listing and removal went over
        # its one connection: no WSMan client of the actions' own
        assert stats["shells_created"] == 1, stats
        assert stats["connections"] == 1, stats
        assert requests.get("Enumerate", 0) == 3, requests
        # the two left-over shells; the run's own shell once the run ended
        assert requests.get("Delete", 0) == 3, requests
    finally:
        for session in sessions:
            session.close()


def test_listing_opens_no_shell_and_check_mode_removes_nothing(winhost: Any, tmp_path: Path) -> None:
    """pssession_info as the first task of a run: no shell is created for it (Get-PSSession creates
    none), so no broker session records one; pssession in check mode lists what it would remove."""
    sessions, leftover = _leftovers(winhost, 1)
    try:
        winhost.reset_stats("dc01")
        tasks = _task("psremoting.core.pssession_info", "info") + _task(
            "psremoting.core.pssession", "would", args="{state: absent}"
        ).replace("  register:", "  check_mode: true\n  register:")
        rc, data, out = run_tasks(winhost, tmp_path, "dc01", _play(tasks))
        assert rc == 0, out[-3000:]
        info, would = _results(data)
        assert [r["ShellId"] for r in info["sessions"]] == leftover, info
        assert [r["ShellId"] for r in would["removed"]] == leftover
        assert would["changed"] is True
        handler = winhost.hostset.host("dc01").handler
        assert [s.shell_id.upper() for s in handler.shells.all()] == leftover  # nothing removed
        stats = winhost.stats("dc01")
        assert stats["shells_created"] == 0, stats
        assert stats["wsman_requests"].get("Delete", 0) == 0, stats["wsman_requests"]
        assert stats["wsman_requests"].get("Enumerate", 0) == 2, stats["wsman_requests"]
    finally:
        for session in sessions:
            session.close()


def test_per_task_sessions_list_and_remove_without_a_shell(winhost: Any, tmp_path: Path) -> None:
    """``session_persist: false``: the worker's own session lists and removes (one connection per
    task, as ansible.builtin.psrp opens one per task), and creates no shell for either."""
    sessions, leftover = _leftovers(winhost, 2)
    try:
        winhost.reset_stats("dc01")
        local = ", ansible_psrp_session_persist: false"
        tasks = (
            _task("psremoting.core.pssession_info", "info", local)
            + _task("psremoting.core.pssession", "removed", local, args=f"{{state: absent, shell_id: ['{leftover[0]}']}}")
            + _task("psremoting.core.pssession_info", "after", local)
        )  # fmt: skip
        rc, data, out = run_tasks(winhost, tmp_path, "dc01", _play(tasks))
        assert rc == 0, out[-3000:]
        info, removed, after = _results(data)
        assert sorted(r["ShellId"] for r in info["sessions"]) == sorted(leftover)
        assert [r["ShellId"] for r in removed["removed"]] == [leftover[0]]
        assert [r["ShellId"] for r in after["sessions"]] == [leftover[1]]
        stats = winhost.stats("dc01")
        assert stats["shells_created"] == 0, stats
        assert stats["connections"] == 3, stats  # one per task: the task's session, nothing else
        assert stats["wsman_requests"].get("Enumerate", 0) == 3, stats["wsman_requests"]
        assert stats["wsman_requests"].get("Delete", 0) == 1, stats["wsman_requests"]
    finally:
        for session in sessions:
            session.close()
