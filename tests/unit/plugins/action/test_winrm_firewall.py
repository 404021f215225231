"""winrm_firewall against the fake host: per-profile rules with remote address scope."""

from __future__ import annotations

from ansible_collections.psremoting.core.plugins.action.winrm_firewall import ActionModule
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)


def test_https_rules_created_with_public_scoped_to_local_subnet() -> None:
    host = FakeWindows()
    args = {"transport": "https"}
    checked = run_action(
        ActionModule, args, host, check_mode=True, options={"protocol": "http", "port": 5985}
    )
    assert checked["changed"] is True and host.rules == {}
    run_action(ActionModule, args, host, options={"protocol": "http", "port": 5985})
    assert host.rules["WINRM-HTTPS-In-TCP"]["Profile"] == ["Domain", "Private"]
    assert host.rules["WINRM-HTTPS-In-TCP"]["RemoteAddress"] == ["Any"]
    assert host.rules["WINRM-HTTPS-In-TCP-PUBLIC"]["Profile"] == ["Public"]
    assert host.rules["WINRM-HTTPS-In-TCP-PUBLIC"]["RemoteAddress"] == ["LocalSubnet"]
    assert host.rules["WINRM-HTTPS-In-TCP"]["LocalPort"] == ["5986"]
    host.log.clear()
    assert run_action(ActionModule, args, host)["changed"] is False
    assert host.changes() == []


def test_scope_change_updates_only_that_rule() -> None:
    host = FakeWindows()
    run_action(ActionModule, {"transport": "https"}, host)
    host.log.clear()
    result = run_action(ActionModule, {"transport": "https", "remote_address": ["10.0.0.0/8"]}, host)
    assert result["changed"] is True
    (change,) = host.changes()
    assert change == {
        "name": "Set-NetFirewallRule",
        "parameters": {"Name": "WINRM-HTTPS-In-TCP", "RemoteAddress": ["10.0.0.0/8"]},
    }


def test_dropping_public_profile_removes_public_rule() -> None:
    host = FakeWindows()
    run_action(ActionModule, {"transport": "http"}, host)
    run_action(ActionModule, {"transport": "http", "profiles": ["domain"]}, host)
    assert set(host.rules) == {"WINRM-HTTP-In-TCP"}
    assert host.rules["WINRM-HTTP-In-TCP"]["Profile"] == ["Domain"]


def test_refuses_closing_port_in_use() -> None:
    host = FakeWindows()
    run_action(ActionModule, {"transport": "http"}, host)
    result = run_action(
        ActionModule,
        {"transport": "http", "state": "absent"},
        host,
        options={"protocol": "http", "port": 5985},
    )
    assert result["failed"] is True and "refuses" in result["msg"]
    assert len(host.rules) == 2
    disabled = run_action(ActionModule, {"transport": "http", "state": "disabled"}, host)
    assert disabled["changed"] is True
    assert {r["Enabled"] for r in host.rules.values()} == {"False"}


def test_refuses_moving_the_rule_of_the_transport_in_use() -> None:
    """A rule moved to another port closes the port the play connects through (Windows accepts
    it; the host would become unreachable), so it needs allow_disconnect."""
    host = FakeWindows()
    in_use = {"protocol": "http", "port": 5985}
    run_action(ActionModule, {"transport": "http"}, host, options=in_use)
    host.log.clear()
    result = run_action(ActionModule, {"transport": "http", "port": 5999}, host, options=in_use)
    assert result["failed"] is True and "close the port in use" in result["msg"]
    assert host.changes() == [] and host.rules["WINRM-HTTP-In-TCP"]["LocalPort"] == ["5985"]
    moved = run_action(
        ActionModule, {"transport": "http", "port": 5999, "allow_disconnect": True}, host, options=in_use
    )
    assert moved["changed"] is True and host.rules["WINRM-HTTP-In-TCP"]["LocalPort"] == ["5999"]
    other = run_action(ActionModule, {"transport": "https", "port": 6000}, host, options=in_use)
    assert other.get("failed") is not True and host.rules["WINRM-HTTPS-In-TCP"]["LocalPort"] == ["6000"]
