"""broker._fanout: targets go to the broker of their session; the broker runs them throttled,
on the sessions of its table, streaming events before the final reply."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.broker import _fanout
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (
    BrokerUnavailable,
    shard_for,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._fanout import (
    LOCAL,
    conn_message,
    dispatch,
    group_targets,
    serve_fanout,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import InvokeSpec
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import HostOutcome, Job
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _message_cache
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    OPTION_TABLE,
    ConnectionSettings,
    read_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import empty_result


def settings(address: str, persist: bool = True, directory: str = "/tmp/s") -> ConnectionSettings:
    values = {"remote_addr": address, "remote_user": "vagrant", "remote_password": "pw", "auth": "ntlm",
              "session_persist": persist, "session_dir": directory}  # fmt: skip
    return read_settings(lambda name: values.get(name, OPTION_TABLE[name][1]), address)


class FakeSession:
    def __init__(self, host: str, delay: float = 0.0) -> None:
        self.host = host
        self.delay = delay
        self.closed_pending = 0
        self.swept_after: int | None = None  # closed_pending when the orphan check ran
        self.cached: bool | None = None  # whether the pipeline was built with the message cache on

    def invoke_pipeline(self, request: dict[str, Any], on_poll: Any = None) -> dict[str, Any]:
        self.cached = _message_cache.caching_on()
        time.sleep(self.delay)
        result = dict(empty_result())
        result.update(output=[{"Host": self.host}], state="Completed")
        return result

    def close_pending(self) -> None:
        self.closed_pending += 1


class FakeBroker:
    def __init__(self, delay: float = 0.0) -> None:
        self.sessions: dict[str, FakeSession] = {}
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.delay = delay

    def _entry(self, conn: dict[str, Any]) -> tuple[str, Any]:
        with self.lock:
            session = self.sessions.setdefault(conn["host"], FakeSession(conn["host"], self.delay))
        return conn["host"], SimpleNamespace(session=session)

    def then_sweep(self, entry: Any, after: Any) -> Any:
        """As ``Broker.then_sweep``: ``after``, then the host's idle-orphan check."""

        def run() -> None:
            after()
            entry.session.swept_after = entry.session.closed_pending

        return run


def test_serve_fanout_runs_throttled_on_the_table_sessions_and_streams_events() -> None:
    broker = FakeBroker(delay=0.02)
    frames: list[dict[str, Any]] = []
    names = [f"h{i}" for i in range(6)]
    request = {
        "op": "fanout",
        "args": {
            "job": Job.of(InvokeSpec(script="Get-Service"), {}).to_dict(),
            "throttle_limit": 2,
            "targets": [{"name": n, "conn": conn_message(settings(f"addr-{n}"))} for n in names],
        },
    }
    reply, release = serve_fanout(broker, json.loads(json.dumps(request)), frames.append)
    assert reply["ok"] is True
    outcomes = [HostOutcome.from_dict(o) for o in reply["result"]["outcomes"]]
    assert [o.name for o in outcomes] == names and {o.status for o in outcomes} == {"ok"}, outcomes
    assert outcomes[0].fields["output"] == [
        {"Host": "addr-h0", "PSComputerName": "h0", "PSShowComputerName": True}
    ]
    assert sorted(f["event"]["host"] for f in frames) == names
    assert all(f["event"]["type"] == "done" for f in frames)
    # every host's pipeline was built with the message cache on, which the run's end switched off
    assert all(s.cached for s in broker.sessions.values()) and not _message_cache.caching_on()
    # the finished pipelines are released after the reply (off the task's critical path)
    assert all(s.closed_pending == 0 for s in broker.sessions.values())
    assert release is not None
    release()
    assert all(s.closed_pending == 1 for s in broker.sessions.values())
    # and each host's idle-orphan check (an Enumerate) follows its release, after the reply too
    assert all(s.swept_after == 1 for s in broker.sessions.values())
    # the same broker, a second run: the same sessions (a per-host task would find them too)
    again, _release = serve_fanout(broker, request, frames.append)
    assert again["ok"] and len(broker.sessions) == 6


def test_serve_fanout_refuses_a_malformed_request() -> None:
    reply, release = serve_fanout(FakeBroker(), {"op": "fanout", "args": {"targets": []}}, lambda _f: None)
    assert release is None
    assert reply["ok"] is False and "bad fanout request" in reply["error"]["message"]


def test_targets_are_grouped_by_the_broker_of_their_session() -> None:
    targets = [(f"h{i}", settings(f"10.0.0.{i}")) for i in range(8)]
    targets.append(("local1", settings("10.0.1.1", persist=False)))
    targets.append(("elsewhere", settings("10.0.0.1", directory="/tmp/other")))
    groups = group_targets(targets)
    for (directory, shard), members in groups.items():
        for name, s in members:
            if (directory, shard) == LOCAL:
                assert not s.session.persist
            else:
                assert (directory, shard) == (s.session.directory, shard_for(s.host)), name
    assert [n for n, _ in groups[LOCAL]] == ["local1"]
    assert [n for n, _ in groups[("/tmp/other", shard_for("10.0.0.1"))]] == ["elsewhere"]


def test_dispatch_sends_one_request_per_broker_and_falls_back_locally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, int, dict[str, Any]]] = []

    class Client:
        def __init__(self, directory: str, shard: int = 0) -> None:
            self.key = (directory, shard)

        def request(self, message: dict[str, Any], on_event: Any = None) -> dict[str, Any]:
            sent.append((*self.key, message))
            if self.key[0] == "/tmp/down":
                raise BrokerUnavailable("cannot start")
            names = [t["name"] for t in message["args"]["targets"]]
            for name in names:
                on_event({"type": "done", "host": name})
            return {"ok": True, "result": {"outcomes": [HostOutcome(n, "ok").to_dict() for n in names]}}

    ran_local: list[str] = []

    def run_local(group: list[Any], job: Job, throttle: int, emit: Any) -> list[HostOutcome]:
        ran_local.extend(n for n, _ in group)
        return [HostOutcome(n, "ok") for n, _ in group]

    monkeypatch.setattr(_fanout, "BrokerClient", Client)
    monkeypatch.setattr(_fanout, "run_local", run_local)
    targets = [(f"h{i}", settings(f"10.0.0.{i}")) for i in range(6)]
    targets += [
        ("nopersist", settings("10.0.2.1", persist=False)),
        ("down", settings("10.0.3.1", directory="/tmp/down")),
    ]
    events: list[dict[str, Any]] = []
    outcomes = dispatch(targets, Job.of(InvokeSpec(script="1"), {}), 32, events.append)
    assert set(outcomes) == {n for n, _ in targets} and {o.status for o in outcomes.values()} == {"ok"}
    for _directory, shard, message in sent:
        for target in message["args"]["targets"]:
            assert shard == shard_for(target["conn"]["host"])
            assert target["conn"]["wsman"]["password"] == "pw"
        assert message["op"] == "fanout"
    assert sum(m["args"]["throttle_limit"] for _d, _s, m in sent) <= 32
    assert sorted(ran_local) == ["down", "nopersist"]
    assert sorted(e["host"] for e in events) == sorted(n for n, _ in targets if n not in ran_local)
