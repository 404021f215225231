# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/run: psremoting.core.psrp against ansible.builtin.psrp, side by side, in one run.

    bench/run [--quick | --medium] [--out DIR] [--only s1,s2,s3,s4,s6,s7] [--core 2.21 ...]

Starts its own winhost servers, runs the scenarios (see bench/README.md), writes DIR/latest.md,
DIR/latest.png and DIR/latest.json (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import cores
import scenarios
from ansible_runs import base_env
from report import write_chart, write_markdown
from winhost_server import Fleet, WinhostServer

NOTES = {
    "quick": "smoke test of the harness: few tasks and hosts, 1 MB transfers; not the results",
    "medium": "100 hosts, 200 sessions, 1,000-host one-to-many, 1 and 20 MB transfers",
    "full": "20 tasks, 100-host fleet, 500 sessions, 1,000-host one-to-many, 1 and 100 MB transfers",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_const", const="quick", dest="mode", help="under 60 s")
    group.add_argument("--medium", action="store_const", const="medium", dest="mode")
    group.add_argument("--full", action="store_const", const="full", dest="mode")
    parser.set_defaults(mode="full")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument(
        "--only", default="s1,s2,s3,s4,s6,s7", help="comma-separated scenarios (s5 comes with s1)"
    )
    parser.add_argument(
        "--core",
        action="append",
        metavar="LINE",
        help="scenario 1 also under this ansible-core of the version matrix (repeatable; built when "
        "missing); default: every matrix venv that exists; 'none': the main venv only",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (playbooks, logs)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="start from OUT/latest.json and replace only the scenarios of this run (same mode)",
    )
    return parser


def _versions() -> tuple[str, str, str]:
    """ansible-core, pypsrp and pywinrm versions ("?" when not installed)."""
    try:
        from ansible.release import __version__ as ansible_version  # noqa: PLC0415
    except ImportError:
        ansible_version = "?"
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    found = []
    for package in ("pypsrp", "pywinrm"):
        try:
            found.append(version(package))
        except PackageNotFoundError:
            found.append("?")
    return ansible_version, found[0], found[1]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    mode = scenarios.MODES[args.mode]
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    results = _previous_results(args.out / "latest.json", mode.name, only) if args.merge else {"errors": []}
    extra = tuple(cores.select(args.core, _versions()[0])) if "s1" in only else ()
    _run_scenarios(workdir, mode, only, base_env(), results, extra_cores=extra)
    merged_seconds = float(results.get("meta", {}).get("seconds", 0)) if args.merge else 0.0
    results["meta"] = _meta(mode.name, time.perf_counter() - started + merged_seconds)
    if isinstance(results.get("s1_flat"), dict) and "s1" in only:
        results["s1_flat"]["cores_not_run"] = cores.not_run(extra, results["meta"]["ansible"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    chart = "latest.png" if write_chart(results, args.out / "latest.png") else None
    write_markdown(results, args.out / "latest.md", chart)
    print(f"bench: wrote {args.out / 'latest.md'} in {results['meta']['seconds']:.0f} s", flush=True)
    if args.keep:
        print(f"bench: work directory {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if results["errors"] else 0


def _previous_results(previous: Path, mode: str, only: set[str]) -> dict[str, Any]:
    """The last run's results of the same mode, without the errors of the scenarios run again."""
    if not previous.exists():
        return {"errors": []}
    results: dict[str, Any] = json.loads(previous.read_text(encoding="utf-8"))
    if results.get("meta", {}).get("mode") != mode:
        raise SystemExit(f"bench/run: {previous} is from another mode; not merging")
    results["errors"] = [e for e in results.get("errors", []) if e.split(" ")[0] not in _keys(only)]
    results["merged"] = sorted((set(results.get("merged", [])) | only) - {"none"})
    return results


def _step(results: dict[str, Any], key: str, label: str, fn: Any) -> None:
    t0 = time.perf_counter()
    print(f"bench: {label} ...", flush=True)
    try:
        results[key] = fn()
    except Exception as exc:
        results["errors"].append(f"{label}: {type(exc).__name__}: {exc}")
        traceback.print_exc()
    print(f"bench: {label} done in {time.perf_counter() - t0:.1f} s", flush=True)


def _run_scenarios(
    workdir: Path,
    mode: Any,
    only: set[str],
    env: dict[str, str],
    results: dict[str, Any],
    *,
    extra_cores: tuple[cores.Core, ...] = (),
) -> None:
    one = WinhostServer(workdir, ["host001"], "127.0.9.2", "single")
    fleet_size = max(
        mode.fleet_hosts if "s2" in only else 0,
        mode.session_hosts if "s4" in only else 0,
        mode.scale_hosts if "s6" in only else 0,
    )
    fleet = Fleet(workdir, fleet_size, "fleet") if fleet_size else None
    try:
        if only & {"s1", "s3", "s7"}:
            one.start(env)
        if fleet is not None:
            fleet.start(env)
        if "s1" in only:
            _step(results, "s1_flat", "1a per-task cost, no latency",
                  lambda: scenarios.per_task_cost(workdir, mode, one, False, extra_cores))  # fmt: skip
            if mode.latency_run:
                _step(results, "s1_latency", "1b per-task cost, injected latency",
                      lambda: scenarios.per_task_cost(workdir, mode, one, True, extra_cores))  # fmt: skip
            results["s5"] = scenarios.payload(results.get("s1_flat") or {})
        if "s3" in only:
            _step(results, "s3", "3 file transfer", lambda: scenarios.file_transfer(workdir, mode, one))
        if "s7" in only:
            _step(results, "s7", "7 C# compiles", lambda: scenarios.csharp_compiles(workdir, mode, one))
        if "s2" in only and fleet is not None:
            _step(
                results,
                "s2",
                f"2 fleet ({mode.fleet_hosts} hosts)",
                lambda: scenarios.fleet(workdir, mode, fleet),
            )
        if "s4" in only and fleet is not None:
            _step(results, "s4", f"4 session scale ({mode.session_hosts} hosts)",
                  lambda: scenarios.session_scale(workdir, mode, fleet))  # fmt: skip
        if "s6" in only and fleet is not None:
            _step(results, "s6", f"6 one-to-many at scale ({mode.scale_hosts} hosts)",
                  lambda: scenarios.fleet_scale(workdir, mode, fleet))  # fmt: skip
    finally:
        one.stop()
        if fleet is not None:
            fleet.stop()


def _meta(mode: str, seconds: float) -> dict[str, Any]:
    ansible_version, pypsrp_version, pywinrm_version = _versions()
    return {
        "mode": mode,
        "note": NOTES[mode],
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
        "ansible": ansible_version,
        "pypsrp": pypsrp_version,
        "pywinrm": pywinrm_version,
        "seconds": seconds,
    }


def _keys(only: set[str]) -> set[str]:
    """Error-message prefixes of the given scenarios ("1a", "1b", "2", ...)."""
    keys = {s[1:] for s in only}
    return keys | ({"1a", "1b"} if "1" in keys else set())


def _cpus() -> int:
    import os  # noqa: PLC0415

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
