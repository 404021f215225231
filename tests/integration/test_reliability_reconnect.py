"""A network cut while a command runs: the client reconnects to the same shell and pipeline.

The command runs once (its side effect is counted on the host model) and its output arrives
complete, including the output of a Receive answer lost in the cut: the client marks each Receive
with wsmv:OperationID and retransmits the lost one (MS-WSMV 3.1.4.1.39), and winhost, like a
robust-connection server, answers it again.

Scaling (as the suite's other long tests): a 3-minute command with a 60 s cut becomes a ~4 s
command with a 1.5-2 s cut; reconnection_backoff 1 s (attempts after 0.5-1, 1-2, 2-4 s...).
One test is not scaled (slow, PSREMOTING_RUN_SLOW=1, as ``make test`` sets it): a real 60 s cut
in the middle of a 90 s command, with the settings docs/connection.md gives for a 60 s outage.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_reliability_faults import _fault_task, _playbook, _read_counter, _results, _run
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import SessionError

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01")]

HOST = "dc01"
RETRIES = {"reconnection_retries": 6, "reconnection_backoff": 1}
# RETRIES as ansible-playbook arguments, at -v (which shows the reconnect notices)
PLAYBOOK_RETRIES = (
    "-v",
    *(arg for name, value in RETRIES.items() for arg in ("-e", f"ansible_psrp_{name}={value}")),
)
RUN_SLOW = bool(os.environ.get("PSREMOTING_RUN_SLOW"))


@pytest.fixture(autouse=True)
def _clean_host(winhost: Any) -> Any:
    winhost.clear_faults(HOST)
    winhost.reset_stats(HOST)
    yield
    winhost.clear_faults(HOST)


@pytest.fixture
def session_dir() -> str:
    return tempfile.mkdtemp(prefix="psrprec-", dir="/tmp")  # short: Unix socket path limit


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_cut_while_the_command_runs_reconnects_to_the_same_pipeline(winhost: Any) -> None:
    session = winhost_session(winhost, HOST, **RETRIES)
    try:
        session.open()
        commands_before = winhost.stats(HOST)["wsman_requests"].get("Command", 0)
        receives_before = winhost.stats(HOST)["wsman_requests"].get("Receive", 0)

        def cut_when_running() -> None:
            # the command is running and its output flowing: the third Receive has arrived
            _wait_for(
                lambda: winhost.stats(HOST)["wsman_requests"].get("Receive", 0) >= receives_before + 3, 120
            )
            winhost.cut_network(HOST, 2000)

        cutter = threading.Thread(target=cut_when_running)
        cutter.start()
        # output every 0.4 s for 8 s, some of it during the cut (a slow machine's Receives included)
        ticks = [f"t{i}" for i in range(1, 21)]
        script = "; ".join(f"Write-Output {t}; Start-Sleep -Milliseconds 400" for t in ticks)
        rc, out, err = session.exec_script(f"{script}; Add-Content -Path C:\\counter-cut.txt -Value run")
        cutter.join()
        assert (rc, out.decode().split(), err) == (0, ticks, b"")
        stats = winhost.stats(HOST)
        assert stats["wsman_requests"]["Command"] == commands_before + 1  # sent once
        assert stats["wsman_requests"]["Create"] == 1  # the same shell throughout
        notices = " ".join(session.take_notices())
        assert "dropped while a command ran" in notices and "reconnected" in notices
        assert session.take_warnings() == []
        rc, out, _ = session.exec_script("Get-Content -Path C:\\counter-cut.txt")
        assert out.decode().split() == ["run"]  # ran once
    finally:
        session.close()


def test_cut_during_a_receive_answer_loses_no_output(winhost: Any) -> None:
    """The answer carrying ``first`` is lost on the network (the cut starts as it is sent): the
    reconnected client retransmits that Receive and gets it again; nothing is duplicated."""
    session = winhost_session(winhost, HOST, **RETRIES)
    try:
        session.open()
        winhost.cut_on_output(HOST, 1500)
        rc, out, _ = session.exec_script(
            "Write-Output first; Start-Sleep -Seconds 2; Write-Output second; "
            "Add-Content -Path C:\\counter-lost.txt -Value run"
        )
        assert rc == 0
        assert out.decode().split() == ["first", "second"]
        assert session.robust is not None and session.robust.retransmitted >= 1
        assert session.robust.lost_answers == 0
        assert winhost.hostset.host(HOST).faults.snapshot()["cut_on_output_ms"] == 0  # it fired
        assert session.take_warnings() == []
        _, out, _ = session.exec_script("Get-Content -Path C:\\counter-lost.txt")
        assert out.decode().split() == ["run"]
    finally:
        session.close()


def test_a_cut_longer_than_the_retries_fails_clearly_and_is_not_rerun(winhost: Any) -> None:
    session = winhost_session(winhost, HOST, reconnection_retries=1, reconnection_backoff=0)
    try:
        session.open()
        winhost.cut_on_output(HOST, 4000)
        with pytest.raises(SessionError) as err:
            session.exec_script("Write-Output first; Add-Content -Path C:\\counter-long.txt -Value run")
        assert "not sent again" in err.value.info.message
        assert winhost.stats(HOST)["wsman_requests"]["Command"] == 1
    finally:
        session.close()


def test_playbook_task_survives_a_cut_and_says_so_at_v(
    winhost: Any, session_dir: str, tmp_path: Path
) -> None:
    """Through ansible-playbook and the session broker: the answer carrying the long task's first
    output is lost in a 2 s cut (injected between the tasks, fired by that answer); the task ends
    ok with all its output, its side effect happened once, and -v tells that the connection
    dropped and came back."""
    pb = _playbook(
        tmp_path,
        "- raw: Write-Output warm\n"
        + _fault_task(winhost, "cut-on-output", 2000)
        + "- raw: Write-Output one; Start-Sleep -Seconds 1; Write-Output two; "
        "Add-Content -Path C:\\counter-pb.txt -Value run\n"
        "  register: long\n",
    )
    rc, data, out = _run(
        winhost,
        session_dir,
        pb,
        *PLAYBOOK_RETRIES,
    )
    assert rc == 0, out
    assert _results(data)[2]["stdout_lines"] == ["one", "two"]
    assert "dropped while a command ran" in out and "reconnected to" in out
    assert "WARNING" not in out
    assert _read_counter(winhost, session_dir, tmp_path, "pb") == ["run"]


@pytest.mark.slow
@pytest.mark.skipif(
    not RUN_SLOW,
    reason="a real 60 s network cut in a 90 s command: about 2 minutes, mostly sleeping; "
    "set PSREMOTING_RUN_SLOW=1",
)
def test_playbook_task_survives_a_real_60_second_cut(winhost: Any, session_dir: str, tmp_path: Path) -> None:
    """The issue's numbers, unscaled: a 90 s command (mostly sleeping) whose network is cut for
    60 s in the middle, through ansible-playbook and the broker, with the settings
    docs/connection.md gives for a 60 s outage (reconnection_retries 8, the default backoff of 2:
    waits of 1-2, 2-4, 4-8, 8-16, then 15-30 s, at least 75 s in all; session_idle_timeout 120 so
    the shell's IdleTimeOut, 150 s, outlasts the cut and the last wait). The cut starts as the
    answer carrying the command's first line is sent (that answer is lost and retransmitted
    after the cut); lines 2-13 are written on the host during the cut. The task ends ok with all
    15 lines, one Command, one shell, one side effect."""
    ticks = [f"t{i:02d}" for i in range(1, 16)]  # t01 at 15 s, then one every 5 s: t15 at 85 s
    script = "Start-Sleep -Seconds 15; " + "; Start-Sleep -Seconds 5; ".join(
        f"Write-Output {t}" for t in ticks
    )
    pb = _playbook(
        tmp_path,
        "- raw: Write-Output warm\n"
        + _fault_task(winhost, "cut-on-output", 60000)
        + f"- raw: {script}; Add-Content -Path C:\\counter-60s.txt -Value run\n"
        "  register: long\n",
    )
    started = time.monotonic()
    rc, data, out = _run(
        winhost,
        session_dir,
        pb,
        "-v",
        "-e",
        "ansible_psrp_reconnection_retries=8",
        "-e",
        "ansible_psrp_session_idle_timeout=120",
    )
    elapsed = time.monotonic() - started
    assert rc == 0, out
    assert _results(data)[2]["stdout_lines"] == ticks
    assert "dropped while a command ran" in out and "reconnected to" in out
    assert "WARNING" not in out
    assert winhost.hostset.host(HOST).faults.snapshot()["cut_on_output_ms"] == 0  # it fired
    assert winhost.stats(HOST)["receive_retransmissions"] >= 1  # the lost answer, asked for again
    assert elapsed > 75  # the cut was real (60 s from t01 at 15 s), not scaled down
    requests = winhost.stats(HOST)["wsman_requests"]
    assert requests["Command"] == 2 and requests["Create"] == 1  # warm + long, once; one shell
    assert _read_counter(winhost, session_dir, tmp_path, "60s") == ["run"]


def test_playbook_fetch_cut_off_resumes_on_the_next_run(
    winhost: Any, session_dir: str, tmp_path: Path
) -> None:
    """Through ansible-playbook, the broker and the fetch action: the link dies part-way through
    a 6 MiB fetch (no reconnect attempts), the host is unreachable, and the controller keeps
    ``<dest>.psrp-partial`` beside the destination; the next run of the play fetches only the
    rest (-vv says so) and the file is byte-identical."""
    data = os.urandom(6 * 1024 * 1024)
    (Path(winhost.machine(HOST).sandbox()) / "pb-down.bin").write_bytes(data)
    dest = tmp_path / "pb-down.bin"
    fetch = f"- fetch:\n    src: C:\\pb-down.bin\n    dest: {dest}\n    flat: true\n"
    pb = _playbook(
        tmp_path,
        "- raw: Write-Output warm\n" + _fault_task(winhost, "cut-after-bytes", 1000, 5_000_000) + fetch,
    )
    rc, _data, out = _run(winhost, session_dir, pb)
    assert rc != 0, out
    partial = tmp_path / "pb-down.bin.psrp-partial"
    assert not dest.exists() and 0 < partial.stat().st_size < len(data), out
    have = partial.stat().st_size
    winhost.clear_faults(HOST)
    rc, _data, out = _run(winhost, session_dir, _playbook(tmp_path, fetch), "-vv")
    assert rc == 0, out
    assert f"resumed after the {have} bytes" in out
    assert dest.read_bytes() == data and not partial.exists()


def test_playbook_win_copy_cut_off_resumes_within_the_task(
    winhost: Any, session_dir: str, tmp_path: Path
) -> None:
    """win_copy puts into a new temporary directory of each task, so its resume happens within
    the task: with reconnection_retries, the link dying part-way through a 6 MiB put reconnects,
    continues from the host's verified partial file, and -v says so; the copy is byte-identical
    and far fewer bytes than two full puts reached the host."""
    data = os.urandom(6 * 1024 * 1024)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    copy = f"- ansible.windows.win_copy:\n    src: {src}\n    dest: C:\\pb-up.bin\n"
    pb = _playbook(
        tmp_path,
        "- raw: Write-Output warm\n" + _fault_task(winhost, "cut-after-bytes", 1000, 5_000_000) + copy,
    )
    winhost.reset_stats(HOST)
    rc, _data, out = _run(
        winhost,
        session_dir,
        pb,
        *PLAYBOOK_RETRIES,
    )
    assert rc == 0, out
    assert "dropped while a file was sent" in out
    resumed = re.search(r"continued after the (\d+) bytes", out)
    assert resumed is not None and 0 < int(resumed.group(1)) < len(data), out
    assert (Path(winhost.machine(HOST).sandbox()) / "pb-up.bin").read_bytes() == data
    # the part before the cut once, the rest once, the module: not a second full put (~1.8 x 2)
    assert int(winhost.stats(HOST)["bytes_in"]) < len(data) * 1.8 * 1.2
