# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pssession: remove PowerShell sessions (WSMan shells) on a host, like Get-PSSession | Remove-PSSession.

Lists the shells with a WS-Management Enumerate, selects them (configuration, owner, state, age,
idle time, ShellId), never touches the play's own session, and deletes the rest with one
WS-Management Delete each. Check mode lists what would be removed and removes nothing.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.psremoting.core.plugins.action.pssession_info import (
    SELECTION_SPEC,
    ShellActionBase,
    _close,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import delete_shell, plan

ARGUMENT_SPEC: dict[str, t.Any] = dict(
    SELECTION_SPEC,
    state={"type": "str", "choices": ["absent"], "required": True},
)


class ActionModule(ShellActionBase):
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        settings = self._settings()
        selection = self._selection(args, "pssession")
        protection = self._protection(settings)
        shells = self._list(settings)
        to_remove, protected = plan(shells, selection, protection)
        removed: list[dict[str, t.Any]] = []
        gone: list[dict[str, t.Any]] = []
        failed: list[dict[str, t.Any]] = []
        if not self._task.check_mode and to_remove:
            from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import classify  # noqa: PLC0415

            wsman = self._wsman(settings)
            try:
                for shell in to_remove:
                    try:
                        (removed if delete_shell(wsman, shell) else gone).append(self._row(shell, False))
                    except Exception as exc:
                        info = classify(exc, settings.host, settings.port)
                        if info.kind in ("unreachable", "auth"):
                            raise AnsibleConnectionFailure(
                                f"removing sessions on {settings.host}: {info.message}"
                            ) from None
                        row = self._row(shell, False)
                        row["msg"] = info.message
                        failed.append(row)
            finally:
                _close(wsman)
        else:
            removed = [self._row(s, False) for s in to_remove]
        result.update(
            changed=bool(removed),
            removed=removed,
            already_gone=gone,
            protected=[self._row(s, True) for s in protected],
            failed_removals=failed,
            total_shells=len(shells),
            protection={"method": protection.method, "message": protection.describe()},
        )
        if failed:
            result["failed"] = True
            result["msg"] = (
                f"{len(failed)} of {len(to_remove)} session(s) could not be removed on {settings.host}"
            )
        return result
