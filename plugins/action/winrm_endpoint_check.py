# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_endpoint_check: runs on the controller only."""

from __future__ import annotations

import http.client
import ssl
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._endpoint import probe, probe_problems
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Problems


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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    ARGUMENT_SPEC: dict[str, Any] = {
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

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        host = (task_vars or {}).get("inventory_hostname", "host")
        refusal = Problems(host=str(host), module="winrm_endpoint_check")
        for option, checker in CHECKS.items():
            refusal.check(option, args[option], checker)
        if refusal.items:
            return dict(result, failed=True, changed=False, msg=refusal.message())
        where = f"{host}: {args['scheme']}://{args['address']}:{args['port']}/wsman"
        try:
            probed = probe(
                args["scheme"],
                args["address"],
                args["port"],
                server_name=args["server_name"],
                ca_pem=args["ca_pem"],
                ca_path=args["ca_path"],
                timeout=args["timeout"],
            )
        except ssl.SSLCertVerificationError as exc:
            return dict(
                result,
                failed=True,
                changed=False,
                msg=(
                    f"{where}: the certificate does not validate for "
                    f"'{args['server_name'] or args['address']}': {exc.verify_message or exc}"
                ),
            )
        except (OSError, http.client.HTTPException) as exc:
            hint = (
                " (refused or dropped: is a listener on that port, and does the firewall allow it? "
                "see psremoting.core.winrm_listener / winrm_firewall)"
                if looks_dropped(exc)
                else ""
            )
            return dict(result, failed=True, changed=False, msg=f"{where} does not answer: {exc}{hint}")
        data = {
            "status": probed.status,
            "auth_methods": probed.auth_methods,
            "peer_certificate_sha1": probed.peer_certificate_sha1,
            "changed": False,
        }
        problems = probe_problems(
            probed,
            require_auth=args["require_auth"],
            require_any_auth=args["require_any_auth"],
            forbid_auth=args["forbid_auth"],
        )
        if problems:
            return dict(result, failed=True, msg=f"{where}: " + "; ".join(problems), **data)
        return dict(result, **data)
