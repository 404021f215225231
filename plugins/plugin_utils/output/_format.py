# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell-style text of JSON-ready objects: Format-Table, Format-List and Export-Csv.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Rules (PowerShell's Format-Table, Format-List and Export-Csv):
* Columns: the ``properties`` given (names, or calculated properties ``{Name, Expression}`` as
  Format-Table takes them, to show a property under another header); else the type's default
  view (``_views``: ServiceController shows Status, Name, DisplayName, as in a PowerShell
  console); else the object's properties in
  order, at most ten (PowerShell's TableViewGenerator limit for objects without a view).
  ``PSComputerName`` is added last when the objects carry it (Invoke-Command output).
* Format-Table: the header underlined with dashes as long as the header, columns separated by one
  space, numbers right-aligned, the last column not padded. Within ``width`` characters
  (default 120): like PowerShell's ColumnWidthManager, the last column is shortened (``...``) or,
  when less than one character would be left, dropped, until the table fits.
* Format-List: ``Name : Value`` lines, names padded to the longest name, a blank line between
  objects; a type's list view (files, directories) when it has one, else every property.
* Export-Csv -NoTypeInformation: header from the first object's properties, every field quoted,
  quotes doubled; a property missing on a later object is an empty field.
* Values: ``None`` is empty, booleans ``True``/``False``, enums (``{Type, String, Value}``) their
  ``String``, lists ``{a, b}`` (``System.Object[]`` in CSV), dictionaries ``@{k=v; ...}``
  (``System.Collections.Hashtable`` in CSV).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.output import _views

HIDDEN = ("PSTypeNames", "RunspaceId", "PSShowComputerName")
COMPUTER = "PSComputerName"
TABLE_MAX_PROPERTIES = 10  # TableViewGenerator.FilterActiveAssociationList
DEFAULT_WIDTH = 120
ELLIPSIS = "..."  # Windows PowerShell 5.1 marks a shortened cell with three dots


def is_enum(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"Type", "String", "Value"}


def text(value: Any, csv_mode: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if is_enum(value):
        return str(value["String"])
    if isinstance(value, Mapping):
        if csv_mode:
            return "System.Collections.Hashtable"
        return "@{" + "; ".join(f"{k}={text(v)}" for k, v in value.items() if k not in HIDDEN) + "}"
    if isinstance(value, (list, tuple)):
        if csv_mode:
            return "System.Object[]"
        return "{" + ", ".join(text(v) for v in value) + "}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\r\n", " ").replace("\n", " ") if not csv_mode else str(value)


def _rows(data: Any) -> list[Any]:
    if data is None:
        return []
    if isinstance(data, (Mapping, str, bytes)):
        return [data]
    if isinstance(data, Iterable):
        return list(data)
    return [data]


def select_properties(
    rows: Sequence[Any],
    properties: Sequence[str] | None,
    computer_name: bool | None,
    limit: int | None = None,
) -> list[str]:
    """The columns: given ones, else the objects' properties in first-seen order (at most ``limit``)."""
    if properties:
        names = [str(p) for p in properties]
    else:
        names = []
        for row in rows:
            if isinstance(row, Mapping):
                for key in row:
                    if key not in HIDDEN and key != COMPUTER and key not in names:
                        names.append(str(key))
        names = names[:limit] if limit else names
    if computer_name is None:
        computer_name = any(isinstance(r, Mapping) and COMPUTER in r for r in rows)
    if computer_name and COMPUTER not in names:
        names.append(COMPUTER)
    if not computer_name and not properties and COMPUTER in names:
        names.remove(COMPUTER)
    return names


def _cell(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return row if name == "Value" else None


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Property = str | Mapping[str, Any]


def _calculated(entry: Mapping[str, Any]) -> _views.Column:
    """A calculated property as Format-Table takes it: ``@{Name='Idle(s)'; Expression='IdleTimeSeconds'}``
    (``Label`` for ``Name``; the expression is a property name)."""
    label = entry.get("Name", entry.get("Label"))
    expression = entry.get("Expression")
    if not isinstance(label, str) or not isinstance(expression, str) or not label or not expression:
        raise ValueError(
            "a calculated property needs Name (or Label) and Expression, both property names; "
            f"got {dict(entry)!r}"
        )
    return label, _views.prop(expression)


def _with_view(
    rows: list[Any], views: Mapping[str, list[_views.Column]], properties: Sequence[Property] | None
) -> tuple[list[Any], Sequence[str] | None]:
    """Rows through the given calculated properties, or through the first object's default view when
    no properties are given and it has one."""
    if properties and any(isinstance(p, Mapping) for p in properties):
        view = [
            _calculated(p) if isinstance(p, Mapping) else (str(p), _views.prop(str(p))) for p in properties
        ]
        return _views.view_rows(rows, view, keep=(COMPUTER,))
    default = None if properties else views.get(_views.type_name(rows[0]))
    if default is None:
        return rows, [str(p) for p in properties] if properties else None
    return _views.view_rows(rows, default, keep=(COMPUTER,))


def fit_widths(widths: list[int], width: int | None) -> list[int]:
    """Column widths within ``width`` (PowerShell's ColumnWidthManager.TrimToFit): shorten the last
    visible column, or hide it (-1) when less than one character would be left."""
    fitted = list(widths)
    if not width:
        return fitted
    while True:
        visible = [w for w in fitted if w > 0]
        excess = sum(visible) + len(visible) - 1 - width
        if excess <= 0 or not visible:
            return fitted
        last = len(visible) - 1
        if fitted[last] - excess < 1:
            fitted[last] = -1
        else:
            fitted[last] -= excess


def _clip(value: str, width: int) -> str:
    if len(value) <= width:
        return value
    return value[: width - len(ELLIPSIS)] + ELLIPSIS if width > len(ELLIPSIS) else value[:width]


def format_table(
    data: Any,
    properties: Sequence[Property] | None = None,
    computer_name: bool | None = None,
    width: int | None = DEFAULT_WIDTH,
) -> str:
    """Format-Table text; ``width`` None or 0: no limit."""
    rows = _rows(data)
    if not rows:
        return ""
    if not any(isinstance(r, Mapping) for r in rows):
        return "\n".join(text(r) for r in rows) + "\n"
    rows, properties = _with_view(rows, _views.TABLE_VIEWS, properties)
    names = select_properties(rows, properties, computer_name, TABLE_MAX_PROPERTIES)
    cells = [[text(_cell(r, n)) for n in names] for r in rows]
    numeric = [all(_numeric(_cell(r, n)) or _cell(r, n) is None for r in rows) for n in names]
    widths = fit_widths([max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)], width)
    shown = [i for i, w in enumerate(widths) if w > 0]

    def line(values: Sequence[str]) -> str:
        parts = []
        for i in shown:
            value = _clip(values[i], widths[i])
            if numeric[i]:
                parts.append(value.rjust(widths[i]))
            else:
                parts.append(value if i == shown[-1] else value.ljust(widths[i]))
        return " ".join(parts).rstrip()

    header = line(names)
    underline = line(["-" * min(len(n), widths[i]) if widths[i] > 0 else "" for i, n in enumerate(names)])
    body = [line(c) for c in cells]
    return "\n" + "\n".join([header, underline, *body]) + "\n\n"


def format_list(
    data: Any, properties: Sequence[Property] | None = None, computer_name: bool | None = None
) -> str:
    rows = _rows(data)
    blocks: list[str] = []
    for row in rows:
        if not isinstance(row, Mapping):
            blocks.append(text(row))
            continue
        [shaped], names_given = _with_view([row], _views.LIST_VIEWS, properties)
        names = select_properties([shaped], names_given, computer_name)
        width = max((len(n) for n in names), default=0)
        blocks.append("\n".join(f"{n.ljust(width)} : {text(shaped.get(n))}" for n in names))
    if not blocks:
        return ""
    return "\n" + "\n\n".join(blocks) + "\n\n"


def lines(formatted: str) -> list[str]:
    """Formatted text as a list of lines, without the blank lines around it, for ``debug``: Ansible's
    default callback (and AWX's job output) print a list one line per item, a string with ``\\n``
    as one line."""
    return formatted.strip("\n").split("\n") if formatted.strip() else []


def to_csv(data: Any, properties: Sequence[str] | None = None, newline: str = "\n") -> str:
    rows = _rows(data)
    if not rows:
        return ""
    if properties:
        names = [str(p) for p in properties]
    else:
        first = rows[0]
        names = [str(k) for k in first if k not in HIDDEN] if isinstance(first, Mapping) else ["Value"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator=newline)
    writer.writerow(names)
    for row in rows:
        writer.writerow([text(_cell(row, n), csv_mode=True) for n in names])
    return buffer.getvalue()
