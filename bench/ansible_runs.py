# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ansible-playbook (or a helper script) for one benchmark step, measured.

Every run gets a fresh session directory (so no broker survives from a previous step), the
bench_tasks callback, the memory marker, and is timed from process start to exit.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory import MARKER, MemorySampler, cpu_seconds

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OURS = "psremoting.core.psrp"
BUILTIN = "ansible.builtin.psrp"
#: The second anchor: pywinrm over WinRS cmd shells (most Windows inventories use it).
WINRM = "ansible.builtin.winrm"
#: Runs over our plugin enable the vars plugin psremoting.core.psrp_preload, as docs/connection.md
#: recommends (ansible-playbook loads the connection plugin once instead of in every worker);
#: BENCH_PSRP_PRELOAD=0 measures without it.
PRELOAD_VARS_ENABLED = "host_group_vars,psremoting.core.psrp_preload"


def preloading() -> bool:
    """Whether runs over our plugin enable psremoting.core.psrp_preload (BENCH_PSRP_PRELOAD)."""
    return os.environ.get("BENCH_PSRP_PRELOAD", "1") != "0"


def preload_env(cmd: list[str]) -> dict[str, str]:
    """ANSIBLE_VARS_ENABLED for a run of ``cmd`` over our connection plugin (else nothing)."""
    if f"ansible_connection={OURS}" not in cmd or not preloading():
        return {}
    return {"ANSIBLE_VARS_ENABLED": PRELOAD_VARS_ENABLED}


@dataclass
class RunResult:
    rc: int
    wall_seconds: float
    peak_rss_kib: int
    peak_pss_kib: int
    peak_processes: int
    peak_broker_rss_kib: int
    #: CPU seconds (user + system) of the whole controller side: ansible-playbook and every process
    #: it waited for (its forks), plus the session brokers until they exited.
    controller_cpu_seconds: float = 0.0
    broker_cpu_seconds: float = 0.0
    #: CPU seconds the simulated hosts (winhost servers) used during the run.
    server_cpu_seconds: float = 0.0
    #: From ansible-playbook's exit until the last session broker exited (shells deleted).
    cleanup_seconds: float = 0.0
    tasks: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    #: epoch seconds: when ansible-playbook was started, and when each task started (callback)
    started_at: float = 0.0
    task_starts: list[float] = field(default_factory=list)

    @property
    def failed_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t.get("status") not in ("ok", "skipped")]


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop(MARKER, None)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".build")
    env.update(
        {
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_CALLBACK_PLUGINS": str(BENCH_DIR / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_tasks",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_SYSTEM_WARNINGS": "False",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "False",
        }
    )
    return env


def write_playbook(path: Path, hosts: str, tasks: str, gather: bool = False) -> Path:
    path.write_text(
        f"- hosts: {hosts}\n  gather_facts: {str(gather).lower()}\n  tasks:\n"
        + textwrap.indent(textwrap.dedent(tasks).strip() + "\n", "    "),
        encoding="utf-8",
    )
    return path


def run_measured(
    cmd: list[str],
    workdir: Path,
    env_extra: dict[str, str] | None = None,
    timeout: float = 1800.0,
    server_pids: tuple[int, ...] = (),
) -> RunResult:
    """Run ``cmd`` with memory and CPU sampling; collect bench_tasks records.

    ``server_pids``: the winhost processes whose CPU time during the run is reported separately.
    """
    tag = uuid.uuid4().hex
    env = base_env()
    session_dir = tempfile.mkdtemp(prefix="bs-", dir="/tmp")  # short: Unix socket path limit
    log = workdir / f"tasks-{tag[:8]}.jsonl"
    env.update(
        {
            MARKER: tag,
            "ANSIBLE_PSRP_SESSION_DIR": session_dir,
            "BENCH_TASK_LOG": str(log),
        }
    )
    env.update(preload_env(cmd))
    env.update(env_extra or {})
    sampler = MemorySampler(tag).start()
    server_before = {pid: cpu_seconds(pid) or 0.0 for pid in server_pids}
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started_at = time.time()
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=workdir
        )
    finally:
        wall = time.perf_counter() - start
        sampler.stop()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cleanup = sampler.wait_for_brokers()
    server_cpu = sum((cpu_seconds(pid) or 0.0) - before for pid, before in server_before.items())
    playbook_cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    tasks: list[dict[str, Any]] = []
    if log.exists():
        tasks = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
    return RunResult(
        rc=proc.returncode,
        wall_seconds=wall,
        peak_rss_kib=sampler.peak_rss_kib,
        peak_pss_kib=sampler.peak_pss_kib,
        peak_processes=sampler.peak_processes,
        peak_broker_rss_kib=sampler.peak_broker_rss_kib,
        controller_cpu_seconds=playbook_cpu + sampler.broker_cpu_seconds,
        broker_cpu_seconds=sampler.broker_cpu_seconds,
        server_cpu_seconds=server_cpu,
        cleanup_seconds=cleanup,
        tasks=[t for t in tasks if t.get("event") == "result"],
        output=(proc.stdout + proc.stderr)[-4000:],
        started_at=started_at,
        task_starts=[float(t["t"]) for t in tasks if t.get("event") == "task_start"],
    )


def playbook_cmd(
    inventory: Path,
    playbook: Path,
    connection: str,
    forks: int = 5,
    extra: list[str] | None = None,
    *,
    bin_dir: Path | None = None,
) -> list[str]:
    """``bin_dir``: the venv whose ansible-playbook runs (default: bench/run's own, see cores.py)."""
    return [
        str((bin_dir or Path(sys.executable).parent) / "ansible-playbook"),
        "-i",
        str(inventory),
        str(playbook),
        "-f",
        str(forks),
        "-e",
        f"ansible_connection={connection}",
        *(extra or []),
    ]
