# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters format_table, format_list and to_csv (documentation in the .yml files next to this)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.psremoting.core.plugins.plugin_utils.output import _format


def _properties(properties: Any) -> Sequence[str] | None:
    if properties is None:
        return None
    if isinstance(properties, str):
        return [properties]
    if isinstance(properties, (list, tuple)):
        return [str(p) for p in properties]
    raise AnsibleFilterError(f"properties must be a list of property names, not {type(properties).__name__}")


def format_table(data: Any, properties: Any = None, computer_name: bool | None = None) -> str:
    return _format.format_table(data, _properties(properties), computer_name)


def format_list(data: Any, properties: Any = None, computer_name: bool | None = None) -> str:
    return _format.format_list(data, _properties(properties), computer_name)


def to_csv(data: Any, properties: Any = None, newline: str = "\n") -> str:
    return _format.to_csv(data, _properties(properties), newline)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., str]]:
        return {"format_table": format_table, "format_list": format_list, "to_csv": to_csv}
