# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters format_table, format_list and to_csv (documentation in the .yml files next to this)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.psremoting.core.plugins.plugin_utils.output import _format


def _properties(properties: Any) -> Sequence[_format.Property] | None:
    if properties is None:
        return None
    if isinstance(properties, str):
        return [properties]
    if isinstance(properties, (list, tuple)):
        return [p if isinstance(p, Mapping) else str(p) for p in properties]
    raise AnsibleFilterError(f"properties must be a list of property names, not {type(properties).__name__}")


def _width(width: Any) -> int:
    if isinstance(width, bool) or not isinstance(width, (int, str)) or not str(width).strip().isdigit():
        raise AnsibleFilterError(f"width must be a number of characters (0: no limit), not {width!r}")
    return int(width)


def _text_or_lines(formatted: str, lines: Any) -> str | list[str]:
    return _format.lines(formatted) if boolean(lines, strict=False) else formatted


def format_table(
    data: Any,
    properties: Any = None,
    computer_name: bool | None = None,
    width: Any = _format.DEFAULT_WIDTH,
    lines: Any = False,
) -> str | list[str]:
    try:
        text = _format.format_table(data, _properties(properties), computer_name, _width(width))
    except ValueError as exc:
        raise AnsibleFilterError(f"format_table: {exc}") from None
    return _text_or_lines(text, lines)


def format_list(
    data: Any, properties: Any = None, computer_name: bool | None = None, lines: Any = False
) -> str | list[str]:
    try:
        text = _format.format_list(data, _properties(properties), computer_name)
    except ValueError as exc:
        raise AnsibleFilterError(f"format_list: {exc}") from None
    return _text_or_lines(text, lines)


def to_csv(data: Any, properties: Any = None, newline: str = "\n") -> str:
    names = _properties(properties)
    if names and not all(isinstance(n, str) for n in names):
        raise AnsibleFilterError(
            "to_csv: properties must be property names (calculated properties are for tables)"
        )
    return _format.to_csv(data, [str(n) for n in names] if names else None, newline)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"format_table": format_table, "format_list": format_list, "to_csv": to_csv}
