# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/run scenario 1: where a task's time goes inside ansible-playbook's forked worker.

Loaded as ``sitecustomize`` (bench puts this directory on PYTHONPATH for scenario 1 only) when
``$BENCH_PHASE_LOG`` is set, in ansible-playbook and nothing else (not the session broker it
starts). It wraps four ansible-core methods the worker runs for each task and, when the worker
ends, appends one JSON line: the task's name and, per phase, wall and CPU seconds:

* ``worker``: ``WorkerProcess._run`` (the whole forked worker);
* ``connection_load``: ``TaskExecutor._get_connection`` (load the connection plugin: for a
  collection plugin, compile its modules and parse its documentation again in each fork; set
  its options);
* ``module_build``: ``ActionBase._configure_module`` (find the module, build the exec wrapper
  payload: Ansible's own, the same for every connection plugin);
* ``exec``: ``ActionBase._low_level_execute_command`` (the connection plugin's exec_command: the
  network, the broker and the host for ours; a shell's Create to Delete for the builtin).

Wall includes waiting (network, CPU contention); CPU is the worker's own (time.process_time).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import Any

PHASES = {
    "worker": ("ansible.executor.process.worker", "WorkerProcess", "_run"),
    "connection_load": ("ansible.executor.task_executor", "TaskExecutor", "_get_connection"),
    "module_build": ("ansible.plugins.action", "ActionBase", "_configure_module"),
    "exec": ("ansible.plugins.action", "ActionBase", "_low_level_execute_command"),
}
_totals: dict[str, list[float]] = {}


def _wrap(phase: str, owner: Any, name: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if phase == "worker":
            _totals.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent = _totals.setdefault(phase, [0.0, 0.0])
            spent[0] += time.perf_counter() - wall
            spent[1] += time.process_time() - cpu
            if phase == "worker":
                _write(args[0])

    setattr(owner, name, timed)


def _write(worker: Any) -> None:
    task = getattr(worker, "_task", None)
    record = {"task": task.get_name() if task is not None else "?", "phases": dict(_totals)}
    with open(os.environ["BENCH_PHASE_LOG"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _install() -> None:
    import importlib  # noqa: PLC0415

    for phase, (module, cls, name) in PHASES.items():
        owner = getattr(importlib.import_module(module), cls, None)
        if owner is not None and hasattr(owner, name):
            _wrap(phase, owner, name)


_PROGRAM = os.path.basename(sys.argv[0]) if getattr(sys, "argv", None) else ""
if os.environ.get("BENCH_PHASE_LOG") and _PROGRAM == "ansible-playbook":
    _install()
