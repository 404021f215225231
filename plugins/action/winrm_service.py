# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_service (documentation in plugins/modules/)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import (
    PipelineRunner,
    TaskContext,
    WinRMActionBase,
    WinRMConfigError,
    command,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._remote import (
    apply_settings,
    read_policies,
    read_service,
    read_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._safety import service_change_problems
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    SERVICE_SETTINGS,
    argument_spec,
    plan_settings,
)

# Get-Service StartType (System.ServiceProcess.ServiceStartMode) -> Set-Service -StartupType value.
START_MODES = {"automatic": "Automatic", "manual": "Manual", "disabled": "Disabled"}


def enum_text(value: Any) -> str:
    """An enum as _clixml gives it ({"String": ..}) or its plain string / int form."""
    if isinstance(value, Mapping):
        return str(value.get("String") or value.get("Value") or "")
    return "" if value is None else str(value)


def service_state(obj: Mapping[str, Any]) -> dict[str, str]:
    status = enum_text(obj.get("Status"))
    start = enum_text(obj.get("StartType"))
    # ServiceControllerStatus: 1 Stopped, 4 Running; ServiceStartMode: 2 Automatic, 3 Manual, 4 Disabled
    status = {"1": "Stopped", "4": "Running"}.get(status, status)
    start = {"2": "Automatic", "3": "Manual", "4": "Disabled"}.get(start, start)
    return {"status": status.lower(), "start_mode": start.lower()}


class ActionModule(WinRMActionBase):
    MODULE = "winrm_service"
    ARGUMENT_SPEC = {
        **argument_spec(SERVICE_SETTINGS),
        "start_mode": {"type": "str", "choices": list(START_MODES)},
        "state": {"type": "str", "choices": ["started", "stopped", "restarted"]},
        "allow_disconnect": {"type": "bool", "default": False},
    }
    CHECKS = {s.option: s.check for s in SERVICE_SETTINGS if s.check is not None}

    def manage(self, runner: PipelineRunner, args: dict[str, Any], context: TaskContext) -> dict[str, Any]:
        host = context.host
        desired = {s.option: args.get(s.option) for s in SERVICE_SETTINGS}
        current = read_settings(runner, SERVICE_SETTINGS)
        needs_policy = any(v is not None for v in desired.values())
        policies = read_policies(runner, SERVICE_SETTINGS) if needs_policy else {}
        plan = plan_settings(SERVICE_SETTINGS, desired, current, policies, host=host, module=self.MODULE)
        if plan.locked:
            raise WinRMConfigError(" | ".join(plan.locked))

        service = service_state(read_service(runner))
        service_after = dict(service)
        if args["start_mode"]:
            service_after["start_mode"] = args["start_mode"]
        if args["state"] in ("started", "restarted"):
            service_after["status"] = "running"
        elif args["state"] == "stopped":
            service_after["status"] = "stopped"

        problems = service_change_problems(context.connection, plan.after) if plan.changes else []
        if service_after["status"] == "stopped" and service["status"] != "stopped":
            problems.append("stopping WinRM ends every remote session, including this one")
        if service_after["start_mode"] == "disabled" and service["start_mode"] != "disabled":
            problems.append("a disabled WinRM service does not come back after a reboot")
        if problems and not args["allow_disconnect"]:
            raise WinRMConfigError(
                f"{host}: winrm_service refuses: "
                + "; ".join(problems)
                + ". Connect another way first, or set allow_disconnect=true if you really mean it."
            )

        changed = bool(plan.changes) or service_after != service or args["state"] == "restarted"
        result: dict[str, Any] = {"changed": changed}
        if not context.check_mode:
            apply_settings(runner, plan.changes)
            if service_after["start_mode"] != service["start_mode"]:
                runner.run(
                    "set the WinRM start mode",
                    [
                        command(
                            "Set-Service", Name="WinRM", StartupType=START_MODES[service_after["start_mode"]]
                        )
                    ],
                )
            if args["state"] == "restarted":
                result["connection_lost"] = self._restart(runner)
            elif service_after["status"] != service["status"]:
                verb = "Start-Service" if service_after["status"] == "running" else "Stop-Service"
                runner.run(f"{verb} WinRM", [command(verb, Name="WinRM", Force=True)])

        after = dict(plan.after)
        after.update(service_after)
        before = dict(plan.before)
        before.update(service)
        result["settings"] = after
        result["changes"] = [c.option for c in plan.changes]
        if context.diff:
            result["diff"] = {"before": before, "after": after}
        return result

    def _restart(self, runner: PipelineRunner) -> bool:
        """Restart-Service WinRM. The session runs inside WinRM, so the reply may never come."""
        try:
            runner.run("restart WinRM", [command("Restart-Service", Name="WinRM", Force=True)])
        except WinRMConfigError:
            raise
        except Exception:  # any transport error here means the restart cut us off
            reset = getattr(self._connection, "reset", None)
            if callable(reset):
                with contextlib.suppress(Exception):  # the next task reconnects anyway
                    reset()
            return True
        return False
