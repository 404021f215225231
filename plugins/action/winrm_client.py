# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_client (documentation in plugins/modules/)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ModuleAction,
    PipelineRunner,
    TaskContext,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import WinRMConfigError
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._remote import (
    apply_settings,
    read_policies,
    read_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    CLIENT_SETTINGS,
    argument_spec,
    normalize,
    plan_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._trusted_hosts import (
    merge_trusted_hosts,
    same_hosts,
)


@dataclass(frozen=True)
class ClientRequest:
    settings: Mapping[str, Any]  # option -> wanted value; None leaves the host's value
    trusted_hosts_mode: str


class ActionModule(ModuleAction[ClientRequest]):
    MODULE = "winrm_client"
    ARGUMENT_SPEC = {
        **argument_spec(CLIENT_SETTINGS),
        "trusted_hosts_mode": {"type": "str", "default": "add", "choices": ["add", "remove", "replace"]},
    }
    CHECKS = {s.option: s.check for s in CLIENT_SETTINGS if s.check is not None}

    def request(self, args: dict[str, Any]) -> ClientRequest:
        return ClientRequest(
            settings={s.option: args[s.option] for s in CLIENT_SETTINGS},
            trusted_hosts_mode=args["trusted_hosts_mode"],
        )

    def manage(self, runner: PipelineRunner, request: ClientRequest, context: TaskContext) -> dict[str, Any]:
        current = read_settings(runner, CLIENT_SETTINGS)
        desired: dict[str, Any] = dict(request.settings)
        if desired["trusted_hosts"] is not None:
            leaf = current.get("trusted_hosts")
            have = normalize("list", leaf.value) if leaf else []
            merged = merge_trusted_hosts(have, desired["trusted_hosts"], request.trusted_hosts_mode)
            # Leave the option unset when nothing changes so a GPO-managed list is not "changed".
            desired["trusted_hosts"] = None if same_hosts(have, merged) else merged
        needs_policy = any(v is not None for v in desired.values())
        policies = read_policies(runner, CLIENT_SETTINGS) if needs_policy else {}
        plan = plan_settings(
            CLIENT_SETTINGS, desired, current, policies, host=context.host, module=self.MODULE
        )
        if plan.locked:
            raise WinRMConfigError(" | ".join(plan.locked))
        if not context.check_mode:
            apply_settings(runner, plan.changes)
        result: dict[str, Any] = {
            "changed": bool(plan.changes),
            "settings": plan.after,
            "changes": [c.option for c in plan.changes],
        }
        if context.diff:
            result["diff"] = {"before": plan.before, "after": plan.after}
        return result
