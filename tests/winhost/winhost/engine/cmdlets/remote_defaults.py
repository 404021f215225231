"""Default commands of a remote (and RestrictedRemoteServer) session that write little or nothing:
Clear-Host, Exit-PSSession, Get-FormatData.

- Clear-Host is a built-in function (InitialSessionState's BuiltInFunctions in
  PowerShell/PowerShell): it moves ``$Host.UI.RawUI.CursorPosition`` to 0,0 and calls
  ``$Host.UI.RawUI.SetBufferContents`` with the rectangle -1,-1,-1,-1 and a blank cell in the
  current colours. In a remote session those are host calls to the client (SetCursorPosition,
  SetBufferContents1; MS-PSRP 2.2.3.17); nothing reaches the output stream.
- Exit-PSSession (ExitPSSessionCommand.cs) calls ``PopRunspace`` on the host; the server's host
  (ServerRemoteHost.PopRunspace in ServerRemoteHost.cs) forwards it to the client as a void host
  call. The RestrictedRemoteServer proxy (CommandMetadata.GetRestrictedExitPSSession) takes no
  parameters. Nothing is written to the output stream.
- Get-FormatData
  (https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/get-formatdata)
  returns one System.Management.Automation.ExtendedTypeDefinition (TypeName, TypeNames,
  FormatViewDefinition) per formatted type matching -TypeName (wildcards; all when omitted) and
  nothing for a type without formatting data. winhost knows the table views it renders itself
  (:data:`winhost.engine.formatting.DEFAULT_COLUMNS`) whose view names DotNetTypes.format.ps1xml
  and FileSystem.format.ps1xml give.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psrpcore.types import BufferCell, BufferCellType, Coordinates, Rectangle

from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import not_emulated
from winhost.engine.formatting import DEFAULT_COLUMNS
from winhost.engine.hostui import RawUserInterface
from winhost.engine.values import new_object
from winhost.engine.wildcards import wildcard_match

CORE = "Microsoft.PowerShell.Core"
UTILITY = "Microsoft.PowerShell.Utility"

#: The view names of the types winhost formats (DotNetTypes.format.ps1xml: "service", "process";
#: FileSystem.format.ps1xml: "children" for files and directories).
VIEW_NAMES = {
    "System.ServiceProcess.ServiceController": "service",
    "System.Diagnostics.Process": "process",
    "System.IO.FileInfo": "children",
    "System.IO.DirectoryInfo": "children",
}


@cmdlet("Clear-Host", [], module="")
def clear_host(call: CommandCall) -> Iterator[Any]:
    """The Clear-Host function's body, as host calls to the client."""
    raw = RawUserInterface()
    raw.set("cursorposition", Coordinates(X=0, Y=0))
    foreground = raw.get("foregroundcolor")[1]
    background = raw.get("backgroundcolor")[1]
    if foreground is None or background is None:
        raise not_emulated("Clear-Host without the client's host default data")
    cell = BufferCell(
        Character=" ",
        ForegroundColor=foreground,
        BackgroundColor=background,
        BufferCellType=BufferCellType.Complete,
    )
    raw.call("setbuffercontents", [Rectangle(Left=-1, Top=-1, Right=-1, Bottom=-1), cell])
    yield from ()


@cmdlet("Exit-PSSession", [], module=CORE)
def exit_pssession(call: CommandCall) -> Iterator[Any]:
    """ServerRemoteHost.PopRunspace: a void PopRunspace host call to the client, when it has a host."""
    host = call.ctx.host
    has_host = getattr(host, "has_host", None)
    host_call = getattr(host, "host_call", None)
    if callable(has_host) and callable(host_call) and has_host():
        host_call("PopRunspace", [], False)
    yield from ()


def _column(name: str) -> Any:
    return new_object(
        ["System.Management.Automation.TableControlColumn", "System.Object"],
        {"Alignment": "Undefined", "DisplayEntry": _entry(name), "FormatString": ""},
        to_string_value=name,
    )


def _entry(name: str) -> Any:
    return new_object(
        ["System.Management.Automation.DisplayEntry", "System.Object"],
        {"ValueType": "Property", "Value": name},
        to_string_value=name,
    )


def type_definition(type_name: str) -> Any:
    """The ExtendedTypeDefinition of one formatted type: its table view."""
    columns = DEFAULT_COLUMNS[type_name]
    headers = [
        new_object(
            ["System.Management.Automation.TableControlColumnHeader", "System.Object"],
            {"Label": "", "Width": 0, "Alignment": "Undefined"},  # no label or width: the property name,
        )
        for _ in columns
    ]
    row = new_object(
        ["System.Management.Automation.TableControlRow", "System.Object"],
        {"Columns": [_column(c) for c in columns], "Wrap": False, "SelectedBy": None},
    )
    control = new_object(
        [
            "System.Management.Automation.TableControl",
            "System.Management.Automation.PSControl",
            "System.Object",
        ],
        {"Headers": headers, "Rows": [row], "AutoSize": False, "HideTableHeaders": False},
    )
    view = new_object(
        ["System.Management.Automation.FormatViewDefinition", "System.Object"],
        {"Name": VIEW_NAMES[type_name], "Control": control},
        to_string_value=VIEW_NAMES[type_name],
    )
    return new_object(
        ["System.Management.Automation.ExtendedTypeDefinition", "System.Object"],
        {"TypeName": type_name, "TypeNames": [type_name], "FormatViewDefinition": [view]},
        to_string_value=type_name,
    )


@cmdlet(
    "Get-FormatData",
    [Param("TypeName", position=0, type="string[]"), Param("PowerShellVersion")],
    module=UTILITY,
)
def get_format_data(call: CommandCall) -> Iterator[Any]:
    patterns = call.strings("TypeName") or ["*"]
    for type_name in VIEW_NAMES:
        if any(wildcard_match(type_name, p) for p in patterns):
            yield type_definition(type_name)
