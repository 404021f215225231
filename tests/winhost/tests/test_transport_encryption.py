"""WinRM message encryption over HTTP and channel binding over HTTPS.

MS-WSMV 2.2.9.1.1 (encrypted message types); Windows' handling of unencrypted bodies with
AllowUnencrypted=false (HTTP 500, empty body) as reported in pywinrm issues #129 and #208;
CbtHardeningLevel semantics from the WinRM configuration docs ("Service/Auth/CbtHardeningLevel":
None, Relaxed = accept a missing binding, Strict = require it).
"""

from __future__ import annotations

import base64
import http.client
import random
import re
import socket
import ssl
from typing import Any

import pytest
import spnego
from spnego.channel_bindings import GssChannelBindings

from winhost.hostset import HostSet
from winhost.transport import encryption
from winhost.transport.auth import ENC_CREDSSP, ENC_SPNEGO
from winhost.transport.testing import configure, envelope, service_of, transport
from winhost.transport.tls.ca import tls_server_end_point


def _hostvars(hs: HostSet, name: str = "dc01") -> dict[str, Any]:
    return dict(hs.inventory()["all"]["children"]["windows"]["hosts"][name])


def _connect(hs: HostSet, https: bool) -> http.client.HTTPConnection:
    hv = _hostvars(hs)
    if https:
        ctx = ssl.create_default_context(cafile=hv["winhost_ca_cert"])
        return http.client.HTTPSConnection(
            hv["ansible_host"], hv["winhost_https_port"], context=ctx, timeout=10
        )
    return http.client.HTTPConnection(hv["ansible_host"], hv["winhost_http_port"], timeout=10)


def _ntlm_handshake(
    conn: http.client.HTTPConnection, bindings: GssChannelBindings | None, body: bytes = b""
) -> tuple[http.client.HTTPResponse, Any]:
    """Run NTLM over ``conn`` by hand; the final leg carries ``body`` unencrypted."""
    ctx = spnego.client(
        "vagrant",
        "vagrant",
        protocol="ntlm",
        channel_bindings=bindings,
        options=spnego.NegotiateOptions.wrapping_winrm,
    )
    token = ctx.step()
    conn.request(
        "POST", "/wsman", body=b"", headers={"Authorization": f"Negotiate {base64.b64encode(token).decode()}"}
    )
    response = conn.getresponse()
    response.read()
    assert response.status == 401
    challenge = base64.b64decode(response.headers["WWW-Authenticate"].split(" ", 1)[1])
    token = ctx.step(challenge)
    headers = {
        "Authorization": f"Negotiate {base64.b64encode(token).decode()}",
        "Content-Type": "application/soap+xml;charset=UTF-8",
    }
    conn.request("POST", "/wsman", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response, ctx


def _cbt(conn: http.client.HTTPConnection) -> GssChannelBindings:
    conn.connect()
    sock = conn.sock
    assert isinstance(sock, ssl.SSLSocket)
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return GssChannelBindings(application_data=tls_server_end_point(der))


def test_unencrypted_body_over_http_is_500_unless_allowed(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", allow_unencrypted=False)
    calls = len(service_of(hostset, "dc01").calls)
    response, _ = _ntlm_handshake(_connect(hostset, https=False), None, envelope("Create"))
    assert response.status == 500
    assert len(service_of(hostset, "dc01").calls) == calls  # never reached the WSMan layer
    configure(hostset, "dc01", allow_unencrypted=True)
    response, _ = _ntlm_handshake(_connect(hostset, https=False), None, envelope("Create"))
    assert response.status == 200


def test_encrypted_request_is_decrypted_and_response_encrypted(hostset: HostSet) -> None:
    conn = _connect(hostset, https=False)
    response, ctx = _ntlm_handshake(conn, None)
    assert response.status == 200  # the empty POST that completes the handshake
    content_type, payload = encryption.wrap_body(ctx, ENC_SPNEGO, envelope("Command"))
    conn.request("POST", "/wsman", body=payload, headers={"Content-Type": content_type})
    response = conn.getresponse()
    raw = response.read()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith(
        'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted"'
    )
    assert b"<user>" not in raw  # sealed on the wire
    plain = encryption.unwrap_body(ctx, response.headers["Content-Type"], raw)
    assert plain.startswith(b"<s:Envelope><user>DC01\\vagrant</user>")
    assert service_of(hostset, "dc01").calls[-1][1] == envelope("Command")


def test_tampered_encrypted_body_is_rejected(hostset: HostSet) -> None:
    conn = _connect(hostset, https=False)
    _, ctx = _ntlm_handshake(conn, None)
    content_type, payload = encryption.wrap_body(ctx, ENC_SPNEGO, envelope("Command"))
    tampered = bytearray(payload)
    tampered[-40] ^= 0xFF
    conn.request("POST", "/wsman", body=bytes(tampered), headers={"Content-Type": content_type})
    response = conn.getresponse()
    response.read()
    assert response.status == 400


def test_credssp_large_response_uses_16k_chunks(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_credssp=True)
    service = service_of(hostset, "dc01")
    service.response_size = 50_000
    try:
        response = transport(hostset, https=False, auth="credssp").send(envelope("Receive", "y" * 40_000))
    finally:
        service.response_size = 0
    assert response.endswith(b"x" * 100 + b"</s:Envelope>")
    assert b"<len>" in response and len(response) > 50_000
    assert service.calls[-1][1] == envelope("Receive", "y" * 40_000)  # multi-part request decrypted


def test_wrap_body_chunks_credssp_at_16k() -> None:
    class Identity:
        def wrap_winrm(self, data: bytes) -> Any:
            class Result:
                header = b"H" * 16
                padding_length = 0

            result = Result()
            result.data = data  # type: ignore[attr-defined]
            return result

        def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
            return data

    ctx = Identity()
    message = bytes(range(256)) * 200  # 51,200 bytes, crosses 16 KiB boundaries
    content_type, body = encryption.wrap_body(ctx, ENC_CREDSSP, message)
    assert content_type.startswith("multipart/x-multi-encrypted")
    assert body.count(b"Length=16384") == 3
    assert encryption.unwrap_body(ctx, content_type, body) == message


@pytest.mark.parametrize(
    ("level", "binding", "accepted"),
    [
        ("Relaxed", "right", True),
        ("Relaxed", "missing", True),
        ("Relaxed", "wrong", False),
        ("Strict", "right", True),
        ("Strict", "missing", False),
        ("Strict", "wrong", False),
        ("None", "wrong", True),
    ],
)
def test_channel_binding_hardening(
    hostset: HostSet, restore: None, level: str, binding: str, accepted: bool
) -> None:
    configure(hostset, "dc01", auth_cbt_hardening_level=level)
    conn = _connect(hostset, https=True)
    right = _cbt(conn)
    bindings = {
        "right": right,
        "missing": None,
        "wrong": GssChannelBindings(application_data=b"tls-server-end-point:" + b"\x01" * 32),
    }[binding]
    response, _ = _ntlm_handshake(conn, bindings, envelope("Create"))
    assert (response.status == 200) is accepted
    if not accepted:
        assert response.status == 401


def test_pypsrp_without_cbt_works_on_relaxed(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_cbt_hardening_level="Relaxed")
    assert b"DC01\\vagrant" in transport(hostset, auth="ntlm", send_cbt=False).send(envelope("Create"))
    configure(hostset, "dc01", auth_cbt_hardening_level="Strict")
    assert b"DC01\\vagrant" in transport(hostset, auth="ntlm", send_cbt=True).send(envelope("Create"))


def test_every_mapped_port_listens_on_loopback(hostset: HostSet) -> None:
    for host in hostset.hosts.values():
        assert host.address.startswith("127.")
        for real in host.transport.port_map().values():
            with socket.create_connection((host.address, real), timeout=5):
                pass


@pytest.mark.parametrize("boundary", [b"Encrypted Boundary", b"Bd", b"a b", b"-odd", b" lead", b"x\r\ny"])
def test_multipart_framing_matches_the_delimiter_regex(boundary: bytes) -> None:
    """The body is split at ``--\\s*<boundary>\\r\\n`` and the closing ``--\\s*<boundary>--\\r\\n``
    at the end (or before a final newline) is dropped, exactly as the regex says (RFC 2046
    section 5.1.1 delimiters; the fast path finds them with bytes.find): random bodies made of
    delimiter-like pieces give what re.split / re.sub give."""

    rng = random.Random(boundary)
    pieces = [b"-", b"--", b" ", b"\t", b"\r", b"\n", b"\r\n", b"x", boundary, boundary + b"\r\n"]
    pieces += [b"--" + boundary + b"\r\n", b"-- " + boundary + b"\r\n", boundary + b"--\r\n"]
    split_re = rb"--\s*" + re.escape(boundary) + rb"\r\n"
    close_re = rb"--\s*" + re.escape(boundary) + rb"--\r\n$"
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))
        assert encryption._split_parts(data, boundary) == re.split(split_re, data), data
        assert encryption._strip_closing(data, boundary) == re.sub(close_re, b"", data), data
