"""Session broker: framing, session table and keys, post-reply cleanup, idle reaping, controller watch.

The broker runs in a thread here with a fake PSRPSession (no network); test_session.py starts the
real broker process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.broker import _client as _client_mod
from ansible_collections.psremoting.core.plugins.plugin_utils.broker import _orphans, _protocol
from ansible_collections.psremoting.core.plugins.plugin_utils.broker import _server as _broker
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import BrokerClient
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _client
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    KEPT,
    REMOVED,
    Removal,
    ShellInfo,
    ShellListing,
)


class FakeSession:
    instances: list[FakeSession] = []

    def __init__(
        self,
        wsman: dict[str, Any],
        configuration_name: str,
        shell_idle: int | None,
        host: str,
        *,
        no_profile: bool = False,
        shell_name: str | None = None,
    ) -> None:
        self.shell_name = shell_name
        self.pool = None
        self.wsman = wsman
        self.no_profile = no_profile
        self.host = host
        self.shell_idle = shell_idle
        self.lock = threading.RLock()
        self.last_used = time.monotonic()
        self.opened = 1
        self.closed = 0
        self.pending_closed = 0
        self.exec_delay = float(wsman.get("delay", 0))
        self.shell_id = f"00000000-0000-4000-8000-{len(FakeSession.instances):012d}"
        self.removed: list[tuple[str, frozenset[str]]] = []
        FakeSession.instances.append(self)

    # the shell operations (pssession / pssession_info through the broker)
    def own_shell_ids(self) -> set[str]:
        return {self.shell_id}

    def shells(self) -> list[Any]:
        return [_shell(s.shell_id) for s in FakeSession.instances] + [_shell(LEFTOVER)]

    def remove_shells(self, targets: list[dict[str, Any]], keep: set[str]) -> list[Any]:
        out = []
        for target in targets:
            self.removed.append((target["shell_id"], frozenset(keep)))
            out.append(Removal(target["shell_id"], KEPT if target["shell_id"] in keep else REMOVED))
        return out

    def is_open(self) -> bool:
        return self.closed == 0

    def exec_script(self, script: str, input_data: Any, arguments: Any, **kwargs: Any) -> Any:
        with self.lock:
            _client._command_started()  # as PSRPSession.start does once the host accepted it
            time.sleep(self.exec_delay)
            self.last_used = time.monotonic()
            return 0, f"ran {script} on {self.host} input={input_data!r}".encode(), b""

    def close_pending(self) -> None:
        self.pending_closed += 1

    def close(self) -> None:
        self.closed += 1

    def end(self) -> str:
        self.close()
        return "closed"


LEFTOVER = "0000000F-0000-4000-8000-000000000000"


def _shell(shell_id: str) -> ShellInfo:
    uri = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
    return ShellInfo(shell_id, None, uri, "DOM\\admin", None, None, "Connected", None, None, None)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_broker.Broker, BrokerClient]]:
    FakeSession.instances = []
    monkeypatch.setattr(_client, "PSRPSession", FakeSession)
    directory = tempfile.mkdtemp(prefix="psrpb-", dir="/tmp")
    client = BrokerClient(directory, controller=os.getpid())
    b = _broker.Broker(client.sock_path, os.getpid(), _protocol.process_start_time(os.getpid()))
    client.record_broker(os.getpid())  # the broker runs in this process here
    thread = threading.Thread(target=b.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not client.ping():
        assert time.monotonic() < deadline, "broker did not start"
        time.sleep(0.01)
    yield b, client
    b.shutdown()
    thread.join(5)


def _conn(host: str = "win1", password: str = "pw", **wsman: Any) -> dict[str, Any]:
    return {
        "host": host,
        "identity": {"host": host, "port": 5985, "user": "admin", "auth": "ntlm"},
        "wsman": {"server": host, "port": 5985, "username": "admin", "password": password, **wsman},
        "configuration_name": "Microsoft.PowerShell",
        "become": None,
        "idle_timeout": 60,
        "shell_idle_timeout": 90,
    }


def _exec(client: BrokerClient, conn: dict[str, Any], script: str = "hostname") -> dict[str, Any]:
    return client.request(
        {"op": "exec", "conn": conn, "args": {"script": script, "input": {"lines": ["a", "b"]}}}
    )


def test_frames_round_trip() -> None:
    a, b = socket.socketpair()
    with a, b:
        _protocol.send_frame(a, {"x": "é" * 10, "n": [1, 2]})
        assert _protocol.recv_frame(b) == {"x": "é" * 10, "n": [1, 2]}


def test_decode_input_forms() -> None:
    assert _protocol.decode_input(None) is None
    assert _protocol.decode_input({"lines": ["a"]}) == ["a"]
    assert _protocol.decode_input({"text": "t"}) == "t"
    assert _protocol.decode_input({"b64": "AAE="}) == b"\x00\x01"
    assert _protocol.decode_input({"b64lines": ["AA==", "AQ=="]}) == [b"\x00", b"\x01"]


def test_exec_reuses_one_session_per_credentials(broker: tuple[_broker.Broker, BrokerClient]) -> None:
    b, client = broker
    r1 = _exec(client, _conn())
    r2 = _exec(client, _conn())
    assert r1["ok"] and r2["ok"]
    assert (
        _protocol.decode_exec_result(r1["result"], r1["raw"])[1] == b"ran hostname on win1 input=['a', 'b']"
    )
    assert len(FakeSession.instances) == 1
    _exec(client, _conn(password="other"))  # same host and user, other password: never shared
    assert len(FakeSession.instances) == 2
    stats = b.stats()
    assert len(stats["sessions"]) == 2
    assert "pw" not in repr(stats) and "other" not in repr(stats)
    _exec(client, dict(_conn(), no_profile=True))  # a session without the user's profile is another
    assert len(FakeSession.instances) == 3 and FakeSession.instances[2].no_profile is True
    assert not FakeSession.instances[0].no_profile


def test_pipelines_are_closed_after_the_reply(broker: tuple[_broker.Broker, BrokerClient]) -> None:
    _b, client = broker
    _exec(client, _conn())
    deadline = time.monotonic() + 2
    while FakeSession.instances[0].pending_closed < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_reset_closes_and_forgets_the_session(broker: tuple[_broker.Broker, BrokerClient]) -> None:
    b, client = broker
    _exec(client, _conn())
    assert client.request({"op": "reset", "conn": _conn()})["ok"]
    assert FakeSession.instances[0].closed == 1 and b.stats()["sessions"] == []
    _exec(client, _conn())
    assert len(FakeSession.instances) == 2


def test_idle_sessions_are_closed(broker: tuple[_broker.Broker, BrokerClient]) -> None:
    b, client = broker
    conn = _conn()
    conn["idle_timeout"] = 0
    _exec(client, conn)
    _exec(client, _conn(host="win2"))  # 60 s idle timeout: stays
    time.sleep(0.05)
    b.reap_once()
    closed = {s.host: s.closed for s in FakeSession.instances}
    assert closed == {"win1": 1, "win2": 0}


def test_requests_are_served_concurrently(broker: tuple[_broker.Broker, BrokerClient]) -> None:
    """forks=N: requests for different hosts run in parallel (no single-thread bottleneck)."""
    _b, client = broker
    results: list[bool] = []

    def one(i: int) -> None:
        results.append(_exec(client, _conn(host=f"h{i}", delay=0.3))["ok"])

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert results == [True] * 20
    assert elapsed < 0.3 * 20 / 4, f"20 x 0.3 s requests took {elapsed:.2f}s"


def test_broker_cleans_up_when_controller_dies(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeSession.instances = []
    monkeypatch.setattr(_client, "PSRPSession", FakeSession)
    controller = subprocess.Popen(["sleep", "60"])
    directory = tempfile.mkdtemp(prefix="psrpb-", dir="/tmp")
    client = BrokerClient(directory, controller=controller.pid)
    b = _broker.Broker(client.sock_path, controller.pid, _protocol.process_start_time(controller.pid))
    client.record_broker(os.getpid())  # the broker runs in this process here
    thread = threading.Thread(target=b.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not client.ping():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    _exec(client, _conn())
    _exec(client, _conn(host="win2"))
    controller.kill()
    controller.wait()
    thread.join(5)
    assert not thread.is_alive(), "broker kept running after its controller died"
    assert [s.closed for s in FakeSession.instances] == [1, 1]
    assert not os.path.exists(client.sock_path)


def test_pid_reuse_is_detected() -> None:
    start = _protocol.process_start_time(os.getpid())
    assert start is not None
    assert _protocol.pid_alive(os.getpid(), start)
    assert not _protocol.pid_alive(os.getpid(), "1")  # same pid, other start time: another process


def test_the_worker_learns_when_the_command_started(broker: tuple[_broker.Broker, BrokerClient]) -> None:
    """An interim frame tells the waiting worker that the host accepted the command."""
    _b, client = broker
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(client.sock_path)
        _protocol.send_frame(sock, {"op": "exec", "conn": _conn(), "args": {"script": "hostname"}})
        assert _protocol.recv_frame(sock) == {"progress": "started"}
        assert _protocol.recv_frame(sock)["ok"] is True


@pytest.mark.parametrize("started", [True, False])
def test_a_broker_dying_mid_task_says_whether_the_command_had_started(
    monkeypatch: pytest.MonkeyPatch, started: bool
) -> None:
    client = BrokerClient(tempfile.mkdtemp(prefix="psrpb-", dir="/tmp"), controller=os.getpid())
    client.record_broker(os.getpid())
    server = socket.socket(socket.AF_UNIX)
    server.bind(client.sock_path)
    server.listen(1)

    def die_mid_task() -> None:  # reads the request, maybe reports the start, then dies
        conn, _ = server.accept()
        with conn:
            _protocol.recv_frame(conn)
            if started:
                _protocol.send_frame(conn, {"progress": "started"})

    thread = threading.Thread(target=die_mid_task, daemon=True)
    thread.start()
    try:
        with pytest.raises(_client_mod.BrokerUnavailable) as lost:
            _exec(client, _conn())
    finally:
        thread.join(5)
        server.close()
    message = str(lost.value)
    if started:
        assert "after the command had started on the host" in message and "outcome is unknown" in message
    else:
        assert "before the command started on the host: nothing ran there" in message
    assert client.log_path in message


def test_shell_ops_list_all_and_never_remove_a_shell_the_broker_holds(
    broker: tuple[_broker.Broker, BrokerClient],
) -> None:
    """list_shells / remove_shells (pssession_info, pssession): the broker's own shells, of every
    session it holds, are named in the listing and kept by a removal."""
    _, client = broker
    _exec(client, _conn("win1"))
    _exec(client, _conn("win2"))
    reply = client.request({"op": "list_shells", "conn": _conn("win1"), "args": {}})
    assert reply["ok"], reply
    listing = ShellListing.from_wire(reply["result"])
    own = {s.shell_id for s in FakeSession.instances}
    assert listing.own == own and len(own) == 2
    assert {s.shell_id for s in listing.shells} == own | {LEFTOVER}
    targets = [{"shell_id": i, "resource_uri": "u"} for i in sorted(own | {LEFTOVER})]
    reply = client.request({"op": "remove_shells", "conn": _conn("win1"), "args": {"shells": targets}})
    outcomes = {r["shell_id"]: r["outcome"] for r in reply["result"]}
    assert outcomes == {**dict.fromkeys(own, KEPT), LEFTOVER: REMOVED}
    assert len(FakeSession.instances) == 2  # no session opened for the listing or the removal


class OpeningSession(FakeSession):
    """Opens its shell on the first command (``on_open``, as PSRPSession.open does) and lists the
    user's shells: one of ours that a gone broker left idle. ``list_shells`` waits (bounded) until
    the test has the reply, and records whether it had."""

    replied = threading.Event()
    listed: list[bool] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_open: Any = None
        self.deleted: list[str] = []

    def exec_script(self, script: str, input_data: Any, arguments: Any, **kwargs: Any) -> Any:
        with self.lock:
            if self.pool is None:
                self.pool = SimpleNamespace(id=self.shell_id, shell=SimpleNamespace(resource_uri="u"))
                if self.on_open is not None:
                    self.on_open(self)
        return super().exec_script(script, input_data, arguments, **kwargs)

    def list_shells(self) -> list[ShellInfo]:
        OpeningSession.listed.append(OpeningSession.replied.wait(10))
        gone = f"{_orphans.shell_name(999_999_999, '1')}"  # no such pid on this machine
        return [ShellInfo(ORPHAN, gone, "u", "DOM\\admin", None, None, "Connected", None, None, "PT3600S")]

    def delete_shell(self, shell_id: str, resource_uri: str) -> bool:
        self.deleted.append(shell_id)
        return True


ORPHAN = "0000000E-0000-4000-8000-000000000000"


def test_the_idle_orphan_check_runs_after_the_reply_once_per_host(
    monkeypatch: pytest.MonkeyPatch, broker: tuple[_broker.Broker, BrokerClient]
) -> None:
    """The WSMan Enumerate of the user's shells never delays a host's first command: it runs once
    the reply has been sent, once per host, and still deletes the orphan it finds."""
    b, client = broker
    monkeypatch.setattr(_client, "PSRPSession", OpeningSession)
    OpeningSession.replied.clear()
    OpeningSession.listed = []
    conn = dict(_conn("win1"), orphan_idle=600)
    assert _exec(client, conn)["ok"]
    OpeningSession.replied.set()
    (session,) = [s for s in FakeSession.instances if isinstance(s, OpeningSession)]
    deadline = time.monotonic() + 10
    while not session.deleted:
        assert time.monotonic() < deadline, "the orphan was not removed after the reply"
        time.sleep(0.01)
    assert OpeningSession.listed == [True], "the Enumerate ran before the reply was sent"
    assert session.deleted == [ORPHAN]
    assert _exec(client, conn)["ok"]  # the same host again: no second check
    assert _exec(client, dict(_conn("win2"), orphan_idle=0))["ok"]  # orphan_idle 0: none at all
    b.close_all()  # lets a check under way finish first
    assert OpeningSession.listed == [True]
