"""Fixtures for the engine tests: a fresh machine with its own sandbox C:\\ and a runspace on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from winhost.engine.model import Machine, fresh

from .helpers import Engine


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    m = fresh("WINHOST")
    m.sandbox_dir = str(tmp_path / "C")
    return m


@pytest.fixture
def engine(machine: Machine) -> Engine:
    return Engine(machine)


@pytest.fixture
def run(engine: Engine) -> Callable[[str], list[Any]]:
    return engine.ok
