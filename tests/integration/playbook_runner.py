"""Run a one-play playbook against a winhost host and return (rc, json callback data, output).

Shared by the reliability tests: each run gets its own broker session directory, the json stdout
callback and no colour, so results can be asserted on and runs do not share sessions.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any


def run_tasks(winhost: Any, tmp_path: Path, host: str, tasks: str) -> tuple[int, dict[str, Any], str]:
    pb = tmp_path / "pb.yml"
    pb.write_text(f"- hosts: {host}\n  gather_facts: false\n  tasks:\n{tasks}", encoding="utf-8")
    env = dict(winhost.env)
    env.update(
        {
            "ANSIBLE_PSRP_SESSION_DIR": tempfile.mkdtemp(prefix="psrp-", dir="/tmp"),
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
        }
    )
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(winhost.inventory_path), str(pb)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        data = {}
    return proc.returncode, data, proc.stdout + proc.stderr
