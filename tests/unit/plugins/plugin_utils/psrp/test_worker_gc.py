"""A forked worker leaves the heap it inherited shared (plugin_utils/psrp/_worker_gc.py)."""

from __future__ import annotations

import gc
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._worker_gc import freeze_inherited_objects

SMAPS = Path("/proc/self/smaps_rollup")


def _private_kib() -> int:
    """Private (copied or written) memory of this process, from the kernel."""
    fields = dict(line.split(":", 1) for line in SMAPS.read_text().splitlines()[1:])
    return sum(int(fields[key].split()[0]) for key in ("Private_Clean", "Private_Dirty"))


def _worker(freeze: bool, out: Any) -> None:
    froze = freeze_inherited_objects() if freeze else False
    before = _private_kib()
    gc.collect()  # what a full collection during the worker's task does
    out.put((froze, gc.get_freeze_count(), _private_kib() - before))


def _in_forked_worker(freeze: bool) -> tuple[bool, int, int]:
    ctx = multiprocessing.get_context("fork")  # how ansible-core starts its workers
    out = ctx.Queue()
    proc = ctx.Process(target=_worker, args=(freeze, out))
    proc.start()
    result = out.get(timeout=120)
    proc.join(timeout=120)
    return result


def test_in_the_controller_itself_nothing_is_frozen() -> None:
    assert multiprocessing.parent_process() is None
    before = gc.get_freeze_count()
    assert freeze_inherited_objects() is False
    assert gc.get_freeze_count() == before


@pytest.mark.skipif(not SMAPS.exists(), reason="needs Linux /proc/self/smaps_rollup to read private memory")
def test_a_forked_worker_keeps_the_inherited_heap_shared() -> None:
    # a controller heap like ansible-playbook's at a few hundred hosts: many small containers
    heap = [{"host": f"web{i:05d}", "vars": [i, str(i)]} for i in range(300_000)]
    gc.collect()
    gc.disable()  # so no collection in this process copies pages before the fork
    try:
        plain = _in_forked_worker(freeze=False)
        frozen = _in_forked_worker(freeze=True)
    finally:
        gc.enable()
    assert plain[0] is False and frozen[0] is True and frozen[1] >= len(heap)
    # without the freeze, one full collection copies most pages holding the inherited containers
    # (tens of MiB here); with it, those pages stay shared
    assert plain[2] > 20 * 1024, plain
    assert frozen[2] < plain[2] / 4, (plain, frozen)
    del heap
