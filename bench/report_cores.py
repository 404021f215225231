# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scenario 1 per ansible-core version: the main venv's and each matrix venv's (cores.py) figures
for a warm task of each kind, both psrp plugins side by side, and the issue 18 goals per version."""

from __future__ import annotations

from typing import Any

from report import Goal, _fmt, _get, _ratio, _row, _x

#: (summary kind, label): win_ping is shown once the session holds its code (ours: hashes only)
KINDS = (("raw", "raw"), ("module_cached", "win_ping (exec wrapper)"), ("script", "script task"))
#: issue 18: a warm win_ping costs at most a warm raw task plus this many bytes on the wire
MODULE_OVER_RAW_BYTES = 4096


def versions(s1: dict[str, Any], main_version: str) -> list[tuple[str, dict[str, Any]]]:
    """(ansible-core version, {"builtin": run, "ours": run}) for the main venv, then each core."""
    out = [(main_version, {"builtin": s1.get("builtin") or {}, "ours": s1.get("ours") or {}})]
    for entry in (s1.get("cores") or {}).values():
        out.append((str(entry.get("ansible", "?")), entry))
    return out


def _requests(summary: dict[str, Any]) -> str:
    """All WSMan requests / those the task waited for."""
    total, waited = summary.get("wsman_requests_total"), summary.get("wsman_critical_path")
    return f"{_fmt(total, '.2f')} / {_fmt(waited, '.2f')}"


def cores_table(res: dict[str, Any]) -> list[str]:
    flat, lat = res.get("s1_flat") or {}, res.get("s1_latency") or {}
    main = str(_get(res, "meta", "ansible") or "?")
    lat_runs = dict(versions(lat, main)) if lat else {}
    not_run = flat.get("cores_not_run") or []
    lines = [
        "Scenario 1 again with ansible-playbook from each ansible-core of the version matrix "
        "(tools/version-matrix.sh venvs, same winhost, same run): means over warm tasks; win_ping "
        "without the session's first module task (ours sends the module code once, then hashes and "
        "arguments). Requests: all / waited for (ours releases the pipeline after the reply). Wall "
        "ratios without latency (1a)"
        + (
            f" and with {lat.get('latency_ms')} ms + {lat.get('shell_create_ms')} ms create (1b)."
            if lat
            else "; 1b did not run in this mode."
        )
        + (
            f" Not run: ansible-core {', '.join(not_run)} (no venv; `bench/run --core <line>` or "
            "`make test-matrix` builds it)."
            if not_run
            else ""
        ),
        "",
        _row(
            "ansible-core",
            "task kind",
            "builtin requests",
            "ours requests",
            "builtin bytes",
            "ours bytes",
            "bytes builtin / ours",
            "wall builtin / ours",
            "wall builtin / ours, latency",
        ),
        "| --- | --- |" + " ---: |" * 7,
    ]
    for version, runs in versions(flat, main):
        for kind, label in KINDS:
            b = _get(runs, "builtin", "summary", kind) or {}
            o = _get(runs, "ours", "summary", kind) or {}
            lb = _get(lat_runs, version, "builtin", "summary", kind, "seconds")
            lo = _get(lat_runs, version, "ours", "summary", kind, "seconds")
            lines.append(
                _row(
                    version,
                    label,
                    _requests(b),
                    _requests(o),
                    _fmt(b.get("bytes"), ",.0f"),
                    _fmt(o.get("bytes"), ",.0f"),
                    _x(_ratio(b.get("bytes"), o.get("bytes"))),
                    _x(_ratio(b.get("seconds"), o.get("seconds"))),
                    _x(_ratio(lb, lo)),
                )
            )
        for label in ("builtin", "ours"):
            errs = _get(runs, label, "errors")
            if errs:
                lines.append(f"\nansible-core {version}, {label}: failed tasks: {'; '.join(errs)}")
    return lines


def cores_goals(res: dict[str, Any]) -> list[Goal]:
    """Per ansible-core version: warm win_ping bytes over raw, its waited-for requests, and the
    module wall ratio with latency (issue 18's targets)."""
    flat, lat = res.get("s1_flat") or {}, res.get("s1_latency") or {}
    if not flat:
        return []
    main = str(_get(res, "meta", "ansible") or "?")
    lat_runs = dict(versions(lat, main)) if lat else {}
    out: list[Goal] = []
    for version, runs in versions(flat, main):
        module = _get(runs, "ours", "summary", "module_cached", "bytes")
        raw = _get(runs, "ours", "summary", "raw", "bytes")
        over = module - raw if isinstance(module, int | float) and isinstance(raw, int | float) else None
        out.append(
            Goal(
                f"ansible-core {version}: ours, warm win_ping (code cached) bytes on the wire - warm raw "
                f"bytes <= {MODULE_OVER_RAW_BYTES:,}",
                _fmt(over, ",.0f"),
                None if over is None else over <= MODULE_OVER_RAW_BYTES,
            )
        )
        waited = _get(runs, "ours", "summary", "module_cached", "wsman_critical_path")
        out.append(
            Goal(
                f"ansible-core {version}: ours, warm win_ping (code cached) WSMan requests waited for <= 3",
                _fmt(waited, ".2f"),
                None if waited is None else waited <= 3,
            )
        )
        if lat_runs:
            ratio = _ratio(
                _get(lat_runs, version, "builtin", "summary", "module_cached", "seconds"),
                _get(lat_runs, version, "ours", "summary", "module_cached", "seconds"),
            )
            out.append(
                Goal(
                    f"ansible-core {version}: wall per warm win_ping task with latency "
                    f"{lat.get('latency_ms')} ms + shell create {lat.get('shell_create_ms')} ms: "
                    "builtin / ours >= 6x" + _preload_note(lat),
                    _fmt(ratio, ".2f"),
                    None if ratio is None else ratio >= 6,
                )
            )
    return out


def _preload_note(s1: dict[str, Any]) -> str:
    """How our runs loaded the connection plugin (runs before the setting existed: not said)."""
    if "psrp_preload" not in s1:
        return ""
    if s1["psrp_preload"]:
        return " (ours with the opt-in vars plugin psrp_preload)"
    return " (ours without psrp_preload: each worker loads the plugin)"


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{1000 * value:.0f}"


def _phase_cells(summary: dict[str, Any]) -> list[str]:
    """task wall, outside the worker, then wall / CPU of each worker phase and of the rest."""
    phases = summary.get("phases") or {}
    worker = phases.get("worker") or {}
    parts = [phases.get(p) or {} for p in ("connection_load", "module_build", "exec")]
    rest = {
        key: worker[key] - sum(part.get(key, 0.0) for part in parts) if key in worker else None
        for key in ("wall", "cpu")
    }
    task = summary.get("seconds")
    outside = task - worker["wall"] if isinstance(task, int | float) and "wall" in worker else None
    cells = [_ms(task), _ms(outside)]
    for part in (*parts, rest):
        cells.append(f"{_ms(part.get('wall'))} / {_ms(part.get('cpu'))}")
    return cells


def phases_table(res: dict[str, Any]) -> list[str]:
    """Scenario 1 (1b when it ran): a warm raw and win_ping task split into what ansible-playbook
    does outside the worker and the worker's phases (bench/phase_timer/sitecustomize.py)."""
    s1 = res.get("s1_latency") or res.get("s1_flat") or {}
    main = str(_get(res, "meta", "ansible") or "?")
    lines = [
        f"Mean of the warm tasks of scenario 1 with {s1.get('latency_ms', 0)} ms per request and "
        f"{s1.get('shell_create_ms', 0)} ms per shell Create, in milliseconds: wall / CPU of the "
        "forked worker's phases. Outside the worker = task wall - worker wall (ansible-playbook: "
        "queueing the task, the fork, the result, callbacks). Connection load = loading the "
        "connection plugin in the worker (ansible-playbook loads the builtin ones before forking; a "
        "collection plugin is compiled and its documentation parsed again in each fork, unless, as "
        "bench runs ours, the vars plugin psremoting.core.psrp_preload loads it before forking). "
        "Module build = Ansible's exec wrapper payload, the same for both plugins. "
        "Exec = the connection's exec_command (ours: session broker, network and host; the "
        "builtin: a shell's Create to Delete). Rest = the worker's other Ansible work (templating, "
        "result parsing). Wall includes waiting for the machine's 2 CPUs.",
        "",
        _row(
            "ansible-core",
            "task kind",
            "plugin",
            "task wall",
            "outside the worker",
            "connection load",
            "module build",
            "exec",
            "rest of the worker",
        ),
        "| --- | --- | --- |" + " ---: |" * 6,
    ]
    for version, runs in versions(s1, main):
        for kind, label in KINDS[:2]:
            for plugin, name in (("builtin", "ansible.builtin.psrp"), ("ours", "psremoting.core.psrp")):
                summary = _get(runs, plugin, "summary", kind) or {}
                lines.append(_row(version, label, name, *_phase_cells(summary)))
    return lines
