"""winrm_endpoint_check: which failures get the listener/firewall hint."""

from __future__ import annotations

import http.client
import ssl
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.action.winrm_endpoint_check import looks_dropped
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)


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


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"address": "web01", "port": 0}, "option 'port' = 0"),
        ({"address": "web01", "port": 70000}, "option 'port' = 70000"),
        ({"address": "bad host\n", "port": 5986}, "option 'address'"),
        ({"address": "web01", "port": 5986, "timeout": 0}, "option 'timeout' = 0"),
    ],
)
def test_bad_values_refused_before_any_connection(
    args: dict[str, Any], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ansible_collections.psremoting.core.plugins.action import winrm_endpoint_check

    def no_probe(*_: Any, **__: Any) -> Any:
        raise AssertionError("the endpoint was probed with a bad value")

    monkeypatch.setattr(winrm_endpoint_check, "probe", no_probe)
    result = run_action(winrm_endpoint_check.ActionModule, args, FakeWindows())
    assert result["failed"] is True and result["msg"].startswith("web01: winrm_endpoint_check refuses")
    assert named in result["msg"]
