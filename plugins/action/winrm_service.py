# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_service (documentation in plugins/modules/)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ModuleAction,
    PipelineRunner,
    RemoteCommandError,
    TaskContext,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import WinRMConfigError, command
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._remote import (
    apply_settings,
    read_policies,
    read_service,
    read_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._safety import service_change_problems
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    SERVICE_SETTINGS,
    SETTINGS_OPTION,
    SettingsPlan,
    argument_spec,
    expand_settings_option,
    plan_settings,
)

# Seconds a restart that cut the session off waits for WinRM to answer again, and between tries.
RESTART_WAIT = 180
RESTART_POLL = 2.0

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


@dataclass(frozen=True)
class ServiceRequest:
    settings: Mapping[str, Any]  # option -> wanted value; None leaves the host's value
    start_mode: str | None
    state: str | None
    allow_disconnect: bool

    def service_after(self, service: Mapping[str, str]) -> dict[str, str]:
        after = dict(service)
        if self.start_mode:
            after["start_mode"] = self.start_mode
        if self.state in ("started", "restarted"):
            after["status"] = "running"
        elif self.state == "stopped":
            after["status"] = "stopped"
        return after


def disconnect_problems(
    plan: SettingsPlan, service: Mapping[str, str], after: Mapping[str, str], context: TaskContext
) -> list[str]:
    """What in the planned change cuts the play off from the host."""
    problems = service_change_problems(context.connection, plan.after) if plan.changes else []
    if after["status"] == "stopped" and service["status"] != "stopped":
        problems.append("stopping WinRM ends every remote session, including this one")
    if after["start_mode"] == "disabled" and service["start_mode"] != "disabled":
        problems.append("a disabled WinRM service does not come back after a reboot")
    return problems


class ActionModule(ModuleAction[ServiceRequest]):
    MODULE = "winrm_service"
    ARGUMENT_SPEC = {
        **argument_spec(SERVICE_SETTINGS),
        SETTINGS_OPTION: {"type": "dict"},
        "start_mode": {"type": "str", "choices": list(START_MODES)},
        "state": {"type": "str", "choices": ["started", "stopped", "restarted"]},
        "allow_disconnect": {"type": "bool", "default": False},
    }
    CHECKS = {s.option: s.check for s in SERVICE_SETTINGS if s.check is not None}

    def task_args(self, args: dict[str, Any], host: str) -> dict[str, Any]:
        # `settings` is spread into the options of the same names first, so that its values get the
        # same type conversion, checks and refusals as options given one by one.
        try:
            return expand_settings_option(args, SERVICE_SETTINGS)
        except ValueError as exc:
            raise WinRMConfigError(f"{host}: {self.MODULE}: {exc}") from None

    def request(self, args: dict[str, Any]) -> ServiceRequest:
        return ServiceRequest(
            settings={s.option: args[s.option] for s in SERVICE_SETTINGS},
            start_mode=args["start_mode"],
            state=args["state"],
            allow_disconnect=args["allow_disconnect"],
        )

    def manage(self, runner: PipelineRunner, request: ServiceRequest, context: TaskContext) -> dict[str, Any]:
        current = read_settings(runner, SERVICE_SETTINGS)
        needs_policy = any(v is not None for v in request.settings.values())
        policies = read_policies(runner, SERVICE_SETTINGS) if needs_policy else {}
        plan = plan_settings(
            SERVICE_SETTINGS, request.settings, current, policies, host=context.host, module=self.MODULE
        )
        if plan.locked:
            raise WinRMConfigError(" | ".join(plan.locked))
        service = service_state(read_service(runner))
        service_after = request.service_after(service)
        problems = disconnect_problems(plan, service, service_after, context)
        if problems and not request.allow_disconnect:
            raise WinRMConfigError(
                f"{context.host}: winrm_service refuses: "
                + "; ".join(problems)
                + ". Connect another way first, or set allow_disconnect=true if you really mean it."
            )
        changed = bool(plan.changes) or service_after != service or request.state == "restarted"
        result: dict[str, Any] = {"changed": changed}
        if not context.check_mode:
            apply_settings(runner, plan.changes)
            result.update(self._apply_service(runner, request, service, service_after))
        after = {**plan.after, **service_after}
        result["settings"] = after
        result["changes"] = [c.option for c in plan.changes]
        if context.diff:
            result["diff"] = {"before": {**plan.before, **service}, "after": after}
        return result

    def _apply_service(
        self,
        runner: PipelineRunner,
        request: ServiceRequest,
        service: Mapping[str, str],
        after: Mapping[str, str],
    ) -> dict[str, Any]:
        if after["start_mode"] != service["start_mode"]:
            runner.run(
                "set the WinRM start mode",
                [command("Set-Service", Name="WinRM", StartupType=START_MODES[after["start_mode"]])],
            )
        if request.state == "restarted":
            return {"connection_lost": self._restart(runner)}
        if after["status"] != service["status"]:
            verb = "Start-Service" if after["status"] == "running" else "Stop-Service"
            runner.run(f"{verb} WinRM", [command(verb, Name="WinRM", Force=True)])
        return {}

    def _restart(self, runner: PipelineRunner) -> bool:
        """Restart-Service WinRM. The session runs inside WinRM, so the reply may never come: then
        the task waits until WinRM answers again, so that the next task finds it listening."""
        try:
            runner.run("restart WinRM", [command("Restart-Service", Name="WinRM", Force=True)])
        except WinRMConfigError:
            raise
        except Exception:  # any transport error here means the restart cut us off
            self._reset_connection()
            self._wait_for_winrm(runner)
            return True
        return False

    def _reset_connection(self) -> None:
        reset = getattr(self._connection, "reset", None)
        if callable(reset):
            with contextlib.suppress(Exception):  # the session is gone; the next request opens one
                reset()

    def _wait_for_winrm(self, runner: PipelineRunner) -> None:
        """Until a new session answers (Get-Service WinRM), for up to RESTART_WAIT seconds: WinRM
        stops at once and may take a while to listen again on a slow or busy host."""
        deadline = time.monotonic() + RESTART_WAIT
        while True:
            try:
                runner.run(
                    "check that WinRM answers after its restart", [command("Get-Service", Name="WinRM")]
                )
                return
            except RemoteCommandError:  # an answer (an error record): WinRM is listening
                return
            except Exception as exc:  # not listening yet: refused, reset or timed out
                if time.monotonic() >= deadline:
                    raise WinRMConfigError(
                        f"{runner.host}: winrm_service restarted WinRM, which did not answer again within "
                        f"{RESTART_WAIT} s ({type(exc).__name__}: {exc}); check the WinRM service on the host"
                    ) from None
                self._reset_connection()
                time.sleep(RESTART_POLL)
