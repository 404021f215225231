"""_live: events from a running pipeline's records, and the lines a worker prints for them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._live import (
    LiveWatcher,
    LockedEmit,
    done_event,
    event_line,
    show_event,
)


def record(percent: int, status: str = "working", completed: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        activity="Copy",
        description=status,
        current_operation="",
        percent_complete=percent,
        progress_type=SimpleNamespace(value=1 if completed else 0),
    )


class Pipeline:
    def __init__(self) -> None:
        self.streams = SimpleNamespace(progress=[], information=[])


def test_progress_is_rate_limited_per_host_and_completion_always_shows() -> None:
    now = [0.0]
    events: list[dict[str, Any]] = []
    watch = LiveWatcher("dc01", events.append, interval=0.5, clock=lambda: now[0])
    ps = Pipeline()
    ps.streams.progress += [record(10), record(20)]
    watch(ps)  # first poll: the latest record
    ps.streams.progress.append(record(30))
    now[0] = 0.2
    watch(ps)  # within the interval: nothing
    ps.streams.progress.append(record(40))
    now[0] = 0.6
    watch(ps)  # the latest of 30 and 40
    ps.streams.progress += [record(100, "done", completed=True), record(5, "second pass")]
    now[0] = 0.7
    watch(ps)  # a completed activity is never dropped; 5% waits for the interval
    assert [(e["percent"], e["completed"]) for e in events] == [(20, False), (40, False), (100, True)]
    assert all(e["type"] == "progress" and e["host"] == "dc01" for e in events)


def test_information_only_at_verbosity_one() -> None:
    ps = Pipeline()
    ps.streams.information.append(SimpleNamespace(message_data="hello"))
    quiet: list[dict[str, Any]] = []
    LiveWatcher("dc01", quiet.append, verbosity=0)(ps)
    loud: list[dict[str, Any]] = []
    watch = LiveWatcher("dc01", loud.append, verbosity=1)
    watch(ps)
    watch(ps)  # nothing new: nothing sent twice
    assert quiet == []
    assert loud == [{"type": "information", "host": "dc01", "text": "hello"}]


def test_a_failing_emit_never_reaches_the_pipeline() -> None:
    def broken(_event: dict[str, Any]) -> None:
        raise BrokenPipeError("worker gone")

    ps = Pipeline()
    ps.streams.progress.append(record(50))
    watch = LiveWatcher("dc01", broken)
    watch(ps)  # does not raise
    ps.streams.progress.append(record(100, completed=True))
    watch(ps)


def test_lines() -> None:
    assert event_line(done_event("dc01", "ok", 3, 1.234)) == ("dc01: ok, 3 objects, 1.2 s", 0)
    assert event_line(done_event("dc01", "ok", 1, 0.04, "ignored when ok")) == (
        "dc01: ok, 1 object, 0.0 s",
        0,
    )
    assert event_line(done_event("web01", "unreachable", 0, 0.3, "refused")) == (
        "web01: unreachable, 0 objects, 0.3 s (refused)",
        0,
    )
    progress = {"type": "progress", "host": "dc01", "activity": "Copy", "status": "file 3", "percent": 30}
    assert event_line(progress) == ("dc01: Copy: file 3 (30%)", 0)
    assert event_line({**progress, "percent": -1}) == ("dc01: Copy: file 3", 0)
    assert event_line({**progress, "completed": True}) == ("dc01: Copy: file 3 (completed)", 0)
    assert event_line({"type": "information", "host": "dc01", "text": "hi"}) == ("dc01: hi", 1)
    assert event_line({"type": "unknown"}) is None


def test_show_event_uses_display_levels() -> None:
    calls: list[tuple[str, str, int]] = []
    display = SimpleNamespace(
        display=lambda text: calls.append(("display", text, 0)),
        verbose=lambda text, caplevel: calls.append(("verbose", text, caplevel)),
    )
    show_event(done_event("dc01", "ok", 0, 0), display)
    show_event({"type": "information", "host": "dc01", "text": "hi"}, display)
    show_event({"type": "nothing"}, display)
    assert calls == [("display", "dc01: ok, 0 objects, 0.0 s", 0), ("verbose", "dc01: hi", 0)]


def test_locked_emit_stops_after_the_peer_is_gone() -> None:
    sent: list[dict[str, Any]] = []

    def emit(event: dict[str, Any]) -> None:
        if event.get("n") == 2:
            raise BrokenPipeError("gone")
        sent.append(event)

    locked = LockedEmit(emit)
    for n in range(4):
        locked({"n": n})
    assert sent == [{"n": 0}, {"n": 1}] and locked.broken
