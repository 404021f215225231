"""The cmdlet catalogue; importing this package registers every cmdlet."""

from __future__ import annotations

import importlib

from winhost.engine.cmdlets.registry import CATALOGUE, CmdletSpec, Param, cmdlet, lookup

_MODULES = (
    "output",
    "services",
    "utility",
    "system",
    "items",
    "filesystem",
    "wsman_drive",
    "certificates",
    "firewall",
    "registry_items",
    "session_config",
    "accounts",
)

for _name in _MODULES:
    try:
        importlib.import_module(f"winhost.engine.cmdlets.{_name}")
    except ModuleNotFoundError as exc:  # modules are added one family at a time
        if exc.name != f"winhost.engine.cmdlets.{_name}":
            raise

__all__ = ["CATALOGUE", "CmdletSpec", "Param", "cmdlet", "lookup"]
