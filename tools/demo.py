#!/usr/bin/env python3
"""The one-to-many PowerShell Remoting demo (``make demo``).

Starts three simulated Windows hosts (winhost: dc01, sql02, web01, preset ``fresh``), then runs
the collection's playbooks against them exactly as a user would run them:

1. enable_psremoting.yml  - the enable_psremoting role over the group, in batches
2. invoke_command.yml     - ``Get-Service -Name W32time`` on every host, as a table
3. invoke_command.yml     - ``(Get-Service -Name W32time).Stop()``
4. invoke_command.yml     - ``Get-Service -Name W32time`` again: the changed table
5. session_cleanup.yml    - Get-PSSession | Remove-PSSession on every host
6. winhost's own counters - ``shells_open`` is 0 on every host

Every table printed comes from the playbook run (the json callback's task results); nothing is
made up. Output stays within 100 columns (the playbooks' ``table_width``), and any warning Ansible
prints is shown (there should be none).

Before step 1 the demo leaves one disconnected PowerShell session on each host with
pypsrp (what ``Invoke-Command -InDisconnectedSession`` leaves behind) so that step 5 has real
leftovers to find. winhost is stopped at the end, on failure and on Ctrl-C. Exit status is
non-zero when a step fails.

``--quick`` skips the role's controller-side endpoint verification (used by the test suite).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / ".build"
LINK = BUILD / "ansible_collections" / "psremoting" / "core"
HOSTS = {"dc01": "domain_controllers", "sql02": "sql", "web01": "web"}
BIN = Path(sys.executable).parent
WIDTH = 100
TABLE_WIDTH = WIDTH - 4  # tables are indented by four spaces


class StepFailed(Exception):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


def banner(text: str) -> None:
    say()
    say(f"=== {text} " + "=" * max(0, WIDTH - 5 - len(text)))


def ensure_collection_link() -> None:
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        LINK.symlink_to(Path("..") / ".." / "..")


def start_winhost(workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    inventory = workdir / "winhost.yml"
    log = (workdir / "winhost.log").open("wb")
    cmd = [
        sys.executable, "-m", "winhost.cli", "serve",
        "--hosts", ",".join(HOSTS), "--inventory", str(inventory),
        "--state-dir", str(workdir / "state"), "--preset", "fresh",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, inventory


def wait_for_inventory(proc: subprocess.Popen[bytes], inventory: Path, timeout: float = 120.0) -> None:
    from winhost.hostset import control_file_for  # noqa: PLC0415

    control = control_file_for(inventory.resolve())
    deadline = time.monotonic() + timeout
    while not (inventory.exists() and control.exists()):
        if proc.poll() is not None:
            log = inventory.parent / "winhost.log"
            raise StepFailed(f"winhost serve exited with rc={proc.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise StepFailed(f"winhost did not write {inventory} within {timeout:.0f}s")
        time.sleep(0.1)


def stop_winhost(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


#: The web group is written the way an ansible.builtin.winrm inventory is: psremoting.core.psrp
#: reads these variables (docs/connection.md, "Moving from ansible.builtin.psrp or ...winrm").
WINRM_NAMES = {
    "ansible_psrp_protocol": "ansible_winrm_scheme",
    "ansible_psrp_path": "ansible_winrm_path",
    "ansible_psrp_auth": "ansible_winrm_transport",
    "ansible_psrp_cert_validation": "ansible_winrm_server_cert_validation",
    "ansible_psrp_ca_cert": "ansible_winrm_ca_trust_path",
    "ansible_psrp_message_encryption": "ansible_winrm_message_encryption",
}


def as_winrm_inventory(hostvars: dict[str, Any]) -> dict[str, Any]:
    """One host's winhost variables under their ansible.builtin.winrm names (``/wsman`` path, a
    transport list). ``ansible_psrp_ignore_proxy`` stays: pywinrm has no variable for it, and the
    loopback hosts must not go through a proxy from the environment."""
    converted = {WINRM_NAMES.get(key, key): value for key, value in hostvars.items()}
    if "ansible_winrm_path" in converted:
        converted["ansible_winrm_path"] = "/" + str(converted["ansible_winrm_path"]).lstrip("/")
    if "ansible_winrm_transport" in converted:
        converted["ansible_winrm_transport"] = [converted["ansible_winrm_transport"]]
    return converted


def write_demo_inventory(winhost_inventory: Path, target: Path) -> dict[str, Any]:
    """winhost's hosts arranged in the groups of playbooks/inventory/example.yml."""
    data = yaml.safe_load(winhost_inventory.read_text(encoding="utf-8"))
    hosts: dict[str, Any] = data["all"]["children"]["windows"]["hosts"]
    children: dict[str, Any] = {group: {"hosts": {}} for group in HOSTS.values()}
    for name, hostvars in hosts.items():
        group = HOSTS[name]
        children[group]["hosts"][name] = as_winrm_inventory(hostvars) if group == "web" else hostvars
    inventory = {
        "all": {
            "children": {
                "windows": {
                    "children": children,
                    "vars": {
                        "ansible_connection": "psremoting.core.psrp",
                        # winhost maps the Windows ports 5985/5986 to free loopback ports: the role
                        # checks the endpoints from the controller on those.
                        "enable_psremoting_verify_http_port": "{{ winhost_http_port }}",
                        "enable_psremoting_verify_https_port": "{{ winhost_https_port }}",
                    },
                }
            }
        }
    }
    target.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    target.chmod(0o600)
    return hosts


def leave_disconnected_sessions(hosts: dict[str, Any]) -> None:
    from pypsrp.powershell import RunspacePool  # noqa: PLC0415
    from pypsrp.wsman import WSMan  # noqa: PLC0415

    for name, hv in hosts.items():
        wsman = WSMan(
            hv["ansible_host"], port=int(hv["ansible_port"]), username=hv["ansible_user"],
            password=hv["ansible_password"], ssl=hv.get("ansible_psrp_protocol") == "https",
            auth=hv.get("ansible_psrp_auth", "negotiate"), no_proxy=True,
            cert_validation=hv.get("ansible_psrp_ca_cert") or True,
        )  # fmt: skip
        pool = RunspacePool(wsman)
        pool.open()
        pool.disconnect()
        say(f"  {name}: left disconnected session {pool.id}")


def run_playbook(
    name: str, inventory: Path, extra: dict[str, Any], env: dict[str, str], workdir: Path
) -> dict[str, Any]:
    """Run playbooks/<name> with the json callback; return the report. Raise on failure."""
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / name)]
    cmd += ["-e", json.dumps(extra)]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    (workdir / f"{name}.{int(started)}.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    try:
        report: dict[str, Any] = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        raise StepFailed(f"{name}: no JSON report (rc={proc.returncode}):\n{proc.stderr[-2000:]}") from None
    say(f"  ansible-playbook {name}: rc={proc.returncode} in {elapsed:.1f} s")
    for host, st in sorted(report.get("stats", {}).items()):
        counts = {"ok": "ok", "changed": "changed", "failed": "failures", "unreachable": "unreachable"}
        say(f"    {host:6} " + " ".join(f"{label}={st.get(key, 0)}" for label, key in counts.items()))
    for line in proc.stderr.splitlines():
        if "[WARNING]" in line or "[DEPRECATION WARNING]" in line:
            say(f"  ! {line.strip()}")
    if proc.returncode != 0:
        for message in failures(report):
            say(f"  ! {message}")
        raise StepFailed(f"{name} failed (rc={proc.returncode})")
    return report


def failures(report: dict[str, Any]) -> list[str]:
    out = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if (result.get("failed") or result.get("unreachable")) and not result.get("ignore_errors"):
                    out.append(f"{host}: {task['task']['name']}: {result.get('msg', '')}")
    return out


def task_msg(report: dict[str, Any], task_name: str, required: bool = True) -> str:
    """The debug message of the named task (run_once: one host has it); a list is one line per item."""
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"] == task_name:
                for result in task["hosts"].values():
                    if "msg" in result and not result.get("skipped"):
                        msg = result["msg"]
                        return "\n".join(map(str, msg)) if isinstance(msg, list) else str(msg)
    if required:
        raise StepFailed(f"the run has no result for task '{task_name}'")
    return ""


def changed_tasks(report: dict[str, Any]) -> dict[str, list[str]]:
    """Per host, the names of the tasks that reported a change (what the role changed there)."""
    changed: dict[str, list[str]] = {}
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                names = changed.setdefault(host, [])
                if result.get("changed") and task["task"]["name"] not in names:
                    names.append(task["task"]["name"])
    return changed


def show(text: str) -> None:
    for line in text.strip("\n").splitlines():
        say(f"    {line}")


def winhost_stats(inventory: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "winhost.cli", "stats", "--inventory", str(inventory)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def step_enable(inventory: Path, quick: bool, env: dict[str, str], workdir: Path) -> None:
    banner("1. Enable PowerShell Remoting (playbooks/enable_psremoting.yml, role enable_psremoting)")
    extra: dict[str, Any] = {
        "batch_size": "100%",
        "enable_psremoting_certificate_dest": str(workdir / "certs"),
    }
    if quick:
        extra["enable_psremoting_verify"] = False
    report = run_playbook("enable_psremoting.yml", inventory, extra, env, workdir)
    say("  What the role changed on each host:")
    for host, names in sorted(changed_tasks(report).items()):
        role_tasks = [name.split(" : ", 1)[-1] for name in names]  # "<role> : <task>" -> "<task>"
        say(f"    {host:6} {', '.join(role_tasks) if role_tasks else 'nothing (already as configured)'}")


def step_services(inventory: Path, env: dict[str, str], workdir: Path) -> None:
    width = {"table_width": TABLE_WIDTH}
    banner("2. Invoke-Command -ComputerName dc01,sql02,web01 { Get-Service -Name W32time }")
    before = {"script": "Get-Service -Name W32time", "output_json": str(workdir / "w32time-before.json")}
    report = run_playbook("invoke_command.yml", inventory, {**before, **width}, env, workdir)
    show(task_msg(report, "Output (Format-Table)"))

    banner("3. Invoke-Command { (Get-Service -Name W32time).Stop() }")
    stop = {"script": "(Get-Service -Name W32time).Stop()"}
    report = run_playbook("invoke_command.yml", inventory, {**stop, **width}, env, workdir)
    show(task_msg(report, "Status per host"))

    banner("4. Get-Service -Name W32time again: the service is stopped everywhere")
    after = {"script": "Get-Service -Name W32time", "output_json": str(workdir / "w32time-after.json")}
    report = run_playbook("invoke_command.yml", inventory, {**after, **width}, env, workdir)
    show(task_msg(report, "Output (Format-Table)"))
    objects = json.loads((workdir / "w32time-after.json").read_text(encoding="utf-8"))
    statuses = {o["PSComputerName"]: o["Status"]["String"] for o in objects["output"]}
    if set(statuses.values()) != {"Stopped"}:
        raise StepFailed(f"W32time is not stopped everywhere: {statuses}")


def step_cleanup(inventory: Path, env: dict[str, str], workdir: Path) -> None:
    banner("5. Get-PSSession | Remove-PSSession on every host (playbooks/session_cleanup.yml)")
    report = run_playbook("session_cleanup.yml", inventory, {"table_width": TABLE_WIDTH}, env, workdir)
    say("  Found (durations in seconds):")
    show(task_msg(report, "Sessions found (Get-PSSession)"))
    say("  Removed:")
    show(task_msg(report, "Sessions removed (Remove-PSSession)"))
    say("  Summary:")
    show(task_msg(report, "Summary per host"))
    show(task_msg(report, "Sessions kept (the play's own session is never removed)", required=False))


def step_counters(winhost_inventory: Path, env: dict[str, str]) -> None:
    banner("6. winhost's counters: shells still open on each host")
    # ansible-playbook's session broker deletes its own shells when the run ends; give it a moment.
    deadline = time.monotonic() + 15
    while True:
        stats = winhost_stats(winhost_inventory, env)
        open_shells = {name: s["shells_open"] for name, s in stats.items()}
        if all(v == 0 for v in open_shells.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for name, s in stats.items():
        say(
            f"    {name:6} shells_open={s['shells_open']} shells_created={s['shells_created']} "
            f"wsman_requests={s['wsman_requests_total']} Delete={s['wsman_requests'].get('Delete', 0)}"
        )
    if any(open_shells.values()):
        raise StepFailed(f"shells still open: {open_shells}")


def demo_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(BUILD),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_PSRP_SESSION_DIR=str(workdir / "sessions"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run_demo(quick: bool, workdir: Path, env: dict[str, str], started: list[subprocess.Popen[bytes]]) -> None:
    banner("Starting simulated Windows hosts dc01, sql02, web01 (winhost, preset fresh)")
    proc, winhost_inventory = start_winhost(workdir)
    started.append(proc)
    wait_for_inventory(proc, winhost_inventory)
    inventory = workdir / "inventory.yml"
    hosts = write_demo_inventory(winhost_inventory, inventory)
    for name, hv in hosts.items():
        say(f"  {name:6} {HOSTS[name]:19} http://{hv['ansible_host']}:{hv['ansible_port']}/wsman")
    say("  Leaving one disconnected PowerShell session per host (for the cleanup step):")
    leave_disconnected_sessions(hosts)
    step_enable(inventory, quick, env, workdir)
    step_services(inventory, env, workdir)
    step_cleanup(inventory, env, workdir)
    step_counters(winhost_inventory, env)
    say()
    say("Demo finished: every step ran against the simulated hosts.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="skip the role's endpoint verification")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)

    ensure_collection_link()
    workdir = Path(tempfile.mkdtemp(prefix="psremoting-demo-"))
    started: list[subprocess.Popen[bytes]] = []
    rc = 1
    try:
        run_demo(args.quick, workdir, demo_env(workdir), started)
        rc = 0
    except StepFailed as exc:
        say(f"\nDEMO FAILED: {exc}\nlogs: {workdir}")
        args.keep = True
    except Exception as exc:  # a bug or an unexpected answer: say what, keep the logs
        say(f"\nDEMO FAILED: {type(exc).__name__}: {exc}\nlogs: {workdir}")
        args.keep = True
    except KeyboardInterrupt:
        say("\ninterrupted")
        rc = 130
    finally:
        for proc in started:
            stop_winhost(proc)
        if not args.keep:
            import shutil  # noqa: PLC0415

            shutil.rmtree(workdir, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
