"""Orphans found without the session directory: issue 15's "where it does not (AWX/AAP run each
job in a fresh execution-environment container) by WSMan Enumerate of the user's shells, which
carry a recognisable name given at creation".

A broker is killed with -9 while its command (``Start-Sleep``, then ``Add-Content``) runs, and its
session directory is removed, as a fresh AWX/AAP container starts without it. The next run's broker
lists the user's shells once when it opens its session (MS-WSMV 3.1.4.8 Enumerate; each rsp:Shell
reports its Name and ShellInactivity, MS-WSMV 2.2.4.37) and deletes the shells named
``psremoting.core broker ...`` that have been idle beyond ``ansible_psrp_orphan_idle`` and that no
broker of its own holds. Deleting the shell stops its command, so the statement after the
interruption point never runs. A shell of the same user without that name (a pypsrp client of
its own) is never touched, however long it is idle.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from test_reliability_interrupt import (
    _assert_stopped,
    _broker_pids,
    _start_run,
    _wait_for,
    _wait_until_sleeping,
)
from winhost_session import winhost_session

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01", mode="thread")]

SLEEP = 75  # the orphan's command: long enough to still run when the second run starts
TASKS = f"""
- raw: Write-Output warm
- raw: Start-Sleep -Seconds {SLEEP}; Add-Content -Path C:\\after.txt -Value x
"""
ORPHAN_IDLE = 120  # the second run's threshold (seconds); its floor is its shell idle timeout (90)
ADVANCE = 300  # seconds the host's clock is moved on for the left shells: idle beyond the threshold


def _advance(shell: Any, seconds: float) -> None:
    """The host saw no request on ``shell`` for ``seconds`` more (its ShellInactivity)."""
    shell.last_activity -= seconds


def _assert_listed(winhost: Any, tmp_path: Path, session_dir: str, orphan_id: str, recorded: int) -> None:
    """A playbook asserts what pssession_info reports about the orphan and the nameless shell."""
    tasks = f"""
- psremoting.core.pssession_info: {{}}
  register: info
- assert:
    that:
      - info.orphans == ['{orphan_id}']
      - (info.sessions | selectattr('ShellId', 'eq', '{orphan_id}') | first).BrokerState == 'gone'
      - (info.sessions | rejectattr('ShellId', 'eq', '{orphan_id}') | first).BrokerState is none
      - info.recorded_shells | length == {recorded}
      - info.recorded_shells | rejectattr('BrokerState', 'eq', 'gone') | list | length == 0
      - info.recorded_shells | selectattr('OnHost') | list | length == {recorded}
"""
    out = tmp_path / f"info-{recorded}.out"
    with out.open("wb") as fh:
        run = _start_run(winhost, tmp_path, session_dir, tasks=tasks, output=fh)
        code = run.wait(300)
    assert code == 0, out.read_text(errors="replace")[-3000:]


def test_a_killed_brokers_shell_is_removed_by_name_and_idle_time_without_the_session_directory(
    winhost: Any, tmp_path: Path
) -> None:
    handler = winhost.hostset.host("dc01").handler
    foreign = winhost_session(winhost, "dc01")  # pypsrp's own shell of the same user: no rsp:Name
    foreign.open()
    try:
        (foreign_shell,) = handler.shells.all()
        assert foreign_shell.name is None
        first_dir = tempfile.mkdtemp(prefix="psrpint-", dir="/tmp")  # short: the broker's socket lives there
        log = (tmp_path / "first.out").open("wb")
        # the first run's shells live long on the host (IdleTimeOut 3630 s), as with a long
        # session_idle_timeout: the host's own idle timer does not remove the orphan in this test
        first = _start_run(
            winhost,
            tmp_path,
            first_dir,
            tasks=TASKS,
            output=log,
            extra="ansible_psrp_session_idle_timeout=3600",
        )
        try:
            started = _wait_until_sleeping(winhost)
            (broker,) = _broker_pids(first_dir)
            os.kill(broker, signal.SIGKILL)
            first.wait(120)
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
                first.wait(30)
            log.close()
        (orphan,) = [s for s in handler.shells.all() if s is not foreign_shell]
        assert (orphan.name or "").startswith("psremoting.core broker ")
        # before any cleanup, pssession_info shows it: from the record, then from its name alone
        _assert_listed(winhost, tmp_path, first_dir, orphan.shell_id, recorded=1)
        shutil.rmtree(first_dir)  # the next job's container starts without it
        _assert_listed(
            winhost, tmp_path, tempfile.mkdtemp(prefix="psrpint-", dir="/tmp"), orphan.shell_id, recorded=0
        )
        # the dead broker's Receive long-poll ends at its operation timeout (20 s); from then on
        # the host counts the shell idle. Move the host's clock on rather than wait minutes.
        assert _wait_for(lambda: orphan.receivers == 0, 120)
        _advance(orphan, ADVANCE)
        _advance(foreign_shell, ADVANCE)
        assert winhost.stats("dc01")["operations_open"] == 1, "the orphan's command still runs"

        winhost.reset_stats("dc01")
        second_run = time.monotonic()
        second = _start_run(
            winhost,
            tmp_path,
            tempfile.mkdtemp(prefix="psrpint-", dir="/tmp"),
            tasks="- raw: Write-Output next-run\n",
            extra=f"ansible_psrp_orphan_idle={ORPHAN_IDLE}",
        )
        try:
            assert second.wait(300) == 0
        finally:
            if second.poll() is None:
                os.killpg(second.pid, signal.SIGKILL)
        assert _wait_for(lambda: [s.shell_id for s in handler.shells.all()] == [foreign_shell.shell_id], 120)
        requests = winhost.stats("dc01")["wsman_requests"]
        # one Enumerate for the host in this run; Deletes: the orphan, and the run's own shell once it ended
        assert requests.get("Enumerate", 0) == 1 and requests.get("Delete", 0) == 2, requests
        assert winhost.stats("dc01")["operations_open"] == 0
        cleanup = time.monotonic() - second_run
        print(
            f"orphan removed without its session directory; second run done {cleanup:.1f}s after it started"
        )
    finally:
        foreign.close()
    # no shell, no operation, and the statement after the interruption point never ran
    _assert_stopped(winhost, started, second_run, bound=10, sleep=SLEEP)


def test_orphan_idle_0_disables_the_check(winhost: Any, tmp_path: Path) -> None:
    """``ansible_psrp_orphan_idle=0``: no Enumerate, even on the first task of a host."""
    winhost.reset_stats("dc01")
    run = _start_run(
        winhost,
        tmp_path,
        str(tmp_path / "dir"),
        tasks="- raw: Write-Output x\n",
        extra="ansible_psrp_orphan_idle=0",
    )
    assert run.wait(300) == 0
    assert winhost.stats("dc01")["wsman_requests"].get("Enumerate", 0) == 0
