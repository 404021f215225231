"""Fixtures for winhost's transport and CLI tests (helpers: :mod:`winhost.transport.testing`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from winhost.hostset import HostSet
from winhost.transport.testing import RecordingService


@pytest.fixture(scope="module")
def hostset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostSet]:
    """Two hosts (``dc01`` fresh-but-HTTPS, ``sql02``) served in-process with the stand-in handler."""
    directory = tmp_path_factory.mktemp("hostset")
    hs = HostSet(
        "dc01,sql02", state_dir=directory / "state", preset="configured", handler_factory=RecordingService
    )
    hs.start()
    hs.write_inventory(directory / "inv.yml")
    try:
        yield hs
    finally:
        hs.close()


@pytest.fixture
def restore(hostset: HostSet) -> Iterator[None]:
    """Undo configuration and fault changes a test makes on dc01/sql02."""
    saved = {}
    for name in ("dc01", "sql02"):
        machine = hostset.host(name).machine
        with machine.lock:
            saved[name] = (
                dict(vars(machine.wsman.service.auth)),
                machine.wsman.service.allow_unencrypted,
                machine.wsman.service.max_envelope_size_kb,
            )
    yield
    for name, (auth, unencrypted, envelope_kb) in saved.items():
        host = hostset.host(name)
        host.faults.clear()
        machine = host.machine
        with machine.lock:
            for key, value in auth.items():
                setattr(machine.wsman.service.auth, key, value)
            machine.wsman.service.allow_unencrypted = unencrypted
            machine.wsman.service.max_envelope_size_kb = envelope_kb
        machine.notify("wsman")
