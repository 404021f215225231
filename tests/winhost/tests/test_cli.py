"""``winhost serve`` / ``stats`` / ``fault`` as subprocesses, and the pytest fixture in process mode.

These run the real WSMan service (winhost.wsman) behind the transport, with pypsrp's
RunspacePool as the client.
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

import pytest
import yaml
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from winhost.hostset import control_file_for, expand_host_names
from winhost.pytest_plugin import WinhostHosts
from winhost.transport.kdc import kerberos_missing_reason

pytestmark = pytest.mark.winhost(hosts="dc01,sql02,web01", preset="configured", mode="process")

WINHOST = [sys.executable, "-m", "winhost.cli"]


def _wsman(hostvars: dict[str, Any], https: bool = True, auth: str = "ntlm") -> WSMan:
    return WSMan(
        hostvars["ansible_host"],
        port=hostvars["winhost_https_port"] if https else hostvars["winhost_http_port"],
        ssl=https,
        auth=auth,
        username=hostvars["ansible_user"],
        password=hostvars["ansible_password"],
        cert_validation=hostvars["ansible_psrp_ca_cert"],
        no_proxy=True,
    )


def _get_service(wsman: WSMan) -> list[Any]:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "WinRM")
        output: list[Any] = ps.invoke()
        assert not ps.had_errors
        return output


def _winhost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WINHOST, *args], capture_output=True, text=True, timeout=60, check=False)


def test_inventory_holds_everything_a_client_needs(winhost: WinhostHosts) -> None:
    assert winhost.names == ["dc01", "sql02", "web01"]
    addresses = set()
    for name in winhost.names:
        hv = winhost.hostvars(name)
        addresses.add(hv["ansible_host"])
        assert hv["ansible_host"].startswith("127.")
        assert hv["ansible_psrp_protocol"] == "https"  # the configured preset has an HTTPS listener
        assert hv["ansible_port"] == hv["winhost_https_port"]
        assert Path(hv["ansible_psrp_ca_cert"]).is_file()
        assert hv["ansible_psrp_cert_validation"] == "validate"
        assert hv["ansible_user"] and hv["ansible_password"]
    assert len(addresses) == 3


def test_pypsrp_runspace_pool_on_every_host_and_exact_stats(winhost: WinhostHosts) -> None:
    winhost.reset_stats()
    for name in winhost.names:
        output = _get_service(_wsman(winhost.hostvars(name)))
        assert len(output) == 1
    for name in winhost.names:
        stats = winhost.stats(name)
        assert stats["wsman_requests"]["Create"] == 1
        assert stats["wsman_requests"]["Delete"] == 1
        assert stats["wsman_requests"]["Command"] == 1
        assert stats["shells_created"] == 1
        assert stats["shells_open"] == 0
        assert stats["tls_handshakes"] == 1
        assert stats["http_requests"] == stats["wsman_requests_total"] + 2  # + two NTLM legs


def test_http_with_message_encryption(winhost: WinhostHosts) -> None:
    assert _get_service(_wsman(winhost.hostvars("sql02"), https=False))


def test_stats_cli_prints_json_and_resets(winhost: WinhostHosts) -> None:
    _get_service(_wsman(winhost.hostvars("web01")))
    result = _winhost("stats", "--inventory", str(winhost.inventory_path), "--host", "web01", "--reset")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["web01"]["wsman_requests"]["Create"] >= 1
    assert winhost.stats("web01")["wsman_requests"]["Create"] == 0


def test_fault_cli_http_error_burst(winhost: WinhostHosts) -> None:
    result = _winhost(
        "fault",
        "--inventory",
        str(winhost.inventory_path),
        "--host",
        "dc01",
        "http-error",
        "503",
        "--count",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["faults"]["http_errors_pending"] == 1
    with pytest.raises(Exception, match="503"):
        _get_service(_wsman(winhost.hostvars("dc01")))
    assert _get_service(_wsman(winhost.hostvars("dc01")))
    assert winhost.stats("dc01")["http_status"].get("503") == 1


def test_fault_cli_rejects_unknown_host(winhost: WinhostHosts) -> None:
    result = _winhost("fault", "--inventory", str(winhost.inventory_path), "--host", "nope", "clear")
    assert result.returncode == 1
    assert "unknown host" in result.stderr


def test_restart_closes_shells_and_keeps_the_machine(winhost: WinhostHosts) -> None:
    wsman = _wsman(winhost.hostvars("sql02"))
    pool = RunspacePool(wsman)
    pool.open()
    assert winhost.stats("sql02")["shells_open"] == 1
    winhost.restart("sql02")
    assert winhost.stats("sql02")["shells_open"] == 0
    assert _get_service(_wsman(winhost.hostvars("sql02")))


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    process = subprocess.Popen(
        [*WINHOST, "serve", "--hosts", "a1,b2", "--inventory", str(inventory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    control = control_file_for(inventory)
    deadline = time.monotonic() + 60
    while not control.exists():
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (
        yaml.safe_load(inventory.read_text())["all"]["children"]["windows"]["hosts"]["a1"][
            "ansible_psrp_protocol"
        ]
        == "http"
    )
    assert oct(inventory.stat().st_mode & 0o777) == "0o600"  # it holds passwords
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert not control.exists()


def test_host_name_expansion() -> None:
    assert expand_host_names("dc01, sql02") == ["dc01", "sql02"]
    assert expand_host_names("3") == ["host001", "host002", "host003"]
    assert expand_host_names(200)[-1] == "host200"
    with pytest.raises(ValueError):
        expand_host_names("dc01,DC01")
    with pytest.raises(ValueError):
        expand_host_names("bad name")


@pytest.mark.slow
def test_two_hundred_hosts_start_fast_and_small(tmp_path: Path) -> None:
    """200 hosts in one process: startup time and idle memory (numbers printed for the report)."""
    inventory = tmp_path / "inv.yml"
    start = time.monotonic()
    process = subprocess.Popen(
        [*WINHOST, "serve", "--hosts", "200", "--inventory", str(inventory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        control = control_file_for(inventory)
        while not control.exists():
            assert process.poll() is None
            assert time.monotonic() - start < 60, "200 hosts did not start within 60 s"
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        status = Path(f"/proc/{process.pid}/status").read_text()
        rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
        threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
        print(f"200 hosts: ready in {elapsed:.2f}s, idle RSS {rss_kb / 1024:.1f} MiB, {threads} threads")
        hosts = yaml.safe_load(inventory.read_text())["all"]["children"]["windows"]["hosts"]
        assert len(hosts) == 200
        assert len({h["ansible_host"] for h in hosts.values()}) == 200
        assert rss_kb < 300 * 1024
        assert threads < 20  # one acceptor for all listeners, not a thread per listener
        last = hosts["host200"]
        assert _get_service(_wsman(last, https=False))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_thread_mode_fixture_exposes_the_machine(winhost_factory: Any) -> None:
    hosts = winhost_factory.start(hosts="t01", mode="thread")
    machine = hosts.machine("t01")
    assert machine.computer_name == "T01"
    assert os.path.exists(hosts.inventory_path)
    assert _get_service(_wsman(hosts.hostvars("t01"), https=False))


def test_inventory_group_defaults_to_the_collection_connection(winhost: WinhostHosts) -> None:
    group_vars = winhost.inventory["all"]["children"]["windows"]["vars"]
    assert group_vars["ansible_connection"] == "psremoting.core.psrp"


@pytest.mark.slow
def test_ansible_builtin_psrp_win_ping(winhost: WinhostHosts) -> None:
    """The inventory works unchanged with ansible-core's own psrp connection plugin."""
    ansible = Path(sys.executable).with_name("ansible")
    if not ansible.exists():
        pytest.skip(f"ansible is not installed next to {sys.executable}")
    env = winhost.env
    env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
    result = subprocess.run(
        [str(ansible), "-i", str(winhost.inventory_path), "windows", "-m", "ansible.windows.win_ping",
         "-e", "ansible_connection=ansible.builtin.psrp"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count('"ping": "pong"') == 3


def test_serve_on_windows_ports(tmp_path: Path) -> None:
    """``--windows-ports``: each host's own address carries the real ports 5985/5986."""
    inventory = tmp_path / "inv.yml"
    process = subprocess.Popen(
        [*WINHOST, "serve", "--hosts", "p1,p2", "--preset", "configured", "--windows-ports",
         "--base-address", "127.0.77.2", "--inventory", str(inventory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        control = control_file_for(inventory)
        deadline = time.monotonic() + 60
        while not control.exists():
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        hosts = yaml.safe_load(inventory.read_text())["all"]["children"]["windows"]["hosts"]
        assert [hosts[n]["ansible_host"] for n in ("p1", "p2")] == ["127.0.77.2", "127.0.77.3"]
        for hv in hosts.values():
            assert (hv["winhost_http_port"], hv["winhost_https_port"], hv["ansible_port"]) == (
                5985,
                5986,
                5986,
            )
        assert _get_service(_wsman(hosts["p2"]))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@pytest.mark.skipif(
    kerberos_missing_reason() is not None, reason=f"Kerberos unavailable: {kerberos_missing_reason()}"
)
def test_kerberos_runspace_pool_in_thread_mode(winhost_factory: Any) -> None:
    hosts = winhost_factory.start(hosts="k1", kerberos=True, mode="thread")
    hv = hosts.hostvars("k1")
    assert Path(hosts.env["KRB5_CONFIG"]).is_file()
    wsman = WSMan(
        hv["ansible_host"],
        port=hv["winhost_http_port"],
        ssl=False,
        auth="kerberos",
        username=hv["ansible_user"],
        password=hv["ansible_password"],
        negotiate_hostname_override=hv["ansible_psrp_negotiate_hostname_override"],
        negotiate_service=hv["ansible_psrp_negotiate_service"],
        no_proxy=True,
    )
    assert len(_get_service(wsman)) == 1
    assert hosts.stats("k1")["wsman_requests"]["Create"] == 1
