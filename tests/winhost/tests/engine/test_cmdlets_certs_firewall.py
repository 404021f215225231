"""Certificates (Cert: drive, New-SelfSignedCertificate, PFX import/export) and NetSecurity cmdlets.

X509Certificate2: https://learn.microsoft.com/en-us/dotnet/api/system.security.cryptography.x509certificates.x509certificate2
New-SelfSignedCertificate: https://learn.microsoft.com/en-us/powershell/module/pki/new-selfsignedcertificate
Get-NetFirewallRule: https://learn.microsoft.com/en-us/powershell/module/netsecurity/get-netfirewallrule
Get-NetConnectionProfile: https://learn.microsoft.com/en-us/powershell/module/netconnection/get-netconnectionprofile
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from winhost.engine import certs
from winhost.engine.model import Machine

from .helpers import Engine


def test_new_self_signed_certificate_is_real(engine: Engine, machine: Machine) -> None:
    (cert,) = engine.ok(
        "New-SelfSignedCertificate -DnsName 'web01', 'web01.example.test' -CertStoreLocation Cert:\\LocalMachine\\My"
    )
    assert cert.PSObject.type_names[0] == "System.Security.Cryptography.X509Certificates.X509Certificate2"
    assert cert.Subject == "CN=web01"
    assert cert.Issuer == "CN=web01"
    assert cert.HasPrivateKey is True
    assert [d.Unicode for d in cert.DnsNameList] == ["web01", "web01.example.test"]
    der = bytes(cert.RawData)
    assert cert.Thumbprint == hashlib.sha1(der).hexdigest().upper()  # X509Certificate2.Thumbprint
    parsed = x509.load_der_x509_certificate(der)
    assert parsed.fingerprint(hashes.SHA1()).hex().upper() == cert.Thumbprint
    assert cert.NotAfter > cert.NotBefore
    assert cert.PSPath == f"Microsoft.PowerShell.Security\\Certificate::LocalMachine\\My\\{cert.Thumbprint}"
    assert machine.cert_store[cert.Thumbprint].store == "My"


def test_cert_drive_listing_and_removal(engine: Engine, machine: Machine) -> None:
    thumb = engine.ok("(New-SelfSignedCertificate -DnsName a).Thumbprint")[0]
    assert engine.ok("Get-ChildItem Cert:\\LocalMachine\\My | ForEach-Object Thumbprint") == [thumb]
    assert engine.ok(f"Test-Path Cert:\\LocalMachine\\My\\{thumb}") == [True]
    engine.ok(f"Remove-Item Cert:\\LocalMachine\\My\\{thumb}")
    assert thumb not in machine.cert_store
    assert engine.ok(f"Test-Path Cert:\\LocalMachine\\My\\{thumb}") == [False]


def test_export_certificate_writes_der(engine: Engine, machine: Machine) -> None:
    engine.ok("New-Item C:\\certs -ItemType Directory | Out-Null")
    (file_info,) = engine.ok(
        "$c = New-SelfSignedCertificate -DnsName b\nExport-Certificate -Cert $c -FilePath C:\\certs\\b.cer"
    )
    assert file_info.PSObject.type_names[0] == "System.IO.FileInfo"
    data = (Path(machine.sandbox_dir) / "certs" / "b.cer").read_bytes()
    cert = x509.load_der_x509_certificate(data)
    assert cert.subject.rfc4514_string() == "CN=b"


def test_import_pfx_certificate(engine: Engine, machine: Machine) -> None:
    cert_pem, key_pem = certs.generate_self_signed(["pfxhost"])
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    pfx = pkcs12.serialize_key_and_certificates(
        b"x",
        key,
        x509.load_pem_x509_certificate(cert_pem.encode()),
        None,  # type: ignore[arg-type]
        serialization.BestAvailableEncryption(b"pw"),
    )
    sandbox = machine.sandbox()
    (sandbox / "host.pfx").write_bytes(pfx)
    (cert,) = engine.ok(
        "Import-PfxCertificate -FilePath C:\\host.pfx -CertStoreLocation Cert:\\LocalMachine\\My -Password pw"
    )
    assert cert.HasPrivateKey is True
    assert machine.cert_store[cert.Thumbprint].key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_get_pfx_data_reads_without_importing(engine: Engine, machine: Machine) -> None:
    """Get-PfxData (PKI): the thumbprint of the end-entity certificate, nothing imported; a wrong
    password fails (psremoting.core's enable_psremoting role reads the thumbprint this way)."""
    cert_pem, key_pem = certs.generate_self_signed(["pfxdata"])
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    pfx = pkcs12.serialize_key_and_certificates(
        b"x",
        key,
        cert,
        None,
        serialization.BestAvailableEncryption(b"pw"),  # type: ignore[arg-type]
    )
    (machine.sandbox() / "d.pfx").write_bytes(pfx)
    before = set(machine.cert_store)
    script = (
        "$pw = ConvertTo-SecureString -String pw -AsPlainText -Force\n"
        "$d = Get-PfxData -FilePath C:\\d.pfx -Password $pw\n"
        "$d.EndEntityCertificates[0].Thumbprint\n"
        "$d.OtherCertificates.Count"
    )
    assert engine.ok(script) == [certs.thumbprint_of(cert), 0]
    assert set(machine.cert_store) == before
    result = engine.script(
        "Get-PfxData -FilePath C:\\d.pfx -Password (ConvertTo-SecureString wrong -AsPlainText -Force)"
    )
    assert result.failure is not None
    assert "password is not correct" in str(result.failure.Exception.Message)


def test_firewall_rule_objects(run: Callable[[str], list[Any]]) -> None:
    (rule,) = run("Get-NetFirewallRule -Name WINRM-HTTP-In-TCP")
    assert (
        rule.PSObject.type_names[0]
        == "Microsoft.Management.Infrastructure.CimInstance#root/StandardCimv2/MSFT_NetFirewallRule"
    )
    assert rule.DisplayName == "Windows Remote Management (HTTP-In)"
    assert str(rule.Enabled) == "True"
    assert str(rule.Profile) == "Domain, Private"
    assert str(rule.Direction) == "Inbound"
    assert str(rule.Action) == "Allow"
    assert run("(Get-NetFirewallRule -DisplayGroup 'Windows Remote Management').Count") == [2]


def test_firewall_filters(run: Callable[[str], list[Any]]) -> None:
    (port,) = run("Get-NetFirewallRule -Name WINRM-HTTP-In-TCP | Get-NetFirewallPortFilter")
    assert (port.Protocol, port.LocalPort) == ("TCP", "5985")
    (addr,) = run("Get-NetFirewallRule -Name WINRM-HTTP-In-TCP-PUBLIC | Get-NetFirewallAddressFilter")
    assert addr.RemoteAddress == "LocalSubnet"


def test_firewall_changes_reach_model(engine: Engine, machine: Machine) -> None:
    engine.ok(
        "New-NetFirewallRule -Name WINRM-HTTPS-In-TCP -DisplayName 'WinRM HTTPS' -Direction Inbound -Protocol TCP"
        " -LocalPort 5986 -Action Allow -Profile Any | Out-Null"
    )
    assert machine.firewall.allows(5986, "127.0.0.1")
    engine.ok("Disable-NetFirewallRule -Name WINRM-HTTPS-In-TCP")
    assert not machine.firewall.allows(5986, "127.0.0.1")
    engine.ok("Set-NetFirewallRule -Name WINRM-HTTP-In-TCP-PUBLIC -RemoteAddress 10.0.0.0/8")
    assert not machine.firewall.allows(5985, "127.0.0.1")
    engine.ok("Remove-NetFirewallRule -Name WINRM-HTTPS-In-TCP")
    assert machine.firewall.find("WINRM-HTTPS-In-TCP") is None


def test_missing_firewall_rule_error(engine: Engine) -> None:
    (err,) = engine.script("Get-NetFirewallRule -Name nope").errors
    assert "No MSFT_NetFirewallRule objects found" in str(err.Exception.Message)


def test_connection_profile(engine: Engine, machine: Machine) -> None:
    (profile,) = engine.ok("Get-NetConnectionProfile")
    assert str(profile.NetworkCategory) == "Public"
    engine.ok("Set-NetConnectionProfile -InterfaceAlias Ethernet -NetworkCategory Private")
    assert machine.firewall.network_category == "Private"
    # Private profile: the Domain,Private rule now admits any address.
    assert machine.firewall.allows(5985, "127.0.0.1")


def test_bad_local_port_refused_with_windows_error_and_nothing_changes(
    engine: Engine, machine: Machine
) -> None:
    """New-NetFirewallRule / Set-NetFirewallRule -LocalPort takes ports 0-65535, ranges a-b and the
    documented keywords (https://learn.microsoft.com/en-us/powershell/module/netsecurity/new-netfirewallrule,
    -LocalPort); anything else fails with Windows' "The port is invalid" error and changes nothing."""
    before = [(r.name, list(r.local_ports)) for r in machine.firewall.rules]
    for bad in ("-3", "70000", "5985-", "abc", "10-5"):
        (err,) = engine.script(
            f"New-NetFirewallRule -Name X{bad} -DisplayName x -Protocol TCP -LocalPort '{bad}'"
        ).errors
        assert str(err.Exception.Message).startswith("The port is invalid. When Protocol is TCP or UDP")
        (err,) = engine.script(f"Set-NetFirewallRule -Name WINRM-HTTP-In-TCP -LocalPort '{bad}'").errors
        assert "The port is invalid" in str(err.Exception.Message)
    assert [(r.name, list(r.local_ports)) for r in machine.firewall.rules] == before
    assert machine.firewall.allows(5985, "127.0.0.1") in (True, False)  # evaluates, does not raise
    engine.ok("Set-NetFirewallRule -Name WINRM-HTTP-In-TCP -LocalPort '5000-6000', RPC")
    assert machine.firewall.find("WINRM-HTTP-In-TCP").local_ports == ["5000-6000", "RPC"]


def test_firewall_model_never_raises_on_a_stored_bad_port(machine: Machine) -> None:
    """A rule stored with a bad port (as before the cmdlets refused them) must not crash the check
    that every incoming connection makes."""
    rule = machine.firewall.find("WINRM-HTTP-In-TCP")
    assert rule is not None
    rule.local_ports = ["-3", "x-y", "5985"]
    machine.firewall.network_category = "Private"
    assert machine.firewall.allows(5985, "127.0.0.1") is True
    assert machine.firewall.allows(3, "127.0.0.1") is False


def test_new_self_signed_certificate_not_after_given_a_string(engine: Engine) -> None:
    """-NotAfter is a [DateTime] parameter
    (https://learn.microsoft.com/en-us/powershell/module/pki/new-selfsignedcertificate): a string
    binds as PowerShell converts strings to DateTime, with the invariant culture
    (about_Type_Conversion), in ISO form or month/day/year."""
    import datetime

    target = datetime.date.today() + datetime.timedelta(days=730)
    for text in (target.isoformat(), target.strftime("%m/%d/%Y")):
        (not_after,) = engine.ok(f"(New-SelfSignedCertificate -DnsName web -NotAfter '{text}').NotAfter")
        assert abs((not_after.date() - target).days) <= 1, (text, not_after)
    failure = engine.script("New-SelfSignedCertificate -DnsName web -NotAfter 'soon'").failure
    assert failure is not None
    assert str(failure.Exception.Message) == (
        'Cannot bind parameter \'NotAfter\'. Cannot convert value "soon" to type "System.DateTime". '
        'Error: "String was not recognized as a valid DateTime."'
    )
