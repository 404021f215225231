"""The WinRM modules against a fresh simulated Windows host (winhost), as playbook tasks.

Each scenario runs the four steps of ansible.windows' integration tests in one play: check mode
reports the change and changes nothing (read back with winrm_info), apply, verify, apply again and
see no change. winhost enforces the configuration live, so the HTTPS scenario also proves that the
listener serves the certificate the module returned (validated from the controller).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_runner import playbook_env, run_playbook

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="web01", preset="fresh")]

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
POLICY_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service"


def play(winhost: Any, tmp_path: Path, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run tasks on web01 with our connection plugin; return the per-task results of web01."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "web01", "gather_facts": False, "tasks": tasks}]))
    env = playbook_env(winhost.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    _rc, report, output = run_playbook(
        winhost.inventory_path, playbook, "-e", "ansible_connection=psremoting.core.psrp", env=env,
        program=ANSIBLE_PLAYBOOK,
    )  # fmt: skip
    assert report, output
    results = [task["hosts"].get("web01", {}) for task in report["plays"][0]["tasks"]]
    assert results, output
    return results


def info(section: str) -> dict[str, Any]:
    return {"psremoting.core.winrm_info": {"gather": [section]}}


def four_steps(module: str, args: dict[str, Any], section: str) -> list[dict[str, Any]]:
    task = {module: args}
    return [
        info(section),
        dict(task, check_mode=True, diff=True),
        info(section),
        task,
        info(section),
        task,
    ]


def assert_four_steps(results: list[dict[str, Any]], section: str) -> tuple[Any, Any]:
    before, checked, after_check, applied, after_apply, again = results
    for r in results:
        assert not r.get("failed"), r.get("msg")
    assert checked["changed"] is True
    assert after_check["winrm"][section] == before["winrm"][section], "check mode changed the host"
    assert applied["changed"] is True
    assert after_apply["winrm"][section] != before["winrm"][section]
    assert again["changed"] is False, again
    return before["winrm"][section], after_apply["winrm"][section]


def test_winrm_service_four_steps(winhost: Any, tmp_path: Path) -> None:
    args = {
        "auth_basic": True,
        "max_envelope_size_kb": 2048,
        "cbt_hardening_level": "Strict",
        "max_timeout_ms": 90000,
    }
    before, after = assert_four_steps(
        play(winhost, tmp_path, four_steps("psremoting.core.winrm_service", args, "service")), "service"
    )
    assert (before["auth_basic"], after["auth_basic"]) == (False, True)
    assert after["max_envelope_size_kb"] == 2048
    assert after["cbt_hardening_level"] == "Strict"
    assert (before["max_timeout_ms"], after["max_timeout_ms"]) == (60000, 90000)


def test_restart_on_a_slow_host_waits_until_winrm_answers_again(winhost: Any, tmp_path: Path) -> None:
    """winrm_service state=restarted where WinRM takes 5 s to start again (a slow Windows host):
    the restart ends the task's session at once; the task returns once a new session answers, so
    the next task finds WinRM listening instead of the host unreachable (Restart-Service waits for
    the service to run: learn.microsoft.com/powershell/module/microsoft.powershell.management/restart-service)."""
    machine = winhost.machine("web01")
    machine.service_start_seconds["winrm"] = 5.0
    try:
        restart, after = play(
            winhost,
            tmp_path,
            [
                {"psremoting.core.winrm_service": {"state": "restarted"}},
                {
                    "psremoting.core.invoke_command": {
                        "command": "Get-Service",
                        "parameters": {"Name": "WinRM"},
                    }
                },
            ],
        )
    finally:
        machine.service_start_seconds.clear()
    assert restart.get("changed") is True and restart.get("connection_lost") is True, restart
    assert not after.get("unreachable") and not after.get("failed"), after
    assert after["output"][0]["Name"] == "WinRM"


def test_winrm_listener_https_four_steps_and_certificate_validates(winhost: Any, tmp_path: Path) -> None:
    hostvars = winhost.hostvars("web01")
    tasks = four_steps(
        "psremoting.core.winrm_listener", {"transport": "https", "self_signed": True}, "listeners"
    )
    tasks[3]["register"] = "listener"
    # winhost's firewall is live: without a rule for 5986 the connection is dropped.
    blocked = {
        "psremoting.core.winrm_endpoint_check": {
            "address": hostvars["ansible_host"],
            "port": hostvars["winhost_https_port"],
            "server_name": "{{ listener.listener.hostname }}",
            "ca_pem": "{{ listener.certificate.pem }}",
            "timeout": 3,
        },
        "ignore_errors": True,
    }
    tasks.append(blocked)
    tasks.append({"psremoting.core.winrm_firewall": {"transport": "https"}})
    tasks.append(
        {
            "psremoting.core.winrm_endpoint_check": {
                "address": hostvars["ansible_host"],
                "port": hostvars["winhost_https_port"],
                "server_name": "{{ listener.listener.hostname }}",
                "ca_pem": "{{ listener.certificate.pem }}",
                "require_any_auth": ["Negotiate"],
            }
        }
    )
    results = play(winhost, tmp_path, tasks)
    before, after = assert_four_steps(results[:6], "listeners")
    assert [lst["transport"] for lst in before] == ["HTTP"]
    https = next(lst for lst in after if lst["transport"] == "HTTPS")
    assert https["port"] == 5986 and https["certificate"]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    created = results[3]["certificate"]
    assert created["thumbprint"] == https["certificate_thumbprint"]
    assert results[5]["certificate"]["thumbprint"] == created["thumbprint"]  # kept on the second run
    assert results[6]["failed"] and "winrm_firewall" in results[6]["msg"]
    check = results[8]
    assert not check.get("failed"), check.get("msg")
    assert check["status"] == 401
    assert check["peer_certificate_sha1"] == created["thumbprint"]


def test_winrm_firewall_four_steps(winhost: Any, tmp_path: Path) -> None:
    args = {"transport": "https", "remote_address": ["10.0.0.0/8"]}
    _, after = assert_four_steps(
        play(winhost, tmp_path, four_steps("psremoting.core.winrm_firewall", args, "firewall")), "firewall"
    )
    rules = {r["name"]: r for r in after}
    assert rules["WINRM-HTTPS-In-TCP"]["remote_address"] == ["10.0.0.0/8"]
    assert rules["WINRM-HTTPS-In-TCP-PUBLIC"]["remote_address"] == ["LocalSubnet"]
    assert rules["WINRM-HTTPS-In-TCP-PUBLIC"]["profiles"] == ["Public"]


def test_session_configuration_four_steps(winhost: Any, tmp_path: Path) -> None:
    args = {"name": "Ops", "allow": ["BUILTIN\\Administrators", "Remote Management Users"]}
    _, after = assert_four_steps(
        play(
            winhost,
            tmp_path,
            four_steps("psremoting.core.session_configuration", args, "session_configurations"),
        ),
        "session_configurations",
    )
    assert "ops" in [s["name"].lower() for s in after]


def test_winrm_client_trusted_hosts_four_steps(winhost: Any, tmp_path: Path) -> None:
    args = {"trusted_hosts": ["db01", "*.lab.test"]}
    _, after = assert_four_steps(
        play(winhost, tmp_path, four_steps("psremoting.core.winrm_client", args, "client")), "client"
    )
    assert after["trusted_hosts"] == ["db01", "*.lab.test"]


def test_safety_refusals_and_gpo_lock(winhost: Any, tmp_path: Path) -> None:
    results = play(winhost, tmp_path, [
        # The inventory connects over HTTP with NTLM.
        {"psremoting.core.winrm_listener": {"transport": "http", "state": "absent"}, "ignore_errors": True},
        {"psremoting.core.winrm_service": {"auth_negotiate": False, "auth_kerberos": False}, "ignore_errors": True},
        {"psremoting.core.invoke_command": {"command": "New-Item", "parameters": {"Path": POLICY_KEY, "Force": True}}},
        {"psremoting.core.invoke_command": {"command": "New-ItemProperty", "parameters": {
            "Path": POLICY_KEY, "Name": "AllowUnencryptedTraffic", "PropertyType": "DWord", "Value": 0,
            "Force": True}}},
        {"psremoting.core.winrm_service": {"allow_unencrypted": True}, "ignore_errors": True},
        info("service"),
        info("listeners"),
    ])  # fmt: skip
    remove, auth, _, _, locked, service_info, listeners = results
    assert remove["failed"] and "refusing to remove the HTTP listener" in remove["msg"]
    assert auth["failed"] and "authenticates with ntlm" in auth["msg"]
    assert locked["failed"]
    assert "Group Policy" in locked["msg"] and "AllowUnencryptedTraffic" in locked["msg"]
    assert "Allow unencrypted traffic" in locked["msg"]
    assert "allow_unencrypted" in service_info["winrm"]["service"]["locked_by_policy"]
    assert service_info["winrm"]["service"]["auth_negotiate"] is True
    assert "HTTP" in [lst["transport"] for lst in listeners["winrm"]["listeners"]]


ISSUE_16_ROWS: list[dict[str, Any]] = [
    {"psremoting.core.winrm_firewall": {"transport": "http", "port": -3}},
    {"psremoting.core.winrm_listener": {"transport": "http", "port": 70000}},
    {"psremoting.core.winrm_listener": {"transport": "http", "port": -1}},
    {"psremoting.core.session_configuration": {"name": "Foo", "sddl": "garbage$(x)"}},
    {"psremoting.core.winrm_firewall": {"transport": "http", "remote_address": ["1.2.3.4/99", "a\nb'c"]}},
    {"psremoting.core.winrm_client": {"trusted_hosts": ["a,b", "*", "x\ny"], "trusted_hosts_mode": "add"}},
    {"psremoting.core.winrm_service": {"auth_basic": True, "idle_timeout_ms": 0}},
]


def test_issue_16_rows_leave_the_host_unchanged(winhost: Any, tmp_path: Path) -> None:
    """Each row of issue 16's table is refused with the host, option and value named; winrm_info
    reads back the same configuration before and after, and the host still answers."""
    everything = {"psremoting.core.winrm_info": {}}
    tasks = [everything] + [dict(row, ignore_errors=True) for row in ISSUE_16_ROWS] + [everything]
    results = play(winhost, tmp_path, tasks)
    before, *refused, after = results
    assert not before.get("failed") and not after.get("failed"), after.get("msg")
    for row, result in zip(ISSUE_16_ROWS, refused, strict=True):
        assert result.get("failed") is True, (row, result)
        assert result["msg"].startswith("web01: ") and "nothing was changed" in result["msg"], result["msg"]
        assert result.get("changed") is False
    assert "option 'port' = -3" in refused[0]["msg"]
    assert "option 'trusted_hosts[0]' = 'a,b'" in refused[5]["msg"]
    assert "option 'idle_timeout_ms' = 0" in refused[6]["msg"]
    assert after["winrm"] == before["winrm"], "a refused task changed the host"


def test_random_values_on_winhost(winhost: Any, tmp_path: Path) -> None:
    """A small winhost-backed sample of the property test in
    tests/unit/plugins/action/test_property_values.py: random values for winrm_service,
    winrm_client and winrm_firewall are either refused with the host unchanged (read back with
    winrm_info) or applied so that the same task then reports no change."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    number = st.one_of(st.integers(-(2**33), 2**33), st.sampled_from([0, 1, 60000, 65536, 2147483647]))
    text = st.one_of(
        st.text(max_size=12), st.sampled_from(["*", "10.0.0.0/8", "a,b", "LocalSubnet", "<local>"])
    )
    service = st.fixed_dictionaries({}, optional={"idle_timeout_ms": number, "max_shells_per_user": number,
                                                  "max_envelope_size_kb": number, "ipv4_filter": text})  # fmt: skip
    client = st.fixed_dictionaries(
        {"trusted_hosts": st.lists(text, max_size=3), "trusted_hosts_mode": st.just("add")}
    )
    firewall = st.fixed_dictionaries({"transport": st.just("https"), "port": number,
                                      "remote_address": st.lists(text, min_size=1, max_size=2)})  # fmt: skip
    modules = st.tuples(service, client, firewall)
    runs: list[int] = []

    @settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(modules)
    def check(drawn: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]) -> None:
        runs.append(1)
        names = ("winrm_service", "winrm_client", "winrm_firewall")
        tasks: list[dict[str, Any]] = [{"psremoting.core.winrm_info": {}}]
        for name, args in zip(names, drawn, strict=True):
            task = {f"psremoting.core.{name}": args, "ignore_errors": True}
            tasks += [task, {"psremoting.core.winrm_info": {}}, task]
        results = play(winhost, tmp_path, tasks)
        previous = results[0]["winrm"]
        for index in range(3):
            first, info_after, again = results[1 + 3 * index : 4 + 3 * index]
            if first.get("failed"):
                assert first["msg"].startswith("web01: "), first["msg"]
                assert info_after["winrm"] == previous, f"a refused task changed the host: {first['msg']}"
            else:
                assert not again.get("failed") and again["changed"] is False, (drawn[index], again)
            previous = info_after["winrm"]

    check()
    assert len(runs) == 3
