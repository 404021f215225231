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
            "ours_100": {"put_mb_s": 30.0, "fetch_mb_s": 14.0, "peak_rss_mib": 200.0},
            "ours_1": {"put_mb_s": 10.0, "peak_rss_mib": 120.0},
            "builtin_100": {"put_mb_s": 10.0, "fetch_mb_s": 10.0},
            "ours_100_text": {"put_mb_s": 50.0, "fetch_mb_s": 40.0},
            "builtin_100_text": {"put_mb_s": 10.0, "fetch_mb_s": 10.0},
        },
        "s4": {"hosts": 500, "rc": 0, "peak_rss_mib": 2900.0, "peak_pss_mib": 900.0, "peak_shells_open": 500},
    }
    # the per-ansible-core goals (report_cores.py) have their own test below
    got = [(g.measured, g.verdict) for g in goals(res) if not g.text.startswith("ansible-core ")]
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
        ("3.00", "PASS"),  # random put throughput >= 1.5
        ("1.40", "FAIL"),  # random fetch throughput >= 1.5
        ("5.00", "PASS"),  # text put throughput >= 5
        ("4.00", "FAIL"),  # text fetch throughput >= 5
        ("80", "FAIL"),  # memory growth < 50 MiB
        ("900", "PASS"),  # 500 sessions < 1 GiB
    ]


def test_post_reply_goal_counts_warm_tasks_not_the_first_tasks_orphan_check() -> None:
    """The first task's once-per-host orphan-shell Enumerate (the "all" row: 21 deferred requests
    over 20 tasks) does not fail the per-warm-task goal; a warm kind sending two does."""

    def verdict(deferred: dict[str, float]) -> tuple[str, bool | None]:
        summary = {kind: {"wsman_deferred": value} for kind, value in deferred.items()}
        (goal,) = [g for g in goals({"s1_flat": {"ours": {"summary": summary}}}) if "post-reply" in g.text]
        return goal.measured, goal.passed

    assert verdict({"raw": 1, "module": 1, "script": 1, "all": 1.05}) == ("1.00", True)
    assert verdict({"raw": 1, "module": 2, "script": 1, "all": 1.05}) == ("2.00", False)
    assert verdict({"raw": 1, "module": 1, "all": 1}) == ("-", None)


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


def _fake_venv(matrix: Path, name: str) -> None:
    """What cores.Core.exists() looks for: a venv's ansible-playbook and version-matrix's stamp."""
    bin_dir = matrix / name / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "ansible-playbook").write_text("#!/bin/sh\n", encoding="utf-8")
    (matrix / name / ".stamp").write_text("x\n", encoding="utf-8")


def test_cores_come_from_the_version_matrix_and_are_not_built_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cores

    entries = dict(cores.matrix_entries())
    assert "2.21" in entries and any(line.startswith("2.22") for line in entries)
    assert cores.core_for("2.22").line.startswith("2.22.")  # "2.22" names the matrix's 2.22 entry
    with pytest.raises(SystemExit, match=r"not in tools/version-matrix\.sh"):
        cores.core_for("1.9")

    monkeypatch.setenv("PSREMOTING_MATRIX_DIR", str(tmp_path))
    built: list[str] = []
    monkeypatch.setattr(cores, "build", lambda core: built.append(core.line))
    assert cores.select(None, "2.19.14") == []  # no venv yet: nothing built, nothing run
    assert cores.select(["none"], "2.19.14") == []
    _fake_venv(tmp_path, f"ansible-core-2.21-py{entries['2.21']}")
    selected = cores.select(None, "2.19.14")
    assert [c.line for c in selected] == ["2.21"] and built == []
    assert cores.not_run(tuple(selected), "2.19.14") == [e for e in entries if e != "2.21"]
    # the main venv's own line is never run twice
    assert cores.select(None, "2.21.5") == []
    # an explicit --core builds a missing venv with the matrix's recipe
    cores.select(["2.16"], "2.19.14")
    assert built == ["2.16"]
    env = selected[0].env()
    assert env["PATH"].startswith(str(selected[0].bin)) and env["ANSIBLE_PYTHON_INTERPRETER"].endswith(
        "python"
    )


def test_cores_table_and_goals_per_version() -> None:
    from report_cores import cores_goals, cores_table

    def summary(raw_bytes: int, module_bytes: int, waited: float, seconds: float) -> dict[str, object]:
        row = {"wsman_requests_total": waited + 1, "wsman_critical_path": waited, "seconds": seconds}
        return {
            "raw": {**row, "bytes": raw_bytes},
            "module_cached": {**row, "bytes": module_bytes},
            "script": {**row, "bytes": raw_bytes},
        }

    def runs(ours_module: int, builtin_seconds: float) -> dict[str, object]:
        return {
            "builtin": {"summary": summary(30_000, 260_000, 5, builtin_seconds)},
            "ours": {"summary": summary(19_000, ours_module, 2, 0.25)},
        }

    res = {
        "meta": {"ansible": "2.19.14"},
        "s1_flat": {**runs(22_000, 0.5), "cores": {"2.21": {"ansible": "2.21.5", **runs(24_000, 0.5)}}},
        "s1_latency": {
            "latency_ms": 20,
            "shell_create_ms": 800,
            **runs(22_000, 1.5),
            "cores": {"2.21": {"ansible": "2.21.5", **runs(24_000, 1.75)}},
        },
    }
    verdicts = [(g.text.split(":")[0], g.measured, g.verdict) for g in cores_goals(res)]
    assert verdicts == [
        ("ansible-core 2.19.14", "3,000", "PASS"),  # win_ping - raw <= 4 KB
        ("ansible-core 2.19.14", "2.00", "PASS"),  # requests waited for <= 3
        ("ansible-core 2.19.14", "6.00", "PASS"),  # wall ratio with latency >= 6
        ("ansible-core 2.21.5", "5,000", "FAIL"),
        ("ansible-core 2.21.5", "2.00", "PASS"),
        ("ansible-core 2.21.5", "7.00", "PASS"),
    ]
    # the wall-ratio goals say how our runs loaded the plugin, once the run recorded it
    assert not any("psrp_preload" in g.text for g in cores_goals(res))
    for preload, said in (
        (True, "ours with the opt-in vars plugin psrp_preload"),
        (False, "ours without psrp_preload"),
    ):
        latency = {**res["s1_latency"], "psrp_preload": preload}  # type: ignore[dict-item]
        texts = [g.text for g in cores_goals({**res, "s1_latency": latency}) if ">= 6x" in g.text]
        assert len(texts) == 2 and all(said in t for t in texts), texts
    rows = [line for line in cores_table(res) if line.startswith("| 2.")]
    assert [r.split(" | ")[:2] for r in rows] == [
        ["| 2.19.14", "raw"],
        ["| 2.19.14", "win_ping (exec wrapper)"],
        ["| 2.19.14", "script task"],
        ["| 2.21.5", "raw"],
        ["| 2.21.5", "win_ping (exec wrapper)"],
        ["| 2.21.5", "script task"],
    ]
    assert rows[4].split(" | ")[2:] == [
        "6.00 / 5.00",
        "3.00 / 2.00",
        "260,000",
        "24,000",
        "10.83x",
        "2.00x",
        "7.00x |",
    ]


def test_phases_table_splits_a_task_into_outside_and_worker_phases() -> None:
    from report_cores import phases_table

    phases = {
        "worker": {"wall": 0.2, "cpu": 0.06},
        "connection_load": {"wall": 0.03, "cpu": 0.02},
        "module_build": {"wall": 0.01, "cpu": 0.008},
        "exec": {"wall": 0.1, "cpu": 0.01},
    }
    res = {
        "meta": {"ansible": "2.19.14"},
        "s1_latency": {
            "latency_ms": 20,
            "shell_create_ms": 800,
            "ours": {"summary": {"module_cached": {"seconds": 0.25, "phases": phases}}},
        },
    }
    rows = [line for line in phases_table(res) if line.startswith("| 2.19.14 | win_ping")]
    ours = next(r for r in rows if "psremoting.core.psrp" in r)
    # task 250, outside 250-200, then wall / CPU: load, build, exec, rest = worker - the three
    assert ours.split(" | ")[3:] == ["250", "50", "30 / 20", "10 / 8", "100 / 10", "60 / 22 |"]
    builtin = next(r for r in rows if "ansible.builtin.psrp" in r)
    assert builtin.split(" | ")[3:5] == ["-", "-"]
