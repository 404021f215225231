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


def _request_line(reader: BinaryIO) -> tuple[tuple[str, str, str], int] | None:
    """(method, path, version) and the bytes read; None when the peer closed cleanly first."""
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
    return (method, path, version), wire


def _headers(reader: BinaryIO) -> tuple[list[tuple[str, str]], int]:
    """The header fields up to the empty line, and the bytes read."""
    headers: list[tuple[str, str]] = []
    header_bytes = 0
    while True:
        hline = reader.readline(MAX_HEADER_BYTES + 1)
        if not hline:
            raise HTTPError(400, "connection closed inside headers")
        header_bytes += len(hline)
        if header_bytes > MAX_HEADER_BYTES:
            raise HTTPError(400, "headers too large")
        if hline in (b"\r\n", b"\n"):
            return headers, header_bytes
        text = hline.decode("latin-1").rstrip("\r\n")
        if ":" not in text:
            raise HTTPError(400, "malformed header")
        key, value = text.split(":", 1)
        headers.append((key.strip(), value.strip()))


def _body(reader: BinaryIO, request: Request) -> tuple[bytes, int]:
    """The body (chunked or Content-Length) and the bytes read."""
    transfer = (request.header("Transfer-Encoding") or "").lower()
    if "chunked" in transfer:
        return _read_chunked(reader)
    length_text = request.header("Content-Length")
    if length_text is None:
        return b"", 0
    try:
        length = int(length_text)
    except ValueError as err:
        raise HTTPError(400, "bad Content-Length") from err
    if length < 0 or length > MAX_BODY_BYTES:
        raise HTTPError(413, "body too large")
    return _read_exact(reader, length), length


def read_request(reader: BinaryIO) -> Request | None:
    """Read one request; None when the peer closed the connection cleanly before a request."""
    first = _request_line(reader)
    if first is None:
        return None
    (method, path, version), wire = first
    headers, header_bytes = _headers(reader)
    request = Request(method.upper(), path, version, headers, b"", 0)
    body, body_bytes = _body(reader, request)
    request.body = body
    request.wire_bytes = wire + header_bytes + body_bytes
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
