"""ansible.windows.win_whoami: the logon session and token of the account the module runs as.

Source: ansible-collections/ansible.windows plugins/modules/win_whoami.ps1 (Ansible.SessionInfo:
each property becomes a snake_case result key; a SID is ``{sid, account_name, domain_name,
type}`` with the ``SidType`` prefix removed; enums as their names) and win_whoami.py's RETURN.

winhost answers from the model: the account (a local account of ``machine.accounts``, or
NT AUTHORITY\\SYSTEM / LOCAL SERVICE / NETWORK SERVICE when become made the module run as one),
its groups (Everyone, the account's local groups, NT AUTHORITY\\NETWORK for a network logon,
Authenticated Users) and mandatory label (System for SYSTEM, High for an administrator, Medium
otherwise, as Windows gives an elevated network logon). Logon ids, times and the privilege list
are fixed values of the right shape; winhost has no LSA.
"""

from __future__ import annotations

from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleSpec
from winhost.engine.cmdlets.accounts import BUILTIN_GROUPS, account_sid

#: Well-known service accounts a task can become (Ansible.Become's SERVICE_SIDS and SYSTEM).
WELL_KNOWN = {
    "system": ("SYSTEM", "S-1-5-18"),
    "localsystem": ("SYSTEM", "S-1-5-18"),
    "local service": ("LOCAL SERVICE", "S-1-5-19"),
    "localservice": ("LOCAL SERVICE", "S-1-5-19"),
    "network service": ("NETWORK SERVICE", "S-1-5-20"),
    "networkservice": ("NETWORK SERVICE", "S-1-5-20"),
}
_LABELS = {
    "system": ("System Mandatory Level", "S-1-16-16384"),
    "high": ("High Mandatory Level", "S-1-16-12288"),
    "medium": ("Medium Mandatory Level", "S-1-16-8192"),
}


def _sid(sid: str, name: str, domain: str, kind: str) -> dict[str, str]:
    return {"sid": sid, "account_name": name, "domain_name": domain, "type": kind}


def resolve_account(machine: Any, name: str) -> dict[str, str] | None:
    """NTAccount(name).Translate(SecurityIdentifier) against the model: ``.\\user``,
    ``COMPUTER\\user``, ``user``, ``NT AUTHORITY\\SYSTEM``/``SYSTEM`` and the other service
    accounts; None when the name does not translate."""
    text = name[2:] if name.startswith(".\\") else name
    domain, _, leaf = text.rpartition("\\")
    if domain.lower() in ("", "nt authority") and leaf.lower() in WELL_KNOWN:
        account_name, sid = WELL_KNOWN[leaf.lower()]
        return _sid(sid, account_name, "NT AUTHORITY", "WellKnownGroup")
    if domain and domain.lower() not in (machine.computer_name.lower(), "."):
        return None
    for account in machine.accounts.values():
        if account.name.lower() == leaf.lower():
            return _sid(account_sid(machine, account), account.name, machine.computer_name, "User")
    return None


def _groups(machine: Any, account: dict[str, str]) -> list[dict[str, Any]]:
    enabled = ["Mandatory", "Enabled by default", "Enabled"]
    groups = [{**_sid("S-1-1-0", "Everyone", "", "WellKnownGroup"), "attributes": enabled}]
    if account["sid"] == "S-1-5-18":
        member_of = ["Administrators"]
    else:
        local = next((a for a in machine.accounts.values() if a.name == account["account_name"]), None)
        member_of = list(local.groups) if local is not None else []
    for group in member_of:
        sid = BUILTIN_GROUPS.get(group, ("", ""))[0]
        if sid:
            owner = ["Owner"] if group == "Administrators" else []
            groups.append({**_sid(sid, group, "BUILTIN", "Alias"), "attributes": enabled + owner})
    if account["type"] == "User":
        groups.append({**_sid("S-1-5-2", "NETWORK", "NT AUTHORITY", "WellKnownGroup"), "attributes": enabled})
    groups.append(
        {**_sid("S-1-5-11", "Authenticated Users", "NT AUTHORITY", "WellKnownGroup"), "attributes": enabled}
    )
    return groups


def session_info(machine: Any, user: str) -> dict[str, Any]:
    account = resolve_account(machine, user) or _sid("", user, machine.computer_name, "User")
    system = account["sid"] == "S-1-5-18"
    admin = system or any(g["account_name"] == "Administrators" for g in _groups(machine, account)[1:])
    label_name, label_sid = _LABELS["system" if system else "high" if admin else "medium"]
    privileges = {
        "SeChangeNotifyPrivilege": "enabled-by-default",
        "SeIncreaseWorkingSetPrivilege": "disabled",
    }
    if admin:
        privileges.update(
            {
                "SeBackupPrivilege": "disabled",
                "SeRestorePrivilege": "disabled",
                "SeShutdownPrivilege": "disabled",
                "SeDebugPrivilege": "enabled" if system else "disabled",
                "SeImpersonatePrivilege": "enabled-by-default",
                "SeTcbPrivilege": "enabled" if system else "disabled",
            }
        )
    return {
        "logon_id": 999 if system else 2293859,
        "account": account,
        "login_domain": "NT AUTHORITY" if system else account["domain_name"],
        "authentication_package": "Negotiate" if system else "NTLM",
        "logon_type": "System" if system else "Network",
        "login_time": "2026-01-01T00:00:00.0000000+00:00",
        "logon_server": "" if system else machine.computer_name,
        "dns_domain_name": "",
        "upn": "",
        "user_flags": [],
        "impersonation_level": "SecurityAnonymous",
        "token_type": "TokenPrimary",
        "groups": _groups(machine, account),
        "rights": ["SeNetworkLogonRight", "SeBatchLogonRight", "SeServiceLogonRight"]
        if system
        else ["SeNetworkLogonRight", "SeInteractiveLogonRight"],
        "label": _sid(label_sid, label_name, "Mandatory Label", "Label"),
        "privileges": privileges,
    }


def run(ctx: ModuleContext) -> dict[str, Any]:
    return session_info(ctx.machine, ctx.user)


SPEC = ModuleSpec(
    name="win_whoami",
    run=run,
    options={},
    fingerprints=("ansible.sessionutil", "getsessioninfo"),
)
