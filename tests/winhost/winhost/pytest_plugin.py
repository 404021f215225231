"""pytest plugin (entry point ``winhost``): simulated Windows hosts as fixtures.

``winhost`` (module scope) starts the hosts a module asks for and stops them after it::

    pytestmark = pytest.mark.winhost(hosts="dc01,sql02", preset="configured")

    def test_ping(winhost):
        run(["ansible", "-i", str(winhost.inventory_path), "windows", "-m", "ansible.windows.win_ping"],
            env=winhost.env)
        assert winhost.stats("dc01")["wsman_requests"]["Create"] >= 1

Marker keywords: ``hosts`` (names or a count, default ``"dc01"``), ``preset`` (``fresh`` |
``configured``), ``kerberos`` (bool), ``latency_ms``, ``shell_create_ms``, ``mode``
(``thread``: in this process, the default; ``process``: a ``winhost serve`` subprocess; the
``WINHOST_MODE`` environment variable overrides the default). ``winhost_factory`` (session
scope) starts further host sets on demand: ``winhost_factory.start(hosts=..., ...)``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from winhost.hostset import HandlerFactory, HostSet, control_file_for
from winhost.transport.control import call


class WinhostHosts:
    """A running set of simulated hosts, in-process or in a subprocess."""

    def __init__(
        self,
        inventory_path: Path,
        hostset: HostSet | None = None,
        process: subprocess.Popen[bytes] | None = None,
    ) -> None:
        self.inventory_path = inventory_path
        self.hostset = hostset
        self.process = process
        self.control: dict[str, Any] = json.loads(
            control_file_for(inventory_path).read_text(encoding="utf-8")
        )
        self.inventory: dict[str, Any] = yaml.safe_load(inventory_path.read_text(encoding="utf-8"))

    # -- inventory ------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.inventory["all"]["children"]["windows"]["hosts"])

    def hostvars(self, name: str) -> dict[str, Any]:
        hosts: dict[str, dict[str, Any]] = self.inventory["all"]["children"]["windows"]["hosts"]
        return dict(hosts[name])

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus what clients need: ``KRB5_CONFIG`` with Kerberos, the venv on PATH."""
        env = dict(os.environ)
        env.update({k: v for k, v in self.control.get("env", {}).items() if k == "KRB5_CONFIG"})
        # ansible, ansible-playbook and winhost live next to this interpreter.
        bindir = str(Path(sys.executable).parent)
        if bindir not in env.get("PATH", "").split(os.pathsep):
            env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        return env

    def machine(self, name: str) -> Any:
        """The in-process machine model of ``name`` (thread mode only)."""
        if self.hostset is None:
            raise RuntimeError("machine() needs mode='thread'")
        return self.hostset.host(name).machine

    # -- counters and faults --------------------------------------------------------------------
    def stats(self, host: str) -> dict[str, Any]:
        data: dict[str, Any] = call(self.control, "GET", f"/stats?host={host}")
        return dict(next(iter(data.values())))

    def all_stats(self) -> dict[str, Any]:
        data: dict[str, Any] = call(self.control, "GET", "/stats")
        return data

    def reset_stats(self, host: str | None = None) -> None:
        call(self.control, "POST", "/stats/reset", {"host": host} if host else {})

    def fault(self, host: str, fault: str, value: int | None = None, count: int = 1) -> dict[str, Any]:
        result: dict[str, Any] = call(
            self.control, "POST", "/fault", {"host": host, "fault": fault, "value": value, "count": count}
        )
        return result

    def latency(self, host: str, ms: int) -> None:
        self.fault(host, "latency", ms)

    def shell_create_delay(self, host: str, ms: int) -> None:
        self.fault(host, "shell-create", ms)

    def http_error(self, host: str, status: int = 500, count: int = 1) -> None:
        self.fault(host, "http-error", status, count)

    def drop_next_receive(self, host: str, count: int = 1) -> None:
        self.fault(host, "drop-next-receive", count=count)

    def cut_network(self, host: str, ms: int) -> None:
        """Cut the host's network now for ``ms`` milliseconds (requests and answers are lost)."""
        self.fault(host, "cut-network", ms)

    def cut_on_output(self, host: str, ms: int) -> None:
        """Cut the network for ``ms`` milliseconds from the next Receive answer with output (lost)."""
        self.fault(host, "cut-on-output", ms)

    def cut_after_bytes(self, host: str, count: int, ms: int) -> None:
        """Cut the network for ``ms`` milliseconds once ``count`` more request bytes arrived."""
        self.fault(host, "cut-after-bytes", ms, count)

    def kill_shells(self, host: str) -> int:
        return int(self.fault(host, "kill-shells").get("killed", 0))

    def restart(self, host: str) -> None:
        self.fault(host, "restart")

    def clear_faults(self, host: str) -> None:
        self.fault(host, "clear")

    def close(self) -> None:
        if self.hostset is not None:
            self.hostset.close()
            self.hostset = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
            self.process = None


def start_hosts(
    directory: Path,
    *,
    hosts: str | int = "dc01",
    preset: str = "fresh",
    kerberos: bool = False,
    latency_ms: int = 0,
    shell_create_ms: int = 0,
    mode: str | None = None,
    state_dir: Path | None = None,
    handler_factory: HandlerFactory | None = None,
    startup_timeout: float = 120.0,
) -> WinhostHosts:
    """Start hosts and return a handle; ``directory`` receives the inventory."""
    mode = mode or os.environ.get("WINHOST_MODE", "thread")
    directory.mkdir(parents=True, exist_ok=True)
    inventory = directory / "inventory.winhost.yml"
    state = state_dir or directory / "state"
    if mode == "thread":
        hostset = HostSet(
            hosts,
            state_dir=state,
            preset=preset,
            kerberos=kerberos,
            latency_ms=latency_ms,
            shell_create_ms=shell_create_ms,
            handler_factory=handler_factory,
        )
        try:
            hostset.start()
            hostset.write_inventory(inventory)
        except BaseException:
            hostset.close()
            raise
        return WinhostHosts(inventory, hostset=hostset)
    if mode != "process":
        raise ValueError(f"unknown winhost mode {mode!r}: thread or process")
    if handler_factory is not None:
        raise ValueError("handler_factory needs mode='thread'")
    command = [
        sys.executable, "-m", "winhost.cli", "serve",
        "--hosts", str(hosts), "--inventory", str(inventory), "--state-dir", str(state),
        "--preset", preset, "--latency-ms", str(latency_ms), "--shell-create-ms", str(shell_create_ms),
    ]  # fmt: skip
    if kerberos:
        command.append("--kerberos")
    control = control_file_for(inventory.resolve())
    if control.exists():
        control.unlink()
    log_path = directory / "winhost-serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + startup_timeout
    while not control.exists():
        if process.poll() is not None:
            raise RuntimeError(f"winhost serve exited with rc={process.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"winhost serve did not become ready in {startup_timeout}s; see {log_path}")
        time.sleep(0.05)
    return WinhostHosts(inventory.resolve(), process=process)


class WinhostFactory:
    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._running: list[WinhostHosts] = []

    def start(self, **kwargs: Any) -> WinhostHosts:
        directory = self._tmp.mktemp("winhost")
        hosts = start_hosts(directory, **kwargs)
        self._running.append(hosts)
        return hosts

    def close_all(self) -> None:
        while self._running:
            self._running.pop().close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "winhost(hosts='dc01', preset='fresh', kerberos=False, latency_ms=0, shell_create_ms=0, mode=None): "
        "options of the simulated hosts the `winhost` fixture starts for a module",
    )


@pytest.fixture(scope="session")
def winhost_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinhostFactory]:
    factory = WinhostFactory(tmp_path_factory)
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture(scope="module")
def winhost(request: pytest.FixtureRequest, winhost_factory: WinhostFactory) -> Iterator[WinhostHosts]:
    marker = request.node.get_closest_marker("winhost")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    hosts = winhost_factory.start(**kwargs)
    try:
        yield hosts
    finally:
        hosts.close()
