"""bench/run --quick: the benchmark harness runs end to end and writes its table and chart.

Timings are not asserted (a shared CI machine makes them noise); the counters the goals are
computed from are, because they are exact winhost counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]


def test_quick_mode_writes_table_chart_and_counts(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [str(REPO / "bench" / "run"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=dict(os.environ, BENCH_PYTHON=sys.executable),
    )
    # rc 1 means a scenario raised; the table is still written and names it
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    table = (out / "latest.md").read_text(encoding="utf-8")
    assert "## Goals" in table and "Mode **quick**" in table
    goal_rows = [line for line in table.splitlines() if line.endswith(("| PASS |", "| FAIL |", "| n/a |"))]
    assert len(goal_rows) >= 8, table
    assert (out / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    results = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    flat = results["s1_flat"]
    builtin_rows, our_rows = flat["builtin"]["rows"], flat["ours"]["rows"]
    winrm_rows = flat["winrm"]["rows"]
    assert len(builtin_rows) == len(winrm_rows) == len(our_rows) == 3
    assert all(r["status"] == "ok" for r in builtin_rows + winrm_rows + our_rows)
    # both builtin plugins open a shell for every task (winrm: a WinRS cmd shell); ours one per play
    assert sum(r["shells_created"] for r in builtin_rows) == 3
    assert sum(r["shells_created"] for r in winrm_rows) == 3
    assert sum(r["shells_created"] for r in our_rows) == 1
    rows = builtin_rows + winrm_rows + our_rows
    # scenario 1 again under each other ansible-core whose version-matrix venv exists (bench/cores.py;
    # nothing is built in quick mode, so a fresh clone has none): the same tasks pass, same shells
    assert "## 1c. Per warm task by ansible-core version" in table
    # where a task's time goes: every worker of a raw task timed its phases (bench/phase_timer)
    assert "## 1d. Where a warm task's time goes" in table
    for task_rows in (builtin_rows, our_rows):
        raw_row = next(r for r in task_rows if r["kind"] == "raw")
        assert {"worker", "connection_load", "exec"} <= set(raw_row["phases"]), raw_row
    for line, entry in (flat.get("cores") or {}).items():
        for label, shells in (("builtin", 3), ("ours", 1)):
            core_rows = entry[label]["rows"]
            assert [r["status"] for r in core_rows] == ["ok"] * 3, (line, label, entry[label].get("errors"))
            assert sum(r["shells_created"] for r in core_rows) == shells, (line, label)
    assert all(r["wsman_requests_total"] > 0 and r["http_requests"] > 0 for r in rows)
    # the second anchor is in every figure of the run: fleet and transfer too
    assert results["s2"]["winrm_forks32"]["failed"] == 0
    assert results["s2"]["winrm_forks32"]["results"] == results["s2"]["hosts"]
    assert results["s3"]["winrm_1"]["same"] is True
    assert "## Anchors: the two builtin plugins and ours, same run" in table
    assert "| 1 MB | random | ansible.builtin.winrm |" in table
    assert results["s4"]["peak_shells_open"] == results["s4"]["hosts"]
    assert results["s4"]["peak_rss_mib"] > 0
    # scenario 6 (one-to-many at scale, here a handful of hosts): one shell per host (exact count)
    s6 = results["s6"]
    assert s6["rc"] == 0 and s6["failed"] == 0, s6.get("output")
    assert s6["totals"]["shells_created"] == s6["hosts"]
    assert s6["per_session_pss_kib"] is not None and s6["small_run"]["rc"] == 0
    # where the time goes: every fleet run is split into start-up, tasks and exit
    assert "## Where the time goes" in table and "## 6. One-to-many at scale" in table
    builtin = results["s2"]["builtin_forks32"]
    assert builtin["startup_seconds"] > 0 and builtin["teardown_seconds"] >= 0
    assert results["s2"]["ansible_baseline"]["rc"] == 0
