# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_endpoint_check: runs on the controller only."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ModuleAction, TaskContext
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._endpoint import probe, probe_problems


def looks_dropped(exc: BaseException) -> bool:
    """The connection was refused, reset or closed before any answer: a listener or firewall
    matter. A connection closed during the TLS handshake (SSLEOFError) counts: a firewall reset
    that races the ClientHello looks exactly like that. Other TLS and HTTP errors do not."""
    if isinstance(exc, ssl.SSLEOFError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError)


# The probe only reads, but a bad address or port would only produce a confusing socket error.
# No Microsoft bound applies to the probe's time-out: 1 to 3600 seconds is chosen.
CHECKS: dict[str, Any] = {
    "address": validate.probe_address,
    "port": validate.port,
    "server_name": validate.listener_hostname,
    "timeout": validate.int_range(1, 3600, "chosen: seconds the probe waits"),
}


@dataclass(frozen=True)
class ProbeRequest:
    scheme: str
    address: str
    port: int
    server_name: str | None
    ca_pem: str | None
    ca_path: str | None
    require_auth: list[str]
    require_any_auth: list[str]
    forbid_auth: list[str]
    timeout: int


class ActionModule(ModuleAction[ProbeRequest]):
    _requires_connection = False  # the probe runs on the controller

    MODULE = "winrm_endpoint_check"
    CHECKS = CHECKS
    REQUEST = ProbeRequest
    ARGUMENT_SPEC = {
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
    }

    def perform(self, request: ProbeRequest, context: TaskContext) -> dict[str, Any]:
        where = f"{context.host}: {request.scheme}://{request.address}:{request.port}/wsman"
        try:
            probed = probe(
                request.scheme,
                request.address,
                request.port,
                server_name=request.server_name,
                ca_pem=request.ca_pem,
                ca_path=request.ca_path,
                timeout=request.timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            return {
                "failed": True,
                "changed": False,
                "msg": (
                    f"{where}: the certificate does not validate for "
                    f"'{request.server_name or request.address}': {exc.verify_message or exc}"
                ),
            }
        except (OSError, http.client.HTTPException) as exc:
            hint = (
                " (refused or dropped: is a listener on that port, and does the firewall allow it? "
                "see psremoting.core.winrm_listener / winrm_firewall)"
                if looks_dropped(exc)
                else ""
            )
            return {"failed": True, "changed": False, "msg": f"{where} does not answer: {exc}{hint}"}
        data = {
            "status": probed.status,
            "auth_methods": probed.auth_methods,
            "peer_certificate_sha1": probed.peer_certificate_sha1,
            "changed": False,
        }
        problems = probe_problems(
            probed,
            require_auth=request.require_auth,
            require_any_auth=request.require_any_auth,
            forbid_auth=request.forbid_auth,
        )
        if problems:
            return dict(failed=True, msg=f"{where}: " + "; ".join(problems), **data)
        return data
