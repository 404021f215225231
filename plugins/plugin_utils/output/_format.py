# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell-style text of JSON-ready objects: Format-Table, Format-List and Export-Csv.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Rules (PowerShell's formatting of objects without a format view):
* Format-Table: one column per property, the header underlined with dashes as long as the header,
  columns separated by one space, numbers right-aligned, the last column not padded.
* Format-List: ``Name : Value`` lines, names padded to the longest name, a blank line between
  objects.
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

HIDDEN = ("PSTypeNames", "RunspaceId", "PSShowComputerName")
COMPUTER = "PSComputerName"


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
    rows: Sequence[Any], properties: Sequence[str] | None, computer_name: bool | None
) -> list[str]:
    """The columns: given ones, else every property of the objects in first-seen order."""
    if properties:
        names = [str(p) for p in properties]
    else:
        names = []
        for row in rows:
            if isinstance(row, Mapping):
                for key in row:
                    if key not in HIDDEN and key != COMPUTER and key not in names:
                        names.append(str(key))
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


def format_table(
    data: Any, properties: Sequence[str] | None = None, computer_name: bool | None = None
) -> str:
    rows = _rows(data)
    if not rows:
        return ""
    if not any(isinstance(r, Mapping) for r in rows):
        return "\n".join(text(r) for r in rows) + "\n"
    names = select_properties(rows, properties, computer_name)
    cells = [[text(_cell(r, n)) for n in names] for r in rows]
    numeric = [all(_numeric(_cell(r, n)) or _cell(r, n) is None for r in rows) for n in names]
    widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]

    def line(values: Sequence[str], align: Sequence[bool]) -> str:
        parts = []
        for i, value in enumerate(values):
            last = i == len(values) - 1
            if align[i]:
                parts.append(value.rjust(widths[i]))
            else:
                parts.append(value if last else value.ljust(widths[i]))
        return " ".join(parts).rstrip()

    header = line(names, numeric)
    underline = line(["-" * len(n) for n in names], numeric)
    body = [line(c, numeric) for c in cells]
    return "\n" + "\n".join([header, underline, *body]) + "\n\n"


def format_list(data: Any, properties: Sequence[str] | None = None, computer_name: bool | None = None) -> str:
    rows = _rows(data)
    blocks: list[str] = []
    for row in rows:
        if not isinstance(row, Mapping):
            blocks.append(text(row))
            continue
        names = select_properties([row], properties, computer_name)
        width = max((len(n) for n in names), default=0)
        blocks.append("\n".join(f"{n.ljust(width)} : {text(row.get(n))}" for n in names))
    if not blocks:
        return ""
    return "\n" + "\n\n".join(blocks) + "\n\n"


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
