"""An interrupted run stops its remote work: issue 15's "nothing left running after an interrupt".

ansible-playbook runs a ``raw`` task ``Start-Sleep -Seconds 24; Add-Content C:\\after.txt x`` on a
winhost over HTTP with NTLM and message encryption, the default operation timeout (20 s: a Receive
is in flight the whole time) and the default idle timeout. A few seconds in, the run is interrupted
(Ctrl-C to its process group, SIGTERM as an AWX/AAP job cancel sends, or SIGKILL). Soon after, the
host must have no open shell and no open operation (each test prints how soon: about 1-2 s on a
quiet machine; it allows 20 s, as a CI machine 3-4x slower and loaded needs), and the statement
after the interruption point must never run: ``C:\\after.txt`` does not exist after the 24 s the
sleep would have taken.
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
SLEEP = 24
BOUND = 20.0  # seconds from the interrupt (or from the broker noticing) to no shell, no operation
TASKS = f"""
- raw: Write-Output warm
- raw: Start-Sleep -Seconds {SLEEP}; Add-Content -Path C:\\after.txt -Value x
"""
# The broker-kill case waits for a second ansible-playbook run (its start-up alone takes seconds on a
# loaded machine): a longer sleep keeps the "never runs" check meaningful.
LONG_SLEEP = 90
LONG_TASKS = TASKS.replace(f"-Seconds {SLEEP};", f"-Seconds {LONG_SLEEP};")


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


def hostvars_password(winhost: Any) -> str:
    return str(winhost.hostvars("dc01")["ansible_password"])


def _start_run(
    winhost: Any,
    tmp_path: Path,
    session_dir: str,
    tasks: str = TASKS,
    output: Any = subprocess.DEVNULL,
    *,
    extra: str = "",
) -> subprocess.Popen[bytes]:
    pb = tmp_path / f"pb-{time.monotonic_ns()}.yml"
    pb.write_text(
        "- hosts: dc01\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    "),
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
            f"ansible_port={hostvars['winhost_http_port']} ansible_psrp_message_encryption=always {extra}".strip(),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not subprocess.DEVNULL else subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _wait_until_sleeping(winhost: Any) -> float:
    """Start of the sleeping command (the second Command of the run), once its Receive is out."""
    assert _wait_for(lambda: winhost.stats("dc01")["wsman_requests"].get("Command", 0) >= 2, 60)
    started = time.monotonic()
    time.sleep(3)  # well inside the sleep, with a Receive long-poll in flight
    return started


def _assert_stopped(
    winhost: Any, started: float, interrupted: float, bound: float = BOUND, sleep: int = SLEEP
) -> float:
    assert _wait_for(lambda: _open(winhost) == (0, 0), bound), f"still open after {bound}s: {_open(winhost)}"
    cleanup = time.monotonic() - interrupted
    after = winhost.machine("dc01").sandbox() / "after.txt"
    time.sleep(max(0.0, started + sleep + 2 - time.monotonic()))
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
    assert _wait_for(lambda: winhost.stats("dc01")["wsman_requests"].get("Receive", 0) >= 2, 120)
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


def _broker_pids(session_dir: str) -> list[int]:
    pids = []
    for name in os.listdir(session_dir):
        if name.endswith(".pid"):
            pids.append(int(Path(session_dir, name).read_text().split()[0]))
    return pids


def test_a_killed_broker_leaves_a_record_and_the_next_run_removes_its_shell(
    winhost: Any, session_dir: str, tmp_path: Path
) -> None:
    """SIGKILL of the broker mid-task: the task says the command had started; the broker's
    secret-free record names the shell it left; the next run for the same user and host deletes
    that shell (which stops its command) before the statement after the interruption point runs."""
    winhost.reset_stats("dc01")
    log = (tmp_path / "first.out").open("wb")
    first = _start_run(winhost, tmp_path, session_dir, tasks=LONG_TASKS, output=log)
    try:
        started = _wait_until_sleeping(winhost)
        (broker,) = _broker_pids(session_dir)
        os.kill(broker, signal.SIGKILL)
        killed = time.monotonic()
        first.wait(120)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(30)
        log.close()
    out = (tmp_path / "first.out").read_text(errors="replace")
    assert "after the command had started on the host: its outcome is unknown" in out, out[-3000:]
    assert _open(winhost) == (1, 1), "the killed broker's shell and command are still on the host"
    records = [p for p in os.listdir(session_dir) if p.endswith(".shells.json")]
    assert len(records) == 1
    record = Path(session_dir, records[0]).read_text()
    assert hostvars_password(winhost) not in record and '"shell_id"' in record
    listed = winhost.hostset.host("dc01").handler.shells.all()
    assert [s.name for s in listed] and listed[0].name.startswith("psremoting.core broker ")

    second_run = time.monotonic()
    second = _start_run(winhost, tmp_path, session_dir, tasks="- raw: Write-Output next-run\n")
    try:
        assert second.wait(120) == 0
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    cleanup = _assert_stopped(winhost, started, second_run, bound=75, sleep=LONG_SLEEP)
    assert not [p for p in os.listdir(session_dir) if p.endswith(".shells.json")]
    print(
        f"broker SIGKILL: second run started {second_run - killed:.1f}s after the kill; no shell and "
        f"no operation {cleanup:.1f}s after it started"
    )
