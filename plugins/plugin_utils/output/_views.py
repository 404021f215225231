# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell's default format views for the types an admin meets first.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

One table of views serves the format_table/format_list filters and the Enter-PSSession console.
Sources: PowerShell's default formatters (src/System.Management.Automation/FormatAndOutput/
DefaultFormatters/DotNetTypes_format_ps1xml.cs and FileSystem_format_ps1xml.cs in
PowerShell/PowerShell; Windows PowerShell 5.1 ships the same views as DotNetTypes.format.ps1xml
and FileSystem.format.ps1xml). A view applies to ``Deserialized.<type>`` as to ``<type>``: PowerShell
matches views with the deserialization prefix masked, which is what makes ``Invoke-Command``
output look like local output.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

Getter = Callable[[Mapping[str, Any]], Any]
Column = tuple[str, Getter]

DESERIALIZED = "Deserialized."


def type_name(value: Any) -> str:
    """The object's first type name without ``Deserialized.``; ``""`` for plain values.

    A dictionary without ``PSTypeNames`` is a hashtable (what ``to_jsonable`` makes of one).
    """
    if isinstance(value, Mapping):
        names = value.get("PSTypeNames")
        if isinstance(names, list) and names:
            first = str(names[0])
            return first[len(DESERIALIZED) :] if first.startswith(DESERIALIZED) else first
        return "System.Collections.Hashtable"
    return ""


def prop(name: str) -> Getter:
    return lambda row: row.get(name)


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def kib(name: str) -> Getter:
    """A byte count shown in KiB, as the Process view's NPM(K)/PM(K)/WS(K) columns."""

    def get(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        return int(value) // 1024 if _number(value) else None

    return get


def cpu_seconds(row: Mapping[str, Any]) -> Any:
    value = row.get("CPU")
    return f"{value:.2f}" if _number(value) else None


def write_time(row: Mapping[str, Any]) -> Any:
    """LastWriteTime as the en-US console shows it: ``{0,10:d} {0,8:t}``."""
    value = row.get("LastWriteTime")
    if not isinstance(value, str):
        return value
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    date = f"{when.month}/{when.day}/{when.year}"
    hour = when.hour % 12 or 12
    time = f"{hour}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"
    return f"{date:>10} {time:>8}"


_FILE_TABLE: list[Column] = [
    ("Mode", prop("Mode")),
    ("LastWriteTime", write_time),
    ("Length", prop("Length")),
    ("Name", prop("Name")),
]

# Format-Table views (the first table view of each type).
TABLE_VIEWS: dict[str, list[Column]] = {
    "System.ServiceProcess.ServiceController": [
        ("Status", prop("Status")),
        ("Name", prop("Name")),
        ("DisplayName", prop("DisplayName")),
    ],
    "System.Diagnostics.Process": [
        ("Handles", prop("HandleCount")),
        ("NPM(K)", kib("NonpagedSystemMemorySize64")),
        ("PM(K)", kib("PagedMemorySize64")),
        ("WS(K)", kib("WorkingSet64")),
        ("CPU(s)", cpu_seconds),
        ("Id", prop("Id")),
        ("SI", prop("SessionId")),
        ("ProcessName", prop("ProcessName")),
    ],
    "System.IO.DirectoryInfo": _FILE_TABLE,
    "System.IO.FileInfo": _FILE_TABLE,
    "System.Management.Automation.PathInfo": [("Path", prop("Path"))],
}

_FILE_TIMES = ["CreationTime", "LastWriteTime", "LastAccessTime", "Mode", "LinkType", "Target"]
# Format-List views. Types without one show every property (PowerShell's rule).
LIST_VIEWS: dict[str, list[Column]] = {
    "System.IO.FileInfo": [(n, prop(n)) for n in ["Name", "Length", *_FILE_TIMES, "VersionInfo"]],
    "System.IO.DirectoryInfo": [(n, prop(n)) for n in ["Name", *_FILE_TIMES]],
}

# Views grouped by a property, with the group's header line ("    Directory: C:\").
GROUP_BY: dict[str, tuple[str, str]] = {
    "System.IO.DirectoryInfo": ("PSParentPath", "Directory"),
    "System.IO.FileInfo": ("PSParentPath", "Directory"),
}


def view_rows(
    rows: list[Any], view: list[Column], keep: tuple[str, ...] = ()
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows reduced to the view's columns (plus the ``keep`` properties they have)."""
    names = [name for name, _ in view]
    out = []
    for row in rows:
        values = {name: get(row) for name, get in view} if isinstance(row, Mapping) else {}
        for extra in keep:
            if isinstance(row, Mapping) and extra in row:
                values[extra] = row[extra]
        out.append(values)
    return out, names
