# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection settings of each one-to-many target, read from that host's own variables.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Whatever connection the play host uses (``local`` on localhost, ``ssh`` on a Linux jump host,
``psremoting.core.psrp`` on a Windows host), each target is reached with the
``psremoting.core.psrp`` settings its own inventory gives it, read the way Ansible reads them for
a task on that host: the plugin's variables (``C.config.get_plugin_vars`` under the plugin's
``_load_name``, where Ansible registers a collection plugin's option definitions) are looked up
in ``hostvars[name]``, which templates each value in that host's context; the option values come
from ``C.config.get_plugin_options`` (variables, then environment and ansible.cfg, then
defaults: what ``ConnectionBase.set_options`` does) and are validated by the connection's own
``_options.read_settings`` (with each option's origin and the ``ansible_winrm_*`` extras, as
``read_plugin_settings`` gives them for a task). Task keywords of the play host
(``remote_user:`` ...) are its own and do not apply to the targets.

A target whose inventory names another connection (``ansible_connection``), that is not in the
inventory, or whose options are invalid gets a ``problem`` instead of settings; the action
reports it in ``hosts`` and runs the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.plugins.loader import connection_loader

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _rejected
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    ConnectionSettings,
    OptionError,
    read_settings,
)

try:  # ansible-core >= 2.19: templating a value that is ``omit`` raises this
    from ansible.errors import AnsibleValueOmittedError
except ImportError:  # ansible-core < 2.19: ``omit`` templates to a placeholder string, which
    # TaskExecutor passes to the connection as it is; never raised, so the same happens here.

    class AnsibleValueOmittedError(Exception):  # type: ignore[no-redef]
        """Stand-in for ansible-core < 2.19, which has no such error."""


PLUGIN = "psremoting.core.psrp"
# Connection variables that name the address to connect to (ansible.builtin.psrp's remote_addr)
ADDRESS_VARS = ("ansible_host", "ansible_winrm_host", "ansible_psrp_host")
# Variables the plugin receives as ``_extras`` (ansible.builtin.winrm's, see psrp/_winrm_vars.py)
EXTRAS_PREFIX = "ansible_winrm_"


@dataclass(frozen=True)
class Target:
    name: str  # inventory name (PSComputerName)
    settings: ConnectionSettings | None = None
    problem: str | None = None  # why it cannot be reached with psremoting.core.psrp
    status: str = "failed"  # the host's status when there is a problem


def plugin_load_name() -> str:
    """The name Ansible registered the plugin's option definitions under (loading it once)."""
    plugin = connection_loader.get(PLUGIN, class_only=True)
    if plugin is None:
        raise AnsibleError(f"connection plugin {PLUGIN} could not be loaded")
    return str(getattr(plugin, "_load_name", None) or plugin.__module__)


def connection_var_options(
    host_vars: Mapping[str, Any],
    var_names: Iterable[str],
    host_name: str,
    render: Callable[[Any], Any] = lambda v: v,
) -> dict[str, Any]:
    """The variables a connection plugin reads for one host, rendered, like TaskExecutor's
    ``_set_connection_options`` (``ConnectionBase._resolve_option_variables``).

    ``host_vars`` is normally ``hostvars[host_name]`` (a ``HostVarsVars`` that templates each value
    in that host's own context on access); ``render`` templates anything still left. A value that
    templates to ``omit`` is left out. ``inventory_hostname`` is the host's name (the lowest
    precedence source of the address), and the inventory name is the address when no address
    variable is set.
    """
    names = list(dict.fromkeys(var_names))
    options: dict[str, Any] = {}
    for var in names:
        if var not in host_vars:
            continue
        try:
            options[var] = render(host_vars[var])
        except AnsibleValueOmittedError:
            continue
    if "inventory_hostname" in names:
        options["inventory_hostname"] = host_name
    if not any(options.get(v) for v in ADDRESS_VARS):
        options["ansible_host"] = host_name
    return options


def _options_and_origins(load_name: str, variables: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each connection option's value and origin from ``variables``, as ConfigManager resolves them.

    ``get_plugin_options_and_origins`` is ansible-core 2.17+; 2.16 has the per-option call it is
    built on, ``get_config_value_and_origin``.
    """
    config = C.config
    if hasattr(config, "get_plugin_options_and_origins"):
        options, origins = config.get_plugin_options_and_origins("connection", load_name, variables=variables)
        return dict(options), dict(origins)
    options, origins = {}, {}
    for name in config.get_configuration_definitions("connection", load_name):
        options[name], origins[name] = config.get_config_value_and_origin(
            name, plugin_type="connection", plugin_name=load_name, variables=variables
        )
    return options, origins


def psrp_settings(
    host_vars: Mapping[str, Any],
    host_name: str,
    render: Callable[[Any], Any] = lambda v: v,
    load_name: str | None = None,
    var_names: list[str] | None = None,
) -> ConnectionSettings:
    """One host's ``psremoting.core.psrp`` settings from its variables (validated by
    ``read_settings``, or ``_rejected.explain`` for a value ansible-core refuses; raises ``OptionError``
    or ``AnsibleError``)."""
    load_name = load_name or plugin_load_name()
    names = var_names if var_names is not None else C.config.get_plugin_vars("connection", load_name)
    variables = connection_var_options(host_vars, names, host_name, render)
    try:
        options, origins = _options_and_origins(load_name, variables)
    except Exception as exc:  # ansible-core refused a type or choice: name host, variable and fix
        raise OptionError(_rejected.explain(load_name, host_name, exc, variables=variables)) from None
    # TaskExecutor hands variables with the plugin's extras prefix that are no option as _extras.
    extras = {
        k: render(host_vars[k]) for k in host_vars if k.startswith(EXTRAS_PREFIX) and k not in variables
    }
    return read_settings(
        options.get, host_name, origin_of=lambda name: str(origins.get(name) or "default"), extras=extras
    )


class TargetReader:
    """Reads targets one by one (``read``) with the plugin's variable names looked up once."""

    def __init__(self, hostvars: Mapping[str, Any], render: Callable[[Any], Any] = lambda v: v) -> None:
        self.hostvars = hostvars
        self.render = render
        self.load_name = plugin_load_name()
        self.var_names = C.config.get_plugin_vars("connection", self.load_name)
        if not self.var_names:
            raise AnsibleError(f"connection plugin {PLUGIN} declares no variables to configure it with")

    def connection_of(self, host_vars: Mapping[str, Any]) -> str:
        try:
            name = self.render(host_vars["ansible_connection"]) if "ansible_connection" in host_vars else None
        except AnsibleValueOmittedError:
            name = None
        return str(name or C.DEFAULT_TRANSPORT)

    def read(self, name: str) -> Target:
        if name not in self.hostvars:
            return Target(name, problem=f"{name} is not in the inventory", status="unreachable")
        try:
            host_vars = self.hostvars[name]
            connection = self.connection_of(host_vars)
            if connection != PLUGIN:
                return Target(
                    name,
                    problem=(
                        f"{name} uses the connection '{connection}' (ansible_connection); computer_name "
                        f"reaches hosts with {PLUGIN} and its variables: set ansible_connection={PLUGIN} "
                        "for this host or leave it out of computer_name"
                    ),
                )
            settings = psrp_settings(host_vars, name, self.render, self.load_name, self.var_names)
            return Target(name, settings=settings)
        except OptionError as exc:
            return Target(name, problem=str(exc))
        except AnsibleError as exc:
            return Target(name, problem=f"{name}: reading its {PLUGIN} options failed: {exc}")
