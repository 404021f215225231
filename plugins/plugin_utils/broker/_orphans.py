# for internal use by psremoting.core only; not a public API
"""The shells a broker holds, recorded without secrets, so that the next run can remove them.

A broker killed with -9 cannot delete its shells; the host drops them only after their
IdleTimeOut, with whatever command was running still running. So each broker keeps
``broker-<controller pid>-<shard>.shells.json`` in the session directory up to date (written
atomically, 0600, never following a link): its pid and start time, and per open session the
endpoint, user, auth, configuration name and ShellId. Nothing secret: no password, no session key.

Every shell is also created with a recognisable name (rsp:Name, MS-WSMV 2.2.4.37), so that a
WSMan Enumerate of the user's shells (``pssession_info``) shows which ones are ours even where the
session directory did not survive.

When a later broker of the same user opens a session to a host, it reads the records of brokers
that are no longer alive, deletes (WSMan Delete) the shells they left on that endpoint for that
user, and drops them from the record (the record goes when it is empty).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import pid_alive

log = logging.getLogger("psremoting.broker")

SUFFIX = ".shells.json"
NAME_PREFIX = "psremoting.core"
# The fields that say which endpoint and account a shell belongs to (the password is not one).
IDENTITY = ("host", "port", "user", "auth", "configuration_name")


def shell_name(broker_pid: int, broker_start: str | None) -> str:
    """The rsp:Name of every shell a broker creates: ``psremoting.core broker <machine> <pid>/<start>``."""
    return f"{NAME_PREFIX} broker {socket.gethostname()} {broker_pid}/{broker_start or '?'}"


def record_path(sock_path: str) -> str:
    return sock_path[: -len(".sock")] + SUFFIX if sock_path.endswith(".sock") else sock_path + SUFFIX


def write_record(
    path: str, broker_pid: int, broker_start: str | None, shells: Iterable[Mapping[str, Any]]
) -> None:
    """Replace the record with ``shells`` (removed when there are none)."""
    entries = [dict(s) for s in shells]
    if not entries:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    data = json.dumps({"broker_pid": broker_pid, "broker_start": broker_start, "shells": entries})
    tmp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # a leftover, or a link someone planted: only the name goes
    # O_EXCL: a file created now, by this process, never an existing one (or what it links to)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
    os.replace(tmp, path)


class RecordWriter:
    """Keeps one broker's record current without rewriting it once per change.

    ``changed()`` asks for the record to show the broker's shells as they are now. When another
    thread is already writing, the call only marks the record stale and returns (``wait=False``)
    or waits for a write that started after it (``wait=True``); the writing thread goes round
    again until the record is current. A burst of N session opens (one-to-many) so costs a few
    writes instead of N writes of up to N shells each, and the record lags such a burst by at
    most one write.
    """

    def __init__(
        self, path: str, broker_pid: int, broker_start: str | None, shells: Callable[[], list[dict[str, Any]]]
    ) -> None:
        self.path = path
        self.broker_pid = broker_pid
        self.broker_start = broker_start
        self.shells = shells
        self.writes = 0
        self._cond = threading.Condition()
        self._wanted = 0  # changes announced
        self._written = 0  # changes the record on disk reflects
        self._writing = False

    def changed(self, wait: bool = False) -> None:
        with self._cond:
            self._wanted += 1
            mine = self._wanted
            if self._writing:
                while wait and self._written < mine and self._writing:
                    self._cond.wait()
                if not wait or self._written >= mine:
                    return
            self._writing = True
        try:
            self._write_until_current()
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()

    def _write_until_current(self) -> None:
        while True:
            with self._cond:
                if self._written >= self._wanted:
                    return
                target = self._wanted
            try:
                write_record(self.path, self.broker_pid, self.broker_start, self.shells())
                self.writes += 1
            except OSError as exc:
                log.warning("could not write %s: %s", self.path, exc)
            with self._cond:
                self._written = target
                self._cond.notify_all()


def read_record(path: str) -> dict[str, Any] | None:
    """A record (only one of the user's own regular files), None when unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "r", encoding="utf-8") as fh:
        if os.fstat(fh.fileno()).st_uid != os.getuid():
            return None
        try:
            data = json.load(fh)
        except ValueError:
            return None
    return data if isinstance(data, dict) and isinstance(data.get("shells"), list) else None


# How write_record's JSON begins: the broker's pid and start time, then its shells.
_HEAD = re.compile(rb'\{"broker_pid": (\d+), "broker_start": (null|"(?:[^"\\]|\\.)*"), "shells": \[')
HEAD_BYTES = 256


def record_broker(path: str) -> tuple[int, str | None] | None:
    """The broker pid and start time a record begins with, read from its first bytes (only one
    of the user's own regular files); None when it does not begin as :func:`write_record` writes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fh.fileno()).st_uid != os.getuid():
            return None
        head = fh.read(HEAD_BYTES)
    match = _HEAD.match(head)
    if match is None:
        return None
    try:
        start = json.loads(match.group(2))
    except ValueError:
        return None
    return int(match.group(1)), start if isinstance(start, str) else None


def dead_records(directory: str) -> list[tuple[str, dict[str, Any]]]:
    """Records of brokers that are no longer running. A live broker's record is recognised from
    its first bytes (:func:`record_broker`): every session open looks at the records of the run's
    brokers, each listing every shell its broker holds, and only a dead broker's is parsed."""
    found = []
    for name in sorted(os.listdir(directory)):
        if not (name.startswith("broker-") and name.endswith(SUFFIX)):
            continue
        path = os.path.join(directory, name)
        head = record_broker(path)
        if head is not None and pid_alive(*head):
            continue
        record = read_record(path)
        if record is None:
            continue
        pid = record.get("broker_pid")
        if isinstance(pid, int) and pid_alive(pid, record.get("broker_start")):
            continue
        found.append((path, record))
    return found


def recorded_shells(directory: str) -> list[dict[str, Any]]:
    """Every shell the records in ``directory`` name, with ``broker_alive`` (False: a killed
    broker left it; the next session to that endpoint removes it). For listing tools."""
    shells = []
    for name in sorted(os.listdir(directory)):
        if name.startswith("broker-") and name.endswith(SUFFIX):
            record = read_record(os.path.join(directory, name))
            if record is None:
                continue
            pid = record.get("broker_pid")
            alive = isinstance(pid, int) and pid_alive(pid, record.get("broker_start"))
            shells += [
                dict(s, broker_pid=pid, broker_alive=alive) for s in record["shells"] if isinstance(s, dict)
            ]
    return shells


def same_identity(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(str(a.get(k) or "").lower() == str(b.get(k) or "").lower() for k in IDENTITY)


def take_orphans(directory: str, identity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Remove from the dead brokers' records, and return, the shells they left on ``identity``'s
    endpoint for its user. The caller deletes them on the host."""
    taken: list[dict[str, Any]] = []
    for path, record in dead_records(directory):
        keep: list[Any] = []
        for shell in record["shells"]:
            (taken if isinstance(shell, dict) and same_identity(shell, identity) else keep).append(shell)
        if len(keep) != len(record["shells"]):
            write_record(path, int(record.get("broker_pid") or 0), record.get("broker_start"), keep)
    return taken


# -- our named shells, as a WSMan Enumerate shows them (no session directory needed) --------------
ALIVE, GONE, UNKNOWN = "alive", "gone", "unknown"


def parse_name(name: str | None) -> tuple[str, int, str | None] | None:
    """``(machine, broker pid, broker start)`` of one of our shell names, None for any other name."""
    parts = (name or "").split(" ")
    if len(parts) != 4 or parts[0] != NAME_PREFIX or parts[1] != "broker":
        return None
    pid, _, start = parts[3].partition("/")
    if not pid.isdigit():
        return None
    return parts[2], int(pid), (None if start in ("", "?") else start)


def broker_state(
    name: str | None, recorded: Mapping[str, bool] | None = None, shell_id: str = ""
) -> str | None:
    """alive / gone / unknown for one of our shells (None: not ours). ``recorded`` maps the ShellIds
    of the session directory's records to whether their broker is alive; otherwise a broker of this
    machine is looked up by pid and start time, and one of another machine is unknown."""
    if recorded and shell_id.upper() in recorded:
        return ALIVE if recorded[shell_id.upper()] else GONE
    parsed = parse_name(name)
    if parsed is None:
        return None
    machine, pid, start = parsed
    if machine != socket.gethostname():
        return UNKNOWN
    return ALIVE if pid_alive(pid, start) else GONE


def stale_shells(shells: Iterable[Any], own_ids: Iterable[str], idle_threshold: float) -> list[Any]:
    """Our named shells (``ShellInfo``) that no live broker can hold: not in ``own_ids`` (this
    broker's table), connected, idle (ShellInactivity) longer than ``idle_threshold`` seconds, and
    not owned by a broker of this machine that still runs. A live broker touches its shell at least
    every operation timeout while a command runs (Receive long-polls) and closes it after its idle
    timeout, so a longer inactivity proves its broker is gone. Shells without our name are never
    returned (another client of the same user); disconnected ones are left as they are."""
    own = {s.upper() for s in own_ids}
    stale = []
    for shell in shells:
        if parse_name(shell.name) is None or shell.shell_id.upper() in own:
            continue
        if (shell.state or "Connected").lower() != "connected":
            continue
        idle = shell.idle_seconds
        if idle is None or idle <= idle_threshold:
            continue
        if broker_state(shell.name) == ALIVE:
            continue
        stale.append(shell)
    return stale
