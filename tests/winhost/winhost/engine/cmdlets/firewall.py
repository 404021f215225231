"""NetSecurity / NetConnection cmdlets over ``machine.firewall``.

Get/New/Set/Remove/Enable/Disable-NetFirewallRule, Get-NetFirewallPortFilter,
Get-NetFirewallAddressFilter, Get/Set-NetFirewallProfile, Get/Set-NetConnectionProfile.
Objects are CIM instances (MSFT_NetFirewallRule, MSFT_NetProtocolPortFilter,
MSFT_NetAddressFilter, MSFT_NetFirewallProfile, MSFT_NetConnectionProfile) with the enum types
of the cmdletization modules: https://learn.microsoft.com/en-us/powershell/module/netsecurity/get-netfirewallrule
(Enabled True/False, Direction Inbound/Outbound, Action Allow/Block, Profile Any/Domain/Private/Public),
https://learn.microsoft.com/en-us/powershell/module/netconnection/get-netconnectionprofile
(NetworkCategory Public/Private/DomainAuthenticated).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

from psrpcore.types import ErrorCategory, PSType

from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.methods import register_enum
from winhost.engine.model import TOPIC_FIREWALL, FirewallRule
from winhost.engine.values import NetEnum, NetFlags, as_list, like, new_object, to_bool, to_string

NETSEC = "NetSecurity"
_GEN = "Microsoft.PowerShell.Cmdletization.GeneratedTypes"


def _enabled_enum() -> type[NetEnum]:
    """NetSecurity's Enabled enum has members named True (1) and False (2): Python keywords, so
    the class is built from a namespace."""
    meta: Any = type(NetEnum)
    namespace: Any = meta.__prepare__("Enabled", (NetEnum,))
    namespace["True"] = 1
    namespace["False"] = 2
    cls = meta("Enabled", (NetEnum,), namespace)
    return typing.cast("type[NetEnum]", PSType([f"{_GEN}.NetSecurity.Enabled"])(cls))


Enabled = _enabled_enum()
ENABLED_TRUE = Enabled["True"]
ENABLED_FALSE = Enabled["False"]


@PSType([f"{_GEN}.NetSecurity.Direction"])
class Direction(NetEnum):
    Inbound = 1
    Outbound = 2


@PSType([f"{_GEN}.NetSecurity.Action"])
class Action(NetEnum):
    NotConfigured = 0
    Allow = 2
    Block = 4


@PSType([f"{_GEN}.NetSecurity.Profile"])
class Profile(NetFlags):
    Any = 0
    Domain = 1
    Private = 2
    Public = 4


@PSType([f"{_GEN}.NetConnectionProfile.NetworkCategory"])
class NetworkCategory(NetEnum):
    Public = 0
    Private = 1
    DomainAuthenticated = 2


for _enum in (Enabled, Direction, Action, Profile, NetworkCategory):
    register_enum(_enum)


def _cim_names(cls: str) -> list[str]:
    return [
        f"Microsoft.Management.Infrastructure.CimInstance#root/StandardCimv2/{cls}",
        f"Microsoft.Management.Infrastructure.CimInstance#{cls}",
        "Microsoft.Management.Infrastructure.CimInstance",
        "System.Object",
    ]


def _profile_value(profiles: list[str]) -> Profile:
    value = Profile.Any
    for p in profiles:
        if p.lower() != "any":
            value |= Profile[p.capitalize()]
    return value


def rule_object(rule: FirewallRule) -> Any:
    obj = new_object(
        _cim_names("MSFT_NetFirewallRule"),
        {
            "Name": rule.name,
            "ID": rule.name,
            "DisplayName": rule.display_name,
            "Description": rule.description,
            "DisplayGroup": rule.group or None,
            "Group": rule.group or None,
            "Enabled": ENABLED_TRUE if rule.enabled else ENABLED_FALSE,
            "Profile": _profile_value(rule.profiles),
            "Platform": [],
            "Direction": Direction[rule.direction],
            "Action": Action[rule.action],
            "EdgeTraversalPolicy": "Block",
            "LooseSourceMapping": False,
            "LocalOnlyMapping": False,
            "Owner": None,
            "PrimaryStatus": "OK",
            "Status": "The rule was parsed successfully from the store. (65536)",
            "EnforcementStatus": "NotApplicable",
            "PolicyStoreSource": "PersistentStore",
            "PolicyStoreSourceType": "Local",
            "InstanceID": rule.name,
            "CreationClassName": "MSFT|FW|FirewallRule|" + rule.name,
            "ElementName": rule.display_name,
        },
        to_string_value=rule.name,
    )
    return obj


def _rule_list(call: CommandCall) -> list[FirewallRule]:
    with call.ctx.machine.lock:
        return list(call.ctx.machine.firewall.rules)


def _select_rules(call: CommandCall, error: bool = True) -> list[FirewallRule]:
    rules = _rule_list(call)
    if call.has("InputObject") or (
        not any(call.has(k) for k in ("Name", "DisplayName", "DisplayGroup", "Group"))
        and call.expecting_input
    ):
        names = [to_string(getattr(o, "Name", o)) for o in call.each("InputObject")]
        return [r for r in rules if any(r.name.lower() == n.lower() for n in names)]
    selected = rules
    for param, attr in (
        ("Name", "name"),
        ("DisplayName", "display_name"),
        ("DisplayGroup", "group"),
        ("Group", "group"),
    ):
        patterns = call.strings(param)
        if patterns is None:
            continue
        selected = [r for r in selected if any(like(getattr(r, attr), p) for p in patterns)]
        if not selected and error:
            pattern = patterns[0]
            call.error(
                f"No MSFT_NetFirewallRule objects found with property '{'InstanceID' if param == 'Name' else param}' "
                f"equal to '{pattern}'.  Verify the value of the property and retry.",
                "CmdletizationQuery_NotFound_" + ("Name" if param == "Name" else param),
                ErrorCategory.ObjectNotFound,
                target=pattern,
                exception_type="Microsoft.Management.Infrastructure.CimException",
            )
    if call.has("Enabled"):
        want = to_string(call.get("Enabled")).lower() == "true"
        selected = [r for r in selected if r.enabled == want]
    if call.has("Direction"):
        selected = [r for r in selected if r.direction.lower() == to_string(call.get("Direction")).lower()]
    return selected


_SELECT = [
    Param("Name", position=0, aliases=("ID",)),
    Param("DisplayName"),
    Param("DisplayGroup"),
    Param("Group"),
    Param("Enabled"),
    Param("Direction"),
    Param("Action"),
    Param("InputObject"),
    Param("PolicyStore"),
    Param("All", switch=True),
    Param("AssociatedNetFirewallPortFilter"),
    Param("PassThru", switch=True),
    Param("CimSession"),
    Param("AsJob", switch=True),
]
_SETTABLE = [
    Param("NewDisplayName"),
    Param("Description"),
    Param("Profile"),
    Param("Protocol"),
    Param("LocalPort"),
    Param("RemoteAddress"),
    Param("RemotePort"),
    Param("LocalAddress"),
    Param("Program"),
    Param("NewGroup"),
    Param("EdgeTraversalPolicy"),
]


@cmdlet("Get-NetFirewallRule", _SELECT, module=NETSEC)
def get_netfirewallrule(call: CommandCall) -> Iterator[Any]:
    yield from (rule_object(r) for r in _select_rules(call))


def _profiles(value: Any) -> list[str]:
    out: list[str] = []
    for v in as_list(value):
        for raw in to_string(v).split(","):
            part = raw.strip()
            if part:
                out.append("Any" if part.lower() == "any" else part.capitalize())
    return out or ["Any"]


# LocalPort/RemotePort of a TCP or UDP rule (New-NetFirewallRule, -LocalPort): a port 0-65535, a
# range "a-b" or a keyword. The keywords listed are those the page documents for -LocalPort.
_PORT_KEYWORDS = ("any", "rpc", "rpcepmap", "iphttps", "iphttpsin", "iphttpsout", "teredo", "playtodiscovery")
# Windows' message for a bad port, as New-NetFirewallRule / Set-NetFirewallRule print it.
BAD_PORT = "The port is invalid. When Protocol is TCP or UDP, individual ports or ranges are allowed."


def _valid_port(spec: str) -> bool:
    text = spec.strip()
    if text.lower() in _PORT_KEYWORDS:
        return True
    low, sep, high = text.partition("-")
    if not low.isdigit() or (sep and not high.isdigit()):
        return False
    first, last = int(low), int(high) if sep else int(low)
    return 0 <= first <= last <= 65535


def _bad_port(call: CommandCall) -> bool:
    """Write Windows' non-terminating CIM error when a -LocalPort value is not a port, range or
    keyword (the cmdlet then changes nothing); False when the ports are fine or not given."""
    ports = [to_string(p) for p in as_list(call.get("LocalPort"))] if call.has("LocalPort") else []
    bad = next((p for p in ports if not _valid_port(p)), None)
    if bad is None:
        return False
    call.error(
        BAD_PORT,
        "HRESULT 0x80070057",
        ErrorCategory.InvalidArgument,
        target=bad,
        exception_type="Microsoft.Management.Infrastructure.CimException",
    )
    return True


def _apply_settings(rule: FirewallRule, call: CommandCall) -> None:
    if call.has("NewDisplayName"):
        rule.display_name = call.string("NewDisplayName") or rule.display_name
    if call.has("Description"):
        rule.description = call.string("Description") or ""
    if call.has("Profile"):
        rule.profiles = _profiles(call.get("Profile"))
    if call.has("Protocol"):
        rule.protocol = (call.string("Protocol") or "Any").upper()
    if call.has("LocalPort"):
        rule.local_ports = [to_string(p) for p in as_list(call.get("LocalPort"))]
    if call.has("RemoteAddress"):
        rule.remote_addresses = [to_string(a) for a in as_list(call.get("RemoteAddress"))]
    if call.has("Action"):
        rule.action = to_string(call.get("Action")).capitalize()
    if call.has("Enabled"):
        rule.enabled = to_string(call.get("Enabled")).lower() == "true"
    if call.has("NewGroup"):
        rule.group = call.string("NewGroup") or ""


@cmdlet(
    "New-NetFirewallRule",
    [
        Param("DisplayName"),
        Param("Name"),
        Param("Direction"),
        Param("Action"),
        Param("Enabled"),
        Param("Group"),
        *_SETTABLE,
        Param("PolicyStore"),
    ],
    module=NETSEC,
)
def new_netfirewallrule(call: CommandCall) -> Iterator[Any]:
    import uuid

    machine = call.ctx.machine
    name = call.string("Name") or "{" + str(uuid.uuid4()) + "}"
    if not call.has("DisplayName"):
        raise call.fail(
            "Cannot process command because of one or more missing mandatory parameters: DisplayName.",
            "MissingMandatoryParameter",
            ErrorCategory.InvalidArgument,
            exception_type="System.Management.Automation.ParameterBindingException",
        )
    if _bad_port(call):  # refused before anything is created
        return
    with machine.lock:
        if machine.firewall.find(name) is not None:
            raise call.fail(
                "Cannot create a file when that file already exists.",
                "Windows System Error 183",
                ErrorCategory.ResourceExists,
                target=name,
                exception_type="Microsoft.Management.Infrastructure.CimException",
            )
        rule = FirewallRule(
            name,
            call.string("DisplayName") or name,
            direction=to_string(call.get("Direction", "Inbound")).capitalize(),
            action=to_string(call.get("Action", "Allow")).capitalize(),
            group=call.string("Group") or "",
            protocol="Any",
            local_ports=["Any"],
        )
        _apply_settings(rule, call)
        machine.firewall.rules.append(rule)
    machine.notify(TOPIC_FIREWALL)
    yield rule_object(rule)


@cmdlet("Set-NetFirewallRule", _SELECT + _SETTABLE, module=NETSEC)
def set_netfirewallrule(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    rules = _select_rules(call)
    if _bad_port(call):  # refused before any rule is changed
        return
    with machine.lock:
        for rule in rules:
            _apply_settings(rule, call)
    machine.notify(TOPIC_FIREWALL)
    if call.switch("PassThru"):
        yield from (rule_object(r) for r in rules)


def _toggle(call: CommandCall, enabled: bool) -> Iterator[Any]:
    machine = call.ctx.machine
    rules = _select_rules(call)
    with machine.lock:
        for rule in rules:
            rule.enabled = enabled
    machine.notify(TOPIC_FIREWALL)
    if call.switch("PassThru"):
        yield from (rule_object(r) for r in rules)


@cmdlet("Enable-NetFirewallRule", _SELECT, module=NETSEC)
def enable_netfirewallrule(call: CommandCall) -> Iterator[Any]:
    return _toggle(call, True)


@cmdlet("Disable-NetFirewallRule", _SELECT, module=NETSEC)
def disable_netfirewallrule(call: CommandCall) -> Iterator[Any]:
    return _toggle(call, False)


@cmdlet("Remove-NetFirewallRule", _SELECT, module=NETSEC)
def remove_netfirewallrule(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    rules = _select_rules(call)
    with machine.lock:
        for rule in rules:
            machine.firewall.rules.remove(rule)
    machine.notify(TOPIC_FIREWALL)
    return iter(())


def _rules_from_input(call: CommandCall) -> list[FirewallRule]:
    if call.has("AssociatedNetFirewallRule") or call.expecting_input:
        objs = (
            as_list(call.get("AssociatedNetFirewallRule"))
            if call.has("AssociatedNetFirewallRule")
            else list(call.input())
        )
        names = [to_string(getattr(o, "Name", o)) for o in objs]
        return [r for r in _rule_list(call) if any(r.name.lower() == n.lower() for n in names)]
    return _rule_list(call)


@cmdlet(
    "Get-NetFirewallPortFilter",
    [Param("AssociatedNetFirewallRule"), Param("Protocol"), Param("All", switch=True), Param("PolicyStore")],
    module=NETSEC,
)
def get_netfirewallportfilter(call: CommandCall) -> Iterator[Any]:
    for rule in _rules_from_input(call):
        yield new_object(
            _cim_names("MSFT_NetProtocolPortFilter"),
            {
                "Protocol": rule.protocol,
                "LocalPort": rule.local_ports[0] if len(rule.local_ports) == 1 else list(rule.local_ports),
                "RemotePort": "Any",
                "IcmpType": "Any",
                "DynamicTarget": "Any",
                "InstanceID": rule.name,
            },
            to_string_value=rule.name,
        )


@cmdlet(
    "Get-NetFirewallAddressFilter",
    [Param("AssociatedNetFirewallRule"), Param("All", switch=True), Param("PolicyStore")],
    module=NETSEC,
)
def get_netfirewalladdressfilter(call: CommandCall) -> Iterator[Any]:
    for rule in _rules_from_input(call):
        remote: Any = (
            rule.remote_addresses[0] if len(rule.remote_addresses) == 1 else list(rule.remote_addresses)
        )
        yield new_object(
            _cim_names("MSFT_NetAddressFilter"),
            {
                "LocalAddress": "Any",
                "LocalIP": "Any",
                "RemoteAddress": remote,
                "RemoteIP": remote,
                "InstanceID": rule.name,
            },
            to_string_value=rule.name,
        )


@cmdlet(
    "Get-NetFirewallProfile",
    [Param("Name", position=0, aliases=("Profile",)), Param("All", switch=True), Param("PolicyStore")],
    module=NETSEC,
)
def get_netfirewallprofile(call: CommandCall) -> Iterator[Any]:
    fw = call.ctx.machine.firewall
    names = call.strings("Name") or ["Domain", "Private", "Public"]
    for name in names:
        key = name.capitalize()
        if key not in fw.profiles_enabled:
            continue
        yield new_object(
            _cim_names("MSFT_NetFirewallProfile"),
            {
                "Name": key,
                "Profile": key,
                "Enabled": ENABLED_TRUE if fw.profiles_enabled[key] else ENABLED_FALSE,
                "DefaultInboundAction": "NotConfigured",
                "DefaultOutboundAction": "NotConfigured",
                "AllowInboundRules": "NotConfigured",
                "LogFileName": "%systemroot%\\system32\\LogFiles\\Firewall\\pfirewall.log",
            },
            to_string_value=key,
        )


@cmdlet(
    "Set-NetFirewallProfile",
    [
        Param("Name", position=0, aliases=("Profile",)),
        Param("Enabled"),
        Param("All", switch=True),
        Param("PolicyStore"),
        Param("DefaultInboundAction"),
        Param("PassThru", switch=True),
    ],
    module=NETSEC,
)
def set_netfirewallprofile(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    names = call.strings("Name") or ["Domain", "Private", "Public"]
    if call.has("Enabled"):
        value = (
            to_string(call.get("Enabled")).lower() == "true"
            if isinstance(call.get("Enabled"), str)
            else to_bool(call.get("Enabled"))
        )
        with machine.lock:
            for name in names:
                for part in name.split(","):
                    machine.firewall.profiles_enabled[part.strip().capitalize()] = value
        machine.notify(TOPIC_FIREWALL)
    return iter(())


def _connection_profile(call: CommandCall) -> Any:
    fw = call.ctx.machine.firewall
    category = "DomainAuthenticated" if fw.network_category == "Domain" else fw.network_category
    return new_object(
        _cim_names("MSFT_NetConnectionProfile"),
        {
            "Name": fw.network_name,
            "InterfaceAlias": fw.interface_alias,
            "InterfaceIndex": 4,
            "NetworkCategory": NetworkCategory[category],
            "DomainAuthenticationKind": "None",
            "IPv4Connectivity": "Internet",
            "IPv6Connectivity": "NoTraffic",
        },
        to_string_value='MSFT_NetConnectionProfile (Name = "{...}")',
    )


@cmdlet(
    "Get-NetConnectionProfile",
    [Param("Name"), Param("InterfaceAlias"), Param("InterfaceIndex"), Param("NetworkCategory")],
    module="NetConnection",
)
def get_netconnectionprofile(call: CommandCall) -> Iterator[Any]:
    yield _connection_profile(call)


@cmdlet(
    "Set-NetConnectionProfile",
    [
        Param("Name"),
        Param("InterfaceAlias"),
        Param("InterfaceIndex"),
        Param("NetworkCategory"),
        Param("InputObject"),
        Param("PassThru", switch=True),
    ],
    module="NetConnection",
)
def set_netconnectionprofile(call: CommandCall) -> Iterator[Any]:
    for _ in call.input():
        pass
    machine = call.ctx.machine
    if call.has("NetworkCategory"):
        value = to_string(call.get("NetworkCategory")).capitalize()
        if value.lower() == "domainauthenticated":
            raise call.fail(
                "Unable to set NetworkCategory to 'DomainAuthenticated'. This NetworkCategory type will be "
                "set automatically when authenticated to a domain network.",
                "MI RESULT 4",
                ErrorCategory.PermissionDenied,
                exception_type="Microsoft.Management.Infrastructure.CimException",
            )
        if value not in ("Public", "Private"):
            raise call.fail(
                f'Cannot convert value "{value}" to type NetworkCategory.',
                "InvalidArgument",
                ErrorCategory.InvalidArgument,
                exception_type="System.ArgumentException",
            )
        with machine.lock:
            machine.firewall.network_category = value
        machine.notify(TOPIC_FIREWALL)
    if call.switch("PassThru"):
        yield _connection_profile(call)
