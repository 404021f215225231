"""WinRM message encryption over HTTP (MS-WSMV 2.2.9.1.1, "Encrypted Message Types").

A body is ``multipart/encrypted`` with two MIME parts per message::

    --Encrypted Boundary\\r\\n
    \\tContent-Type: application/HTTP-SPNEGO-session-encrypted\\r\\n
    \\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=<plain length>\\r\\n
    --Encrypted Boundary\\r\\n
    \\tContent-Type: application/octet-stream\\r\\n
    <uint32 LE signature length><signature><sealed data>--Encrypted Boundary--\\r\\n

CredSSP seals at most 16 KiB per part; longer messages become ``multipart/x-multi-encrypted``
with one part pair per 16 KiB chunk. The security context is the connection's (pyspnego's
``wrap_winrm``/``unwrap_winrm``).
"""

from __future__ import annotations

import re
import struct
from typing import Any

from winhost.transport.auth import ENC_CREDSSP

BOUNDARY = "Encrypted Boundary"
CREDSSP_CHUNK = 16384
_LENGTH_RE = re.compile(rb"Length=(\d+)")


class EncryptionError(Exception):
    """The body could not be decrypted (bad framing or a failed integrity check)."""


def is_encrypted(content_type: str | None) -> bool:
    if not content_type:
        return False
    lowered = content_type.lower()
    return lowered.startswith(("multipart/encrypted", "multipart/x-multi-encrypted"))


def content_protocol(content_type: str) -> str | None:
    match = re.search(r'protocol="?([^";]+)"?', content_type, re.I)
    return match.group(1) if match else None


def _boundary(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.I)
    return match.group(1) if match else BOUNDARY


#: bytes regex ``\s``
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")
#: Boundaries made of these (RFC 2046 bchars without "-", not starting with a space) cannot
#: overlap a delimiter's "--" or whitespace, so the delimiters are found by ``bytes.find``.
_PLAIN_BOUNDARY = re.compile(rb"[A-Za-z0-9'()+_,./:=?][A-Za-z0-9'()+_,./:=? ]*")


def _delimiter_start(data: bytes, at: int, floor: int) -> int:
    r"""Where ``--\s*`` ends at ``at`` begins (-1: not there, or before ``floor``)."""
    start = at
    while start > floor and data[start - 1] in _WHITESPACE:
        start -= 1
    start -= 2
    return start if start >= floor and data[start : start + 2] == b"--" else -1


def _split_parts(body: bytes, boundary: bytes) -> list[bytes]:
    r"""``re.split(rb"--\s*" + re.escape(boundary) + rb"\r\n", body)`` without a regex scan of
    the encrypted bytes (which cost ~0.6 ms per 360 KB Send)."""
    if not _PLAIN_BOUNDARY.fullmatch(boundary):
        return re.split(rb"--\s*" + re.escape(boundary) + rb"\r\n", body)
    separator = boundary + b"\r\n"
    parts: list[bytes] = []
    last = pos = 0
    while (found := body.find(separator, pos)) >= 0:
        start = _delimiter_start(body, found, last)
        if start < 0:
            pos = found + 1
            continue
        parts.append(body[last:start])
        last = pos = found + len(separator)
    parts.append(body[last:])
    return parts


def _strip_closing(payload: bytes, boundary: bytes) -> bytes:
    r"""``re.sub(rb"--\s*" + re.escape(boundary) + rb"--\r\n$", b"", payload)`` without a regex
    scan of the encrypted bytes (``$``: the very end, or before a final newline)."""
    if not _PLAIN_BOUNDARY.fullmatch(boundary):
        return re.sub(rb"--\s*" + re.escape(boundary) + rb"--\r\n$", b"", payload)
    closing = boundary + b"--\r\n"
    ends = [len(payload)] + ([len(payload) - 1] if payload.endswith(b"\n") else [])
    for end in ends:
        if payload.endswith(closing, 0, end):
            start = _delimiter_start(payload, end - len(closing), 0)
            if start >= 0:
                return payload[:start] + payload[end:]
    return payload


def unwrap_body(context: Any, content_type: str, body: bytes) -> bytes:
    boundary = _boundary(content_type).encode()
    parts = [p for p in _split_parts(body, boundary) if p]
    if not parts or len(parts) % 2:
        raise EncryptionError("malformed multipart/encrypted body")
    plain: list[bytes] = []
    for i in range(0, len(parts), 2):
        header, payload = parts[i], parts[i + 1]
        length_match = _LENGTH_RE.search(header)
        if not length_match:
            raise EncryptionError("missing OriginalContent length")
        expected = int(length_match.group(1))
        payload = _strip_closing(payload, boundary)
        marker = b"application/octet-stream\r\n"
        at = payload.find(marker)
        if at < 0:
            raise EncryptionError("missing octet-stream part")
        at += len(marker)
        if len(payload) - at < 4:
            raise EncryptionError("truncated encrypted part")
        (sig_len,) = struct.unpack_from("<I", payload, at)
        signature = payload[at + 4 : at + 4 + sig_len]
        sealed = payload[at + 4 + sig_len :]
        try:
            chunk = context.unwrap_winrm(signature, sealed)
        except Exception as err:  # integrity failure
            raise EncryptionError(f"decryption failed: {type(err).__name__}") from err
        # Kerberos AES adds padding that OriginalContent counts; the plain text is what unwrap returns.
        if len(chunk) != expected and len(chunk) > expected:
            chunk = chunk[:expected]
        plain.append(bytes(chunk))
    return b"".join(plain)  # one chunk: that chunk, not a copy


def wrap_body(context: Any, protocol: str, message: bytes) -> tuple[str, bytes]:
    """Return ``(Content-Type, body)`` of the encrypted response."""
    if protocol == ENC_CREDSSP and len(message) > CREDSSP_CHUNK:
        kind = "multipart/x-multi-encrypted"
        chunks = [message[i : i + CREDSSP_CHUNK] for i in range(0, len(message), CREDSSP_CHUNK)]
    else:
        kind = "multipart/encrypted"
        chunks = [message]
    out = bytearray()
    for chunk in chunks:
        result = context.wrap_winrm(chunk)
        length = len(chunk) + int(getattr(result, "padding_length", 0))
        out += (
            f"--{BOUNDARY}\r\n"
            f"\tContent-Type: {protocol}\r\n"
            f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={length}\r\n"
            f"--{BOUNDARY}\r\n"
            "\tContent-Type: application/octet-stream\r\n"
        ).encode()
        out += struct.pack("<I", len(result.header)) + result.header + result.data
    out += f"--{BOUNDARY}--\r\n".encode()
    content_type = f'{kind};protocol="{protocol}";boundary="{BOUNDARY}"'
    return content_type, bytes(out)
