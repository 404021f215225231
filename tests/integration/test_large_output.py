"""Large raw output through the session broker: memory and the output limit.

The broker's peak memory is read from the kernel (/proc/<pid>/status VmHWM, the peak resident
set) around one raw task whose output is SIZE_MB: the broker's growth over its resident size
before that task, divided by the output size, must stay under 2 (issue 15: it was about 5x).
A memory ratio, not a timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import run_tasks

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01", preset="fresh")]

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
SIZE_MB = int(os.environ.get("PSREMOTING_LARGE_OUTPUT_MB", "64"))
MIB = 1024 * 1024


def _status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process in bytes (proc(5))."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _broker_pids(session_dir: Path) -> list[int]:
    pids = []
    for pid_file in session_dir.glob("broker-*.pid"):
        fields = pid_file.read_text(encoding="ascii").split()
        if fields and fields[0].isdigit():
            pids.append(int(fields[0]))
    return pids


def run_measured(
    winhost: Any, tmp_path: Path, script: str, extra_vars: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run: a warm raw task, [measure the broker at rest], the raw task ``script``, [measure its
    peak]. Returns the task's result, the broker's resident size before and peak after."""
    session_dir = Path(tempfile.mkdtemp(prefix="psrp-", dir="/tmp"))
    ready, go, done, finish = (tmp_path / n for n in ("ready", "go", "done", "finish"))
    playbook = f"""
- hosts: dc01
  gather_facts: false
  tasks:
    - ansible.builtin.raw: Write-Output warm
    - ansible.builtin.copy: {{dest: "{ready}", content: x}}
      delegate_to: localhost
    - ansible.builtin.wait_for: {{path: "{go}", timeout: 600}}
      delegate_to: localhost
    - name: big
      ansible.builtin.raw: {json.dumps(script)}
      register: big
      ignore_errors: true
    - ansible.builtin.copy: {{dest: "{done}", content: "{{{{ big | to_json }}}}"}}
      delegate_to: localhost
    - ansible.builtin.wait_for: {{path: "{finish}", timeout: 600}}
      delegate_to: localhost
"""
    pb = tmp_path / "pb.yml"
    pb.write_text(playbook, encoding="utf-8")
    env = dict(winhost.env, ANSIBLE_PSRP_SESSION_DIR=str(session_dir), ANSIBLE_NOCOLOR="1")
    command = [ANSIBLE_PLAYBOOK, "-i", str(winhost.inventory_path), str(pb)]
    for key, value in (extra_vars or {}).items():
        command += ["-e", f"{key}={value}"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(ready)
        (pid,) = _broker_pids(session_dir)
        time.sleep(0.5)
        before = _status(pid)
        go.touch()
        _wait_for(done, timeout=600)
        after = _status(pid)
        finish.touch()
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = json.loads(done.read_text(encoding="utf-8"))
    return {
        "rc": proc.returncode,
        "out": out,
        "result": result,
        "rss_before": before["VmRSS"],
        "hwm_after": after["VmHWM"],
    }


def test_large_raw_output_costs_the_broker_less_than_twice_its_size(winhost: Any, tmp_path: Path) -> None:
    # SIZE_MB lines of 1 MiB - 2 characters: stdout is SIZE_MB MiB with the CRLF between lines.
    script = f"$line = 'x' * {MIB - 2}; 1..{SIZE_MB} | ForEach-Object {{ $line }}"
    run = run_measured(winhost, tmp_path, script)
    assert run["rc"] == 0, run["out"]
    stdout = run["result"]["stdout"]
    assert len(stdout) == SIZE_MB * MIB - 2 and stdout.count("\r\n") == SIZE_MB - 1
    ratio = (run["hwm_after"] - run["rss_before"]) / (SIZE_MB * MIB)
    print(
        f"broker: {run['rss_before'] / MIB:.0f} MiB before, peak {run['hwm_after'] / MIB:.0f} MiB; ratio {ratio:.2f}"
    )
    assert ratio < 2.0, f"the broker grew {ratio:.2f}x the output size"


def test_output_beyond_max_output_size_fails_the_task_with_the_option_named(
    winhost: Any, tmp_path: Path
) -> None:
    """The command is stopped on the host and the task fails, naming the limit and the variable;
    the next task on the host runs normally."""
    tasks = (
        "    - ansible.builtin.raw: \"$line = 'x' * 1048574; 1..8 | ForEach-Object { $line }\"\n"
        "      vars: {ansible_psrp_max_output_size: 2097152}\n"
        "      ignore_errors: true\n"
        "    - ansible.builtin.raw: Write-Output after\n"
    )
    rc, data, out = run_tasks(winhost, tmp_path, "dc01", tasks)
    assert rc == 0, out
    big, after = (t["hosts"]["dc01"] for t in data["plays"][0]["tasks"])
    assert big.get("failed") is True and not big.get("unreachable"), big
    assert "returned more than 2 MiB of output and was stopped" in big["msg"]
    assert "ansible_psrp_max_output_size" in big["msg"]
    assert after["stdout_lines"] == ["after"]
