"""Type literals, casts and -is: the .NET types the script subset knows."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from psrpcore.types import ErrorCategory, PSObject

from winhost.engine.errors import not_emulated, terminating
from winhost.engine.values import (
    ScriptBlockValue,
    as_list,
    custom_object,
    is_collection,
    to_bool,
    to_number,
    to_string,
    type_names,
)


class TypeRef:
    """A resolved type literal such as [string] or [Environment]."""

    def __init__(self, name: str, full_name: str) -> None:
        self.name = name
        self.full_name = full_name

    def __str__(self) -> str:
        return self.full_name


_ACCELERATORS = {
    "string": "System.String",
    "int": "System.Int32",
    "int32": "System.Int32",
    "long": "System.Int64",
    "int64": "System.Int64",
    "bool": "System.Boolean",
    "boolean": "System.Boolean",
    "double": "System.Double",
    "float": "System.Single",
    "single": "System.Single",
    "decimal": "System.Decimal",
    "char": "System.Char",
    "byte": "System.Byte",
    "array": "System.Array",
    "hashtable": "System.Collections.Hashtable",
    "object": "System.Object",
    "psobject": "System.Management.Automation.PSObject",
    "pscustomobject": "System.Management.Automation.PSObject",
    "scriptblock": "System.Management.Automation.ScriptBlock",
    "switch": "System.Management.Automation.SwitchParameter",
    "datetime": "System.DateTime",
    "timespan": "System.TimeSpan",
    "enum": "System.Enum",
    "environment": "System.Environment",
    "math": "System.Math",
    "convert": "System.Convert",
    "guid": "System.Guid",
    "regex": "System.Text.RegularExpressions.Regex",
    "void": "System.Void",
    "ordered": "System.Collections.Specialized.OrderedDictionary",
    "io.path": "System.IO.Path",
    "io.file": "System.IO.File",
    "text.encoding": "System.Text.Encoding",
    "version": "System.Version",
    "uri": "System.Uri",
    "securestring": "System.Security.SecureString",
    "pscredential": "System.Management.Automation.PSCredential",
    "net.dns": "System.Net.Dns",
    "system.net.dns": "System.Net.Dns",
    "security.principal.windowsidentity": "System.Security.Principal.WindowsIdentity",
    "char[]": "System.Char[]",
    "string[]": "System.String[]",
    "int[]": "System.Int32[]",
    "object[]": "System.Object[]",
    "bitconverter": "System.BitConverter",
    "stringsplitoptions": "System.StringSplitOptions",
    "collections.arraylist": "System.Collections.ArrayList",
    "byte[]": "System.Byte[]",
    "powershell": "System.Management.Automation.PowerShell",
    "runspacefactory": "System.Management.Automation.Runspaces.RunspaceFactory",
}


#: .NET enum types reachable as [Full.Type.Name]::Member and as cast targets (registered by the
#: cmdlet modules with register_enum).
ENUM_TYPES: dict[str, Any] = {}


def register_enum(enum_type: Any) -> Any:
    full = str(enum_type.PSObject.type_names[0]).lower()
    ENUM_TYPES[full] = enum_type
    ENUM_TYPES[full.rsplit(".", 1)[-1]] = enum_type
    return enum_type


def _cast_enum(enum_type: Any, value: Any, full: str) -> Any:
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        member = next((m for m in enum_type if str(m.name).lower() == value.strip().lower()), None)
        if member is not None:
            return member
    elif isinstance(value, int):
        return enum_type(int(value))
    raise _cast_error(value, full)


def resolve_type(name: str) -> TypeRef:
    low = name.lower().strip()
    if low.startswith("system."):
        short = low[len("system.") :]
        full = _ACCELERATORS.get(short, name)
        return TypeRef(name, full if full != name else name)
    known = _ACCELERATORS.get(low)
    full = known if known is not None else ("System." + name if "." in name else name)
    return TypeRef(name, full)


def _to_bytes(value: Any, full: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes(int(to_number(v)) & 0xFF for v in as_list(value))


def _to_integer(value: Any, full: str) -> int:
    number = to_number(value)
    return round(number) if isinstance(number, float) else int(number)


def _to_boolean(value: Any, full: str) -> bool:
    return value != "" if isinstance(value, str) else to_bool(value)


def _to_hashtable(value: Any, full: str) -> dict[Any, Any]:
    if isinstance(value, dict):
        return dict(value)
    raise _cast_error(value, full)


def _to_script_block(value: Any, full: str) -> ScriptBlockValue:
    if isinstance(value, ScriptBlockValue):
        return value
    raise _cast_error(value, full)


def _to_char(value: Any, full: str) -> str:
    if isinstance(value, int):
        return chr(value)
    text = to_string(value)
    if len(text) == 1:
        return text
    raise _cast_error(value, full)


#: Invariant-culture date forms besides ISO 8601 (DateTime.Parse with CultureInfo.InvariantCulture:
#: month/day/year, with or without a time).
_INVARIANT_DATES = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")


def _to_datetime(value: Any, full: str) -> datetime.datetime:
    """``[datetime]'...'``: PowerShell converts a string with the invariant culture
    (about_Type_Conversion), so ``2028-12-31``, ``2028-12-31T10:00:00`` and ``12/31/2028`` all read."""
    if isinstance(value, datetime.datetime):
        return value
    text = to_string(value).strip()
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        pass
    for form in _INVARIANT_DATES:
        try:
            return datetime.datetime.strptime(text, form)
        except ValueError:
            continue
    raise _cast_error(value, full)


def _to_guid(value: Any, full: str) -> uuid.UUID:
    return uuid.UUID(to_string(value))


#: Conversions by target type (lower-case full name): (value, full name) -> converted value.
_CASTS: dict[str, Callable[[Any, str], Any]] = {
    "system.byte[]": _to_bytes,
    "system.string": lambda value, full: to_string(value),
    "system.int32": _to_integer,
    "system.int64": _to_integer,
    "system.byte": _to_integer,
    "system.double": lambda value, full: float(to_number(value)),
    "system.single": lambda value, full: float(to_number(value)),
    "system.decimal": lambda value, full: float(to_number(value)),
    "system.boolean": _to_boolean,
    "system.management.automation.switchparameter": lambda value, full: to_bool(value),
    "system.object": lambda value, full: value,
    "system.array": lambda value, full: as_list(value),
    "system.collections.hashtable": _to_hashtable,
    "system.management.automation.psobject": lambda value, full: (
        custom_object(value) if isinstance(value, dict) else value
    ),
    "system.management.automation.scriptblock": _to_script_block,
    "system.void": lambda value, full: None,
    "system.char": _to_char,
    "system.datetime": _to_datetime,
    "system.version": lambda value, full: to_string(value),
    "system.guid": _to_guid,
    "system.collections.specialized.ordereddictionary": lambda value, full: (
        dict(value) if isinstance(value, dict) else value
    ),
}


def cast_value(type_name: str | Any, value: Any) -> Any:
    """``[type]value`` (about_Type_Conversion): the conversions winhost knows, else the value
    itself when it already is of that type, else "winhost does not emulate"."""
    full = type_name.full_name if isinstance(type_name, TypeRef) else resolve_type(str(type_name)).full_name
    low = full.lower()
    if low in ENUM_TYPES:
        return _cast_enum(ENUM_TYPES[low], value, full)
    cast = _CASTS.get(low)
    if cast is not None:
        return cast(value, full)
    if low.endswith("[]"):
        element = low[:-2]
        element_cast = _CASTS.get(element) if element not in ENUM_TYPES else None
        if element_cast is not None:  # the element type resolved once, not once per element
            return [element_cast(v, full[:-2]) for v in as_list(value)]
        return [cast_value(full[:-2], v) for v in as_list(value)]
    if isinstance(value, PSObject) and any(n.lower() == low for n in value.PSObject.type_names):
        return value
    raise not_emulated(f"casts to [{type_name}]")


def _cast_error(value: Any, full: str) -> Exception:
    return terminating(
        f'Cannot convert value "{to_string(value)}" to type "{full}".',
        "ConvertToFinalInvalidCastException",
        ErrorCategory.InvalidArgument,
        exception_type="System.Management.Automation.PSInvalidCastException",
    )


def _implements(value: Any, interface: str) -> bool | None:
    """The collection interfaces of the values winhost represents natively, or None for another
    type. A hashtable (a Python dict, also psrpcore's PSDict: the ``<DCT>`` Hashtable a PSRP
    client sends) implements IDictionary, ICollection and IEnumerable
    (https://learn.microsoft.com/en-us/dotnet/api/system.collections.hashtable); an array (a
    Python list, or a byte[]) IList, ICollection and IEnumerable
    (https://learn.microsoft.com/en-us/dotnet/api/system.array); a string IEnumerable
    (https://learn.microsoft.com/en-us/dotnet/api/system.string)."""
    if interface not in _COLLECTION_INTERFACES:
        return None
    if isinstance(value, dict):
        return interface != "system.collections.ilist"
    if isinstance(value, (bytes, bytearray)) or is_collection(value):
        return interface != "system.collections.idictionary"
    if isinstance(value, str):
        return interface == "system.collections.ienumerable"
    return None


_COLLECTION_INTERFACES = frozenset(
    {
        "system.collections.idictionary",
        "system.collections.icollection",
        "system.collections.ienumerable",
        "system.collections.ilist",
    }
)


def is_type(value: Any, type_ref: Any) -> bool:
    """``-is`` (https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_type_operators):
    true when the value is an instance of the type, its base types or interfaces."""
    full = (
        type_ref.full_name if isinstance(type_ref, TypeRef) else resolve_type(to_string(type_ref)).full_name
    )
    low = full.lower()
    if low in ENUM_TYPES:
        return isinstance(value, ENUM_TYPES[low])
    if low == "system.byte[]":
        return isinstance(value, (bytes, bytearray))
    implements = _implements(value, low)
    if implements is not None:
        return implements
    if low == "system.object":
        return value is not None
    if low == "system.array":
        return is_collection(value) or isinstance(value, (bytes, bytearray))
    if low.endswith("[]"):
        return is_collection(value)
    if low == "system.management.automation.scriptblock":
        return isinstance(value, ScriptBlockValue)
    if low == "system.management.automation.psobject":
        return value is not None
    if low == "system.datetime":
        return isinstance(value, datetime.datetime)
    names = [n.lower() for n in type_names(value)]
    return low in names or ("deserialized." + low) in names
