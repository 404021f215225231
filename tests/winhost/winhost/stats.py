"""Per-host counters, exact and thread-safe.

Who counts what (so nothing is counted twice):

* the transport (``winhost.transport``) counts HTTP requests (authentication legs included),
  bytes in/out on the wire, TLS handshakes and WSMan requests by action (it reads the
  ``wsa:Action`` of every envelope it hands to the WSMan service);
* the WSMan service (``winhost.wsman``) counts shells and operations with
  :meth:`HostStats.shell_opened` / :meth:`HostStats.shell_closed` and
  :meth:`HostStats.operation_started` / :meth:`HostStats.operation_finished`.
"""

from __future__ import annotations

import threading
from typing import Any

#: WS-Management actions reported by ``winhost stats``, keyed by the last segment of the
#: action URI (``http://schemas.xmlsoap.org/ws/2004/09/transfer/Create`` -> ``Create``).
WSMAN_ACTIONS: tuple[str, ...] = (
    "Create",
    "Command",
    "Send",
    "Receive",
    "Signal",
    "Delete",
    "Get",
    "Put",
    "Enumerate",
    "Pull",
    "Disconnect",
    "Reconnect",
    "Connect",
)


def action_name(action_uri: str) -> str:
    """Short name of a WS-Management action URI (``.../shell/Receive`` -> ``Receive``)."""
    name = action_uri.rstrip("/").rsplit("/", 1)[-1]
    return name or "Unknown"


class HostStats:
    """Counters of one simulated host. All methods are safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wsman: dict[str, int] = {}
        self._http_requests = 0
        self._http_status: dict[str, int] = {}
        self._bytes_in = 0
        self._bytes_out = 0
        self._tls_handshakes = 0
        self._connections = 0
        self._auth_failures = 0
        self._shells_created = 0
        self._shells_open = 0
        self._operations_open = 0
        self._operations_started = 0
        # C# compiles of Ansible's Add-CSharpType (ansible_exec) and the most assemblies they
        # left loaded in one session process (a .NET assembly cannot be unloaded).
        self._csharp_compiles = 0
        self._assemblies_peak = 0
        # Receive retransmissions answered again from the kept answer (MS-WSMV 3.1.4.1.39).
        self._receive_retransmissions = 0

    # transport side -------------------------------------------------------------------------
    def record_wsman_action(self, action: str) -> None:
        """Count one WSMan request; ``action`` is a short name or a full action URI."""
        name = action_name(action) if "/" in action else action
        with self._lock:
            self._wsman[name] = self._wsman.get(name, 0) + 1

    def record_http_request(self, status: int | None = None) -> None:
        with self._lock:
            self._http_requests += 1
            if status is not None:
                key = str(status)
                self._http_status[key] = self._http_status.get(key, 0) + 1

    def record_http_status(self, status: int) -> None:
        with self._lock:
            key = str(status)
            self._http_status[key] = self._http_status.get(key, 0) + 1

    def add_bytes_in(self, count: int) -> None:
        with self._lock:
            self._bytes_in += count

    def add_bytes_out(self, count: int) -> None:
        with self._lock:
            self._bytes_out += count

    def record_tls_handshake(self) -> None:
        with self._lock:
            self._tls_handshakes += 1

    def record_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def record_auth_failure(self) -> None:
        with self._lock:
            self._auth_failures += 1

    # WSMan side -----------------------------------------------------------------------------
    def shell_opened(self) -> None:
        with self._lock:
            self._shells_created += 1
            self._shells_open += 1

    def shell_closed(self, count: int = 1) -> None:
        with self._lock:
            self._shells_open = max(0, self._shells_open - count)

    def operation_started(self) -> None:
        with self._lock:
            self._operations_started += 1
            self._operations_open += 1

    def operation_finished(self, count: int = 1) -> None:
        with self._lock:
            self._operations_open = max(0, self._operations_open - count)

    def csharp_compiled(self, assemblies_in_process: int) -> None:
        """One Add-CSharpType compile; the process that ran it now holds that many assemblies."""
        with self._lock:
            self._csharp_compiles += 1
            self._assemblies_peak = max(self._assemblies_peak, assemblies_in_process)

    def receive_retransmitted(self) -> None:
        """A Receive retransmission was answered again with the answer lost on the network."""
        with self._lock:
            self._receive_retransmissions += 1

    # reading --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every counter."""
        with self._lock:
            wsman = {name: self._wsman.get(name, 0) for name in WSMAN_ACTIONS}
            for name, count in self._wsman.items():
                wsman.setdefault(name, count)
            return {
                "wsman_requests": wsman,
                "wsman_requests_total": sum(self._wsman.values()),
                "http_requests": self._http_requests,
                "http_status": dict(self._http_status),
                "bytes_in": self._bytes_in,
                "bytes_out": self._bytes_out,
                "tls_handshakes": self._tls_handshakes,
                "connections": self._connections,
                "auth_failures": self._auth_failures,
                "shells_created": self._shells_created,
                "shells_open": self._shells_open,
                "operations_started": self._operations_started,
                "operations_open": self._operations_open,
                "csharp_compiles": self._csharp_compiles,
                "assemblies_per_process_peak": self._assemblies_peak,
                "receive_retransmissions": self._receive_retransmissions,
            }

    def reset(self) -> None:
        """Zero the cumulative counters; gauges (open shells/operations) keep their value."""
        with self._lock:
            self._wsman.clear()
            self._http_requests = 0
            self._http_status.clear()
            self._bytes_in = 0
            self._bytes_out = 0
            self._tls_handshakes = 0
            self._connections = 0
            self._auth_failures = 0
            self._shells_created = 0
            self._operations_started = 0
            self._csharp_compiles = 0
            self._assemblies_peak = 0
            self._receive_retransmissions = 0
