"""_fanout: throttled threads, per-host isolation, fail_on and connection variables."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils._fanout import (
    HostOutcome,
    connection_var_options,
    run_throttled,
    tag_output,
    task_failed,
)


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


def test_connection_var_options() -> None:
    host_vars = {"ansible_user": "{{ user }}", "ansible_port": 5986, "unrelated": 1}
    options = connection_var_options(
        host_vars, ["ansible_user", "ansible_port", "ansible_host"], "web01", render=lambda v: f"<{v}>"
    )
    assert options == {"ansible_user": "<{{ user }}>", "ansible_port": "<5986>", "ansible_host": "web01"}
    with_address = connection_var_options({"ansible_host": "127.0.0.5"}, ["ansible_host"], "web01")
    assert with_address == {"ansible_host": "127.0.0.5"}


def test_tag_output() -> None:
    assert tag_output([{"a": 1, "PSComputerName": "x"}, "text"], "web01") == [
        {"a": 1, "PSComputerName": "web01"},
        "text",
    ]
