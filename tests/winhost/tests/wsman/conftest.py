from __future__ import annotations

import typing as t

import pytest
from pypsrp.exceptions import WinRMTransportError
from pypsrp.wsman import WSMan

from winhost.faults import HostFaults
from winhost.stats import HostStats
from winhost.wsman.service import WSManService

from .standin import StandInRunspace

USER = "WINHOST\\vagrant"


class ServiceTransport:
    """A pypsrp transport that hands each envelope to a WSManService (no HTTP)."""

    def __init__(self, service: WSManService, user: str = USER, max_envelope: int = 512000) -> None:
        self.service = service
        self.user = user
        self.max_envelope = max_envelope
        self.endpoint = "http://127.0.0.1:5985/wsman"
        self.requests: list[bytes] = []

    def send(self, message: bytes, *, retries_on_read_timeout: int = 0, timeout: t.Any = None) -> bytes:
        self.requests.append(message)
        status, body = self.service.handle(self.user, message, self.max_envelope)
        if status != 200:
            raise WinRMTransportError("http", status, body.decode())
        return body

    def close(self) -> None:
        pass


class Machine:
    """The little of a machine model the WSMan layer reads."""

    class _Service:
        max_shells_per_user = 30
        max_concurrent_operations_per_user = 1500
        max_envelope_size_kb = 500
        idle_timeout_ms = 7200000

    class _WSMan:
        def __init__(self) -> None:
            self.service = Machine._Service()

    def __init__(self) -> None:
        self.computer_name = "WINHOST"
        self.wsman = Machine._WSMan()


@pytest.fixture
def machine() -> Machine:
    return Machine()


@pytest.fixture
def stats() -> HostStats:
    return HostStats()


@pytest.fixture
def runspaces() -> list[StandInRunspace]:
    return []


@pytest.fixture
def service(machine: Machine, stats: HostStats, runspaces: list[StandInRunspace]) -> t.Iterator[WSManService]:
    def factory(user: str, configuration_name: str) -> StandInRunspace:
        rs = StandInRunspace(user, configuration_name)
        runspaces.append(rs)
        return rs

    svc = WSManService(machine, stats, HostFaults(), runspace_factory=factory)
    yield svc
    svc.close_all()


def make_wsman(
    service: WSManService, user: str = USER, operation_timeout: int = 20, max_envelope_size: int = 153600
) -> WSMan:
    wsman = WSMan(
        "127.0.0.1",
        ssl=False,
        auth="basic",
        encryption="never",
        username="vagrant",
        password="unused",
        operation_timeout=operation_timeout,
        max_envelope_size=max_envelope_size,
    )
    wsman.transport = ServiceTransport(service, user)  # type: ignore[assignment]
    return wsman


@pytest.fixture
def wsman(service: WSManService) -> WSMan:
    return make_wsman(service)
