# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pssession: remove PowerShell sessions (WSMan shells) on a host, like Get-PSSession | Remove-PSSession;
receive or stop the command of a disconnected session, like Receive-PSSession.

Lists the shells (``Connection.list_shells``: one WS-Management Enumerate), selects them
(configuration, owner, state, age, idle time, ShellId), never touches the play's own session, and
removes the rest by id (``Connection.remove_shells``: one WS-Management Delete each), over the
connection's backend (session broker or the worker's session). Check mode lists what would be
removed and removes nothing.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.psremoting.core.plugins.action.pssession_info import (
    SELECTION_CHECKS,
    SELECTION_SPEC,
    protection_of,
    selection_of,
    shell_row,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ModuleAction,
    TaskContext,
    TaskError,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import AUTH, UNREACHABLE
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    FAILED,
    GONE,
    KEPT,
    REMOVED,
    SKIPPED,
    Removal,
    Selection,
    ShellListing,
    plan,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import guid

ARGUMENT_SPEC: dict[str, t.Any] = dict(
    SELECTION_SPEC,
    state={"type": "str", "choices": ["absent", "received", "stopped"], "required": True},
    session_id={"type": "str"},
    depth={"type": "int", "default": 2},
)
REQUIRED_IF = [("state", "received", ("session_id",)), ("state", "stopped", ("session_id",))]


@dataclass(frozen=True)
class RemoveRequest:
    selection: Selection
    state: str
    session_id: str | None = None
    depth: int = 2


class ActionModule(ModuleAction[RemoveRequest]):
    MODULE = "pssession"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REQUIRED_IF = REQUIRED_IF
    CHECKS = dict(SELECTION_CHECKS, session_id=guid)

    def request(self, args: dict[str, t.Any]) -> RemoveRequest:
        if not 0 <= args["depth"] <= 100:
            raise TaskError(f"depth must be between 0 and 100, got {args['depth']}")
        return RemoveRequest(selection_of(args), args["state"], args.get("session_id"), args["depth"])

    def perform(self, request: RemoveRequest, context: TaskContext) -> dict[str, t.Any]:
        if request.state in ("received", "stopped"):
            return self._receive(request, context)
        connection = self.psrp_connection(context)
        listing: ShellListing = connection.list_shells()
        protection = protection_of(listing, context)
        to_remove, protected = plan(listing.shells, request.selection, protection)
        rows = {s.shell_id: shell_row(s, False, context.host) for s in to_remove}
        removed: list[dict[str, t.Any]] = []
        gone: list[dict[str, t.Any]] = []
        failed: list[dict[str, t.Any]] = []
        if context.check_mode:
            removed = list(rows.values())
        elif to_remove:
            outcomes: list[Removal] = connection.remove_shells(to_remove)
            lost = next((o for o in outcomes if o.outcome == FAILED and o.kind in (UNREACHABLE, AUTH)), None)
            if lost is not None:
                raise AnsibleConnectionFailure(f"removing sessions on {context.host}: {lost.message}")
            for outcome in outcomes:
                row = rows[outcome.shell_id]
                if outcome.outcome == REMOVED:
                    removed.append(row)
                elif outcome.outcome == GONE:
                    gone.append(row)
                elif outcome.outcome in (FAILED, SKIPPED, KEPT):
                    row["msg"] = outcome.message or "the connection holds this session itself"
                    failed.append(row)
        result: dict[str, t.Any] = {
            "changed": bool(removed),
            "removed": removed,
            "already_gone": gone,
            "protected": [shell_row(s, True, context.host) for s in protected],
            "failed_removals": failed,
            "total_shells": len(listing.shells),
            "protection": {"method": protection.method, "message": protection.describe()},
        }
        if failed:
            result["failed"] = True
            result["msg"] = (
                f"{len(failed)} of {len(to_remove)} session(s) could not be removed on {context.host}"
            )
        return result

    def _receive(self, request: RemoveRequest, context: TaskContext) -> dict[str, t.Any]:
        """Receive-PSSession (received) or stop (stopped) of a command started with
        invoke_command disconnected=true; the session is removed afterwards."""
        session_id = str(request.session_id)
        if context.check_mode:
            return {
                "changed": True,
                "skipped": True,
                "session_id": session_id,
                "msg": f"skipped, running in check mode (session {session_id} would be {request.state})",
            }
        stop = request.state == "stopped"
        result = self.psrp_connection(context).receive_disconnected(session_id, stop, request.depth)
        fields: dict[str, t.Any] = {"changed": True, "session_id": session_id}
        fields.update({k: v for k, v in result.items() if k not in ("rc", "runspace_id")})
        if result.get("rc") is not None:  # Ansible fails any result whose rc is not 0
            fields["rc"] = result["rc"]
        if result.get("state") == "Failed":
            fields["failed"] = True
            errors = result.get("error") or []
            detail = (errors[-1].get("exception") or {}).get("message") if errors else None
            fields["msg"] = f"the command of session {session_id} failed" + (f": {detail}" if detail else "")
        return fields
