# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inbound firewall rules for WinRM listeners: desired rules and the changes they need.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Windows itself ships ``WINRM-HTTP-In-TCP`` (Domain, Private) and ``WINRM-HTTP-In-TCP-PUBLIC``
(Public, remote address ``LocalSubnet`` on client SKUs), which Enable-PSRemoting enables
(about_Remote_Requirements; Enable-PSRemoting, "SkipNetworkProfileCheck"). This module manages
the same pair per transport: one rule for the Domain/Private profiles and one for Public, each with
its own remote address scope.

Shapes (NetSecurity module, MSFT_NetFirewallRule / MSFT_NetFirewallPortFilter /
MSFT_NetFirewallAddressFilter): ``Enabled`` is the enum True/False, ``Profile`` a flags enum
(Any=0, Domain=1, Private=2, Public=4), ``LocalPort`` and ``RemoteAddress`` strings or arrays of
strings, with keywords ``Any`` and ``LocalSubnet``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PROFILE_BITS = {"Domain": 1, "Private": 2, "Public": 4}
_KEYWORDS = {"any": "Any", "localsubnet": "LocalSubnet", "internet": "Internet", "intranet": "Intranet"}


def _enum(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get("String") if value.get("String") is not None else value.get("Value")
    return value


def parse_profiles(value: Any) -> frozenset[str]:
    value = _enum(value)
    if value is None:
        return frozenset()
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 0:
            return frozenset(PROFILE_BITS)
        return frozenset(name for name, bit in PROFILE_BITS.items() if value & bit)
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    out: set[str] = set()
    for item in items:
        text = str(item).strip().capitalize()
        if text == "Any":
            return frozenset(PROFILE_BITS)
        if text.isdigit():
            out |= parse_profiles(int(text))
        elif text in PROFILE_BITS:
            out.add(text)
    return frozenset(out)


def parse_list(value: Any) -> tuple[str, ...]:
    value = _enum(value)
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if text:
            out.append(_KEYWORDS.get(text.lower(), text))
    return tuple(out)


def _same_addresses(a: Sequence[str], b: Sequence[str]) -> bool:
    return sorted(x.lower() for x in a) == sorted(y.lower() for y in b)


@dataclass(frozen=True)
class RuleSpec:
    name: str
    display_name: str
    port: int
    profiles: frozenset[str]
    remote_address: tuple[str, ...]
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "port": self.port,
            "profiles": sorted(self.profiles),
            "remote_address": list(self.remote_address),
            "enabled": self.enabled,
        }


def rule_name(transport: str, public: bool) -> str:
    """Windows' own names for HTTP; the same pattern for HTTPS."""
    return f"WINRM-{transport.upper()}-In-TCP" + ("-PUBLIC" if public else "")


def desired_rules(
    transport: str,
    port: int,
    *,
    profiles: Sequence[str],
    remote_address: Sequence[str],
    public_remote_address: Sequence[str],
    enabled: bool = True,
) -> list[RuleSpec]:
    """One rule for the Domain/Private profiles asked for, one for Public if asked for."""
    wanted = {p.capitalize() for p in profiles}
    rules: list[RuleSpec] = []
    private = frozenset(wanted & {"Domain", "Private"})
    label = f"Windows Remote Management ({transport.upper()}-In)"
    if private:
        rules.append(
            RuleSpec(
                rule_name(transport, False),
                label,
                port,
                private,
                parse_list(list(remote_address)) or ("Any",),
                enabled,
            )
        )
    if "Public" in wanted:
        rules.append(
            RuleSpec(
                rule_name(transport, True),
                label,
                port,
                frozenset({"Public"}),
                parse_list(list(public_remote_address)) or ("LocalSubnet",),
                enabled,
            )
        )
    return rules


@dataclass(frozen=True)
class RuleState:
    name: str
    display_name: str
    enabled: bool
    profiles: frozenset[str]
    ports: tuple[str, ...]
    remote_address: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "enabled": self.enabled,
            "profiles": sorted(self.profiles),
            "port": ",".join(self.ports),
            "remote_address": list(self.remote_address),
        }


def rule_state_from_ps(output: Sequence[Any]) -> RuleState | None:
    """Objects of ``Get-NetFirewallRule -Name X`` then ``| Get-NetFirewallPortFilter`` then
    ``| Get-NetFirewallAddressFilter``, told apart by their properties."""
    rule = port_filter = addr_filter = None
    for obj in output:
        if not isinstance(obj, Mapping):
            continue
        if "LocalPort" in obj:
            port_filter = obj
        elif "RemoteAddress" in obj:
            addr_filter = obj
        elif "Name" in obj or "DisplayName" in obj:
            rule = obj
    if rule is None:
        return None
    enabled = str(_enum(rule.get("Enabled"))).strip().lower() in ("true", "1")
    return RuleState(
        name=str(rule.get("Name") or ""),
        display_name=str(rule.get("DisplayName") or ""),
        enabled=enabled,
        profiles=parse_profiles(rule.get("Profile")),
        ports=parse_list(port_filter.get("LocalPort")) if port_filter else (),
        remote_address=parse_list(addr_filter.get("RemoteAddress")) if addr_filter else ("Any",),
    )


def rule_changes(current: RuleState, desired: RuleSpec) -> dict[str, Any]:
    """The ``Set-NetFirewallRule`` parameters needed (empty: nothing to do)."""
    changes: dict[str, Any] = {}
    if current.enabled != desired.enabled:
        changes["Enabled"] = "True" if desired.enabled else "False"
    if current.profiles != desired.profiles:
        changes["Profile"] = sorted(desired.profiles)
    if current.ports != (str(desired.port),):
        changes["LocalPort"] = [str(desired.port)]
    if not _same_addresses(current.remote_address, desired.remote_address):
        changes["RemoteAddress"] = list(desired.remote_address)
    return changes


def rule_after(current: RuleState, desired: RuleSpec) -> RuleState:
    return RuleState(
        name=current.name,
        display_name=current.display_name,
        enabled=desired.enabled,
        profiles=desired.profiles,
        ports=(str(desired.port),),
        remote_address=desired.remote_address,
    )
