"""The cmdlet catalogue: importing this module registers every cmdlet family
(winhost/engine/cmdlets/*.py) in :data:`winhost.engine.cmdlets.registry.CATALOGUE`."""

from __future__ import annotations

from winhost.engine.cmdlets import (  # noqa: F401  (each module registers its cmdlets)
    accounts,
    certificates,
    filesystem,
    firewall,
    items,
    output,
    registry_items,
    remote_defaults,
    services,
    session_config,
    system,
    utility,
    wsman_drive,
)
from winhost.engine.cmdlets.registry import CATALOGUE, lookup

__all__ = ["CATALOGUE", "lookup"]
