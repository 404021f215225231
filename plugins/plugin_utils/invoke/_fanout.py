# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-to-many: run one task's pipeline work on many inventory hosts from one controller process.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Like ``Invoke-Command -ComputerName a,b,c -ThrottleLimit 32``: each host is reached with its own
connection options (its inventory variables, templated, given to a connection of the same plugin
through ``set_options(var_options=...)``, as Ansible's TaskExecutor does for the task's own host),
at most ``throttle_limit`` hosts at a time in threads. A host that fails or is unreachable does not
stop the others.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ansible import constants as C
from ansible.plugins.loader import connection_loader

try:  # ansible-core >= 2.19: templating a value that is ``omit`` raises this
    from ansible.errors import AnsibleValueOmittedError
except ImportError:  # ansible-core < 2.19: ``omit`` templates to a placeholder string, which
    # TaskExecutor passes to the connection as it is; never raised, so the same happens here.

    class AnsibleValueOmittedError(Exception):  # type: ignore[no-redef]
        """Stand-in for ansible-core < 2.19, which has no such error."""


DEFAULT_THROTTLE_LIMIT = 32  # Invoke-Command's default
FAIL_ON = ("any", "all", "never")

# Connection variables that name the address to connect to (ansible.builtin.psrp's remote_addr)
ADDRESS_VARS = ("ansible_host", "ansible_winrm_host", "ansible_psrp_host")


@dataclass
class HostOutcome:
    name: str
    status: str  # ok | failed | unreachable
    fields: dict[str, Any] = field(default_factory=dict)
    msg: str | None = None


def run_throttled(
    names: Iterable[str],
    work: Callable[[str], HostOutcome],
    throttle_limit: int = DEFAULT_THROTTLE_LIMIT,
) -> list[HostOutcome]:
    """Run ``work(name)`` for each name, at most ``throttle_limit`` at once; results in input order.

    ``work`` should turn its own errors into an outcome; anything it raises anyway becomes a
    ``failed`` outcome for that host so one host never stops the others.
    """
    ordered = list(dict.fromkeys(names))
    if not ordered:
        return []
    workers = max(1, min(throttle_limit, len(ordered)))

    def guarded(name: str) -> HostOutcome:
        try:
            return work(name)
        except Exception as exc:
            return HostOutcome(name, "failed", msg=f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="psremoting-fanout") as pool:
        return list(pool.map(guarded, ordered))


def task_failed(outcomes: list[HostOutcome], fail_on: str) -> bool:
    """``any``: one bad host fails the task; ``all``: only when every host is bad; ``never``."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    bad = [o for o in outcomes if o.status != "ok"]
    if fail_on == "never" or not outcomes:
        return False
    if fail_on == "all":
        return len(bad) == len(outcomes)
    return bool(bad)


def tag_output(output: list[Any], name: str, runspace_id: str | None = None) -> list[Any]:
    """Each object gets the note properties Invoke-Command adds (``about_Remote_Output``):
    ``PSComputerName`` (the inventory name wins over what the connection set), ``RunspaceId`` (when
    the connection reports it) and ``PSShowComputerName`` (``true``, no ``-HideComputerName``).
    Primitives stay as they are: JSON has nowhere to put a note property on them."""
    tagged: list[Any] = []
    for item in output:
        if not isinstance(item, dict):
            tagged.append(item)
            continue
        obj = {**item, "PSComputerName": name}
        if runspace_id is not None:
            obj["RunspaceId"] = runspace_id
        obj["PSShowComputerName"] = True
        tagged.append(obj)
    return tagged


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


def connection_for_host(
    template_connection: Any,
    play_context: Any,
    host_vars: Mapping[str, Any],
    host_name: str,
    render: Callable[[Any], Any] = lambda v: v,
) -> Any:
    """A new connection of the same plugin as ``template_connection``, set up for ``host_name``."""
    # ansible_name is the FQCN ("psremoting.core.psrp") to load the plugin with; the option
    # definitions are registered under _load_name (for a collection plugin the Python module path,
    # "ansible_collections.psremoting.core.plugins.connection.psrp"), which is also the name
    # TaskExecutor passes to C.config.get_plugin_vars.
    load_name = getattr(template_connection, "ansible_name", None) or "psremoting.core.psrp"
    context = copy.copy(play_context)
    with open(os.devnull) as stdin:
        conn = connection_loader.get(load_name, context, stdin)
    if conn is None:
        raise RuntimeError(f"connection plugin {load_name} could not be loaded")
    var_names = C.config.get_plugin_vars("connection", getattr(conn, "_load_name", load_name))
    if not var_names:
        raise RuntimeError(f"connection plugin {load_name} declares no variables to configure it with")
    var_options = connection_var_options(host_vars, var_names, host_name, render)
    if getattr(conn, "allow_extras", False):
        prefix = f"ansible_{getattr(conn, 'extras_prefix', '')}_"
        var_options["_extras"] = {
            k: render(host_vars[k]) for k in host_vars if k.startswith(prefix) and k not in var_options
        }
    context.remote_addr = var_options.get("ansible_host") or var_options.get("ansible_psrp_host") or host_name
    conn.set_options(var_options=var_options)
    return conn
