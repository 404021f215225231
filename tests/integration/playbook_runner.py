"""Run ansible-playbook against winhost hosts and read its JSON report: the one way the
integration tests do it.

Each run gets the json stdout callback, no colour, no retry files and, unless the test gives one,
its own broker session directory, so results can be asserted on and runs do not share sessions.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

QUIET_JSON_ENV = {
    "ANSIBLE_STDOUT_CALLBACK": "json",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
}


def playbook_env(base: Mapping[str, str], session_dir: str | None = None, **extra: str) -> dict[str, str]:
    """`base` (a winhost's env) plus the JSON-report settings, a session directory (a new short
    one under /tmp when not given: Unix socket paths are limited to ~100 bytes) and `extra`."""
    env = dict(base)
    env.update(QUIET_JSON_ENV)
    env["ANSIBLE_PSRP_SESSION_DIR"] = session_dir or tempfile.mkdtemp(prefix="psrp-", dir="/tmp")
    env.update(extra)
    return env


def json_report(stdout: str) -> dict[str, Any]:
    """The json callback's report at the end of ansible-playbook's stdout ({} when there is none:
    warnings or -v lines may come before it)."""
    for start in ('{\n    "custom_stats"', "{"):
        try:
            return dict(json.loads(stdout[stdout.index(start) :]))
        except ValueError:
            continue
    return {}


def run_playbook(
    inventory: str | Path,
    playbook: str | Path,
    *args: str,
    env: Mapping[str, str],
    timeout: float = 600,
    cwd: str | Path | None = None,
    program: str = "ansible-playbook",
) -> tuple[int, dict[str, Any], str]:
    """Run `program -i inventory playbook *args`; return (rc, json report, stdout + stderr)."""
    proc = subprocess.run(
        [program, "-i", str(inventory), str(playbook), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
    return proc.returncode, json_report(proc.stdout), proc.stdout + proc.stderr


def run_tasks(winhost: Any, tmp_path: Path, host: str, tasks: str) -> tuple[int, dict[str, Any], str]:
    """One play of `tasks` (YAML, indented under `tasks:`) on `host`."""
    pb = tmp_path / "pb.yml"
    pb.write_text(f"- hosts: {host}\n  gather_facts: false\n  tasks:\n{tasks}", encoding="utf-8")
    return run_playbook(winhost.inventory_path, pb, env=playbook_env(winhost.env), timeout=300)
