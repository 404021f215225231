"""The environment's proxy settings (HTTP_PROXY, NO_PROXY) are honoured, as with ansible.builtin.psrp.

requests reads them when pypsrp builds the HTTP session; the connection then stops requests from
re-reading os.environ on every request (a CPU cost with many sessions). These tests show the
settings still apply to every request: a proxy named in HTTP_PROXY receives the request, NO_PROXY
and ``ansible_psrp_ignore_proxy`` bypass it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession, SessionError

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="px01")]

HOST = "px01"


class RecordingProxy:
    """Accepts connections, records the first request line of each, answers 502 and closes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.request_lines: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.request_lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{recorder.port}")
    try:
        yield recorder
    finally:
        recorder.close()


def _session(winhost: Any, **overrides: Any) -> PSRPSession:
    # ignore_proxy off by default here: the environment's proxy settings are what is tested
    options = {"protocol": "http", "reconnection_retries": 0, "ignore_proxy": False, **overrides}
    return winhost_session(winhost, HOST, **options)


def _run(session: PSRPSession) -> list[Any]:
    try:
        return list(
            session.invoke_pipeline(
                {"commands": [{"name": "Write-Output", "parameters": {"InputObject": "ok"}}]}
            )["output"]
        )
    finally:
        session.close()


def test_http_proxy_from_the_environment_receives_the_request(winhost: Any, proxy: RecordingProxy) -> None:
    address = winhost.hostvars(HOST)["ansible_host"]
    with pytest.raises(SessionError):
        _run(_session(winhost))
    assert proxy.request_lines, "the request did not go through HTTP_PROXY"
    # a proxied request names the absolute URL of the WinRM endpoint
    assert all(f"http://{address}:" in line and "/wsman" in line for line in proxy.request_lines)


def test_no_proxy_from_the_environment_bypasses_it(
    winhost: Any, proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", winhost.hostvars(HOST)["ansible_host"])
    assert _run(_session(winhost)) == ["ok"]
    assert proxy.request_lines == []


def test_ignore_proxy_bypasses_the_environment(winhost: Any, proxy: RecordingProxy) -> None:
    assert _run(_session(winhost, ignore_proxy=True)) == ["ok"]
    assert proxy.request_lines == []
