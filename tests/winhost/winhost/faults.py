"""Injected faults of one simulated host.

The transport applies every fault here (request latency, the shell-creation delay on a WSMan
``Create``, dropped Receive connections, HTTP error bursts, network cuts, a cut after so many bytes); the WSMan service receives the
object too but must not apply the delays a second time. ``kill-shells`` and ``restart`` are
actions, not state: :class:`winhost.hostset.HostSet` carries them out.
"""

from __future__ import annotations

import threading
import time
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
        self._cut_until = 0.0
        self._cut_on_output_ms = 0
        self._cut_after_bytes = 0
        self._cut_after_ms = 0

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

    def cut_network(self, ms: int) -> None:
        """The network is cut from now for ``ms`` milliseconds: every connection and request is
        dropped without an answer, and an answer computed meanwhile (a long-polling Receive that
        found output) never reaches the client."""
        with self._lock:
            self._cut_until = max(self._cut_until, time.monotonic() + max(0, ms) / 1000.0)

    def cut_on_output(self, ms: int) -> None:
        """Arm a cut of ``ms`` milliseconds that starts when the next Receive answer carrying
        output is about to be sent: that answer is lost on the network."""
        with self._lock:
            self._cut_on_output_ms = max(1, ms)

    def cut_after_bytes(self, count: int, ms: int) -> None:
        """Arm a cut of ``ms`` milliseconds that starts once ``count`` more bytes of request and
        answer bodies have passed: the request (never handled) or answer (never delivered) that
        crosses the mark is lost, like a link that dies in the middle of an upload or download."""
        with self._lock:
            self._cut_after_bytes = max(1, count)
            self._cut_after_ms = max(1, ms)

    def count_traffic(self, size: int) -> bool:
        """Count one request or answer body; True (and the cut starts) when it crosses an armed
        mark."""
        with self._lock:
            if not self._cut_after_bytes:
                return False
            self._cut_after_bytes -= min(size, self._cut_after_bytes)
            if self._cut_after_bytes:
                return False
            ms, self._cut_after_ms = self._cut_after_ms, 0
        self.cut_network(ms)
        return True

    def network_cut(self) -> bool:
        with self._lock:
            return time.monotonic() < self._cut_until

    def take_cut_on_output(self) -> bool:
        """True once when an armed cut-on-output fires (the cut starts now)."""
        with self._lock:
            ms, self._cut_on_output_ms = self._cut_on_output_ms, 0
        if ms:
            self.cut_network(ms)
        return bool(ms)

    def clear(self) -> None:
        with self._lock:
            self.latency_ms = 0
            self.shell_create_ms = 0
            self._drop_receives = 0
            self._http_error_status = 0
            self._http_error_count = 0
            self._cut_until = 0.0
            self._cut_on_output_ms = 0
            self._cut_after_bytes = 0
            self._cut_after_ms = 0

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
                "network_cut_ms": max(0, int((self._cut_until - time.monotonic()) * 1000)),
                "cut_on_output_ms": self._cut_on_output_ms,
                "cut_after_bytes": self._cut_after_bytes,
            }
