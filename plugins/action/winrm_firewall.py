# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_firewall (documentation in plugins/modules/).

Cmdlets (NetSecurity module, PowerShell-Docs): Get-NetFirewallRule -Name, piped to
Get-NetFirewallPortFilter / Get-NetFirewallAddressFilter (they take the rule from the pipeline),
New-NetFirewallRule, Set-NetFirewallRule (-Enabled, -Profile, -LocalPort, -RemoteAddress),
Remove-NetFirewallRule.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import (
    PipelineRunner,
    TaskContext,
    WinRMActionBase,
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


class ActionModule(WinRMActionBase):
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

    def manage(self, runner: PipelineRunner, args: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        transport = args["transport"]
        port = args["port"] or (5985 if transport == "http" else 5986)
        facts = context.connection
        # By transport only: behind NAT or port forwarding the play's port is not the host's.
        in_use = facts.transport == transport
        if args["state"] != "present" and in_use and not args["allow_disconnect"]:
            raise WinRMConfigError(
                f"{context.host}: winrm_firewall refuses to make the {transport.upper()} rules "
                f"{args['state']}: this play connects over {transport.upper()} port {port}. Connect "
                "another way first, or set allow_disconnect=true if you really mean it."
            )
        specs = desired_rules(
            transport,
            port,
            profiles=args["profiles"],
            remote_address=args["remote_address"],
            public_remote_address=args["public_remote_address"],
            enabled=args["state"] == "present",
        )
        names = [rule_name(transport, False), rule_name(transport, True)]
        managed = {s.name: s for s in specs}
        result: dict[str, Any] = {"changed": False, "rules": []}
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        for name in names:
            current = read_rule(runner, name)
            if current is not None:
                before.append(current.to_dict())
            spec = managed.get(name)
            if args["state"] == "absent" or (spec is None and current is not None):
                # A profile left out of `profiles` loses its rule, like an absent transport.
                if current is not None:
                    result["changed"] = True
                    if not context.check_mode:
                        runner.run(
                            f"remove firewall rule {name}", [command("Remove-NetFirewallRule", Name=name)]
                        )
                continue
            if spec is None:
                continue
            if current is None:
                if args["state"] == "disabled":
                    continue
                result["changed"] = True
                after.append(spec.to_dict())
                if not context.check_mode:
                    self._create(runner, spec)
                continue
            changes = rule_changes(current, spec)
            after.append(rule_after(current, spec).to_dict())
            if changes:
                result["changed"] = True
                if not context.check_mode:
                    runner.run(
                        f"update firewall rule {name}",
                        [command("Set-NetFirewallRule", Name=name, **changes)],
                    )
        result["rules"] = after
        if context.diff:
            result["diff"] = {"before": {"rules": before}, "after": {"rules": after}}
        return result

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
