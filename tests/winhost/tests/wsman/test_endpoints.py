"""Which session configuration a shell may open (winhost/wsman/endpoints.py), through pypsrp."""

from __future__ import annotations

import typing as t

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import RunspacePool

from winhost import jea_fixture as fx
from winhost.engine.model import Machine, SessionConfiguration, fresh
from winhost.faults import HostFaults
from winhost.stats import HostStats
from winhost.wsman.service import WSManService

from .conftest import make_wsman
from .standin import StandInRunspace


@pytest.fixture
def real_machine() -> Machine:
    """A full machine model: its registered session configurations and accounts."""
    return fresh("WINHOST")


@pytest.fixture
def endpoint_service(real_machine: Machine) -> t.Iterator[WSManService]:
    svc = WSManService(real_machine, HostStats(), HostFaults(), runspace_factory=StandInRunspace)
    yield svc
    svc.close_all()


def test_an_unknown_configuration_is_refused_with_windows_fault(endpoint_service: WSManService) -> None:
    """The fault PowerShell shows as "Connecting to remote server ... failed with the following error
    message : The WS-Management service cannot process the request. Cannot find the X session
    configuration in the WSMan: drive on the Y computer." (about_Remote_Troubleshooting)."""
    pool = RunspacePool(
        make_wsman(endpoint_service), configuration_name="http://schemas.microsoft.com/powershell/NoSuch"
    )
    with pytest.raises(WSManFaultError) as info:
        pool.open()
    assert info.value.code == 2150858752
    assert info.value.reason == (
        "The WS-Management service cannot process the request. Cannot find the NoSuch session configuration in "
        "the WSMan: drive on the 127.0.0.1 computer."
    )


def test_a_user_outside_role_definitions_is_denied(
    endpoint_service: WSManService, real_machine: Machine
) -> None:
    """PowerShell-Docs jea/session-configurations.md "Role definitions": every user or group in
    RoleDefinitions is granted access at registration (and nobody else: security-considerations.md
    "WinRM Endpoint ACL"); anyone else gets WinRM's "Access is denied."."""
    fx.add_accounts(real_machine)
    real_machine.session_configurations[fx.ENDPOINT] = SessionConfiguration(
        fx.ENDPOINT,
        permission=f"{real_machine.computer_name}\\{fx.GROUP} AccessAllowed",
        config_file={"SessionType": "RestrictedRemoteServer"},
    )
    uri = f"http://schemas.microsoft.com/powershell/{fx.ENDPOINT}"
    outsider = RunspacePool(
        make_wsman(endpoint_service, user=f"WINHOST\\{fx.OUTSIDER}"), configuration_name=uri
    )
    with pytest.raises(WSManFaultError) as info:
        outsider.open()
    assert info.value.code == 5
    assert info.value.reason == "Access is denied."
    member = RunspacePool(make_wsman(endpoint_service, user=f"WINHOST\\{fx.MEMBER}"), configuration_name=uri)
    member.open()
    member.close()
