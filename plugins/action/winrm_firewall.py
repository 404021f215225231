# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_firewall (documentation in plugins/modules/).

Cmdlets (NetSecurity module, PowerShell-Docs): Get-NetFirewallRule -Name, piped to
Get-NetFirewallPortFilter / Get-NetFirewallAddressFilter (they take the rule from the pipeline),
New-NetFirewallRule, Set-NetFirewallRule (-Enabled, -Profile, -LocalPort, -RemoteAddress),
Remove-NetFirewallRule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ModuleAction,
    PipelineRunner,
    TaskContext,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import (
    WinRMConfigError,
    command,
    statements,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._firewall import (
    RuleSpec,
    RuleState,
    desired_rules,
    rule_after,
    rule_changes,
    rule_name,
    rule_state_from_ps,
)


def read_rule(runner: PipelineRunner, name: str) -> RuleState | None:
    get = command("Get-NetFirewallRule", Name=name, ErrorAction="SilentlyContinue")
    output = runner.run(
        f"read firewall rule {name}",
        statements(
            [get],
            [get, command("Get-NetFirewallPortFilter")],
            [get, command("Get-NetFirewallAddressFilter")],
        ),
        depth=1,
        ignore_errors=True,
    )
    return rule_state_from_ps(output)


@dataclass(frozen=True)
class Step:
    """What to do with one rule: keep, create, update (``changes``) or remove."""

    name: str
    kind: str
    after: dict[str, Any] | None = None  # the rule as it will be (None: no rule)
    spec: RuleSpec | None = None
    changes: dict[str, Any] | None = None


def plan_rule(name: str, current: RuleState | None, spec: RuleSpec | None, state: str) -> Step | None:
    """The step for one rule; None when there is no rule and none is wanted."""
    if state == "absent" or (spec is None and current is not None):
        # A profile left out of `profiles` loses its rule, like an absent transport.
        return Step(name, "remove") if current is not None else None
    if spec is None or (current is None and state == "disabled"):
        return None
    if current is None:
        created = RuleState(
            name, spec.display_name, spec.enabled, spec.profiles, (str(spec.port),), spec.remote_address
        )
        return Step(name, "create", after=created.to_dict(), spec=spec)
    changes = rule_changes(current, spec)
    return Step(
        name, "update" if changes else "keep", after=rule_after(current, spec).to_dict(), changes=changes
    )


@dataclass(frozen=True)
class FirewallRequest:
    transport: str
    port: int | None
    profiles: list[str]
    remote_address: list[str]
    public_remote_address: list[str]
    state: str
    allow_disconnect: bool


class ActionModule(ModuleAction[FirewallRequest]):
    MODULE = "winrm_firewall"
    ARGUMENT_SPEC = {
        "transport": {"type": "str", "default": "http", "choices": ["http", "https"]},
        "port": {"type": "int"},
        "profiles": {
            "type": "list",
            "elements": "str",
            "default": ["domain", "private", "public"],
            "choices": ["domain", "private", "public"],
        },
        "remote_address": {"type": "list", "elements": "str", "default": ["Any"]},
        "public_remote_address": {"type": "list", "elements": "str", "default": ["LocalSubnet"]},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent", "disabled"]},
        "allow_disconnect": {"type": "bool", "default": False},
    }
    CHECKS = {
        "port": validate.port,
        "remote_address": validate.firewall_address,
        "public_remote_address": validate.firewall_address,
    }
    REQUEST = FirewallRequest

    def manage(
        self, runner: PipelineRunner, request: FirewallRequest, context: TaskContext
    ) -> dict[str, Any]:
        transport = request.transport
        port = request.port or (5985 if transport == "http" else 5986)
        # By transport only: behind NAT or port forwarding the play's port is not the host's.
        in_use = context.connection.transport == transport and not request.allow_disconnect
        if request.state != "present" and in_use:
            raise WinRMConfigError(
                f"{context.host}: winrm_firewall refuses to make the {transport.upper()} rules "
                f"{request.state}: this play connects over {transport.upper()} port {port}. Connect "
                "another way first, or set allow_disconnect=true if you really mean it."
            )
        specs = desired_rules(
            transport,
            port,
            profiles=request.profiles,
            remote_address=request.remote_address,
            public_remote_address=request.public_remote_address,
            enabled=request.state == "present",
        )
        managed = {s.name: s for s in specs}
        steps: list[Step] = []
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        for name in (rule_name(transport, False), rule_name(transport, True)):
            current = read_rule(runner, name)
            if current is not None:
                before.append(current.to_dict())
            step = plan_rule(name, current, managed.get(name), request.state)
            if step is not None and step.after is not None:
                after.append(step.after)
            if step is not None and step.changes is not None and "LocalPort" in step.changes and in_use:
                raise WinRMConfigError(
                    f"{context.host}: winrm_firewall refuses to move rule {name} from port "
                    f"{','.join(current.ports) if current else '?'} to {port}: this play connects over "
                    f"{transport.upper()}, which that rule lets in, so the change would close the port in "
                    "use. Move the listener first, or set allow_disconnect=true if you really mean it."
                )
            if step is not None:
                steps.append(step)
        changing = [s for s in steps if s.kind != "keep"]
        if not context.check_mode:
            for step in changing:  # every decision is made before the first change
                self._apply(runner, step)
        result: dict[str, Any] = {"changed": bool(changing), "rules": after}
        if context.diff:
            result["diff"] = {"before": {"rules": before}, "after": {"rules": after}}
        return result

    def _apply(self, runner: PipelineRunner, step: Step) -> None:
        if step.kind == "remove":
            runner.run(
                f"remove firewall rule {step.name}", [command("Remove-NetFirewallRule", Name=step.name)]
            )
        elif step.kind == "create" and step.spec is not None:
            self._create(runner, step.spec)
        elif step.kind == "update":
            runner.run(
                f"update firewall rule {step.name}",
                [command("Set-NetFirewallRule", Name=step.name, **(step.changes or {}))],
            )

    @staticmethod
    def _create(runner: PipelineRunner, spec: RuleSpec) -> None:
        runner.run(
            f"create firewall rule {spec.name}",
            [
                command(
                    "New-NetFirewallRule",
                    Name=spec.name,
                    DisplayName=spec.display_name,
                    Group="Windows Remote Management",
                    Direction="Inbound",
                    Action="Allow",
                    Protocol="TCP",
                    LocalPort=[str(spec.port)],
                    Profile=sorted(spec.profiles),
                    RemoteAddress=list(spec.remote_address),
                    Enabled="True" if spec.enabled else "False",
                )
            ],
        )
