"""invoke_command against simulated Windows hosts (winhost), as playbook tasks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.winhost(hosts="dc01,sql02,web01", preset="configured")

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


def play(winhost: Any, tmp_path: Path, tasks: list[dict[str, Any]], hosts: str = "windows") -> dict[str, Any]:
    """Run tasks with our connection plugin; return {host: {"r<i>": task result}} (json callback)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": hosts, "gather_facts": False, "tasks": tasks}]))
    env = dict(winhost.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            str(winhost.inventory_path),
            "-e",
            "ansible_connection=psremoting.core.psrp",
            str(playbook),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    results: dict[str, Any] = {}
    for i, task in enumerate(report["plays"][0]["tasks"]):
        for host, result in task["hosts"].items():
            results.setdefault(host, {})[f"r{i}"] = result
    assert results, proc.stdout + proc.stderr
    return results


def test_get_service_per_host(winhost: Any, tmp_path: Path) -> None:
    results = play(
        winhost, tmp_path, [{"psremoting.core.invoke_command": {"script": "Get-Service -Name W32time"}}]
    )
    for name in ("dc01", "sql02", "web01"):
        out = results[name]["r0"]["output"]
        assert out[0]["Name"] == "W32Time"
        assert out[0]["Status"]["String"] in ("Running", "Stopped")
        assert any("ServiceController" in t for t in out[0]["PSTypeNames"])


@pytest.mark.xfail(
    reason="other hosts' connections do not yet pick up ansible_host/ansible_port from hostvars "
    "(connection_var_options gets no address variable); the task's own host works",
    strict=False,
)
def test_one_to_many_from_one_task(winhost: Any, tmp_path: Path) -> None:
    results = play(
        winhost,
        tmp_path,
        [
            {
                "psremoting.core.invoke_command": {
                    "script": "Get-Service -Name W32time",
                    "computer_name": ["dc01", "sql02", "web01"],
                },
                "run_once": True,
            }
        ],
    )
    r = next(iter(results.values()))["r0"]
    assert sorted(o["PSComputerName"] for o in r["output"]) == ["dc01", "sql02", "web01"], r["hosts"]
    assert {v["status"] for v in r["hosts"].values()} == {"ok"}


def test_arguments_and_write_host(winhost: Any, tmp_path: Path) -> None:
    results = play(
        winhost,
        tmp_path,
        [
            {
                "psremoting.core.invoke_command": {
                    "script": 'Write-Host "Remote Computer Name: $ENV:ComputerName"'
                }
            },
            {
                "psremoting.core.invoke_command": {
                    "script": 'param($First, $Second) "$First-$Second"',
                    "arguments": ["a"],
                    "parameters": {"Second": "b"},
                }
            },
        ],
        hosts="dc01",
    )
    assert "REMOTE COMPUTER NAME: DC01" in results["dc01"]["r0"]["host_out"].upper()
    assert results["dc01"]["r1"]["output"] == ["a-b"]


@pytest.mark.xfail(
    reason="winhost's evaluator does not read $Using: values from the '--%' parameter yet", strict=False
)
def test_using(winhost: Any, tmp_path: Path) -> None:
    results = play(
        winhost,
        tmp_path,
        [
            {
                "psremoting.core.invoke_command": {
                    "script": "Get-Service -Name $Using:svc",
                    "using": {"svc": "W32Time"},
                }
            }
        ],
        hosts="dc01",
    )
    assert results["dc01"]["r0"]["output"][0]["Name"] == "W32Time"
