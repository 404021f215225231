"""Test helpers for the transport: a stand-in WSMan handler and pypsrp client shortcuts.

The transport is tested with :class:`RecordingService` instead of the real WSMan service so that
authentication, encryption and counting are checked independently of the WSMan layer.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pypsrp.wsman import _TransportHTTP

from winhost.faults import HostFaults
from winhost.stats import HostStats

if TYPE_CHECKING:
    from winhost.hostset import HostSet

ACTION = "http://schemas.xmlsoap.org/ws/2004/09/transfer/{}"
SHELL_ACTION = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/{}"


def envelope(action: str, payload: str = "") -> bytes:
    """A minimal SOAP envelope carrying a WS-Addressing action."""
    uri = (
        ACTION.format(action) if action in ("Create", "Delete", "Get", "Put") else SHELL_ACTION.format(action)
    )
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">'
        f'<s:Header><a:Action s:mustUnderstand="true">{uri}</a:Action></s:Header>'
        f"<s:Body>{payload}</s:Body></s:Envelope>"
    ).encode()


class RecordingService:
    """Stand-in for ``winhost.wsman.service.WSManService``: records and echoes."""

    def __init__(self, machine: Any, stats: HostStats, faults: HostFaults) -> None:
        self.machine = machine
        self.stats = stats
        self.faults = faults
        self.calls: list[tuple[str, bytes, int]] = []
        self.closed = 0
        self.killed = 0
        self.response_size = 0
        self.lock = threading.Lock()

    def handle(self, user: str, body: bytes, max_envelope_bytes: int) -> tuple[int, bytes]:
        with self.lock:
            self.calls.append((user, body, max_envelope_bytes))
        filler = "x" * self.response_size
        return 200, f"<s:Envelope><user>{user}</user><len>{len(body)}</len>{filler}</s:Envelope>".encode()

    def close_all(self) -> None:
        self.closed += 1

    def kill_shell(self, shell_id: str | None = None) -> int:
        self.killed += 1
        return 3


def service_of(hs: HostSet, name: str) -> RecordingService:
    handler = hs.host(name).handler
    assert isinstance(handler, RecordingService)
    return handler


def transport(
    hs: HostSet,
    name: str = "dc01",
    *,
    https: bool = True,
    auth: str = "ntlm",
    user: str | None = None,
    password: str | None = None,
    encryption: str = "auto",
    **kwargs: Any,
) -> _TransportHTTP:
    """A pypsrp HTTP transport to host ``name`` built from the inventory's values."""
    hostvars = hs.inventory()["all"]["children"]["windows"]["hosts"][name]
    port = hostvars["winhost_https_port"] if https else hostvars["winhost_http_port"]
    return _TransportHTTP(
        hostvars["ansible_host"],
        port=port,
        username=user if user is not None else hostvars["ansible_user"],
        password=password if password is not None else hostvars["ansible_password"],
        ssl=https,
        auth=auth,
        encryption=encryption,
        cert_validation=hostvars["ansible_psrp_ca_cert"],
        path="wsman",
        no_proxy=True,
        **kwargs,
    )


def configure(hs: HostSet, name: str, topic: str = "wsman", **changes: Any) -> None:
    """Change the machine's WSMan service settings (``auth_basic=True``, ``allow_unencrypted=True``...)."""
    machine = hs.host(name).machine
    with machine.lock:
        service = machine.wsman.service
        for key, value in changes.items():
            if key.startswith("auth_"):
                setattr(service.auth, key[5:], value)
            else:
                setattr(service, key, value)
    machine.notify(topic)
