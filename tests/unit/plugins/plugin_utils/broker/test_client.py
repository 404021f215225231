"""Worker side: start the real broker process on demand, its life tied to the controller."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (
    BROKER_SHARDS,
    BrokerClient,
    BrokerUnavailable,
    cleanup_stale,
    controller_pid,
    shard_for,
)


@pytest.fixture
def controller() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def session_dir() -> str:
    return os.path.join(tempfile.mkdtemp(prefix="psrps-", dir="/tmp"), "sessions")


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_broker_starts_on_demand_and_exits_with_its_controller(
    controller: subprocess.Popen[bytes], session_dir: str
) -> None:
    client = BrokerClient(session_dir, controller=controller.pid)
    reply = client.request({"op": "ping"})
    assert reply["ok"]
    broker_pid = reply["pid"]
    assert broker_pid != os.getpid()
    assert stat.S_IMODE(os.stat(client.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(client.sock_path).st_mode) == 0o600
    # a new session and process group: Ctrl-C in the terminal does not reach it
    assert os.getsid(broker_pid) == broker_pid
    controller.kill()
    controller.wait()
    assert _wait(lambda: not os.path.exists(client.sock_path)), "broker socket still there"
    assert _wait(lambda: not Path(f"/proc/{broker_pid}").exists() or _zombie(broker_pid))
    # of the finished run only its log stays (for the user to read; the next run removes it)
    log_name = os.path.basename(client.log_path)
    assert _wait(lambda: os.listdir(client.dir) == [log_name]), os.listdir(client.dir)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


def test_concurrent_workers_start_one_broker(controller: subprocess.Popen[bytes], session_dir: str) -> None:
    pids: list[int] = []

    def worker() -> None:
        pids.append(BrokerClient(session_dir, controller=controller.pid).request({"op": "ping"})["pid"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pids) == 8 and len(set(pids)) == 1


def test_unreachable_host_error_and_no_secret_on_disk(
    controller: subprocess.Popen[bytes], session_dir: str
) -> None:
    client = BrokerClient(session_dir, controller=controller.pid)
    secret = "Sup3r-Secret-Value"
    conn = {
        "host": "127.0.0.1",
        "identity": {"host": "127.0.0.1", "port": 9, "user": "admin", "auth": "ntlm"},
        "wsman": {
            "server": "127.0.0.1",
            "port": 9,
            "username": "admin",
            "password": secret,
            "ssl": False,
            "auth": "ntlm",
            "connection_timeout": 3,
        },
        "configuration_name": "Microsoft.PowerShell",
        "become": None,
        "idle_timeout": 60,
        "shell_idle_timeout": 90,
    }
    reply = client.request({"op": "exec", "conn": conn, "args": {"script": "hostname"}})
    assert not reply["ok"]
    assert reply["error"]["kind"] == "unreachable"
    assert "127.0.0.1:9" in reply["error"]["message"] and "refused" in reply["error"]["message"]
    assert secret not in reply["error"]["message"]
    for path in Path(client.dir).iterdir():
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_stale_files_of_dead_brokers_are_removed(session_dir: str) -> None:
    os.makedirs(session_dir, mode=0o700)
    dead = subprocess.Popen(["true"])
    dead.wait()
    for suffix in ("sock", "lock", "log"):
        Path(session_dir, f"broker-{dead.pid}-1.{suffix}").write_text("")
    Path(session_dir, f"broker-{os.getpid()}-0.lock").write_text("")
    assert cleanup_stale(session_dir) == 3
    assert os.listdir(session_dir) == [f"broker-{os.getpid()}-0.lock"]


def test_a_host_always_maps_to_the_same_broker_shard() -> None:
    hosts = [f"host{i:03d}" for i in range(200)]
    shards = [shard_for(h) for h in hosts]
    assert shards == [shard_for(h) for h in hosts]  # stable (crc32, not the salted hash())
    assert all(0 <= s < BROKER_SHARDS for s in shards)
    if BROKER_SHARDS > 1:
        assert len(set(shards)) == BROKER_SHARDS  # 200 hosts spread over every shard


def test_socket_path_too_long_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerUnavailable, match="ansible_psrp_session_dir"):
        BrokerClient(str(tmp_path / ("x" * 120)), controller=1)


def test_controller_is_this_process_outside_a_worker() -> None:
    assert controller_pid() == os.getpid()
