"""One-to-many at fleet scale: 1,000 simulated hosts, one invoke_command task from localhost.

``Invoke-Command -ComputerName (1..1000) -ThrottleLimit 100 { Get-Service W32time }`` as one
task on the controller: every host answers ok, each object is tagged with its host, and the run
leaves one shell per host (closed when the run ends). winhost serves the 1,000 hosts in the test
process (one acceptor thread, lazy per-host work); the controller is one ansible-playbook and its
session brokers. Slow (about 2-3 minutes on a loaded 2-CPU machine): PSREMOTING_RUN_SLOW=1.
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

RUN_SLOW = bool(os.environ.get("PSREMOTING_RUN_SLOW"))
HOSTS = 1000
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(
    not RUN_SLOW, reason="about 2-3 minutes with 1,000 simulated hosts; set PSREMOTING_RUN_SLOW=1"
)
def test_one_to_many_over_a_thousand_hosts(winhost_factory: Any, tmp_path: Path) -> None:
    hosts = winhost_factory.start(hosts=HOSTS, preset="configured")
    playbook = tmp_path / "fleet.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: fleet\n"
        "      psremoting.core.invoke_command:\n"
        "        computer_name: \"{{ groups['windows'] }}\"\n"
        "        script: Get-Service -Name W32time\n"
        "        throttle_limit: 100\n"
        "      register: fleet\n",
        encoding="utf-8",
    )
    env = dict(
        hosts.env,
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_PSRP_SESSION_DIR=tempfile.mkdtemp(prefix="psrpfleet-", dir="/tmp"),
        ANSIBLE_LOCALHOST_WARNING="False",
    )
    started = time.monotonic()
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", str(hosts.inventory_path), str(playbook)],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    report = json.loads(proc.stdout[proc.stdout.index("{\n") :])
    result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert proc.returncode == 0, (took, result.get("msg"))
    statuses = {name: h["status"] for name, h in result["hosts"].items()}
    assert len(statuses) == HOSTS
    assert set(statuses.values()) == {"ok"}, {n: s for n, s in statuses.items() if s != "ok"}
    assert sorted(o["PSComputerName"] for o in result["output"]) == sorted(statuses)
    assert all(o["Name"] == "W32time" for o in result["output"])  # the name as given
    # Each host's completion was printed as it happened.
    printed = proc.stdout[: proc.stdout.index("{\n")]
    assert printed.count(": ok, 1 object, ") == HOSTS
    stats = hosts.all_stats()
    assert all(s["shells_created"] == 1 for s in stats.values())
    print(f"1,000 hosts, throttle_limit 100: {took:.1f} s wall (load average {os.getloadavg()[0]:.1f})")
