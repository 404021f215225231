"""The one-to-many playbooks against winhost: good variables work, bad ones fail early and clearly."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_runner import playbook_env, run_playbook

pytestmark = pytest.mark.winhost(hosts="dc01,sql02,web01", preset="configured")

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def inventory(winhost: Any, tmp_path: Path) -> Path:
    data = yaml.safe_load(Path(winhost.inventory_path).read_text(encoding="utf-8"))
    data["all"]["children"]["windows"]["vars"] = {"ansible_connection": "psremoting.core.psrp"}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run(
    winhost: Any, tmp_path: Path, playbook: str, extra: dict[str, Any], *args: str
) -> tuple[int, dict[str, Any]]:
    env = playbook_env(winhost.env, str(tmp_path / "s"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    playbook_path = REPO / "playbooks" / playbook
    rc, report, output = run_playbook(
        inventory(winhost, tmp_path), playbook_path, "-e", json.dumps(extra), *args, env=env,
        program=str(BIN / "ansible-playbook"),
    )  # fmt: skip
    assert report, output
    return rc, report


def msg(report: dict[str, Any], task: str) -> str:
    for play in report["plays"]:
        for t in play["tasks"]:
            if t["task"]["name"] == task:
                for r in t["hosts"].values():
                    if "msg" in r and not r.get("skipped"):
                        return str(r["msg"])
    raise AssertionError(f"no task {task!r}")


def test_invoke_command_table_json_csv(winhost: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    rc, report = run(winhost, tmp_path, "invoke_command.yml",
                     {"script": "Get-Service -Name W32time", "output_json": str(out),
                      "output_csv": str(tmp_path / "out.csv"), "properties": ["Name", "Status"]})  # fmt: skip
    assert rc == 0
    table = msg(report, "Output (Format-Table)")
    for host in ("dc01", "sql02", "web01"):
        assert host in table
    data = json.loads(out.read_text())
    assert sorted(o["PSComputerName"] for o in data["output"]) == ["dc01", "sql02", "web01"]
    assert {h["Status"] for h in data["hosts"]} == {"ok"}
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == '"Name","Status","PSComputerName"'


def test_invoke_command_fan_out_runs_on_the_controller(winhost: Any, tmp_path: Path) -> None:
    """mode=fan_out: one task delegated to localhost (connection 'local') reaches every host of the
    batch with its own inventory settings; each host gets its row and status."""
    out = tmp_path / "out.json"
    rc, report = run(winhost, tmp_path, "invoke_command.yml",
                     {"script": "Get-Service -Name W32time", "mode": "fan_out", "throttle_limit": 2,
                      "output_json": str(out)})  # fmt: skip
    assert rc == 0, report
    (task,) = [
        t
        for play in report["plays"]
        for t in play["tasks"]
        if t["task"]["name"].startswith("Run the script block on every host")
    ]
    (result,) = [r for r in task["hosts"].values() if not r.get("skipped")]
    assert result["_ansible_delegated_vars"]["ansible_host"] == "localhost"
    assert {h: v["status"] for h, v in result["hosts"].items()} == dict.fromkeys(
        ("dc01", "sql02", "web01"), "ok"
    )
    data = json.loads(out.read_text())
    assert sorted(o["PSComputerName"] for o in data["output"]) == ["dc01", "sql02", "web01"]
    assert {h["Status"] for h in data["hosts"]} == {"ok"}


def test_invoke_command_limit_slices(winhost: Any, tmp_path: Path) -> None:
    """AWX job slicing runs the same playbook with disjoint --limit slices."""
    seen = []
    for part in ("dc01", "sql02,web01"):
        out = tmp_path / f"{part}.json"
        rc, _ = run(winhost, tmp_path, "invoke_command.yml",
                    {"script": "Get-Service -Name W32time", "output_json": str(out)}, "--limit", part)  # fmt: skip
        assert rc == 0
        seen.append(sorted(o["PSComputerName"] for o in json.loads(out.read_text())["output"]))
    assert seen == [["dc01"], ["sql02", "web01"]]


@pytest.mark.parametrize(
    ("playbook", "extra", "expected"),
    [
        ("invoke_command.yml", {}, "Set one of the variables script, path or command"),
        (
            "invoke_command.yml",
            {"script": "1", "command": "Get-Date"},
            "Set only one of script, path and command",
        ),
        ("invoke_command.yml", {"script": "1", "mode": "sideways"}, "mode"),
        ("invoke_command.yml", {"path": "/nonexistent.ps1"}, "is not a file on the controller"),
        ("service_status.yml", {}, "service"),
        ("service_status.yml", {"service": "W32Time", "state": "paused"}, "state"),
        ("service_status.yml", {"service": "W32*"}, "is not a Windows service name"),
        ("session_cleanup.yml", {"older_than_minutes": "soon"}, "older_than_minutes"),
        ("session_cleanup.yml", {"session_state": ["Sleeping"]}, "session_state"),
        ("enable_psremoting.yml", {"batch_size": "0"}, "batch_size must be a number of hosts"),
        ("enable_psremoting.yml", {"max_fail_percent": 150}, "max_fail_percent must be 0 to 100"),
    ],
)
def test_bad_variables_fail_before_touching_hosts(
    winhost: Any, tmp_path: Path, playbook: str, extra: dict[str, Any], expected: str
) -> None:
    # Sessions of an earlier test's run are deleted by its broker shortly after that run ends;
    # wait for them so their Delete requests are not counted against this run.
    deadline = time.monotonic() + 120
    while any(s["shells_open"] for s in winhost.all_stats().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    winhost.reset_stats()
    rc, report = run(winhost, tmp_path, playbook, extra)
    assert rc != 0
    failed = [r.get("msg", "") for p in report["plays"] for t in p["tasks"] for r in t["hosts"].values()
              if r.get("failed")]  # fmt: skip
    assert any(expected in m for m in failed), failed
    assert all(s["wsman_requests_total"] == 0 for s in winhost.all_stats().values())


def test_service_status_stop_and_start(winhost: Any, tmp_path: Path) -> None:
    rc, report = run(winhost, tmp_path, "service_status.yml", {"service": "W32Time", "state": "stopped"})
    assert rc == 0
    assert msg(report, "Service status (Format-Table)").count("Stopped") == 3
    rc, report = run(winhost, tmp_path, "service_status.yml", {"service": "W32Time", "state": "started"})
    assert rc == 0
    assert msg(report, "Service status (Format-Table)").count("Running") == 3


def test_session_cleanup_removes_leftovers_only(winhost: Any, tmp_path: Path) -> None:
    from pypsrp.powershell import RunspacePool
    from pypsrp.wsman import WSMan

    hv = winhost.hostvars("dc01")
    pool = RunspacePool(
        WSMan(
            hv["ansible_host"],
            port=int(hv["ansible_port"]),
            username=hv["ansible_user"],
            password=hv["ansible_password"],
            ssl=hv.get("ansible_psrp_protocol") == "https",
            auth=hv["ansible_psrp_auth"],
            no_proxy=True,
            cert_validation=hv.get("ansible_psrp_ca_cert") or True,
        )
    )
    pool.open()
    pool.disconnect()
    rc, report = run(winhost, tmp_path, "session_cleanup.yml", {"list_only": True})
    assert rc == 0 and pool.id.upper() in msg(report, "Sessions found (Get-PSSession)")
    assert winhost.stats("dc01")["shells_open"] >= 1
    rc, report = run(winhost, tmp_path, "session_cleanup.yml", {"session_state": ["Disconnected"]})
    assert rc == 0 and pool.id.upper() in msg(report, "Sessions removed (Remove-PSSession)")
    assert winhost.stats("dc01")["shells_open"] == 0
