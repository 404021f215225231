# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pssession: remove PowerShell sessions (WSMan shells) on a host, like Get-PSSession | Remove-PSSession.

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
from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ModuleAction, TaskContext
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

ARGUMENT_SPEC: dict[str, t.Any] = dict(
    SELECTION_SPEC,
    state={"type": "str", "choices": ["absent"], "required": True},
)


@dataclass(frozen=True)
class RemoveRequest:
    selection: Selection
    state: str


class ActionModule(ModuleAction[RemoveRequest]):
    MODULE = "pssession"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    CHECKS = SELECTION_CHECKS

    def request(self, args: dict[str, t.Any]) -> RemoveRequest:
        return RemoveRequest(selection_of(args), args["state"])

    def perform(self, request: RemoveRequest, context: TaskContext) -> dict[str, t.Any]:
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
