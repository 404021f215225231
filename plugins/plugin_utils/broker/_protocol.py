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
optionally ``"notices": [str]`` (shown at -v) and ``"warnings": [str]`` (shown as warnings).
Frames before the reply: ``{"event": {...}}`` (live output, ``invoke/_live.py``) and
``{"progress": "started"}``. ``docs/connection.md`` has the table.
A reply with ``"raw_bytes": N`` is followed on the socket by N bytes that are not JSON: an exec
result's stdout (``send_reply`` / ``recv_reply``), so a large output travels once, as it is,
without base64 or a JSON copy, and the worker receives it into one buffer of its final size.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any, NamedTuple

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


RAW_BYTES = "raw_bytes"


def send_reply(sock: socket.socket, reply: dict[str, Any], raw: bytes | None = None) -> None:
    """A reply frame, then ``raw`` as it is (announced in the frame as ``raw_bytes``)."""
    if raw is not None:
        reply = {**reply, RAW_BYTES: len(raw)}
    send_frame(sock, reply)
    if raw:
        sock.sendall(memoryview(raw))


def recv_raw(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes into one bytes object allocated once at its final size (recv with
    MSG_WAITALL fills it in place); a short read (signal, timeout) is completed by copying."""
    if size <= 0:
        return b""
    data = sock.recv(size, socket.MSG_WAITALL)
    if len(data) == size:
        return data
    return data + _recv_exact(sock, size - len(data))


def recv_reply(sock: socket.socket) -> tuple[dict[str, Any], bytes | None]:
    """The inverse of :func:`send_reply`."""
    reply = recv_frame(sock)
    size = reply.pop(RAW_BYTES, None)
    if size is None:
        return reply, None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"bad {RAW_BYTES} in a reply: {size!r}")
    return reply, recv_raw(sock, size)


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


def encode_exec_result(rc: int, stdout: bytes, stderr: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON part of an exec result and its stdout, which travels after the reply frame."""
    return {"rc": rc, "stderr": _b64(stderr)}, stdout


def decode_exec_result(result: dict[str, Any], stdout: bytes | None) -> tuple[int, bytes, bytes]:
    return int(result["rc"]), stdout or b"", base64.b64decode(result["stderr"])


# -- peer check -------------------------------------------------------------------------------
_UCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;} (socket(7), unix(7))


class PeerCred(NamedTuple):  # not a dataclass: a worker defines it for every task
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
