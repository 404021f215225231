"""Service and process cmdlets.

Get-Service: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-service
ServiceController: https://learn.microsoft.com/en-us/dotnet/api/system.serviceprocess.servicecontroller
Stop-Service (dependent services need -Force): .../microsoft.powershell.management/stop-service
Get-Process: .../microsoft.powershell.management/get-process (System.Diagnostics.Process)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine.cmdlets.services import ServiceControllerStatus, ServiceStartMode
from winhost.engine.model import Machine

from .helpers import Engine


def test_service_controller_properties(run: Callable[[str], list[Any]]) -> None:
    (svc,) = run("Get-Service -Name WinRM")
    assert svc.PSObject.type_names == [
        "System.ServiceProcess.ServiceController",
        "System.ComponentModel.Component",
        "System.MarshalByRefObject",
        "System.Object",
    ]
    assert svc.ServiceName == "WinRM"
    assert svc.Name == "WinRM"  # alias property added by types.ps1xml
    assert svc.DisplayName == "Windows Remote Management (WS-Management)"
    assert svc.Status is ServiceControllerStatus.Running
    assert svc.StartType is ServiceStartMode.Automatic
    assert svc.CanStop is True
    assert svc.MachineName == "."
    assert [s.Name for s in svc.ServicesDependedOn] == ["RpcSs", "HTTP"]
    assert [s.Name for s in svc.RequiredServices] == ["RpcSs", "HTTP"]


def test_service_controller_to_string_is_the_name_it_was_opened_with(run: Callable[[str], list[Any]]) -> None:
    """ToString is the ScriptMethod ``$this.ServiceName`` of PowerShell's type data
    (TypeTable_Types_Ps1Xml.cs); Get-Service -Name without wildcards opens the service by the name
    as given (ansible-core's connection_psrp target: ``Get-Service -Name winrm`` prints ``winrm``),
    a wildcard lists it by its own name."""
    (typed,) = run("Get-Service -Name winrm")
    assert typed.ServiceName == "winrm" and typed.PSObject.to_string == "winrm"
    assert run('$s = Get-Service -Name winrm; $s.ToString(); "$s"') == ["winrm", "winrm"]
    (listed,) = run("Get-Service -Name winr*")
    assert listed.ServiceName == "WinRM" and listed.PSObject.to_string == "WinRM"


def test_get_service_wildcard_and_display_name(run: Callable[[str], list[Any]]) -> None:
    assert run("(Get-Service -Name 'Lanman*').Name") == ["LanmanServer", "LanmanWorkstation"]
    assert run("(Get-Service -DisplayName 'Windows Time').Name") == ["W32Time"]
    assert run("Get-Service -Name 'nomatch*'") == []


def test_get_service_missing_name_error(engine: Engine) -> None:
    result = engine.script("Get-Service -Name Missing")
    (err,) = result.errors
    assert (
        err.FullyQualifiedErrorId
        == "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    )
    assert err.CategoryInfo.Category == ErrorCategory.ObjectNotFound
    assert err.TargetObject == "Missing"


def test_stop_start_restart_change_the_model(engine: Engine, machine: Machine) -> None:
    engine.ok("Stop-Service -Name W32Time")
    assert machine.services["W32Time"].status == "Stopped"
    (svc,) = engine.ok("Start-Service W32Time -PassThru")
    assert svc.Status is ServiceControllerStatus.Running
    engine.ok("Restart-Service W32Time")
    assert machine.services["W32Time"].status == "Running"


def test_stop_service_with_dependents_needs_force(engine: Engine, machine: Machine) -> None:
    result = engine.script("Stop-Service -Name HTTP")
    (err,) = result.errors
    assert (
        err.FullyQualifiedErrorId
        == "ServiceHasDependentServices,Microsoft.PowerShell.Commands.StopServiceCommand"
    )
    assert machine.services["HTTP"].status == "Running"
    engine.ok("Stop-Service -Name HTTP -Force")
    assert machine.services["HTTP"].status == "Stopped"
    assert machine.services["WinRM"].status == "Stopped"


def test_stop_service_that_cannot_stop(engine: Engine) -> None:
    result = engine.script("Stop-Service EventLog")
    (err,) = result.errors
    assert err.FullyQualifiedErrorId == "CouldNotStopService,Microsoft.PowerShell.Commands.StopServiceCommand"


def test_pipeline_of_service_objects(engine: Engine, machine: Machine) -> None:
    engine.ok("Get-Service W32Time, Spooler | Stop-Service")
    assert machine.services["Spooler"].status == "Stopped"
    assert machine.services["W32Time"].status == "Stopped"
    engine.ok("'W32Time' | Start-Service")
    assert machine.services["W32Time"].status == "Running"


def test_set_service_start_type_and_status(engine: Engine, machine: Machine) -> None:
    engine.ok("Set-Service -Name Spooler -StartupType Disabled -Status Stopped")
    assert machine.services["Spooler"].start_type == "Disabled"
    assert machine.services["Spooler"].status == "Stopped"
    result = engine.script("Start-Service Spooler")
    assert result.errors[0].FullyQualifiedErrorId.startswith("CouldNotStartService")


def test_whatif_changes_nothing(engine: Engine, machine: Machine) -> None:
    result = engine.script("Stop-Service W32Time -WhatIf")
    assert machine.services["W32Time"].status == "Running"
    assert (
        result.host.host[0][0]
        == 'What if: Performing the operation "Stop-Service" on target "Windows Time (W32Time)".'
    )


def test_service_methods(engine: Engine, machine: Machine) -> None:
    engine.ok("(Get-Service -Name W32time).Stop()")
    assert machine.services["W32Time"].status == "Stopped"
    engine.ok("$s = Get-Service W32Time; $s.Start()")
    assert machine.services["W32Time"].status == "Running"


def test_get_process(run: Callable[[str], list[Any]]) -> None:
    (proc,) = run("Get-Process -Name lsass")
    assert proc.PSObject.type_names[0] == "System.Diagnostics.Process"
    assert proc.ProcessName == "lsass"
    assert proc.Name == "lsass"
    assert proc.Id == 652
    assert run("(Get-Process -Id 4).ProcessName") == ["System"]
    assert len(run("Get-Process svchost")) == 2


def test_get_process_missing(engine: Engine) -> None:
    (err,) = engine.script("Get-Process -Name nothere").errors
    assert (
        err.FullyQualifiedErrorId
        == "NoProcessFoundForGivenName,Microsoft.PowerShell.Commands.GetProcessCommand"
    )


def test_set_service_rejects_unknown_startup_type(engine: Engine, machine: Machine) -> None:
    result = engine.script("Set-Service -Name Spooler -StartupType Sometimes")
    assert result.failure is not None
    assert result.failure.FullyQualifiedErrorId == (
        "CannotConvertArgumentNoMessage,Microsoft.PowerShell.Commands.SetServiceCommand"
    )
    assert machine.services["Spooler"].start_type == "Automatic"


def test_restart_service_failure_names_the_service(engine: Engine, machine: Machine) -> None:
    """Start-, Stop- and Restart-Service share one body; each keeps its own error (ids from
    learn.microsoft.com/powershell/module/microsoft.powershell.management/restart-service)."""
    machine.services["Spooler"].start_type = "Disabled"
    (err,) = engine.script("Restart-Service Spooler").errors
    assert (
        err.FullyQualifiedErrorId == "CouldNotStopService,Microsoft.PowerShell.Commands.RestartServiceCommand"
    )
    assert str(err.Exception.Message) == (
        "Service 'Print Spooler (Spooler)' cannot be restarted: Cannot start service Spooler on computer '.'."
    )
    assert err.TargetObject == "Spooler"
    (err,) = engine.script("Start-Service Spooler").errors
    assert str(err.Exception.Message).startswith(
        "Service 'Print Spooler (Spooler)' cannot be started due to the following error: "
    )
