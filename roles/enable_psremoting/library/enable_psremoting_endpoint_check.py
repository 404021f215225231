#!/usr/bin/python
# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role-local module: check from the controller that a WinRM endpoint answers."""

from __future__ import annotations

DOCUMENTATION = r"""
module: enable_psremoting_endpoint_check
short_description: Check from the controller that a WinRM listener answers (role-internal)
description:
  - Opens a TCP connection to the listener, for HTTPS validates the server certificate against I(ca_pem),
    I(ca_path) or the system trust store and the name I(server_name), sends an unauthenticated
    C(POST /wsman) and reads the C(401) answer, whose C(WWW-Authenticate) headers list the authentication
    methods the service offers.
  - Fails with the reason (refused, TLS validation, wrong status, an authentication method offered or missing).
  - Runs on the controller (C(delegate_to: localhost)); it sends no credentials.
options:
  scheme: {description: http or https., type: str, choices: [http, https], default: https}
  address: {description: Address or name to connect to., type: str, required: true}
  port: {description: TCP port., type: int, required: true}
  server_name: {description: Name the certificate must match (SNI and hostname check); defaults to I(address)., type: str}
  ca_pem: {description: PEM certificate(s) to trust, e.g. the self-signed listener certificate., type: str}
  ca_path: {description: File with PEM certificates to trust., type: path}
  require_auth: {description: Methods that must be offered (C(Basic), C(Negotiate), C(Kerberos), C(CredSSP))., type: list, elements: str, default: []}
  require_any_auth: {description: At least one of these must be offered., type: list, elements: str, default: []}
  forbid_auth: {description: Methods that must not be offered., type: list, elements: str, default: []}
  timeout: {description: Seconds to wait., type: int, default: 10}
author: psremoting.core contributors
"""

EXAMPLES = r"""
- name: HTTPS answers with the self-signed certificate
  enable_psremoting_endpoint_check:
    address: 127.0.0.5
    port: 5986
    server_name: web01
    ca_pem: "{{ listener.certificate.pem }}"
    forbid_auth: [Basic]
  delegate_to: localhost
"""

RETURN = r"""
status: {description: HTTP status of the unauthenticated request (401 expected)., returned: success, type: int}
auth_methods: {description: Methods offered in WWW-Authenticate., returned: success, type: list, elements: str}
peer_certificate_sha1: {description: SHA-1 thumbprint of the server certificate (HTTPS)., returned: https, type: str}
"""

import hashlib
import http.client
import socket
import ssl

from ansible.module_utils.basic import AnsibleModule


def probe(params: dict) -> dict:
    """Connect, validate, POST /wsman without credentials, return status and offered methods."""
    address, port = params["address"], params["port"]
    server_name = params["server_name"] or address
    sock = socket.create_connection((address, port), timeout=params["timeout"])
    thumbprint = ""
    try:
        if params["scheme"] == "https":
            context = ssl.create_default_context(cafile=params["ca_path"] or None, cadata=params["ca_pem"] or None)
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            sock = context.wrap_socket(sock, server_hostname=server_name)
            der = sock.getpeercert(binary_form=True) or b""
            thumbprint = hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - a certificate thumbprint
        request = (
            "POST /wsman HTTP/1.1\r\n"
            f"Host: {server_name}:{port}\r\n"
            "Content-Type: application/soap+xml;charset=UTF-8\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode("ascii"))
        response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        response.begin()
        methods = [h.split(" ", 1)[0] for h in response.headers.get_all("WWW-Authenticate") or []]
        return {"status": response.status, "auth_methods": methods, "peer_certificate_sha1": thumbprint}
    finally:
        sock.close()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "scheme": {"type": "str", "choices": ["http", "https"], "default": "https"},
            "address": {"type": "str", "required": True},
            "port": {"type": "int", "required": True},
            "server_name": {"type": "str"},
            "ca_pem": {"type": "str"},
            "ca_path": {"type": "path"},
            "require_auth": {"type": "list", "elements": "str", "default": []},
            "require_any_auth": {"type": "list", "elements": "str", "default": []},
            "forbid_auth": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    p = module.params
    where = f"{p['scheme']}://{p['address']}:{p['port']}/wsman"
    try:
        result = probe(p)
    except ssl.SSLCertVerificationError as exc:
        module.fail_json(msg=f"{where}: the certificate does not validate for '{p['server_name'] or p['address']}': "
                         f"{exc.verify_message or exc}")
    except (OSError, http.client.HTTPException) as exc:
        module.fail_json(msg=f"{where} does not answer: {exc}")
    offered = {m.lower() for m in result["auth_methods"]}
    problems = []
    if result["status"] not in (200, 401):
        problems.append(f"answered HTTP {result['status']} (expected 401 to an unauthenticated request)")
    problems += [f"does not offer {m}" for m in p["require_auth"] if m.lower() not in offered]
    if p["require_any_auth"] and not offered & {m.lower() for m in p["require_any_auth"]}:
        problems.append("offers none of " + ", ".join(p["require_any_auth"]))
    problems += [f"still offers {m}" for m in p["forbid_auth"] if m.lower() in offered]
    if problems:
        module.fail_json(msg=f"{where}: " + "; ".join(problems), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
