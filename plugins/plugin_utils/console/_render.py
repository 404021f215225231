# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Console text of remote output, the way the PowerShell console shows it.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

* Output objects are converted with ``_clixml.to_jsonable`` and laid out with ``_format``:
  types that Windows PowerShell formats with a default view (``DotNetTypes.format.ps1xml``,
  ``FileSystem.format.ps1xml``; the views are in ``output/_views``) get that view's columns
  (``Get-Service``: Status, Name, DisplayName); other objects follow PowerShell's rule for types
  without a view (about_Format.ps1xml): up to four properties as a table, five or more as a list. Hashtables
  are Name/Value tables, other values their text, one per line. Consecutive objects of the same
  type share one table.
* Error records as the Windows PowerShell 5.1 console prints them (red): ``Command : message``,
  the position (``At line:1 char:1`` ...), ``+ CategoryInfo`` and ``+ FullyQualifiedErrorId``.
* ``WARNING:``, ``VERBOSE:``, ``DEBUG:`` lines in the console's yellow; ``Write-Host`` text in the
  colours it asked for (``System.ConsoleColor`` numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.output._format import (
    format_list,
    format_table,
    text,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.output._views import (
    GROUP_BY,
    TABLE_VIEWS,
    type_name,
)

# System.ConsoleColor (0..15) -> ANSI SGR foreground code; background is +10.
_ANSI = (30, 34, 32, 36, 31, 35, 33, 37, 90, 94, 92, 96, 91, 95, 93, 97)
RED = 12
YELLOW = 14
RESET = "\x1b[0m"


def colour(message: str, foreground: int | None, background: int | None = None, enabled: bool = True) -> str:
    """``message`` in ConsoleColor ``foreground``/``background`` (ANSI escapes), if enabled."""
    codes: list[str] = []
    if foreground is not None and 0 <= foreground < 16:
        codes.append(str(_ANSI[foreground]))
    if background is not None and 0 <= background < 16:
        codes.append(str(_ANSI[background] + 10))
    if not enabled or not codes or not message:
        return message
    return f"\x1b[{';'.join(codes)}m{message}{RESET}"


HIDDEN = ("PSTypeNames", "PSComputerName", "RunspaceId", "PSShowComputerName")
TABLE_MAX_PROPERTIES = 4


def _provider_path(path: Any) -> str:
    value = str(path or "")
    return value.split("::", 1)[1] if "::" in value else value


def _group_key(value: Any) -> tuple[str, str]:
    kind = type_name(value)
    view = "dir" if kind in GROUP_BY else kind
    parent = _provider_path(value.get("PSParentPath")) if kind in GROUP_BY else ""
    return view, parent


def render_group(items: Sequence[Any]) -> str:
    """Text of consecutive output objects of one type."""
    if not items:
        return ""
    kind = type_name(items[0])
    if not kind:
        return "".join(text(i) + "\n" for i in items if i is not None)
    if kind == "System.Collections.Hashtable":
        rows = [{"Name": k, "Value": v} for item in items for k, v in item.items()]
        return format_table(rows, ["Name", "Value"])
    if kind in TABLE_VIEWS:
        body = format_table(list(items), computer_name=False, width=None)
        if kind in GROUP_BY:
            prop, label = GROUP_BY[kind]
            body = f"\n    {label}: {_provider_path(items[0].get(prop))}\n\n" + body.lstrip("\n")
        return body
    names = [k for k in items[0] if k not in HIDDEN]
    if len(names) <= TABLE_MAX_PROPERTIES:
        return format_table(list(items), names)
    return format_list(list(items), names)


def render_objects(items: Sequence[Any]) -> str:
    """Text of output objects (JSON-ready, from ``to_jsonable``) as the console shows them."""
    out: list[str] = []
    group: list[Any] = []
    key: tuple[str, str] | None = None
    for item in items:
        if item is None:
            continue
        item_key = _group_key(item) if isinstance(item, Mapping) else ("", "")
        if group and item_key != key:
            out.append(render_group(group))
            group = []
        key = item_key
        group.append(item)
    if group:
        out.append(render_group(group))
    return "".join(out)


def render_error(record: Any) -> str:
    """A pypsrp ``ErrorRecord`` as the Windows PowerShell 5.1 console prints it (no colour)."""
    message = str(record)
    if getattr(record, "fq_error", None) in ("NativeCommandError", "NativeCommandErrorMessage"):
        return message.rstrip("\r\n") + "\n"
    command = getattr(record, "command_name", None)
    lines = [f"{command} : {message}" if command else message]
    position = getattr(record, "invocation_position_message", None)
    if position:
        lines.append(str(position).rstrip("\r\n"))
    category = getattr(record, "message", None)
    if category:
        lines.append(f"    + CategoryInfo          : {category}")
    fq_error = getattr(record, "fq_error", None)
    if fq_error:
        lines.append(f"    + FullyQualifiedErrorId : {fq_error}")
    return "\n".join(line.replace("\r\n", "\n") for line in lines) + "\n \n"


def stream_line(kind: str, message: str) -> str:
    """``WARNING: ...``, ``VERBOSE: ...``, ``DEBUG: ...`` (one line each, as the console)."""
    return f"{kind.upper()}: {message}\n"
