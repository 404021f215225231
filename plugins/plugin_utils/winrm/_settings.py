# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WSMan configuration settings: where they live, how to compare them, and Group Policy locks.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Values are read with ``Get-Item -Path WSMan:\\localhost\\...`` which returns
``Microsoft.WSMan.Management.WSManConfigLeafElement`` objects (``Name``, ``Value``, ``Type``,
``SourceOfValue``); ``Value`` is always a string ("true", "512"). When a Group Policy controls a
setting, WSMan reports ``SourceOfValue`` = ``GPO`` and ``Set-Item`` fails; the policy values
themselves are under ``HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\{Service,Client}``.

References:
* about_WSMan_Provider (PowerShell-Docs, Microsoft.WSMan.Management): the WSMan: drive layout.
* [MS-WSMV] 2.2.4.34 ServiceAuthType, 2.2.4.41 ServiceType, 2.2.4.5 ClientType: names/defaults.
* Policy CSP - RemoteManagement / ADMX_WindowsRemoteManagement (WindowsRemoteManagement.admx):
  policy names, registry keys and value names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import (
    int_range,
    ip_filter,
    trusted_host,
)

SettingKind = Literal["bool", "int", "str", "list"]
_NOT_IN_ROLE: Any = object()  # WSManSetting.role_default when the role does not manage the setting

POLICY_SERVICE_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service"
POLICY_CLIENT_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Client"
_GPO_PATH_SERVICE = (
    "Computer Configuration > Administrative Templates > Windows Components > "
    "Windows Remote Management (WinRM) > WinRM Service"
)
_GPO_PATH_CLIENT = (
    "Computer Configuration > Administrative Templates > Windows Components > "
    "Windows Remote Management (WinRM) > WinRM Client"
)


@dataclass(frozen=True)
class Policy:
    """The Group Policy setting that can lock a WSMan value."""

    key: str  # registry key (PowerShell path)
    value_names: tuple[str, ...]  # any of these present => the policy is configured
    title: str  # the policy's name in the Group Policy editor
    scope: str  # the GPO editor path


CBT_LEVELS = ("Strict", "Relaxed", "None")
_UINT32 = 4294967295
_INT32 = 2147483647


@dataclass(frozen=True)
class WSManSetting:
    """The one declaration of a WSMan setting.

    It drives the module option (argument spec and DOCUMENTATION of winrm_service / winrm_client),
    the check of the value before any request, and, with ``role_default`` set, the role variable
    ``enable_psremoting_<option>`` (defaults/main.yml, meta/argument_specs.yml, tasks/service.yml).
    The generated parts are written by ``tools/gen_winrm_settings.py`` (``--check`` in the tests).
    """

    option: str  # module option name
    path: str  # WSMan: provider path
    kind: SettingKind
    policy: Policy | None = None
    description: str = ""
    check: Callable[[Any], Any] | None = None  # returns the value to send, raises Invalid
    allowed: str = ""  # what ``check`` accepts and its source, for the documentation
    choices: tuple[str, ...] | None = None
    role_default: Any = _NOT_IN_ROLE  # the role variable's default; None leaves the host's value

    @property
    def in_role(self) -> bool:
        return self.role_default is not _NOT_IN_ROLE


def _svc(value: str, title: str, *more: str) -> Policy:
    return Policy(POLICY_SERVICE_KEY, (value, *more), title, _GPO_PATH_SERVICE)


def _cli(value: str, title: str, *more: str) -> Policy:
    return Policy(POLICY_CLIENT_KEY, (value, *more), title, _GPO_PATH_CLIENT)


def _bounded(
    option: str, path: str, bounds: tuple[int, int], source: str, description: str, *, in_role: bool = True
) -> WSManSetting:
    low, high = bounds
    return WSManSetting(
        option,
        path,
        "int",
        description=description,
        check=int_range(low, high, source),
        allowed=f"{low} to {high} ({source})",
        role_default=None if in_role else _NOT_IN_ROLE,
    )


# The WinRM service side (winrm/config/service, winrm/config/winrs, winrm/config).
SERVICE_SETTINGS: tuple[WSManSetting, ...] = (
    WSManSetting(
        "auth_basic",
        "WSMan:\\localhost\\Service\\Auth\\Basic",
        "bool",
        _svc("AllowBasic", "Allow Basic authentication"),
        description="Accept Basic authentication. It sends the password with every request.",
        role_default=False,
    ),
    WSManSetting(
        "auth_kerberos",
        "WSMan:\\localhost\\Service\\Auth\\Kerberos",
        "bool",
        _svc("AllowKerberos", "Disallow Kerberos authentication"),
        description="Accept Kerberos authentication.",
        role_default=True,
    ),
    WSManSetting(
        "auth_negotiate",
        "WSMan:\\localhost\\Service\\Auth\\Negotiate",
        "bool",
        _svc("AllowNegotiate", "Disallow Negotiate authentication"),
        description="Accept Negotiate (Kerberos, or NTLM as fall-back).",
        role_default=True,
    ),
    WSManSetting(
        "auth_certificate",
        "WSMan:\\localhost\\Service\\Auth\\Certificate",
        "bool",
        description="Accept client certificate authentication (HTTPS only, with certificate mappings).",
        role_default=False,
    ),
    WSManSetting(
        "auth_credssp",
        "WSMan:\\localhost\\Service\\Auth\\CredSSP",
        "bool",
        _svc("AllowCredSSP", "Allow CredSSP authentication"),
        description="Accept CredSSP, which delegates the user's credentials to the host.",
        role_default=False,
    ),
    WSManSetting(
        "cbt_hardening_level",
        "WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel",
        "str",
        _svc("CBTHardeningLevelStatus", "Specify channel binding token hardening level", "CbtHardeningLevel"),
        description="Channel binding token requirement over HTTPS (Windows' default is Relaxed).",
        choices=CBT_LEVELS,
        role_default="Relaxed",
    ),
    WSManSetting(
        "allow_unencrypted",
        "WSMan:\\localhost\\Service\\AllowUnencrypted",
        "bool",
        _svc("AllowUnencryptedTraffic", "Allow unencrypted traffic"),
        description="Accept unencrypted messages over HTTP.",
        role_default=False,
    ),
    _bounded(
        "max_envelope_size_kb",
        "WSMan:\\localhost\\MaxEnvelopeSizekb",
        (32, _UINT32),
        "[MS-WSMV] 2.2.4.10 ConfigType, MaxEnvelopeSizekb",
        "Largest SOAP message in KB.",
    ),
    _bounded(
        "max_timeout_ms",
        "WSMan:\\localhost\\MaxTimeoutms",
        (500, _UINT32),
        "[MS-WSMV] 2.2.4.10 ConfigType, MaxTimeoutms",
        "Longest time-out in milliseconds the service grants a request (a Receive waits at most this long).",
        in_role=False,
    ),
    _bounded(
        "max_concurrent_operations_per_user",
        "WSMan:\\localhost\\Service\\MaxConcurrentOperationsPerUser",
        (1, _UINT32),
        "[MS-WSMV] 2.2.4.36 ServiceType types it xs:unsignedInt and gives no lower bound; "
        "1 is chosen because 0 would refuse every operation",
        "Concurrent operations per user.",
    ),
    _bounded(
        "max_memory_per_shell_mb",
        "WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB",
        (0, _INT32),
        "Group Policy 'Specify maximum amount of memory in MB per Shell' (WindowsRemoteShell.admx): "
        "0 to 0x7FFFFFFF, 0 meaning unlimited",
        "Memory per shell in MB.",
    ),
    _bounded(
        "max_shells_per_user",
        "WSMan:\\localhost\\Shell\\MaxShellsPerUser",
        (1, _INT32),
        "[MS-WSMV] 2.2.4.42 WinrsType gives no range; 1 is chosen because 0 would refuse every "
        "shell, and 2147483647 is the value Windows Server ships with",
        "Shells per user.",
    ),
    _bounded(
        "idle_timeout_ms",
        "WSMan:\\localhost\\Shell\\IdleTimeout",
        (60000, _INT32),
        "Group Policy 'Specify idle Timeout' (WindowsRemoteShell.admx): up to 0x7FFFFFFF, and smaller "
        "values than 60000 are raised to 60000, so they would not read back as set",
        "Idle time-out of shells in milliseconds.",
    ),
    WSManSetting(
        "ipv4_filter",
        "WSMan:\\localhost\\Service\\IPv4Filter",
        "str",
        _svc("IPv4Filter", "Allow remote server management through WinRM", "AllowAutoConfig"),
        description="IPv4 addresses that C(*) listeners bind to.",
        check=ip_filter(4),
        allowed="C(*) or addresses and ranges C(a-b) separated by commas ([MS-WSMV] 2.2.4.36); not empty",
    ),
    WSManSetting(
        "ipv6_filter",
        "WSMan:\\localhost\\Service\\IPv6Filter",
        "str",
        _svc("IPv6Filter", "Allow remote server management through WinRM", "AllowAutoConfig"),
        description="IPv6 addresses that C(*) listeners bind to.",
        check=ip_filter(6),
        allowed="C(*) or addresses and ranges C(a-b) separated by commas ([MS-WSMV] 2.2.4.36); not empty",
    ),
)

# The WinRM client side (winrm/config/client).
CLIENT_SETTINGS: tuple[WSManSetting, ...] = (
    WSManSetting(
        "auth_basic",
        "WSMan:\\localhost\\Client\\Auth\\Basic",
        "bool",
        _cli("AllowBasic", "Allow Basic authentication"),
        description="Let the client use Basic authentication.",
    ),
    WSManSetting(
        "auth_digest",
        "WSMan:\\localhost\\Client\\Auth\\Digest",
        "bool",
        _cli("AllowDigest", "Disallow Digest authentication"),
        description="Let the client use Digest authentication.",
    ),
    WSManSetting(
        "auth_kerberos",
        "WSMan:\\localhost\\Client\\Auth\\Kerberos",
        "bool",
        _cli("AllowKerberos", "Disallow Kerberos authentication"),
        description="Let the client use Kerberos authentication.",
    ),
    WSManSetting(
        "auth_negotiate",
        "WSMan:\\localhost\\Client\\Auth\\Negotiate",
        "bool",
        _cli("AllowNegotiate", "Disallow Negotiate authentication"),
        description="Let the client use Negotiate authentication.",
    ),
    WSManSetting(
        "auth_certificate",
        "WSMan:\\localhost\\Client\\Auth\\Certificate",
        "bool",
        description="Let the client use certificate authentication.",
    ),
    WSManSetting(
        "auth_credssp",
        "WSMan:\\localhost\\Client\\Auth\\CredSSP",
        "bool",
        _cli("AllowCredSSP", "Allow CredSSP authentication"),
        description="Let the client delegate credentials with CredSSP.",
    ),
    WSManSetting(
        "allow_unencrypted",
        "WSMan:\\localhost\\Client\\AllowUnencrypted",
        "bool",
        _cli("AllowUnencryptedTraffic", "Allow unencrypted traffic"),
        description="Let the client send unencrypted messages.",
    ),
    WSManSetting(
        "trusted_hosts",
        "WSMan:\\localhost\\Client\\TrustedHosts",
        "list",
        _cli("TrustedHostsList", "Trusted Hosts", "TrustedHosts"),
        description="Entries of the client's TrustedHosts list, combined with the current list as "
        "I(trusted_hosts_mode) says.",
        check=trusted_host,
        allowed="each entry one computer name (C(*) wildcards allowed), one IP address, C(*) or C(<local>); "
        "no commas or whitespace inside an entry (about_Remote_Troubleshooting)",
    ),
)


def argument_spec(settings: Sequence[WSManSetting]) -> dict[str, dict[str, Any]]:
    """The module options of ``settings`` (no defaults: an unset option leaves the host's value)."""
    spec: dict[str, dict[str, Any]] = {}
    for setting in settings:
        entry: dict[str, Any] = {"type": setting.kind}
        if setting.kind == "list":
            entry["elements"] = "str"
        if setting.choices:
            entry["choices"] = list(setting.choices)
        spec[setting.option] = entry
    return spec


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def split_list(value: Any) -> list[str]:
    """TrustedHosts and similar: a comma-separated string (or a list) -> list, order kept."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


def normalize(kind: SettingKind, value: Any) -> Any:
    """The comparable Python value of a WSMan leaf value or a module option."""
    if value is None:
        return None
    if kind == "bool":
        return to_bool(value)
    if kind == "int":
        return int(str(value).strip())
    if kind == "list":
        return split_list(value)
    text = str(value)
    if text.lower() in ("strict", "relaxed", "none") and text.capitalize() in CBT_LEVELS:
        return text.capitalize()
    return text


def to_wsman_value(kind: SettingKind, value: Any) -> Any:
    """The typed value given to ``Set-Item -Value``."""
    if kind == "list":
        return ",".join(value)
    return value


@dataclass(frozen=True)
class LeafValue:
    """A ``WSManConfigLeafElement`` as far as we care."""

    value: Any
    source: str | None = None  # SourceOfValue: "GPO" when a policy controls it

    @property
    def gpo(self) -> bool:
        return (self.source or "").strip().upper() == "GPO"


def leaf_from_ps(obj: Any) -> LeafValue:
    if isinstance(obj, Mapping):
        source = obj.get("SourceOfValue")
        if isinstance(source, Mapping):  # an enum shaped {"String": ...}
            source = source.get("String")
        return LeafValue(value=obj.get("Value"), source=str(source) if source else None)
    return LeafValue(value=obj)


def leaves_by_setting(settings: Sequence[WSManSetting], output: Sequence[Any]) -> dict[str, LeafValue]:
    """Match ``Get-Item -Path <paths>`` output to settings.

    Get-Item writes items in the order of its ``-Path`` array; each item also carries ``Name``
    (the leaf name), which is checked so that a missing item (e.g. CredSSP on an old host) does not
    shift the rest.
    """
    out: dict[str, LeafValue] = {}
    remaining = list(output)
    for setting in settings:
        leaf_name = setting.path.rsplit("\\", 1)[-1].lower()
        for index, obj in enumerate(remaining):
            name = obj.get("Name") if isinstance(obj, Mapping) else None
            if name is None or str(name).lower() == leaf_name:
                out[setting.option] = leaf_from_ps(obj)
                del remaining[index]
                break
    return out


@dataclass(frozen=True)
class SettingChange:
    option: str
    path: str
    before: Any
    after: Any
    kind: SettingKind


@dataclass
class SettingsPlan:
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    changes: list[SettingChange] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)  # user-facing lock explanations


def policy_configured(policy: Policy, policy_values: Mapping[str, Any]) -> str | None:
    """The first registry value name of ``policy`` that is present, or None."""
    lowered = {str(k).lower(): k for k in policy_values}
    for name in policy.value_names:
        if name.lower() in lowered:
            return str(lowered[name.lower()])
    return None


def plan_settings(
    settings: Sequence[WSManSetting],
    desired: Mapping[str, Any],
    current: Mapping[str, LeafValue],
    policies: Mapping[str, Mapping[str, Any]],
    *,
    host: str,
    module: str,
) -> SettingsPlan:
    """Compare desired option values (None = leave alone) with the host's current values.

    ``policies`` maps a policy registry key to the values ``Get-ItemProperty`` found there.
    A change to a value that Group Policy controls is reported in ``locked``, not planned.
    """
    plan = SettingsPlan()
    for setting in settings:
        leaf = current.get(setting.option)
        before = normalize(setting.kind, leaf.value) if leaf is not None else None
        plan.before[setting.option] = before
        want = desired.get(setting.option)
        if want is None:
            plan.after[setting.option] = before
            continue
        want = normalize(setting.kind, want)
        plan.after[setting.option] = want
        if leaf is None:
            plan.locked.append(
                f"{host}: {module} option '{setting.option}': {setting.path} does not exist on this "
                "host (older WinRM?); leave the option unset"
            )
            continue
        if want == before:
            continue
        lock = _lock_reason(setting, leaf, policies)
        if lock:
            plan.locked.append(
                f"{host}: {module} option '{setting.option}' wants {_show(want)} but {lock}, so "
                f"WinRM refuses local changes (currently {_show(before)}). Fix: change or unset the "
                f"GPO '{setting.policy.title if setting.policy else setting.option}'"
                f"{' (' + setting.policy.scope + ')' if setting.policy else ''}, or leave "
                f"'{setting.option}' unset."
            )
            plan.after[setting.option] = before
            continue
        plan.changes.append(SettingChange(setting.option, setting.path, before, want, setting.kind))
    return plan


def _lock_reason(setting: WSManSetting, leaf: LeafValue, policies: Mapping[str, Mapping[str, Any]]) -> str:
    if setting.policy is not None:
        values = policies.get(setting.policy.key) or {}
        name = policy_configured(setting.policy, values)
        if name is not None:
            return (
                f"Group Policy sets it ({setting.policy.key.replace('HKLM:', 'HKLM')}\\{name} = "
                f"{_show(values.get(name))})"
            )
    if leaf.gpo:
        return "Group Policy controls it (SourceOfValue is GPO)"
    return ""


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def policy_keys(settings: Sequence[WSManSetting]) -> list[str]:
    keys: list[str] = []
    for setting in settings:
        if setting.policy is not None and setting.policy.key not in keys:
            keys.append(setting.policy.key)
    return keys


def policy_values_from_ps(output: Sequence[Any]) -> dict[str, Any]:
    """The values of one ``Get-ItemProperty`` object, without the PS* provider properties."""
    values: dict[str, Any] = {}
    for obj in output:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if not str(key).startswith("PS"):
                    values[str(key)] = value
    return values
