# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller memory: sample the RSS (and PSS) of every process a benchmark run started.

A run's processes are found by an environment marker (``BENCH_RUN_TAG=<id>``) rather than by
parentage, so a daemonised session broker that was re-parented to init is still counted, and the
winhost servers (started without the marker) never are. Linux ``/proc`` only; no psutil needed.

* RSS sum: what ``ps`` shows, added up. Forked workers share copy-on-write pages with
  ansible-playbook, so this over-counts; it is the figure the goals use (conservative).
* PSS sum: shared pages divided among the processes sharing them (``smaps_rollup``); the
  physical memory the run really holds.

It also keeps the CPU time (user + system, ``/proc/<pid>/stat``) last seen for each session
broker: a daemonised broker is never waited for by ansible-playbook, so its CPU is not in
ansible-playbook's ``RUSAGE_CHILDREN`` and has to be read here.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

MARKER = "BENCH_RUN_TAG"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _is_broker(cmdline: bytes) -> bool:
    """A session broker's command line: ``python -c '...plugin_utils.broker import _server...'``
    since the plugin_utils regrouping (``..._broker...`` before it)."""
    return b"broker import _server" in cmdline or b"_broker" in cmdline


def _kib(text: bytes, key: bytes) -> int:
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


@dataclass
class MemorySample:
    rss_kib: int = 0
    pss_kib: int = 0
    processes: int = 0
    broker_rss_kib: int = 0
    brokers: int = 0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process, from ``/proc/<pid>/stat`` (fields 14 and 15)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None or b")" not in stat:
        return None
    fields = stat.rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class MemorySampler:
    """Background thread sampling every ``interval`` seconds until ``stop()``."""

    tag: str
    interval: float = 0.1
    peak_rss_kib: int = 0
    peak_pss_kib: int = 0
    peak_processes: int = 0
    peak_broker_rss_kib: int = 0
    samples: int = 0
    broker_cpu: dict[int, float] = field(default_factory=dict)
    _known: dict[tuple[int, bytes], bool] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _is_ours(self, pid: int) -> bool:
        stat = _read(f"/proc/{pid}/stat")
        if stat is None:
            return False
        # pid + start time + command line: between fork and exec a child still shows its parent's
        # environment, so a verdict is only reused while the command line is unchanged.
        start_time = stat.split(b")")[-1].split()[19] if b")" in stat else b""
        key = (pid, start_time + b"\0" + (_read(f"/proc/{pid}/cmdline") or b""))
        cached = self._known.get(key)
        if cached is not None:
            return cached
        environ = _read(f"/proc/{pid}/environ") or b""
        ours = f"{MARKER}={self.tag}".encode() in environ.split(b"\0")
        self._known[key] = ours
        return ours

    def sample(self) -> MemorySample:
        result = MemorySample()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid == os.getpid() or not self._is_ours(pid):
                continue
            status = _read(f"/proc/{pid}/status")
            if status is None:
                continue
            rss = _kib(status, b"VmRSS:")
            if rss == 0:
                continue
            result.rss_kib += rss
            if _is_broker(_read(f"/proc/{pid}/cmdline") or b""):
                result.broker_rss_kib += rss
                result.brokers += 1
                used = cpu_seconds(pid)
                if used is not None:
                    self.broker_cpu[pid] = max(self.broker_cpu.get(pid, 0.0), used)
            rollup = _read(f"/proc/{pid}/smaps_rollup")
            result.pss_kib += _kib(rollup, b"Pss:") if rollup else rss
            result.processes += 1
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            snap = self.sample()
            self.samples += 1
            self.peak_rss_kib = max(self.peak_rss_kib, snap.rss_kib)
            self.peak_pss_kib = max(self.peak_pss_kib, snap.pss_kib)
            self.peak_processes = max(self.peak_processes, snap.processes)
            self.peak_broker_rss_kib = max(self.peak_broker_rss_kib, snap.broker_rss_kib)
            self._stop.wait(self.interval)

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._loop, name="bench-memory", daemon=True)
        self._thread.start()
        return self

    @property
    def broker_cpu_seconds(self) -> float:
        return sum(self.broker_cpu.values())

    def wait_for_brokers(self, timeout: float = 60.0) -> float:
        """After ansible-playbook exited: keep sampling until no broker of the run is left (each
        deletes its shells, then exits) or ``timeout``; return how long that took."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.sample().brokers == 0:
                break
            time.sleep(0.05)
        return time.perf_counter() - start

    def stop(self) -> MemorySampler:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return self


def mib(kib: int) -> float:
    return kib / 1024.0


def now() -> float:
    return time.perf_counter()
