"""The JSON control endpoint of a host set (loopback only): stats and fault injection.

Routes (every request carries ``X-Winhost-Token`` from the control file):

* ``GET  /hosts``                    addresses and port maps
* ``GET  /stats`` / ``/stats?host=`` per-host counters
* ``POST /stats/reset``             ``{"host": "dc01"}`` or ``{}`` for all
* ``POST /fault``                   ``{"host": "dc01", "fault": "latency", "value": 200, "count": 1}``

:func:`call` is the client used by ``winhost stats``/``winhost fault`` and the pytest fixture.
"""

from __future__ import annotations

import hmac
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from winhost.hostset import HostSet


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
        return

    def _reply(self, status: int, payload: Any) -> None:
        body = (json.dumps(payload, indent=1) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        token = self.headers.get("X-Winhost-Token", "")
        if hmac.compare_digest(token.encode(), self.server.hostset.control_token.encode()):
            return True
        self._reply(403, {"error": "missing or wrong X-Winhost-Token"})
        return False

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        data = json.loads(self.rfile.read(length))
        if not isinstance(data, dict):
            raise ValueError("request body must be a JSON object")
        return data

    def do_GET(self) -> None:  # stdlib name
        if not self._authorised():
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        hostset = self.server.hostset
        try:
            if url.path == "/stats":
                host = query.get("host", [None])[0]
                self._reply(200, hostset.stats(host))
            elif url.path == "/hosts":
                self._reply(200, hostset.control_document()["hosts"])
            elif url.path == "/faults":
                self._reply(200, {n: h.faults.snapshot() for n, h in hostset.hosts.items()})
            else:
                self._reply(404, {"error": f"no route {url.path}"})
        except KeyError as err:
            self._reply(404, {"error": str(err)})

    def do_POST(self) -> None:  # stdlib name
        if not self._authorised():
            return
        url = urlsplit(self.path)
        hostset = self.server.hostset
        try:
            body = self._body()
            if url.path == "/stats/reset":
                hostset.reset_stats(body.get("host"))
                self._reply(200, {"reset": body.get("host") or "all"})
            elif url.path == "/fault":
                value = body.get("value")
                result = hostset.fault(
                    str(body["host"]),
                    str(body["fault"]),
                    int(value) if value is not None else None,
                    int(body.get("count") or 1),
                )
                self._reply(200, result)
            else:
                self._reply(404, {"error": f"no route {url.path}"})
        except KeyError as err:
            self._reply(404, {"error": f"unknown host or missing field: {err}"})
        except ValueError as err:
            self._reply(400, {"error": str(err)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hostset: HostSet) -> None:
        self.hostset = hostset
        super().__init__(("127.0.0.1", 0), _Handler)


class ControlServer:
    def __init__(self, hostset: HostSet) -> None:
        self._server = _Server(hostset)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="winhost-control", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class ControlError(RuntimeError):
    pass


def call(control: dict[str, Any], method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """Call the control endpoint described by a control document (the JSON file)."""
    url = str(control["control_url"]) + path
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # loopback http URL we wrote
    request.add_header("X-Winhost-Token", str(control["token"]))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace")
        raise ControlError(f"{method} {path}: HTTP {err.code}: {detail.strip()}") from err
