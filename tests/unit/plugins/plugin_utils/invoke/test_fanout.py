"""_fanout: throttled threads, per-host isolation, fail_on, throttle shares, one host's run;"""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import InvokeSpec
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import (
    HostOutcome,
    Job,
    run_target,
    run_throttled,
    split_throttle,
    tag_output,
    task_failed,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import SessionError
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import AUTH, ErrorInfo
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import empty_result


def test_throttle_limit_bounds_concurrency_and_keeps_order() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0

    def work(name: str) -> HostOutcome:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return HostOutcome(name, "ok")

    names = [f"h{i}" for i in range(20)]
    outcomes = run_throttled(names, work, throttle_limit=4)
    assert [o.name for o in outcomes] == names
    assert 2 <= peak <= 4


def test_a_raising_host_does_not_stop_the_others() -> None:
    def work(name: str) -> HostOutcome:
        if name == "bad":
            raise RuntimeError("boom")
        return HostOutcome(name, "ok")

    outcomes = run_throttled(["a", "bad", "b"], work)
    assert [(o.name, o.status) for o in outcomes] == [("a", "ok"), ("bad", "failed"), ("b", "ok")]
    assert "boom" in (outcomes[1].msg or "")


@pytest.mark.parametrize(
    ("statuses", "fail_on", "failed"),
    [
        (["ok", "failed"], "any", True),
        (["ok", "unreachable"], "all", False),
        (["failed", "unreachable"], "all", True),
        (["failed", "failed"], "never", False),
        (["ok", "ok"], "any", False),
    ],
)
def test_fail_on(statuses: list[str], fail_on: str, failed: bool) -> None:
    outcomes = [HostOutcome(f"h{i}", s) for i, s in enumerate(statuses)]
    assert task_failed(outcomes, fail_on) is failed


def test_tag_output() -> None:
    assert tag_output([{"a": 1, "PSComputerName": "x"}, "text"], "web01") == [
        {"a": 1, "PSComputerName": "web01", "PSShowComputerName": True},
        "text",
    ]
    assert tag_output([{"a": 1, "RunspaceId": "old"}], "web01", runspace_id="r1") == [
        {"a": 1, "RunspaceId": "r1", "PSComputerName": "web01", "PSShowComputerName": True}
    ]


@pytest.mark.parametrize(
    ("limit", "sizes", "shares"),
    [
        (32, [50, 50], [16, 16]),
        (100, [700, 300], [70, 30]),
        (10, [3, 100], [1, 9]),  # proportional, each group at least one
        (100, [3, 10], [3, 10]),  # a small group is not given more than it has hosts
        (2, [5, 5, 5], [1, 1, 1]),  # every group runs: one each, even past the limit
        (32, [0, 4], [0, 4]),
    ],
)
def test_split_throttle(limit: int, sizes: list[int], shares: list[int]) -> None:
    assert split_throttle(limit, sizes) == shares


def test_job_round_trips_through_json() -> None:
    spec = InvokeSpec(script="Get-Service", parameters={"Name": "W32time"}, verbosity=2)
    job = Job.of(spec, {"creates": "C:\\x", "script": "ignored", "remote_src": False})
    again = Job.from_dict(json.loads(json.dumps(job.to_dict())))
    assert again.new_spec() == spec
    assert again.args == {"creates": "C:\\x", "removes": None, "path": None, "remote_src": False}
    assert again.new_spec() is not again.new_spec()  # a host may change its own copy


class _Session:
    def __init__(self, respond: Any) -> None:
        self.respond = respond

    def invoke_pipeline(self, request: dict[str, Any], on_poll: Any = None) -> dict[str, Any]:
        return dict(self.respond(request, on_poll))


def _completed(output: list[Any]) -> dict[str, Any]:
    result = dict(empty_result())
    result.update(output=output, state="Completed", runspace_id="3f1c0e0a-0000-4000-8000-000000000001")
    return result


def test_run_target_ok_streams_progress_then_done() -> None:
    class Streams:
        progress = [SimpleNamespace(activity="Copy", description="half", current_operation="",
                                    percent_complete=50, progress_type=SimpleNamespace(value=0))]  # fmt: skip
        information: list[Any] = []

    def respond(_request: dict[str, Any], on_poll: Any) -> dict[str, Any]:
        on_poll(SimpleNamespace(streams=Streams()))
        return _completed([{"Name": "W32Time"}, {"Name": "Spooler"}])

    events: list[dict[str, Any]] = []
    outcome = run_target(
        _Session(respond), "dc01", Job.of(InvokeSpec(script="Get-Service"), {}), events.append
    )
    assert outcome.status == "ok"
    assert [o["PSComputerName"] for o in outcome.fields["output"]] == ["dc01", "dc01"]
    assert [e["type"] for e in events] == ["progress", "done"]
    assert events[0]["activity"] == "Copy" and events[0]["percent"] == 50
    assert events[1]["status"] == "ok" and events[1]["objects"] == 2 and events[1]["host"] == "dc01"


def test_run_target_maps_session_errors_to_a_status() -> None:
    def refuse(_request: dict[str, Any], _on_poll: Any) -> dict[str, Any]:
        raise SessionError(ErrorInfo(AUTH, "dc01: the server rejected the credentials (HTTP 401)"))

    def fail(_request: dict[str, Any], _on_poll: Any) -> dict[str, Any]:
        result = _completed([])
        result.update(state="Failed", error=[{"exception": {"message": "boom"}}])
        return result

    def crash(_request: dict[str, Any], _on_poll: Any) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "Connection refused")

    events: list[dict[str, Any]] = []
    job = Job.of(InvokeSpec(script="1"), {})
    refused = run_target(_Session(refuse), "dc01", job, events.append)
    failed = run_target(_Session(fail), "sql02", job, events.append)
    crashed = run_target(_Session(crash), "web01", job, events.append)
    assert (refused.status, failed.status, crashed.status) == ("unreachable", "failed", "unreachable")
    assert "401" in (refused.msg or "") and "boom" in (failed.msg or "")
    assert "Traceback" not in (crashed.msg or "")
    assert [(e["host"], e["status"]) for e in events] == [
        ("dc01", "unreachable"),
        ("sql02", "failed"),
        ("web01", "unreachable"),
    ]
