"""The end-of-run list of disconnected sessions a run leaves running."""

from __future__ import annotations

import types
from typing import Any

from ansible_collections.psremoting.core.plugins.callback.disconnected_sessions import CallbackModule


class _Display:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def banner(self, text: str) -> None:
        self.lines.append(f"== {text}")

    def display(self, text: str) -> None:
        self.lines.append(text)


def _result(action: str, host: str, **data: Any) -> Any:
    return types.SimpleNamespace(
        _task=types.SimpleNamespace(action=action),
        _host=types.SimpleNamespace(get_name=lambda: host),
        _result=data,
    )


def _callback() -> tuple[CallbackModule, _Display]:
    callback = CallbackModule()
    display = _Display()
    callback._display = display  # type: ignore[assignment]
    return callback, display


def test_lists_started_sessions_that_were_not_received() -> None:
    callback, display = _callback()
    start = "psremoting.core.invoke_command"
    callback.v2_runner_on_ok(
        _result(start, "web01", session_id="aa-1", pipeline_id="p1", state="Disconnected")
    )
    callback.v2_runner_on_ok(
        _result(start, "web02", session_id="BB-2", pipeline_id="p2", state="Disconnected")
    )
    callback.v2_runner_on_ok(
        _result("psremoting.core.pssession", "web02", session_id="bb-2", state="Completed")
    )
    callback.v2_runner_on_ok(_result(start, "web03", output=["not disconnected"]))
    callback.v2_playbook_on_stats(None)
    assert display.lines[0] == "== DISCONNECTED SESSIONS LEFT RUNNING"
    assert display.lines[1] == "web01: session AA-1 (pipeline p1)"
    assert len(display.lines) == 3 and "pssession" in display.lines[2]


def test_silent_when_nothing_is_left() -> None:
    callback, display = _callback()
    start = "invoke_command"
    callback.v2_runner_on_ok(_result(start, "web01", session_id="A", pipeline_id="p", state="Disconnected"))
    callback.v2_runner_on_ok(_result("pssession", "web01", session_id="a", state="Stopped"))
    callback.v2_playbook_on_stats(None)
    assert display.lines == []


def test_a_check_mode_receive_does_not_count() -> None:
    callback, display = _callback()
    callback.v2_runner_on_ok(
        _result("invoke_command", "h", session_id="A", pipeline_id="p", state="Disconnected")
    )
    callback.v2_runner_on_ok(_result("pssession", "h", session_id="A", skipped=True))
    callback.v2_playbook_on_stats(None)
    assert display.lines[1] == "h: session A (pipeline p)"
