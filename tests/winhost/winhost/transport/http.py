"""Minimal blocking HTTP/1.1 request reader and response writer.

Only what a WinRM listener needs: ``POST`` with ``Content-Length`` (chunked bodies are
accepted too), keep-alive, and responses written with a single ``sendall`` (headers and body
together) so Nagle's algorithm never delays a request by ~40 ms.
"""

from __future__ import annotations

import dataclasses
import socket
from typing import BinaryIO

MAX_HEADER_BYTES = 64 * 1024
#: Hard cap on a request body; Windows' own limit (MaxEnvelopeSize) is enforced by the
#: WSMan layer, this only protects the process.
MAX_BODY_BYTES = 512 * 1024 * 1024

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HTTPError(Exception):
    """Malformed request: answer with ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Request:
    method: str
    path: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    wire_bytes: int

    def header(self, name: str, default: str | None = None) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def read_request(reader: BinaryIO) -> Request | None:
    """Read one request; None when the peer closed the connection cleanly before a request."""
    wire = 0
    line = reader.readline(MAX_HEADER_BYTES + 1)
    # Tolerate stray CRLFs between requests (RFC 9112 section 2.2).
    while line in (b"\r\n", b"\n"):
        wire += len(line)
        line = reader.readline(MAX_HEADER_BYTES + 1)
    if not line:
        return None
    wire += len(line)
    if len(line) > MAX_HEADER_BYTES or not line.endswith(b"\n"):
        raise HTTPError(400, "request line too long or truncated")
    try:
        method, path, version = line.decode("latin-1").strip().split(" ", 2)
    except ValueError as err:
        raise HTTPError(400, "malformed request line") from err
    if not version.startswith("HTTP/1."):
        raise HTTPError(400, "unsupported HTTP version")

    headers: list[tuple[str, str]] = []
    header_bytes = 0
    while True:
        hline = reader.readline(MAX_HEADER_BYTES + 1)
        if not hline:
            raise HTTPError(400, "connection closed inside headers")
        wire += len(hline)
        header_bytes += len(hline)
        if header_bytes > MAX_HEADER_BYTES:
            raise HTTPError(400, "headers too large")
        if hline in (b"\r\n", b"\n"):
            break
        text = hline.decode("latin-1").rstrip("\r\n")
        if ":" not in text:
            raise HTTPError(400, "malformed header")
        key, value = text.split(":", 1)
        headers.append((key.strip(), value.strip()))

    request = Request(method.upper(), path, version, headers, b"", 0)
    transfer = (request.header("Transfer-Encoding") or "").lower()
    if "chunked" in transfer:
        body, used = _read_chunked(reader)
        wire += used
    else:
        length_text = request.header("Content-Length")
        if length_text is None:
            body = b""
        else:
            try:
                length = int(length_text)
            except ValueError as err:
                raise HTTPError(400, "bad Content-Length") from err
            if length < 0 or length > MAX_BODY_BYTES:
                raise HTTPError(413, "body too large")
            body = _read_exact(reader, length)
            wire += length
    request.body = body
    request.wire_bytes = wire
    return request


def _read_exact(reader: BinaryIO, length: int) -> bytes:
    data = reader.read(length) if length else b""
    if len(data) != length:
        raise HTTPError(400, "connection closed inside body")
    return data


def _read_chunked(reader: BinaryIO) -> tuple[bytes, int]:
    parts: list[bytes] = []
    used = 0
    total = 0
    while True:
        size_line = reader.readline(1024)
        used += len(size_line)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as err:
            raise HTTPError(400, "bad chunk size") from err
        if size == 0:
            while True:
                trailer = reader.readline(MAX_HEADER_BYTES)
                used += len(trailer)
                if trailer in (b"\r\n", b"\n", b""):
                    return b"".join(parts), used
        total += size
        if total > MAX_BODY_BYTES:
            raise HTTPError(413, "body too large")
        parts.append(_read_exact(reader, size))
        used += size + len(reader.readline(3))


def build_response(
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    keep_alive: bool = True,
) -> bytes:
    """Serialise a response; headers and body end up in one buffer."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines.append("Server: Microsoft-HTTPAPI/2.0")
    for key, value in headers or []:
        lines.append(f"{key}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body


def send_all(sock: socket.socket, data: bytes) -> None:
    sock.sendall(data)
