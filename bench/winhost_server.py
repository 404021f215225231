# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start ``winhost serve`` for a benchmark scenario and read its counters.

One ``WinhostServer`` is one ``winhost serve`` process (its own Python, so its CPU and memory are
never counted as the controller's). More than ~250 hosts need several processes, each on its own
loopback /24 (see ``start_fleet``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

#: Hosts per ``winhost serve`` process: winhost gives each host the next loopback address and
#: refuses to cross a x.x.x.255 boundary.
HOSTS_PER_SERVER = 250


def winrm_variables(hostvars: dict[str, Any]) -> dict[str, Any]:
    """ansible_winrm_* variables equivalent to a winhost host's ansible_psrp_* ones."""
    return {
        "ansible_winrm_scheme": hostvars.get("ansible_psrp_protocol", "https"),
        "ansible_winrm_transport": [hostvars.get("ansible_psrp_auth", "ntlm")],
        "ansible_winrm_server_cert_validation": hostvars.get("ansible_psrp_cert_validation", "validate"),
        "ansible_winrm_ca_trust_path": hostvars.get("ansible_psrp_ca_cert"),
        "ansible_winrm_message_encryption": hostvars.get("ansible_psrp_message_encryption", "auto"),
    }


class WinhostServer:
    def __init__(self, workdir: Path, names: list[str], base_address: str, tag: str) -> None:
        self.workdir = workdir
        self.names = names
        self.base_address = base_address
        self.inventory = workdir / f"winhost-{tag}.yml"
        self.log = workdir / f"winhost-{tag}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.control: dict[str, Any] = {}

    @property
    def control_path(self) -> Path:
        return self.inventory.with_name(self.inventory.name + ".winhost.json")

    def start(self, env: dict[str, str], timeout: float = 180.0) -> None:
        winhost = Path(sys.executable).with_name("winhost")
        cmd = [
            str(winhost),
            "serve",
            "--hosts",
            ",".join(self.names),
            "--inventory",
            str(self.inventory),
            "--base-address",
            self.base_address,
        ]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"winhost serve exited: {self.log.read_text(errors='replace')[-2000:]}")
            if "ready in" in self.log.read_text(errors="replace") and self.control_path.exists():
                self.control = json.loads(self.control_path.read_text(encoding="utf-8"))
                self._add_winrm_variables()
                return
            time.sleep(0.1)
        raise RuntimeError(f"winhost serve not ready after {timeout}s")

    def _add_winrm_variables(self) -> None:
        """The same endpoint, user and CA for ansible.builtin.winrm (the second anchor): NTLM over
        the HTTPS listener with the certificate validated, as the psrp variables say. Both psrp
        plugins ignore these (ours reads them only where no ansible_psrp_* variable is set)."""
        data = yaml.safe_load(self.inventory.read_text(encoding="utf-8"))
        for hostvars in data["all"]["children"]["windows"]["hosts"].values():
            hostvars.update(winrm_variables(hostvars))
        fd = os.open(self.inventory, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle, sort_keys=False)

    @property
    def pids(self) -> tuple[int, ...]:
        return (self.proc.pid,) if self.proc is not None else ()

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        from winhost.transport.control import call  # noqa: PLC0415 - the venv has winhost

        return call(self.control, method, path, payload)

    def stats(self, host: str | None = None) -> dict[str, Any]:
        return dict(self.call("GET", "/stats" + (f"?host={host}" if host else "")))

    def reset_stats(self) -> None:
        self.call("POST", "/stats/reset", {})

    def fault(self, host: str, fault: str, value: int | None = None) -> None:
        self.call("POST", "/fault", {"host": host, "fault": fault, "value": value, "count": 1})

    def set_latency(self, latency_ms: int, shell_create_ms: int) -> None:
        for name in self.names:
            self.fault(name, "latency", latency_ms)
            self.fault(name, "shell-create", shell_create_ms)

    def hostvars(self) -> dict[str, dict[str, Any]]:
        data = yaml.safe_load(self.inventory.read_text(encoding="utf-8"))
        return dict(data["all"]["children"]["windows"]["hosts"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Fleet:
    """One or more ``winhost serve`` processes seen as one inventory."""

    def __init__(self, workdir: Path, count: int, tag: str) -> None:
        self.workdir = workdir
        self.names = [f"host{i:03d}" for i in range(1, count + 1)]
        self.servers: list[WinhostServer] = []
        for index, start in enumerate(range(0, count, HOSTS_PER_SERVER)):
            chunk = self.names[start : start + HOSTS_PER_SERVER]
            self.servers.append(WinhostServer(workdir, chunk, f"127.0.{index + 1}.2", f"{tag}-{index}"))
        self.inventory = workdir / f"fleet-{tag}.yml"

    def start(self, env: dict[str, str]) -> None:
        try:
            for server in self.servers:
                server.start(env)
        except BaseException:
            self.stop()
            raise
        hosts: dict[str, Any] = {}
        for server in self.servers:
            hosts.update(server.hostvars())
        inventory = {"all": {"children": {"windows": {"hosts": hosts}}}}
        fd = os.open(self.inventory, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle, sort_keys=False)

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(s.proc.pid for s in self.servers if s.proc is not None)

    def set_latency(self, latency_ms: int, shell_create_ms: int) -> None:
        for server in self.servers:
            server.set_latency(latency_ms, shell_create_ms)

    def server_of(self, host: str) -> WinhostServer:
        for server in self.servers:
            if host in server.names:
                return server
        raise KeyError(host)

    def totals(self) -> dict[str, int]:
        """Counters summed over every host of every server."""
        total: dict[str, int] = {}
        for server in self.servers:
            for snap in server.stats().values():
                for key in (
                    "wsman_requests_total",
                    "http_requests",
                    "bytes_in",
                    "bytes_out",
                    "shells_created",
                    "shells_open",
                ):
                    total[key] = total.get(key, 0) + int(snap.get(key, 0))
        return total

    def reset_stats(self) -> None:
        for server in self.servers:
            server.reset_stats()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
