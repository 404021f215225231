"""ansible.windows.win_service against the model's services.

Source: ansible-collections/ansible.windows plugins/modules/win_service.ps1 and its RETURN docs:
``exists``, ``name``, ``display_name``, ``state`` (running/stopped/paused, lower case),
``start_mode`` (auto/manual/disabled/delayed), ``path``, ``can_pause_and_continue``,
``description``, ``username``, ``desktop_interact``, ``dependencies``, ``depended_by``. With only
``name`` the module just reports the service; a missing service without ``path`` fails with
"Service 'X' is not installed, need to set 'path' to create a new service".

Emulated: state (started/stopped/restarted/paused/absent), start_mode, display_name, description,
path (create), dependencies (set). Other options are accepted and reported, not applied.
The model's ``Service`` has no description/delayed-start fields: description is kept as an extra
attribute on the Service object, delayed start as ``start_type == "AutomaticDelayedStart"``.
"""

from __future__ import annotations

from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleFail, ModuleSpec
from winhost.engine.model import Service

_START_MODES = {
    "automatic": "auto",
    "manual": "manual",
    "disabled": "disabled",
    "automaticdelayedstart": "delayed",
}
_START_TYPES = {
    "auto": "Automatic",
    "manual": "Manual",
    "disabled": "Disabled",
    "delayed": "AutomaticDelayedStart",
}
_TOPIC_SERVICES = "services"


def _depended_by(machine: Any, name: str) -> list[str]:
    return [
        svc.name
        for svc in machine.services.values()
        if any(dep.lower() == name.lower() for dep in svc.depends_on)
    ]


def _describe(machine: Any, svc: Any) -> dict[str, Any]:
    state = str(svc.status).replace("_", "").lower()
    return {
        "exists": True,
        "name": svc.name,
        "display_name": svc.display_name,
        "state": state,
        "start_mode": _START_MODES.get(str(svc.start_type).lower(), str(svc.start_type).lower()),
        "path": svc.binary_path or "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
        "can_pause_and_continue": bool(svc.can_pause_and_continue),
        "description": getattr(svc, "description", ""),
        "username": getattr(svc, "username", "LocalSystem"),
        "desktop_interact": False,
        "dependencies": list(svc.depends_on),
        "depended_by": _depended_by(machine, svc.name),
    }


def _set_status(ctx: ModuleContext, svc: Any, status: str) -> None:
    if ctx.check_mode or svc.status == status:
        return
    setter = getattr(ctx.machine, "set_service_status", None)
    if setter is not None:
        setter(svc.name, status)
    else:
        svc.status = status


def _stop(ctx: ModuleContext, svc: Any) -> bool:
    if svc.status == "Stopped":
        return False
    if not svc.can_stop:
        raise ModuleFail(
            f"Failed to stop service {svc.name}: Service '{svc.display_name} ({svc.name})' cannot be "
            f"stopped due to the following error: Cannot stop {svc.name} service on computer '.'."
        )
    running_dependents = [
        name for name in _depended_by(ctx.machine, svc.name) if ctx.machine.services[name].status != "Stopped"
    ]
    if running_dependents and not ctx.params["force_dependent_services"]:
        raise ModuleFail(
            f"Cannot stop service '{svc.display_name} ({svc.name})' because it has dependent "
            "services. It can only be stopped if the Force flag is set."
        )
    for name in running_dependents:
        _set_status(ctx, ctx.machine.services[name], "Stopped")
    _set_status(ctx, svc, "Stopped")
    return True


def _start(ctx: ModuleContext, svc: Any) -> bool:
    if svc.status == "Running":
        return False
    if svc.start_type == "Disabled":
        raise ModuleFail(
            f"Failed to start service {svc.name}: Service '{svc.display_name} ({svc.name})' cannot be "
            f"started due to the following error: Cannot start service {svc.name} on computer '.'."
        )
    _set_status(ctx, svc, "Running")
    return True


_SETTABLE = ("description", "display_name", "dependencies", "path", "start_mode", "state", "username")


def _remove(ctx: ModuleContext, svc: Any) -> bool:
    """``state: absent``: stop and delete the service."""
    if svc is None:
        return False
    _stop(ctx, svc)
    if not ctx.check_mode:
        del ctx.machine.services[svc.name]
        ctx.machine.notify(_TOPIC_SERVICES)
    return True


def _create(ctx: ModuleContext, name: str) -> Any:
    """A new service (needs ``path``), stopped and automatic as New-Service makes it."""
    if ctx.params["path"] is None:
        raise ModuleFail(f"Service '{name}' is not installed, need to set 'path' to create a new service")
    svc = Service(
        name=name, display_name=name, status="Stopped", start_type="Automatic", binary_path=ctx.params["path"]
    )
    ctx.machine.services[name] = svc
    return svc


def _wanted_dependencies(p: dict[str, Any], current: list[str]) -> list[str]:
    """``dependencies`` with ``dependency_action`` add / remove / set."""
    wanted = list(p["dependencies"])
    lowered = [d.lower() for d in current]
    if p["dependency_action"] == "add":
        return current + [d for d in wanted if d.lower() not in lowered]
    if p["dependency_action"] == "remove":
        return [d for d in current if d.lower() not in [w.lower() for w in wanted]]
    return wanted


def _wanted_config(p: dict[str, Any], svc: Any) -> dict[str, Any]:
    """Service attribute -> the value the task asks for, for the options given."""
    wanted: dict[str, Any] = {}
    if p["display_name"] is not None:
        wanted["display_name"] = p["display_name"]
    if p["description"] is not None:
        wanted["description"] = p["description"]
    if p["path"] is not None:
        wanted["binary_path"] = p["path"]
    if p["dependencies"] is not None:
        wanted["depends_on"] = _wanted_dependencies(p, svc.depends_on)
    if p["start_mode"] is not None:
        wanted["start_type"] = _START_TYPES[p["start_mode"]]
    return wanted


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return [d.lower() for d in wanted] == [d.lower() for d in current]
    return bool(current == wanted)


def _configure(ctx: ModuleContext, svc: Any) -> bool:
    """Apply the configuration options; True when any differs."""
    different = {
        attr: value
        for attr, value in _wanted_config(ctx.params, svc).items()
        if not _same(getattr(svc, attr, ""), value)
    }
    if different and not ctx.check_mode:
        for attr, value in different.items():
            setattr(svc, attr, value)
        ctx.machine.notify(_TOPIC_SERVICES)
    return bool(different)


def _restart(ctx: ModuleContext, svc: Any) -> bool:
    _stop(ctx, svc)
    _start(ctx, svc)
    if not ctx.check_mode:
        _set_status(ctx, svc, "Running")
    return True


def _pause(ctx: ModuleContext, svc: Any) -> bool:
    if svc.status == "Paused":
        return False
    if not svc.can_pause_and_continue:
        raise ModuleFail(f"Service {svc.name} cannot be paused")
    _set_status(ctx, svc, "Paused")
    return True


_STATES = {"started": _start, "stopped": _stop, "restarted": _restart, "paused": _pause}


def run(ctx: ModuleContext) -> dict[str, Any]:
    p, machine = ctx.params, ctx.machine
    name: str = p["name"]
    with machine.lock:
        svc = machine.services.get(name)
        if p["state"] == "absent":
            return {"exists": False, "changed": _remove(ctx, svc)}
        if svc is None and not any(p.get(k) is not None for k in _SETTABLE):
            return {"exists": False, "changed": False}
        created = svc is None
        if created and ctx.check_mode:
            return {"exists": False, "changed": True}
        if svc is None:
            svc = _create(ctx, name)
        changed = _configure(ctx, svc) or created
        state = p["state"]
        if state in _STATES:
            changed = _STATES[state](ctx, svc) or changed
        result = _describe(machine, svc)
        if ctx.check_mode and state is not None:
            # The real module reports the state it would have set (its diff "after").
            result["state"] = {"started": "running", "restarted": "running"}.get(state, state)
    return {**result, "changed": changed}


SPEC = ModuleSpec(
    name="win_service",
    run=run,
    options={
        "dependencies": {"type": "list", "elements": "str"},
        "dependency_action": {"type": "str", "default": "set", "choices": ["add", "remove", "set"]},
        "description": {"type": "str"},
        "desktop_interact": {"type": "bool", "default": False},
        "display_name": {"type": "str"},
        "error_control": {"type": "str", "choices": ["critical", "ignore", "normal", "severe"]},
        "failure_actions": {"type": "list", "elements": "dict"},
        "failure_actions_on_non_crash_failure": {"type": "bool"},
        "failure_command": {"type": "str"},
        "failure_reboot_msg": {"type": "str"},
        "failure_reset_period_sec": {"type": "int", "aliases": ["failure_reset_period"]},
        "force_dependent_services": {"type": "bool", "default": False},
        "load_order_group": {"type": "str"},
        "name": {"type": "str", "required": True},
        "password": {"type": "str", "no_log": True},
        "path": {"type": "str"},
        "pre_shutdown_timeout_ms": {"type": "int", "aliases": ["pre_shutdown_timeout"]},
        "required_privileges": {"type": "list", "elements": "str"},
        "service_type": {
            "type": "str",
            "choices": ["win32_own_process", "win32_share_process", "user_own_process", "user_share_process"],
        },
        "sid_info": {"type": "str", "choices": ["none", "restricted", "unrestricted"]},
        "start_mode": {"type": "str", "choices": ["auto", "manual", "disabled", "delayed"]},
        "state": {"type": "str", "choices": ["started", "stopped", "restarted", "absent", "paused"]},
        "update_password": {"type": "str", "choices": ["always", "on_create"]},
        "username": {"type": "str"},
    },
    fingerprints=("dependency_action", "force_dependent_services", "start_mode"),
)
