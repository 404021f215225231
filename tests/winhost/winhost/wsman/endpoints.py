"""Which session configuration a new PowerShell shell may open, checked at WSMan Create.

- A configuration that is not registered: the fault PowerShell clients show as "The WS-Management
  service cannot process the request. Cannot find the X session configuration in the WSMan: drive
  on the Y computer." (:func:`winhost.wsman.faults.configuration_not_found`).
- A configuration registered from a session configuration file (JEA): its Permission, which
  Register-PSSessionConfiguration builds from RoleDefinitions ("Every user or group included in
  this field is granted permission to the JEA endpoint when it's registered", PowerShell-Docs
  jea/session-configurations.md), must name the user or one of their groups: otherwise
  "Access is denied." (security-considerations.md, "WinRM Endpoint ACL").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from winhost.wsman import faults as wsfaults


def addressed_host(to: str | None) -> str:
    """The host name the client addressed (the wsa:To URL), or ''."""
    try:
        return urlsplit(to or "").hostname or ""
    except ValueError:
        return ""


def _allowed(permission: str, user: str, groups: list[str]) -> bool:
    """``PRINCIPAL AccessAllowed, PRINCIPAL AccessDenied, ...`` for this user (deny wins)."""
    names = {user.rsplit("\\", 1)[-1].lower(), *(g.lower() for g in groups)}
    allowed = False
    for entry in permission.split(","):
        principal, _, access = entry.strip().rpartition(" ")
        short = principal.rsplit("\\", 1)[-1].lower()
        if short in names or principal.lower() in ("everyone", "nt authority\\authenticated users"):
            if access.lower() == "accessdenied":
                return False
            allowed = allowed or access.lower() == "accessallowed"
    return allowed


def check_endpoint(machine: Any, user: str, configuration: str, computer: str) -> None:
    configs = getattr(machine, "session_configurations", None)
    if configs is None:
        return
    name = configuration.rstrip("/").rsplit("/", 1)[-1]
    with machine.lock:
        sc = configs.get(name)
        account = machine.accounts.get(user.rsplit("\\", 1)[-1])
    if sc is None:
        raise wsfaults.configuration_not_found(name, computer)
    if sc.config_file is None:
        return
    groups = list(account.groups) if account is not None else []
    if not _allowed(sc.permission, user, groups):
        raise wsfaults.access_denied()
