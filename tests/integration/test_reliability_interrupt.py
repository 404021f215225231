"""An interrupted run stops its remote work: issue 15's "nothing left running after an interrupt".

ansible-playbook runs a ``raw`` task ``Start-Sleep -Seconds 12; Add-Content C:\\after.txt x`` on a
winhost over HTTP with NTLM and message encryption, the default operation timeout (20 s: a Receive
is in flight the whole time) and the default idle timeout. A few seconds in, the run is interrupted
(Ctrl-C to its process group, SIGTERM as an AWX/AAP job cancel sends, or SIGKILL). Within 10 s the
host must have no open shell and no open operation, and the statement after the interruption
point must never run: ``C:\\after.txt`` does not exist after the 12 s the sleep would have taken.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from winhost_session import winhost_session

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01", mode="thread")]

OURS = "psremoting.core.psrp"
SLEEP = 12
BOUND = 10.0  # seconds from the interrupt (or from the broker noticing) to no shell, no operation
TASKS = f"""
- raw: Write-Output warm
- raw: Start-Sleep -Seconds {SLEEP}; Add-Content -Path C:\\after.txt -Value x
"""


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _open(winhost: Any) -> tuple[int, int]:
    stats = winhost.stats("dc01")
    return int(stats["shells_open"]), int(stats["operations_open"])


def _start_run(winhost: Any, tmp_path: Path, session_dir: str) -> subprocess.Popen[bytes]:
    pb = tmp_path / "pb.yml"
    pb.write_text(
        "- hosts: dc01\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(TASKS), "    "),
        encoding="utf-8",
    )
    hostvars = winhost.hostvars("dc01")
    env = dict(winhost.env)
    env.update({"ANSIBLE_PSRP_SESSION_DIR": session_dir, "ANSIBLE_NOCOLOR": "1"})
    return subprocess.Popen(
        [
            "ansible-playbook",
            "-i",
            str(winhost.inventory_path),
            str(pb),
            "-e",
            f"ansible_connection={OURS} ansible_psrp_protocol=http "
            f"ansible_port={hostvars['winhost_http_port']} ansible_psrp_message_encryption=always",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _wait_until_sleeping(winhost: Any) -> float:
    """Start of the sleeping command (the second Command of the run), once its Receive is out."""
    assert _wait_for(lambda: winhost.stats("dc01")["wsman_requests"].get("Command", 0) >= 2, 60)
    started = time.monotonic()
    time.sleep(3)  # well inside the sleep, with a Receive long-poll in flight
    return started


def _assert_stopped(winhost: Any, started: float, interrupted: float) -> float:
    assert _wait_for(lambda: _open(winhost) == (0, 0), BOUND), f"still open after {BOUND}s: {_open(winhost)}"
    cleanup = time.monotonic() - interrupted
    after = winhost.machine("dc01").sandbox() / "after.txt"
    time.sleep(max(0.0, started + SLEEP + 2 - time.monotonic()))
    assert not after.exists(), "the statement after the interruption point ran"
    return cleanup


@pytest.fixture
def session_dir() -> str:
    return tempfile.mkdtemp(prefix="psrpint-", dir="/tmp")


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupting_ansible_playbook_stops_the_command_and_deletes_the_shell(
    winhost: Any, session_dir: str, tmp_path: Path, how: str
) -> None:
    winhost.reset_stats("dc01")
    proc = _start_run(winhost, tmp_path, session_dir)
    try:
        started = _wait_until_sleeping(winhost)
        interrupted = time.monotonic()
        if how == "SIGINT":  # Ctrl-C in a terminal: the whole foreground process group, twice
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.3)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(getattr(signal, how))
        cleanup = _assert_stopped(winhost, started, interrupted)
        print(f"{how}: no shell and no operation {cleanup:.1f}s after the interrupt")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def test_abort_stops_a_command_whose_receive_is_in_flight(winhost: Any) -> None:
    """The mechanism, measured: a second connection sends the PSRP stop (Signal ctrl_c) and the
    Delete while the first connection waits in a Receive long-poll (default 20 s operation
    timeout). The command stops at the interruption point: the statement after it never runs."""
    hostvars = winhost.hostvars("dc01")
    session = winhost_session(
        winhost, "dc01", protocol="http", port=hostvars["winhost_http_port"], message_encryption="always"
    )
    script = f"Start-Sleep -Seconds {SLEEP}; Add-Content -Path C:\\after-abort.txt -Value x"
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(session.exec_script(script))
        except Exception as exc:
            outcome.append(exc)

    winhost.reset_stats("dc01")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert _wait_for(lambda: winhost.stats("dc01")["wsman_requests"].get("Receive", 0) >= 2, 30)
    started = time.monotonic()
    time.sleep(1)
    aborted = time.monotonic()
    assert session.abort() == "stopped the running command; deleted the shell"
    took = time.monotonic() - aborted
    assert _open(winhost) == (0, 0)
    requests = winhost.stats("dc01")["wsman_requests"]
    assert requests["Signal"] >= 1 and requests["Delete"] == 1
    thread.join(BOUND)
    assert not thread.is_alive(), "the first connection's Receive did not end"
    # the first connection sees either the stopped pipeline or the deleted shell, never a finish
    result = outcome[0]
    assert isinstance(result, Exception) or b"The pipeline has been stopped." in result[2], result
    time.sleep(max(0.0, started + SLEEP + 1 - time.monotonic()))
    assert not (winhost.machine("dc01").sandbox() / "after-abort.txt").exists()
    print(f"abort over a second connection: {took:.2f}s")
