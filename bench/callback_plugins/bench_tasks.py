# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: per-task wall time and, for one host, winhost counters around each task.

Enabled only by bench/run (``ANSIBLE_CALLBACKS_ENABLED=bench_tasks``). It appends one JSON line
per task result to ``$BENCH_TASK_LOG``. With ``$BENCH_STATS_HOST`` set it snapshots that host's
winhost counters (control endpoint named by ``$BENCH_WINHOST_CONTROL``) when the task starts and
when its result arrives, so the harness can compute WSMan/HTTP requests and bytes per task.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_tasks
type: aggregate
short_description: per-task timings and winhost counters for bench/run
description:
  - Internal to the benchmark harness in bench/. Not shipped with the collection.
requirements:
  - winhost (tests/winhost) importable when BENCH_STATS_HOST is set
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_tasks"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._log_path = os.environ.get("BENCH_TASK_LOG")
        self._stats_host = os.environ.get("BENCH_STATS_HOST")
        self._control: dict[str, Any] | None = None
        control_path = os.environ.get("BENCH_WINHOST_CONTROL")
        if self._stats_host and control_path:
            with open(control_path, encoding="utf-8") as handle:
                self._control = json.load(handle)
        self._task_start = 0.0
        self._task_name = ""
        self._before: dict[str, Any] | None = None

    def _snapshot(self) -> dict[str, Any] | None:
        if self._control is None or not self._stats_host:
            return None
        from winhost.transport.control import call  # noqa: PLC0415 - only when counting

        data = call(self._control, "GET", f"/stats?host={self._stats_host}")
        return dict(next(iter(data.values())))

    def _write(self, record: dict[str, Any]) -> None:
        if not self._log_path:
            return
        with open(self._log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._task_name = task.get_name()
        self._before = self._snapshot()
        self._task_start = time.perf_counter()
        self._write({"event": "task_start", "name": self._task_name, "t": time.time()})

    def _result(self, result: Any, status: str) -> None:
        seconds = time.perf_counter() - self._task_start
        after = self._snapshot()
        res = getattr(result, "_result", {}) or {}
        self._write(
            {
                "event": "result",
                "name": self._task_name,
                "host": result._host.get_name(),
                "status": status,
                "seconds": seconds,
                "t": time.time(),
                "before": self._before,
                "after": after,
                "msg": str(res.get("msg", ""))[:300] if status != "ok" else "",
            }
        )
        self._before = after
        self._task_start = time.perf_counter()

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result(result, "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result(result, "unreachable")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result(result, "skipped")
