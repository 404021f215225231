"""Shells a dead broker left: recorded without secrets, taken by the next broker per endpoint+user."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._orphans import (
    read_record,
    record_path,
    recorded_shells,
    shell_name,
    take_orphans,
    write_record,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import process_start_time

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


def test_names_and_paths() -> None:
    assert record_path("/d/broker-7-1.sock") == "/d/broker-7-1.shells.json"
    name = shell_name(123, "456")
    assert name.startswith("psremoting.core broker ") and name.endswith(" 123/456")
