# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-to-many: run one task's pipeline work on many hosts, throttled, where the sessions live.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Like ``Invoke-Command -ComputerName a,b,c -ThrottleLimit 32``. The worker resolves each target's
connection settings from that host's own variables (``invoke._targets``), then hands the work to
the session broker that holds (or will hold) each host's session: targets are grouped by broker
shard (``broker._client.shard_for``, the same choice the connection makes for a per-host task)
and each broker runs its group with ``run_throttled`` in threads (``broker._fanout``). A host's
session is therefore the one the per-host tasks of the same run use, before and after: one shell
per host per run. Hosts with ``session_persist: false`` run in the worker the same way, on
sessions closed at the end of the task.

Threads, not asyncio: pypsrp is a blocking library (requests), so each running host needs a
thread either way; the throttle bounds them. This module imports neither Ansible nor pypsrp
(``run_target`` imports the session classes where it runs).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import InvokeError, InvokeSpec
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._live import (
    Emit,
    LiveWatcher,
    done_event,
)

DEFAULT_THROTTLE_LIMIT = 32  # Invoke-Command's default
FAIL_ON = ("any", "all", "never")
RESULT_LISTS = ("output", "error", "warning", "verbose", "debug", "information")
# The task options a host's run reads besides the InvokeSpec (invoke._run.run_on_host).
HOST_ARGS = ("creates", "removes", "path", "remote_src")


@dataclass
class HostOutcome:
    name: str
    status: str  # ok | failed | unreachable
    fields: dict[str, Any] = field(default_factory=dict)
    msg: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "fields": self.fields, "msg": self.msg}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HostOutcome:
        return cls(str(data["name"]), str(data["status"]), dict(data.get("fields") or {}), data.get("msg"))


@dataclass(frozen=True)
class Job:
    """What every host runs: the task's InvokeSpec and the per-host options, as JSON."""

    spec: dict[str, Any]
    args: dict[str, Any]

    @classmethod
    def of(cls, spec: InvokeSpec, args: Mapping[str, Any]) -> Job:
        return cls(dataclasses.asdict(spec), {k: args.get(k) for k in HOST_ARGS})

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "args": self.args}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(dict(data["spec"]), dict(data["args"]))

    def new_spec(self) -> InvokeSpec:
        """A fresh InvokeSpec per host (``run_on_host`` may replace the script)."""
        return InvokeSpec(**self.spec)


def run_throttled(
    names: Iterable[str],
    work: Callable[[str], HostOutcome],
    throttle_limit: int = DEFAULT_THROTTLE_LIMIT,
) -> list[HostOutcome]:
    """Run ``work(name)`` for each name, at most ``throttle_limit`` at once; results in input order.

    ``work`` should turn its own errors into an outcome; anything it raises anyway becomes a
    ``failed`` outcome for that host so one host never stops the others.
    """
    ordered = list(dict.fromkeys(names))
    if not ordered:
        return []
    workers = max(1, min(throttle_limit, len(ordered)))

    def guarded(name: str) -> HostOutcome:
        try:
            return work(name)
        except Exception as exc:
            return HostOutcome(name, "failed", msg=f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="psremoting-fanout") as pool:
        return list(pool.map(guarded, ordered))


def split_throttle(throttle_limit: int, sizes: list[int]) -> list[int]:
    """``throttle_limit`` shared among groups (brokers) in proportion to their host counts, each
    at least 1 and at most its size; the sum stays within the limit whenever the limit allows
    every group one slot."""
    total = sum(sizes)
    if total == 0:
        return [0 for _ in sizes]
    shares = [min(size, max(1, math.floor(throttle_limit * size / total))) for size in sizes]
    spare = throttle_limit - sum(shares)
    for index in sorted(range(len(sizes)), key=lambda i: sizes[i] - shares[i], reverse=True):
        if spare <= 0:
            break
        extra = min(spare, sizes[index] - shares[index])
        shares[index] += extra
        spare -= extra
    return shares


def run_target(session: Any, name: str, job: Job, emit: Emit) -> HostOutcome:
    """One host of a one-to-many run on its session (a ``PSRPSession``); emits progress,
    information and finally the host's ``done`` event. Never raises."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._run import (  # noqa: PLC0415
        run_on_host,
    )
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (  # noqa: PLC0415
        SessionError,
    )
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import (  # noqa: PLC0415
        AUTH,
        UNREACHABLE,
        classify,
    )

    started = time.monotonic()
    spec = job.new_spec()
    watcher = LiveWatcher(name, emit, spec.verbosity)
    try:
        fields = run_on_host(lambda req: session.invoke_pipeline(req, on_poll=watcher), job.args, spec, name)
        outcome = HostOutcome(name, "failed" if fields.get("failed") else "ok", fields, fields.get("msg"))
    except SessionError as exc:
        status = "unreachable" if exc.info.kind in (AUTH, UNREACHABLE) else "failed"
        outcome = HostOutcome(name, status, msg=exc.info.message)
    except InvokeError as exc:
        outcome = HostOutcome(name, "failed", msg=str(exc))
    except Exception as exc:
        info = classify(exc, name)
        outcome = HostOutcome(
            name, "unreachable" if info.kind in (AUTH, UNREACHABLE) else "failed", msg=info.message
        )
    count = len(outcome.fields.get("output") or [])
    emit(done_event(name, outcome.status, count, time.monotonic() - started, outcome.msg))
    return outcome


def task_failed(outcomes: list[HostOutcome], fail_on: str) -> bool:
    """``any``: one bad host fails the task; ``all``: only when every host is bad; ``never``."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    bad = [o for o in outcomes if o.status != "ok"]
    if fail_on == "never" or not outcomes:
        return False
    if fail_on == "all":
        return len(bad) == len(outcomes)
    return bool(bad)


def tag_output(output: list[Any], name: str, runspace_id: str | None = None) -> list[Any]:
    """Each object gets the note properties Invoke-Command adds (``about_Remote_Output``):
    ``PSComputerName`` (the inventory name wins over what the connection set), ``RunspaceId`` (when
    the connection reports it) and ``PSShowComputerName`` (``true``, no ``-HideComputerName``).
    Primitives stay as they are: JSON has nowhere to put a note property on them."""
    tagged: list[Any] = []
    for item in output:
        if not isinstance(item, dict):
            tagged.append(item)
            continue
        obj = {**item, "PSComputerName": name}
        if runspace_id is not None:
            obj["RunspaceId"] = runspace_id
        obj["PSShowComputerName"] = True
        tagged.append(obj)
    return tagged


def merge_outcomes(outcomes: list[HostOutcome], fail_on: str) -> dict[str, Any]:
    """One task result for many hosts: all output (tagged), per-host status and details."""
    merged: dict[str, Any] = {name: [] for name in RESULT_LISTS}
    hosts: dict[str, Any] = {}
    changed = False
    for outcome in outcomes:
        fields = outcome.fields
        changed = changed or bool(fields.get("changed"))
        merged["output"].extend(tag_output(fields.get("output") or [], outcome.name))
        for name in RESULT_LISTS[1:]:
            for item in fields.get(name) or []:
                if isinstance(item, dict):
                    merged[name].append({**item, "PSComputerName": outcome.name})
                else:
                    merged[name].append({"PSComputerName": outcome.name, "message": item})
        hosts[outcome.name] = {
            "status": outcome.status,
            "msg": outcome.msg,
            "changed": bool(fields.get("changed")),
            "skipped": bool(fields.get("skipped")),
            "result": fields.get("result", {}),
            "host_out": fields.get("host_out", ""),
            "host_err": fields.get("host_err", ""),
            "output_count": len(fields.get("output") or []),
        }
    failed = task_failed(outcomes, fail_on)
    merged.update(changed=changed, hosts=hosts, failed=failed)
    if failed:
        bad = [f"{o.name} ({o.status}: {o.msg})" for o in outcomes if o.status != "ok"]
        merged["msg"] = f"{len(bad)} of {len(outcomes)} hosts did not succeed: " + "; ".join(bad)
    return merged
