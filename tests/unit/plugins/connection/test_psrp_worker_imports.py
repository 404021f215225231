"""A worker imports only what a task through the session broker needs (plugins/connection/psrp.py).

Ansible's collection loader compiles a collection's Python source again in every forked worker
(no bytecode cache), so each module the connection plugin imports at load time costs every task;
bench/README.md ("Where a warm task's time goes") has the measured worker CPU. This pins the set:
the modules below load on first use only (in-process backend, pipelines, shell listings, fan-out,
invoke_command, error mapping, live output), never for a plain exec/put/fetch through the broker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ansible_collections.psremoting.core as collection

PREFIX = "ansible_collections.psremoting.core.plugins."
LOADED_ON_USE = {
    "plugin_utils.psrp._backend",
    "plugin_utils.psrp._pipeline",
    "plugin_utils.psrp._shells",
    "plugin_utils.psrp._errors",
    "plugin_utils.psrp._client",
    "plugin_utils.broker._fanout",
    "plugin_utils.invoke._command",
    "plugin_utils.invoke._session",
    "plugin_utils.invoke._live",
    "plugin_utils.transfer._mode",
}


def test_the_broker_path_imports_a_small_fixed_set_of_modules() -> None:
    root = Path(next(iter(collection.__path__))).parents[2]
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "import ansible_collections.psremoting.core.plugins.connection.psrp\n"
        "import ansible_collections.psremoting.core.plugins.plugin_utils.broker._backend\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({PREFIX!r}))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = {name.removeprefix(PREFIX) for name in json.loads(out.stdout.strip().splitlines()[-1])}
    assert "connection.psrp" in loaded and "plugin_utils.broker._client" in loaded
    assert loaded & LOADED_ON_USE == set(), sorted(loaded & LOADED_ON_USE)
    # and none of the libraries only the broker needs
    libs = subprocess.run(
        [
            sys.executable,
            "-c",
            probe.replace(f"m.startswith({PREFIX!r})", "m.split('.')[0] in ('pypsrp', 'spnego', 'requests')"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(libs.stdout.strip().splitlines()[-1]) == []


def test_the_broker_path_defines_no_dataclass() -> None:
    """Defining a dataclass costs about 0.5 ms of CPU (it generates and compiles its methods), paid
    again in every forked worker: the modules a warm task loads use plain classes and NamedTuples."""
    root = Path(next(iter(collection.__path__))).parents[2]
    probe = (
        "import dataclasses, json, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "import ansible_collections.psremoting.core.plugins.connection.psrp\n"
        "import ansible_collections.psremoting.core.plugins.plugin_utils.broker._backend\n"
        "found = sorted(f'{m}.{k}' for m, mod in list(sys.modules.items()) if m.startswith("
        f"{PREFIX!r}) for k, v in vars(mod).items() if isinstance(v, type) and v.__module__ == m "
        "and dataclasses.is_dataclass(v))\n"
        "print(json.dumps(found))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
