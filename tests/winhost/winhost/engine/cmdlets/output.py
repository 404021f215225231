"""Write-Output/Host/Error/Warning/Verbose/Debug/Information/Progress, Out-Null, Out-String.

Behaviour per the Microsoft.PowerShell.Utility docs, e.g.
https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/write-host
(-NoNewline, -Separator, -ForegroundColor) and .../write-error (-Message, -Category, -ErrorId,
-TargetObject; error id defaults to Microsoft.PowerShell.Commands.WriteErrorException).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any

from psrpcore.types import (
    BufferCellType,
    ConsoleColor,
    ControlKeyStates,
    ErrorCategory,
    ErrorDetails,
    ErrorRecord,
    ReadKeyOptions,
)

from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import make_error_record
from winhost.engine.formatting import FormattedText, table_view
from winhost.engine.methods import register_enum
from winhost.engine.types import ENUM_TYPES
from winhost.engine.values import as_list, enumerate_value, to_bool, to_string

UTILITY = "Microsoft.PowerShell.Utility"
register_enum(ConsoleColor)
# Host enums the $Host.UI.RawUI methods take (System.Management.Automation.Host).
# psrpcore 0.3.1 gives BufferCellType ControlKeyStates' type name: register it by its own name.
ENUM_TYPES["system.management.automation.host.buffercelltype"] = BufferCellType
ENUM_TYPES["buffercelltype"] = BufferCellType
register_enum(ReadKeyOptions)
register_enum(ControlKeyStates)


@cmdlet(
    "Write-Output",
    [Param("InputObject", position=0, value_from_remaining=True), Param("NoEnumerate", switch=True)],
    module=UTILITY,
    aliases=("echo", "write"),
)
def write_output(call: CommandCall) -> Iterator[Any]:
    if call.has("InputObject"):
        value = call.get("InputObject")
        if call.switch("NoEnumerate"):
            yield [value] if isinstance(value, list) else value
        else:
            yield from enumerate_value(value)
    else:
        yield from call.input()


def _color(value: Any) -> int | None:
    if value is None:
        return None
    text = to_string(value)
    for member in ConsoleColor:
        if member.name.lower() == text.lower():
            return int(member.value)
    return None


@cmdlet(
    "Write-Host",
    [
        Param("Object", position=0, value_from_remaining=True),
        Param("NoNewline", switch=True),
        Param("Separator"),
        Param("ForegroundColor"),
        Param("BackgroundColor"),
    ],
    module=UTILITY,
)
def write_host(call: CommandCall) -> Iterator[Any]:
    values = as_list(call.get("Object")) if call.has("Object") else list(call.input())
    sep = call.string("Separator", " ") or ""
    text = sep.join(to_string(v) for v in values)
    call.ctx.host.write_host(
        text,
        newline=not call.switch("NoNewline"),
        foreground=_color(call.get("ForegroundColor")),
        background=_color(call.get("BackgroundColor")),
    )
    return iter(())


@cmdlet(
    "Write-Error",
    [
        Param("Message", position=0, aliases=("Msg",)),
        Param("ErrorRecord"),
        Param("Exception"),
        Param("Category"),
        Param("ErrorId"),
        Param("TargetObject"),
        Param("RecommendedAction"),
        Param("CategoryActivity"),
        Param("CategoryReason"),
        Param("CategoryTargetName"),
        Param("CategoryTargetType"),
    ],
    module=UTILITY,
)
def write_error(call: CommandCall) -> Iterator[Any]:
    """WriteErrorCommand.ProcessRecord (PowerShell source, WriteErrorCommand): the -Exception or a
    WriteErrorException of -Message; the id -ErrorId or the exception's type name; -Message as
    ErrorDetails when an -Exception was given; the Category* parameters set CategoryInfo; the
    activity is the command, Write-Error."""
    record = call.get("ErrorRecord")
    if not isinstance(record, ErrorRecord):
        record = _new_error_record(call)
    call.ctx.write_error(record, call.scope, call.error_action)
    return iter(())


def _new_error_record(call: CommandCall) -> ErrorRecord:
    message = call.string("Message")
    exception = call.get("Exception") if call.has("Exception") else None
    names = list(getattr(getattr(exception, "PSObject", None), "type_names", None) or [])
    exception_type = names[0] if names else "Microsoft.PowerShell.Commands.WriteErrorException"
    category = ErrorCategory.NotSpecified
    if call.has("Category"):
        name = to_string(call.get("Category"))
        category = next((c for c in ErrorCategory if c.name.lower() == name.lower()), category)
    text = message if exception is None else to_string(getattr(exception, "Message", exception))
    record = make_error_record(
        text or "",
        call.string("ErrorId") or exception_type,
        category,
        target=call.get("TargetObject"),
        exception_type=exception_type,
        activity="Write-Error",
    )
    if exception is not None and hasattr(exception, "Message"):
        record.Exception = exception
    if exception is not None and message:
        record.ErrorDetails = ErrorDetails(Message=message)
    info = record.CategoryInfo
    for parameter, attribute in (
        ("CategoryActivity", "Activity"),
        ("CategoryReason", "Reason"),
        ("CategoryTargetName", "TargetName"),
        ("CategoryTargetType", "TargetType"),
    ):
        if call.string(parameter):
            setattr(info, attribute, call.string(parameter))
    return record


@cmdlet("Write-Warning", [Param("Message", position=0, aliases=("Msg",))], module=UTILITY)
def write_warning(call: CommandCall) -> Iterator[Any]:
    for message in [call.get("Message")] if call.has("Message") else call.input():
        call.warning(to_string(message))
    return iter(())


@cmdlet("Write-Verbose", [Param("Message", position=0, aliases=("Msg",))], module=UTILITY)
def write_verbose(call: CommandCall) -> Iterator[Any]:
    for message in [call.get("Message")] if call.has("Message") else call.input():
        call.verbose(to_string(message))
    return iter(())


@cmdlet("Write-Debug", [Param("Message", position=0, aliases=("Msg",))], module=UTILITY)
def write_debug(call: CommandCall) -> Iterator[Any]:
    forced = to_bool(call.get("Debug")) if call.has("Debug") else None
    for message in [call.get("Message")] if call.has("Message") else call.input():
        call.ctx.write_debug(to_string(message), call.scope, forced)
    return iter(())


@cmdlet(
    "Write-Information",
    [Param("MessageData", position=0, aliases=("Msg", "Message")), Param("Tags", position=1)],
    module=UTILITY,
)
def write_information(call: CommandCall) -> Iterator[Any]:
    tags = call.strings("Tags") or []
    call.ctx.host.write_information(call.get("MessageData"), source="Write-Information", tags=tags)
    return iter(())


@cmdlet(
    "Write-Progress",
    [
        Param("Activity", position=0),
        Param("Status", position=1),
        Param("Id", position=2),
        Param("PercentComplete"),
        Param("SecondsRemaining"),
        Param("CurrentOperation"),
        Param("ParentId"),
        Param("Completed", switch=True),
        Param("SourceId"),
    ],
    module=UTILITY,
)
def write_progress(call: CommandCall) -> Iterator[Any]:
    percent = int(call.get("PercentComplete", -1))
    status = call.string("Status", "Processing") or "Processing"
    call.ctx.host.write_progress(
        call.string("Activity", "") or "", status, -1 if call.switch("Completed") else percent
    )
    return iter(())


@cmdlet("Out-Null", [Param("InputObject")], module="Microsoft.PowerShell.Core")
def out_null(call: CommandCall) -> Iterator[Any]:
    for _ in call.input():
        pass
    return iter(())


@cmdlet("Out-String", [Param("InputObject"), Param("Stream", switch=True), Param("Width")], module=UTILITY)
def out_string(call: CommandCall) -> Iterator[Any]:
    """Formats objects as text; winhost renders the ToString() form, one object per line."""
    values = list(call.each("InputObject"))
    # Out-String formats each run of objects with its default view, as Out-Default does, and
    # strings, numbers and enums as their text (Get-Service winrm | Out-String -Stream gives
    # "", the header, the dashes, the row, "", "" in pypsrp's test_client_execute_ps recording).
    formatted: list[Any] = []
    pending: list[Any] = []

    def flush() -> None:
        if pending:
            formatted.extend(FormattedText(line) for line in table_view(pending))
            pending.clear()

    for value in values:
        if (
            isinstance(value, FormattedText)
            or value is None
            or isinstance(value, str | int | float | bool | Enum)
        ):
            flush()
            formatted.append(value)
        else:
            pending.append(value)
    flush()
    values = formatted
    lines = [to_string(v) for v in values]
    if call.switch("Stream"):
        yield from lines
    else:
        yield "".join(line + "\r\n" for line in lines)


@cmdlet("Out-Default", [Param("InputObject")], module="Microsoft.PowerShell.Core")
def out_default(call: CommandCall) -> Iterator[Any]:
    for value in call.each("InputObject"):
        call.ctx.host.write_host(to_string(value))
    return iter(())


@cmdlet("Out-Host", [Param("InputObject"), Param("Paging", switch=True)], module="Microsoft.PowerShell.Core")
def out_host(call: CommandCall) -> Iterator[Any]:
    return out_default(call)
