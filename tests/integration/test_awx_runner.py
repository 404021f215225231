"""The playbooks run unchanged under ansible-runner, the way AWX / AAP runs a job.

AWX prepares a *private data directory* for every job and hands it to ansible-runner
(https://ansible.readthedocs.io/projects/runner/en/latest/intro/#runner-input-directory-hierarchy):
``project/`` (the synced SCM project), ``inventory/hosts`` (an executable script that prints the
inventory as JSON), ``env/extravars`` (job template extra vars and survey answers), ``env/envvars``
(environment) and ``env/cmdline`` (extra ansible-playbook arguments). Runner writes
``artifacts/<ident>/`` with ``stdout``, ``rc``, ``status`` and ``job_events/*.json``; AWX stores
those events. Job slicing runs the same job with a ``--limit`` on disjoint host subsets.

The credential is injected as AWX injects the custom credential type of docs/awx.md (AWX's
``awx/main/models/credential`` injector code): each ``file`` template becomes a private temporary
file under ``env/``; the rendered ``extra_vars`` (``ansible_user``, ``ansible_password``,
``ansible_psrp_auth`` and ``ansible_psrp_ca_cert: "{{ tower.filename.ca }}"``) go to another
temporary file under ``env/`` that is passed as ``-e @file``.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ansible_runner = pytest.importorskip("ansible_runner", reason="ansible-runner is not installed in this venv")

pytestmark = pytest.mark.winhost(hosts="dc01,sql02,web01", preset="configured")

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".build"
HOSTS = ("dc01", "sql02", "web01")
# Host variables that the AWX credential supplies instead of the inventory.
CREDENTIAL_VARS = ("ansible_user", "ansible_password", "ansible_psrp_auth", "ansible_psrp_ca_cert")


def awx_inventory_script(winhost: Any) -> str:
    """The winhost inventory as AWX writes it: a script printing ``--list`` JSON with ``_meta``."""
    data = yaml.safe_load(Path(winhost.inventory_path).read_text(encoding="utf-8"))
    windows = data["all"]["children"]["windows"]
    hostvars = {
        name: {k: v for k, v in hv.items() if k not in CREDENTIAL_VARS}
        for name, hv in windows["hosts"].items()
    }
    listing = {
        "all": {"children": ["ungrouped", "windows"]},
        "ungrouped": {"hosts": []},
        "windows": {
            "hosts": sorted(hostvars),
            "vars": {"ansible_connection": "psremoting.core.psrp"},
        },
        "_meta": {"hostvars": hostvars},
    }
    return f"#!{sys.executable}\nprint({json.dumps(listing)!r})\n"


def inject_credential(winhost: Any, env_dir: Path) -> str:
    """Render the docs/awx.md credential type like AWX; return the ``-e @file`` argument."""
    accounts = {(winhost.hostvars(h)["ansible_user"], winhost.hostvars(h)["ansible_password"]) for h in HOSTS}
    assert len(accounts) == 1, "one AWX credential holds one account; winhost must give all hosts the same"
    user, password = accounts.pop()
    ca_text = Path(winhost.hostvars(HOSTS[0])["ansible_psrp_ca_cert"]).read_text(encoding="utf-8")
    ca_file = env_dir / "tmpca0001"  # injectors.file["template.ca"]
    ca_file.write_text(ca_text, encoding="utf-8")
    ca_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    extra = {  # injectors.extra_vars, rendered
        "ansible_user": user,
        "ansible_password": password,
        "ansible_psrp_auth": "ntlm",
        "ansible_psrp_ca_cert": str(ca_file),
    }
    extra_file = env_dir / "tmpvars0001"
    extra_file.write_text(yaml.safe_dump(extra), encoding="utf-8")
    extra_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return f"-e @{extra_file}"


def private_data_dir(winhost: Any, tmp_path: Path, survey: dict[str, Any]) -> Path:
    pdd = tmp_path / "pdd"
    shutil.copytree(
        REPO / "playbooks", pdd / "project" / "playbooks", ignore=shutil.ignore_patterns("inventory")
    )
    (pdd / "inventory").mkdir()
    script = pdd / "inventory" / "hosts"
    script.write_text(awx_inventory_script(winhost), encoding="utf-8")
    script.chmod(stat.S_IRWXU)
    (pdd / "env").mkdir()
    (pdd / "env" / "cmdline").write_text(inject_credential(winhost, pdd / "env"), encoding="utf-8")
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(survey), encoding="utf-8")
    envvars = {
        "PATH": winhost.env["PATH"],
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_PSRP_SESSION_DIR": str(tmp_path / "s"),
    }
    if "KRB5_CONFIG" in winhost.env:
        envvars["KRB5_CONFIG"] = winhost.env["KRB5_CONFIG"]
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars), encoding="utf-8")
    return pdd


def job_kwargs(pdd: Path, ident: str, limit: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "private_data_dir": str(pdd),
        "playbook": "playbooks/invoke_command.yml",
        "inventory": str(pdd / "inventory" / "hosts"),
        "ident": ident,
        "quiet": True,
        "timeout": 600,  # ansible-runner ends a job after this: generous for a loaded machine
    }
    if limit:
        kwargs["limit"] = limit
    return kwargs


def run_job(pdd: Path, ident: str, limit: str | None = None) -> Any:
    return ansible_runner.run(**job_kwargs(pdd, ident, limit))


def wait_sessions_closed(winhost: Any, timeout: float = 120.0) -> float:
    """Seconds until no host has an open shell: each job's session broker closes its sessions when
    the job's ansible-playbook process is gone (AWX runs every job as its own process)."""
    start = time.monotonic()
    while any(s["shells_open"] for s in winhost.all_stats().values()):
        if time.monotonic() - start > timeout:
            raise AssertionError(f"sessions still open {timeout}s after the job: {winhost.all_stats()}")
        time.sleep(0.1)
    return time.monotonic() - start


def events(runner: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in runner.events if e.get("event") == kind]


def run_block_results(runner: Any) -> dict[str, dict[str, Any]]:
    """Per host: the invoke_command result of the per-host task, from the runner_on_ok events."""
    return {
        e["event_data"]["host"]: e["event_data"]["res"]
        for e in events(runner, "runner_on_ok")
        if e["event_data"].get("task") == "Run the script block on each host"
    }


def survey(blank: str | None) -> dict[str, Any]:
    """Job template extra vars plus survey answers, as AWX merges them into env/extravars.

    ``command``/``parameters`` are template extra vars (a survey has no dictionary question);
    ``mode`` is a required choice question. Optional text questions left blank arrive as ``""``
    (AWX 17 to 24.5, ansible/awx#9525) or ``null`` (24.6, ansible/awx#16205); optional integer
    questions left blank are not sent at all (ansible/awx#9620).
    """
    answers: dict[str, Any] = {
        "command": "Get-Service",
        "parameters": {"Name": "W32time"},
        "mode": "per_host",
    }
    answers.update(dict.fromkeys(("target", "script", "batch_size", "properties", "output_json"), blank))
    return answers


def test_invoke_command_job_runs_under_ansible_runner(winhost: Any, tmp_path: Path) -> None:
    pdd = private_data_dir(winhost, tmp_path, survey(""))
    r = run_job(pdd, "job1")
    assert (r.status, r.rc) == ("successful", 0), r.stdout.read()

    assert len(events(r, "playbook_on_start")) == 1
    assert {e["event_data"]["host"] for e in events(r, "runner_on_ok")} == set(HOSTS)
    (stats,) = events(r, "playbook_on_stats")
    assert not stats["event_data"]["failures"] and not stats["event_data"]["dark"]
    assert set(stats["event_data"]["ok"]) == set(HOSTS)

    artifacts = pdd / "artifacts" / "job1"
    assert "Invoke-Command results" in (artifacts / "stdout").read_text(encoding="utf-8")
    saved = [json.loads(p.read_text(encoding="utf-8")) for p in (artifacts / "job_events").glob("*.json")]
    assert {e["event"] for e in saved} >= {"playbook_on_start", "runner_on_ok", "playbook_on_stats"}

    results = run_block_results(r)
    assert set(results) == set(HOSTS)
    for host, res in results.items():
        assert [o["PSComputerName"] for o in res["output"]] == [host]
        # Enums convert to {Type, String, Value} (plugin_utils/output/_clixml.py).
        assert [(o["Name"], o["Status"]["String"]) for o in res["output"]] == [("W32time", "Running")]
    # The credential's password came in as an extra var; it must not show in job output or events.
    password = winhost.hostvars(HOSTS[0])["ansible_password"]
    assert password not in (artifacts / "stdout").read_text(encoding="utf-8")
    assert not any(password in json.dumps(e) for e in saved)
    # A job leaves no session behind on the hosts (no leaked wsmprovhost / shell quota).
    wait_sessions_closed(winhost)


def test_job_slices_touch_only_their_hosts(winhost: Any, tmp_path: Path) -> None:
    """AWX job slicing: the same job with disjoint --limit subsets covers every host once.

    AWX launches the slices as separate jobs of a workflow that run at the same time, so the two
    runs here are concurrent (each with its own ansible-playbook process and session broker).
    """
    pdd = private_data_dir(winhost, tmp_path, survey(None))
    slices = {"slice1": "dc01", "slice2": "sql02:web01"}
    started = {
        ident: ansible_runner.run_async(**job_kwargs(pdd, ident, limit)) for ident, limit in slices.items()
    }
    touched: dict[str, set[str]] = {}
    for ident, (thread, r) in started.items():
        thread.join(180)
        assert (r.status, r.rc) == ("successful", 0), r.stdout.read()
        touched[ident] = {e["event_data"]["host"] for e in r.events if e["event_data"].get("host")}
        assert set(run_block_results(r)) == touched[ident]
    assert touched == {"slice1": {"dc01"}, "slice2": {"sql02", "web01"}}
    assert touched["slice1"] | touched["slice2"] == set(HOSTS)


def test_bad_survey_answer_fails_before_contacting_hosts(winhost: Any, tmp_path: Path) -> None:
    pdd = private_data_dir(winhost, tmp_path, {**survey(""), "mode": "sideways"})
    wait_sessions_closed(winhost)  # earlier jobs' brokers finish closing their sessions first
    winhost.reset_stats()
    r = run_job(pdd, "bad")
    assert r.status == "failed" and r.rc != 0
    failed = [e["event_data"]["res"].get("msg", "") for e in events(r, "runner_on_failed")]
    assert any("mode" in m and "sideways" in m for m in failed), failed
    assert all(s["wsman_requests_total"] == 0 for s in winhost.all_stats().values())


def test_fan_out_job_streams_progress_and_completions_as_events(winhost: Any, tmp_path: Path) -> None:
    """mode=fan_out under ansible-runner: while the one-to-many task runs, each host's
    Write-Progress line, its completion line and (at -v) its Write-Host line arrive as job events
    (``verbose``), written to artifacts/<ident>/job_events before the task's own result event."""
    answers = {
        **survey(""),
        "command": "",
        "parameters": None,
        "mode": "fan_out",
        "script": "Write-Progress -Activity 'Checking' -Status 'W32time' -PercentComplete 50\n"
        "Write-Host 'looked at W32time'\nGet-Service -Name W32time",
    }
    pdd = private_data_dir(winhost, tmp_path, answers)
    r = ansible_runner.run(**job_kwargs(pdd, "fan1"), verbosity=1)
    assert (r.status, r.rc) == ("successful", 0), r.stdout.read()
    saved = sorted(
        (
            json.loads(p.read_text(encoding="utf-8"))
            for p in (pdd / "artifacts" / "fan1" / "job_events").glob("*.json")
        ),
        key=lambda e: e["counter"],
    )
    task = "Run the script block on every host of the batch from the controller (one-to-many)"
    (start,) = [
        e["counter"]
        for e in saved
        if e["event"] == "playbook_on_task_start" and e["event_data"].get("task") == task
    ]
    (done,) = [
        e["counter"] for e in saved if e["event"] == "runner_on_ok" and e["event_data"].get("task") == task
    ]
    during = [e["stdout"] for e in saved if e["event"] == "verbose" and start < e["counter"] < done]
    for host in HOSTS:
        assert f"{host}: Checking: W32time (50%)" in during, during
        assert any(line.startswith(f"{host}: ok, 1 object, ") for line in during), during
        assert f"{host}: looked at W32time" in during, during
    wait_sessions_closed(winhost)
