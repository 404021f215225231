"""``$Host.UI`` and ``$Host.UI.RawUI`` of a remote session (ServerRemoteHost).

In a PSRP session the host is the client's: every PSHostUserInterface / PSHostRawUserInterface
method is forwarded as a host call (MS-PSRP 2.2.2.27 PIPELINE_HOST_CALL; method identifiers in
2.2.3.17). Void methods (Write*, Set*) are sent without waiting; methods with a result (ReadLine,
Prompt, PromptForCredential, PromptForChoice, ReadKey, KeyAvailable) wait for the client's
PIPELINE_HOST_RESPONSE. RawUI property reads are answered from the HostDefaultData the client
sent with the pipeline's HostInfo (2.2.3.14); property writes are forwarded and update that copy.
WriteDebugLine/WriteVerboseLine/WriteWarningLine also write the record to the pipeline's stream,
and WriteProgress the progress record, as Windows does (see pypsrp's
test_psrp_pshost_ui_mocked_methods / test_psrp_pshost_raw_ui_mocked_methods recordings).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from psrpcore.types import (
    BufferCell,
    BufferCellType,
    ChoiceDescription,
    ConsoleColor,
    Coordinates,
    FieldDescription,
    ProgressRecord,
    PSInt64,
    ReadKeyOptions,
    Rectangle,
    Size,
)

from winhost.engine.errors import not_emulated
from winhost.engine.values import as_list, get_property, to_number, to_string

_CURRENT = threading.local()


def set_current(ctx: Any) -> Any:
    """Make ``ctx`` the context of the pipeline running in this thread; returns the previous one."""
    previous = getattr(_CURRENT, "ctx", None)
    _CURRENT.ctx = ctx
    return previous


def _ctx() -> Any:
    ctx = getattr(_CURRENT, "ctx", None)
    if ctx is None:
        raise not_emulated("$Host.UI outside a pipeline")
    return ctx


def _host_call(method: str, params: list[Any], wait: bool = False) -> Any:
    host = _ctx().host
    call = getattr(host, "host_call", None)
    if call is None:
        raise not_emulated(f"the host method {method} with this host")
    return call(method, params, wait)


def _text(value: Any) -> str:
    return to_string(value)


def _color(value: Any) -> ConsoleColor:
    if isinstance(value, ConsoleColor):
        return value
    if isinstance(value, str):
        return ConsoleColor[value]
    return ConsoleColor(int(to_number(value)))


class HostUserInterface:
    """System.Management.Automation.Internal.Host.InternalHostUserInterface."""

    _winhost_dotnet = True
    type_name = "System.Management.Automation.Internal.Host.InternalHostUserInterface"

    def __str__(self) -> str:
        return self.type_name

    def get(self, low: str) -> tuple[bool, Any]:
        if low == "rawui":
            return True, RawUserInterface()
        if low == "supportsvirtualterminal":
            return True, False
        return False, None

    def set(self, low: str, value: Any) -> bool:
        return False

    def call(self, low: str, args: list[Any]) -> Any:
        method = _UI_METHODS.get((low, len(args)))
        if method is None:
            raise not_emulated(f"the method $Host.UI.{low}() with {len(args)} argument(s)")
        return method(args)


def _stream_line(write: str, call: str) -> Callable[[list[Any]], Any]:
    """WriteDebugLine & co: the record goes to the pipeline's stream and the line to the host."""

    def method(args: list[Any]) -> Any:
        getattr(_ctx().host, write)(_text(args[0]))
        return _host_call(call, [_text(args[0])])

    return method


def _write_progress(args: list[Any]) -> Any:
    record = args[1]
    activity = _text(get_property(record, "Activity")[1])
    status = _text(get_property(record, "StatusDescription")[1])
    percent = int(to_number(get_property(record, "PercentComplete")[1] or -1))
    _ctx().host.write_progress(activity, status, percent)
    return _host_call("WriteProgress", [PSInt64(int(to_number(args[0]))), record])


def _prompt_for_credential(args: list[Any]) -> Any:
    # The 4-argument overload is the 6-argument one with PSCredentialTypes.Default (3) and
    # PSCredentialUIOptions.Default (1); the remote host forwards PromptForCredential2.
    types, options = (args[4], args[5]) if len(args) == 6 else (3, 1)
    params = [_text(a) if a is not None else None for a in args[:4]] + [types, options]
    return _host_call("PromptForCredential2", params, wait=True)


#: $Host.UI methods by (name, argument count): the PSHostUserInterface host calls (MS-PSRP 2.2.3.17).
_UI_METHODS: dict[tuple[str, int], Callable[[list[Any]], Any]] = {
    ("readline", 0): lambda args: _host_call("ReadLine", [], wait=True),
    ("readlineassecurestring", 0): lambda args: _host_call("ReadLineAsSecureString", [], wait=True),
    ("write", 1): lambda args: _host_call("Write1", [_text(args[0])]),
    ("write", 3): lambda args: _host_call("Write2", [_color(args[0]), _color(args[1]), _text(args[2])]),
    ("writeline", 0): lambda args: _host_call("WriteLine1", []),
    ("writeline", 1): lambda args: _host_call("WriteLine2", [_text(args[0])]),
    ("writeline", 3): lambda args: _host_call(
        "WriteLine3", [_color(args[0]), _color(args[1]), _text(args[2])]
    ),
    ("writeerrorline", 1): lambda args: _host_call("WriteErrorLine", [_text(args[0])]),
    ("writedebugline", 1): _stream_line("write_debug", "WriteDebugLine"),
    ("writeverboseline", 1): _stream_line("write_verbose", "WriteVerboseLine"),
    ("writewarningline", 1): _stream_line("write_warning", "WriteWarningLine"),
    ("writeprogress", 2): _write_progress,
    ("prompt", 3): lambda args: _host_call(
        "Prompt", [_text(args[0]), _text(args[1]), as_list(args[2])], wait=True
    ),
    ("promptforcredential", 4): _prompt_for_credential,
    ("promptforcredential", 6): _prompt_for_credential,
    ("promptforchoice", 4): lambda args: _host_call(
        "PromptForChoice",
        [_text(args[0]), _text(args[1]), as_list(args[2]), int(to_number(args[3]))],
        wait=True,
    ),
}


#: RawUI property -> (HostDefaultData name, set method, converter)
_RAW_PROPERTIES: dict[str, tuple[str, str | None]] = {
    "foregroundcolor": ("ForegroundColor", "SetForegroundColor"),
    "backgroundcolor": ("BackgroundColor", "SetBackgroundColor"),
    "cursorposition": ("CursorPosition", "SetCursorPosition"),
    "windowposition": ("WindowPosition", "SetWindowPosition"),
    "cursorsize": ("CursorSize", "SetCursorSize"),
    "buffersize": ("BufferSize", "SetBufferSize"),
    "windowsize": ("WindowSize", "SetWindowSize"),
    "windowtitle": ("WindowTitle", "SetWindowTitle"),
    "maxwindowsize": ("MaxWindowSize", None),
    "maxphysicalwindowsize": ("MaxPhysicalWindowSize", None),
}


class RawUserInterface:
    """System.Management.Automation.Internal.Host.InternalHostRawUserInterface."""

    _winhost_dotnet = True
    type_name = "System.Management.Automation.Internal.Host.InternalHostRawUserInterface"

    def __str__(self) -> str:
        return self.type_name

    @staticmethod
    def _data() -> dict[str, Any]:
        ctx = _ctx()
        cache: dict[str, Any] | None = getattr(ctx, "raw_ui_cache", None)
        if cache is None:
            cache = {}
            default = getattr(ctx.host, "host_default_data", None)
            data = default() if callable(default) else None
            if data is not None:
                for name, _ in _RAW_PROPERTIES.values():
                    cache[name] = getattr(data, name, None)
            ctx.raw_ui_cache = cache
        return cache

    def get(self, low: str) -> tuple[bool, Any]:
        if low in _RAW_PROPERTIES:
            return True, self._data().get(_RAW_PROPERTIES[low][0])
        if low == "keyavailable":
            return True, _host_call("GetKeyAvailable", [], wait=True)
        return False, None

    def set(self, low: str, value: Any) -> bool:
        if low not in _RAW_PROPERTIES or _RAW_PROPERTIES[low][1] is None:
            return False
        name, method = _RAW_PROPERTIES[low]
        if name in ("ForegroundColor", "BackgroundColor"):
            value = _color(value)
        elif name == "CursorSize":
            value = int(to_number(value))
        elif name == "WindowTitle":
            value = _text(value)
        assert method is not None
        _host_call(method, [value])
        self._data()[name] = value
        return True

    def call(self, low: str, args: list[Any]) -> Any:
        n = len(args)
        if low == "readkey":
            options = args[0] if args else ReadKeyOptions.IncludeKeyDown
            return _host_call("ReadKey", [options], wait=True)
        if low == "flushinputbuffer":
            return _host_call("FlushInputBuffer", [])
        if low == "setbuffercontents" and n == 2 and isinstance(args[0], Rectangle):
            return _host_call("SetBufferContents1", [args[0], args[1]])
        if low == "setbuffercontents" and n == 2:
            cells = args[1].for_remoting() if isinstance(args[1], BufferCellArray) else args[1]
            return _host_call("SetBufferContents2", [args[0], cells])
        if low == "scrollbuffercontents" and n == 4:
            return _host_call("ScrollBufferContents", list(args))
        if low == "getbuffercontents" and n == 1:
            return _host_call("GetBufferContents", [args[0]], wait=True)
        raise not_emulated(f"the method $Host.UI.RawUI.{low}() with {n} argument(s)")


def new_host_object(type_name: str, args: list[Any]) -> tuple[bool, Any]:
    """New-Object for the System.Management.Automation.Host types the host methods take."""
    low = type_name.lower().removeprefix("system.management.automation.host.")
    if low == "fielddescription" and len(args) == 1:
        return True, FieldDescription(
            Name=_text(args[0]),
            ParameterTypeName="String",
            ParameterTypeFullName="System.String",
            ParameterAssemblyFullName="mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089",
        )
    if low == "choicedescription" and len(args) in (1, 2):
        return True, ChoiceDescription(
            Label=_text(args[0]), HelpMessage=_text(args[1]) if len(args) == 2 else ""
        )
    if low == "coordinates" and len(args) == 2:
        return True, Coordinates(X=int(to_number(args[0])), Y=int(to_number(args[1])))
    if low == "size" and len(args) == 2:
        return True, Size(Width=int(to_number(args[0])), Height=int(to_number(args[1])))
    if low == "rectangle" and len(args) == 4:
        left, top, right, bottom = (int(to_number(a)) for a in args)
        return True, Rectangle(Left=left, Top=top, Right=right, Bottom=bottom)
    if low == "buffercell" and len(args) == 4:
        return True, BufferCell(
            Character=_text(args[0])[:1],
            ForegroundColor=_color(args[1]),
            BackgroundColor=_color(args[2]),
            BufferCellType=args[3]
            if isinstance(args[3], BufferCellType)
            else BufferCellType(int(to_number(args[3]))),
        )
    if low == "buffercell[,]" and len(args) == 2:
        return True, BufferCellArray(int(to_number(args[0])), int(to_number(args[1])))
    if (
        type_name.lower() in ("system.management.automation.progressrecord", "progressrecord")
        and len(args) == 3
    ):
        return True, ProgressRecord(
            ActivityId=int(to_number(args[0])), Activity=_text(args[1]), StatusDescription=_text(args[2])
        )
    return False, None


class BufferCellArray:
    """A ``BufferCell[,]`` (New-Object 'System.Management.Automation.Host.BufferCell[,]' -ArgumentList
    rows, columns) with ``$cells[r, c] = cell``. In a host call it is serialized as a
    multi-dimensional array: ``mae`` (the elements, row by row) and ``mal`` (the lengths)."""

    _winhost_dotnet = True

    def __init__(self, rows: int, columns: int) -> None:
        self.rows = rows
        self.columns = columns
        self.cells: list[Any] = [None] * (rows * columns)

    def __str__(self) -> str:
        return "System.Management.Automation.Host.BufferCell[,]"

    def _offset(self, index: Any) -> int:
        row, column = (int(to_number(i)) for i in as_list(index))
        if not (0 <= row < self.rows and 0 <= column < self.columns):
            raise IndexError("Index was outside the bounds of the array.")
        return row * self.columns + column

    def get(self, low: str) -> tuple[bool, Any]:
        if low in ("length", "count"):
            return True, self.rows * self.columns
        if low == "rank":
            return True, 2
        return False, None

    def set(self, low: str, value: Any) -> bool:
        return False

    def get_item(self, index: Any) -> Any:
        return self.cells[self._offset(index)]

    def set_item(self, index: Any, value: Any) -> None:
        self.cells[self._offset(index)] = value

    def call(self, low: str, args: list[Any]) -> Any:
        if low == "getlength" and args:
            return self.rows if int(to_number(args[0])) == 0 else self.columns
        raise not_emulated(f"the method {low}() of a BufferCell[,]")

    def for_remoting(self) -> Any:
        from psrpcore.types import PSNoteProperty, PSObject

        obj = PSObject()
        elements = [
            BufferCell.ToPSObjectForRemoting(c) if isinstance(c, BufferCell) else c for c in self.cells
        ]
        obj.PSObject.extended_properties.append(PSNoteProperty("mae", value=elements))
        obj.PSObject.extended_properties.append(PSNoteProperty("mal", value=[self.rows, self.columns]))
        return obj
