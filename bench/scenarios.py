# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark scenarios. Each returns a JSON-ready dict; report.py turns them into tables.

All comparisons are made inside one bench/run invocation, on the same winhost processes, so
ratios are meaningful even when absolute times on a shared machine are not.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import statistics
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_runs import (
    BUILTIN,
    OURS,
    WINRM,
    RunResult,
    playbook_cmd,
    preloading,
    run_measured,
    write_playbook,
)
from cores import Core
from memory import mib
from winhost_server import Fleet, WinhostServer


class PeakShells:
    """The most shells open at once on ``hosts`` while the ``with`` block runs (polled every
    0.5 s from a thread; a missed poll only lowers the reading)."""

    def __init__(self, hosts: Fleet) -> None:
        self.hosts = hosts
        self.value = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):
                self.value = max(self.value, self.hosts.totals()["shells_open"])

    def __enter__(self) -> PeakShells:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


SCRIPT = "Get-Service -Name WinRM"
#: sitecustomize that times the phases of each task inside ansible-playbook's worker (scenario 1)
PHASE_TIMER = Path(__file__).resolve().parent / "phase_timer"
#: Every per-task and transfer figure is measured for each of these, in the same run: the two
#: anchors (ansible-core's psrp and winrm plugins) and ours.
PLUGINS = (("builtin", BUILTIN), ("winrm", WINRM), ("ours", OURS))
COUNTERS = ("wsman_requests_total", "http_requests", "bytes_in", "bytes_out", "shells_created")
DERIVED = ("wsman_critical_path", "wsman_deferred")


@dataclass(frozen=True)
class Mode:
    name: str
    tasks: int  # scenario 1 playbook length
    fleet_hosts: int
    session_hosts: int
    #: scenario 6: one-to-many over this many hosts (throttle_limit ``scale_throttle``)
    scale_hosts: int
    transfer_sizes_mb: tuple[int, ...]
    latency_ms: int = 20
    shell_create_ms: int = 800
    latency_run: bool = True
    fleet_runs: tuple[str, ...] = (
        "builtin_forks32",
        "winrm_forks32",
        "ours_forks32",
        "ours_invoke_forks32",
        "ours_one_to_many",
        "builtin_forks32_10tasks",
        "ours_invoke_forks32_10tasks",
    )
    #: the same fleet runs again with the latency model of scenario 1b on every host
    fleet_latency_runs: tuple[str, ...] = (
        "builtin_forks32",
        "winrm_forks32",
        "ours_one_to_many",
        "ours_one_to_many_t100",
    )
    #: each fleet run is repeated, interleaved, and the run with the median wall time is reported
    fleet_repeats: int = 3
    #: each transfer (put + fetch, per plugin) is repeated; the median of each throughput is reported
    transfer_repeats: int = 3
    scale_throttle: int = 100
    #: scenario 7: module tasks per plugin run (C# compiles and assemblies per process)
    csharp_tasks: int = 200


MODES = {
    "quick": Mode(
        "quick",
        tasks=3,
        fleet_hosts=3,
        session_hosts=4,
        scale_hosts=4,
        transfer_sizes_mb=(1,),
        latency_run=False,
        fleet_runs=("builtin_forks32", "winrm_forks32", "ours_one_to_many"),
        fleet_latency_runs=(),
        fleet_repeats=1,
        transfer_repeats=1,
        csharp_tasks=4,
    ),
    "medium": Mode(
        "medium", tasks=20, fleet_hosts=100, session_hosts=200, scale_hosts=1000, transfer_sizes_mb=(1, 20)
    ),
    "full": Mode(
        "full", tasks=20, fleet_hosts=100, session_hosts=500, scale_hosts=1000, transfer_sizes_mb=(1, 100)
    ),
}


def builtin_script_module() -> str:
    """ansible.windows.win_powershell when winhost answers it, else win_shell (same script)."""
    if importlib.util.find_spec("winhost.engine.ansible_modules.win_powershell") is not None:
        return "ansible.windows.win_powershell"
    return "ansible.windows.win_shell"


def _kinds(total: int) -> list[str]:
    raw = max(1, round(total * 7 / 20))
    module = max(1, round(total * 7 / 20))
    return ["raw"] * raw + ["module"] * module + ["script"] * (total - raw - module)


def _task_yaml(kind: str, connection: str, index: int) -> str:
    name = f"{kind} {index:02d}"
    if kind == "raw":
        return f"- name: {name}\n  raw: {SCRIPT}\n"
    if kind == "module":
        return f"- name: {name}\n  ansible.windows.win_ping:\n"
    if connection == OURS:
        return f"- name: {name}\n  psremoting.core.invoke_command:\n    script: '{SCRIPT}'\n"
    module = builtin_script_module()
    if module.endswith("win_powershell"):
        return f"- name: {name}\n  {module}:\n    script: '{SCRIPT}'\n"
    return f"- name: {name}\n  {module}: '{SCRIPT}'\n"


def _delta(record: dict[str, Any], key: str) -> int:
    before, after = record.get("before") or {}, record.get("after") or {}
    return int(after.get(key, 0)) - int(before.get(key, 0))


def _per_task(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        kind = rec["name"].split()[0]
        row = {
            "name": rec["name"],
            "kind": kind,
            "status": rec["status"],
            "seconds": rec["seconds"],
            "msg": rec.get("msg", ""),
            "phases": rec.get("phases"),
        }
        for key in COUNTERS:
            row[key] = _delta(rec, key)
        row["wsman_by_action"] = {
            action: int((rec.get("after") or {}).get("wsman_requests", {}).get(action, 0))
            - int((rec.get("before") or {}).get("wsman_requests", {}).get(action, 0))
            for action in ((rec.get("after") or {}).get("wsman_requests") or {})
        }
        row["wsman_by_action"] = {k: v for k, v in row["wsman_by_action"].items() if v}
        # psremoting.core.psrp releases a finished pipeline with a Signal (terminate) after the task
        # already has its reply, as PowerShell's own client and pypsrp do; ansible.builtin.psrp
        # sends none (it deletes the shell). Once per host, after the first task's reply, it also
        # looks for shells a killed broker left (one Enumerate). The task waits for the others.
        row["wsman_deferred"] = sum(row["wsman_by_action"].get(a, 0) for a in ("Signal", "Enumerate"))
        row["wsman_critical_path"] = row["wsman_requests_total"] - row["wsman_deferred"]
        rows.append(row)
    return rows


def _phase_means(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean wall and CPU seconds of each worker phase (bench/phase_timer) over ``rows``."""
    timed = [r["phases"] for r in rows if r.get("phases")]
    names = sorted({phase for phases in timed for phase in phases})
    return {
        phase: {
            "wall": statistics.mean(p.get(phase, [0.0, 0.0])[0] for p in timed),
            "cpu": statistics.mean(p.get(phase, [0.0, 0.0])[1] for p in timed),
        }
        for phase in names
    }


def _read_phases(path: Path) -> dict[str, dict[str, list[float]]]:
    """task name -> phase -> [wall, cpu] (one line per worker; the last of a name wins)."""
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {str(r["task"]): r["phases"] for r in records}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind, mean over warm tasks (every task but the first of the playbook)."""
    out: dict[str, Any] = {}
    warm = rows[1:]
    modules = [r for r in rows if r["kind"] == "module"]
    # module_cached: every module task but the session's first (which, with ours, sends the code)
    for kind, sel in [(k, [r for r in warm if r["kind"] == k]) for k in ("raw", "module", "script")] + [
        ("module_cached", modules[1:])
    ]:
        if not sel:
            continue
        out[kind] = {key: statistics.mean(r[key] for r in sel) for key in (*COUNTERS, *DERIVED, "seconds")}
        out[kind]["bytes"] = out[kind]["bytes_in"] + out[kind]["bytes_out"]
        out[kind]["failed"] = sum(1 for r in sel if r["status"] != "ok")
        out[kind]["wsman_by_action"] = sel[-1]["wsman_by_action"]
        out[kind]["n"] = len(sel)
        out[kind]["phases"] = _phase_means(sel)
    if rows:
        out["all"] = {key: statistics.mean(r[key] for r in rows) for key in (*COUNTERS, *DERIVED, "seconds")}
        out["all"]["bytes"] = out["all"]["bytes_in"] + out["all"]["bytes_out"]
        out["first"] = {key: rows[0][key] for key in (*COUNTERS, "seconds")}
    return out


def per_task_cost(
    workdir: Path, mode: Mode, server: WinhostServer, latency: bool, cores: tuple[Core, ...] = ()
) -> dict[str, Any]:
    """Scenario 1: a playbook of raw, win_ping and script tasks on one host, each plugin of PLUGINS;
    then both psrp plugins again under each other ansible-core of ``cores`` (``cores`` key)."""
    if latency:
        server.set_latency(mode.latency_ms, mode.shell_create_ms)
    else:
        server.set_latency(0, 0)
    result: dict[str, Any] = {
        "latency_ms": mode.latency_ms if latency else 0,
        "shell_create_ms": mode.shell_create_ms if latency else 0,
        "tasks": mode.tasks,
        "builtin_script_module": builtin_script_module(),
        "psrp_preload": preloading(),
    }
    try:
        for label, connection in PLUGINS:
            result[label] = _per_task_run(workdir, mode, server, latency, connection=connection, core=None)
        for core in cores:
            entry: dict[str, Any] = {"ansible": core.version(), "python": core.python, "venv": str(core.venv)}
            for label, connection in (("builtin", BUILTIN), ("ours", OURS)):
                entry[label] = _per_task_run(workdir, mode, server, latency, connection=connection, core=core)
            result.setdefault("cores", {})[core.line] = entry
    finally:
        server.set_latency(0, 0)
    return result


def _per_task_run(
    workdir: Path, mode: Mode, server: WinhostServer, latency: bool, *, connection: str, core: Core | None
) -> dict[str, Any]:
    """One scenario-1 playbook over ``connection``, from the main venv or ``core``'s."""
    host = server.names[0]
    tasks = "".join(_task_yaml(k, connection, i) for i, k in enumerate(_kinds(mode.tasks), 1))
    name = connection.replace(".", "-") + (f"-{core.line}" if core else "")
    pb = write_playbook(workdir / f"s1-{name}-{int(latency)}.yml", host, tasks)
    phase_log = workdir / f"phases-{name}-{int(latency)}.jsonl"
    env = {
        "BENCH_STATS_HOST": host,
        "BENCH_WINHOST_CONTROL": str(server.control_path),
        "BENCH_PHASE_LOG": str(phase_log),
        "PYTHONPATH": os.pathsep.join(p for p in (str(PHASE_TIMER), os.environ.get("PYTHONPATH", "")) if p),
    }
    env.update(core.env() if core else {})
    run = run_measured(
        playbook_cmd(server.inventory, pb, connection, forks=1, bin_dir=core.bin if core else None),
        workdir,
        env,
        server_pids=server.pids,
    )
    phases = _read_phases(phase_log)
    for rec in run.tasks:
        rec["phases"] = phases.get(rec["name"])
    rows = _per_task(run.tasks)
    out: dict[str, Any] = {
        "rc": run.rc,
        "wall_seconds": run.wall_seconds,
        "controller_cpu_seconds": run.controller_cpu_seconds,
        "server_cpu_seconds": run.server_cpu_seconds,
        "peak_rss_mib": mib(run.peak_rss_kib),
        "rows": rows,
        "summary": _summary(rows),
        "errors": sorted({r["msg"] for r in rows if r["status"] != "ok"})[:3],
    }
    if run.rc != 0 and not rows:
        out["output"] = run.output[-1500:]
    return out


def _fleet_run(
    fleet: Fleet,
    workdir: Path,
    name: str,
    *,
    connection: str,
    tasks: str,
    hosts: str,
    forks: int,
    limit: str | None,
) -> dict[str, Any]:
    pb = write_playbook(workdir / f"{name}.yml", hosts, tasks)
    extra = ["--limit", limit] if limit else []
    fleet.reset_stats()
    run = run_measured(
        playbook_cmd(fleet.inventory, pb, connection, forks=forks, extra=extra),
        workdir,
        server_pids=fleet.pids,
    )
    totals = fleet.totals()
    return _run_dict(run, totals)


def _run_dict(run: RunResult, totals: dict[str, int]) -> dict[str, Any]:
    results = run.tasks
    return {
        "rc": run.rc,
        "wall_seconds": run.wall_seconds,
        "task_seconds": (max(r["t"] for r in results) - min(r["t"] - r["seconds"] for r in results))
        if results
        else None,
        "peak_rss_mib": mib(run.peak_rss_kib),
        "peak_pss_mib": mib(run.peak_pss_kib),
        "peak_processes": run.peak_processes,
        "peak_broker_rss_mib": mib(run.peak_broker_rss_kib),
        "controller_cpu_seconds": run.controller_cpu_seconds,
        "broker_cpu_seconds": run.broker_cpu_seconds,
        "server_cpu_seconds": run.server_cpu_seconds,
        "cleanup_seconds": run.cleanup_seconds,
        # where the wall time goes: ansible-playbook start-up (process start to first task start),
        # then the tasks, then its exit (last result to process exit)
        "startup_seconds": (min(run.task_starts) - run.started_at) if run.task_starts else None,
        "teardown_seconds": (run.started_at + run.wall_seconds - max(r["t"] for r in results))
        if results
        else None,
        "results": len(results),
        "failed": len(run.failed_tasks),
        "errors": sorted({str(r.get("msg", "")) for r in run.failed_tasks})[:3],
        "totals": totals,
        "output": run.output[-1500:] if run.rc != 0 else "",
    }


def _median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (all its figures come from that one run), plus every
    run's wall time; a failed run is reported instead when there is one."""
    failed = [r for r in results if r["rc"] != 0 or r["failed"]]
    ordered = sorted(results, key=lambda r: r["wall_seconds"])
    chosen = dict(failed[0] if failed else ordered[(len(ordered) - 1) // 2])
    chosen["wall_seconds_all"] = [r["wall_seconds"] for r in results]
    return chosen


def fleet(workdir: Path, mode: Mode, hosts: Fleet) -> dict[str, Any]:
    """Scenario 2: one task on N hosts, forks=32 per plugin vs invoke_command one-to-many."""
    count = mode.fleet_hosts
    limit = f"windows[0:{count - 1}]"
    raw = f"- raw: {SCRIPT}\n"
    invoke = f"- psremoting.core.invoke_command:\n    script: '{SCRIPT}'\n"

    def one_to_many(throttle: int) -> str:
        # From the controller (a play on localhost): each target with its own inventory settings.
        return one_to_many_tasks(count, throttle)

    runs = {
        "builtin_forks32": (BUILTIN, raw, "windows", 32, limit),
        "winrm_forks32": (WINRM, raw, "windows", 32, limit),
        "ours_forks32": (OURS, raw, "windows", 32, limit),
        "ours_invoke_forks32": (OURS, invoke, "windows", 32, limit),
        # a 10-task play per host: where persistent sessions pay at fleet scale
        "builtin_forks32_10tasks": (BUILTIN, raw * 10, "windows", 32, limit),
        "ours_invoke_forks32_10tasks": (OURS, invoke * 10, "windows", 32, limit),
        "ours_one_to_many": (OURS, one_to_many(32), "localhost", 1, None),
        # throttle 100: what fits in the controller memory the builtin's forks=32 takes
        "ours_one_to_many_t100": (OURS, one_to_many(100), "localhost", 1, None),
    }
    out: dict[str, Any] = {
        "hosts": count,
        "latency_ms": mode.latency_ms,
        "shell_create_ms": mode.shell_create_ms,
        "ansible_baseline": ansible_baseline(workdir, hosts),
    }
    plan = [(key, key, False) for key in mode.fleet_runs]
    plan += [(f"{key}_latency", key, True) for key in mode.fleet_latency_runs]
    attempts: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in plan}
    # Rounds rather than back-to-back repeats: a burst of load from elsewhere on the machine then
    # touches every configuration once instead of one configuration three times.
    for _round in range(max(1, mode.fleet_repeats)):
        for label, key, latency in plan:
            connection, tasks, pattern, forks, lim = runs[key]
            hosts.set_latency(mode.latency_ms if latency else 0, mode.shell_create_ms if latency else 0)
            try:
                attempts[label].append(
                    _fleet_run(
                        hosts,
                        workdir,
                        f"s2-{label}",
                        connection=connection,
                        tasks=tasks,
                        hosts=pattern,
                        forks=forks,
                        limit=lim,
                    )
                )
            finally:
                hosts.set_latency(0, 0)
    for label, results in attempts.items():
        out[label] = _median_run(results)
    return out


def ansible_baseline(workdir: Path, hosts: Fleet) -> dict[str, Any]:
    """ansible-playbook alone on the same inventory (one no-op task on localhost): its start-up,
    inventory parsing and exit, the part of every run that no connection plugin changes."""
    pb = write_playbook(
        workdir / "s-baseline.yml", "localhost", "- meta: noop\n- debug:\n    msg: baseline\n"
    )
    return _run_dict(run_measured(playbook_cmd(hosts.inventory, pb, OURS, forks=1), workdir), {})


def one_to_many_tasks(count: int, throttle: int) -> str:
    """A one-to-many invoke_command from the controller over the first ``count`` hosts."""
    return (
        "- psremoting.core.invoke_command:\n"
        f"    script: '{SCRIPT}'\n"
        f"    computer_name: \"{{{{ groups['windows'][:{count}] }}}}\"\n"
        f"    throttle_limit: {throttle}\n"
        "  register: r\n"
        "- assert:\n"
        f"    that: r.hosts | length == {count}\n"
    )


def fleet_scale(workdir: Path, mode: Mode, hosts: Fleet) -> dict[str, Any]:
    """Scenario 6: one-to-many over ``mode.scale_hosts`` hosts from one controller: wall, CPU,
    peak memory, and memory per live session (the same run over a few hosts subtracted)."""
    count, throttle = mode.scale_hosts, mode.scale_throttle

    def run(size: int) -> dict[str, Any]:
        pb = write_playbook(workdir / f"s6-{size}.yml", "localhost", one_to_many_tasks(size, throttle))
        hosts.reset_stats()
        return _run_dict(
            run_measured(playbook_cmd(hosts.inventory, pb, OURS, forks=1), workdir, server_pids=hosts.pids),
            hosts.totals(),
        )

    # a small run over ``base`` hosts is subtracted: it already pays for every broker process
    # (one per shard) and for ansible-playbook, so what is left is the cost of more sessions
    base = max(1, min(10, count // 2))
    one = run(base)
    with PeakShells(hosts) as peak:
        out = run(count)
    out.update(hosts=count, throttle_limit=throttle, peak_shells_open=peak.value, small_run=one)
    out["small_run_hosts"] = base
    if count > base and out["rc"] == 0:
        extra = count - base
        out["per_session_pss_kib"] = (out["peak_pss_mib"] - one["peak_pss_mib"]) * 1024 / extra
        out["per_session_broker_rss_kib"] = (
            (out["peak_broker_rss_mib"] - one["peak_broker_rss_mib"]) * 1024 / extra
        )
        out["controller_cpu_ms_per_host"] = 1000 * out["controller_cpu_seconds"] / count
        out["broker_cpu_ms_per_host"] = 1000 * out["broker_cpu_seconds"] / count
        out["server_cpu_ms_per_host"] = 1000 * out["server_cpu_seconds"] / count
    return out


def _write_payload(path: Path, size_mb: int, kind: str) -> None:
    """``random``: incompressible (like zip, msi, media; the worst case for compression).
    ``text``: log-like lines, about 5x compressible with deflate (like logs, scripts, config)."""
    with open(path, "wb") as handle:
        if kind == "random":
            for _ in range(size_mb):
                handle.write(os.urandom(1 << 20))
            return
        rng = random.Random(size_mb)
        words = [b"service", b"started", b"WinRM", b"listener", b"HTTPS", b"5986", b"ok", b"user", b"warning"]
        block = bytearray()
        while len(block) < 1 << 20:
            block += b"2026-11-22T%02d:%02d:%02d.%03d " % (
                rng.randrange(24),
                rng.randrange(60),
                rng.randrange(60),
                rng.randrange(1000),
            )
            block += b" ".join(rng.choice(words) for _ in range(rng.randrange(4, 12))) + b"\r\n"
        for _ in range(size_mb):  # deflate's 32 KiB window never reaches back a whole MiB
            handle.write(block[: 1 << 20])


def _wsman_snapshot(server: WinhostServer, host: str) -> dict[str, int]:
    snap = server.stats(host).get(host, {})
    out = {f"wsman_{k}": int(v) for k, v in (snap.get("wsman_requests") or {}).items()}
    out.update({k: int(snap.get(k, 0)) for k in ("bytes_in", "bytes_out", "http_requests")})
    return out


def _transfer_once(
    workdir: Path,
    server: WinhostServer,
    *,
    connection: str,
    label: str,
    size: int,
    local: Path,
) -> dict[str, Any]:
    host = server.names[0]
    driver = Path(__file__).with_name("transfer_driver.py")
    fetched = workdir / f"fetched-{label}-{size}.bin"
    before = _wsman_snapshot(server, host)
    run = run_measured(
        [
            sys.executable,
            str(driver),
            connection,
            str(server.inventory),
            host,
            str(local),
            f"C:\\bench-{label}-{size}.bin",
            str(fetched),
        ],
        workdir,
        server_pids=server.pids,
    )
    after = _wsman_snapshot(server, host)
    entry: dict[str, Any] = {
        "peak_broker_rss_mib": mib(run.peak_broker_rss_kib),
        "rc": run.rc,
        "peak_rss_mib": mib(run.peak_rss_kib),
        "peak_pss_mib": mib(run.peak_pss_kib),
        # put and fetch together, exact from winhost's counters
        "wsman_send": after.get("wsman_Send", 0) - before.get("wsman_Send", 0),
        "wsman_receive": after.get("wsman_Receive", 0) - before.get("wsman_Receive", 0),
        "bytes_in": after.get("bytes_in", 0) - before.get("bytes_in", 0),
        "bytes_out": after.get("bytes_out", 0) - before.get("bytes_out", 0),
        # CPU of put and fetch together (and of starting the driver): on a loaded machine the
        # throughput follows these more than the wall time
        "controller_cpu_seconds": run.controller_cpu_seconds,
        "server_cpu_seconds": run.server_cpu_seconds,
    }
    line = run.output.strip().splitlines()[-1] if run.output.strip() else ""
    if run.rc == 0 and line.startswith("{"):
        data = json.loads(line)
        entry.update(data)
        entry["put_mb_s"] = size / data["put_seconds"]
        entry["fetch_mb_s"] = size / data["fetch_seconds"]
    else:
        entry["error"] = run.output.strip().splitlines()[-1][:300] if run.output.strip() else "?"
    fetched.unlink(missing_ok=True)
    return entry


def file_transfer(workdir: Path, mode: Mode, server: WinhostServer) -> dict[str, Any]:
    """Scenario 3: put_file then fetch_file of each size through each plugin directly; random
    (incompressible) data at every size, log-like text at the largest size. Each transfer is
    repeated ``mode.transfer_repeats`` times in rounds; the throughputs are medians."""
    sizes = list(mode.transfer_sizes_mb)
    cases = [(size, "random") for size in sizes] + [(max(sizes), "text")]
    out: dict[str, Any] = {"sizes_mb": sizes, "cases": [f"{size}_{kind}" for size, kind in cases]}
    for size, kind in cases:
        local = workdir / f"payload-{size}m-{kind}.bin"
        _write_payload(local, size, kind)
        attempts: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in PLUGINS}
        # in rounds, like the fleet runs: a burst of load elsewhere hits every plugin
        for _round in range(max(1, mode.transfer_repeats)):
            for label, connection in PLUGINS:
                attempts[label].append(
                    _transfer_once(
                        workdir, server, connection=connection, label=label, size=size, local=local
                    )
                )
        for label, runs in attempts.items():
            entry = dict(runs[0])
            entry["kind"] = kind
            for key in ("put_mb_s", "fetch_mb_s"):
                values = [r[key] for r in runs if key in r]
                if values:
                    entry[key] = statistics.median(values)
                    entry[f"{key}_all"] = values
            failed = [r for r in runs if "error" in r or r.get("rc")]
            if failed:
                entry.update(failed[0])
            entry["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
            out[f"{label}_{size}" + ("" if kind == "random" else f"_{kind}")] = entry
        local.unlink(missing_ok=True)
    return out


def session_scale(workdir: Path, mode: Mode, hosts: Fleet) -> dict[str, Any]:
    """Scenario 4: N live persistent sessions; controller memory while they are all open."""
    count = mode.session_hosts
    tasks = (
        f"- raw: {SCRIPT}\n"
        "- name: hold the sessions open while memory is sampled\n"
        "  ansible.builtin.pause:\n    seconds: 3\n"
        "  run_once: true\n"
    )
    pb = write_playbook(workdir / "s4.yml", "windows", tasks)
    hosts.reset_stats()
    with PeakShells(hosts) as peak:
        run = run_measured(
            playbook_cmd(
                hosts.inventory,
                pb,
                OURS,
                forks=32,
                extra=["--limit", f"windows[0:{count - 1}]", "-e", "ansible_psrp_session_idle_timeout=900"],
            ),
            workdir,
        )
    out = _run_dict(run, hosts.totals())
    out["hosts"] = count
    out["peak_shells_open"] = peak.value
    return out


def payload(s1: dict[str, Any]) -> dict[str, Any]:
    """Scenario 5: bytes per warm task, exec-wrapper module vs our pipeline module (from s1)."""
    b = s1.get("builtin", {}).get("summary", {})
    w = s1.get("winrm", {}).get("summary", {})
    o = s1.get("ours", {}).get("summary", {})
    ours_modules = [r for r in s1.get("ours", {}).get("rows", []) if r.get("kind") == "module"]
    return {
        "builtin_win_ping": b.get("module", {}).get("bytes_in"),
        "winrm_win_ping": w.get("module", {}).get("bytes_in"),
        "winrm_script": w.get("script", {}).get("bytes_in"),
        "ours_win_ping": o.get("module", {}).get("bytes_in"),
        # ours caches the module code in the session (psrp/_payload.py): the first module task of
        # a session sends it, the later ones send hashes plus arguments
        "ours_win_ping_first": ours_modules[0]["bytes_in"] if ours_modules else None,
        "ours_win_ping_cached": (
            statistics.mean(r["bytes_in"] for r in ours_modules[1:]) if len(ours_modules) > 1 else None
        ),
        "ours_invoke_command": o.get("script", {}).get("bytes_in"),
        "builtin_script": b.get("script", {}).get("bytes_in"),
        "builtin_script_module": s1.get("builtin_script_module"),
    }


def csharp_compiles(workdir: Path, mode: Mode, server: WinhostServer) -> dict[str, Any]:
    """Scenario 7: ``mode.csharp_tasks`` win_ping tasks (Ansible.Basic.cs) per psrp plugin: the
    C# compiles of Ansible's Add-CSharpType that winhost counts, and the most compiled assemblies
    one shell process held (they cannot be unloaded). The builtin's process is new per task;
    ours replaces its shell every MODULE_TASKS_PER_SHELL module tasks."""
    host = server.names[0]
    server.set_latency(0, 0)
    result: dict[str, Any] = {"tasks": mode.csharp_tasks}
    task = "- name: module {:03d}\n  ansible.windows.win_ping:\n"
    tasks = "".join(task.format(i) for i in range(mode.csharp_tasks))
    for label, connection in (("builtin", BUILTIN), ("ours", OURS)):
        pb = write_playbook(workdir / f"s7-{label}.yml", host, tasks)
        server.reset_stats()
        run = run_measured(playbook_cmd(server.inventory, pb, connection, forks=1), workdir, {})
        snap = server.stats(host).get(host, {})
        compiles = int(snap.get("csharp_compiles", 0))
        result[label] = {
            "rc": run.rc,
            "wall_seconds": run.wall_seconds,
            "csharp_compiles": compiles,
            "compiles_per_task": compiles / mode.csharp_tasks if mode.csharp_tasks else None,
            "assemblies_per_process_peak": int(snap.get("assemblies_per_process_peak", 0)),
            "shells_created": int(snap.get("shells_created", 0)),
        }
    return result
