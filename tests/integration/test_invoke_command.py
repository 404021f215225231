"""invoke_command against simulated Windows hosts (winhost), as playbook tasks.

Each test runs ONE ansible-playbook (about 5-8 s on a loaded machine, most of it ansible's own
start-up), so scenarios that share a run are asserted together. Results are read from the
ansible.posix.json callback and keyed by task name.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypsrp.powershell import RunspacePool

from ansible_collections.psremoting.core.plugins.action.invoke_command import run_on_host
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import InvokeSpec
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    ps_credential,
    secure_string,
)

pytestmark = pytest.mark.winhost(hosts="dc01,sql02,web01", preset="configured")

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
IC = "psremoting.core.invoke_command"
SECRET = "Sup3r-S3cret-9f2c!"  # test-only value; it must never appear in any output


def run_playbook(
    winhost: Any,
    tmp_path: Path,
    plays: list[dict[str, Any]],
    *args: str,
    inventories: tuple[Path, ...] = (),
    callback: str = "ansible.posix.json",
) -> subprocess.CompletedProcess[str]:
    """Run plays with the winhost inventory (which sets ansible_connection=psremoting.core.psrp
    for the windows group, so tasks delegated to localhost use the local connection)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(
        winhost.env,
        ANSIBLE_STDOUT_CALLBACK=callback,
        ANSIBLE_PSRP_SESSION_DIR=str(tmp_path / "s"),
        ANSIBLE_LOCALHOST_WARNING="False",
    )
    command = [ANSIBLE_PLAYBOOK, "-i", str(winhost.inventory_path)]
    for inventory in inventories:
        command += ["-i", str(inventory)]
    return subprocess.run(
        [*command, *args, str(playbook)], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def results_by_task(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """{host: {task name: result}} from the json callback's report."""
    start = proc.stdout.find("{\n")
    assert start >= 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout[start:])
    results: dict[str, dict[str, Any]] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                results.setdefault(host, {})[task["task"]["name"]] = result
    assert results, proc.stdout + proc.stderr
    return results


def play(hosts: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"hosts": hosts, "gather_facts": False, "tasks": tasks}


def stats_task(winhost: Any, name: str, register: str) -> dict[str, Any]:
    """A task that reads winhost's per-host counters from the controller, between two tasks of
    the same run (so the session stays warm)."""
    return {
        "name": name,
        "ansible.builtin.uri": {
            "url": winhost.control["control_url"] + "/stats?host={{ inventory_hostname }}",
            "headers": {"X-Winhost-Token": winhost.control["token"]},
            "return_content": True,
        },
        "delegate_to": "localhost",
        "register": register,
    }


def direct_session(winhost: Any, name: str) -> PSRPSession:
    """The connection's own session class, in this process, for host ``name``."""
    v = winhost.hostvars(name)
    return PSRPSession(
        {
            "server": v["ansible_host"],
            "port": int(v["ansible_port"]),
            "username": v["ansible_user"],
            "password": v["ansible_password"],
            "ssl": True,
            "path": "wsman",
            "auth": "ntlm",
            "cert_validation": v["ansible_psrp_ca_cert"],
            "no_proxy": True,
        },
        "Microsoft.PowerShell",
        None,
        name,
    )


def run_direct(winhost: Any, name: str, spec: InvokeSpec) -> dict[str, Any]:
    """The action plugin's per-host logic (run_on_host) over the connection's own session class
    in this process: the same PSRP requests as a playbook task, without ansible-playbook's start-up
    (used for the scenarios that wait for winhost features)."""
    session = direct_session(winhost, name)
    try:
        return run_on_host(session.invoke_pipeline, {}, spec, name)
    finally:
        session.close()


def is_guid(value: Any) -> bool:
    """A GUID as PowerShell prints one (lower case, hyphenated)."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def test_output_objects_and_service_methods(winhost: Any, tmp_path: Path) -> None:
    """Per-host runs on three hosts: objects carry what Invoke-Command adds (about_Remote_Output:
    PSComputerName, PSShowComputerName, RunspaceId; type names with the ``Deserialized.`` prefix);
    host output, arguments and parameters; ServiceController.Stop()/Start() change what
    Get-Service shows."""
    tasks = [
        {
            "name": "get",
            IC: {
                "script": "param($First, $Second)\n"
                'Write-Host "Remote Computer Name: $ENV:ComputerName"\n'
                "Get-Service -Name W32time\n"
                '"$First-$Second"\n',
                "arguments": ["a"],
                "parameters": {"Second": "b"},
            },
        },
        {"name": "stop", IC: {"script": "(Get-Service -Name W32time).Stop()"}},
        {"name": "stopped", IC: {"script": "Get-Service -Name W32time"}},
        {"name": "started", IC: {"script": "(Get-Service -Name W32time).Start()\nGet-Service -Name W32time"}},
    ]
    results = results_by_task(run_playbook(winhost, tmp_path, [play("windows", tasks)]))
    runspace_ids = set()
    for name in ("dc01", "sql02", "web01"):
        r = results[name]
        service = r["get"]["output"][0]
        assert service["Name"] == "W32time"  # Get-Service -Name keeps the name as given
        # The broker keeps one pool per host across tasks: its id tags every task's output.
        assert is_guid(service["RunspaceId"]), service
        assert r["stopped"]["output"][0]["RunspaceId"] == service["RunspaceId"]
        runspace_ids.add(service["RunspaceId"])
        assert service["Status"]["Type"] == "System.ServiceProcess.ServiceControllerStatus"
        assert service["PSComputerName"] == name
        assert service["PSShowComputerName"] is True
        assert service["PSTypeNames"][0] == "Deserialized.System.ServiceProcess.ServiceController"
        assert all(t.startswith("Deserialized.") for t in service["PSTypeNames"])
        assert f"REMOTE COMPUTER NAME: {name.upper()}" in r["get"]["host_out"].upper()
        assert r["get"]["output"][1] == "a-b"
        assert not r["stop"].get("failed"), r["stop"]
        assert r["stopped"]["output"][0]["Status"]["String"] == "Stopped"
        assert r["started"]["output"][0]["Status"]["String"] == "Running"
    assert len(runspace_ids) == 3  # one pool per host


def test_output_objects_carry_runspace_id(winhost: Any) -> None:
    """RunspaceId (about_Remote_Output) is the id of the RunspacePool that ran the command: a GUID
    as PowerShell prints it, the same for every command of one session, a shell the host really
    has open under that id, and another session's pool has another one."""
    session = direct_session(winhost, "dc01")
    other = direct_session(winhost, "dc01")
    try:
        runs = [
            run_on_host(session.invoke_pipeline, {}, InvokeSpec(script=script), "dc01")
            for script in ("Get-Service -Name W32time", "Get-Service -Name WinRM")
        ]
        elsewhere = run_on_host(
            other.invoke_pipeline, {}, InvokeSpec(script="Get-Service -Name W32time"), "dc01"
        )
        first, second = (run["output"][0] for run in runs)
        assert first["PSComputerName"] == "dc01"
        assert is_guid(first.get("RunspaceId")), first
        assert second["RunspaceId"] == first["RunspaceId"], second
        assert session.pool is not None
        assert uuid.UUID(session.pool.id) == uuid.UUID(first["RunspaceId"])
        on_host = {uuid.UUID(p.id) for p in RunspacePool.get_runspace_pools(session.pool.connection)}
        assert uuid.UUID(first["RunspaceId"]) in on_host, on_host
        theirs = elsewhere["output"][0]["RunspaceId"]
        assert is_guid(theirs) and theirs != first["RunspaceId"]
        assert other.pool is not None and uuid.UUID(other.pool.id) == uuid.UUID(theirs)
    finally:
        session.close()
        other.close()


def test_sensitive_parameters_reach_the_script_and_never_the_output(winhost: Any, tmp_path: Path) -> None:
    """A SecureString and a PSCredential arrive as typed objects; output shows them the way
    PowerShell stringifies a SecureString, and the secret is nowhere in -vvv output nor in the
    session directory (broker log). The output value is the connection's redaction, not Ansible's
    no_log masking (which would print VALUE_SPECIFIED_IN_NO_LOG_PARAMETER)."""
    tasks = [
        {
            "name": "secrets",
            IC: {
                "script": "param($Secret, $Cred)\n"
                "$Secret\n"
                "$Secret -is [securestring]\n"
                "$Cred -is [pscredential]\n"
                "$Cred.UserName\n"
                "$Cred\n",
                "sensitive_parameters": [
                    {"name": "Secret", "value": SECRET},
                    {"name": "Cred", "username": "alice", "password": SECRET},
                ],
            },
            "register": "r",
        },
        {"name": "show", "ansible.builtin.debug": {"var": "r.output"}},
    ]
    proc = run_playbook(winhost, tmp_path, [play("dc01", tasks)], "-vvv", callback="ansible.builtin.default")
    everything = proc.stdout + proc.stderr
    assert proc.returncode == 0, everything[-3000:]
    assert SECRET not in everything
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    # The debug task prints r.output as JSON.
    shown = everything[everything.index('"r.output": [') :]
    output = json.loads("{" + shown[: shown.index("\n    ]") + len("\n    ]")] + "}")["r.output"]
    assert output[:4] == ["System.Security.SecureString", True, True, "alice"]
    assert output[4]["UserName"] == "alice"
    assert output[4]["Password"] == "System.Security.SecureString"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" not in json.dumps(output)


def test_sensitive_values_arrive_intact(winhost: Any) -> None:
    spec = InvokeSpec(
        script="param($Secret, $Cred, $Expected)\n$Secret.Length\n$Cred.GetNetworkCredential().Password -ceq $Expected\n",
        parameters={
            "Expected": "not-the-secret",
            "Secret": secure_string(SECRET),
            "Cred": ps_credential("alice", "not-the-secret"),
        },
    )
    fields = run_direct(winhost, "dc01", spec)
    assert fields["error"] == []
    assert fields["output"] == [len(SECRET), True]


def test_one_to_many(winhost: Any, tmp_path: Path) -> None:
    """One task on localhost (connection 'local') reaches every host in groups['windows'] with
    that host's own connection variables (address, port, credentials); a host with a wrong
    password (an inventory alias of web01) is 'unreachable', a host whose inventory names another
    connection is 'failed' with a message naming it; none stops the others; fail_on any/all/never.
    The sessions are the run's: a later per-host task runs in the same RunspacePool, and the
    whole run opens one shell per host. Progress and each host's completion are printed while
    the task runs, Write-Host lines at -v."""
    bad = winhost.hostvars("web01")
    bad.update(ansible_password="wrong-password", ansible_connection="psremoting.core.psrp")
    extra = tmp_path / "broken.yml"
    inventory = {
        "broken": {"hosts": {"web01_badpw": bad}},
        "linux": {"hosts": {"linux01": {"ansible_connection": "ssh", "ansible_host": "192.0.2.1"}}},
    }
    extra.write_text(yaml.safe_dump({"all": {"children": inventory}}))
    service = "Get-Service -Name W32time"
    everyone = "{{ groups['windows'] + groups['broken'] }}"
    live = (
        "Write-Progress -Activity 'Checking' -Status 'W32time' -PercentComplete 50\n"
        "Write-Host 'looked at W32time'\n"
        "Get-Service -Name W32time"
    )
    tasks = [
        {
            "name": "all_good",
            IC: {"script": service, "computer_name": "{{ groups['windows'] }}", "throttle_limit": 2},
        },
        {"name": "never", IC: {"script": service, "computer_name": everyone, "fail_on": "never"}},
        {"name": "any", IC: {"script": service, "computer_name": everyone}, "ignore_errors": True},
        {"name": "all_some_bad", IC: {"script": service, "computer_name": everyone, "fail_on": "all"}},
        {
            "name": "all_bad",
            IC: {
                "script": service,
                "computer_name": ["web01_badpw", "nosuchhost", "linux01"],
                "fail_on": "all",
            },
            "ignore_errors": True,
        },
        {"name": "live", IC: {"script": live, "computer_name": "{{ groups['windows'] }}"}},
    ]
    per_host = [{"name": "per_host", IC: {"script": live}}]
    before = winhost.all_stats()
    proc = run_playbook(
        winhost, tmp_path, [play("localhost", tasks), play("windows", per_host)], "-v", inventories=(extra,)
    )
    results = results_by_task(proc)
    r = results["localhost"]
    good = r["all_good"]
    assert not good.get("failed"), good
    assert sorted(o["PSComputerName"] for o in good["output"]) == ["dc01", "sql02", "web01"]
    # Each object carries the RunspaceId of the pool that ran it on its own host.
    assert all(is_guid(o["RunspaceId"]) for o in good["output"]), good["output"]
    assert len({o["RunspaceId"] for o in good["output"]}) == 3
    assert {v["status"] for v in good["hosts"].values()} == {"ok"}
    assert all(v["output_count"] == 1 for v in good["hosts"].values())

    never = r["never"]
    assert not never.get("failed")
    assert never["hosts"]["web01_badpw"]["status"] == "unreachable"
    assert (
        "401" in never["hosts"]["web01_badpw"]["msg"]
        or "auth" in never["hosts"]["web01_badpw"]["msg"].lower()
    )
    assert sorted(o["PSComputerName"] for o in never["output"]) == ["dc01", "sql02", "web01"]
    assert "wrong-password" not in json.dumps(r)

    assert r["any"]["failed"] is True
    assert "web01_badpw" in r["any"]["msg"]
    assert not r["all_some_bad"].get("failed")
    assert r["all_bad"]["failed"] is True
    assert r["all_bad"]["hosts"]["nosuchhost"]["status"] == "unreachable"
    linux = r["all_bad"]["hosts"]["linux01"]
    assert linux["status"] == "failed"
    assert "'ssh'" in linux["msg"] and "ansible_connection=psremoting.core.psrp" in linux["msg"]

    # Sessions are shared with the per-host tasks of the run: same pool, one shell per host.
    pools = {o["PSComputerName"]: o["RunspaceId"] for o in good["output"]}
    for host in ("dc01", "sql02", "web01"):
        assert results[host]["per_host"]["output"][0]["RunspaceId"] == pools[host]
    after = winhost.all_stats()
    assert {h: after[h]["shells_created"] - before[h]["shells_created"] for h in pools} == dict.fromkeys(
        pools, 1
    )

    # Live output, printed while the task ran (before the json callback's report).
    printed = proc.stdout[: proc.stdout.find("{\n")]
    for host in ("dc01", "sql02", "web01"):
        assert f"{host}: Checking: W32time (50%)" in printed, printed
        assert re.search(rf"{host}: ok, 1 object, [0-9.]+ s", printed), printed
        assert f"{host}: looked at W32time" in printed, printed
    # A per-host task's progress is printed too (labelled with the address it connects to).
    for host in ("dc01", "sql02", "web01"):
        assert f"{winhost.hostvars(host)['ansible_host']}: Checking: W32time (50%)" in proc.stdout, (
            proc.stdout
        )
    assert re.search(r"web01_badpw: unreachable, 0 objects, [0-9.]+ s \(.*401", printed), printed
    assert r["live"]["information"] and not r["live"].get("failed")


def test_warm_session_cost_and_cleanup_in_always(winhost: Any, tmp_path: Path) -> None:
    """Two things in one run (each ansible-playbook start costs seconds):

    * A short script on a warm session is one WSMan Command and one Receive (output and final
      state in one response). The connection then closes the finished pipeline with one Signal
      (terminate) AFTER the task's reply, off the task's critical path: between the two stats
      reads the previous task's Signal has already landed and this task's own Signal may or may
      not have, so the test counts the task's own pipeline (Command, Receive) and allows 0 or 1
      Signal.
    * try/finally for the session: a block whose task throws, an always section with
      meta: reset_connection (Connection.reset closes the host's session: WSMan Delete), after
      which winhost reports no open shell for the host.
    """
    tasks = [
        {
            "block": [
                {"name": "warm", IC: {"script": "Get-Service -Name W32time"}},
                stats_task(winhost, "before", "before"),
                {"name": "measured", IC: {"script": "Get-Service -Name W32time"}},
                stats_task(winhost, "after", "after"),
                {"name": "boom", IC: {"script": "throw 'boom'"}},
            ],
            "always": [
                {"name": "reset", "ansible.builtin.meta": "reset_connection"},
                stats_task(winhost, "after_reset", "after_reset"),
            ],
        }
    ]
    results = results_by_task(run_playbook(winhost, tmp_path, [play("dc01", tasks)]))
    r = results["dc01"]
    assert r["measured"]["output"][0]["Name"] == "W32time"
    before = r["before"]["json"]["dc01"]
    after = r["after"]["json"]["dc01"]
    delta = {
        k: after["wsman_requests"][k] - before["wsman_requests"][k]
        for k in after["wsman_requests"]
        if after["wsman_requests"][k] != before["wsman_requests"][k]
    }
    signals = delta.pop("Signal", 0)
    assert delta == {"Command": 1, "Receive": 1}, delta
    assert signals <= 1
    assert after["connections"] == before["connections"]  # same TCP connection, no new auth
    assert after["shells_open"] == 1

    assert r["boom"]["failed"] is True
    assert r["boom"]["msg"] == "boom"
    assert r["after_reset"]["json"]["dc01"]["shells_open"] == 0


def test_using(winhost: Any) -> None:
    spec = InvokeSpec(script="Get-Service -Name $Using:svc", using={"svc": "W32Time"})
    fields = run_direct(winhost, "dc01", spec)
    assert fields["error"] == []
    assert fields["output"][0]["Name"] == "W32Time"
