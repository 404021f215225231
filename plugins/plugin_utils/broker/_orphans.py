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
import os
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import pid_alive

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
    data = json.dumps({"broker_pid": broker_pid, "broker_start": broker_start, "shells": entries}, indent=1)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
    os.replace(tmp, path)


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


def dead_records(directory: str) -> list[tuple[str, dict[str, Any]]]:
    """Records of brokers that are no longer running."""
    found = []
    for name in sorted(os.listdir(directory)):
        if not (name.startswith("broker-") and name.endswith(SUFFIX)):
            continue
        path = os.path.join(directory, name)
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
