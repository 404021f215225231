"""ansible.windows.setup: facts of the simulated host.

Source: ansible-collections/ansible.windows plugins/modules/setup.ps1 (fact names and subsets
``min``/``network``/``hardware``; ``gather_subset`` default ``all``; ``!x`` excludes). Values come
from the machine model (computer name, OS caption/version, PowerShell version, environment,
domain, WinRM HTTPS listener certificate); hardware values are those of a small VM.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from typing import Any

from cryptography import x509

from winhost.engine.ansible_modules import ModuleContext, ModuleSpec

_GROUPS = {
    "min": ["date_time", "distribution", "dns", "env", "local", "platform", "powershell_version", "user"],
    "network": ["all_ipv4_addresses", "all_ipv6_addresses", "interfaces", "windows_domain", "winrm"],
    "hardware": ["bios", "memory", "processor", "uptime", "virtual"],
    "external": ["facter"],
}
_ALL = sorted({s for group in _GROUPS.values() for s in group})


def _subsets(requested: list[str], ctx: ModuleContext) -> set[str]:
    actual, explicit, exclude = set(_ALL), set(), set()
    for item in requested:
        if item.startswith("!"):
            name = item[1:]
            if name == "all":
                exclude |= set(_ALL) - set(_GROUPS["min"])
            elif name in _GROUPS:
                exclude |= set(_GROUPS[name])
            elif name in _ALL:
                exclude.add(name)
        elif item in _GROUPS:
            explicit |= set(_GROUPS[item])
        elif item == "all":
            explicit |= set(_ALL)
        elif item in _ALL:
            explicit.add(item)
        else:
            ctx.warn(f"invalid value {item} specified in gather_subset")
    return (actual - exclude) | explicit


def _date_time() -> dict[str, Any]:
    now = datetime.datetime.now().astimezone()
    utc = now.astimezone(datetime.UTC)
    offset = now.strftime("%z")
    return {
        "date": now.strftime("%Y-%m-%d"),
        "day": now.strftime("%d"),
        "epoch": str(int(utc.timestamp())),
        "epoch_local": str(int(now.timestamp() + (now.utcoffset() or datetime.timedelta()).total_seconds())),
        "epoch_int": int(utc.timestamp()),
        "hour": now.strftime("%H"),
        "iso8601": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso8601_basic": now.strftime("%Y%m%dT%H%M%S%f"),
        "iso8601_basic_short": now.strftime("%Y%m%dT%H%M%S"),
        "iso8601_micro": utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "minute": now.strftime("%M"),
        "month": now.strftime("%m"),
        "second": now.strftime("%S"),
        "time": now.strftime("%H:%M:%S"),
        "tz": "UTC",
        "tz_offset": f"{offset[:3]}:{offset[3:]}",
        "weekday": now.strftime("%A"),
        "weekday_number": str(int(now.strftime("%w"))),
        "weeknumber": now.strftime("%W"),
        "year": now.strftime("%Y"),
    }


@dataclasses.dataclass(frozen=True)
class _Host:
    """What several fact subsets derive from the machine."""

    name: str
    domain: str
    joined: bool
    os_version: str
    caption: str

    @classmethod
    def of(cls, m: Any) -> _Host:
        domain = str(getattr(m, "domain", "WORKGROUP"))
        return cls(
            name=str(m.computer_name),
            domain=domain,
            joined=domain.upper() != "WORKGROUP" and "." in domain,
            os_version=str(getattr(m, "os_version", "10.0.20348")),
            caption=str(getattr(m, "os_caption", "Microsoft Windows Server 2022 Datacenter")),
        )


Facts = dict[str, Any]


def _bios(ctx: ModuleContext, host: _Host) -> Facts:
    return {
        "ansible_bios_date": "11/26/2012",
        "ansible_bios_version": "Hyper-V UEFI Release v4.1",
        "ansible_product_name": "Virtual Machine",
        "ansible_product_serial": "0000-0000-0000-0000-0000-0000-00",
        "ansible_product_uuid": "6E0B1B6C-0000-4000-8000-"
        + host.name.encode().hex().upper()[:12].ljust(12, "0"),
    }


def _distribution(ctx: ModuleContext, host: _Host) -> Facts:
    return {
        "ansible_distribution": host.caption,
        "ansible_distribution_version": host.os_version + ".0",
        "ansible_distribution_major_version": host.os_version.split(".", maxsplit=1)[0],
        "ansible_os_family": "Windows",
        "ansible_os_name": host.caption,
        "ansible_os_product_type": "server" if "Server" in host.caption else "workstation",
        "ansible_os_installation_type": "Server",
        "ansible_os_install_date": "2024-01-01T00:00:00Z",
    }


def _interfaces(ctx: ModuleContext, host: _Host) -> Facts:
    loopback = {
        "connection_name": "Loopback Pseudo-Interface 1",
        "default_gateway": None,
        "dns_domain": None,
        "interface_index": 1,
        "interface_name": "Software Loopback Interface 1",
        "macaddress": None,
    }
    return {"ansible_interfaces": [loopback]}


def _memory(ctx: ModuleContext, host: _Host) -> Facts:
    return {
        "ansible_memtotal_mb": 4096,
        "ansible_memfree_mb": 2048,
        "ansible_swaptotal_mb": 0,
        "ansible_pagefiletotal_mb": 1024,
        "ansible_pagefilefree_mb": 1024,
    }


def _platform(ctx: ModuleContext, host: _Host) -> Facts:
    fqdn = f"{host.name}.{host.domain}" if host.joined else host.name
    return {
        "ansible_architecture": "64-bit",
        "ansible_architecture2": "x86_64",
        "ansible_domain": host.domain if host.joined else "",
        "ansible_fqdn": fqdn,
        "ansible_hostname": host.name,
        "ansible_netbios_name": host.name,
        "ansible_kernel": host.os_version + ".0",
        "ansible_nodename": fqdn,
        "ansible_machine_id": "S-1-5-21-1004336348-1177238915-682003330",
        "ansible_owner_contact": "",
        "ansible_owner_name": "Windows User",
        "ansible_reboot_pending": False,
        "ansible_system": "Win32NT",
        "ansible_system_description": "",
        "ansible_system_vendor": "Microsoft Corporation",
    }


def _processor(ctx: ModuleContext, host: _Host) -> Facts:
    return {
        "ansible_processor": [
            "0",
            "GenuineIntel",
            "Intel(R) Xeon(R) CPU",
            "1",
            "GenuineIntel",
            "Intel(R) Xeon(R) CPU",
        ],
        "ansible_processor_count": 1,
        "ansible_processor_cores": 2,
        "ansible_processor_threads_per_core": 1,
        "ansible_processor_vcpus": 2,
    }


def _uptime(ctx: ModuleContext, host: _Host) -> Facts:
    boot = float(getattr(ctx.machine, "boot_time", 0.0) or 0.0) or time.time() - 3600
    return {
        "ansible_lastboot": datetime.datetime.fromtimestamp(boot).strftime("%Y-%m-%d %H:%M:%SZ"),
        "ansible_uptime_seconds": round(time.time() - boot),
    }


def _user(ctx: ModuleContext, host: _Host) -> Facts:
    m = ctx.machine
    account = m.accounts.get(ctx.user.split("\\")[-1]) if hasattr(m, "accounts") else None
    return {
        "ansible_user_dir": ctx.env.get("USERPROFILE", ""),
        "ansible_user_gecos": "",
        "ansible_user_id": ctx.env.get("USERNAME", ctx.user),
        "ansible_user_sid": getattr(account, "sid", "") or "",
    }


def _windows_domain(ctx: ModuleContext, host: _Host) -> Facts:
    return {
        "ansible_windows_domain": host.domain,
        "ansible_windows_domain_member": host.joined,
        "ansible_windows_domain_role": "Member server" if host.joined else "Stand-alone server",
    }


def _winrm(ctx: ModuleContext, host: _Host) -> Facts:
    """The HTTPS listener's certificate expiry and thumbprint (the last HTTPS listener wins)."""
    facts: Facts = {}
    m = ctx.machine
    for listener in m.wsman.listeners:
        cert = m.cert_store.get(listener.certificate_thumbprint) if listener.certificate_thumbprint else None
        if listener.transport.upper() == "HTTPS" and cert is not None:
            parsed = x509.load_pem_x509_certificate(cert.cert_pem.encode())
            facts["ansible_win_rm_certificate_expires"] = parsed.not_valid_after_utc.strftime(
                "%Y-%m-%d %H:%M:%S"
            )
            facts["ansible_win_rm_certificate_thumbprint"] = cert.thumbprint
    return facts


#: Fact subsets in setup.ps1's order.
_SUBSETS: tuple[tuple[str, Callable[[ModuleContext, _Host], Facts]], ...] = (
    ("bios", _bios),
    ("date_time", lambda ctx, host: {"ansible_date_time": _date_time()}),
    ("distribution", _distribution),
    ("env", lambda ctx, host: {"ansible_env": {k: v.rstrip("\\") for k, v in ctx.env.items()}}),
    ("interfaces", _interfaces),
    ("memory", _memory),
    ("platform", _platform),
    (
        "powershell_version",
        lambda ctx, host: {
            "ansible_powershell_version": int(str(getattr(ctx.machine, "ps_version", "5.1")).split(".")[0])
        },
    ),
    ("processor", _processor),
    ("uptime", _uptime),
    ("user", _user),
    ("windows_domain", _windows_domain),
    ("winrm", _winrm),
    (
        "virtual",
        lambda ctx, host: {"ansible_virtualization_role": "guest", "ansible_virtualization_type": "Hyper-V"},
    ),
)


def run(ctx: ModuleContext) -> dict[str, Any]:
    subsets = _subsets(ctx.params["gather_subset"] or ["all"], ctx)
    facts: Facts = {"gather_subset": ctx.params["gather_subset"], "module_setup": True}
    if "all_ipv4_addresses" in subsets or "all_ipv6_addresses" in subsets:
        # setup.ps1 drops 127.0.0.1 and ::1; the simulated host's only interface is loopback.
        facts["ansible_ip_addresses"] = []
    host = _Host.of(ctx.machine)
    for subset, gather in _SUBSETS:
        if subset in subsets:
            facts.update(gather(ctx, host))
    return {"ansible_facts": facts}


SPEC = ModuleSpec(
    name="setup",
    run=run,
    options={
        "_measure_subset": {"type": "bool", "default": False},
        "fact_path": {"type": "path"},
        "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
        "gather_timeout": {"type": "int", "default": 10},
    },
    fingerprints=("gather_subset", "ansible_facts", "$factmeta"),
    ignore_unknown=True,
)
