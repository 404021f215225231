"""Shells a dead broker left: recorded without secrets, taken by the next broker per endpoint+user."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.broker import _orphans
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._orphans import (
    RecordWriter,
    broker_state,
    parse_name,
    read_record,
    record_broker,
    record_path,
    recorded_shells,
    shell_name,
    stale_shells,
    take_orphans,
    write_record,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import process_start_time
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import ShellInfo

WIN1 = {
    "host": "win1",
    "port": 5985,
    "user": "admin",
    "auth": "ntlm",
    "configuration_name": "Microsoft.PowerShell",
}


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_dead_brokers_shells_are_taken_once_per_identity(tmp_path: Path) -> None:
    dead = str(tmp_path / "broker-1-0.shells.json")
    shells = [
        dict(WIN1, shell_id="A", resource_uri="r"),
        dict(WIN1, host="win2", shell_id="B", resource_uri="r"),
    ]
    write_record(dead, _dead_pid(), None, shells)
    assert oct(os.stat(dead).st_mode & 0o777) == "0o600"
    live = str(tmp_path / "broker-2-0.shells.json")
    write_record(
        live, os.getpid(), process_start_time(os.getpid()), [dict(WIN1, shell_id="C", resource_uri="r")]
    )

    listed = {s["shell_id"]: s["broker_alive"] for s in recorded_shells(str(tmp_path))}
    assert listed == {"A": False, "B": False, "C": True}
    taken = take_orphans(str(tmp_path), dict(WIN1, become=None))
    assert [s["shell_id"] for s in taken] == ["A"]  # not the live broker's C, not win2's B
    assert [s["shell_id"] for s in read_record(dead)["shells"]] == ["B"]  # type: ignore[index]
    assert take_orphans(str(tmp_path), WIN1) == []
    assert [s["shell_id"] for s in take_orphans(str(tmp_path), dict(WIN1, host="WIN2"))] == ["B"]
    assert not os.path.exists(dead), "an empty record is removed"
    assert os.path.exists(live)


def test_another_users_or_linked_record_is_ignored(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"broker_pid": _dead_pid(), "shells": [dict(WIN1, shell_id="X")]}))
    os.symlink(target, tmp_path / "broker-3-0.shells.json")
    assert take_orphans(str(tmp_path), WIN1) == []


def test_writing_the_record_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    """The record is written to ``<record>.<pid>.tmp`` and renamed: a hard or symbolic link
    planted under that name loses its name, and what it points to is not written."""
    record = str(tmp_path / "broker-4-0.shells.json")
    for kind in ("hard", "symbolic"):
        victim = tmp_path / f"victim-{kind}.txt"
        victim.write_text("keep")
        tmp = f"{record}.{os.getpid()}.tmp"
        (os.link if kind == "hard" else os.symlink)(victim, tmp)
        write_record(record, os.getpid(), None, [dict(WIN1, shell_id="D", resource_uri="r")])
        assert victim.read_text() == "keep"
        assert not os.path.lexists(tmp)
        assert [s["shell_id"] for s in read_record(record)["shells"]] == ["D"]  # type: ignore[index]


def test_names_and_paths() -> None:
    assert record_path("/d/broker-7-1.sock") == "/d/broker-7-1.shells.json"
    name = shell_name(123, "456")
    assert name.startswith("psremoting.core broker ") and name.endswith(" 123/456")


def _shell(shell_id: str, name: str | None, inactivity: str, state: str = "Connected") -> ShellInfo:
    uri = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
    return ShellInfo(
        shell_id, name, uri, "DC01\\admin", None, None, state, "PT90.000S", "P0DT1H0M0S", inactivity
    )


def test_our_shell_name_is_parsed_back_and_others_are_not_ours() -> None:
    name = shell_name(4242, "12345")
    machine, pid, start = parse_name(name) or ("", 0, None)
    assert (machine, pid, start) == (socket.gethostname(), 4242, "12345")
    assert parse_name(shell_name(7, None)) == (socket.gethostname(), 7, None)
    for other in (None, "", "psremoting.core", "my session", "psremoting.core broker host notapid/1"):
        assert parse_name(other) is None


def test_broker_state_from_the_record_then_the_name() -> None:
    alive = shell_name(os.getpid(), process_start_time(os.getpid()))
    dead = shell_name(_dead_pid(), None)
    elsewhere = f"psremoting.core broker another-container {os.getpid()}/1"
    assert broker_state(alive) == "alive"
    assert broker_state(dead) == "gone"
    assert broker_state(elsewhere) == "unknown"
    assert broker_state("pypsrp session") is None
    # the session directory's record wins over the name (a recorded broker is known everywhere)
    assert broker_state(elsewhere, {"ABC": False}, "abc") == "gone"
    assert broker_state(None, {"ABC": True}, "ABC") == "alive"


def test_stale_shells_are_ours_idle_beyond_the_threshold_and_not_held_by_a_live_broker() -> None:
    other_machine = "psremoting.core broker aap-job-17 99/1"
    live_here = shell_name(os.getpid(), process_start_time(os.getpid()))
    shells = [
        _shell("OLD", other_machine, "P0DT0H20M0S"),  # stale: removed
        _shell("RECENT", other_machine, "PT30.000S"),  # used 30 s ago: a broker may hold it
        _shell("FOREIGN", None, "P1DT0H0M0S"),  # another client of the same user: never ours
        _shell("NAMED", "my session", "P1DT0H0M0S"),
        _shell("MINE", other_machine, "P1DT0H0M0S"),  # in this broker's table
        _shell("DISC", other_machine, "P1DT0H0M0S", state="Disconnected"),  # deliberately left
        _shell("LIVE", live_here, "P1DT0H0M0S"),  # its broker on this machine still runs
        _shell("NOIDLE", other_machine, ""),  # inactivity not reported: not provably idle
    ]
    assert [s.shell_id for s in stale_shells(shells, ["mine"], 600)] == ["OLD"]
    assert [s.shell_id for s in stale_shells(shells, ["mine"], 1200)] == []  # exactly 20 min: not beyond
    assert [s.shell_id for s in stale_shells(shells, [], 10)] == ["OLD", "RECENT", "MINE"]


def _recorded_shell(index: int) -> dict[str, object]:
    return {**WIN1, "host": f"win{index}", "shell_id": f"ID{index}", "resource_uri": "uri"}


def test_record_writer_keeps_the_record_current(tmp_path: Path) -> None:
    path = str(tmp_path / "broker-1-0.shells.json")
    shells: list[dict[str, object]] = [_recorded_shell(1)]
    writer = RecordWriter(path, os.getpid(), None, lambda: list(shells))
    writer.changed()
    record = read_record(path)
    assert record is not None and [s["shell_id"] for s in record["shells"]] == ["ID1"]
    shells.append(_recorded_shell(2))
    writer.changed(wait=False)  # nobody else writing: this call writes
    record = read_record(path)
    assert record is not None and [s["shell_id"] for s in record["shells"]] == ["ID1", "ID2"]
    shells.clear()
    writer.changed()
    assert not os.path.exists(path), "no shells left: the record goes"


def test_a_burst_of_changes_shares_writes_and_ends_current(tmp_path: Path) -> None:
    """While one thread writes, 50 session opens only mark the record stale and return at once;
    the writing thread then writes the latest state (one-to-many opening many shells at once)."""
    path = str(tmp_path / "broker-1-0.shells.json")
    shells: list[dict[str, object]] = [_recorded_shell(0)]
    first_write_started, release = threading.Event(), threading.Event()

    def snapshot() -> list[dict[str, object]]:
        if not first_write_started.is_set():
            first_write_started.set()
            assert release.wait(30)
        return list(shells)

    writer = RecordWriter(path, os.getpid(), None, snapshot)
    first = threading.Thread(target=writer.changed, kwargs={"wait": False})
    first.start()
    assert first_write_started.wait(30)
    for index in range(1, 51):
        shells.append(_recorded_shell(index))
        writer.changed(wait=False)  # returns although the first write is still going on
    waiter = threading.Thread(target=writer.changed, kwargs={"wait": True})
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive(), "wait=True waits for a write that shows its change"
    release.set()
    first.join(30)
    waiter.join(30)
    assert not first.is_alive() and not waiter.is_alive()
    record = read_record(path)
    assert record is not None and len(record["shells"]) == 51
    assert writer.writes == 2, "the first write, then one for the whole burst"


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The records read in full (parsed with every shell they list)."""
    reads: list[str] = []
    real = _orphans.read_record

    def counting(path: str) -> Any:
        reads.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(_orphans, "read_record", counting)
    return reads


def test_a_live_brokers_record_is_recognised_from_its_first_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each session open looks for dead brokers' records: a live broker's record (every shell it
    holds, up to one per host) is never parsed in full, however often it is rewritten; a dead
    broker's is."""
    live = str(tmp_path / "broker-2-0.shells.json")
    me = (os.getpid(), process_start_time(os.getpid()))
    many = [dict(WIN1, host=f"h{i}", shell_id=f"S{i}", resource_uri="r") for i in range(500)]
    write_record(live, *me, many)
    dead = str(tmp_path / "broker-3-0.shells.json")
    write_record(dead, _dead_pid(), "123", [dict(WIN1, host="other", shell_id="D", resource_uri="r")])
    assert record_broker(live) == me and record_broker(dead) is not None
    reads = _count_reads(monkeypatch)
    for _ in range(3):
        assert take_orphans(str(tmp_path), WIN1) == []
        write_record(live, *me, many[:-1])
    assert reads == ["broker-3-0.shells.json"] * 3


def test_a_record_that_does_not_begin_as_written_is_read_in_full(tmp_path: Path) -> None:
    """Any other layout (another version, a hand edit) falls back to parsing the whole record,
    with the same outcome as before: a dead broker's shells are taken, a live one's are not."""
    me = {"broker_pid": os.getpid(), "broker_start": process_start_time(os.getpid())}
    other = tmp_path / "broker-6-0.shells.json"
    other.write_text(json.dumps({"shells": [dict(WIN1, shell_id="G")], **me}))
    dead = tmp_path / "broker-7-0.shells.json"
    dead.write_text(json.dumps({"shells": [dict(WIN1, shell_id="H")], "broker_pid": _dead_pid()}))
    for path in (other, dead):
        os.chmod(path, 0o600)
        assert record_broker(str(path)) is None
    assert [s["shell_id"] for s in take_orphans(str(tmp_path), WIN1)] == ["H"]


def test_a_broker_that_died_since_leaves_its_orphans(tmp_path: Path) -> None:
    path = str(tmp_path / "broker-4-0.shells.json")
    child = subprocess.Popen(["sleep", "30"])
    try:
        write_record(
            path, child.pid, process_start_time(child.pid), [dict(WIN1, shell_id="E", resource_uri="r")]
        )
        assert take_orphans(str(tmp_path), WIN1) == []  # alive
    finally:
        child.kill()
        child.wait()
    assert [s["shell_id"] for s in take_orphans(str(tmp_path), WIN1)] == ["E"]
    assert not os.path.exists(path)


def test_a_linked_record_head_is_not_read(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    write_record(str(target), os.getpid(), process_start_time(os.getpid()), [dict(WIN1, shell_id="F")])
    os.symlink(target, tmp_path / "broker-5-0.shells.json")
    assert record_broker(str(tmp_path / "broker-5-0.shells.json")) is None
