"""WS-Management + PSRP service of a simulated Windows host (sans-IO; see service.py)."""

from __future__ import annotations

from winhost.wsman.service import WSManService

__all__ = ["WSManService"]
