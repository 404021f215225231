"""The engine behind the real WSMan service, driven by pypsrp (a real client), without HTTP.

What the client sees must match Windows: output objects carry their .NET type names on the wire
(a PowerShell client prefixes them with ``Deserialized.`` when it rehydrates; pypsrp shows them as
sent), with their properties, enums with their ToString, errors as ErrorRecords with the
FullyQualifiedErrorId Windows gives.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from pypsrp.exceptions import WinRMTransportError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.wsman import WSMan

from winhost.engine.model import Machine, fresh
from winhost.faults import HostFaults
from winhost.stats import HostStats
from winhost.wsman.service import WSManService


class DirectTransport:
    """pypsrp transport that hands envelopes to a WSManService."""

    def __init__(self, service: WSManService) -> None:
        self.service = service
        self.endpoint = "http://127.0.0.1:5985/wsman"

    def send(self, message: bytes, *, retries_on_read_timeout: int = 0, timeout: t.Any = None) -> bytes:
        status, body = self.service.handle("WINHOST\\Administrator", message, 512000)
        if status != 200:
            raise WinRMTransportError("http", status, body.decode())
        return body

    def close(self) -> None:
        pass


@pytest.fixture
def host_machine(tmp_path: Path) -> Machine:
    m = fresh()
    m.sandbox_dir = str(tmp_path / "C")
    return m


@pytest.fixture
def wsman(host_machine: Machine) -> t.Iterator[WSMan]:
    service = WSManService(host_machine, HostStats(), HostFaults())
    client = WSMan("127.0.0.1", ssl=False, auth="basic", encryption="never", username="u", password="p")
    client.transport = DirectTransport(service)  # type: ignore[assignment]
    yield client
    service.close_all()


def test_get_service_deserializes_like_windows(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "W32time")
        (svc,) = ps.invoke()
    assert ps.state == PSInvocationState.COMPLETED
    assert svc.types[:2] == ["System.ServiceProcess.ServiceController", "System.ComponentModel.Component"]
    assert svc.adapted_properties["DisplayName"] == "Windows Time"
    # the name as Get-Service -Name was given it (new ServiceController(name)); its ToString too
    assert svc.adapted_properties["ServiceName"] == "W32time"
    assert str(svc.adapted_properties["Status"]) == "Running"
    assert svc.extended_properties["Name"] == "W32time"
    assert str(svc) == "W32time"


def test_script_changes_machine_and_reports_errors(wsman: WSMan, host_machine: Machine) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script(
            "Stop-Service -Name W32Time; Get-Service -Name NoSuchService; (Get-Service W32Time).Status.ToString()"
        )
        out = ps.invoke()
    assert out == ["Stopped"]
    assert host_machine.services["W32Time"].status == "Stopped"
    (err,) = ps.streams.error
    assert err.fq_error == "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    assert str(err) == "Cannot find any service with service name 'NoSuchService'."


def test_terminating_error_fails_pipeline(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script("Write-Output first; class NotHere { }; Write-Output never")
        out = ps.invoke()
    assert out == ["first"]  # output written before a terminating error still reaches the client
    assert ps.state == PSInvocationState.FAILED
    assert ps.had_errors


def test_wsman_drive_round_trip(wsman: WSMan, host_machine: Machine) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Set-Item").add_parameter(
            "Path", "WSMan:\\localhost\\Service\\Auth\\Basic"
        ).add_parameter("Value", True)
        ps.add_statement()
        ps.add_cmdlet("Get-Item").add_parameter("Path", "WSMan:\\localhost\\Service\\Auth\\Basic")
        (leaf,) = ps.invoke()
    assert host_machine.wsman.service.auth.basic is True
    assert leaf.types[0] == "Microsoft.WSMan.Management.WSManConfigLeafElement"
    assert leaf.adapted_properties["Value"] == "true"


def test_cmdlet_error_carries_invocation_info(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "Missing")
        ps.invoke()
    (err,) = ps.streams.error
    assert err.command_name == "Get-Service"
    assert err.category == 13  # ErrorCategory.ObjectNotFound
    assert err.reason == "ServiceCommandException"
    assert err.target_name == "Missing"
