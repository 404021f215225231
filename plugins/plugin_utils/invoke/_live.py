# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live output of a running pipeline: progress, information and per-host completion events.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Where the pipeline runs (the session broker, or the worker for ``session_persist: false``) a
``LiveWatcher`` is called after every WSMan Receive (``PSRPSession.wait``'s ``on_poll``) and turns
the records that arrived since the last call into small JSON events. The broker sends them to the
worker as event frames before the final reply (``broker._client.BrokerClient.request``'s
``on_event``); the worker prints them with ``show_event`` while the task still runs:

* ``progress``: ``Write-Progress`` records, at most one line per host every ``PROGRESS_INTERVAL``
  seconds (the latest record wins) plus every completed activity;
* ``information``: information records (``Write-Information``, ``Write-Host``), only when the task
  runs at ``-v`` or more;
* ``done``: one host finished a one-to-many run (``dc01: ok, 3 objects, 1.2 s``).

Events carry no secret: record text is the script's own output, which the final result holds
anyway. Nothing here imports Ansible or pypsrp.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

Event = dict[str, Any]
Emit = Callable[[Event], None]

PROGRESS_INTERVAL = 0.5  # seconds between two progress lines of one host


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any, default: int = -1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _completed(record: Any) -> bool:
    kind = getattr(record, "progress_type", None)
    value = getattr(kind, "value", kind)
    return _int(value, 0) == 1 or _text(value).lower() == "completed"


def progress_event(host: str, record: Any) -> Event:
    return {
        "type": "progress",
        "host": host,
        "activity": _text(getattr(record, "activity", "")),
        "status": _text(getattr(record, "description", "")),
        "operation": _text(getattr(record, "current_operation", "")),
        "percent": _int(getattr(record, "percent_complete", -1)),
        "completed": _completed(record),
    }


def information_text(record: Any) -> str:
    data = getattr(record, "message_data", record)
    return _text(getattr(data, "to_string", None) or data)


class LiveWatcher:
    """``on_poll`` callback: emits the events of one host's running pipeline; never raises."""

    def __init__(
        self,
        host: str,
        emit: Emit,
        verbosity: int = 0,
        interval: float = PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.emit = emit
        self.verbosity = verbosity
        self.interval = interval
        self.clock = clock
        self._progress_seen = 0
        self._information_seen = 0
        self._last_progress = float("-inf")

    def __call__(self, pipeline: Any) -> None:
        try:
            self._poll(pipeline)
        except Exception:  # a lost worker or an odd record must never fail the pipeline
            self.emit = lambda _event: None

    def _poll(self, pipeline: Any) -> None:
        streams = getattr(pipeline, "streams", None)
        if streams is None:
            return
        progress = list(getattr(streams, "progress", None) or [])
        fresh, self._progress_seen = progress[self._progress_seen :], len(progress)
        latest = fresh[-1] if fresh else None
        for record in fresh:
            if _completed(record) and record is not latest:
                self.emit(progress_event(self.host, record))
        now = self.clock()
        if latest is not None and (_completed(latest) or now - self._last_progress >= self.interval):
            self._last_progress = now
            self.emit(progress_event(self.host, latest))
        if self.verbosity < 1:
            return
        information = list(getattr(streams, "information", None) or [])
        for record in information[self._information_seen :]:
            self.emit({"type": "information", "host": self.host, "text": information_text(record)})
        self._information_seen = len(information)


def live_output(args: Mapping[str, Any], host: str, emit: Callable[[Event], None] | None) -> dict[str, Any]:
    """``invoke_pipeline`` keywords for a broker ``pipeline`` request: an ``on_poll`` watcher
    sending event frames when the worker asked for live output (``args["live"]`` = verbosity)."""
    if emit is None or args.get("live") is None:
        return {}
    return {"on_poll": LiveWatcher(host, lambda event: emit({"event": event}), int(args["live"]))}


def done_event(host: str, status: str, objects: int, seconds: float, msg: str | None = None) -> Event:
    event: Event = {"type": "done", "host": host, "status": status, "objects": objects}
    event["seconds"] = round(seconds, 3)
    if msg and status != "ok":
        event["msg"] = msg
    return event


def event_line(event: Event) -> tuple[str, int] | None:
    """The text a worker prints for an event and the verbosity it needs (None: not shown)."""
    host = _text(event.get("host"))
    kind = event.get("type")
    if kind == "progress":
        percent = _int(event.get("percent"))
        parts = [p for p in (event.get("activity"), event.get("status"), event.get("operation")) if p]
        text = ": ".join(_text(p) for p in parts) or "progress"
        if event.get("completed"):
            return f"{host}: {text} (completed)", 0
        return (f"{host}: {text} ({percent}%)" if percent >= 0 else f"{host}: {text}"), 0
    if kind == "information":
        return f"{host}: {_text(event.get('text'))}", 1
    if kind == "done":
        objects = _int(event.get("objects"), 0)
        noun = "object" if objects == 1 else "objects"
        line = f"{host}: {event.get('status')}, {objects} {noun}, {float(event.get('seconds') or 0):.1f} s"
        if event.get("msg"):
            line += f" ({event['msg']})"
        return line, 0
    return None


def show_event(event: Event, display: Any) -> None:
    """Print an event in the worker through Ansible's ``Display`` (sent on to the controller's
    terminal, and to ansible-runner as an event, while the task runs)."""
    shown = event_line(event)
    if shown is None:
        return
    text, verbosity = shown
    if verbosity == 0:
        display.display(text)
    else:
        display.verbose(text, caplevel=verbosity - 1)


class LockedEmit:
    """Serializes ``emit`` calls from the threads of a one-to-many run (one socket, many hosts)."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self.broken = False

    def __call__(self, event: Event) -> None:
        if self.broken:
            return
        with self._lock:
            try:
                self._emit(event)
            except OSError:
                self.broken = True  # the worker went away; the run still finishes and cleans up
