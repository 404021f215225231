# for internal use by psremoting.core only; not a public API
"""WS-Management shell listing and removal: the controller side of Get-PSSession / Remove-PSSession.

``Get-PSSession -ComputerName`` asks the WinRM service for its shells with a WS-Management
Enumerate of the shell resource ``http://schemas.microsoft.com/wbem/wsman/1/windows/shell``
(MS-WSMV 3.1.4.8, the same request pypsrp's ``RunspacePool.get_runspace_pools`` sends) and keeps
the ones whose ``ResourceUri`` is a PowerShell endpoint
``http://schemas.microsoft.com/powershell/<ConfigurationName>``. ``Remove-PSSession`` then sends a
WS-Management Delete to that resource URI with the ``ShellId`` selector (MS-WSMV 3.1.4.11).

Each ``rsp:Shell`` item carries the fields of the MS-WSMV Shell type (2.2.4.37): ``ShellId``,
``Name``, ``ResourceUri``, ``Owner``, ``ClientIP``, ``ProcessId``, ``IdleTimeOut``, ``State``
(``Connected`` or ``Disconnected``), ``ShellRunTime`` and ``ShellInactivity`` (xs:duration).
This module returns them as Windows reports them, plus the durations in seconds.

No Ansible import: the action plugins ``pssession`` and ``pssession_info`` call it.
"""

from __future__ import annotations

import dataclasses
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

SHELL_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
POWERSHELL_URI_PREFIX = "http://schemas.microsoft.com/powershell/"

NS = {
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wsen": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
}
# Windows: "The request for the Windows Remote Shell with ShellId ... failed because the shell was
# not found on the server" (ERROR_WSMAN_SHELL_NOT_FOUND is 0x8033805B = 2150858843).
SHELL_NOT_FOUND = 2150858843
# How many items one Enumerate/Pull asks for. Windows caps it at its own MaxBatchItems (32000).
MAX_ELEMENTS = 100
# Pull at most this many times (a server that never sends EndOfSequence cannot loop us forever).
MAX_PULLS = 1000

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class WSManLike(Protocol):
    """The part of ``pypsrp.wsman.WSMan`` used here."""

    def enumerate(
        self,
        resource_uri: str,
        resource: ET.Element | None = None,
        option_set: Any = None,
        selector_set: Any = None,
        timeout: int | None = None,
    ) -> ET.Element: ...

    def pull(
        self,
        resource_uri: str,
        resource: ET.Element | None = None,
        option_set: Any = None,
        selector_set: Any = None,
        timeout: int | None = None,
    ) -> ET.Element: ...

    def delete(
        self,
        resource_uri: str,
        resource: ET.Element | None = None,
        option_set: Any = None,
        selector_set: Any = None,
        timeout: int | None = None,
    ) -> ET.Element: ...


def parse_duration(text: str | None) -> float | None:
    """xs:duration as Windows writes it (``P0DT0H5M3S``, ``PT7200.000S``) -> seconds."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if k != "sign" and v}
    seconds = (
        parts.get("days", 0.0) * 86400
        + parts.get("hours", 0.0) * 3600
        + parts.get("minutes", 0.0) * 60
        + parts.get("seconds", 0.0)
    )
    return -seconds if match.group("sign") else seconds


def account_name(user: str | None) -> str:
    """``DOMAIN\\user``, ``user@realm`` or ``user`` -> ``user`` (lowercase) for owner comparisons."""
    if not user:
        return ""
    name = user.rsplit("\\", 1)[-1]
    name = name.split("@", 1)[0]
    return name.strip().lower()


@dataclasses.dataclass(frozen=True)
class ShellInfo:
    """One ``rsp:Shell`` item of an enumeration."""

    shell_id: str
    name: str | None
    resource_uri: str
    owner: str | None
    client_ip: str | None
    process_id: int | None
    state: str | None
    idle_timeout: str | None
    shell_run_time: str | None
    shell_inactivity: str | None

    @property
    def configuration_name(self) -> str | None:
        if self.resource_uri.lower().startswith(POWERSHELL_URI_PREFIX):
            return self.resource_uri[len(POWERSHELL_URI_PREFIX) :]
        return None

    @property
    def run_time_seconds(self) -> float | None:
        return parse_duration(self.shell_run_time)

    @property
    def idle_seconds(self) -> float | None:
        return parse_duration(self.shell_inactivity)

    def to_dict(self) -> dict[str, Any]:
        """The fields as Windows names them, plus the durations in seconds."""
        return {
            "ShellId": self.shell_id,
            "Name": self.name,
            "ResourceUri": self.resource_uri,
            "ConfigurationName": self.configuration_name,
            "Owner": self.owner,
            "ClientIP": self.client_ip,
            "ProcessId": self.process_id,
            "State": self.state,
            "IdleTimeOut": self.idle_timeout,
            "ShellRunTime": self.shell_run_time,
            "ShellInactivity": self.shell_inactivity,
            "ShellRunTimeSeconds": self.run_time_seconds,
            "IdleTimeSeconds": self.idle_seconds,
        }


def parse_shell(element: ET.Element) -> ShellInfo:
    def text(name: str) -> str | None:
        child = element.find(f"rsp:{name}", NS)
        if child is None or child.text is None:
            return None
        return child.text.strip()

    shell_id = text("ShellId")
    if not shell_id:
        raise ValueError("rsp:Shell item without rsp:ShellId")
    pid = text("ProcessId")
    return ShellInfo(
        shell_id=shell_id.upper(),
        name=text("Name"),
        resource_uri=text("ResourceUri") or "",
        owner=text("Owner"),
        client_ip=text("ClientIP"),
        process_id=int(pid) if pid and pid.isdigit() else None,
        state=text("State"),
        idle_timeout=text("IdleTimeOut"),
        shell_run_time=text("ShellRunTime"),
        shell_inactivity=text("ShellInactivity"),
    )


def _items(container: ET.Element | None) -> list[ET.Element]:
    if container is None:
        return []
    found: list[ET.Element] = []
    # Optimized enumeration puts items in wsman:Items, Pull responses in wsen:Items.
    for items in (container.find("wsman:Items", NS), container.find("wsen:Items", NS)):
        if items is not None:
            found.extend(items.findall("rsp:Shell", NS))
    return found


def _context(container: ET.Element | None) -> str | None:
    if container is None:
        return None
    ctx = container.find("wsen:EnumerationContext", NS)
    if ctx is None or not (ctx.text or "").strip():
        return None
    return (ctx.text or "").strip()


def _ended(container: ET.Element | None) -> bool:
    if container is None:
        return True
    return (
        container.find("wsman:EndOfSequence", NS) is not None
        or container.find("wsen:EndOfSequence", NS) is not None
    )


def enumerate_shells(wsman: WSManLike) -> list[ShellInfo]:
    """All shells the server shows this user (every resource URI), following Pull until the end."""
    body = ET.Element(f"{{{NS['wsen']}}}Enumerate")
    ET.SubElement(body, f"{{{NS['wsman']}}}OptimizeEnumeration")
    ET.SubElement(body, f"{{{NS['wsman']}}}MaxElements").text = str(MAX_ELEMENTS)
    response = wsman.enumerate(SHELL_RESOURCE_URI, body)
    container = response.find("wsen:EnumerateResponse", NS)
    shells = [parse_shell(e) for e in _items(container)]
    context = _context(container)
    pulls = 0
    while context and not _ended(container) and pulls < MAX_PULLS:
        pulls += 1
        pull = ET.Element(f"{{{NS['wsen']}}}Pull")
        ET.SubElement(pull, f"{{{NS['wsen']}}}EnumerationContext").text = context
        ET.SubElement(pull, f"{{{NS['wsen']}}}MaxElements").text = str(MAX_ELEMENTS)
        response = wsman.pull(SHELL_RESOURCE_URI, pull)
        container = response.find("wsen:PullResponse", NS)
        shells.extend(parse_shell(e) for e in _items(container))
        context = _context(container)
    return shells


def delete_shell(wsman: WSManLike, shell: ShellInfo) -> bool:
    """WS-Management Delete of one shell (Remove-PSSession). False if the server no longer has it."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (  # noqa: PLC0415
        SelectorSet,
        WSManFaultError,
    )

    selectors = SelectorSet()
    selectors.add_option("ShellId", shell.shell_id)
    try:
        wsman.delete(shell.resource_uri or SHELL_RESOURCE_URI, selector_set=selectors)
    except WSManFaultError as exc:
        if exc.code == SHELL_NOT_FOUND:
            return False
        raise
    return True


# -- the connection's shell operations (list, remove by id) ---------------------------------------
@dataclasses.dataclass(frozen=True)
class ShellListing:
    """What a connection's backend lists: every shell of the user on the host, and the ShellIds the
    backend holds itself (the session broker's or this worker's sessions), which it never removes."""

    shells: tuple[ShellInfo, ...]
    own: frozenset[str] = frozenset()

    def to_wire(self) -> dict[str, Any]:
        return {"shells": [dataclasses.asdict(s) for s in self.shells], "own": sorted(self.own)}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ShellListing:
        return cls(
            shells=tuple(ShellInfo(**dict(s)) for s in data.get("shells") or ()),
            own=frozenset(str(i).upper() for i in data.get("own") or ()),
        )


REMOVED = "removed"  # WSMan Delete succeeded
GONE = "gone"  # the host no longer had it (ERROR_WSMAN_SHELL_NOT_FOUND)
KEPT = "kept"  # the backend holds it itself: never removed
FAILED = "failed"  # the Delete failed (``kind``/``message`` from _errors.classify)
SKIPPED = "skipped"  # not attempted: an earlier Delete found the host unreachable


@dataclasses.dataclass(frozen=True)
class Removal:
    """The outcome of removing one shell by id."""

    shell_id: str
    outcome: str
    kind: str | None = None
    message: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Removal:
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


def shell_targets(shells: Iterable[ShellInfo]) -> list[dict[str, str]]:
    """The wire form of a removal request: each shell's id and resource URI (Delete's address)."""
    return [{"shell_id": s.shell_id, "resource_uri": s.resource_uri} for s in shells]


# -- selection ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Selection:
    """Which shells a task is about (all criteria must match)."""

    configuration_names: tuple[str, ...] = ()  # empty: PowerShell endpoints of any name
    include_non_powershell: bool = False  # also winrs/cmd shells
    older_than_minutes: float | None = None  # ShellRunTime
    idle_minutes: float | None = None  # ShellInactivity
    owners: tuple[str, ...] = ()
    states: tuple[str, ...] = ()  # Connected / Disconnected
    shell_ids: tuple[str, ...] = ()

    def matches(self, shell: ShellInfo) -> bool:
        config = shell.configuration_name
        if config is None and not self.include_non_powershell:
            return False
        if self.configuration_names and (
            config is None or config.lower() not in {c.lower() for c in self.configuration_names}
        ):
            return False
        if self.shell_ids and shell.shell_id.upper() not in {s.upper() for s in self.shell_ids}:
            return False
        if self.states and (shell.state or "").lower() not in {s.lower() for s in self.states}:
            return False
        if self.owners and account_name(shell.owner) not in {account_name(o) for o in self.owners}:
            return False
        if self.older_than_minutes is not None:
            run = shell.run_time_seconds
            if run is None or run < self.older_than_minutes * 60:
                return False
        if self.idle_minutes is not None:
            idle = shell.idle_seconds
            if idle is None or idle < self.idle_minutes * 60:
                return False
        return True


@dataclasses.dataclass(frozen=True)
class Protection:
    """The shells a cleanup must never delete: the play's own sessions.

    ``shell_ids`` are exact (the connection or broker told us its ShellId). Without them, the
    fallback protects every connected shell owned by ``user`` that was created after
    ``run_started`` (epoch seconds): the sessions this run itself may have opened.
    """

    shell_ids: frozenset[str] = frozenset()
    user: str | None = None
    run_started: float | None = None

    @property
    def method(self) -> str:
        if self.shell_ids:
            return "shell_id"
        if self.user and self.run_started is not None:
            return "owner_and_run_start"
        return "none"

    def protects(self, shell: ShellInfo, now: float | None = None) -> bool:
        if shell.shell_id.upper() in self.shell_ids:
            return True
        if self.shell_ids or not self.user or self.run_started is None:
            return False
        if account_name(shell.owner) != account_name(self.user):
            return False
        if (shell.state or "").lower() == "disconnected":
            return False  # a session in use by the play is connected; a disconnected one is a leftover
        run = shell.run_time_seconds
        if run is None:
            return True  # unknown age: keep it rather than risk deleting our own session
        created = (now if now is not None else time.time()) - run
        # one second of slack for clock rounding in ShellRunTime (whole seconds on Windows)
        return created >= self.run_started - 1.0

    def describe(self) -> str:
        if self.method == "shell_id":
            return f"the play's own shell(s) {', '.join(sorted(self.shell_ids))} are never removed"
        if self.method == "owner_and_run_start":
            return (
                "the connection does not expose its ShellId, so every connected shell owned "
                f"by '{self.user}' created since this run started is kept (it may be the play's own session)"
            )
        return "no protection for the play's own session could be determined"


def plan(
    shells: Iterable[ShellInfo], selection: Selection, protection: Protection, now: float | None = None
) -> tuple[list[ShellInfo], list[ShellInfo]]:
    """(to_remove, protected) among the shells that match ``selection``."""
    remove: list[ShellInfo] = []
    kept: list[ShellInfo] = []
    for shell in shells:
        if not selection.matches(shell):
            continue
        (kept if protection.protects(shell, now) else remove).append(shell)
    return remove, kept


def own_shell_ids(candidates: Sequence[Mapping[str, Any]], identity: Mapping[str, Any]) -> set[str]:
    """ShellIds of broker sessions that match this host's identity (host, port, user).

    ``candidates`` are the ``sessions`` entries of the broker's ``stats`` reply; entries without a
    ``shell_id`` are ignored (brokers that do not report it).
    """
    ids: set[str] = set()
    for entry in candidates:
        shell_id = entry.get("shell_id")
        if not shell_id:
            continue
        if str(entry.get("host", "")).lower() != str(identity.get("host", "")).lower():
            continue
        ports = (entry.get("port"), identity.get("port"))
        if None not in ports and int(str(ports[0])) != int(str(ports[1])):
            continue
        ids.add(str(shell_id).upper())
    return ids


def process_start_epoch(pid: int) -> float | None:
    """When ``pid`` started (epoch seconds), from /proc; None where /proc is not available."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="utf-8") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
        import os  # noqa: PLC0415

        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
