"""Issue 16's table, row by row: every bad value is refused before the first request.

Each case runs the action against the fake host and asserts that the refusal names the host, the
option, the value and what is allowed, and that no request at all reached the host (so nothing
can be half-applied). The winhost-backed version of the same rows, read back with winrm_info, is
tests/integration/test_winrm_modules.py::test_issue_16_rows_leave_the_host_unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.action import (
    session_configuration,
    winrm_client,
    winrm_firewall,
    winrm_listener,
    winrm_service,
)
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)

ROWS: list[tuple[Any, dict[str, Any], str, str, str]] = [
    # (action, args, option named, value shown, part of the "allowed" text)
    (winrm_firewall, {"transport": "http", "port": -3}, "port", "-3", "1 to 65535"),
    (winrm_listener, {"transport": "http", "port": 70000}, "port", "70000", "1 to 65535"),
    (winrm_listener, {"transport": "http", "port": -1}, "port", "-1", "1 to 65535"),
    (session_configuration, {"name": "Foo", "sddl": "garbage$(x)"}, "sddl", "'garbage$(x)'", "MS-DTYP"),
    (
        winrm_firewall,
        {"transport": "http", "remote_address": ["1.2.3.4/99", "a\nb'c"]},
        "remote_address[0]",
        "'1.2.3.4/99'",
        "a subnet",
    ),
    (
        winrm_firewall,
        {"transport": "http", "remote_address": ["1.2.3.4/99", "a\nb'c"]},
        "remote_address[1]",
        repr("a\nb'c"),
        "a subnet",
    ),
    (
        winrm_client,
        {"trusted_hosts": ["a,b", "*", "x\ny"], "trusted_hosts_mode": "add"},
        "trusted_hosts[0]",
        "'a,b'",
        "no commas or whitespace",
    ),
    (
        winrm_client,
        {"trusted_hosts": ["a,b", "*", "x\ny"], "trusted_hosts_mode": "add"},
        "trusted_hosts[2]",
        "'x\\ny'",
        "no commas or whitespace",
    ),
    (winrm_service, {"idle_timeout_ms": 0}, "idle_timeout_ms", "0", "60000 to 2147483647"),
    (winrm_service, {"max_envelope_size_kb": 31}, "max_envelope_size_kb", "31", "MS-WSMV"),
    (winrm_service, {"max_shells_per_user": 0}, "max_shells_per_user", "0", "1 to 2147483647"),
    (winrm_service, {"ipv4_filter": ""}, "ipv4_filter", "''", "empty filter"),
    (winrm_service, {"ipv6_filter": "10.0.0.1-10.0.0.9"}, "ipv6_filter", "'10.0.0.1-10.0.0.9'", "IPv6"),
    (
        winrm_listener,
        {"transport": "https", "certificate_thumbprint": "AB" * 19},
        "certificate_thumbprint",
        "'" + "AB" * 19 + "'",
        "40 hexadecimal",
    ),
    (winrm_listener, {"transport": "http", "address": "IP:300.1.1.1"}, "address", "'IP:300.1.1.1'", "MAC:"),
    (winrm_listener, {"transport": "http", "hostname": "bad host"}, "hostname", "'bad host'", "RFC 1123"),
    (session_configuration, {"name": "Foo", "allow": ["a\nb"]}, "allow[0]", "'a\\nb'", "SID"),
    (
        session_configuration,
        {"name": "Foo", "path": "relative.pssc", "content": "@{}"},
        "path",
        "'relative.pssc'",
        "absolute Windows path",
    ),
]


@pytest.mark.parametrize(("action", "args", "option", "shown", "allowed"), ROWS)
def test_bad_value_refused_before_any_request(
    action: Any, args: dict[str, Any], option: str, shown: str, allowed: str
) -> None:
    host = FakeWindows()
    result = run_action(action.ActionModule, args, host)
    assert result["failed"] is True and result["changed"] is False
    msg = result["msg"]
    assert msg.startswith("web01: "), msg
    assert f"option '{option}' = {shown}" in msg, msg
    assert allowed in msg, msg
    assert "nothing was changed" in msg
    assert host.requests == [], "a request was sent before the values were checked"


def test_every_bad_value_of_a_task_is_named_at_once() -> None:
    host = FakeWindows()
    msg = run_action(
        winrm_service.ActionModule,
        {"auth_basic": True, "idle_timeout_ms": 0, "max_envelope_size_kb": 1, "ipv4_filter": "x"},
        host,
    )["msg"]
    for option in ("idle_timeout_ms", "max_envelope_size_kb", "ipv4_filter"):
        assert f"option '{option}'" in msg
    assert host.requests == [] and host.wsman["WSMan:\\localhost\\Service\\Auth\\Basic"] == "false"


def test_good_values_are_normalized_and_applied() -> None:
    host = FakeWindows()
    result = run_action(
        winrm_firewall.ActionModule,
        {"transport": "http", "remote_address": ["10.1.2.3/8", "localsubnet", "fe80::1-fe80::9"]},
        host,
    )
    assert result.get("failed") is not True, result
    assert host.rules["WINRM-HTTP-In-TCP"]["RemoteAddress"] == [
        "10.0.0.0/8",
        "LocalSubnet",
        "fe80::1-fe80::9",
    ]
    client = run_action(
        winrm_client.ActionModule, {"trusted_hosts": ["*.contoso.com", "10.0.0.5", "<local>"]}, host
    )
    assert client["changed"] is True
    assert host.wsman["WSMan:\\localhost\\Client\\TrustedHosts"] == "*.contoso.com,10.0.0.5,<local>"
