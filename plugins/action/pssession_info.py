# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pssession_info: list the PowerShell sessions (WSMan shells) on a host, like Get-PSSession -ComputerName.

The work is a WS-Management Enumerate sent from the controller with the host's connection options
(plugin_utils/psrp/_shells.py); no PowerShell runs on the host. ``pssession`` (state=absent) reuses
this class for its selection and protection logic.
"""

from __future__ import annotations

import contextlib
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    Protection,
    Selection,
    ShellInfo,
    enumerate_shells,
    own_shell_ids,
    plan,
    process_start_epoch,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import (
    WinRMConfigError,
    connection_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Problems

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


class ShellActionBase(ActionBase):
    """Shared by pssession_info and pssession: connection settings, selection, protection."""

    TRANSFERS_FILES = False
    _requires_connection = False  # we talk WS-Management ourselves; no module is executed

    def _settings(self) -> t.Any:
        """The connection's options, read and resolved by the connection plugin's own reader."""
        hint = str(getattr(self._play_context, "remote_addr", "") or self._task_vars_host())
        try:
            return connection_settings(self._connection, hint)
        except WinRMConfigError as exc:
            raise AnsibleActionFail(str(exc)) from None

    def _task_vars_host(self) -> str:
        return str(getattr(self, "_inventory_hostname", "") or "")

    def _wsman(self, settings: t.Any) -> t.Any:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import WSMan, require  # noqa: PLC0415

        require()

        return WSMan(**dict(settings.wsman_kwargs))

    def _selection(self, args: dict[str, t.Any], module: str) -> Selection:
        """The selection, once every value is checked (before any request)."""
        problems = Problems(host=self._computer_name() or "host", module=module)
        for option, checker in SELECTION_CHECKS.items():
            value = args.get(option)
            if isinstance(value, list):
                args = dict(args, **{option: problems.check_each(option, value, checker)})
            else:
                problems.check(option, value, checker)
        if problems.items:
            raise AnsibleActionFail(problems.message())
        return Selection(
            configuration_names=tuple(args.get("configuration_name") or ()),
            include_non_powershell=bool(args.get("include_non_powershell")),
            older_than_minutes=args.get("older_than_minutes"),
            idle_minutes=args.get("idle_minutes"),
            owners=tuple(args.get("owner") or ()),
            states=tuple(args.get("session_state") or ()),
            shell_ids=tuple(args.get("shell_id") or ()),
        )

    def _protection(self, settings: t.Any) -> Protection:
        """Find the play's own shell: the connection, then the broker, then the run-start fallback."""
        ids: set[str] = set()
        hook = getattr(self._connection, "session_shell_ids", None)
        if callable(hook):
            try:
                ids.update(str(s).upper() for s in hook() or ())
            except Exception as exc:  # the hook is optional; never fail cleanup because of it
                display.vvv(f"pssession: connection did not report its ShellId: {type(exc).__name__}")
        if not ids and settings.session.persist:
            ids.update(self._broker_shell_ids(settings))
        if ids:
            return Protection(shell_ids=frozenset(ids))
        from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import controller_pid  # noqa: PLC0415

        return Protection(user=settings.user, run_started=process_start_epoch(controller_pid()))

    def _broker_shell_ids(self, settings: t.Any) -> set[str]:
        try:
            from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (  # noqa: PLC0415
                BrokerClient,
                shard_for,
            )

            client = BrokerClient(settings.session.directory, shard=shard_for(settings.host))
            if not client.ping():  # never start a broker just to ask it
                return set()
            reply = client.request({"op": "stats"}, timeout=10)
        except Exception as exc:
            display.vvv(f"pssession: session broker stats unavailable: {type(exc).__name__}")
            return set()
        sessions = (reply.get("result") or {}).get("sessions") or []
        return own_shell_ids(sessions, settings.identity())

    def _list(self, settings: t.Any) -> list[ShellInfo]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import (  # noqa: PLC0415
            ErrorInfo,
            classify,
            raise_ansible,
        )

        wsman = self._wsman(settings)
        try:
            return enumerate_shells(wsman)
        except Exception as exc:
            info = classify(exc, settings.host, settings.port, stage="open")
            raise_ansible(ErrorInfo(info.kind, f"listing sessions on {settings.host}: {info.message}"))
        finally:
            _close(wsman)

    def _row(self, shell: ShellInfo, protected: bool) -> dict[str, t.Any]:
        row = shell.to_dict()
        row["Protected"] = protected
        row["PSComputerName"] = self._computer_name()
        return row

    def _computer_name(self) -> str:
        return str(self._task_vars.get("inventory_hostname", "")) if self._task_vars else ""

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        self._task_vars = task_vars or {}
        return super().run(tmp, task_vars)


def _close(wsman: t.Any) -> None:
    with contextlib.suppress(Exception):  # best effort: closing the HTTP connection pool
        wsman.close()


class ActionModule(ShellActionBase):
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=SELECTION_SPEC)
        settings = self._settings()
        selection = self._selection(args, "pssession_info")
        protection = self._protection(settings)
        shells = self._list(settings)
        matched, protected = plan(shells, selection, Protection())
        protected_ids = {s.shell_id for s in shells if protection.protects(s)}
        rows = [self._row(s, s.shell_id in protected_ids) for s in matched + protected]
        result.update(
            changed=False,
            sessions=rows,
            count=len(rows),
            total_shells=len(shells),
            protection={"method": protection.method, "message": protection.describe()},
        )
        return result
