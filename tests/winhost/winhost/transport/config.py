"""The slice of a host's configuration that the transport enforces, as an immutable snapshot.

:func:`config_from_machine` reads it from a :class:`winhost.engine.model.Machine` under the
machine's lock; the listener re-reads it whenever the machine notifies a change, so a
``Set-Item WSMan:\\localhost\\Service\\Auth\\Basic $false`` takes effect on the next request.
Tests of the transport build :class:`HostConfig` directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from winhost.engine.model import Machine


@dataclasses.dataclass(frozen=True)
class ListenerSpec:
    transport: str  # "HTTP" | "HTTPS"
    port: int  # the Windows port (5985/5986/...), mapped to a real port by the listener set
    enabled: bool = True
    certificate_thumbprint: str = ""
    url_prefix: str = "wsman"


@dataclasses.dataclass(frozen=True)
class HostConfig:
    """What the transport of one host enforces."""

    computer_name: str = "WINHOST"
    auth_basic: bool = False
    auth_kerberos: bool = True
    auth_negotiate: bool = True
    auth_certificate: bool = False
    auth_credssp: bool = False
    allow_unencrypted: bool = False
    cbt_hardening_level: str = "Relaxed"  # None | Relaxed | Strict
    max_envelope_size_kb: int = 500
    service_running: bool = True
    listeners: tuple[ListenerSpec, ...] = (ListenerSpec("HTTP", 5985),)
    #: account name (case-insensitive) -> password; disabled accounts are left out.
    accounts: dict[str, str] = dataclasses.field(default_factory=dict)
    #: thumbprint (upper-case) -> (certificate PEM, private key PEM)
    certificates: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    firewall_allows: Callable[[int, str], bool] = dataclasses.field(default=lambda port, addr: True)

    @property
    def max_envelope_bytes(self) -> int:
        return self.max_envelope_size_kb * 1024

    def password_of(self, user: str) -> str | None:
        lowered = user.lower()
        for name, password in self.accounts.items():
            if name.lower() == lowered:
                return password
        return None

    def account_name(self, user: str) -> str | None:
        """The account's own spelling of ``user`` (case-insensitive lookup)."""
        lowered = user.lower()
        for name in self.accounts:
            if name.lower() == lowered:
                return name
        return None

    def offered_schemes(self) -> list[str]:
        """``WWW-Authenticate`` values of a 401, in the order Windows sends them."""
        schemes: list[str] = []
        if self.auth_negotiate:
            schemes.append("Negotiate")
        if self.auth_kerberos:
            schemes.append("Kerberos")
        if self.auth_basic:
            schemes.append('Basic realm="WSMAN"')
        if self.auth_credssp:
            schemes.append("CredSSP")
        return schemes


def config_from_machine(machine: Machine) -> HostConfig:
    """Snapshot the transport-relevant configuration of ``machine``."""
    with machine.lock:
        service = machine.wsman.service
        auth = service.auth
        listeners = tuple(
            ListenerSpec(
                transport=listener.transport.upper(),
                port=int(listener.port),
                enabled=bool(listener.enabled),
                certificate_thumbprint=(listener.certificate_thumbprint or "").upper(),
                url_prefix=listener.url_prefix or "wsman",
            )
            for listener in machine.wsman.listeners
        )
        accounts = {
            account.name or name: account.password
            for name, account in machine.accounts.items()
            if getattr(account, "enabled", True)
        }
        certificates = {
            thumb.upper(): (cert.cert_pem, cert.key_pem) for thumb, cert in machine.cert_store.items()
        }
        firewall = machine.firewall

        def allows(port: int, addr: str) -> bool:
            with machine.lock:
                return bool(firewall.allows(port, addr))

        return HostConfig(
            computer_name=machine.computer_name,
            auth_basic=bool(auth.basic),
            auth_kerberos=bool(auth.kerberos),
            auth_negotiate=bool(auth.negotiate),
            auth_certificate=bool(auth.certificate),
            auth_credssp=bool(auth.credssp),
            allow_unencrypted=bool(service.allow_unencrypted),
            cbt_hardening_level=str(_get(auth, "cbt_hardening_level", "Relaxed")),
            max_envelope_size_kb=int(service.max_envelope_size_kb),
            service_running=bool(machine.winrm_running),
            listeners=listeners,
            accounts=accounts,
            certificates=certificates,
            firewall_allows=allows,
        )


def _get(obj: Any, name: str, default: Any) -> Any:
    value = getattr(obj, name, default)
    return default if value is None else value
