"""winhost.wsman.soap: the parse of a large Send envelope (long base64 texts lifted out before
expat sees them) builds the same tree, and refuses the same documents with the same messages,
as parsing the envelope as it is; stream data is decoded as before (lenient base64 accepted,
non-base64 refused with the same fault)."""

from __future__ import annotations

import base64
import os
import xml.etree.ElementTree as ET

import pytest

from winhost.wsman import soap
from winhost.wsman.faults import WSManFault

_HEAD = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    b'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    b'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
    b"<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send</a:Action>"
    b"<a:MessageID>uuid:11111111-2222-3333-4444-555555555555</a:MessageID>"
    b"<w:ResourceURI>http://schemas.microsoft.com/powershell/Microsoft.PowerShell</w:ResourceURI>"
    b"</s:Header><s:Body><rsp:Send>"
)
_TAIL = b"</rsp:Send></s:Body></s:Envelope>"
_PAYLOAD = base64.b64encode(os.urandom(270_000))


def _send(*streams: bytes, extra: bytes = b"") -> bytes:
    body = b"".join(b'<rsp:Stream Name="stdin" CommandId="AB">' + s + b"</rsp:Stream>" for s in streams)
    return _HEAD + body + extra + _TAIL


def _same_tree(data: bytes) -> None:
    header, body = soap._envelope(data)
    root = ET.fromstring(data)
    assert ET.tostring(header) == ET.tostring(root[0])
    assert body is not None and ET.tostring(body) == ET.tostring(root[1])


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_send(_PAYLOAD), id="one-stream"),
        pytest.param(_send(_PAYLOAD, _PAYLOAD[:5000]), id="two-streams"),
        pytest.param(_send(_PAYLOAD, extra=b"<x/>" + _PAYLOAD[:6000]), id="long-tail-text"),
        pytest.param(_send(b"  " + _PAYLOAD), id="not-only-base64-kept-as-is"),
        pytest.param(_send(_PAYLOAD, extra=b"<!-- note -->"), id="comment"),
        pytest.param(_send(_PAYLOAD, extra=b"<x>winhost-lifted-text-0</x>"), id="marker-text"),
        pytest.param(_send(_PAYLOAD, extra=b"<x>&#119;inhost-lifted-text-0</x>"), id="char-ref"),
        pytest.param(_send(_PAYLOAD, extra=b"<?pi " + _PAYLOAD[:5000] + b"?>"), id="pi"),
    ],
)
def test_large_envelope_parses_to_the_same_tree(data: bytes) -> None:
    _same_tree(data)
    req = soap.parse_request(data)
    stream = soap.shell_body(req, "Send", "Send").find(
        soap.q("http://schemas.microsoft.com/wbem/wsman/1/windows/shell", "Stream")
    )
    assert stream is not None
    assert soap.stream_bytes(stream.text) == base64.b64decode((stream.text or "").strip())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_send(_PAYLOAD)[:-3], id="truncated"),
        pytest.param(_send(_PAYLOAD).replace(b"</rsp:Send>", b"</rsp:Snd>"), id="mismatched-tag"),
        pytest.param(_send(_PAYLOAD).replace(b"</rsp:Stream>", b"<</rsp:Stream>", 1), id="stray-lt"),
    ],
)
def test_malformed_large_envelope_refused_with_the_expat_message(data: bytes) -> None:
    with pytest.raises(ET.ParseError) as expected:
        ET.fromstring(data)
    with pytest.raises(WSManFault) as fault:
        soap.parse_request(data)
    assert str(expected.value) in str(fault.value)


@pytest.mark.parametrize("text", ["QUJD", " QUJD\n", "QU JD", "QUJDRA==", "\r\nQUJD\r\n"])
def test_stream_bytes_decodes_as_lenient_base64(text: str) -> None:
    assert soap.stream_bytes(text) == base64.b64decode(text.strip())


@pytest.mark.parametrize("text", ["QUJ", "Q", "é"])
def test_stream_bytes_refuses_what_is_not_base64(text: str) -> None:
    with pytest.raises(WSManFault, match="not valid base64"):
        soap.stream_bytes(text)


def test_send_payload_is_lifted_out_of_the_parse() -> None:
    """The long stream text of a Send is lifted (the parse that saves expat's per-character
    work is the one taken), and it comes back as the same string."""
    root = soap.parse_lifting_base64(_send(_PAYLOAD))
    assert root is not None
    assert [el.text for el in root.iter() if el.tag.endswith("}Stream")] == [_PAYLOAD.decode()]
