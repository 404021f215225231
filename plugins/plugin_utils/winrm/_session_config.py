# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell session configurations: access control (SDDL) and the state they are in.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Register-PSSessionConfiguration / Set-PSSessionConfiguration take ``-SecurityDescriptorSddl``;
Get-PSSessionConfiguration returns ``Name``, ``Enabled``, ``SecurityDescriptorSddl``,
``Permission`` and, for file-based (JEA) configurations, ``ConfigFilePath``
(PowerShell-Docs, Microsoft.PowerShell.Core). Disable-PSSessionConfiguration adds a Deny_All ACE
(``D;;GA;;;WD``) and sets Enabled to False; Enable-PSSessionConfiguration removes it, so access
is compared without that ACE. The descriptor format is [MS-DTYP] 2.5.1 (SDDL); well-known SIDs
from "Well-known SIDs" (Windows security identifiers docs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

WELL_KNOWN_SIDS: dict[str, str] = {
    "builtin\\administrators": "S-1-5-32-544",
    "administrators": "S-1-5-32-544",
    "builtin\\remote management users": "S-1-5-32-580",
    "remote management users": "S-1-5-32-580",
    "builtin\\users": "S-1-5-32-545",
    "nt authority\\interactive": "S-1-5-4",
    "interactive": "S-1-5-4",
    "nt authority\\network": "S-1-5-2",
    "network": "S-1-5-2",
    "nt authority\\authenticated users": "S-1-5-11",
    "authenticated users": "S-1-5-11",
    "nt authority\\system": "S-1-5-18",
    "everyone": "S-1-1-0",
}
# SDDL SID aliases ([MS-DTYP] 2.5.1.1) -> SIDs, so that "BA" and "S-1-5-32-544" compare equal.
SDDL_ALIASES: dict[str, str] = {
    "BA": "S-1-5-32-544",
    "RM": "S-1-5-32-580",
    "BU": "S-1-5-32-545",
    "IU": "S-1-5-4",
    "NU": "S-1-5-2",
    "AU": "S-1-5-11",
    "SY": "S-1-5-18",
    "WD": "S-1-1-0",
    "NS": "S-1-5-20",
}
_SID = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)
DENY_ALL = ("D", "GA", "S-1-1-0")
# The owner, group and audit parts Windows puts on the default configurations.
SDDL_PREFIX = "O:NSG:BAD:P"
SDDL_SACL = "S:P(AU;FA;GA;;;WD)(AU;SA;GXGW;;;WD)"


def is_sid(text: str) -> bool:
    return bool(_SID.match(text.strip()))


def known_sid(principal: str) -> str | None:
    text = principal.strip()
    if is_sid(text):
        return text.upper()
    return WELL_KNOWN_SIDS.get(text.lower())


def build_sddl(allow: Sequence[str], deny: Sequence[str] = ()) -> str:
    """A descriptor granting GenericAll (GA) to ``allow`` SIDs, deny ACEs first, as Windows orders."""
    aces = "".join(f"(D;;GA;;;{sid})" for sid in deny) + "".join(f"(A;;GA;;;{sid})" for sid in allow)
    return SDDL_PREFIX + aces + SDDL_SACL


def dacl_aces(sddl: str, ignore_deny_all: bool = True) -> frozenset[tuple[str, str, str]]:
    """The DACL entries as (type, rights, SID), normalized; the SACL is not compared."""
    if not sddl:
        return frozenset()
    match = re.search(r"D:[A-Z]*((?:\([^)]*\))*)", sddl.upper())
    if not match:
        return frozenset()
    out: set[tuple[str, str, str]] = set()
    for ace in re.findall(r"\(([^)]*)\)", match.group(1)):
        parts = ace.split(";")
        if len(parts) < 6:
            continue
        sid = SDDL_ALIASES.get(parts[5], parts[5])
        entry = (parts[0], parts[2], sid)
        if ignore_deny_all and entry == DENY_ALL:
            continue
        out.add(entry)
    return frozenset(out)


def same_access(current_sddl: str, desired_sddl: str) -> bool:
    return dacl_aces(current_sddl) == dacl_aces(desired_sddl)


def sddl_from_permission(permission: str) -> str:
    """An SDDL rebuilt from ``Permission`` ("BUILTIN\\Administrators AccessAllowed, ...") for a
    host that returns no ``SecurityDescriptorSddl``; names without a well-known SID are kept as
    they are, so they never compare equal to a SID (a change rather than a false "ok")."""
    text = permission.strip()
    if text.upper().startswith(("O:", "D:")):
        return text
    aces = []
    for entry in (e.strip() for e in text.split(",")):
        name, _, access = entry.rpartition(" ")
        if not name:
            continue
        kind = "D" if access.lower() == "accessdenied" else "A"
        aces.append(f"({kind};;GA;;;{known_sid(name) or name})")
    return "D:P" + "".join(aces) if aces else ""


def session_from_ps(obj: Mapping[str, Any]) -> dict[str, Any]:
    enabled = obj.get("Enabled")
    sddl = str(obj.get("SecurityDescriptorSddl") or "") or sddl_from_permission(
        str(obj.get("Permission") or "")
    )
    return {
        "name": str(obj.get("Name") or ""),
        "enabled": str(enabled).strip().lower() == "true" if enabled is not None else True,
        "sddl": sddl,
        "permission": str(obj.get("Permission") or ""),
        "config_file_path": str(obj.get("ConfigFilePath") or ""),
        "ps_version": str(obj.get("PSVersion") or ""),
    }


def plan_session(
    current: Mapping[str, Any] | None,
    *,
    state: str,
    enabled: bool | None,
    sddl: str | None,
    file_changed: bool,
) -> list[str]:
    """The steps to run, in order: register, set_path, set_sddl, enable, disable, unregister."""
    if state == "absent":
        return ["unregister"] if current is not None else []
    steps: list[str] = []
    if current is None:
        steps.append("register")
        if enabled is False:
            steps.append("disable")
        return steps
    if file_changed:
        steps.append("set_path")
    if sddl is not None and not same_access(str(current.get("sddl") or ""), sddl):
        steps.append("set_sddl")
    if enabled is True and not current.get("enabled"):
        steps.append("enable")
    elif enabled is False and current.get("enabled"):
        steps.append("disable")
    return steps
