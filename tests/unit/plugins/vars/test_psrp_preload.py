"""The psrp_preload vars plugin loads the connection plugin in the controller, before Ansible forks.

Each check runs in a fresh interpreter set up as ansible-playbook sets up its plugin loaders, so
nothing this pytest process already imported hides what the plugin itself loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.vars import psrp_preload

PREFIX = "ansible_collections.psremoting.core.plugins."


def _fresh(code: str) -> Any:
    """Run ``code`` (which prints one JSON line last) after ansible-core's plugin loader setup."""
    probe = "from ansible.plugins.loader import init_plugin_loader\ninit_plugin_loader()\n" + textwrap.dedent(
        code
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_enabled_it_loads_the_connection_plugin_its_options_and_the_broker_client() -> None:
    found = _fresh(
        f"""
        import json, sys
        from ansible import constants as C
        from ansible.plugins.loader import connection_loader, vars_loader
        before = sorted(m for m in sys.modules if m.startswith({PREFIX!r}))
        plugin = vars_loader.get("psremoting.core.psrp_preload")
        ctx = connection_loader.find_plugin_with_context("psremoting.core.psrp")
        print(json.dumps({{
            "before": before,
            "after": sorted(m for m in sys.modules if m.startswith({PREFIX!r})),
            "defs": C.config.has_configuration_definition("connection", ctx.plugin_resolved_name),
            "cached": ctx.plugin_resolved_path in connection_loader._module_cache,
            "vars": plugin.get_vars(None, "/", []),
        }}))
        """
    )
    assert not [m for m in found["before"] if m.startswith(PREFIX + "connection")]
    loaded = {name.removeprefix(PREFIX) for name in found["after"]}
    expected = {"connection.psrp", "plugin_utils.broker._backend", "plugin_utils.broker._client"}
    assert expected | {"plugin_utils.psrp._rejected"} <= loaded
    # a worker's connection_loader.get finds the module and its option definitions already there
    assert found["defs"] is True and found["cached"] is True
    assert found["vars"] == {}


def test_a_worker_that_inherits_the_loaded_plugin_still_freezes_the_inherited_heap() -> None:
    """psrp.py freezes at import (_worker_gc); with the plugin preloaded, a worker never imports it,
    so creating the Connection does it."""
    found = _fresh(
        """
        import gc, json, multiprocessing
        from ansible.playbook.play_context import PlayContext
        from ansible.plugins.loader import connection_loader, vars_loader
        vars_loader.get("psremoting.core.psrp_preload")
        parent = gc.get_freeze_count()

        def worker(out):
            before = gc.get_freeze_count()
            connection_loader.get("psremoting.core.psrp", PlayContext(), "/dev/null")
            out.put((before, gc.get_freeze_count()))

        ctx = multiprocessing.get_context("fork")  # how ansible-core starts its workers
        out = ctx.Queue()
        proc = ctx.Process(target=worker, args=(out,))
        proc.start()
        before, after = out.get(timeout=60)
        proc.join(timeout=60)
        print(json.dumps([parent, before, after]))
        """
    )
    parent, before, after = found
    assert parent == 0 and before == 0  # the controller itself never freezes
    assert after > 10_000  # the worker froze what it inherited (ansible-core alone is more)


def test_a_plugin_that_cannot_be_loaded_leaves_the_run_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise ImportError("simulated: pypsrp missing")

    monkeypatch.setattr(psrp_preload, "_preloaded", None)
    monkeypatch.setattr(psrp_preload.connection_loader, "get", refuse)
    said: list[str] = []
    monkeypatch.setattr(psrp_preload.display, "vvv", lambda msg, **_kw: said.append(msg))
    assert psrp_preload.preload() is False
    assert said == [
        "psrp_preload: psremoting.core.psrp not preloaded (ImportError: simulated: pypsrp missing)"
    ]
    assert psrp_preload.VarsModule().get_vars(None, "/", []) == {}  # and the plugin itself works
