# for internal use by psremoting.core only; not a public API
"""The session broker's wire protocol: what both ends (``_server`` and ``_client``) share.

Stdlib only. One module holds everything the two ends must agree on:

- framing: one request and one reply per Unix-socket connection, each a 4-byte big-endian length
  and a UTF-8 JSON object (``send_frame`` / ``recv_frame``);
- codec: how a worker's pipeline input and an exec result travel as JSON (``encode_input`` /
  ``decode_input``, ``encode_exec_result`` / ``decode_exec_result``); the in-process (local)
  backend never uses it;
- peer check: who is at the other end of the socket (``peer_cred``, SO_PEERCRED);
- liveness: whether a process (the controller, a broker) still runs (``pid_alive``), robust to
  pid reuse through the process start time (``process_start_time``).

Request: ``{"op": <op>, "conn": {...connection settings...}, "args": {...}}``; ops ``ping``,
``stats``, ``shutdown``, ``reset``, ``connect``, ``exec``, ``put``, ``fetch``, ``pipeline``,
``fanout`` (``broker/_fanout.py``: no ``conn``, ``args.targets`` holds one per host).
Reply: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"kind": ..., "message": ...}}``,
optionally ``"notices": [str]`` (shown at -v). Frames before the reply: ``{"event": {...}}``
(live output, ``invoke/_live.py``) and ``{"progress": "started"}``. ``docs/connection.md`` has the
table.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import struct
from typing import Any

PROTOCOL_VERSION = 1
MAX_FRAME = 512 * 1024 * 1024
_HEADER = struct.Struct(">I")


# -- framing ----------------------------------------------------------------------------------
def send_frame(sock: socket.socket, obj: dict[str, Any]) -> None:
    data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(min(size - len(buf), 1024 * 1024))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is too large")
    obj = json.loads(_recv_exact(sock, size).decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("frame is not a JSON object")
    return obj


# -- codec ------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_input(data: Any) -> dict[str, Any] | None:
    """Pipeline input of an exec request as JSON (the same objects pypsrp would get).

    ``None``/empty, ``str``, ``bytes``, ``list[str]`` (manifest lines) or ``list[bytes]``.
    """
    if data is None or (isinstance(data, str | bytes) and not data):
        return None
    if isinstance(data, str):
        return {"text": data}
    if isinstance(data, bytes):
        return {"b64": _b64(data)}
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return {"lines": data}
    if isinstance(data, list):
        return {"b64lines": [_b64(bytes(x)) for x in data]}
    raise ValueError(f"unsupported pipeline input type {type(data).__name__}")


def decode_input(spec: Any) -> Any:
    """The inverse of :func:`encode_input`."""
    if not spec:
        return None
    if "lines" in spec:
        return list(spec["lines"])
    if "text" in spec:
        return spec["text"]
    if "b64" in spec:
        return base64.b64decode(spec["b64"])
    if "b64lines" in spec:
        return [base64.b64decode(x) for x in spec["b64lines"]]
    raise ValueError("unknown input encoding")


def encode_exec_result(rc: int, stdout: bytes, stderr: bytes) -> dict[str, Any]:
    return {"rc": rc, "stdout": _b64(stdout), "stderr": _b64(stderr)}


def decode_exec_result(result: dict[str, Any]) -> tuple[int, bytes, bytes]:
    return int(result["rc"]), base64.b64decode(result["stdout"]), base64.b64decode(result["stderr"])


# -- peer check -------------------------------------------------------------------------------
_UCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;} (socket(7), unix(7))


@dataclasses.dataclass(frozen=True)
class PeerCred:
    pid: int
    uid: int
    gid: int


def peer_cred(sock: socket.socket) -> PeerCred | None:
    """The process at the other end of a Unix socket, as the kernel reports it (SO_PEERCRED:
    the credentials of the peer when it called connect() or listen()); None if unknown."""
    try:
        data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except (OSError, AttributeError):
        return None
    pid, uid, gid = _UCRED.unpack(data)
    return PeerCred(pid, uid, gid)


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED), None if unknown."""
    cred = peer_cred(sock)
    return None if cred is None else cred.uid


def peer_allowed(sock: socket.socket, uid: int | None = None) -> bool:
    """Only the user who started the broker may use it (root included: no exception)."""
    return peer_uid(sock) == (os.getuid() if uid is None else uid)


# -- liveness ---------------------------------------------------------------------------------
def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0]); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` from /proc (guards against pid reuse); None if unknown/dead."""
    fields = _proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def pid_alive(pid: int, start_time: str | None = None) -> bool:
    """Whether ``pid`` runs (and, with ``start_time``, is still the process that had it).

    A zombie (killed, not yet reaped by its parent) has ended: it runs nothing any more.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    fields = _proc_stat(pid)
    if fields is None:
        return True  # no /proc: kill(0) is all we know
    if fields[0] in ("Z", "X"):
        return False
    return start_time is None or len(fields) <= 19 or fields[19] == start_time
