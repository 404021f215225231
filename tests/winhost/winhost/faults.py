"""Injected faults of one simulated host.

The transport applies every fault here (request latency, the shell-creation delay on a WSMan
``Create``, dropped Receive connections, HTTP error bursts); the WSMan service receives the
object too but must not apply the delays a second time. ``kill-shells`` and ``restart`` are
actions, not state: :class:`winhost.hostset.HostSet` carries them out.
"""

from __future__ import annotations

import threading
from typing import Any


class HostFaults:
    """Thread-safe fault switches; ``take_*`` methods consume one-shot faults atomically."""

    def __init__(self, latency_ms: int = 0, shell_create_ms: int = 0) -> None:
        self._lock = threading.Lock()
        self.latency_ms = latency_ms
        self.shell_create_ms = shell_create_ms
        self._drop_receives = 0
        self._http_error_status = 0
        self._http_error_count = 0

    def set_latency(self, ms: int) -> None:
        with self._lock:
            self.latency_ms = max(0, ms)

    def set_shell_create_delay(self, ms: int) -> None:
        with self._lock:
            self.shell_create_ms = max(0, ms)

    def drop_next_receive(self, count: int = 1) -> None:
        with self._lock:
            self._drop_receives += max(1, count)

    def http_error(self, status: int, count: int = 1) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"HTTP error status must be 4xx or 5xx, got {status}")
        with self._lock:
            self._http_error_status = status
            self._http_error_count = max(1, count)

    def clear(self) -> None:
        with self._lock:
            self.latency_ms = 0
            self.shell_create_ms = 0
            self._drop_receives = 0
            self._http_error_status = 0
            self._http_error_count = 0

    def take_drop_receive(self) -> bool:
        """True once per requested drop: the transport closes the connection of that Receive."""
        with self._lock:
            if self._drop_receives > 0:
                self._drop_receives -= 1
                return True
            return False

    def take_http_error(self) -> int | None:
        """The HTTP status to answer the next WSMan request with, or None."""
        with self._lock:
            if self._http_error_count > 0:
                self._http_error_count -= 1
                return self._http_error_status
            return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency_ms": self.latency_ms,
                "shell_create_ms": self.shell_create_ms,
                "drop_receives_pending": self._drop_receives,
                "http_error_status": self._http_error_status if self._http_error_count else None,
                "http_errors_pending": self._http_error_count,
            }
