# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vars plugin psremoting.core.psrp_preload: load the psrp connection plugin once per run."""

from __future__ import annotations

DOCUMENTATION = r"""
name: psrp_preload
author: psremoting.core contributors (@psremoting-core)
version_added: "1.1.0"
short_description: Load the psremoting.core.psrp connection plugin once, before Ansible forks its workers
requirements:
  - Enabled in configuration (C(vars_plugins_enabled), keeping C(host_group_vars) in the list)
description:
  - Sets no variables. It makes C(ansible-playbook) load the P(psremoting.core.psrp#connection)
    connection plugin, its option definitions and the session-broker client once, in the
    controller process, so that the worker Ansible forks for each host and task inherits them
    instead of compiling the collection's Python code and parsing the plugin's option
    documentation again. ansible-core does this itself for its own connection plugins only.
  - This saves about 25 ms of controller CPU per task and host with this connection plugin
    (measured on ansible-core 2.19; see docs/connection.md). Nothing else changes; with the plugin
    not enabled, each worker loads the connection plugin itself, as before.
  - Enable it with C(vars_plugins_enabled = host_group_vars,psremoting.core.psrp_preload) in the
    C([defaults]) section of C(ansible.cfg), or
    C(ANSIBLE_VARS_ENABLED=host_group_vars,psremoting.core.psrp_preload). Ansible's default list is
    C(host_group_vars) alone; leaving it out of the setting stops C(group_vars)/C(host_vars) files
    from being read.
  - If the connection plugin cannot be loaded there, the run continues without the preload (shown
    at C(-vvv)).
extends_documentation_fragment:
  - vars_plugin_staging
"""

import importlib
import typing as t

from ansible.plugins.loader import connection_loader
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.display import Display

display = Display()

CONNECTION = "psremoting.core.psrp"
# What a warm task through the session broker imports besides the plugin (connection/psrp.py
# loads it on first use; tests/unit/plugins/connection/test_psrp_worker_imports.py pins the set).
WARM_PATH_MODULES = (
    "ansible_collections.psremoting.core.plugins.plugin_utils.broker._backend",
    # ansible-core 2.16 records no option origins: reading the settings asks _rejected for them
    "ansible_collections.psremoting.core.plugins.plugin_utils.psrp._rejected",
)

_preloaded: bool | None = None


def preload() -> bool:
    """Load the connection plugin through Ansible's plugin loader (module, option definitions) and
    the modules of a warm task, once per process; False (said at -vvv) when that failed."""
    global _preloaded
    if _preloaded is None:
        try:
            if connection_loader.get(CONNECTION, class_only=True) is None:
                raise ImportError(f"ansible-core found no connection plugin {CONNECTION}")
            for name in WARM_PATH_MODULES:
                importlib.import_module(name)
            _preloaded = True
        except Exception as exc:  # never break the run: the workers load the plugin themselves
            display.vvv(f"psrp_preload: {CONNECTION} not preloaded ({type(exc).__name__}: {exc})")
            _preloaded = False
    return _preloaded


class VarsModule(BaseVarsPlugin):
    # a collection's vars plugin runs only when enabled (ansible-core warns about REQUIRES_ENABLED)
    is_stateless = True

    def __init__(self) -> None:
        super().__init__()
        # ansible-playbook creates its vars plugins in the controller process before the first task
        # is sent to a worker (VariableManager.get_vars -> vars.plugins.get_vars_from_path)
        preload()

    def get_vars(self, loader: t.Any, path: str, entities: t.Any, cache: bool = True) -> dict[str, t.Any]:
        return {}
