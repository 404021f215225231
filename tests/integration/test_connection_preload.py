"""vars plugin psremoting.core.psrp_preload through ansible-playbook against winhost.

Enabled, ansible-playbook loads the connection plugin before it forks, and every worker finds it
already loaded (ansible-core's own debug line says ``found_in_cache=True``); tasks behave as
without it. Not enabled, each worker loads the plugin itself.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import playbook_env, run_playbook

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01")]

ENABLED = "host_group_vars,psremoting.core.psrp_preload"
TASKS = """\
    - raw: Write-Output preload-raw
      register: r
    - ansible.windows.win_ping:
    - psremoting.core.invoke_command:
        script: Write-Output preload-invoke
      register: i
    - ansible.builtin.assert:
        that:
          - r.stdout_lines == ['preload-raw']
          - i.output == ['preload-invoke']
"""
# ansible-core's PluginLoader._display_plugin_load, at ANSIBLE_DEBUG: one line per load of the plugin
# (named 'ansible_collections.psremoting.core.plugins.connection.psrp' on 2.19)
LOAD_LINE = re.compile(
    r"Loading Connection '[\w.]*psrp' from \S+/psremoting/core/plugins/connection/psrp\.py(.*)$", re.MULTILINE
)


def _run(winhost: Any, tmp_path: Path, **env: str) -> tuple[int, list[str], str]:
    pb = tmp_path / "pb.yml"
    pb.write_text("- hosts: dc01\n  gather_facts: false\n  tasks:\n" + TASKS, encoding="utf-8")
    rc, _report, out = run_playbook(
        winhost.inventory_path,
        pb,
        "-e",
        "ansible_connection=psremoting.core.psrp",
        env=playbook_env(
            winhost.env,
            tempfile.mkdtemp(prefix="psrppl-", dir="/tmp"),
            ANSIBLE_DEBUG="1",
            ANSIBLE_STDOUT_CALLBACK="default",
            **env,
        ),
        timeout=300,
    )
    return rc, [m.strip() for m in LOAD_LINE.findall(out)], out


def test_enabled_every_worker_finds_the_plugin_loaded(winhost: Any, tmp_path: Path) -> None:
    rc, loads, out = _run(winhost, tmp_path, ANSIBLE_VARS_ENABLED=ENABLED)
    assert rc == 0, out[-3000:]
    # the controller loads it once (class only); the worker of each of the 4 tasks (assert too: a
    # worker loads the connection for every task) finds it cached
    assert loads.count("(found_in_cache=False, class_only=True)") == 1, loads
    assert loads.count("(found_in_cache=True, class_only=False)") == 4, loads
    assert "" not in loads, loads  # no worker loaded (compiled) it itself
    assert "[WARNING]" not in out, out[-3000:]


def test_not_enabled_each_worker_loads_the_plugin_itself(winhost: Any, tmp_path: Path) -> None:
    rc, loads, out = _run(winhost, tmp_path)
    assert rc == 0, out[-3000:]
    assert loads == ["", "", "", ""], loads
