# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drive one connection plugin's put_file/fetch_file directly (no module, no task overhead).

The session is opened (one command) before the timed put and fetch, so both plugins are timed
on an open session: throughput, not set-up.

Usage (run by bench/run in its own process so its memory can be sampled):
    python transfer_driver.py CONNECTION INVENTORY HOST LOCAL_FILE REMOTE_PATH FETCH_TO
Prints one JSON line: {"put_seconds": .., "fetch_seconds": .., "bytes": .., "same": bool}.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any

import yaml


def _sha1(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _connection(name: str, hostvars: dict[str, Any]) -> Any:
    from ansible.playbook.play_context import PlayContext  # noqa: PLC0415
    from ansible.plugins.loader import connection_loader, init_plugin_loader  # noqa: PLC0415

    init_plugin_loader()
    play_context = PlayContext()
    play_context.remote_addr = hostvars.get("ansible_host", "")
    conn = connection_loader.get(name, play_context)
    if conn is None:
        raise SystemExit(f"connection plugin {name} not found")
    from ansible import constants as C  # noqa: PLC0415

    declared = set(C.config.get_plugin_vars("connection", conn._load_name))
    var_options = {k: v for k, v in hostvars.items() if k in declared}
    if getattr(conn, "allow_extras", False):  # as TaskExecutor: the undeclared ansible_<prefix>_*
        prefix = f"ansible_{conn.extras_prefix}_"
        var_options["_extras"] = {
            k: v for k, v in hostvars.items() if k.startswith(prefix) and k not in declared
        }
    conn.set_options(var_options=var_options)
    return conn


def main(argv: list[str]) -> int:
    name, inventory, host, local, remote, fetch_to = argv
    with open(inventory, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    hostvars = dict(data["all"]["children"]["windows"]["hosts"][host])
    hostvars["inventory_hostname"] = host
    conn = _connection(name, hostvars)
    try:
        conn._connect()
        # Throughput, not set-up: open the session first. ansible.builtin.psrp opens its
        # RunspacePool in _connect() (ansible.builtin.winrm its cmd shell); ours opens it (and
        # starts the broker) on first use.
        conn.exec_command("Write-Output ready")
        start = time.perf_counter()
        conn.put_file(local, remote)
        put_seconds = time.perf_counter() - start
        start = time.perf_counter()
        conn.fetch_file(remote, fetch_to)
        fetch_seconds = time.perf_counter() - start
    finally:
        conn.close()
    same = os.path.exists(fetch_to) and _sha1(local) == _sha1(fetch_to)
    print(
        json.dumps(
            {
                "put_seconds": put_seconds,
                "fetch_seconds": fetch_seconds,
                "bytes": os.path.getsize(local),
                "same": same,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
