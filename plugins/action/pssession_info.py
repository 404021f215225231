# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pssession_info: list the PowerShell sessions (WSMan shells) on a host, like Get-PSSession -ComputerName.

The listing is the connection's own shell operation (``Connection.list_shells``): one WS-Management
Enumerate (plugin_utils/psrp/_shells.py) sent by the connection's backend, over the session broker's
connection to the host or the worker's own session (``session_persist: false``); no PowerShell
runs on the host and no shell is created for it. ``pssession`` (state=absent) shares the selection
and the rows defined here.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ModuleAction, TaskContext
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._orphans import (
    broker_state,
    recorded_shells,
    same_identity,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    Protection,
    Selection,
    ShellInfo,
    ShellListing,
    plan,
    process_start_epoch,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate

display = Display()

SELECTION_SPEC: dict[str, t.Any] = {
    "configuration_name": {"type": "list", "elements": "str", "default": []},
    "include_non_powershell": {"type": "bool", "default": False},
    "owner": {"type": "list", "elements": "str", "default": []},
    "session_state": {
        "type": "list",
        "elements": "str",
        "default": [],
        "choices": ["Connected", "Disconnected"],
    },
    "older_than_minutes": {"type": "float"},
    "idle_minutes": {"type": "float"},
    "shell_id": {"type": "list", "elements": "str", "default": []},
}


# Checked before any request (issue 16); a ShellId is a GUID, the durations are minutes.
SELECTION_CHECKS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "configuration_name": validate.name,
    "owner": validate.principal,
    "older_than_minutes": validate.minutes,
    "idle_minutes": validate.minutes,
    "shell_id": validate.guid,
}


@dataclass(frozen=True)
class SelectionRequest:
    """pssession_info's typed request: which sessions."""

    selection: Selection


def selection_of(args: dict[str, t.Any]) -> Selection:
    return Selection(
        configuration_names=tuple(args.get("configuration_name") or ()),
        include_non_powershell=bool(args.get("include_non_powershell")),
        older_than_minutes=args.get("older_than_minutes"),
        idle_minutes=args.get("idle_minutes"),
        owners=tuple(args.get("owner") or ()),
        states=tuple(args.get("session_state") or ()),
        shell_ids=tuple(args.get("shell_id") or ()),
    )


def protection_of(listing: ShellListing, context: TaskContext) -> Protection:
    """The play's own shells: exactly the ones the connection's backend holds (the session broker
    of this run, or the worker's session) when it holds any; otherwise every connected shell of
    the connection user created since this run started."""
    if listing.own:
        return Protection(shell_ids=listing.own)
    from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import controller_pid  # noqa: PLC0415

    return Protection(user=context.settings.user, run_started=process_start_epoch(controller_pid()))


def shell_row(
    shell: ShellInfo, protected: bool, host: str, recorded: dict[str, bool] | None = None
) -> dict[str, t.Any]:
    row = shell.to_dict()
    row["Protected"] = protected
    row["BrokerState"] = broker_state(shell.name, recorded, shell.shell_id)
    row["PSComputerName"] = host
    return row


def records_of(context: TaskContext) -> list[dict[str, t.Any]]:
    """The shells the session directory's broker records name for this host and user (none when
    the directory does not exist: a fresh AWX/AAP container)."""
    settings = context.settings
    try:
        found = recorded_shells(settings.session.directory)
    except OSError:
        return []
    return [s for s in found if same_identity(s, settings.identity())]


class ActionModule(ModuleAction[SelectionRequest]):
    MODULE = "pssession_info"
    ARGUMENT_SPEC = SELECTION_SPEC
    CHECKS = SELECTION_CHECKS

    def request(self, args: dict[str, t.Any]) -> SelectionRequest:
        return SelectionRequest(selection_of(args))

    def perform(self, request: SelectionRequest, context: TaskContext) -> dict[str, t.Any]:
        listing: ShellListing = self.psrp_connection(context).list_shells()
        shells = list(listing.shells)
        protection = protection_of(listing, context)
        matched, protected = plan(shells, request.selection, Protection())
        protected_ids = {s.shell_id for s in shells if protection.protects(s)}
        records = records_of(context)
        recorded = {str(r.get("shell_id") or "").upper(): bool(r.get("broker_alive")) for r in records}
        rows = [
            shell_row(s, s.shell_id in protected_ids, context.host, recorded) for s in matched + protected
        ]
        listed = {s.shell_id for s in shells}
        return {
            "changed": False,
            "sessions": rows,
            "count": len(rows),
            "total_shells": len(shells),
            "orphans": [r["ShellId"] for r in rows if r["BrokerState"] == "gone"],
            "recorded_shells": [
                {
                    "ShellId": str(r.get("shell_id") or "").upper(),
                    "BrokerPid": r.get("broker_pid"),
                    "BrokerState": "alive" if r.get("broker_alive") else "gone",
                    "OnHost": str(r.get("shell_id") or "").upper() in listed,
                }
                for r in records
            ],
            "protection": {"method": protection.method, "message": protection.describe()},
        }
