"""Malicious or broken servers: every bad response gives a clear error, quickly, and no hang.

A tiny HTTP server on 127.0.0.1 answers the client's first WSMan request (the shell Create) with
one crafted response. The client is the real ``PSRPSession`` (pypsrp underneath), with Basic
auth over HTTP and message encryption off, so the bytes we craft are the bytes it parses.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession, SessionError

Responder = Callable[[http.server.BaseHTTPRequestHandler], None]

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']>\n<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol9;</s:Body></s:Envelope>'
)
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&xxe;</s:Body></s:Envelope>'
)


def _reply(status: int, body: bytes, content_type: str = "application/soap+xml;charset=UTF-8") -> Responder:
    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def _claim_huge_length(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
    handler.send_header("Content-Length", str(4 * 1024**3))
    handler.end_headers()
    handler.wfile.write(b"<" * 65536)


def _stream_forever(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Chunked body without a length that never ends (until the client gives up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"A" * 65536
    try:
        while True:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        return


def _never_answer(handler: http.server.BaseHTTPRequestHandler) -> None:
    time.sleep(6)


@pytest.fixture
def server() -> Iterator[Any]:
    state: dict[str, Any] = {"respond": None}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state["respond"](self)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state["port"] = httpd.server_address[1]
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _session(port: int, **extra: Any) -> PSRPSession:
    kwargs: dict[str, Any] = {
        "server": "127.0.0.1",
        "port": port,
        "username": "user",
        "password": "Secret-Should-Not-Appear-1",
        "ssl": False,
        "auth": "basic",
        "encryption": "never",
        "cert_validation": True,
        "connection_timeout": 5,
        "read_timeout": 5,
        "operation_timeout": 3,
        "no_proxy": True,
    }
    kwargs.update(extra)
    return PSRPSession(kwargs, "Microsoft.PowerShell", None, "evil")


def _open_error(server: dict[str, Any], respond: Responder, **extra: Any) -> tuple[str, float]:
    server["respond"] = respond
    session = _session(server["port"], **extra)
    started = time.monotonic()
    with pytest.raises(SessionError) as info:
        session.open()
    took = time.monotonic() - started
    message = info.value.info.message
    assert "Secret-Should-Not-Appear-1" not in message
    assert "Traceback" not in message
    return message, took


def test_malformed_xml(server: dict[str, Any]) -> None:
    message, took = _open_error(server, _reply(200, b"<s:Envelope><s:Body><unclosed"))
    assert "not valid WS-Management XML" in message
    assert took < 5


def test_billion_laughs_is_refused_quickly(server: dict[str, Any]) -> None:
    message, took = _open_error(server, _reply(200, BILLION_LAUGHS))
    assert "not valid WS-Management XML" in message
    assert took < 5


def test_external_entities_are_not_resolved(server: dict[str, Any]) -> None:
    message, _took = _open_error(server, _reply(200, XXE))
    assert "not valid WS-Management XML" in message
    secret_file = Path("/etc/hostname")
    content = secret_file.read_text(encoding="utf-8").strip() if secret_file.exists() else ""
    if len(content) >= 4:
        assert content not in message


def test_fault_body_that_is_not_xml(server: dict[str, Any]) -> None:
    message, _took = _open_error(server, _reply(500, b"\xff\xfe garbage \x00\x01"))
    assert "HTTP 500" in message


def test_oversized_response_by_content_length(server: dict[str, Any]) -> None:
    message, took = _open_error(server, _claim_huge_length)
    assert "malformed server response" in message and "4294967296" in message
    assert took < 5


def test_endless_chunked_response_is_cut_off(server: dict[str, Any]) -> None:
    message, took = _open_error(server, _stream_forever)
    assert "larger than" in message
    assert took < 30


def test_server_that_never_answers_times_out(server: dict[str, Any]) -> None:
    message, took = _open_error(server, _never_answer, read_timeout=1)
    assert "read timeout" in message.lower()
    assert took < 10
