"""Get/Start/Stop/Restart/Set-Service and ServiceController objects.

Objects follow System.ServiceProcess.ServiceController
(https://learn.microsoft.com/en-us/dotnet/api/system.serviceprocess.servicecontroller) with the
alias properties PowerShell's types.ps1xml adds (Name -> ServiceName, RequiredServices ->
ServicesDependedOn). Cmdlet behaviour and messages follow
https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-service
(and stop-service, start-service, restart-service, set-service).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from psrpcore.types import ErrorCategory, PSAliasProperty, PSObject, PSType

from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.methods import register_enum
from winhost.engine.model import TOPIC_SERVICES, Machine, Service
from winhost.engine.values import NetEnum, NetFlags, new_object, to_string
from winhost.engine.wildcards import contains_wildcards, select_by_wildcard


@PSType(["System.ServiceProcess.ServiceControllerStatus"])
class ServiceControllerStatus(NetEnum):
    """https://learn.microsoft.com/en-us/dotnet/api/system.serviceprocess.servicecontrollerstatus"""

    Stopped = 1
    StartPending = 2
    StopPending = 3
    Running = 4
    ContinuePending = 5
    PausePending = 6
    Paused = 7


@PSType(["System.ServiceProcess.ServiceStartMode"])
class ServiceStartMode(NetEnum):
    """https://learn.microsoft.com/en-us/dotnet/api/system.serviceprocess.servicestartmode"""

    Boot = 0
    System = 1
    Automatic = 2
    Manual = 3
    Disabled = 4


@PSType(["System.ServiceProcess.ServiceType"])
class ServiceType(NetFlags):
    """https://learn.microsoft.com/en-us/dotnet/api/system.serviceprocess.servicetype"""

    KernelDriver = 1
    FileSystemDriver = 2
    Adapter = 4
    RecognizerDriver = 8
    Win32OwnProcess = 16
    Win32ShareProcess = 32
    InteractiveProcess = 256


for _enum in (ServiceControllerStatus, ServiceStartMode, ServiceType):
    register_enum(_enum)

SERVICE_TYPE_NAMES = [
    "System.ServiceProcess.ServiceController",
    "System.ComponentModel.Component",
    "System.MarshalByRefObject",
    "System.Object",
]
MODULE = "Microsoft.PowerShell.Management"


def _dependents(machine: Machine, name: str) -> list[Service]:
    return [s for s in machine.services.values() if any(d.lower() == name.lower() for d in s.depends_on)]


def service_object(machine: Machine, svc: Service, depth: int = 1, name: str | None = None) -> PSObject:
    """A ServiceController; ``name`` is the name it was opened with (``ServiceName`` keeps the
    caller's spelling, as ``new ServiceController(name)`` does for Get-Service -Name without
    wildcards: ansible-core's connection_psrp target expects ``Get-Service -Name winrm`` to print
    ``winrm``). Its ToString is ``$this.ServiceName`` (the ScriptMethod PowerShell's type data adds
    for System.ServiceProcess.ServiceController, src/System.Management.Automation/engine/
    TypeTable_Types_Ps1Xml.cs)."""
    service_name = name or svc.name
    deps: list[Any] = []
    required: list[Any] = []
    if depth > 0:
        deps = [service_object(machine, s, depth - 1) for s in _dependents(machine, svc.name)]
        required = [
            service_object(machine, machine.services[d], depth - 1)
            for d in svc.depends_on
            if d in machine.services
        ]
    obj = new_object(
        SERVICE_TYPE_NAMES,
        {
            "CanPauseAndContinue": svc.can_pause_and_continue,
            "CanShutdown": svc.can_shutdown,
            "CanStop": svc.can_stop and svc.status == "Running",
            "DisplayName": svc.display_name,
            "DependentServices": deps,
            "MachineName": ".",
            "ServiceName": service_name,
            "ServicesDependedOn": required,
            "ServiceHandle": None,
            "Status": ServiceControllerStatus[svc.status],
            "ServiceType": ServiceType[svc.service_type],
            "StartType": ServiceStartMode[svc.start_type],
            "Site": None,
            "Container": None,
        },
        to_string_value=service_name,
    )
    obj.PSObject.extended_properties.append(PSAliasProperty("Name", "ServiceName"))
    obj.PSObject.extended_properties.append(PSAliasProperty("RequiredServices", "ServicesDependedOn"))

    def _stop(*_a: Any) -> None:
        stop_service(machine, svc.name)

    def _start(*_a: Any) -> None:
        start_service(machine, svc.name)

    def _refresh(*_a: Any) -> None:
        obj.Status = ServiceControllerStatus[machine.services[svc.name].status]

    def _wait(*_a: Any) -> None:
        _refresh()

    obj._winhost_methods = {
        "stop": _stop,
        "start": _start,
        "refresh": _refresh,
        "waitforstatus": _wait,
    }
    return obj


def stop_service(machine: Machine, name: str) -> None:
    with machine.lock:
        svc = machine.services[name]
        if not svc.can_stop:
            raise PermissionError(f"Cannot stop {svc.name} service on computer '.'.")
        svc.status = "Stopped"
    machine.notify(TOPIC_SERVICES)


def start_service(machine: Machine, name: str) -> None:
    delay = machine.service_start_seconds.get(name.lower(), 0.0)
    if delay:  # a slow start: the service stays stopped until then (outside the lock)
        time.sleep(delay)
    with machine.lock:
        svc = machine.services[name]
        if svc.start_type == "Disabled":
            raise PermissionError(f"Cannot start service {svc.name} on computer '.'.")
        for dep in svc.depends_on:
            if dep in machine.services:
                machine.services[dep].status = "Running"
        svc.status = "Running"
    machine.notify(TOPIC_SERVICES)


SERVICE_EXCEPTION = "Microsoft.PowerShell.Commands.ServiceCommandException"


def _not_found(call: CommandCall, what: str, error_id: str) -> Callable[[str], None]:
    def report(pattern: str) -> None:
        call.error(
            f"Cannot find any service with {what} '{pattern}'.",
            error_id,
            ErrorCategory.ObjectNotFound,
            target=pattern,
            exception_type=SERVICE_EXCEPTION,
        )

    return report


def _match_services(
    call: CommandCall, names: list[str] | None, display: list[str] | None
) -> Iterator[Service]:
    services = sorted(call.ctx.machine.services.values(), key=lambda s: s.name.lower())
    if names is None and display is None:
        yield from services
        return
    yield from select_by_wildcard(
        services,
        names or [],
        lambda s: s.name,
        _not_found(call, "service name", "NoServiceFoundForGivenName"),
    )
    yield from select_by_wildcard(
        services,
        display or [],
        lambda s: s.display_name,
        _not_found(call, "display name", "NoServiceFoundForGivenDisplayName"),
    )


def _targets(call: CommandCall) -> Iterator[Service]:
    """Services from -Name/-DisplayName/-InputObject or pipeline (objects or names)."""
    machine = call.ctx.machine
    if call.has("InputObject") or (not call.has("Name") and not call.has("DisplayName")):
        for item in call.each("InputObject"):
            name = to_string(getattr(item, "ServiceName", None) or item)
            yield from _match_services(call, [name], None)
        return
    yield from _match_services(call, call.strings("Name"), call.strings("DisplayName"))
    _ = machine


_SVC_PARAMS = [
    Param("Name", position=0, aliases=("ServiceName",)),
    Param("DisplayName"),
    Param("InputObject"),
    Param("Include"),
    Param("Exclude"),
    Param("PassThru", switch=True),
    Param("Force", switch=True),
    Param("NoWait", switch=True),
]


@cmdlet(
    "Get-Service",
    [
        Param("Name", position=0, aliases=("ServiceName",)),
        Param("DisplayName"),
        Param("InputObject"),
        Param("ComputerName"),
        Param("DependentServices", switch=True),
        Param("RequiredServices", switch=True),
        Param("Include"),
        Param("Exclude"),
    ],
    module=MODULE,
)
def get_service(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    if not call.has("Name") and not call.has("DisplayName") and call.expecting_input:
        services = list(_targets(call))
    else:
        services = list(_match_services(call, call.strings("Name"), call.strings("DisplayName")))
    typed = {n.lower(): n for n in call.strings("Name") or [] if not contains_wildcards(n)}
    for svc in services:
        if call.switch("DependentServices"):
            for dep in _dependents(machine, svc.name):
                yield service_object(machine, dep)
        elif call.switch("RequiredServices"):
            for name in svc.depends_on:
                yield service_object(machine, machine.services[name])
        else:
            yield service_object(machine, svc, name=typed.get(svc.name.lower()))


@dataclasses.dataclass(frozen=True)
class _Control:
    """What Start-, Stop- and Restart-Service do to each service, and how a failure reads."""

    verb: str
    act: Callable[[CommandCall, Machine, Service], bool]  # False: skipped (an error was written)
    failure: str  # the message after "Service 'Display (name)' "
    error_id: str
    category: ErrorCategory
    target_is_object: bool = True


def _control_services(call: CommandCall, control: _Control) -> Iterator[Any]:
    """The one body of Start/Stop/Restart-Service: -WhatIf, the action, its error, -PassThru."""
    machine = call.ctx.machine
    for svc in list(_targets(call)):
        label = f"{svc.display_name} ({svc.name})"
        if not call.should_process(label, control.verb):
            continue
        try:
            if not control.act(call, machine, svc):
                continue
        except PermissionError as exc:
            call.error(
                f"Service '{label}' {control.failure}{exc}",
                control.error_id,
                control.category,
                target=service_object(machine, svc) if control.target_is_object else svc.name,
                exception_type=SERVICE_EXCEPTION,
            )
            continue
        if call.switch("PassThru"):
            yield service_object(machine, svc)


def _stop(call: CommandCall, machine: Machine, svc: Service) -> bool:
    """Stop a service; running dependent services stop first, only with -Force."""
    running_deps = [d for d in _dependents(machine, svc.name) if d.status != "Stopped"]
    if running_deps and not call.switch("Force"):
        call.error(
            f"Cannot stop service '{svc.display_name} ({svc.name})' because it has dependent services. "
            "It can only be stopped if the Force flag is set.",
            "ServiceHasDependentServices",
            ErrorCategory.InvalidOperation,
            target=service_object(machine, svc),
            exception_type=SERVICE_EXCEPTION,
        )
        return False
    for dep in running_deps:
        stop_service(machine, dep.name)
    call.verbose(f'Performing the operation "Stop-Service" on target "{svc.display_name} ({svc.name})".')
    stop_service(machine, svc.name)
    return True


def _start(call: CommandCall, machine: Machine, svc: Service) -> bool:
    start_service(machine, svc.name)
    return True


def _restart(call: CommandCall, machine: Machine, svc: Service) -> bool:
    if svc.status != "Stopped":
        stop_service(machine, svc.name)
    start_service(machine, svc.name)
    return True


_STOP = _Control(
    "Stop-Service",
    _stop,
    "cannot be stopped due to the following error: ",
    "CouldNotStopService",
    ErrorCategory.CloseError,
)
_START = _Control(
    "Start-Service",
    _start,
    "cannot be started due to the following error: ",
    "CouldNotStartService",
    ErrorCategory.OpenError,
)
_RESTART = _Control(
    "Restart-Service",
    _restart,
    "cannot be restarted: ",
    "CouldNotStopService",
    ErrorCategory.CloseError,
    target_is_object=False,
)


@cmdlet("Stop-Service", _SVC_PARAMS, module=MODULE)
def stop_service_cmd(call: CommandCall) -> Iterator[Any]:
    return _control_services(call, _STOP)


@cmdlet("Start-Service", _SVC_PARAMS, module=MODULE)
def start_service_cmd(call: CommandCall) -> Iterator[Any]:
    return _control_services(call, _START)


@cmdlet("Restart-Service", _SVC_PARAMS, module=MODULE)
def restart_service_cmd(call: CommandCall) -> Iterator[Any]:
    return _control_services(call, _RESTART)


def _bad_enum(call: CommandCall, param: str, type_name: str, names: str) -> Exception:
    value = to_string(call.get(param))
    return call.fail(
        f'Cannot bind parameter \'{param}\'. Cannot convert value "{value}" to type "{type_name}". Error: '
        f'"Unable to match the identifier name {value} to a valid enumerator name. Specify one of the following '
        f'enumerator names and try again:\r\n{names}"',
        "CannotConvertArgumentNoMessage",
        ErrorCategory.InvalidArgument,
        exception_type="System.Management.Automation.ParameterBindingException",
    )


def _startup_type(call: CommandCall) -> str:
    """-StartupType is Microsoft.PowerShell.Commands.ServiceStartupType (Automatic, Manual, Disabled,
    AutomaticDelayedStart in 5.1: winhost records AutomaticDelayedStart as Automatic)."""
    mode = to_string(call.get("StartupType")).lower()
    if mode == "automaticdelayedstart":
        mode = "automatic"
    for name in ("Automatic", "Manual", "Disabled", "Boot", "System"):
        if name.lower() == mode:
            return name
    raise _bad_enum(
        call,
        "StartupType",
        "Microsoft.PowerShell.Commands.ServiceStartupType",
        "Boot, System, Automatic, Manual, Disabled, AutomaticDelayedStart",
    )


def _named_services(call: CommandCall) -> list[Service]:
    """Set-Service -Name takes exact names (no wildcards); a missing one is an error."""
    machine = call.ctx.machine
    names = call.strings("Name") or []
    for n in names:
        if n not in machine.services:
            call.error(
                f"Service '{n}' was not found on computer '.'.",
                "InvalidOperationException",
                ErrorCategory.ObjectNotFound,
                target=n,
                exception_type=SERVICE_EXCEPTION,
            )
    return [machine.services[n] for n in names if n in machine.services]


def _pause(machine: Machine, name: str) -> None:
    with machine.lock:
        machine.services[name].status = "Paused"


_SET_STATUS: dict[str, Callable[[Machine, str], None]] = {
    "running": start_service,
    "stopped": stop_service,
    "paused": _pause,
}


def _set_status(call: CommandCall, svc: Service, status: str) -> None:
    try:
        _SET_STATUS[status](call.ctx.machine, svc.name)
    except PermissionError as exc:
        call.error(
            str(exc),
            "CouldNotSetService",
            ErrorCategory.PermissionDenied,
            target=svc.name,
            exception_type=SERVICE_EXCEPTION,
        )


@cmdlet(
    "Set-Service",
    [
        Param("Name", position=0, aliases=("ServiceName", "SN")),
        Param("DisplayName"),
        Param("Description"),
        Param("StartupType", aliases=("StartMode", "ST")),
        Param("Status"),
        Param("InputObject"),
        Param("PassThru", switch=True),
        Param("Force", switch=True),
    ],
    module=MODULE,
)
def set_service_cmd(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    targets = _named_services(call) if call.has("Name") else list(_targets(call))
    start_type = _startup_type(call) if call.has("StartupType") else None
    status = to_string(call.get("Status")).lower() if call.has("Status") else None
    if status is not None and status not in _SET_STATUS:
        raise _bad_enum(
            call, "Status", "System.ServiceProcess.ServiceControllerStatus", "Running, Stopped, Paused"
        )
    for svc in targets:
        if not call.should_process(f"{svc.display_name} ({svc.name})", "Set-Service"):
            continue
        with machine.lock:
            if call.has("DisplayName"):
                svc.display_name = call.string("DisplayName") or svc.display_name
            if start_type is not None:
                svc.start_type = start_type
        if status is not None:
            _set_status(call, svc, status)
        machine.notify(TOPIC_SERVICES)
        if call.switch("PassThru"):
            yield service_object(machine, svc)
