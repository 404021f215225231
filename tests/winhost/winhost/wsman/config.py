"""The WSMan configuration resource (``winrm get winrm/config``) rendered from the machine model.

Layout and defaults: [MS-WSMV] 2.2.4.10 ConfigType, 2.2.4.41 ServiceType, WinrsType, and a
Windows Server answer recorded in pypsrp's sdist (test_wsman_update_envelope_size_500.yml).
Values come from ``machine.wsman`` (docs/dev/architecture.md "engine model -> transport") when
the model has them, Windows defaults otherwise.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from winhost.wsman import namespaces as ns
from winhost.wsman.shells import _lookup


def _value(machine: Any, name: str, default: Any) -> str:
    value = _lookup(machine, name)
    if value is None:
        value = default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _auth(machine: Any, name: str, default: bool) -> str:
    wsman = getattr(machine, "wsman", None)
    service = getattr(wsman, "service", None) if wsman is not None else None
    auth = getattr(service, "auth", None) if service is not None else None
    value: Any = None
    if isinstance(auth, dict):
        value = auth.get(name.lower(), auth.get(name))
    elif auth is not None:
        value = getattr(auth, name.lower(), None)
    if value is None:
        value = default
    return "true" if value else "false"


def _client_xml(machine: Any) -> str:
    """``winrm/config/Client`` from ``machine.wsman.client`` (ClientConfig), Windows defaults otherwise."""
    client = getattr(getattr(machine, "wsman", None), "client", None)

    def get(obj: Any, name: str, default: Any) -> str:
        value = getattr(obj, name, default) if obj is not None else default
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    auth = getattr(client, "auth", None)
    flags: tuple[tuple[str, bool], ...] = (
        ("Basic", True),
        ("Digest", True),
        ("Kerberos", True),
        ("Negotiate", True),
        ("Certificate", True),
        ("CredSSP", False),
    )
    return (
        "<cfg:Client>"
        f"<cfg:NetworkDelayms>{get(client, 'network_delayms', 5000)}</cfg:NetworkDelayms>"
        f"<cfg:URLPrefix>{get(client, 'url_prefix', 'wsman')}</cfg:URLPrefix>"
        f"<cfg:AllowUnencrypted>{get(client, 'allow_unencrypted', False)}</cfg:AllowUnencrypted>"
        "<cfg:Auth>"
        + "".join(f"<cfg:{n}>{get(auth, n.lower(), d)}</cfg:{n}>" for n, d in flags)
        + "</cfg:Auth>"
        "<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts>"
        f"<cfg:TrustedHosts>{escape(get(client, 'trusted_hosts', ''))}</cfg:TrustedHosts>"
        "</cfg:Client>"
    )


def config_xml(machine: Any, resource_uri: str) -> str:
    def v(name: str, default: Any) -> str:
        return _value(machine, name, default)

    service = (
        "<cfg:Service>"
        "<cfg:RootSDDL>O:NSG:BAD:P(A;;GA;;;BA)(A;;GR;;;IU)S:P(AU;FA;GA;;;WD)(AU;SA;GXGW;;;WD)</cfg:RootSDDL>"
        f"<cfg:MaxConcurrentOperations>4294967295</cfg:MaxConcurrentOperations>"
        f"<cfg:MaxConcurrentOperationsPerUser>{v('max_concurrent_operations_per_user', 1500)}"
        "</cfg:MaxConcurrentOperationsPerUser>"
        "<cfg:EnumerationTimeoutms>240000</cfg:EnumerationTimeoutms>"
        f"<cfg:MaxConnections>{v('max_connections', 300)}</cfg:MaxConnections>"
        "<cfg:MaxPacketRetrievalTimeSeconds>120</cfg:MaxPacketRetrievalTimeSeconds>"
        f"<cfg:AllowUnencrypted>{v('allow_unencrypted', False)}</cfg:AllowUnencrypted>"
        "<cfg:Auth>"
        f"<cfg:Basic>{_auth(machine, 'Basic', False)}</cfg:Basic>"
        f"<cfg:Kerberos>{_auth(machine, 'Kerberos', True)}</cfg:Kerberos>"
        f"<cfg:Negotiate>{_auth(machine, 'Negotiate', True)}</cfg:Negotiate>"
        f"<cfg:Certificate>{_auth(machine, 'Certificate', False)}</cfg:Certificate>"
        f"<cfg:CredSSP>{_auth(machine, 'CredSSP', False)}</cfg:CredSSP>"
        f"<cfg:CbtHardeningLevel>{v('cbt_hardening_level', 'Relaxed')}</cfg:CbtHardeningLevel>"
        "</cfg:Auth>"
        "<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts>"
        "<cfg:IPv4Filter>*</cfg:IPv4Filter><cfg:IPv6Filter>*</cfg:IPv6Filter>"
        "<cfg:EnableCompatibilityHttpListener>false</cfg:EnableCompatibilityHttpListener>"
        "<cfg:EnableCompatibilityHttpsListener>false</cfg:EnableCompatibilityHttpsListener>"
        "<cfg:CertificateThumbprint></cfg:CertificateThumbprint>"
        "<cfg:AllowRemoteAccess>true</cfg:AllowRemoteAccess>"
        "</cfg:Service>"
    )
    winrs = (
        "<cfg:Winrs>"
        "<cfg:AllowRemoteShellAccess>true</cfg:AllowRemoteShellAccess>"
        f"<cfg:IdleTimeout>{v('idle_timeout_ms', 7200000)}</cfg:IdleTimeout>"
        "<cfg:MaxConcurrentUsers>2147483647</cfg:MaxConcurrentUsers>"
        "<cfg:MaxShellRunTime>2147483647</cfg:MaxShellRunTime>"
        "<cfg:MaxProcessesPerShell>2147483647</cfg:MaxProcessesPerShell>"
        "<cfg:MaxMemoryPerShellMB>2147483647</cfg:MaxMemoryPerShellMB>"
        f"<cfg:MaxShellsPerUser>{v('max_shells_per_user', 2147483647)}</cfg:MaxShellsPerUser>"
        "</cfg:Winrs>"
    )
    head = (
        f"<cfg:MaxEnvelopeSizekb>{v('max_envelope_size_kb', 500)}</cfg:MaxEnvelopeSizekb>"
        f"<cfg:MaxTimeoutms>{v('max_timeout_ms', 60000)}</cfg:MaxTimeoutms>"
        "<cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
        "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
    )
    sub = resource_uri.rstrip("/")[len(ns.R_CONFIG) :].strip("/").lower()
    if sub == "service":
        return service.replace("<cfg:Service>", f'<cfg:Service xmlns:cfg="{ns.NS_CONFIG}/service">', 1)
    if sub == "client":
        return _client_xml(machine).replace(
            "<cfg:Client>", f'<cfg:Client xmlns:cfg="{ns.NS_CONFIG}/client">', 1
        )
    if sub == "winrs":
        return winrs.replace("<cfg:Winrs>", f'<cfg:Winrs xmlns:cfg="{ns.NS_CONFIG}/winrs">', 1)
    return f'<cfg:Config xmlns:cfg="{ns.NS_CONFIG}">{head}{_client_xml(machine)}{service}{winrs}</cfg:Config>'
