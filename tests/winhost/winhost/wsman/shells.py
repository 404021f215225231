"""Shell registry: who owns which shell, idle timeouts and per-user quotas.

Windows semantics followed here ([MS-WSMV] 3.1.4.5.2.1 wsman:QuotaLimit, 2.2.4.10/2.2.4.41
config types; about_Remote_Troubleshooting "How to configure quotas"):

* ``MaxShellsPerUser`` (winrm/config/winrs): a Create beyond the limit gets fault 2150859174;
  0 means unlimited.
* ``MaxConcurrentOperationsPerUser`` (winrm/config/service, default 1500): an operation is a
  command (PSRP pipeline) from its Command until the client signals terminate or the shell is
  deleted. A Command beyond the limit gets fault 2150859173.
* ``IdleTimeout`` (winrs, default 7 200 000 ms) or the client's ``rsp:IdleTimeOut``: a shell that
  receives no request for that long, and has no Receive waiting, is deleted by the server; later
  requests for it get fault 2150858843.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from winhost.wsman.psrp import PSRPShell
from winhost.wsman.winrs import WinRSShell

DEFAULT_IDLE_TIMEOUT_MS = 7_200_000
# Group Policy "Specify idle Timeout" (WindowsRemoteShell.admx): "A minimum of 60000 milliseconds
# (1 minute) is used for smaller values" of Shell\IdleTimeout.
MIN_IDLE_TIMEOUT_MS = 60_000
DEFAULT_MAX_SHELLS_PER_USER = 2_147_483_647
DEFAULT_MAX_OPERATIONS_PER_USER = 1500
DEFAULT_MAX_ENVELOPE_SIZE_KB = 500
DEFAULT_MAX_TIMEOUT_MS = 60_000
MAX_IDLE_TIMEOUT_S = 2147483.647


def _lookup(machine: Any, name: str) -> Any:
    """Read ``name`` from machine.wsman.service, machine.wsman.winrs or machine.wsman (first set)."""
    wsman = getattr(machine, "wsman", None)
    if wsman is None:
        return None
    for section in (getattr(wsman, "service", None), getattr(wsman, "winrs", None), wsman):
        if section is None:
            continue
        if isinstance(section, dict):
            if name in section:
                return section[name]
        elif hasattr(section, name):
            return getattr(section, name)
    return None


def setting(machine: Any, name: str, default: int) -> int:
    value = _lookup(machine, name)
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def idle_timeout_ms(machine: Any) -> int:
    """The shell idle time-out the service applies: Shell\\IdleTimeout, at least 60000 ms."""
    return max(MIN_IDLE_TIMEOUT_MS, setting(machine, "idle_timeout_ms", DEFAULT_IDLE_TIMEOUT_MS))


@dataclass
class Shell:
    shell_id: str
    owner: str
    resource_uri: str
    configuration_name: str
    idle_timeout: float
    input_streams: str
    output_streams: str
    locale: str
    data_locale: str
    psrp: PSRPShell | None = None
    #: A WinRS cmd shell (resource URI .../windows/shell/cmd) has this instead of ``psrp``.
    winrs: WinRSShell | None = None
    clock: Callable[[], float] = time.monotonic
    client_ip: str = "127.0.0.1"
    process_id: int = field(default_factory=lambda: 1000 + (os.getpid() % 5000))
    created: float = 0.0
    last_activity: float = 0.0
    state: str = "Connected"
    #: rsp:Name given at Create (MS-WSMV 2.2.4.37), shown by Enumerate; None when not given.
    name: str | None = None
    receivers: int = 0
    #: Recently finished/terminated command ids, so a late ctrl_c Signal is still answered.
    recent_commands: dict[str, float] = field(default_factory=dict)
    #: Last Receive answer per CommandId ("" for the shell) of a robust-connection client:
    #: (OperationID, ReceiveResponse XML), sent again for a retransmission (MS-WSMV 3.1.4.1.39).
    receive_cache: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.created = self.last_activity = self.clock()

    @property
    def backend(self) -> PSRPShell | WinRSShell:
        backend = self.psrp if self.psrp is not None else self.winrs
        assert backend is not None, "a shell is either a PowerShell or a WinRS cmd shell"
        return backend

    def touch(self) -> None:
        self.last_activity = self.clock()

    def idle_for(self, now: float) -> float:
        if self.receivers:
            return 0.0
        return now - self.last_activity


class ShellRegistry:
    """All shells of one host. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.shells: dict[str, Shell] = {}

    def get(self, shell_id: str) -> Shell | None:
        with self.lock:
            return self.shells.get(shell_id.upper())

    def add(self, shell: Shell) -> None:
        with self.lock:
            self.shells[shell.shell_id] = shell

    def remove(self, shell_id: str) -> Shell | None:
        with self.lock:
            return self.shells.pop(shell_id.upper(), None)

    def owned_by(self, user: str) -> list[Shell]:
        key = user.lower()
        with self.lock:
            return [s for s in self.shells.values() if s.owner.lower() == key]

    def all(self) -> list[Shell]:
        with self.lock:
            return list(self.shells.values())

    def expired(self, now: float | None = None) -> list[Shell]:
        now = time.monotonic() if now is None else now
        with self.lock:
            return [s for s in self.shells.values() if s.idle_for(now) >= s.idle_timeout]

    def operations_of(self, user: str) -> int:
        return sum(s.backend.open_operations() for s in self.owned_by(user))
