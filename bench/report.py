# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn scenario results into bench/results/latest.md (tables + goals) and a matplotlib chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = (("raw", "raw"), ("module", "win_ping (exec wrapper)"), ("script", "script task"))
#: The plugins every per-task and transfer figure is shown for (scenarios.PLUGINS), in column order.
PLUGIN_NAMES = (
    ("builtin", "ansible.builtin.psrp"),
    ("winrm", "ansible.builtin.winrm"),
    ("ours", "psremoting.core.psrp"),
)


@dataclass
class Goal:
    text: str
    measured: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")


def _get(data: Any, *path: Any) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _fmt(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return format(value, spec)
    return str(value)


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b == 0:
        return None
    return float(a) / float(b)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def per_task_table(s1: dict[str, Any]) -> list[str]:
    script_mod = s1.get("builtin_script_module", "")
    lines = [
        f"Latency {s1['latency_ms']} ms per HTTP request, {s1['shell_create_ms']} ms per shell Create; "
        f"{s1['tasks']} tasks on 1 host, forks=1. Means over warm tasks (all but the first task of the "
        f"playbook). Script task of the builtin plugins: `{script_mod}`; ours: "
        "`psremoting.core.invoke_command`.",
        "",
        "| task kind | metric | ansible.builtin.psrp | ansible.builtin.winrm | psremoting.core.psrp "
        "| builtin psrp / ours | builtin winrm / ours |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    metrics: list[tuple[str, str, str]] = [
        ("wsman_requests_total", "WSMan requests / task", ".2f"),
        ("wsman_critical_path", "  of which the task waits for", ".2f"),
        ("wsman_deferred", "  of which sent after the reply (pipeline release, orphan check)", ".2f"),
        ("http_requests", "HTTP requests / task (auth legs incl.)", ".2f"),
        ("bytes", "bytes on the wire / task", ",.0f"),
        ("seconds", "wall time / task (s)", ".3f"),
    ]
    for kind, label in (*KINDS, ("all", "all tasks (incl. first)")):
        for key, name, spec in metrics:
            b = _get(s1, "builtin", "summary", kind, key)
            w = _get(s1, "winrm", "summary", kind, key)
            o = _get(s1, "ours", "summary", kind, key)
            lines.append(
                f"| {label} | {name} | {_fmt(b, spec)} | {_fmt(w, spec)} | {_fmt(o, spec)} "
                f"| {_x(_ratio(b, o))} | {_x(_ratio(w, o))} |"
            )
    for label, _ in PLUGIN_NAMES:
        errs = _get(s1, label, "errors")
        if errs:
            lines.append(f"\n{label}: failed tasks: {'; '.join(errs)}")
    actions = []
    for kind, label in KINDS:
        cells = [_get(s1, p, "summary", kind, "wsman_by_action") or "-" for p, _ in PLUGIN_NAMES]
        actions.append(_row(label, *cells))
    lines += [
        "",
        "WSMan requests of the last warm task of each kind, by action:",
        "",
        "| task kind | ansible.builtin.psrp | ansible.builtin.winrm | psremoting.core.psrp |",
        "| --- | --- | --- | --- |",
        *actions,
    ]
    return lines


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _failed(r: dict[str, Any]) -> str:
    return f"{r['failed']}" + (f" (rc {r['rc']})" if r.get("rc") else "")


FLEET_RUNS = {
    "builtin_forks32": "ansible.builtin.psrp, raw, forks=32",
    "winrm_forks32": "ansible.builtin.winrm, raw, forks=32",
    "ours_forks32": "psremoting.core.psrp, raw, forks=32",
    "ours_invoke_forks32": "psremoting.core.invoke_command per host, forks=32",
    "ours_one_to_many": "psremoting.core.invoke_command one-to-many from localhost, throttle_limit=32",
    "builtin_forks32_10tasks": "ansible.builtin.psrp, 10 raw tasks per host, forks=32",
    "ours_invoke_forks32_10tasks": "psremoting.core.invoke_command, 10 tasks per host, forks=32",
    "ours_one_to_many_t100": "psremoting.core.invoke_command one-to-many from localhost, throttle_limit=100",
}


def fleet_table(s2: dict[str, Any]) -> list[str]:
    lines = [
        f"One task on {s2['hosts']} hosts. Wall = ansible-playbook start to exit (Python start "
        "included); task = first task start to last result. Controller CPU = user + system seconds "
        "of ansible-playbook, its forks and the session brokers (until they exited after deleting "
        "their shells); simulated hosts CPU = the winhost processes' CPU in the same interval (on a "
        "real fleet that work runs on the Windows machines themselves, here it shares the controller's "
        "CPUs). Memory = sum over every controller process, sampled every 0.1 s. Each run is "
        'repeated (in rounds) and the one with the median wall time is shown; "all walls" lists '
        "every repetition. The ratio compares with the builtin run under the same latency.",
        "",
        _row(
            "run",
            "latency",
            "wall (s)",
            "all walls (s)",
            "task (s)",
            "controller CPU (s)",
            "of which brokers (s)",
            "simulated hosts CPU (s)",
            "peak RSS sum (MiB)",
            "peak PSS sum (MiB)",
            "processes",
            "WSMan requests",
            "failed",
            "builtin psrp forks=32 wall / this",
            "builtin winrm forks=32 wall / this",
        ),
        "| --- | --- |" + " ---: |" * 13,
    ]
    latency = f"{s2.get('latency_ms', 20)} ms + {s2.get('shell_create_ms', 800)} ms create"
    for suffix, label in (("", "none"), ("_latency", latency)):
        base = _get(s2, "builtin_forks32" + suffix, "wall_seconds")
        base_winrm = _get(s2, "winrm_forks32" + suffix, "wall_seconds")
        for key, name in FLEET_RUNS.items():
            r = s2.get(key + suffix)
            if not r:
                continue
            lines.append(
                _row(
                    name,
                    label,
                    _fmt(r["wall_seconds"], ".2f"),
                    " / ".join(f"{w:.1f}" for w in r.get("wall_seconds_all") or []) or "-",
                    _fmt(r["task_seconds"], ".2f"),
                    _fmt(r.get("controller_cpu_seconds"), ".1f"),
                    _fmt(r.get("broker_cpu_seconds"), ".1f"),
                    _fmt(r.get("server_cpu_seconds"), ".1f"),
                    _fmt(r["peak_rss_mib"], ".0f"),
                    _fmt(r["peak_pss_mib"], ".0f"),
                    r["peak_processes"],
                    r["totals"].get("wsman_requests_total", "-"),
                    _failed(r),
                    _x(_ratio(base, r["wall_seconds"])),
                    _x(_ratio(base_winrm, r["wall_seconds"])),
                )
            )
    for key in s2:
        errs = _get(s2, key, "errors")
        if errs:
            lines.append(f"\n{key}: {'; '.join(errs)}")
    return lines


def transfer_table(s3: dict[str, Any]) -> list[str]:
    lines = [
        "put_file then fetch_file through the connection plugin directly (no module), from a "
        "separate controller process; memory = that process plus the broker. Random data cannot "
        "be compressed (like zip, msi or media files); text is log-like lines (like logs, scripts "
        "and configuration), which our put_file sends deflate-compressed. Sends and bytes are "
        "winhost's exact counts for the put and the fetch together (one repetition). In the full "
        "mode each transfer is repeated three times, in rounds, and throughputs are medians.",
        "",
        _row(
            "size",
            "data",
            "plugin",
            "put (MB/s)",
            "fetch (MB/s)",
            "WSMan Sends",
            "bytes to host",
            "peak RSS sum (MiB)",
            "content equal",
            "note",
        ),
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    cases = s3.get("cases") or [f"{size}_random" for size in s3.get("sizes_mb", [])]
    for case in cases:
        size, _, kind = case.partition("_")
        suffix = "" if kind == "random" else f"_{kind}"
        for label, name in PLUGIN_NAMES:
            r = s3.get(f"{label}_{size}{suffix}", {})
            lines.append(
                _row(
                    f"{size} MB",
                    kind,
                    name,
                    _fmt(r.get("put_mb_s"), ".2f"),
                    _fmt(r.get("fetch_mb_s"), ".2f"),
                    _fmt(r.get("wsman_send"), ",.0f"),
                    _fmt(r.get("bytes_in"), ",.0f"),
                    _fmt(r.get("peak_rss_mib"), ".0f"),
                    r.get("same", "-"),
                    str(r.get("error", ""))[:160],
                )
            )
    return lines


def session_table(s4: dict[str, Any]) -> list[str]:
    return [
        f"{s4['hosts']} hosts, psremoting.core.psrp, forks=32, one raw task then a 3 s pause with every "
        "session still open in the broker.",
        "",
        _row(
            "live sessions (peak open shells on winhost)",
            "peak RSS sum (MiB)",
            "peak PSS sum (MiB)",
            "broker RSS (MiB)",
            "processes",
            "wall (s)",
            "failed",
        ),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _row(
            s4["peak_shells_open"],
            _fmt(s4["peak_rss_mib"], ".0f"),
            _fmt(s4["peak_pss_mib"], ".0f"),
            _fmt(s4.get("peak_broker_rss_mib"), ".0f"),
            s4["peak_processes"],
            _fmt(s4["wall_seconds"], ".1f"),
            _failed(s4),
        ),
    ]


def payload_table(s5: dict[str, Any]) -> list[str]:
    script = f"`{s5.get('builtin_script_module')}` over ansible.builtin.psrp"
    return [
        "Bytes sent by the controller (winhost bytes in) for one warm task (mean over the tasks of "
        "that kind after the playbook's first task).",
        "",
        "| task | bytes sent |",
        "| --- | ---: |",
        _row("win_ping over ansible.builtin.psrp (exec wrapper)", _fmt(s5.get("builtin_win_ping"), ",.0f")),
        _row("win_ping over ansible.builtin.winrm (exec wrapper)", _fmt(s5.get("winrm_win_ping"), ",.0f")),
        _row("win_ping over psremoting.core.psrp (exec wrapper)", _fmt(s5.get("ours_win_ping"), ",.0f")),
        _row(
            "- of which the session's first module task (sends the module code)",
            _fmt(s5.get("ours_win_ping_first"), ",.0f"),
        ),
        _row(
            "- each later module task (code cached in the session: hashes + arguments)",
            _fmt(s5.get("ours_win_ping_cached"), ",.0f"),
        ),
        _row(script, _fmt(s5.get("builtin_script"), ",.0f")),
        _row(
            f"`{s5.get('builtin_script_module')}` over ansible.builtin.winrm",
            _fmt(s5.get("winrm_script"), ",.0f"),
        ),
        _row(
            "psremoting.core.invoke_command (PSRP pipeline, no wrapper)",
            _fmt(s5.get("ours_invoke_command"), ",.0f"),
        ),
        _row(
            "exec-wrapper script module / invoke_command",
            _x(_ratio(s5.get("builtin_script"), s5.get("ours_invoke_command"))),
        ),
    ]


def csharp_table(s7: dict[str, Any]) -> list[str]:
    """Scenario 7: Add-CSharpType compiles (winhost counts them; it compiles nothing itself)."""
    lines = [
        f"{s7.get('tasks')} `win_ping` tasks (Ansible.Basic.cs) per plugin, forks=1. Ansible's "
        "Add-CSharpType compiles on every module run and a loaded assembly cannot be unloaded, so "
        "a process holds one more assembly per module task it ran. winhost counts the compiles "
        "and the assemblies per shell process; it does not compile, so memory and compile time are "
        "Windows' (not measured here).",
        "",
        "| plugin | compiles | per task | most assemblies in one process | shells created | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for label, name in (("builtin", "ansible.builtin.psrp"), ("ours", "psremoting.core.psrp")):
        r = s7.get(label) or {}
        lines.append(
            _row(
                name,
                _fmt(r.get("csharp_compiles"), "d"),
                _fmt(r.get("compiles_per_task"), ".2f"),
                _fmt(r.get("assemblies_per_process_peak"), "d"),
                _fmt(r.get("shells_created"), "d"),
                _fmt(r.get("wall_seconds"), ".1f"),
            )
        )
    return lines


def _transfer_goals(s3: dict[str, Any], check: Callable[..., None]) -> None:
    """Scenario 3's goals (issue 18): throughput ratios and flat controller memory."""
    sizes = s3.get("sizes_mb") or []
    if sizes:
        big, small = max(sizes), min(sizes)
        # Issue 18: random data >= 1.5x both ways; log-like text (deflated by ours) >= 5x.
        for kind, suffix, goal in (("random (incompressible)", "", 1.5), ("log-like text", "_text", 5.0)):
            if not s3.get(f"ours_{big}{suffix}"):
                continue
            for direction in ("put", "fetch"):
                ratio = _ratio(
                    _get(s3, f"ours_{big}{suffix}", f"{direction}_mb_s"),
                    _get(s3, f"builtin_{big}{suffix}", f"{direction}_mb_s"),
                )
                check(
                    f"{direction}_file {big} MB throughput ours / builtin >= {goal:g}x, {kind} data",
                    ratio,
                    lambda v, goal=goal: v >= goal,
                )
        growth = None
        a, b = _get(s3, f"ours_{big}", "peak_rss_mib"), _get(s3, f"ours_{small}", "peak_rss_mib")
        if (
            big != small
            and _get(s3, f"ours_{big}", "put_mb_s")
            and isinstance(a, float)
            and isinstance(b, float)
        ):
            growth = a - b
        check(
            f"flat controller memory: ours peak RSS at {big} MB - at {small} MB < 50 MiB",
            growth,
            lambda v: v < 50,
            ".0f",
        )


def goals(res: dict[str, Any]) -> list[Goal]:
    out: list[Goal] = []
    s1 = res.get("s1_flat") or {}

    def wsman(label: str, kind: str, key: str = "wsman_requests_total") -> float | None:
        v = _get(s1, label, "summary", kind, key)
        return float(v) if isinstance(v, int | float) else None

    def waited(kind: str) -> float | None:
        """Requests on the task's critical path (the post-reply release Signal is not waited for)."""
        return wsman("ours", kind, "wsman_critical_path")

    def check(text: str, value: float | None, test: Callable[[float], bool], spec: str = ".2f") -> None:
        out.append(Goal(text, _fmt(value, spec), None if value is None else test(value)))

    check("ours: WSMan requests per warm raw task on its critical path <= 2", waited("raw"), lambda v: v <= 2)
    check(
        "ours: WSMan requests per warm invoke_command task on its critical path <= 2",
        waited("script"),
        lambda v: v <= 2,
    )
    check(
        "ours: WSMan requests per warm exec-wrapper module task on its critical path <= 3",
        waited("module"),
        lambda v: v <= 3,
    )
    # the warm tasks of each kind; "all" also counts the first task, which sends the once-per-host
    # orphan-shell Enumerate after its reply (21 deferred requests over 20 tasks is 1.05)
    deferred = [wsman("ours", kind, "wsman_deferred") for kind in ("raw", "module", "script")]
    check(
        "ours: post-reply requests per warm task, the most of any kind (pipeline release Signal; not "
        "waited for; the first task's once-per-host orphan-shell Enumerate not counted)",
        None if None in deferred else max(v for v in deferred if v is not None),
        lambda v: v <= 1,
    )
    check("builtin (anchor): WSMan requests per raw task >= 5", wsman("builtin", "raw"), lambda v: v >= 5)
    check(
        "builtin (anchor): WSMan requests per module task >= 7", wsman("builtin", "module"), lambda v: v >= 7
    )
    lat = res.get("s1_latency") or {}
    ratio = _ratio(
        _get(lat, "builtin", "summary", "all", "seconds"), _get(lat, "ours", "summary", "all", "seconds")
    )
    check(
        f"wall time per task with latency {lat.get('latency_ms', '?')} ms + shell create "
        f"{lat.get('shell_create_ms', '?')} ms: builtin / ours >= 3x",
        ratio,
        lambda v: v >= 3,
    )
    s2 = res.get("s2") or {}
    ratio = _ratio(_get(s2, "builtin_forks32", "wall_seconds"), _get(s2, "ours_one_to_many", "wall_seconds"))
    ok_run = _get(s2, "ours_one_to_many", "rc") == 0
    check(
        f"{s2.get('hosts', '?')} hosts: builtin forks=32 wall / one-to-many wall >= 3x",
        ratio if ok_run else None,
        lambda v: v >= 3,
    )
    out += cpu_goals(s2)
    if s2.get("ours_one_to_many_latency"):
        ratio = _ratio(
            _get(s2, "builtin_forks32_latency", "wall_seconds"),
            _get(s2, "ours_one_to_many_latency", "wall_seconds"),
        )
        check(
            f"{s2.get('hosts', '?')} hosts, latency {s2.get('latency_ms')} ms + shell create "
            f"{s2.get('shell_create_ms')} ms: builtin forks=32 wall / one-to-many wall >= 3x",
            ratio if _get(s2, "ours_one_to_many_latency", "rc") == 0 else None,
            lambda v: v >= 3,
        )
    if s2.get("ours_invoke_forks32_10tasks"):
        for what, key in (("wall", "wall_seconds"), ("controller CPU", "controller_cpu_seconds")):
            check(
                f"{s2.get('hosts', '?')} hosts, a 10-task play, forks=32: builtin {what} / ours {what} >= 3x",
                _ratio(_get(s2, "builtin_forks32_10tasks", key), _get(s2, "ours_invoke_forks32_10tasks", key))
                if _get(s2, "ours_invoke_forks32_10tasks", "rc") == 0
                else None,
                lambda v: v >= 3,
            )
    if s2.get("ours_one_to_many_t100_latency"):
        # Equal controller memory: one-to-many's throttle_limit=100 fits in what forks=32 takes.
        ratio = _ratio(
            _get(s2, "builtin_forks32_latency", "wall_seconds"),
            _get(s2, "ours_one_to_many_t100_latency", "wall_seconds"),
        )
        check(
            f"{s2.get('hosts', '?')} hosts, latency {s2.get('latency_ms')} ms + shell create "
            f"{s2.get('shell_create_ms')} ms: builtin forks=32 wall / one-to-many throttle_limit=100 "
            "wall (equal controller memory) >= 3x",
            ratio if _get(s2, "ours_one_to_many_t100_latency", "rc") == 0 else None,
            lambda v: v >= 3,
        )
    _transfer_goals(res.get("s3") or {}, check)
    s4 = res.get("s4") or {}
    if s4:
        value = s4.get("peak_pss_mib") if s4.get("rc") == 0 else None
        check(
            f"{s4['hosts']} live sessions: controller memory < 1024 MiB (PSS sum of ansible-playbook, "
            f"workers and broker; RSS sum {_fmt(s4.get('peak_rss_mib'), '.0f')} MiB counts shared "
            f"pages once per fork; broker RSS {_fmt(s4.get('peak_broker_rss_mib'), '.0f')} MiB; "
            f"open shells seen: {s4.get('peak_shells_open')})",
            value,
            lambda v: v < 1024,
            ".0f",
        )
    out += scale_goals(res.get("s6") or {})
    from report_cores import cores_goals  # noqa: PLC0415 - it imports this module

    return out + cores_goals(res)


def cpu_goals(s2: dict[str, Any]) -> list[Goal]:
    """Scenario 2: controller CPU per host-task (one task on the same hosts: totals compare)."""
    if not s2.get("ours_one_to_many"):
        return []
    ratio = _ratio(
        _get(s2, "builtin_forks32", "controller_cpu_seconds"),
        _get(s2, "ours_one_to_many", "controller_cpu_seconds"),
    )
    ratio = ratio if _get(s2, "ours_one_to_many", "rc") == 0 else None
    return [
        Goal(
            f"{s2.get('hosts', '?')} hosts, one task: controller CPU per host-task, builtin forks=32 / "
            "one-to-many >= 5x (ansible-playbook + forks + brokers)",
            _fmt(ratio, ".2f"),
            None if ratio is None else ratio >= 5,
        )
    ]


def scale_goals(s6: dict[str, Any]) -> list[Goal]:
    """Scenario 6: every host ok, memory per live session."""
    if not s6:
        return []
    ok6 = s6.get("rc") == 0 and not s6.get("failed")
    per_session = _get(s6, "per_session_pss_kib")
    created = _get(s6, "totals", "shells_created")
    memory = per_session / 1024 if ok6 and isinstance(per_session, float) else None
    return [
        Goal(
            f"{s6['hosts']} hosts, one-to-many throttle_limit={s6.get('throttle_limit')}: every host ok, "
            "one shell each (measured: shells created, winhost's count; the task and its assert passed)",
            _fmt(created, ".0f"),
            ok6 and created == s6["hosts"],
        ),
        Goal(
            f"{s6['hosts']} live sessions: controller memory per live session <= 1 MiB (PSS sum, a "
            f"{s6.get('small_run_hosts', 1)}-host run subtracted)",
            _fmt(memory, ".2f"),
            None if memory is None else memory <= 1,
        ),
    ]


def where_time_goes_table(res: dict[str, Any]) -> list[str]:
    """Wall and CPU of each fleet run split into what ansible-playbook does anyway (its start-up,
    inventory and exit: the no-op baseline run), Ansible's own per-task work (forks, templating,
    results, our action plugin), the session brokers, and the simulated hosts."""
    lines = [
        "Wall: start-up = ansible-playbook start to the first task start; tasks = first task start to "
        "last result; exit = last result to process exit. CPU: baseline = ansible-playbook alone "
        "(a no-op play on the same inventory: Python and Ansible start-up, inventory parsing, exit); "
        "Ansible per-task = ansible-playbook and its forks minus that baseline (worker forks, "
        "templating, task results, the action and connection plugins in the workers); brokers = the "
        "session brokers; hosts = the winhost processes (on a real fleet that CPU is the Windows "
        "machines', here it competes for the same CPUs). Scenario 6 has its own 1,000-host inventory: "
        "its baseline is ansible-playbook's CPU in the same task over 10 hosts (scenario 6's small run).",
        "",
        _row(
            "run",
            "latency",
            "wall (s)",
            "start-up (s)",
            "tasks (s)",
            "exit (s)",
            "CPU baseline (s)",
            "CPU Ansible per-task (s)",
            "CPU brokers (s)",
            "CPU hosts (s)",
            "hosts",
        ),
        "| --- | --- |" + " ---: |" * 9,
    ]
    rows: list[tuple[str, str, dict[str, Any], dict[str, Any], Any]] = []
    s2 = res.get("s2") or {}
    latency = f"{s2.get('latency_ms', 20)} ms + {s2.get('shell_create_ms', 800)} ms create"
    for suffix, label in (("", "none"), ("_latency", latency)):
        for key, name in FLEET_RUNS.items():
            if s2.get(key + suffix):
                rows.append(
                    (name, label, s2[key + suffix], s2.get("ansible_baseline") or {}, s2.get("hosts"))
                )
    s6 = res.get("s6") or {}
    if s6:
        name = f"psremoting.core.invoke_command one-to-many, throttle_limit={s6.get('throttle_limit')}"
        # its inventory has 1,000 hosts: the small run over 10 of them (same inventory) is its baseline
        small = dict(s6.get("small_run") or {})
        if isinstance(small.get("controller_cpu_seconds"), float):
            small["controller_cpu_seconds"] -= small.get("broker_cpu_seconds") or 0.0
        rows.append((name, "none", s6, small, s6.get("hosts")))
    for name, label, r, base, hosts in rows:
        base_cpu = base.get("controller_cpu_seconds")
        ansible_cpu = None
        if isinstance(r.get("controller_cpu_seconds"), float) and isinstance(base_cpu, float):
            ansible_cpu = r["controller_cpu_seconds"] - (r.get("broker_cpu_seconds") or 0.0) - base_cpu
        lines.append(
            _row(
                name,
                label,
                _fmt(r.get("wall_seconds"), ".1f"),
                _fmt(r.get("startup_seconds"), ".1f"),
                _fmt(r.get("task_seconds"), ".1f"),
                _fmt(r.get("teardown_seconds"), ".1f"),
                _fmt(base_cpu, ".1f"),
                _fmt(ansible_cpu, ".1f"),
                _fmt(r.get("broker_cpu_seconds"), ".1f"),
                _fmt(r.get("server_cpu_seconds"), ".1f"),
                hosts,
            )
        )
    if s2.get("ansible_baseline"):
        b = s2["ansible_baseline"]
        lines.append(
            "\nansible-playbook alone (no-op play, same inventory): "
            f"wall {_fmt(b.get('wall_seconds'), '.1f')} s, "
            f"CPU {_fmt(b.get('controller_cpu_seconds'), '.1f')} s."
        )
    return lines


def scale_table(s6: dict[str, Any]) -> list[str]:
    one = s6.get("small_run") or {}
    base = s6.get("small_run_hosts", 1)
    return [
        f"One `invoke_command` task from localhost with `computer_name` = {s6['hosts']} hosts, "
        f"`throttle_limit: {s6.get('throttle_limit')}`; every session stays open in the brokers until "
        f"the run ends. Memory per live session = (peak PSS sum of this run - that of the same task "
        f"over {base} hosts, which already pays for every broker process) / (hosts - {base}); the same "
        "for the brokers' RSS.",
        "",
        _row(
            "hosts",
            "wall (s)",
            "task (s)",
            "controller CPU (s)",
            "of which brokers (s)",
            "simulated hosts CPU (s)",
            "controller CPU per host (ms)",
            "peak PSS sum (MiB)",
            "peak broker RSS (MiB)",
            "small run PSS (MiB)",
            "per live session PSS (KiB)",
            "per live session broker RSS (KiB)",
            "shells created",
            "open shells seen (sampled every 0.5 s)",
            "failed",
        ),
        "| ---: |" + " ---: |" * 13 + " --- |",
        _row(
            s6["hosts"],
            _fmt(s6.get("wall_seconds"), ".1f"),
            _fmt(s6.get("task_seconds"), ".1f"),
            _fmt(s6.get("controller_cpu_seconds"), ".1f"),
            _fmt(s6.get("broker_cpu_seconds"), ".1f"),
            _fmt(s6.get("server_cpu_seconds"), ".1f"),
            _fmt(s6.get("controller_cpu_ms_per_host"), ".1f"),
            _fmt(s6.get("peak_pss_mib"), ".0f"),
            _fmt(s6.get("peak_broker_rss_mib"), ".0f"),
            _fmt(one.get("peak_pss_mib"), ".0f"),
            _fmt(s6.get("per_session_pss_kib"), ".0f"),
            _fmt(s6.get("per_session_broker_rss_kib"), ".0f"),
            _get(s6, "totals", "shells_created"),
            s6.get("peak_shells_open"),
            _failed(s6),
        ),
    ]


def anchor_table(res: dict[str, Any]) -> list[str]:
    """The headline figures of each plugin side by side (no goal: the comparison itself)."""
    lat = res.get("s1_latency") or res.get("s1_flat") or {}
    s2 = res.get("s2") or {}
    s3 = res.get("s3") or {}
    big = max(s3.get("sizes_mb") or [0])
    fleet_key = "_latency" if s2.get("builtin_forks32_latency") else ""
    rows = [
        (
            f"wall time per task, all tasks (latency {lat.get('latency_ms', 0)} ms + create "
            f"{lat.get('shell_create_ms', 0)} ms) (s)",
            [_get(lat, p, "summary", "all", "seconds") for p in ("builtin", "winrm", "ours")],
            ".3f",
        ),
        (
            "WSMan requests per warm raw task",
            [
                _get(res, "s1_flat", p, "summary", "raw", "wsman_requests_total")
                for p in ("builtin", "winrm", "ours")
            ],
            ".2f",
        ),
        (
            "WSMan requests per warm win_ping task",
            [
                _get(res, "s1_flat", p, "summary", "module", "wsman_requests_total")
                for p in ("builtin", "winrm", "ours")
            ],
            ".2f",
        ),
        (
            f"{s2.get('hosts', '?')} hosts, raw, forks=32, wall (s)"
            + (" with the latency model" if fleet_key else ""),
            [_get(s2, f"{p}_forks32{fleet_key}", "wall_seconds") for p in ("builtin", "winrm", "ours")],
            ".2f",
        ),
        (
            f"put_file {big} MB random data (MB/s)",
            [_get(s3, f"{p}_{big}", "put_mb_s") for p in ("builtin", "winrm", "ours")],
            ".2f",
        ),
        (
            f"fetch_file {big} MB random data (MB/s)",
            [_get(s3, f"{p}_{big}", "fetch_mb_s") for p in ("builtin", "winrm", "ours")],
            ".2f",
        ),
    ]
    lines = [
        "Public anchor for the two builtin plugins: one playbook took 12.7 s with winrm and 13.1 s "
        "with psrp (ansible/ansible#47707), winrm / psrp = 0.97x in time. The winrm / psrp column "
        "gives that ratio for each figure of this run: for times and request counts below 1 means "
        "winrm costs less; for MB/s above 1 means winrm is faster. The same reading holds for the "
        "other two ratio columns.",
        "",
        "| figure | ansible.builtin.psrp | ansible.builtin.winrm | psremoting.core.psrp "
        "| winrm / psrp | psrp / ours | winrm / ours |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, (b, w, o), spec in rows:
        lines.append(
            _row(
                name,
                _fmt(b, spec),
                _fmt(w, spec),
                _fmt(o, spec),
                _x(_ratio(w, b)),
                _x(_ratio(b, o)),
                _x(_ratio(w, o)),
            )
        )
    return lines


def _per_task_sections(res: dict[str, Any]) -> list[str]:
    """Scenario 1: 1a (no latency), 1b (latency), 1c (per ansible-core version)."""
    lines: list[str] = []
    if res.get("s1_flat"):
        lines += ["", "## 1a. Per-task cost, no injected latency", "", *per_task_table(res["s1_flat"])]
    if res.get("s1_latency"):
        lines += ["", "## 1b. Per-task cost, injected latency", "", *per_task_table(res["s1_latency"])]
    if res.get("s1_flat"):
        from report_cores import cores_table, phases_table  # noqa: PLC0415 - it imports this module

        lines += ["", "## 1c. Per warm task by ansible-core version", "", *cores_table(res)]
        lines += ["", "## 1d. Where a warm task's time goes", "", *phases_table(res)]
    return lines


def write_markdown(res: dict[str, Any], path: Path, chart: str | None) -> None:
    meta = res["meta"]
    lines = [
        "# psremoting.core.psrp vs ansible.builtin.psrp and ansible.builtin.winrm",
        "",
        f"Mode **{meta['mode']}** ({meta['note']}); generated {meta['when']} by `bench/run"
        f"{' --' + meta['mode'] if meta['mode'] != 'full' else ''}` on {meta['machine']}; "
        f"ansible-core {meta['ansible']}, pypsrp {meta['pypsrp']}, pywinrm {meta.get('pywinrm', '?')}, "
        "winhost simulated hosts on loopback. "
        f"Total run time {meta['seconds']:.0f} s.",
        "",
        *(
            [f"Scenarios {', '.join(res['merged'])} were re-run later with `--merge` (same mode)", ""]
            if res.get("merged")
            else []
        ),
        "Absolute times on a shared machine are noise; read the ratios, which come from the same run. "
        "Request counts and bytes are exact (winhost counters). See bench/README.md.",
        "",
        "## Goals",
        "",
        "| goal | measured | result |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| {g.text} | {g.measured} | {g.verdict} |" for g in goals(res)]
    lines += ["", "## Anchors: the two builtin plugins and ours, same run", "", *anchor_table(res)]
    if chart:
        lines += ["", f"![chart]({chart})"]
    lines += _per_task_sections(res)
    if res.get("s2"):
        lines += ["", "## 2. Fleet", "", *fleet_table(res["s2"])]
    if res.get("s3"):
        lines += ["", "## 3. File transfer", "", *transfer_table(res["s3"])]
    if res.get("s4"):
        lines += ["", "## 4. Session scale", "", *session_table(res["s4"])]
    if res.get("s5"):
        lines += ["", "## 5. Payload", "", *payload_table(res["s5"])]
    if res.get("s6"):
        lines += ["", "## 6. One-to-many at scale", "", *scale_table(res["s6"])]
    if res.get("s7"):
        lines += ["", "## 7. C# compiles", "", *csharp_table(res["s7"])]
    if res.get("s2") or res.get("s6"):
        lines += ["", "## Where the time goes", "", *where_time_goes_table(res)]
    if res.get("errors"):
        lines += ["", "## Scenario errors", ""] + [f"- {e}" for e in res["errors"]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_chart(res: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    colors = {
        "ansible.builtin.psrp": "#999999",
        "ansible.builtin.winrm": "#d62728",
        "psremoting.core.psrp": "#1f77b4",
    }

    def bars(
        ax: Any, title: str, labels: list[str], series: dict[str, list[float | None]], ylabel: str
    ) -> None:
        width = 0.8 / max(1, len(series))
        for i, (name, values) in enumerate(series.items()):
            xs = [j + i * width for j in range(len(labels))]
            ax.bar(xs, [v or 0 for v in values], width, label=name, color=colors.get(name))
        ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(labels))])
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=8)

    kinds = [k for k, _ in KINDS]
    klabels = [label for _, label in KINDS]
    s1 = res.get("s1_flat") or {}
    bars(
        axes[0][0],
        "WSMan requests per warm task",
        klabels,
        {
            name: [_get(s1, label, "summary", k, "wsman_requests_total") for k in kinds]
            for label, name in PLUGIN_NAMES
        },
        "requests",
    )
    lat = res.get("s1_latency") or {}
    bars(
        axes[0][1],
        f"Wall time per warm task, latency {lat.get('latency_ms', '?')} ms + create "
        f"{lat.get('shell_create_ms', '?')} ms",
        klabels,
        {name: [_get(lat, label, "summary", k, "seconds") for k in kinds] for label, name in PLUGIN_NAMES},
        "seconds",
    )
    s2 = res.get("s2") or {}
    runs = [
        ("builtin_forks32", "builtin psrp\nforks=32"),
        ("winrm_forks32", "builtin winrm\nforks=32"),
        ("ours_forks32", "ours raw\nforks=32"),
        ("ours_invoke_forks32", "invoke_command\nforks=32"),
        ("ours_one_to_many", "invoke_command\none-to-many"),
    ]
    ax = axes[1][0]
    ax.bar(
        [label for _, label in runs],
        [_get(s2, k, "wall_seconds") or 0 for k, _ in runs],
        color=["#999999", "#d62728", "#1f77b4", "#1f77b4", "#2ca02c"],
    )
    ax.set_title(f"Fleet: one task on {s2.get('hosts', '?')} hosts (wall s)", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    ax = axes[1][1]
    s3 = res.get("s3") or {}
    sizes = s3.get("sizes_mb") or []
    labels = [f"put {s} MB" for s in sizes] + [f"fetch {s} MB" for s in sizes]
    bars(
        ax,
        "File transfer throughput (MB/s)",
        labels,
        {
            name: [_get(s3, f"{label}_{s}", "put_mb_s") for s in sizes]
            + [_get(s3, f"{label}_{s}", "fetch_mb_s") for s in sizes]
            for label, name in PLUGIN_NAMES
        },
        "MB/s",
    )
    fig.suptitle(
        "psremoting.core.psrp vs ansible.builtin.psrp and ansible.builtin.winrm "
        f"(bench/run, mode {res['meta']['mode']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
