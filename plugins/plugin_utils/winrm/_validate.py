# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of module values against the formats and ranges Windows documents, before any request.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Each check returns the value in the form sent to Windows or raises ``Invalid`` with what is
allowed; ``Problems`` gathers them so that a task with several bad values names them all and
sends nothing. Sources (cited per check below):

* TCP ports: RFC 6335 section 6 (port numbers 0-65535; port 0 is reserved and cannot be listened
  on), so 1-65535.
* Firewall addresses: New-NetFirewallRule, parameter ``-RemoteAddress`` (PowerShell-Docs, NetSecurity
  module): an IPv4/IPv6 address, a subnet (prefix or mask), a range ``a-b``, or one of the keywords
  ``Any``, ``LocalSubnet``, ``DNS``, ``DHCP``, ``WINS``, ``DefaultGateway``, ``Internet``,
  ``Intranet``, ``IntranetRemoteAccess``, ``PlayToDevice`` (keywords may end in 4 or 6).
* TrustedHosts: about_Remote_Troubleshooting ("How to add a computer to the trusted hosts list"):
  computer names, IP addresses and ``*`` wildcards (``*``, ``*.contoso.com``), comma-separated, so a
  single entry holds no comma; ``<local>`` stands for the names without a dot (``winrm help
  config``). Whitespace inside an entry is not part of any documented form.
* SDDL: [MS-DTYP] 2.5.1 (Security Descriptor Description Language) and 2.5.1.1 (SID strings and
  aliases); "ACE Strings" (Win32 security docs) for ACE types, flags and rights.
* Certificate thumbprints: the SHA-1 hash of the certificate, 20 bytes = 40 hexadecimal digits
  (X509Certificate2.Thumbprint, .NET API docs).
* Listener addresses: [MS-WSMV] 3.1.4.1.30.2 / ``winrm help config``: ``*``, ``IP:<address>`` or
  ``MAC:<address>``.
* Host names: RFC 1123 section 2.1 (labels of letters, digits and hyphens, up to 63 characters,
  253 in all).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

PORT_RANGE = (1, 65535)  # RFC 6335 section 6; 0 is reserved
FIREWALL_KEYWORDS = (
    "Any",
    "LocalSubnet",
    "DNS",
    "DHCP",
    "WINS",
    "DefaultGateway",
    "Internet",
    "Intranet",
    "IntranetRemoteAccess",
    "PlayToDevice",
)
_KEYWORD_BY_LOWER = {k.lower(): k for k in FIREWALL_KEYWORDS}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_WILDCARD_LABEL = re.compile(r"^[A-Za-z0-9*_-]{1,63}$")


class Invalid(ValueError):
    """One bad value: ``allowed`` says what would be accepted."""

    def __init__(self, allowed: str) -> None:
        super().__init__(allowed)
        self.allowed = allowed


@dataclass
class Problems:
    """Every bad value of one task; ``raise_for`` raises one error naming them all."""

    host: str
    module: str
    items: list[str] = field(default_factory=list)

    def check(self, option: str, value: Any, checker: Callable[[Any], Any]) -> Any:
        """``checker(value)``; on ``Invalid`` records the problem and returns None."""
        if value is None:
            return None
        try:
            return checker(value)
        except Invalid as exc:
            self.add(option, value, exc.allowed)
            return None

    def check_each(
        self, option: str, values: Iterable[Any] | None, checker: Callable[[Any], Any]
    ) -> list[Any]:
        if values is None:
            return []
        out: list[Any] = []
        for index, value in enumerate(values):
            try:
                out.append(checker(value))
            except Invalid as exc:
                self.add(f"{option}[{index}]", value, exc.allowed)
        return out

    def add(self, option: str, value: Any, allowed: str) -> None:
        self.items.append(f"option '{option}' = {_show(value)} is not valid: {allowed}")

    def message(self) -> str:
        return f"{self.host}: {self.module} refuses the task, nothing was changed: " + "; ".join(self.items)

    def raise_for(self, error: type[Exception]) -> None:
        if self.items:
            raise error(self.message())


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def no_control(text: str) -> str:
    """Refuse control characters and line breaks (never part of a name, address or path)."""
    if _CONTROL.search(text):
        raise Invalid("control characters and line breaks are not allowed")
    return text


def port(value: Any) -> int:
    """A TCP port 1-65535 (RFC 6335 section 6; 0 is reserved)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("a TCP port is a whole number from 1 to 65535")
    if not PORT_RANGE[0] <= value <= PORT_RANGE[1]:
        raise Invalid("a TCP port is a whole number from 1 to 65535 (RFC 6335; 0 is reserved)")
    return value


def int_range(low: int, high: int, source: str) -> Callable[[Any], int]:
    """A whole number ``low``-``high``; ``source`` names where the bound comes from."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid(f"a whole number from {low} to {high} ({source})")
        return value

    return check


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise Invalid(f"{text!r} is not an IPv4 or IPv6 address") from exc


def firewall_address(value: Any) -> str:
    """One ``-RemoteAddress`` entry of New-NetFirewallRule, normalized (keywords capitalized)."""
    allowed = (
        "an IP address, a subnet (10.0.0.0/8, 10.0.0.0/255.0.0.0, fe80::/64), a range (10.0.0.1-10.0.0.9) "
        "or a keyword (" + ", ".join(FIREWALL_KEYWORDS) + "; see New-NetFirewallRule -RemoteAddress)"
    )
    text = str(value)
    if text != text.strip() or not text or _CONTROL.search(text) or "," in text or " " in text:
        raise Invalid(allowed)
    keyword = text.lower()
    if keyword[-1:] in ("4", "6") and keyword[:-1] in _KEYWORD_BY_LOWER and keyword[:-1] != "any":
        return _KEYWORD_BY_LOWER[keyword[:-1]] + keyword[-1]
    if keyword in _KEYWORD_BY_LOWER:
        return _KEYWORD_BY_LOWER[keyword]
    try:
        if "-" in text:
            low_text, high_text = text.split("-", 1)
            low, high = ipaddress.ip_address(low_text), ipaddress.ip_address(high_text)
            if low.version != high.version or low > high:  # type: ignore[operator]
                raise ValueError("range")
            return f"{low}-{high}"
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=False))
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise Invalid(allowed) from exc


def host_name(value: Any) -> str:
    """A DNS host name (RFC 1123 section 2.1)."""
    text = str(value)
    labels = text.rstrip(".").split(".")
    if not text or len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise Invalid(
            "a DNS host name: labels of letters, digits and hyphens (no leading or trailing hyphen), "
            "up to 63 characters each and 253 in all (RFC 1123)"
        )
    return text


def trusted_host(value: Any) -> str:
    """One TrustedHosts entry: a name (``*`` wildcards allowed), an IP address, ``*`` or ``<local>``."""
    allowed = (
        "one computer name (wildcards with *, e.g. *.contoso.com), one IP address, '*' or '<local>'; "
        "no commas or whitespace inside an entry (give several entries as a list)"
    )
    text = str(value)
    if not text or _CONTROL.search(text) or re.search(r"[\s,;]", text):
        raise Invalid(allowed)
    if text in ("*", "<local>"):
        return text
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    labels = text.split(".")
    if len(text) > 253 or not all(_WILDCARD_LABEL.match(label) for label in labels):
        raise Invalid(allowed)
    return text


def thumbprint(value: Any) -> str:
    """A SHA-1 certificate thumbprint: 40 hexadecimal digits (spaces and colons are dropped)."""
    text = re.sub(r"[ :]", "", str(value)).upper()
    if not re.fullmatch(r"[0-9A-F]{40}", text):
        raise Invalid("a certificate thumbprint is 40 hexadecimal digits (the SHA-1 hash of the certificate)")
    return text


def listener_address(value: Any) -> str:
    """``*``, ``IP:<address>`` or ``MAC:<address>`` ([MS-WSMV] 3.1.4.1.30.2), normalized."""
    text = str(value).strip()
    if text == "*":
        return text
    prefix, _, rest = text.partition(":")
    if prefix.upper() == "IP" and rest:
        try:
            return "IP:" + str(ipaddress.ip_address(rest.strip("[]")))
        except ValueError:
            pass
    if prefix.upper() == "MAC" and re.fullmatch(r"([0-9A-Fa-f]{2}[-:]){5}[0-9A-Fa-f]{2}", rest):
        return "MAC:" + rest.upper().replace(":", "-")
    raise Invalid(
        "'*', 'IP:<address>' (IPv4 or IPv6) or 'MAC:<address>' (six hex pairs) (winrm help config, Address)"
    )


def ip_filter(version: int) -> Callable[[Any], str]:
    """IPv4Filter / IPv6Filter: ``*`` or comma-separated addresses and ranges ``a-b`` of that version.

    [MS-WSMV] 2.2.4.36 (ServiceType) and the Group Policy "Allow remote server management through
    WinRM" explain the syntax. An empty filter makes WinRM listen on no address of that version: it
    is refused here because it cuts the host off; leave the option unset instead.
    """

    def check(value: Any) -> str:
        allowed = (
            f"'*' or IPv{version} addresses and ranges a-b separated by commas (an empty filter would "
            "stop WinRM listening on every address of that kind)"
        )
        text = str(value).strip()
        if text == "*":
            return text
        if not text or _CONTROL.search(text):
            raise Invalid(allowed)
        parts: list[str] = []
        for item in (p.strip() for p in text.split(",")):
            try:
                low_text, _, high_text = item.partition("-")
                low = ipaddress.ip_address(low_text)
                high = ipaddress.ip_address(high_text) if high_text else low
            except ValueError as exc:
                raise Invalid(allowed) from exc
            if low.version != version or high.version != version or low > high:  # type: ignore[operator]
                raise Invalid(allowed)
            parts.append(f"{low}-{high}" if high_text else str(low))
        return ", ".join(parts)

    return check


def windows_path(suffix: str = "") -> Callable[[Any], str]:
    """An absolute Windows path (``C:\\...`` or ``\\\\server\\share\\...``), optionally with a suffix."""

    def check(value: Any) -> str:
        text = str(value)
        rooted = re.match(r"^([A-Za-z]:\\|\\\\[^\\/]+\\[^\\/]+)", text)
        ok = rooted and not re.search(r'[<>"|?*\x00-\x1f]', text[2:])
        if not ok or (suffix and not text.lower().endswith(suffix)):
            raise Invalid(
                "an absolute Windows path such as C:\\ProgramData\\x"
                + suffix
                + ' (no < > " | ? * or control characters)'
            )
        return text

    return check


def principal(value: Any) -> str:
    """An account name (``NAME``, ``DOMAIN\\NAME``) or a SID; no control characters."""
    text = str(value).strip()
    if not text or _CONTROL.search(text) or re.search(r'[",/\[\]:|<>+=;?*]', text.split("\\", 1)[-1]):
        raise Invalid("an account or group name (NAME or DOMAIN\\NAME) or a SID (S-1-5-...)")
    return text


def dns_name(value: Any) -> str:
    """A certificate DNS name: a host name, or one with a leading ``*.`` wildcard label."""
    text = str(value)
    if text.startswith("*."):
        host_name(text[2:])
        return text
    return host_name(text)


def listener_hostname(value: Any) -> str:
    """A listener's Hostname: empty (none), a DNS host name or an IP address."""
    text = str(value)
    if not text:
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return host_name(text)


def name(value: Any) -> str:
    """A non-empty name without control characters or surrounding whitespace."""
    text = str(value)
    if not text.strip() or text != text.strip() or _CONTROL.search(text):
        raise Invalid("a non-empty name without control characters or leading/trailing whitespace")
    return text


def probe_address(value: Any) -> str:
    """Where the controller connects: an IP address (IPv6 with or without brackets) or a host name."""
    text = str(value)
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return host_name(text)


def guid(value: Any) -> str:
    """A GUID such as a WSMan ShellId (8-4-4-4-12 hexadecimal digits, braces allowed)."""
    text = str(value).strip().strip("{}")
    if not re.fullmatch(r"[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}", text):
        raise Invalid("a GUID such as 0D5C4D1F-5F3E-4C4B-9D6F-1B2A3C4D5E6F (a ShellId from pssession_info)")
    return text.upper()


def minutes(value: Any) -> float:
    """A number of minutes: finite and not negative."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise Invalid("a number of minutes, 0 or more")
    return float(value)
