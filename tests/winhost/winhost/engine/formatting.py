"""Text formatting: .NET composite and date format strings, and the table/list views that
Format-Table, Format-List, Out-String and a console (Out-Default) print for objects.

Windows sends Format-* output as internal FormatStartData/FormatEntryData objects; winhost renders
the lines as strings (FormattedText; documented in SCRIPT_SUBSET.md).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from psrpcore.types import PSObject

from winhost.engine.values import all_properties, get_property, is_collection, like, to_string, type_names

# -- format strings ---------------------------------------------------------------------------------


def _format_item(value: Any, spec: str) -> str:
    """One ``{0:spec}`` item: N (grouped, fixed digits), D (zero-padded), X/x (hex), else ToString."""
    kind = spec[:1].upper()
    if kind == "N" and isinstance(value, (int, float)):
        return f"{value:,.{int(spec[1:] or 2)}f}"
    if kind == "D" and isinstance(value, int):
        return str(value).zfill(int(spec[1:] or 0))
    if kind == "X" and isinstance(value, int):
        return format(value, "X" if spec[0] == "X" else "x").zfill(int(spec[1:] or 0))
    return to_string(value)


def composite_format(fmt: str, args: list[Any]) -> str:
    """.NET composite formatting (``-f``, [string]::Format): {0}, {0,5}, {0:N2} (subset)."""

    def repl(match: re.Match[str]) -> str:
        index = int(match.group(1))
        value = args[index] if index < len(args) else None
        text = _format_item(value, match.group(3) or "")
        if match.group(2):
            width = int(match.group(2))
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text

    text = re.sub(r"\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}", repl, fmt)
    return text.replace("{{", "{").replace("}}", "}")


def format_in_string(value: Any, separator: str) -> str:
    """A value expanded in a double-quoted string: arrays joined with $OFS (a space by default)."""
    if is_collection(value):
        return separator.join(to_string(v) for v in value)
    return to_string(value)


_DATE_STANDARD = {"o": None, "O": None, "s": "%Y-%m-%dT%H:%M:%S", "u": "%Y-%m-%d %H:%M:%SZ"}
_DATE_CUSTOM = [
    ("yyyy", "%Y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("fff", "%f"),
]


def format_date(d: datetime.datetime, fmt: str) -> str:
    """DateTime.ToString(format) / Get-Date -Format: the standard o, s, u and the common custom
    specifiers (yyyy MM dd HH mm ss fff)."""
    if fmt in _DATE_STANDARD:
        pattern = _DATE_STANDARD[fmt]
        return d.isoformat() if pattern is None else d.strftime(pattern)
    out = fmt
    for custom, strftime in _DATE_CUSTOM:
        out = out.replace(custom, strftime)
    return d.strftime(out)


# -- views ----------------------------------------------------------------------------------------

#: Default table columns of the types PowerShell's format.ps1xml gives a table view.
DEFAULT_COLUMNS = {
    "System.ServiceProcess.ServiceController": ["Status", "Name", "DisplayName"],
    "System.Diagnostics.Process": ["Handles", "Id", "ProcessName"],
    "System.IO.FileInfo": ["Mode", "LastWriteTime", "Length", "Name"],
    "System.IO.DirectoryInfo": ["Mode", "LastWriteTime", "Length", "Name"],
    "Microsoft.WSMan.Management.WSManConfigLeafElement": ["Type", "Name", "SourceOfValue", "Value"],
    "Microsoft.WSMan.Management.WSManConfigContainerElement": ["Type", "Keys", "Name"],
    "System.Security.Cryptography.X509Certificates.X509Certificate2": ["Thumbprint", "Subject"],
}


class FormattedText(str):
    """Text produced by Format-Table/Format-List: Out-String passes it through unchanged."""


def is_structured(value: Any) -> bool:
    """Objects formatted with a view (not strings, numbers or booleans)."""
    return isinstance(value, PSObject | dict) and not isinstance(value, str | int | float | bool)


def columns(item: Any, requested: list[Any] | None) -> list[str]:
    """The view's columns: the requested property names (wildcards allowed), the type's default
    view, or the object's first five properties."""
    if requested:
        props = all_properties(item)
        out: list[str] = []
        for spec in requested:
            pattern = to_string(spec)
            out.extend(k for k in props if like(k, pattern) and k not in out)
        return out
    for name in type_names(item):
        if name in DEFAULT_COLUMNS:
            return DEFAULT_COLUMNS[name]
    return list(all_properties(item))[:5] if isinstance(item, PSObject | dict) else []


def cell(item: Any, column: str) -> str:
    return to_string(get_property(item, column)[1])


def table_lines(items: list[Any], names: list[str], headers: bool = True) -> list[str]:
    """A table view: an empty line, header and dashes, one row per object, two empty lines (a
    table ends with two empty lines, as Windows' formatter writes it)."""
    rows = [[cell(i, c) for c in names] for i in items]
    widths = [max([len(c)] + [len(r[n]) for r in rows]) for n, c in enumerate(names)]

    def line(values: list[str]) -> str:
        return " ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [""]
    if headers:
        lines += [line(names), line(["-" * len(c) for c in names])]
    lines.extend(line(r) for r in rows)
    return [*lines, "", ""]


def table_view(items: list[Any], requested: list[Any] | None = None, headers: bool = True) -> list[str]:
    """Format-Table's lines: scalars alone print as their text, objects as a table whose columns
    come from the first object."""
    if all(not isinstance(i, PSObject | dict) for i in items):
        return [to_string(i) for i in items]
    return table_lines(items, columns(items[0], requested), headers)


def list_lines(item: Any, names: list[str]) -> list[str]:
    """One object of a list view: an empty line, then ``Name : value`` per property."""
    width = max((len(c) for c in names), default=0)
    return ["", *(f"{c.ljust(width)} : {cell(item, c)}" for c in names)]


def format_objects(values: list[Any]) -> str:
    """Out-Default's text for consecutive objects: one table per run of objects with the same
    columns when they have at most four properties, a list otherwise ("about_Format.ps1xml": an
    object type without a view is shown as a table up to four properties, else as a list). The
    columns are the type's default view (services: Status, Name, DisplayName) or its properties."""
    lines: list[str] = []
    index = 0
    while index < len(values):
        names = columns(values[index], None)
        group = [values[index]]
        index += 1
        while index < len(values) and columns(values[index], None) == names:
            group.append(values[index])
            index += 1
        if not names:
            lines.extend(str(v) for v in group)
        elif len(names) <= 4:
            lines += table_lines(group, names)
        else:
            for item in group:
                lines += list_lines(item, names)
            lines += ["", ""]
    return "".join(line + "\r\n" for line in lines)


def render(value: Any) -> str:
    """Console text of one output object (strings as is, booleans as True/False, objects as
    their view)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if is_structured(value):
        return format_objects([value]).strip("\r\n")
    return str(value)
