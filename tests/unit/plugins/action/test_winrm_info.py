"""winrm_info against the fake host: everything as facts, nothing changed."""

from __future__ import annotations

from ansible_collections.psremoting.core.plugins.action.winrm_info import ActionModule
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    make_certificate,
    run_action,
)


def test_info_reports_all_sections_read_only() -> None:
    cert, _ = make_certificate(["web01"], days=30)
    host = FakeWindows(
        certs=[cert],
        listeners=[
            {
                "Address": "*",
                "Transport": "HTTPS",
                "Port": "5986",
                "Hostname": "web01",
                "Enabled": "true",
                "URLPrefix": "wsman",
                "CertificateThumbprint": cert["Thumbprint"],
            }
        ],
        policies={"HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service": {"AllowBasic": 0}},
        rules={
            "WINRM-HTTP-In-TCP": {
                "DisplayName": "x",
                "Enabled": "True",
                "Profile": ["Domain", "Private"],
                "LocalPort": ["5985"],
                "RemoteAddress": ["Any"],
            }
        },
        sessions={
            "microsoft.powershell": {
                "Name": "microsoft.powershell",
                "Enabled": "true",
                "SecurityDescriptorSddl": "O:NSG:BAD:P(A;;GA;;;BA)",
            }
        },
    )
    result = run_action(ActionModule, {}, host, check_mode=True)
    info = result["winrm"]
    assert result["changed"] is False and host.changes() == []
    assert info["service"]["auth_basic"] is False
    assert info["service"]["locked_by_policy"] == ["auth_basic"]
    assert info["service"]["status"] == "running" and info["service"]["start_mode"] == "automatic"
    assert info["client"]["trusted_hosts"] == []
    assert info["listeners"][0]["certificate"]["thumbprint"] == cert["Thumbprint"]
    assert info["listeners"][0]["certificate"]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert info["firewall"] == [
        {
            "name": "WINRM-HTTP-In-TCP",
            "display_name": "x",
            "enabled": True,
            "profiles": ["Domain", "Private"],
            "port": "5985",
            "remote_address": ["Any"],
            "transport": "http",
        }
    ]
    assert info["session_configurations"][0]["enabled"] is True


def test_gather_subset() -> None:
    host = FakeWindows()
    result = run_action(ActionModule, {"gather": ["client"]}, host)
    assert set(result["winrm"]) == {"client"}
