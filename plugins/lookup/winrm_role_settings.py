# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup psremoting.core.winrm_role_settings: the WinRM service settings the enable_psremoting role
manages, from their one declaration (plugins/plugin_utils/winrm/_settings.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: winrm_role_settings
author: psremoting.core contributors (@psremoting-core)
version_added: "1.1.0"
short_description: The WinRM service settings the enable_psremoting role manages
description:
  - Returns one entry per WinRM service setting that the C(psremoting.core.enable_psremoting) role manages,
    in the order the role applies them, each with the C(psremoting.core.winrm_service) option, the role
    variable, the C(WSMan:) path and the value kind.
  - The role's service task and its bootstrap script read the settings through this lookup, so a setting
    declared once in the collection reaches both without editing either.
  - Takes no terms.
"""

EXAMPLES = r"""
- name: Show the role variable and WSMan path of every setting the role manages
  ansible.builtin.debug:
    msg: "{{ item.variable }} sets {{ item.path }}"
  loop: "{{ query('psremoting.core.winrm_role_settings') }}"
"""

RETURN = r"""
_raw:
  description: One dictionary per setting.
  type: list
  elements: dict
  contains:
    option:
      description: The C(psremoting.core.winrm_service) option (and key of its I(settings) option).
      type: str
      sample: auth_basic
    variable:
      description: The role variable.
      type: str
      sample: enable_psremoting_auth_basic
    path:
      description: The C(WSMan:) drive path.
      type: str
      sample: WSMan:\localhost\Service\Auth\Basic
    kind:
      description: The value kind, C(bool), C(int) or C(str).
      type: str
      sample: bool
"""


# ansible-test's validate-modules wants DOCUMENTATION/EXAMPLES/RETURN before any import.
from typing import Any  # noqa: E402

from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import role_settings  # noqa: E402


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        if terms or kwargs:
            raise AnsibleLookupError(
                "psremoting.core.winrm_role_settings takes no terms or options, "
                f"got {list(terms) + sorted(kwargs)!r}: use query('psremoting.core.winrm_role_settings')"
            )
        return [
            {"option": s.option, "variable": s.role_variable, "path": s.path, "kind": s.kind}
            for s in role_settings()
        ]
