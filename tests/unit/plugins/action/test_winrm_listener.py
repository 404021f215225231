"""winrm_listener against the fake host: HTTP/HTTPS listeners, certificates, safety."""

from __future__ import annotations

import ssl

from cryptography import x509

from ansible_collections.psremoting.core.plugins.action.winrm_listener import ActionModule
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    make_certificate,
    run_action,
)


def http_listener() -> dict:
    return {
        "Address": "*",
        "Transport": "HTTP",
        "Port": "5985",
        "Hostname": "",
        "Enabled": "true",
        "URLPrefix": "wsman",
        "CertificateThumbprint": "",
        "ListeningOn": ["127.0.0.1"],
    }


def test_self_signed_https_four_steps_and_pem() -> None:
    host = FakeWindows(listeners=[http_listener()])
    args = {"transport": "https", "self_signed": True}
    opts = {"protocol": "http", "port": 5985, "auth": "ntlm"}

    checked = run_action(ActionModule, args, host, check_mode=True, options=opts)
    assert checked["changed"] is True
    assert host.changes() == []
    assert len(host.listeners) == 1 and host.certs == []

    applied = run_action(ActionModule, args, host, options=opts)
    assert applied["changed"] is True and applied["certificate_created"] is True
    https = [lst for lst in host.listeners if lst["Transport"] == "HTTPS"]
    assert len(https) == 1
    (cert,) = host.certs
    assert https[0]["CertificateThumbprint"] == cert["Thumbprint"]
    assert https[0]["Hostname"] == "web01"
    # SANs: short name and FQDN (Win32_ComputerSystem DNSHostName + Domain).
    new_call = next(c for c in host.log if c["name"] == "New-SelfSignedCertificate")
    assert new_call["parameters"]["DnsName"] == ["web01", "web01.contoso.test"]
    assert new_call["parameters"]["KeyLength"] == 4096
    # The returned PEM is the certificate itself (the controller can trust it).
    pem = applied["certificate"]["pem"]
    parsed = x509.load_pem_x509_certificate(pem.encode())
    assert ssl.PEM_cert_to_DER_cert(pem) == bytes(cert["RawData"])
    sans = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    assert sans == ["web01", "web01.contoso.test"]

    host.log.clear()
    again = run_action(ActionModule, args, host, options=opts)
    assert again["changed"] is False
    assert host.changes() == []
    assert again["certificate"]["thumbprint"] == cert["Thumbprint"]


def test_expired_self_signed_is_renewed() -> None:
    obj, _ = make_certificate(["web01", "web01.contoso.test"], days=10)
    host = FakeWindows(
        certs=[obj],
        listeners=[
            {
                "Address": "*",
                "Transport": "HTTPS",
                "Port": "5986",
                "Hostname": "web01",
                "Enabled": "true",
                "URLPrefix": "wsman",
                "CertificateThumbprint": obj["Thumbprint"],
            }
        ],
    )
    result = run_action(
        ActionModule,
        {"transport": "https", "self_signed": True, "renew_before_days": 30},
        host,
        options={"protocol": "http", "port": 5985},
    )
    assert result["changed"] is True
    assert result["certificate_created"] is True
    assert host.listeners[0]["CertificateThumbprint"] != obj["Thumbprint"]
    assert result["diff"]["before"]["certificate_thumbprint"] == obj["Thumbprint"]


def test_certificate_by_subject_picks_latest_usable() -> None:
    old, _ = make_certificate(["web01.contoso.test"], days=100, issuer_cn="Contoso CA")
    new, _ = make_certificate(["web01.contoso.test"], days=400, issuer_cn="Contoso CA")
    client_only, _ = make_certificate(
        ["web01.contoso.test"], days=900, issuer_cn="Contoso CA", server_auth=False
    )
    host = FakeWindows(certs=[old, new, client_only])
    result = run_action(
        ActionModule,
        {
            "transport": "https",
            "certificate_subject": "CN=web01.contoso.test",
            "certificate_issuer": "CN=Contoso CA",
        },
        host,
    )
    assert result["changed"] is True
    assert host.listeners[0]["CertificateThumbprint"] == new["Thumbprint"]
    assert host.listeners[0]["Hostname"] == "web01.contoso.test"


def test_unknown_thumbprint_fails_with_fix() -> None:
    host = FakeWindows()
    result = run_action(ActionModule, {"transport": "https", "certificate_thumbprint": "ab" * 20}, host)
    assert result["failed"] is True
    assert result["msg"].startswith("web01: winrm_listener: no certificate with thumbprint " + "AB" * 20)
    assert "Import-PfxCertificate" in result["msg"]


def test_bad_thumbprint_and_address_rejected() -> None:
    host = FakeWindows()
    assert (
        "40 hexadecimal"
        in run_action(ActionModule, {"transport": "https", "certificate_thumbprint": "xyz"}, host)["msg"]
    )
    assert (
        "IP:<address>" in run_action(ActionModule, {"transport": "http", "address": "10.0.0.1"}, host)["msg"]
    )


def test_http_listener_port_change_and_idempotence() -> None:
    host = FakeWindows(listeners=[http_listener()])
    result = run_action(ActionModule, {"transport": "http", "port": 8985}, host)
    assert result["changed"] is True
    assert host.listeners[0]["Port"] == "8985"
    assert run_action(ActionModule, {"transport": "http", "port": 8985}, host)["changed"] is False


def test_refuses_removing_listener_in_use() -> None:
    host = FakeWindows(listeners=[http_listener()])
    opts = {"protocol": "http", "port": 5985}
    result = run_action(ActionModule, {"transport": "http", "state": "absent"}, host, options=opts)
    assert result["failed"] is True
    assert "refusing to remove the HTTP listener" in result["msg"]
    assert host.listeners
    moved = run_action(ActionModule, {"transport": "http", "port": 1234}, host, options=opts)
    assert moved["failed"] is True and "move to port 1234" in moved["msg"]
    ok = run_action(
        ActionModule, {"transport": "http", "state": "absent", "allow_disconnect": True}, host, options=opts
    )
    assert ok["changed"] is True and host.listeners == []


def test_remove_other_listener_allowed_and_check_mode_safe() -> None:
    host = FakeWindows(listeners=[http_listener()])
    opts = {"protocol": "https", "port": 5986}
    checked = run_action(
        ActionModule, {"transport": "http", "state": "absent"}, host, check_mode=True, options=opts
    )
    assert checked["changed"] is True and host.listeners
    assert run_action(ActionModule, {"transport": "http", "state": "absent"}, host, options=opts)["changed"]
    assert host.listeners == []
    assert (
        run_action(ActionModule, {"transport": "http", "state": "absent"}, host, options=opts)["changed"]
        is False
    )


def test_new_wsman_instance_parameters_are_typed() -> None:
    host = FakeWindows()
    run_action(ActionModule, {"transport": "http", "address": "IP:127.0.0.5", "hostname": "web01"}, host)
    (call,) = host.changes()
    assert call == {
        "name": "New-WSManInstance",
        "parameters": {
            "ResourceURI": "winrm/config/Listener",
            "SelectorSet": {"Address": "IP:127.0.0.5", "Transport": "HTTP"},
            "ValueSet": {"Port": 5985, "Enabled": True, "Hostname": "web01"},
        },
    }


def test_self_signed_false_combines_and_true_excludes_other_sources() -> None:
    cert, _ = make_certificate(["web01.contoso.test"], days=100, issuer_cn="Contoso CA")
    host = FakeWindows(certs=[cert])
    ok = run_action(
        ActionModule,
        {"transport": "https", "self_signed": False, "certificate_subject": "CN=web01.contoso.test"},
        host,
    )
    assert ok["changed"] is True and host.listeners[0]["CertificateThumbprint"] == cert["Thumbprint"]
    clash = run_action(
        ActionModule,
        {"transport": "https", "self_signed": True, "certificate_subject": "CN=web01.contoso.test"},
        host,
    )
    assert clash["failed"] is True and "self_signed=true excludes" in clash["msg"]
