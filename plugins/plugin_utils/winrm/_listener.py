# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WinRM listeners and their certificates: parse what Windows returns, decide what must change.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

A listener is addressed by its selectors ``Address`` and ``Transport``; ``Port``, ``Hostname``,
``Enabled``, ``URLPrefix`` and ``CertificateThumbprint`` are its values ([MS-WSMV] 3.1.4.1.30.2,
cfg:ListenerType). ``Address`` is ``*``, ``IP:<address>`` or ``MAC:<address>`` (``winrm help
config``). An HTTPS listener needs a certificate in ``Cert:\\LocalMachine\\My`` with a private key
and the Server Authentication EKU whose subject or SAN matches ``Hostname`` (Installation and
configuration for Windows Remote Management, "Listener configuration").
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ConnectionFacts
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import WinRMConfigError
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import to_bool

DEFAULT_PORTS = {"HTTP": 5985, "HTTPS": 5986}
SERVER_AUTH_OID = "1.3.6.1.5.5.7.3.1"
_THUMBPRINT = re.compile(r"^[0-9A-F]{40}$")
_MAC = re.compile(r"^([0-9A-F]{2}[-:]){5}[0-9A-F]{2}$")


def normalize_address(address: str) -> str:
    """``*``, ``IP:x`` (IPv4 or IPv6) or ``MAC:x``; raises ValueError for anything else."""
    text = address.strip()
    if text == "*":
        return text
    prefix, _, rest = text.partition(":")
    if prefix.upper() == "IP" and rest:
        return "IP:" + str(ipaddress.ip_address(rest.strip("[]")))
    if prefix.upper() == "MAC" and _MAC.match(rest.upper()):
        return "MAC:" + rest.upper().replace(":", "-")
    raise ValueError(f"listener address must be '*', 'IP:<address>' or 'MAC:<address>', got {address!r}")


def normalize_thumbprint(value: str) -> str:
    text = re.sub(r"[\s:]", "", value).upper()
    if not _THUMBPRINT.match(text):
        raise ValueError(f"a certificate thumbprint is 40 hexadecimal digits, got {value!r}")
    return text


@dataclass(frozen=True)
class Listener:
    address: str
    transport: str  # HTTP | HTTPS
    port: int
    hostname: str = ""
    enabled: bool = True
    certificate_thumbprint: str = ""
    url_prefix: str = "wsman"
    listening_on: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "transport": self.transport,
            "port": self.port,
            "hostname": self.hostname,
            "enabled": self.enabled,
            "certificate_thumbprint": self.certificate_thumbprint,
            "url_prefix": self.url_prefix,
            "listening_on": list(self.listening_on),
        }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):  # an XmlElement that carries only text, or {"#text": ...}
        for key in ("#text", "InnerText", "Value"):
            if key in value:
                return _text(value[key])
        return ""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def listener_from_ps(obj: Mapping[str, Any]) -> Listener:
    """A ``Get-WSManInstance winrm/config/Listener -Enumerate`` result (an XmlElement per listener)."""
    transport = _text(obj.get("Transport")).upper()
    port_text = _text(obj.get("Port"))
    listening = obj.get("ListeningOn")
    listening_on = (
        tuple(_text(v) for v in listening)
        if isinstance(listening, list)
        else (tuple(p.strip() for p in _text(listening).split(",") if p.strip()))
    )
    return Listener(
        address=_text(obj.get("Address")) or "*",
        transport=transport,
        port=int(port_text) if port_text else DEFAULT_PORTS.get(transport, 0),
        hostname=_text(obj.get("Hostname")),
        enabled=to_bool(_text(obj.get("Enabled")) or "true"),
        certificate_thumbprint=_text(obj.get("CertificateThumbprint")).upper(),
        url_prefix=_text(obj.get("URLPrefix")) or "wsman",
        listening_on=listening_on,
    )


def find_listener(listeners: Sequence[Listener], address: str, transport: str) -> Listener | None:
    for listener in listeners:
        if listener.transport == transport.upper() and listener.address.upper() == address.upper():
            return listener
    return None


def listener_value_changes(current: Listener, desired: Mapping[str, Any]) -> dict[str, Any]:
    """The ``-ValueSet`` entries that differ (``desired`` uses ValueSet names; None = leave)."""
    have = {
        "Port": current.port,
        "Hostname": current.hostname,
        "Enabled": current.enabled,
        "CertificateThumbprint": current.certificate_thumbprint,
    }
    out: dict[str, Any] = {}
    for key, want in desired.items():
        if want is None:
            continue
        got = have.get(key)
        if key == "Hostname" and str(want).lower() == str(got).lower():
            continue
        if key == "CertificateThumbprint" and str(want).upper() == str(got).upper():
            continue
        if want != got:
            out[key] = want
    return out


def check_connection_safety(
    facts: ConnectionFacts,
    current: Listener | None,
    *,
    removing: bool,
    new_values: Mapping[str, Any],
    allow_disconnect: bool,
    host: str,
    listeners: Sequence[Listener] = (),
) -> None:
    """Refuse to remove, disable or move the listener this play is connected through.

    The play's port identifies the listener when a listener of that transport has it. Behind NAT
    or port forwarding the play's port is not the listener's, and then every listener of the
    play's transport counts as possibly in use.
    """
    if allow_disconnect or current is None or facts.transport is None:
        return
    if current.transport != facts.transport.upper():
        return
    same_transport_ports = {lst.port for lst in listeners if lst.transport == current.transport}
    if facts.port is not None and facts.port in same_transport_ports and current.port != facts.port:
        return
    what = None
    if removing:
        what = "remove"
    elif new_values.get("Enabled") is False:
        what = "disable"
    elif "Port" in new_values and new_values["Port"] != current.port:
        what = f"move to port {new_values['Port']}"
    if what:
        raise WinRMConfigError(
            f"{host}: refusing to {what} the {current.transport} listener on {current.address} port "
            f"{current.port}: this play is connected through it. Connect over another listener first, "
            "or set allow_disconnect=true if you really mean it."
        )


# --- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    thumbprint: str
    subject: str
    issuer: str
    not_before: datetime.datetime | None
    not_after: datetime.datetime | None
    has_private_key: bool
    dns_names: tuple[str, ...] = ()
    ekus: tuple[str, ...] = ()  # OIDs and friendly names
    raw: bytes = b""
    problems: tuple[str, ...] = field(default=())

    @property
    def pem(self) -> str:
        if not self.raw:
            return ""
        body = "\n".join(textwrap.wrap(base64.b64encode(self.raw).decode("ascii"), 64))
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "thumbprint": self.thumbprint,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "has_private_key": self.has_private_key,
            "dns_names": list(self.dns_names),
            "pem": self.pem,
        }


def parse_datetime(value: Any) -> datetime.datetime | None:
    """.NET DateTime as pypsrp/_clixml give it (ISO 8601, up to 7 fractional digits) or datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
        if match:
            frac = (match.group(2) or "")[:7].ljust(7, "0")[:7]
            micro = f".{frac[1:7]}" if match.group(2) else ""
            text = match.group(1) + micro + match.group(3)
        parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def _names(value: Any) -> tuple[str, ...]:
    """DnsNameList entries (System.Security.Cryptography.X509Certificates DnsNameRepresentation:
    ``Punycode``/``Unicode``) or plain strings."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        name = (item.get("Unicode") or item.get("Punycode") or "") if isinstance(item, Mapping) else item
        if name:
            out.append(str(name))
    return tuple(out)


def _ekus(value: Any) -> tuple[str, ...]:
    """EnhancedKeyUsageList entries (``FriendlyName``/``ObjectId``) or strings."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            out.extend(str(item[k]) for k in ("ObjectId", "FriendlyName") if item.get(k))
        else:
            out.append(str(item))
    return tuple(out)


def _raw(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list):
        return bytes(int(v) & 0xFF for v in value)
    if isinstance(value, str) and value:
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return b""
    return b""


def certificate_from_ps(obj: Mapping[str, Any]) -> Certificate:
    return Certificate(
        thumbprint=str(obj.get("Thumbprint") or "").upper(),
        subject=str(obj.get("Subject") or ""),
        issuer=str(obj.get("Issuer") or ""),
        not_before=parse_datetime(obj.get("NotBefore")),
        not_after=parse_datetime(obj.get("NotAfter")),
        has_private_key=to_bool(obj.get("HasPrivateKey") or False),
        dns_names=_names(obj.get("DnsNameList")),
        ekus=_ekus(obj.get("EnhancedKeyUsageList")),
        raw=_raw(obj.get("RawData")),
    )


def certificate_problems(
    cert: Certificate, now: datetime.datetime, names: Sequence[str] = (), renew_days: int = 0
) -> list[str]:
    """Why ``cert`` cannot serve an HTTPS listener (empty when it can)."""
    problems: list[str] = []
    if not cert.has_private_key:
        problems.append("it has no private key in Cert:\\LocalMachine\\My")
    if cert.not_before and cert.not_before > now:
        problems.append(f"it is not valid before {cert.not_before.isoformat()}")
    if cert.not_after:
        if cert.not_after <= now:
            problems.append(f"it expired on {cert.not_after.isoformat()}")
        elif renew_days and cert.not_after <= now + datetime.timedelta(days=renew_days):
            problems.append(f"it expires on {cert.not_after.isoformat()}, within {renew_days} days")
    if cert.ekus and not any(e in (SERVER_AUTH_OID, "Server Authentication") for e in cert.ekus):
        problems.append("it lacks the Server Authentication EKU (1.3.6.1.5.5.7.3.1)")
    missing = [n for n in names if not _covers(cert, n)]
    if missing:
        problems.append("its subject/SAN does not cover " + ", ".join(missing))
    return problems


def _covers(cert: Certificate, name: str) -> bool:
    wanted = name.lower()
    candidates = [n.lower() for n in cert.dns_names]
    cn = re.search(r"CN=([^,]+)", cert.subject)
    if cn:
        candidates.append(cn.group(1).strip().lower())
    for candidate in candidates:
        if candidate == wanted:
            return True
        if candidate.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == candidate[2:]:
            return True
    return False


def _dn_matches(dn: str, wanted: str) -> bool:
    """``wanted`` is a full DN or one component such as ``CN=web01`` (case-insensitive)."""
    parts = [p.strip().lower() for p in dn.split(",")]
    want = wanted.strip().lower()
    if "," in want:
        return [p.strip() for p in want.split(",")] == parts
    if "=" not in want:
        want = "cn=" + want
    return want in parts


def choose_certificate(
    certs: Sequence[Certificate],
    now: datetime.datetime,
    *,
    thumbprint: str | None = None,
    subject: str | None = None,
    issuer: str | None = None,
) -> Certificate:
    """The certificate to bind: by thumbprint, else the usable match with the latest NotAfter."""
    if thumbprint:
        for cert in certs:
            if cert.thumbprint == thumbprint:
                problems = certificate_problems(cert, now)
                if problems:
                    raise WinRMConfigError(
                        f"certificate {thumbprint} cannot serve an HTTPS listener: " + "; ".join(problems)
                    )
                return cert
        raise WinRMConfigError(
            f"no certificate with thumbprint {thumbprint} in Cert:\\LocalMachine\\My; import it first "
            "(Import-PfxCertificate, or the role's enable_psremoting_https_pfx_file)"
        )
    matches = [
        c
        for c in certs
        if (subject is None or _dn_matches(c.subject, subject))
        and (issuer is None or _dn_matches(c.issuer, issuer))
    ]
    usable = [c for c in matches if not certificate_problems(c, now)]
    if not usable:
        rejected = "; ".join(f"{c.thumbprint}: {', '.join(certificate_problems(c, now))}" for c in matches)
        raise WinRMConfigError(
            f"no usable certificate in Cert:\\LocalMachine\\My matches subject={subject!r} issuer={issuer!r}"
            + (f" ({rejected})" if rejected else "")
        )
    return max(usable, key=lambda c: c.not_after or now)


def self_signed_names(computer_name: str, domain: str | None, extra: Sequence[str] = ()) -> list[str]:
    """SANs for a self-signed listener certificate: short name, FQDN, then extra names."""
    short = computer_name.strip()
    names = [short]
    if domain and domain.strip() and domain.strip().upper() != "WORKGROUP":
        names.append(f"{short}.{domain.strip()}")
    for name in extra:
        if name and name.lower() not in (n.lower() for n in names):
            names.append(name)
    return names
