"""Commands in disconnected sessions (Invoke-Command -InDisconnectedSession, Receive-PSSession),
against winhost: started by one client, received or stopped by another one later."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_reliability_faults import _playbook, _results, _run
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _disconnected
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import SessionError
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import PipelineRequest

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01")]

HOST = "dc01"
# pssession state=received of the session id given as the extra variable sid
RECEIVE_PLAY = (
    "- hosts: dc01\n  gather_facts: false\n  tasks:\n"
    "    - psremoting.core.pssession:\n        state: received\n        session_id: '{{ sid }}'\n"
    "      register: got\n"
)


def _script(text: str) -> PipelineRequest:
    return PipelineRequest(commands=[{"name": text, "is_script": True}])


def _shell_state(winhost: Any, shell_id: str) -> str | None:
    shell = winhost.hostset.host(HOST).handler.shells.get(shell_id)
    return None if shell is None else str(shell.state)


def test_start_returns_at_once_and_a_later_client_receives_everything(winhost: Any) -> None:
    starter = winhost_session(winhost, HOST)
    ids = _disconnected.start(
        starter,
        _script(
            "Write-Output one; Start-Sleep -Seconds 2; Write-Output two; "
            "Add-Content -Path C:\\counter-disc.txt -Value run"
        ),
    )
    shell = winhost.hostset.host(HOST).handler.shells.get(ids["session_id"])
    assert shell is not None and list(shell.psrp.commands) == [ids["pipeline_id"]]
    assert ids["state"] == "Disconnected" and len(ids["session_id"]) == 36 and len(ids["pipeline_id"]) == 36
    assert _shell_state(winhost, ids["session_id"]) == "Disconnected"
    starter.close()

    receiver = winhost_session(winhost, HOST)  # another run: a new client, nothing shared
    result = _disconnected.receive(receiver, ids["session_id"].lower())
    assert result["output"] == ["one", "two"] and result["state"] == "Completed"
    assert _shell_state(winhost, ids["session_id"]) is None  # received: removed
    with pytest.raises(SessionError) as err:
        _disconnected.receive(receiver, ids["session_id"])
    assert "received or removed already" in err.value.info.message
    check = winhost_session(winhost, HOST)
    try:
        _rc, out, _ = check.exec_script("Get-Content -Path C:\\counter-disc.txt")
        assert out.decode().split() == ["run"]
    finally:
        check.close()


def test_receive_returns_everything_the_host_kept_beyond_the_output_limit(winhost: Any) -> None:
    """Receive-PSSession has no output limit: the receive gets every line even when they exceed
    the session's max_output_size (a capped wait would stop the command and leave the session,
    its output lost, on the host); the session is removed."""
    starter = winhost_session(winhost, HOST)
    ids = _disconnected.start(starter, _script("1..40 | ForEach-Object { 'x' * 10000 }"))
    starter.close()
    receiver = winhost_session(winhost, HOST)
    receiver.max_output_bytes = 100_000
    result = _disconnected.receive(receiver, ids["session_id"])
    assert result["state"] == "Completed" and result["output"] == ["x" * 10000] * 40
    assert _shell_state(winhost, ids["session_id"]) is None


def test_stop_a_disconnected_command(winhost: Any) -> None:
    starter = winhost_session(winhost, HOST)
    ids = _disconnected.start(
        starter, _script("Start-Sleep -Seconds 30; Add-Content -Path C:\\counter-stop.txt -Value run")
    )
    result = _disconnected.receive(winhost_session(winhost, HOST), ids["session_id"], stop=True)
    assert result["state"] == "Stopped"
    assert _shell_state(winhost, ids["session_id"]) is None
    check = winhost_session(winhost, HOST)
    try:
        _rc, out, _ = check.exec_script("Test-Path -Path C:\\counter-stop.txt")
        assert out.decode().split() == ["False"]  # stopped before its side effect
    finally:
        check.close()


def test_playbook_disconnected_start_end_of_run_later_receive(winhost: Any, tmp_path: Path) -> None:
    """Run 1 starts the command disconnected and ends (its broker deletes every shell it holds,
    not this one); pssession_info lists it as Disconnected; run 2 (a new broker, as another AWX
    job) receives its output; the session is then gone."""
    session_dir = tempfile.mkdtemp(prefix="psrpdis-", dir="/tmp")
    start = _playbook(
        tmp_path,
        "- psremoting.core.invoke_command:\n"
        "    script: Write-Output started; Start-Sleep -Seconds 2; Write-Output finished\n"
        "    disconnected: true\n"
        "  register: started\n",
    )
    rc, data, out = _run(winhost, session_dir, start)
    assert rc == 0, out
    started = _results(data)[0]
    session_id = started["session_id"]
    assert started["changed"] is True and started["pipeline_id"] and "Traceback" not in out

    listing = tmp_path / "list.yml"
    listing.write_text(
        "- hosts: dc01\n  gather_facts: false\n  tasks:\n"
        "    - psremoting.core.pssession_info:\n        session_state: [Disconnected]\n",
        encoding="utf-8",
    )
    rc, data, out = _another_run(winhost, listing)
    assert rc == 0, out
    rows = _results(data)[0]["sessions"]
    (row,) = [r for r in rows if r["ShellId"] == session_id]
    assert row["State"] == "Disconnected" and row["Owner"] and "ShellInactivity" in row

    receive = tmp_path / "receive.yml"
    receive.write_text(
        RECEIVE_PLAY,
        encoding="utf-8",
    )
    rc, data, out = _another_run(winhost, receive, "-e", f"sid={session_id}")
    assert rc == 0, out
    got = _results(data)[0]
    assert got["output"] == ["started", "finished"] and got["state"] == "Completed"
    assert _shell_state(winhost, session_id) is None
    rc, data, out = _another_run(winhost, receive, "-e", f"sid={session_id}")
    assert rc != 0 and "received or removed already" in out


def test_disconnected_refuses_options_it_cannot_honour(winhost: Any, tmp_path: Path) -> None:
    pb = _playbook(
        tmp_path,
        "- psremoting.core.invoke_command:\n"
        "    script: Write-Output x\n    disconnected: true\n    chdir: C:\\\\temp\n"
        "  ignore_errors: true\n  register: refused\n",
    )
    _rc, data, out = _another_run(winhost, pb)
    refused = _results(data)[0]
    assert refused.get("failed") is True and "cannot be combined with chdir" in refused["msg"], out


def test_run_summary_lists_the_sessions_left_running(winhost: Any, tmp_path: Path) -> None:
    """With the psremoting.core.disconnected_sessions callback enabled, the end of the run lists
    the disconnected session the run left running (and the session is still on the host)."""
    pb = _playbook(
        tmp_path,
        "- psremoting.core.invoke_command:\n"
        "    script: Start-Sleep -Seconds 1; Write-Output late\n"
        "    disconnected: true\n",
    )
    _rc, _data, out = _another_run(
        winhost,
        pb,
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_CALLBACKS_ENABLED="psremoting.core.disconnected_sessions",
    )
    assert "DISCONNECTED SESSIONS LEFT RUNNING" in out, out
    line = next(x for x in out.splitlines() if x.startswith("dc01: session "))
    session_id = line.split()[2]
    assert _shell_state(winhost, session_id) == "Disconnected"
    result = _disconnected.receive(winhost_session(winhost, HOST), session_id)
    assert result["output"] == ["late"]


def test_playbook_stop_of_a_disconnected_command_and_check_mode(winhost: Any, tmp_path: Path) -> None:
    """Check mode starts nothing; a started command is stopped by pssession state=stopped in the
    next play before its side effect; the session is removed."""
    shells_before = {s.shell_id for s in winhost.hostset.host(HOST).handler.shells.all()}
    pb = _playbook(
        tmp_path,
        "- psremoting.core.invoke_command:\n"
        "    script: Start-Sleep -Seconds 1\n    disconnected: true\n"
        "  check_mode: true\n  register: checked\n"
        "- psremoting.core.invoke_command:\n"
        "    script: Start-Sleep -Seconds 30; Add-Content -Path C:\\\\counter-pbstop.txt -Value run\n"
        "    disconnected: true\n"
        "  register: started\n",
        "- psremoting.core.pssession:\n"
        "    state: stopped\n    session_id: '{{ started.session_id }}'\n"
        "  register: stopped\n"
        "- psremoting.core.invoke_command:\n"
        "    script: Test-Path -Path C:\\\\counter-pbstop.txt\n",
    )
    rc, data, out = _another_run(winhost, pb)
    assert rc == 0, out
    checked, started, stopped, probe = _results(data)
    assert checked["skipped"] is True and "session_id" not in checked
    assert stopped["state"] == "Stopped" and stopped["session_id"] == started["session_id"]
    assert probe["output"] == [False]
    assert _shell_state(winhost, started["session_id"]) is None
    left = {s.shell_id for s in winhost.hostset.host(HOST).handler.shells.all()} - shells_before
    assert started["session_id"] not in left


def test_receive_through_a_network_cut_gets_everything_once(winhost: Any, tmp_path: Path) -> None:
    """Run 1 starts a command disconnected (invoke_command disconnected: true); run 2 receives it
    (pssession state: received) and the network is cut for 2 s in the middle of that wait. The
    receive goes through the session's robust, reconnecting Receive loop (reconnection_retries 6,
    reconnection_backoff 1 s; the Receive whose answer the cut lost is retransmitted with its
    wsmv:OperationID, MS-WSMV 3.1.4.1.39): all output arrives once, the command ran once (its side
    effect is counted on the host), -v says the connection dropped and came back, and the shell
    is removed after."""
    ticks = [f"t{i:02d}" for i in range(1, 21)]  # one a second: the receive starts part-way
    script = "; ".join(f"Write-Output {t}; Start-Sleep -Seconds 1" for t in ticks)
    start = _playbook(
        tmp_path,
        "- psremoting.core.invoke_command:\n"
        f"    script: {script}; Add-Content -Path C:\\\\counter-disc-cut.txt -Value run\n"
        "    disconnected: true\n"
        "  register: started\n",
    )
    rc, data, out = _another_run(winhost, start)
    assert rc == 0, out
    session_id = _results(data)[0]["session_id"]

    retransmissions = winhost.stats(HOST)["receive_retransmissions"]
    cut = threading.Event()

    def cut_in_the_middle() -> None:
        # the receiving client has connected and the command's output is flowing to it
        if not _wait_until(lambda: _shell_state(winhost, session_id) == "Connected", 120):
            return
        receives = winhost.stats(HOST)["wsman_requests"].get("Receive", 0)
        _wait_until(lambda: winhost.stats(HOST)["wsman_requests"].get("Receive", 0) >= receives + 2, 120)
        winhost.cut_network(HOST, 2000)
        cut.set()

    cutter = threading.Thread(target=cut_in_the_middle, daemon=True)
    cutter.start()
    receive = tmp_path / "receive.yml"
    receive.write_text(
        RECEIVE_PLAY,
        encoding="utf-8",
    )
    try:
        rc, data, out = _another_run(
            winhost,
            receive,
            "-v",
            "-e",
            f"sid={session_id}",
            "-e",
            "ansible_psrp_reconnection_retries=6",
            "-e",
            "ansible_psrp_reconnection_backoff=1",
        )
        cutter.join(5)
    finally:
        winhost.clear_faults(HOST)
    assert cut.is_set(), "the network was not cut while the receive waited"
    assert rc == 0, out
    got = _results(data)[0]
    assert got["output"] == ticks and got["state"] == "Completed", out
    assert "dropped while a command ran" in out and "reconnected to" in out
    # the answer in flight when the cut started was lost and asked for again (OperationID)
    assert winhost.stats(HOST)["receive_retransmissions"] > retransmissions
    assert "WARNING" not in out  # nothing reported lost
    assert _shell_state(winhost, session_id) is None  # received: removed
    check = winhost_session(winhost, HOST)
    try:
        _rc, counted, _ = check.exec_script("Get-Content -Path C:\\counter-disc-cut.txt")
        assert counted.decode().split() == ["run"]  # the command ran once
    finally:
        check.close()


def _another_run(winhost: Any, playbook: Path, *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    """ansible-playbook as another run would start it: a session directory (broker) of its own."""
    return _run(winhost, tempfile.mkdtemp(prefix="psrpdis-", dir="/tmp"), playbook, *args, **env)


def _wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# -- IdleTimeout / OutputBufferingMode of a disconnected session -------------------------------------
def test_disconnect_options_are_checked_before_anything_starts(winhost: Any, tmp_path: Path) -> None:
    """An idle timeout outside 60-2147483 s (Disconnect-PSSession -IdleTimeoutSec's range), the
    options without disconnected=true, and an idle timeout above the session configuration's
    MaxIdleTimeoutms (the server reports it; PowerShell refuses it before disconnecting,
    Disconnect-PSSession example 4) all fail naming the host, option, value and fix; nothing runs."""
    configuration = winhost.hostset.host(HOST).handler.machine.session_configurations["Microsoft.PowerShell"]
    shells_before = {s.shell_id for s in winhost.hostset.host(HOST).handler.shells.all()}
    side_effect = "Add-Content -Path C:\\\\counter-disc-opts.txt -Value run"
    pb = _playbook(
        tmp_path,
        f"- psremoting.core.invoke_command:\n    script: {side_effect}\n    disconnected: true\n"
        "    disconnected_idle_timeout: 30\n  ignore_errors: true\n"
        f"- psremoting.core.invoke_command:\n    script: {side_effect}\n"
        "    output_buffering_mode: drop\n  ignore_errors: true\n"
        f"- psremoting.core.invoke_command:\n    script: {side_effect}\n    disconnected: true\n"
        "    disconnected_idle_timeout: 7200\n  ignore_errors: true\n"
        "- psremoting.core.invoke_command:\n    script: Test-Path -Path C:\\\\counter-disc-opts.txt\n",
    )
    configuration.max_idle_timeout_ms = 3_600_000  # 1 hour
    try:
        rc, data, out = _another_run(winhost, pb)
    finally:
        configuration.max_idle_timeout_ms = 2147483647
    assert rc == 0, out
    too_short, not_disconnected, above_max, probe = _results(data)
    assert too_short["failed"] is True
    assert too_short["msg"] == (
        "dc01: invoke_command refuses the task, nothing was changed: option 'disconnected_idle_timeout' "
        "= 30 is not valid: a whole number from 60 to 2147483 (seconds, as Disconnect-PSSession "
        "-IdleTimeoutSec; at most the session configuration's MaxIdleTimeoutms)"
    )
    assert not_disconnected["failed"] is True
    assert "option 'output_buffering_mode' = 'drop'" in not_disconnected["msg"]
    assert "set disconnected: true or remove it" in not_disconnected["msg"]
    assert above_max["failed"] is True and "session_id" not in above_max
    address = winhost.hostvars(HOST)["ansible_host"]
    assert (
        f"{address}: option 'disconnected_idle_timeout' = 7200 is greater than the server maximum allowed 3600"
        in above_max["msg"]
    )
    assert "nothing was started" in above_max["msg"] and "MaxIdleTimeoutSec" in above_max["msg"]
    assert probe["output"] == [False]  # no task ran its side effect
    left = {s.shell_id for s in winhost.hostset.host(HOST).handler.shells.all()} - shells_before
    assert not [s for s in left if _shell_state(winhost, s) == "Disconnected"]  # no shell left behind


def test_drop_mode_session_loses_the_oldest_output_and_runs_on(
    winhost: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """output_buffering_mode: drop (-OutputBufferingMode Drop, MS-WSMV 2.2.5.10): the host lets
    the command run on while nobody receives and discards the oldest output once its buffer is
    full; the receive gets the newest lines only. The Disconnect carried the idle timeout too."""
    from winhost.wsman import psrp as wsman_psrp

    monkeypatch.setattr(wsman_psrp, "DISCONNECTED_BUFFER_BYTES", 4000)  # 100 lines are ~9 KB
    values = [f"line {i:03d} " + "x" * 80 for i in range(100)]
    script = "Start-Sleep -Milliseconds 500; Write-Output " + " ".join(f"'{v}'" for v in values)
    pb = _playbook(
        tmp_path,
        "- psremoting.core.invoke_command:\n"
        f"    script: {script}; Add-Content -Path C:\\\\counter-disc-drop.txt -Value run\n"
        "    disconnected: true\n    output_buffering_mode: drop\n    disconnected_idle_timeout: 600\n"
        "  register: started\n",
    )
    rc, data, out = _another_run(winhost, pb)
    assert rc == 0, out
    session_id = _results(data)[0]["session_id"]
    shell = winhost.hostset.host(HOST).handler.shells.get(session_id)
    assert shell is not None and shell.psrp is not None
    assert shell.psrp.buffer_mode == "Drop" and shell.idle_timeout == 600.0
    (runner,) = shell.psrp.commands.values()
    assert runner.finished.wait(60)  # ran to its end while nobody received (Block would pause it)
    assert shell.psrp.dropped > 0
    result = _disconnected.receive(winhost_session(winhost, HOST), session_id)
    output = result["output"]
    assert result["state"] == "Completed" and 0 < len(output) < len(values)
    assert output == values[-len(output) :]  # the oldest lines are the ones lost
    check = winhost_session(winhost, HOST)
    try:
        _rc, counted, _ = check.exec_script("Get-Content -Path C:\\counter-disc-drop.txt")
        assert counted.decode().split() == ["run"]
    finally:
        check.close()


def test_idle_timeout_removes_a_forgotten_disconnected_session(winhost: Any, tmp_path: Path) -> None:
    """disconnected_idle_timeout: 60 (the minimum) goes in the Disconnect (rsp:IdleTimeOut): the
    host deletes the session once nobody has touched it for 60 s (winhost's clock is moved on
    rather than waited for), not after the configuration's two hours; pssession_info then no
    longer lists it and pssession state=received says the host may have deleted it after its
    idle timeout."""
    pb = _playbook(
        tmp_path,
        "- psremoting.core.invoke_command:\n"
        "    script: Start-Sleep -Seconds 300\n    disconnected: true\n    disconnected_idle_timeout: 60\n"
        "  register: started\n",
    )
    rc, data, out = _another_run(winhost, pb)
    assert rc == 0, out
    session_id = _results(data)[0]["session_id"]
    service = winhost.hostset.host(HOST).handler
    shell = service.shells.get(session_id)
    assert shell is not None and shell.idle_timeout == 60.0
    shell.last_activity = service.clock() - 59  # one second short: kept
    service.reap_idle()
    assert _shell_state(winhost, session_id) == "Disconnected"
    shell.last_activity = service.clock() - 61
    service.reap_idle()
    assert _shell_state(winhost, session_id) is None  # the host removed it

    after = tmp_path / "after.yml"
    after.write_text(
        "- hosts: dc01\n  gather_facts: false\n  tasks:\n"
        "    - psremoting.core.pssession_info:\n        session_state: [Disconnected]\n"
        "      register: listed\n"
        "    - psremoting.core.pssession:\n        state: received\n        session_id: '{{ sid }}'\n"
        "      ignore_errors: true\n      register: got\n",
        encoding="utf-8",
    )
    rc, data, out = _another_run(winhost, after, "-e", f"sid={session_id}")
    assert rc == 0, out
    listed, got = _results(data)
    assert session_id not in {row["ShellId"] for row in listed["sessions"]}
    assert got["failed"] is True
    assert f"has no session {session_id}" in got["msg"] and "after its idle timeout" in got["msg"]
