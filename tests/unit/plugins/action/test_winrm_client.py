"""winrm_client against the fake host: TrustedHosts add/remove/replace, client auth, GPO."""

from __future__ import annotations

from ansible_collections.psremoting.core.plugins.action.winrm_client import ActionModule
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)

TH = "WSMan:\\localhost\\Client\\TrustedHosts"


def test_add_keeps_others_and_is_idempotent() -> None:
    host = FakeWindows()
    host.wsman[TH] = "db01,*.lab.test"
    args = {"trusted_hosts": ["web02", "DB01"]}
    checked = run_action(ActionModule, args, host, check_mode=True)
    assert checked["changed"] is True and host.changes() == []
    assert checked["diff"]["after"]["trusted_hosts"] == ["db01", "*.lab.test", "web02"]
    run_action(ActionModule, args, host)
    assert host.wsman[TH] == "db01,*.lab.test,web02"
    host.log.clear()
    assert run_action(ActionModule, args, host)["changed"] is False
    assert host.changes() == []


def test_remove_and_replace() -> None:
    host = FakeWindows()
    host.wsman[TH] = "a,b,c"
    run_action(ActionModule, {"trusted_hosts": ["B"], "trusted_hosts_mode": "remove"}, host)
    assert host.wsman[TH] == "a,c"
    run_action(ActionModule, {"trusted_hosts": ["x", "y"], "trusted_hosts_mode": "replace"}, host)
    assert host.wsman[TH] == "x,y"
    run_action(ActionModule, {"trusted_hosts": [], "trusted_hosts_mode": "replace"}, host)
    assert host.wsman[TH] == ""


def test_gpo_trusted_hosts_locked() -> None:
    host = FakeWindows(
        policies={
            "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Client": {
                "TrustedHosts": 1,
                "TrustedHostsList": "gpo01",
            }
        }
    )
    host.wsman[TH] = "gpo01"
    result = run_action(ActionModule, {"trusted_hosts": ["web02"]}, host)
    assert result["failed"] is True
    assert "Trusted Hosts" in result["msg"] and "WinRM Client" in result["msg"]
    # Already present: nothing to change, so the lock does not matter.
    assert run_action(ActionModule, {"trusted_hosts": ["GPO01"]}, host)["changed"] is False


def test_client_auth_and_unencrypted() -> None:
    host = FakeWindows()
    result = run_action(ActionModule, {"auth_basic": False, "allow_unencrypted": False}, host)
    assert result["changes"] == ["auth_basic"]
    assert host.wsman["WSMan:\\localhost\\Client\\Auth\\Basic"] == "false"
