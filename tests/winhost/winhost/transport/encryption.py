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


def unwrap_body(context: Any, content_type: str, body: bytes) -> bytes:
    boundary = _boundary(content_type).encode()
    parts = [p for p in re.split(rb"--\s*" + re.escape(boundary) + rb"\r\n", body) if p]
    if not parts or len(parts) % 2:
        raise EncryptionError("malformed multipart/encrypted body")
    plain = bytearray()
    for i in range(0, len(parts), 2):
        header, payload = parts[i], parts[i + 1]
        length_match = _LENGTH_RE.search(header)
        if not length_match:
            raise EncryptionError("missing OriginalContent length")
        expected = int(length_match.group(1))
        payload = re.sub(rb"--\s*" + re.escape(boundary) + rb"--\r\n$", b"", payload)
        marker = b"application/octet-stream\r\n"
        at = payload.find(marker)
        if at < 0:
            raise EncryptionError("missing octet-stream part")
        data = payload[at + len(marker) :]
        if len(data) < 4:
            raise EncryptionError("truncated encrypted part")
        (sig_len,) = struct.unpack("<I", data[:4])
        signature = data[4 : 4 + sig_len]
        sealed = data[4 + sig_len :]
        try:
            chunk = context.unwrap_winrm(signature, sealed)
        except Exception as err:  # integrity failure
            raise EncryptionError(f"decryption failed: {type(err).__name__}") from err
        # Kerberos AES adds padding that OriginalContent counts; the plain text is what unwrap returns.
        if len(chunk) != expected and len(chunk) > expected:
            chunk = chunk[:expected]
        plain += chunk
    return bytes(plain)


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
