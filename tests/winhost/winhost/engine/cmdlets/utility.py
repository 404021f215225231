"""Microsoft.PowerShell.Utility/Core pipeline cmdlets: Where-Object, ForEach-Object, Select-Object,
Sort-Object, Measure-Object, ConvertTo-Json, ConvertFrom-Json, Get-Date, Start-Sleep, Get-Member,
New-Object, Add-Member, Get-Variable, Set-Variable, Invoke-Expression, Get-Unique.

Docs: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/where-object,
.../foreach-object, .../microsoft.powershell.utility/select-object (Selected.<type> type names),
.../measure-object (GenericMeasureInfo), .../convertto-json (default -Depth 2),
.../get-date, .../start-sleep.
"""

from __future__ import annotations

import datetime
import enum
import json
import time
from collections.abc import Iterator
from typing import Any

from psrpcore.types import ErrorCategory, PSCustomObject, PSNoteProperty, PSObject

from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import not_emulated
from winhost.engine.formatting import FormattedText, columns, format_date, list_lines, table_view
from winhost.engine.operators import compare
from winhost.engine.values import (
    ScriptBlockValue,
    SecureText,
    all_properties,
    as_list,
    credential_object,
    custom_object,
    enumerate_value,
    get_property,
    is_collection,
    like,
    new_object,
    ps_compare,
    ps_equals,
    regex_match,
    to_bool,
    to_number,
    to_string,
    type_names,
)
from winhost.engine.wildcards import contains_wildcards, wildcard_match

CORE = "Microsoft.PowerShell.Core"
UTILITY = "Microsoft.PowerShell.Utility"


def _run_sb(sb: Any, item: Any, args: list[Any] | None = None) -> list[Any]:
    if not isinstance(sb, ScriptBlockValue):
        raise not_emulated("a non-scriptblock value where a script block is expected")
    result: list[Any] = sb.evaluator.call_scriptblock(sb, args=args, dollar_under=item, set_under=True)
    return result


_WHERE_OPS = (
    "EQ",
    "NE",
    "GT",
    "GE",
    "LT",
    "LE",
    "Like",
    "NotLike",
    "Match",
    "NotMatch",
    "Contains",
    "NotContains",
    "In",
    "NotIn",
    "CEQ",
    "CNE",
    "CLike",
    "CMatch",
    "Is",
    "IsNot",
    "Not",
)


@cmdlet(
    "Where-Object",
    [
        Param("FilterScript", position=0),
        Param("Property", position=0),
        Param("Value", position=1),
        Param("InputObject"),
        *[Param(op, switch=True) for op in _WHERE_OPS],
    ],
    module=CORE,
    aliases=("where", "?"),
)
def where_object(call: CommandCall) -> Iterator[Any]:
    fs = call.get("FilterScript")
    prop = call.get("Property")
    value = call.get("Value")
    if isinstance(prop, ScriptBlockValue):
        fs, prop = prop, None
    if fs is not None and not isinstance(fs, ScriptBlockValue):
        # Simplified syntax: Where-Object Status -eq Running (both bound positionally).
        if prop is not None and not call.has("Value"):
            value = prop
        fs, prop = None, fs
    op = next((o for o in _WHERE_OPS if call.switch(o)), None)
    for item in call.each("InputObject"):
        if fs is not None:
            if to_bool(_first_or_list(_run_sb(fs, item))):
                yield item
            continue
        _found, current = get_property(item, to_string(prop))
        if _where_test(op, current, value):
            yield item


def _first_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _where_test(op: str | None, current: Any, value: Any) -> bool:
    if op is None:
        return to_bool(current)
    low = op.lower()
    case = low.startswith("c") and low not in ("contains",)
    base = low[1:] if case else low
    result = compare("-" + ("c" if case else "") + base, current, value)
    return to_bool(result)


@cmdlet(
    "ForEach-Object",
    [
        Param("Process", position=0, value_from_remaining=True),
        Param("Begin"),
        Param("End"),
        Param("MemberName"),
        Param("ArgumentList"),
        Param("InputObject"),
        Param("RemainingScripts"),
    ],
    module=CORE,
    aliases=("foreach", "%"),
)
def foreach_object(call: CommandCall) -> Iterator[Any]:
    process = call.get("Process")
    member = call.get("MemberName")
    if isinstance(process, str) and member is None:
        member, process = process, None
    blocks = as_list(process)
    begin = call.get("Begin")
    end = call.get("End")
    if len(blocks) > 1 and begin is None and end is None:
        # ForEach-Object { begin } { process } { end }
        begin = blocks[0]
        end = blocks[2] if len(blocks) > 2 else None
        blocks = [blocks[1]]
    if begin is not None:
        yield from _run_sb(begin, None)
    for item in call.each("InputObject"):
        if member is not None:
            found, value = get_property(item, to_string(member))
            if found:
                yield from enumerate_value(value)
            else:
                method_result = call.ctx.engine.call_method(
                    item, to_string(member), as_list(call.get("ArgumentList"))
                )
                yield from enumerate_value(method_result)
            continue
        for block in blocks:
            yield from _run_sb(block, item)
    if end is not None:
        yield from _run_sb(end, None)


def _selected_type(item: Any) -> list[str]:
    base = type_names(item)[0]
    return [f"Selected.{base}", "System.Management.Automation.PSCustomObject", "System.Object"]


def _expand_property_specs(item: Any, specs: list[Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    props = all_properties(item)
    for spec in specs:
        if isinstance(spec, dict):
            name = None
            expr = None
            for k, v in spec.items():
                lk = str(k).lower()
                if lk in ("n", "name", "l", "label"):
                    name = to_string(v)
                elif lk in ("e", "expression"):
                    expr = v
            if isinstance(expr, ScriptBlockValue):
                out.append(
                    (
                        name or expr.text.strip(),
                        _first_or_list(_run_sb(expr, item)) if _run_sb(expr, item) else None,
                    )
                )
            else:
                _found, value = get_property(item, to_string(expr))
                out.append((name or to_string(expr), value))
            continue
        pattern = to_string(spec)
        if contains_wildcards(pattern):
            for k, v in props.items():
                if like(k, pattern):
                    out.append((k, v))
        else:
            _found, value = get_property(item, pattern)
            actual = next((k for k in props if k.lower() == pattern.lower()), pattern)
            out.append((actual, value))
    return out


def _select_range(call: CommandCall, items: list[Any]) -> list[Any]:
    """-Skip, -First, -Last and -Index, in that order."""
    if call.has("Skip"):
        items = items[int(to_number(call.get("Skip"))) :]
    if call.has("First"):
        items = items[: int(to_number(call.get("First")))]
    if call.has("Last"):
        n = int(to_number(call.get("Last")))
        items = items[-n:] if n else []
    if call.has("Index"):
        idx = [int(to_number(i)) for i in as_list(call.get("Index"))]
        items = [items[i] for i in idx if i < len(items)]
    return items


def _selected_object(item: Any, specs: list[Any], exclude: list[str]) -> Any:
    """A new object of the selected properties (type name ``Selected.<type>``)."""
    obj: Any = PSCustomObject()
    obj.PSObject.type_names = _selected_type(item)
    for k, v in _expand_property_specs(item, specs):
        if not any(like(k, e) for e in exclude):
            obj.PSObject.extended_properties.append(PSNoteProperty(k, value=v))
    return obj


def _expanded(call: CommandCall, item: Any, expand: str, report_missing: bool) -> Iterator[Any]:
    found, value = get_property(item, expand)
    if not found and report_missing:
        call.error(
            f'Property "{expand}" cannot be found.',
            "ExpandPropertyNotFound",
            ErrorCategory.InvalidArgument,
            target=item,
            exception_type="System.Management.Automation.PSArgumentException",
        )
        return
    yield from enumerate_value(value)


@cmdlet(
    "Select-Object",
    [
        Param("Property", position=0),
        Param("ExpandProperty"),
        Param("ExcludeProperty"),
        Param("First"),
        Param("Last"),
        Param("Skip"),
        Param("Unique", switch=True),
        Param("Index"),
        Param("InputObject"),
    ],
    module=UTILITY,
    aliases=("select",),
)
def select_object(call: CommandCall) -> Iterator[Any]:
    items = _select_range(call, list(call.each("InputObject")))
    specs = as_list(call.get("Property")) if call.has("Property") else None
    exclude = [to_string(e) for e in as_list(call.get("ExcludeProperty"))]
    expand = call.string("ExpandProperty")
    seen: set[str] = set()
    for item in items:
        if expand:
            # with -Property too, -ExpandProperty's value is what comes out
            yield from _expanded(call, item, expand, report_missing=specs is None)
            continue
        result = _selected_object(item, specs, exclude) if specs is not None else item
        if call.switch("Unique"):
            key = to_string(result)
            if key in seen:
                continue
            seen.add(key)
        yield result


def _sort_key_values(item: Any, props: list[Any]) -> list[Any]:
    if not props:
        return [item]
    values = []
    for p in props:
        if isinstance(p, ScriptBlockValue):
            values.append(_first_or_list(_run_sb(p, item)))
        elif isinstance(p, dict):
            expr = next((v for k, v in p.items() if str(k).lower() in ("e", "expression")), None)
            values.append(
                _first_or_list(_run_sb(expr, item))
                if isinstance(expr, ScriptBlockValue)
                else get_property(item, to_string(expr))[1]
            )
        else:
            values.append(get_property(item, to_string(p))[1])
    return values


class _Key:
    def __init__(self, values: list[Any], desc: bool) -> None:
        self.values = values
        self.desc = desc

    def __lt__(self, other: _Key) -> bool:
        for a, b in zip(self.values, other.values, strict=False):
            c = ps_compare(a, b)
            if c != 0:
                return c > 0 if self.desc else c < 0
        return False


@cmdlet(
    "Sort-Object",
    [
        Param("Property", position=0),
        Param("Descending", switch=True),
        Param("Unique", switch=True),
        Param("InputObject"),
        Param("CaseSensitive", switch=True),
    ],
    module=UTILITY,
    aliases=("sort",),
)
def sort_object(call: CommandCall) -> Iterator[Any]:
    props = as_list(call.get("Property"))
    items = list(call.each("InputObject"))
    desc = call.switch("Descending")
    items.sort(key=lambda i: _Key(_sort_key_values(i, props), desc))
    if call.switch("Unique"):
        unique: list[Any] = []
        for item in items:
            if not any(ps_equals(to_string(item), to_string(u)) for u in unique):
                unique.append(item)
        items = unique
    yield from items


@cmdlet(
    "Measure-Object",
    [
        Param("Property", position=0),
        Param("Sum", switch=True),
        Param("Average", switch=True),
        Param("Maximum", switch=True),
        Param("Minimum", switch=True),
        Param("InputObject"),
        Param("Line", switch=True),
        Param("Word", switch=True),
        Param("Character", switch=True),
    ],
    module=UTILITY,
    aliases=("measure",),
)
def measure_object(call: CommandCall) -> Iterator[Any]:
    prop = call.string("Property")
    values: list[Any] = []
    count = 0
    for item in call.each("InputObject"):
        count += 1
        values.append(get_property(item, prop)[1] if prop else item)
    numbers = (
        [to_number(v) for v in values]
        if any(call.switch(s) for s in ("Sum", "Average", "Maximum", "Minimum"))
        else []
    )
    yield new_object(
        [
            "Microsoft.PowerShell.Commands.GenericMeasureInfo",
            "Microsoft.PowerShell.Commands.MeasureInfo",
            "System.Object",
        ],
        {
            "Count": count,
            "Average": (sum(numbers) / len(numbers) if numbers else None) if call.switch("Average") else None,
            "Sum": float(sum(numbers)) if call.switch("Sum") else None,
            "Maximum": float(max(numbers)) if call.switch("Maximum") and numbers else None,
            "Minimum": float(min(numbers)) if call.switch("Minimum") and numbers else None,
            "Property": prop,
        },
        to_string_value="Microsoft.PowerShell.Commands.GenericMeasureInfo",
    )


# -- JSON ----------------------------------------------------------------------------------------


def _jsonable(value: Any, depth: int, max_depth: int) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return int(value.value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime.datetime):
        # Windows PowerShell 5.1 writes DateTime as "\/Date(<ms since epoch>)\/".
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return f"/Date({int((aware - epoch).total_seconds() * 1000)})/"
    if depth > max_depth:
        return to_string(value)
    if is_collection(value):
        return [_jsonable(v, depth + 1, max_depth) for v in value]
    if isinstance(value, dict):
        return {to_string(k): _jsonable(v, depth + 1, max_depth) for k, v in value.items()}
    if isinstance(value, ScriptBlockValue):
        return value.text
    if isinstance(value, PSObject):
        return {k: _jsonable(v, depth + 1, max_depth) for k, v in all_properties(value).items()}
    return to_string(value)


@cmdlet(
    "ConvertTo-Json",
    [
        Param("InputObject", position=0),
        Param("Depth"),
        Param("Compress", switch=True),
        Param("EnumsAsStrings", switch=True),
        Param("AsArray", switch=True),
    ],
    module=UTILITY,
)
def convertto_json(call: CommandCall) -> Iterator[Any]:
    depth = int(to_number(call.get("Depth", 2)))
    items = [call.get("InputObject")] if call.has("InputObject") else list(call.input())
    value: Any = items[0] if len(items) == 1 else items
    if call.switch("AsArray") and not is_collection(value):
        value = [value]
    data = _jsonable(value, 0, depth)
    if call.switch("Compress"):
        yield json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    else:
        yield json.dumps(data, indent=4, ensure_ascii=False).replace("\n", "\r\n")


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return custom_object({k: _from_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


@cmdlet(
    "ConvertFrom-Json", [Param("InputObject", position=0), Param("AsHashtable", switch=True)], module=UTILITY
)
def convertfrom_json(call: CommandCall) -> Iterator[Any]:
    text = "\n".join(to_string(v) for v in call.each("InputObject"))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise call.fail(
            f"Invalid JSON primitive: {exc.msg}.",
            "System.ArgumentException",
            ErrorCategory.NotSpecified,
            exception_type="System.ArgumentException",
        ) from exc
    result = data if call.switch("AsHashtable") else _from_json(data)
    if isinstance(result, list):
        yield result  # Windows PowerShell 5.1 writes a JSON array as one object
    else:
        yield result


# -- dates and sleeping -------------------------------------------------------------------------


@cmdlet(
    "Get-Date",
    [
        Param("Date", position=0),
        Param("Format"),
        Param("UFormat"),
        Param("Year"),
        Param("Month"),
        Param("Day"),
        Param("Hour"),
        Param("Minute"),
        Param("Second"),
    ],
    module=UTILITY,
)
def get_date(call: CommandCall) -> Iterator[Any]:
    from winhost.engine.types import cast_value

    value = (
        cast_value("datetime", call.get("Date")) if call.has("Date") else datetime.datetime.now().astimezone()
    )
    for part in ("Year", "Month", "Day", "Hour", "Minute", "Second"):
        if call.has(part):
            fields: dict[str, Any] = {part.lower(): int(to_number(call.get(part)))}
            value = value.replace(**fields)
    if call.has("Format"):
        yield format_date(value, call.string("Format") or "")
    elif call.has("UFormat"):
        fmt = call.string("UFormat") or ""
        yield value.strftime(fmt.replace("%s", str(int(value.timestamp()))))
    else:
        yield value


@cmdlet(
    "Start-Sleep", [Param("Seconds", position=0), Param("Milliseconds")], module=UTILITY, aliases=("sleep",)
)
def start_sleep(call: CommandCall) -> Iterator[Any]:
    seconds = (
        float(to_number(call.get("Seconds", 0))) + float(to_number(call.get("Milliseconds", 0))) / 1000.0
    )
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if call.ctx.host.stop_requested.wait(min(remaining, 0.25)):
            call.ctx.check_stop()
    return iter(())


# -- objects and variables ------------------------------------------------------------------------


@cmdlet(
    "New-Object",
    [Param("TypeName", position=0), Param("ArgumentList", position=1), Param("Property"), Param("ComObject")],
    module=UTILITY,
)
def new_object_cmd(call: CommandCall) -> Iterator[Any]:
    type_name = (call.string("TypeName") or "").lower()
    props = call.get("Property") or {}
    from winhost.engine.hostui import new_host_object

    made, host_object = new_host_object(
        type_name, as_list(call.get("ArgumentList")) if call.has("ArgumentList") else []
    )
    if made:
        yield host_object
        return
    if type_name in ("psobject", "pscustomobject", "system.management.automation.psobject"):
        yield custom_object(props if isinstance(props, dict) else {})
        return
    if type_name in (
        "system.collections.arraylist",
        "collections.arraylist",
        "system.collections.generic.list[string]",
        "system.collections.generic.list[object]",
        "collections.generic.list[string]",
        "collections.generic.list[object]",
    ):
        yield []
        return
    if type_name in ("hashtable", "system.collections.hashtable"):
        yield {}
        return
    if type_name in ("system.management.automation.pscredential", "pscredential"):
        args = as_list(call.get("ArgumentList"))
        yield credential_object(to_string(args[0]), args[1])
        return
    from winhost.engine.dotnet import new_stream
    from winhost.engine.types import resolve_type

    stream = new_stream(resolve_type(type_name).full_name.lower(), as_list(call.get("ArgumentList")))
    if stream is not None:
        yield stream
        return
    raise not_emulated(f"New-Object -TypeName {call.string('TypeName')}")


#: The assemblies ``Add-Type -AssemblyName`` loads: .NET assemblies present both in Windows
#: PowerShell 5.1 (the .NET Framework 4.8 global assembly cache) and in PowerShell 7 (the .NET
#: shared framework, its compatibility facades, or pwsh's own directory). Their types that winhost
#: emulates (e.g. System.IO.Compression.DeflateStream) work with or without Add-Type, as on
#: Windows, where they are loaded already or load on first use.
FRAMEWORK_ASSEMBLIES = frozenset(
    name.lower()
    for name in (
        "mscorlib",
        "netstandard",
        "Microsoft.CSharp",
        "System",
        "System.ComponentModel.DataAnnotations",
        "System.Configuration",
        "System.Core",
        "System.Data",
        "System.DirectoryServices",
        "System.IO.Compression",
        "System.IO.Compression.FileSystem",
        "System.Management",
        "System.Net",
        "System.Net.Http",
        "System.Numerics",
        "System.Runtime.Serialization",
        "System.Security",
        "System.Transactions",
        "System.Web",
        "System.Xml",
        "System.Xml.Linq",
    )
)

_ADD_TYPE_SOURCES = ("TypeDefinition", "Name", "MemberDefinition", "Path", "LiteralPath")


@cmdlet(
    "Add-Type",
    [
        Param("TypeDefinition", position=0),
        Param("Name"),
        Param("MemberDefinition", position=1),
        Param("Namespace", aliases=("NS",)),
        Param("UsingNamespace", aliases=("Using",)),
        Param("Path"),
        Param("LiteralPath", aliases=("PSPath", "LP")),
        Param("AssemblyName", aliases=("AN",), type="string[]"),
        Param("Language"),
        Param("ReferencedAssemblies", aliases=("RA",)),
        Param("CodeDomProvider", aliases=("Provider",)),
        Param("CompilerParameters", aliases=("CP",)),
        Param("OutputAssembly", aliases=("OA",)),
        Param("OutputType", aliases=("OT",)),
        Param("PassThru", switch=True),
        Param("IgnoreWarnings", switch=True),
    ],
    module=UTILITY,
)
def add_type(call: CommandCall) -> Iterator[Any]:
    """Add-Type (https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/add-type):
    ``-AssemblyName`` takes the simple or full name of an assembly (``System.IO.Compression`` or
    ``System.IO.Compression, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089``);
    by default the cmdlet returns no output. winhost loads nothing: an assembly of
    :data:`FRAMEWORK_ASSEMBLIES` succeeds silently; compiling source (-TypeDefinition, -Name /
    -MemberDefinition), loading files (-Path, -LiteralPath), any other assembly and -PassThru (which
    returns the assembly's types) are not emulated."""
    for name in _ADD_TYPE_SOURCES:
        if call.has(name):
            raise not_emulated(f"Add-Type -{name} (compiling or loading .NET code)")
    names = call.strings("AssemblyName")
    if not names:
        raise not_emulated("Add-Type without -AssemblyName")
    if call.switch("PassThru"):
        raise not_emulated("Add-Type -PassThru")
    for name in names:
        simple = name.split(",", 1)[0].strip()
        if simple.lower() not in FRAMEWORK_ASSEMBLIES:
            raise not_emulated(f"Add-Type -AssemblyName {name} (only .NET framework assemblies load)")
    return iter(())


@cmdlet(
    "Add-Member",
    [
        Param("MemberType", position=0),
        Param("Name", position=1),
        Param("Value", position=2),
        Param("NotePropertyName"),
        Param("NotePropertyValue"),
        Param("NotePropertyMembers"),
        Param("InputObject"),
        Param("PassThru", switch=True),
        Param("Force", switch=True),
    ],
    module=UTILITY,
)
def add_member(call: CommandCall) -> Iterator[Any]:
    from psrpcore.types import add_note_property

    name = call.string("NotePropertyName") or call.string("Name")
    value = call.get("NotePropertyValue") if call.has("NotePropertyValue") else call.get("Value")
    members = call.get("NotePropertyMembers") or ({name: value} if name else {})
    for item in call.each("InputObject"):
        if isinstance(item, PSObject):
            for k, v in members.items():
                add_note_property(item, to_string(k), v, force=call.switch("Force"))
        elif isinstance(item, dict):
            item.update(members)
        else:
            raise not_emulated("Add-Member on non-PSObject values")
        if call.switch("PassThru"):
            yield item


@cmdlet(
    "Get-Member",
    [Param("Name", position=0), Param("InputObject"), Param("MemberType"), Param("Force", switch=True)],
    module=UTILITY,
    aliases=("gm",),
)
def get_member(call: CommandCall) -> Iterator[Any]:
    seen: set[str] = set()
    for item in call.each("InputObject"):
        tn = type_names(item)[0]
        if tn in seen:
            continue
        seen.add(tn)
        for name, value in all_properties(item).items():
            yield new_object(
                ["Microsoft.PowerShell.Commands.MemberDefinition", "System.Object"],
                {
                    "TypeName": tn,
                    "Name": name,
                    "MemberType": "Property",
                    "Definition": f"{type_names(value)[0]} {name}",
                },
            )


@cmdlet(
    "Get-Variable",
    [Param("Name", position=0), Param("ValueOnly", switch=True), Param("Scope")],
    module=UTILITY,
    aliases=("gv",),
)
def get_variable(call: CommandCall) -> Iterator[Any]:
    """Get-Variable (learn.microsoft.com .../microsoft.powershell.utility/get-variable): -Name
    takes wildcards and defaults to ``*``; the variables visible in the scope, sorted by name;
    a name without wildcards that matches nothing is an error."""
    visible: dict[str, tuple[str, Any]] = {}
    scope: Any = call.scope
    while scope is not None:
        for name, value in scope.variables.items():
            if not name.startswith("__"):  # winhost's own bookkeeping, not PowerShell variables
                visible.setdefault(name.lower(), (name, value))
        scope = scope.parent
    ordered = sorted(visible.values(), key=lambda item: item[0].lower())
    for pattern in call.strings("Name") or ["*"]:
        matches = [item for item in ordered if wildcard_match(item[0], pattern)]
        if not matches and not contains_wildcards(pattern):
            call.error(
                f"Cannot find a variable with the name '{pattern}'.",
                "VariableNotFound",
                ErrorCategory.ObjectNotFound,
                target=pattern,
                exception_type="System.Management.Automation.ItemNotFoundException",
            )
        for name, value in matches:
            if call.switch("ValueOnly"):
                yield value
            else:
                yield new_object(
                    ["System.Management.Automation.PSVariable", "System.Object"],
                    {"Name": name, "Value": value, "Description": "", "Options": "None"},
                )


@cmdlet(
    "Set-Variable",
    [
        Param("Name", position=0),
        Param("Value", position=1),
        Param("Scope"),
        Param("Option"),
        Param("PassThru", switch=True),
    ],
    module=UTILITY,
    aliases=("set",),
)
def set_variable(call: CommandCall) -> Iterator[Any]:
    """-Value is ValueFromPipeline (about_Variables, Set-Variable): piped objects become the
    value, one object as itself, several as an array."""
    target = call.scope.root() if (call.string("Scope") or "").lower() in ("global", "script") else call.scope
    value = call.get("Value")
    if not call.has("Value") and call.expecting_input:
        piped = list(call.input())
        value = piped[0] if len(piped) == 1 else (piped or None)
    for name in call.strings("Name") or []:
        target.set(name, value)
    return iter(())


@cmdlet(
    "Remove-Variable",
    [
        Param("Name", position=0),
        Param("Scope"),
        Param("Force", switch=True),
        Param("Include"),
        Param("Exclude"),
    ],
    module=UTILITY,
    aliases=("rv",),
)
def remove_variable(call: CommandCall) -> Iterator[Any]:
    """Remove-Variable (https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/remove-variable):
    ``-Scope Global``/``Script`` removes from the session's top scope, ``Local`` from the current
    one, none from the nearest scope that has the variable. A missing name is a non-terminating
    ItemNotFoundException ("Cannot find a variable with the name 'x'.")."""
    wanted = (call.string("Scope") or "").lower()
    for name in call.strings("Name") or []:
        scope: Any = call.scope.root() if wanted in ("global", "script") else call.scope
        if not wanted:
            while scope is not None and name not in scope.variables:
                scope = scope.parent
        if scope is None or name not in scope.variables:
            call.error(
                f"Cannot find a variable with the name '{name}'.",
                "VariableNotFound",
                ErrorCategory.ObjectNotFound,
                target=name,
                exception_type="System.Management.Automation.ItemNotFoundException",
            )
            continue
        del scope.variables[name]
    return iter(())


@cmdlet("Invoke-Expression", [Param("Command", position=0)], module=UTILITY, aliases=("iex",))
def invoke_expression(call: CommandCall) -> Iterator[Any]:
    engine = call.ctx.engine
    block = engine.script_block(call.string("Command") or "", call.scope)
    yield from engine.invoke_block(block, [], None, scope=call.scope)


@cmdlet("Get-Unique", [Param("InputObject")], module=UTILITY)
def get_unique(call: CommandCall) -> Iterator[Any]:
    last: Any = object()
    for item in call.each("InputObject"):
        if not isinstance(last, type(item)) or not ps_equals(item, last):
            yield item
        last = item


@cmdlet(
    "Select-String",
    [
        Param("Pattern", position=0),
        Param("InputObject"),
        Param("SimpleMatch", switch=True),
        Param("Quiet", switch=True),
        Param("Path"),
    ],
    module=UTILITY,
)
def select_string(call: CommandCall) -> Iterator[Any]:
    import re

    pattern = call.string("Pattern") or ""
    for n, item in enumerate(call.each("InputObject"), start=1):
        line = to_string(item)
        hit = (pattern in line) if call.switch("SimpleMatch") else regex_match(line, pattern) is not None
        if hit:
            if call.switch("Quiet"):
                yield True
                return
            yield new_object(
                ["Microsoft.PowerShell.Commands.MatchInfo", "System.Object"],
                {
                    "Line": line,
                    "LineNumber": n,
                    "Pattern": pattern,
                    "IgnoreCase": True,
                    "Filename": "InputStream",
                    "Path": "InputStream",
                },
                to_string_value=line,
            )
    _ = re


@cmdlet(
    "Invoke-Command",
    [
        Param("ScriptBlock", position=0),
        Param("ArgumentList", aliases=("Args",)),
        Param("ComputerName", aliases=("Cn",)),
        Param("Session"),
        Param("InputObject"),
        Param("NoNewScope", switch=True),
        Param("Credential"),
        Param("HideComputerName", switch=True),
    ],
    module=CORE,
    aliases=("icm",),
)
def invoke_command(call: CommandCall) -> Iterator[Any]:
    """Local Invoke-Command: runs the script block here; ``$using:x`` reads the caller's ``$x``.
    https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/invoke-command"""
    from winhost.engine.context import Scope

    names = call.strings("ComputerName") or []
    local = {"localhost", ".", "127.0.0.1", call.ctx.machine.computer_name.lower()}
    if call.has("Session") or any(n.lower() not in local for n in names):
        raise not_emulated("Invoke-Command to another computer or PSSession (second hop)")
    block = call.get("ScriptBlock")
    if not isinstance(block, ScriptBlockValue):
        raise not_emulated("Invoke-Command without a script block")
    inputs = list(call.each("InputObject")) if call.has("InputObject") or call.expecting_input else None
    run_scope = call.scope if call.switch("NoNewScope") else Scope(block.scope)
    run_scope.set("__using_scope", call.scope)
    params: list[tuple[str | None, Any]] = [(None, a) for a in as_list(call.get("ArgumentList"))]
    yield from block.evaluator.invoke_block(
        block, params, iter(inputs) if inputs is not None else None, scope=run_scope
    )


@cmdlet("Read-Host", [Param("Prompt", position=0), Param("AsSecureString", switch=True)], module=UTILITY)
def read_host(call: CommandCall) -> Iterator[Any]:
    """Asks the client's host (PSHost ReadLine / ReadLineAsSecureString host call). A prompt is
    shown with ": " appended, as PowerShell does (Read-Host -Prompt: "PowerShell appends a colon
    (:) to the text that you enter"; ``Read-Host "Please enter your age"`` displays
    ``Please enter your age:``), https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/read-host."""
    prompt = call.string("Prompt") or ""
    yield call.ctx.host.read_line(f"{prompt}: " if prompt else "", secure=call.switch("AsSecureString"))


@cmdlet("Set-StrictMode", [Param("Version"), Param("Off", switch=True)], module=CORE)
def set_strict_mode(call: CommandCall) -> Iterator[Any]:
    """Accepted and recorded in $__StrictMode; winhost does not apply strict-mode checks."""
    call.scope.set("__StrictMode", "Off" if call.switch("Off") else call.string("Version"))
    return iter(())


# -- formatting -----------------------------------------------------------------------------------


@cmdlet(
    "Format-Table",
    [
        Param("Property", position=0),
        Param("AutoSize", switch=True),
        Param("InputObject"),
        Param("HideTableHeaders", switch=True),
        Param("Wrap", switch=True),
    ],
    module=UTILITY,
    aliases=("ft",),
)
def format_table(call: CommandCall) -> Iterator[Any]:
    items = list(call.each("InputObject"))
    requested = as_list(call.get("Property")) if call.has("Property") else None
    lines = table_view(items, requested, headers=not call.switch("HideTableHeaders")) if items else []
    yield from (FormattedText(line) for line in lines)


@cmdlet("Format-List", [Param("Property", position=0), Param("InputObject")], module=UTILITY, aliases=("fl",))
def format_list(call: CommandCall) -> Iterator[Any]:
    for item in call.each("InputObject"):
        if not isinstance(item, PSObject | dict):
            yield FormattedText(to_string(item))
            continue
        requested = as_list(call.get("Property")) if call.has("Property") else ["*"]
        yield from (FormattedText(line) for line in list_lines(item, columns(item, requested)))
    yield FormattedText("")


@cmdlet(
    "ConvertTo-SecureString",
    [
        Param("String", position=0),
        Param("AsPlainText", switch=True),
        Param("Force", switch=True),
        Param("Key"),
        Param("SecureKey"),
    ],
    module="Microsoft.PowerShell.Security",
)
def convertto_securestring(call: CommandCall) -> Iterator[Any]:
    """Only ``-AsPlainText -Force`` (DPAPI-encrypted input is not emulated)."""
    if not call.switch("AsPlainText"):
        raise not_emulated("ConvertTo-SecureString from DPAPI-encrypted text")
    if not call.switch("Force"):
        raise call.fail(
            "The system cannot protect plain text input. To suppress this warning and convert the plain text to a "
            "SecureString, reissue the command specifying the Force parameter.",
            "ImportSecureString_InvalidArgument",
            ErrorCategory.InvalidArgument,
            exception_type="System.ArgumentException",
        )
    yield SecureText(call.string("String") or "")


@cmdlet(
    "Get-Credential",
    [Param("Credential", position=0), Param("UserName"), Param("Message"), Param("Title")],
    module="Microsoft.PowerShell.Security",
)
def get_credential(call: CommandCall) -> Iterator[Any]:
    """Asks the client's host for the password (ReadLine / ReadLineAsSecureString host calls with
    "Password for user <name>:" as the prompt). Windows uses the PromptForCredential host call,
    which draws the same prompt in a console host."""
    given = call.get("Credential")
    if given is not None and any(n.endswith("PSCredential") for n in type_names(given)):
        yield given
        return
    user = call.string("UserName") or (to_string(given) if given is not None else "")
    host = call.ctx.host
    if call.has("Message"):
        host.write_host(call.string("Message") or "")
    if not user:
        user = to_string(host.read_line("User: "))
    password = host.read_line(f"Password for user {user}: ", secure=True)
    if not callable(getattr(password, "decrypt", None)):
        password = SecureText(to_string(password))
    yield credential_object(user, password)
