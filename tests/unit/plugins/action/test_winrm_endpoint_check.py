"""winrm_endpoint_check: which failures get the listener/firewall hint."""

from __future__ import annotations

import http.client
import ssl

import pytest

from ansible_collections.psremoting.core.plugins.action.winrm_endpoint_check import looks_dropped


@pytest.mark.parametrize(
    ("exc", "dropped"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (TimeoutError("timed out"), True),
        # a reset that races the TLS ClientHello surfaces as an EOF inside the handshake
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), True),
        (ssl.SSLError(1, "wrong version number"), False),
        (http.client.BadStatusLine("garbage"), False),
    ],
)
def test_dropped_connections_get_the_firewall_hint(exc: BaseException, dropped: bool) -> None:
    assert looks_dropped(exc) is dropped
