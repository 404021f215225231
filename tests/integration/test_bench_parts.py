"""Pure parts of the benchmark harness (bench/): memory sampling and goal verdicts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from memory import MARKER, MemorySampler  # noqa: E402
from report import goals  # noqa: E402


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")
def test_sampler_counts_marked_processes_only() -> None:
    tag = uuid.uuid4().hex
    hold = "import time; b = bytearray(80 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(3)"
    env = dict(os.environ, **{MARKER: tag})
    marked = subprocess.Popen([sys.executable, "-c", hold], env=env)
    unmarked = subprocess.Popen([sys.executable, "-c", hold])
    try:
        time.sleep(1.5)
        sample = MemorySampler(tag).sample()
    finally:
        for proc in (marked, unmarked):
            proc.kill()
            proc.wait()
    assert sample.processes == 1
    assert 80 * 1024 <= sample.rss_kib < 160 * 1024


def _s1(
    ours_raw: float, ours_mod: float, ours_script: float, b_raw: float, b_mod: float
) -> dict[str, object]:
    def summary(raw: float, mod: float, script: float) -> dict[str, object]:
        # every warm task of ours also sends one post-reply release Signal (not waited for)
        def kind(total: float) -> dict[str, float]:
            return {"wsman_requests_total": total + 1, "wsman_critical_path": total, "wsman_deferred": 1}

        return {"raw": kind(raw), "module": kind(mod), "script": kind(script), "all": kind(raw)}

    return {
        "ours": {"summary": summary(ours_raw, ours_mod, ours_script)},
        "builtin": {"summary": summary(b_raw, b_mod, 7)},
    }


def test_goal_verdicts_follow_thresholds() -> None:
    res = {
        "s1_flat": _s1(2, 3, 2.5, 5, 6),
        "s1_latency": {
            "latency_ms": 20,
            "shell_create_ms": 800,
            "builtin": {"summary": {"all": {"seconds": 1.5}}},
            "ours": {"summary": {"all": {"seconds": 0.5}}},
        },
        "s2": {
            "hosts": 100,
            "builtin_forks32": {"wall_seconds": 20.0, "controller_cpu_seconds": 10.0},
            "ours_one_to_many": {"wall_seconds": 10.0, "rc": 0, "controller_cpu_seconds": 2.5},
        },
        "s3": {
            "sizes_mb": [1, 100],
            "ours_100": {"put_mb_s": 30.0, "peak_rss_mib": 200.0},
            "ours_1": {"put_mb_s": 10.0, "peak_rss_mib": 120.0},
            "builtin_100": {"put_mb_s": 10.0},
        },
        "s4": {"hosts": 500, "rc": 0, "peak_rss_mib": 2900.0, "peak_pss_mib": 900.0, "peak_shells_open": 500},
    }
    got = [(g.measured, g.verdict) for g in goals(res)]
    assert got == [
        ("2.00", "PASS"),  # ours raw <= 2
        ("2.50", "FAIL"),  # ours invoke_command <= 2
        ("3.00", "PASS"),  # ours module <= 3
        ("1.00", "PASS"),  # ours post-reply releases <= 1 per task
        ("6.00", "PASS"),  # builtin raw >= 5 (its summary counts total requests: 5 + 1)
        ("7.00", "PASS"),  # builtin module >= 7
        ("3.00", "PASS"),  # latency ratio >= 3
        ("2.00", "FAIL"),  # fleet ratio >= 3
        ("4.00", "FAIL"),  # controller CPU per host-task: builtin / ours >= 5
        ("3.00", "PASS"),  # put throughput >= 1.5
        ("80", "FAIL"),  # memory growth < 50 MiB
        ("900", "PASS"),  # 500 sessions < 1 GiB
    ]


def test_goals_without_data_are_not_measured() -> None:
    assert {g.verdict for g in goals({})} == {"n/a"}


def test_anchor_table_puts_the_three_plugins_side_by_side() -> None:
    from report import anchor_table

    def s1(builtin: float, winrm: float, ours: float) -> dict[str, object]:
        return {
            label: {"summary": {"all": {"seconds": value}}}
            for label, value in (("builtin", builtin), ("winrm", winrm), ("ours", ours))
        }

    res = {
        "s1_latency": {"latency_ms": 20, "shell_create_ms": 800, **s1(1.31, 1.27, 0.4)},
        "s2": {
            "hosts": 100,
            "builtin_forks32": {"wall_seconds": 30.0},
            "winrm_forks32": {"wall_seconds": 60.0},
        },
        "s3": {"sizes_mb": [1, 100], "builtin_100": {"put_mb_s": 2.0}, "winrm_100": {"put_mb_s": 1.0}},
    }
    rows = {line.split(" | ")[0].lstrip("| "): line for line in anchor_table(res) if line.startswith("| ")}
    wall = rows["wall time per task, all tasks (latency 20 ms + create 800 ms) (s)"]
    assert wall.split(" | ")[1:] == ["1.310", "1.270", "0.400", "0.97x", "3.27x", "3.17x |"]
    fleet = rows["100 hosts, raw, forks=32, wall (s)"]
    assert fleet.split(" | ")[1:4] == ["30.00", "60.00", "-"] and "2.00x" in fleet
    assert rows["put_file 100 MB random data (MB/s)"].split(" | ")[4] == "0.50x"
