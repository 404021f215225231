# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side probe of a WinRM listener: TCP, TLS validation, the unauthenticated 401.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

An unauthenticated ``POST /wsman`` gets ``401`` with one ``WWW-Authenticate`` header per method
the service offers (Negotiate, Kerberos, Basic, CredSSP; [MS-WSMV] 3.1.4.1.29.2 for which
settings enable which). No credentials are sent.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProbeResult:
    status: int
    auth_methods: list[str]
    peer_certificate_sha1: str


def probe(
    scheme: str,
    address: str,
    port: int,
    *,
    server_name: str | None = None,
    ca_pem: str | None = None,
    ca_path: str | None = None,
    timeout: float = 10.0,
) -> ProbeResult:
    """Raises ssl.SSLCertVerificationError, OSError or http.client.HTTPException on failure."""
    name = server_name or address
    sock: socket.socket = socket.create_connection((address, port), timeout=timeout)
    thumbprint = ""
    try:
        if scheme == "https":
            context = ssl.create_default_context(cafile=ca_path or None, cadata=ca_pem or None)
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            sock = context.wrap_socket(sock, server_hostname=name)
            der = sock.getpeercert(binary_form=True) or b""
            thumbprint = hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - certificate thumbprint
        request = (
            "POST /wsman HTTP/1.1\r\n"
            f"Host: {name}:{port}\r\n"
            "Content-Type: application/soap+xml;charset=UTF-8\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode("ascii"))
        response = http.client.HTTPResponse(sock)
        response.begin()
        methods = [h.split(" ", 1)[0] for h in response.headers.get_all("WWW-Authenticate") or []]
        return ProbeResult(response.status, methods, thumbprint)
    finally:
        sock.close()


def probe_problems(
    result: ProbeResult,
    *,
    require_auth: Sequence[str] = (),
    require_any_auth: Sequence[str] = (),
    forbid_auth: Sequence[str] = (),
) -> list[str]:
    offered = {m.lower() for m in result.auth_methods}
    problems: list[str] = []
    if result.status not in (200, 401):
        problems.append(f"answered HTTP {result.status} (expected 401 to an unauthenticated request)")
    problems += [f"does not offer {m}" for m in require_auth if m.lower() not in offered]
    if require_any_auth and not offered & {m.lower() for m in require_any_auth}:
        problems.append("offers none of " + ", ".join(require_any_auth))
    problems += [f"still offers {m}" for m in forbid_auth if m.lower() in offered]
    return problems
