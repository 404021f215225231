# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection settings of one inventory host, read exactly as the psremoting.core.psrp plugin does.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

The inventory is loaded with Ansible's ``InventoryManager`` and ``VariableManager`` (vault secrets
from ``--vault-id``/``--vault-password-file``/``--ask-vault-pass``, set up by Ansible's own
``CLI.setup_vault_secrets``). The host's variables that the connection plugin declares are
templated and resolved into the plugin's option values by Ansible's configuration
(``invoke._targets.psrp_settings``, the reader one-to-many uses for each target);
``_options.read_settings`` then validates them. Option names, aliases, environment variables,
``ansible.cfg`` entries and defaults are therefore those of the connection plugin, with no second
table to drift.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import ConnectionSettings

CONNECTION_PLUGIN = "psremoting.core.psrp"


class InventoryError(Exception):
    """The inventory, the host pattern or the vault secrets are unusable (message is for the user)."""


@dataclass(frozen=True)
class HostTarget:
    name: str  # inventory_hostname
    settings: ConnectionSettings
    connection: str  # the host's ansible_connection as configured (for a warning when not psrp)


def load_target(
    inventory: Sequence[str],
    pattern: str,
    vault_ids: Sequence[str] = (),
    vault_password_files: Sequence[str] = (),
    ask_vault_pass: bool = False,
) -> HostTarget:
    """Resolve ``pattern`` to exactly one host of ``inventory`` and read its connection settings."""
    from ansible import context  # noqa: PLC0415 - Ansible is slow to import; only when needed
    from ansible.cli import CLI  # noqa: PLC0415
    from ansible.errors import AnsibleError  # noqa: PLC0415
    from ansible.inventory.manager import InventoryManager  # noqa: PLC0415
    from ansible.module_utils.common.collections import ImmutableDict  # noqa: PLC0415
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
    from ansible.plugins.loader import init_plugin_loader  # noqa: PLC0415
    from ansible.template import Templar  # noqa: PLC0415
    from ansible.vars.manager import VariableManager  # noqa: PLC0415

    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._targets import psrp_settings  # noqa: PLC0415

    if not context.CLIARGS:
        context.CLIARGS = ImmutableDict({"verbosity": 0, "check": False, "diff": False})
    if not any(type(f).__name__ == "_AnsibleCollectionFinder" for f in sys.meta_path):
        init_plugin_loader()  # the collection loader, as every ansible CLI sets it up first
    loader = DataLoader()
    try:
        secrets = CLI.setup_vault_secrets(
            loader,
            vault_ids=list(vault_ids),
            vault_password_files=list(vault_password_files),
            ask_vault_pass=ask_vault_pass,
            auto_prompt=False,
        )
        loader.set_vault_secrets(secrets)
        manager = InventoryManager(loader=loader, sources=list(inventory))
        variables = VariableManager(loader=loader, inventory=manager)
        hosts = manager.get_hosts(pattern)
    except AnsibleError as exc:
        raise InventoryError(str(exc)) from None
    if not hosts:
        raise InventoryError(f"no host in the inventory matches '{pattern}'")
    if len(hosts) > 1:
        names = ", ".join(h.name for h in hosts[:10]) + (", ..." if len(hosts) > 10 else "")
        raise InventoryError(f"'{pattern}' matches {len(hosts)} hosts ({names}); name exactly one host")
    host = hosts[0]
    try:
        host_vars = variables.get_vars(host=host)
        templar = Templar(loader=loader, variables=host_vars)
        settings = psrp_settings(host_vars, host.name, templar.template)
        configured = str(templar.template(host_vars.get("ansible_connection", "")) or "")
    except AnsibleError as exc:
        raise InventoryError(f"{host.name}: {exc}") from None
    return HostTarget(name=host.name, settings=settings, connection=configured)
