"""The machine model: Windows Server 2022 defaults, presets, persistence, change notification.

Defaults are checked against "Installation and configuration for Windows Remote Management"
(https://learn.microsoft.com/en-us/windows/win32/winrm/installation-and-configuration-for-windows-remote-management)
and about_Remote_Troubleshooting (firewall rules on public networks).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from winhost.engine.model import (
    TOPIC_FIREWALL,
    TOPIC_LISTENERS,
    TOPIC_SERVICES,
    TOPIC_WSMAN,
    CIDict,
    Machine,
    configured,
    fresh,
    normalize_registry_path,
)

from .helpers import Engine


def test_fresh_wsman_service_defaults_match_microsoft_docs() -> None:
    m = fresh()
    svc = m.wsman.service
    assert (
        svc.auth.basic,
        svc.auth.kerberos,
        svc.auth.negotiate,
        svc.auth.certificate,
        svc.auth.credssp,
    ) == (
        False,
        True,
        True,
        False,
        False,
    )
    assert svc.cbt_hardening_level == "Relaxed"
    assert svc.allow_unencrypted is False
    assert m.wsman.max_envelope_size_kb == 500
    assert svc.max_concurrent_operations_per_user == 1500
    assert svc.max_shells_per_user == 30
    assert svc.idle_timeout_ms == 7200000
    assert m.wsman.shell.max_memory_per_shell_mb == 2147483647


def test_fresh_has_one_http_listener_on_all_addresses() -> None:
    listeners = fresh().wsman.listeners
    assert [(lst.address, lst.transport, lst.port, lst.enabled) for lst in listeners] == [
        ("*", "HTTP", 5985, True)
    ]


def test_fresh_services_winrm_and_w32time() -> None:
    m = fresh()
    assert m.services["winrm"].status == "Running"
    assert m.services["WinRM"].start_type == "Automatic"
    w32 = m.services["W32time"]
    assert (w32.name, w32.display_name, w32.status, w32.start_type) == (
        "W32Time",
        "Windows Time",
        "Running",
        "Automatic",
    )
    assert len(m.services) >= 12


def test_fresh_firewall_rules_and_public_local_subnet() -> None:
    fw = fresh().firewall
    http = fw.find("WINRM-HTTP-In-TCP")
    public = fw.find("WINRM-HTTP-In-TCP-PUBLIC")
    assert http is not None
    assert public is not None
    assert http.profiles == ["Domain", "Private"]
    assert public.profiles == ["Public"]
    assert public.remote_addresses == ["LocalSubnet"]
    # Public profile: loopback counts as the local subnet, any other port is blocked.
    assert fw.network_category == "Public"
    assert fw.allows(5985, "127.0.0.1")
    assert not fw.allows(5986, "127.0.0.1")
    assert not fw.allows(5985, "8.8.8.8")


def test_firewall_block_rule_wins_and_disabled_profile_allows(machine: Machine) -> None:
    from winhost.engine.model import FirewallRule

    machine.firewall.rules.append(FirewallRule("block", "block", action="Block", local_ports=["5985"]))
    assert not machine.firewall.allows(5985, "127.0.0.1")
    machine.firewall.profiles_enabled["Public"] = False
    assert machine.firewall.allows(5985, "127.0.0.1")


def test_configured_preset_has_https_listener_with_real_certificate() -> None:
    m = configured("web01")
    https = m.wsman.find_listener("*", "HTTPS")
    assert https is not None
    assert https.port == 5986
    stored = m.cert_store[https.certificate_thumbprint]
    cert = x509.load_pem_x509_certificate(stored.cert_pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "web01" in san.get_values_for_type(x509.DNSName)
    assert stored.has_private_key
    assert m.wsman.service.auth.basic is True
    assert "vagrant" in m.accounts
    assert m.accounts["administrator"].is_admin


def test_json_round_trip_keeps_everything(tmp_path: Path) -> None:
    m = configured("db01")
    m.services["W32Time"].status = "Stopped"
    m.wsman.service.auth.cbt_hardening_level = "Strict"
    m.save(tmp_path)
    loaded = Machine.load(tmp_path)
    assert loaded.to_dict() == {**m.to_dict(), "state_dir": str(tmp_path)}
    assert isinstance(loaded.services, CIDict)
    assert loaded.services["w32time"].status == "Stopped"
    assert loaded.wsman.service.cbt_hardening_level == "Strict"
    assert loaded.wsman.listeners[1].certificate_thumbprint == m.wsman.listeners[1].certificate_thumbprint


def test_load_or_create_persists_changes_made_by_cmdlets(tmp_path: Path) -> None:
    m = Machine.load_or_create(tmp_path / "h1", preset="fresh", computer_name="h1")
    Engine(m).ok("Set-Item WSMan:\\localhost\\Service\\Auth\\Basic -Value $true")
    again = Machine.load_or_create(tmp_path / "h1")
    assert again.wsman.service.auth.basic is True
    assert again.computer_name == "H1"


def test_subscribe_fires_for_configuration_changes(machine: Machine) -> None:
    topics: list[str] = []
    unsubscribe = machine.subscribe(topics.append)
    engine = Engine(machine)
    engine.ok("Set-Item -Path WSMan:\\localhost\\Service\\AllowUnencrypted -Value $true")
    # the WSMan: drive needs the running service: the listeners go before the service stops
    engine.ok("Remove-Item -Path WSMan:\\localhost\\Listener\\* -Recurse")
    engine.ok("Stop-Service -Name WinRM")
    engine.ok("Disable-NetFirewallRule -Name WINRM-HTTP-In-TCP-PUBLIC")
    assert topics == [TOPIC_WSMAN, TOPIC_LISTENERS, TOPIC_SERVICES, TOPIC_FIREWALL]
    assert machine.wsman.service.allow_unencrypted is True
    assert not machine.winrm_running
    assert machine.wsman.listeners == []
    unsubscribe()
    engine.ok("Start-Service WinRM")
    assert len(topics) == 4


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HKEY_LOCAL_MACHINE\\SOFTWARE\\X", "HKLM:\\SOFTWARE\\X"),
        ("Registry::HKLM\\SOFTWARE\\X\\", "HKLM:\\SOFTWARE\\X"),
        ("hklm:/software/x", "HKLM:\\software\\x"),
        ("HKCU:\\", "HKCU:\\"),
    ],
)
def test_normalize_registry_path(raw: str, expected: str) -> None:
    assert normalize_registry_path(raw) == expected
