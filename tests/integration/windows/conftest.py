"""The Windows suite: the collection's main scenarios against any Windows inventory.

Which hosts (first that applies):

1. ``PSREMOTING_WINDOWS_INVENTORY=<file>``;
2. pytest-ansible's ``--inventory <file>`` (``--ansible-inventory``), when given;
3. otherwise two simulated hosts started with winhost (so ``make test`` always runs the suite).

The hosts are the group or pattern ``PSREMOTING_WINDOWS_PATTERN`` (default ``windows``), or
pytest-ansible's ``--host-pattern`` when given. They need the ``psremoting.core.psrp``
connection variables (the inventory's ``ansible_connection`` is used as it is).

Module calls use pytest-ansible's ``ansible_adhoc`` fixture (its host manager runs Ansible
in-process; deprecated but working with ansible-core 2.19: only the ``ansible_host`` and
``ansible_group`` fixtures are disabled on 2.19+, pytest-ansible issue 468). Scenarios that need a
play (a role, several tasks sharing one session, check mode of a role) run ansible-playbook with
the same inventory.

Tests that change the host's configuration run only with ``PSREMOTING_WINDOWS_ALLOW_CHANGES=1``
(always on simulated hosts); the others create at most a directory under C:\\Windows\\Temp, removed
at the end. docs/testing-on-windows.md lists what each test does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ansible.constants
import pytest
import yaml

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


@dataclasses.dataclass
class WindowsTarget:
    inventory: Path
    pattern: str
    allow_changes: bool
    simulated: Any  # winhost's WinhostHosts when the suite started its own hosts, else None
    hosts: list[str]

    @property
    def env(self) -> dict[str, str]:
        env = dict(self.simulated.env) if self.simulated is not None else dict(os.environ)
        env.setdefault("ANSIBLE_HOST_KEY_CHECKING", "False")
        return env

    def playbook(self, tmp_path: Path, plays: list[dict[str, Any]], *args: str) -> PlaybookRun:
        """Run ``plays`` (hosts: the pattern unless a play names its own) with the json callback."""
        path = tmp_path / f"play-{uuid.uuid4().hex[:8]}.yml"
        path.write_text(yaml.safe_dump([dict({"hosts": self.pattern}, **p) for p in plays], sort_keys=False))
        env = dict(
            self.env,
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="False",
            ANSIBLE_PSRP_SESSION_DIR=tempfile.mkdtemp(prefix="psrp-win-", dir="/tmp"),
        )
        proc = subprocess.run(
            [ANSIBLE_PLAYBOOK, "-i", str(self.inventory), str(path), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=tmp_path,
        )
        return PlaybookRun(proc)


class PlaybookRun:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        out = proc.stdout
        self.report: dict[str, Any] = json.loads(out[out.index("{") :]) if "{" in out else {}

    @property
    def ok(self) -> bool:
        return self.proc.returncode == 0

    def task(self, name: str) -> dict[str, dict[str, Any]]:
        """host -> result of the task called ``name`` (the last one if it ran more than once)."""
        found: dict[str, dict[str, Any]] = {}
        for play in self.report.get("plays", []):
            for task in play["tasks"]:
                if task["task"]["name"].split(" : ", 1)[-1] == name:
                    found = dict(task["hosts"])
        if not found:
            raise AssertionError(f"no task {name!r} in the run:\n{self.output()}")
        return found

    def changed_tasks(self, host: str) -> list[str]:
        return [
            task["task"]["name"].split(" : ", 1)[-1]
            for play in self.report.get("plays", [])
            for task in play["tasks"]
            if task["hosts"].get(host, {}).get("changed")
        ]

    def output(self) -> str:
        return (self.proc.stdout + self.proc.stderr)[-6000:]


def _inventory_option(config: pytest.Config) -> str | None:
    value = config.getoption("ansible_inventory", default=None)
    return None if value in (None, ansible.constants.DEFAULT_HOST_LIST) else str(value)


def _pattern_option(config: pytest.Config) -> str | None:
    value = config.getoption("ansible_host_pattern", default=None)
    return None if value in (None, "localhost") else str(value)


def _inventory_hosts(inventory: Path, pattern: str, env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ansible")), "-i", str(inventory), pattern, "--list-hosts"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [line.strip() for line in proc.stdout.splitlines()[1:]]
    return [line for line in lines if line]


@pytest.fixture(scope="session")
def windows_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WindowsTarget]:
    named = os.environ.get("PSREMOTING_WINDOWS_INVENTORY") or _inventory_option(request.config)
    pattern = os.environ.get("PSREMOTING_WINDOWS_PATTERN") or _pattern_option(request.config) or "windows"
    if named:
        inventory = Path(named).expanduser().resolve()
        hosts = _inventory_hosts(inventory, pattern, dict(os.environ))
        if not hosts:
            pytest.fail(f"{inventory}: the pattern {pattern!r} matches no host (PSREMOTING_WINDOWS_PATTERN)")
        allow = os.environ.get("PSREMOTING_WINDOWS_ALLOW_CHANGES") == "1"
        yield WindowsTarget(inventory, pattern, allow, None, hosts)
        return
    from winhost.pytest_plugin import start_hosts

    simulated = start_hosts(tmp_path_factory.mktemp("windows-suite"), hosts="win01,win02", preset="fresh")
    try:
        hosts = _inventory_hosts(simulated.inventory_path, pattern, simulated.env)
        yield WindowsTarget(simulated.inventory_path, pattern, True, simulated, hosts)
    finally:
        simulated.close()


@pytest.fixture
def windows(ansible_adhoc: Any, windows_target: WindowsTarget) -> Any:
    """pytest-ansible's module dispatcher for the Windows hosts: ``windows.win_ping()``."""
    manager = ansible_adhoc(inventory=str(windows_target.inventory), host_pattern=windows_target.pattern)
    return manager[windows_target.pattern]


@pytest.fixture
def changes_allowed(windows_target: WindowsTarget) -> None:
    if not windows_target.allow_changes:
        pytest.skip("changes the host's configuration: set PSREMOTING_WINDOWS_ALLOW_CHANGES=1 to run it")


@pytest.fixture
def remote_tmp(windows: Any) -> Iterator[str]:
    """A new directory ``C:\\Windows\\Temp\\psremoting-suite-<random>`` on every host, removed afterwards."""
    path = f"C:\\Windows\\Temp\\psremoting-suite-{uuid.uuid4().hex[:12]}"
    created = windows.win_file(path=path, state="directory")
    assert all(not r.get("failed") for r in created.values()), dict(created.items())
    yield path
    windows.win_file(path=path, state="absent")
