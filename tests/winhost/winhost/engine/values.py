"""PowerShell value semantics on Python/psrpcore values: truthiness, strings, numbers, members."""

from __future__ import annotations

import datetime
import enum
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from psrpcore.types import (
    PSCustomObject,
    PSDouble,
    PSEnumBase,
    PSFlagBase,
    PSNoteProperty,
    PSObject,
    PSScriptBlock,
    PSSecureString,
)

from winhost.engine.wildcards import wildcard_match


class NetEnum(PSEnumBase):
    """A .NET enum whose Python str() is its name, as PowerShell's ToString() is."""

    def __str__(self) -> str:
        return str(self.name)


class NetFlags(PSFlagBase):
    """A .NET [Flags] enum whose str() is "A, B" like ToString()."""

    def __str__(self) -> str:
        names = [m.name for m in type(self) if m.value and m in self]
        return ", ".join(str(n) for n in names) or str(self.name)


class ScriptBlockValue:
    """A script block: its source text, a callable evaluator closure, and its defining scope."""

    def __init__(self, text: str, node: Any, scope: Any, evaluator: Any) -> None:
        self.text = text
        self.node = node
        self.scope = scope
        self.evaluator = evaluator

    def __str__(self) -> str:
        return self.text


# The characters PowerShell takes as a single quote: ' and U+2018..U+201B
# (System.Management.Automation.Language.CharExtensions.IsSingleQuote; about_Quoting_Rules).
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def verbatim_text(body: str) -> str:
    """The value of a single-quoted string from its text between the outer quotes: two quote
    characters in a row (any of SINGLE_QUOTES, mixed too) stand for the second one, as the
    tokenizer's ScanStringLiteral reads them."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in SINGLE_QUOTES and i + 1 < len(body) and body[i + 1] in SINGLE_QUOTES:
            i += 1
            ch = body[i]
        out.append(ch)
        i += 1
    return "".join(out)


def is_collection(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and not isinstance(value, (str, bytes))


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if is_collection(value):
        return list(value)
    return [value]


def enumerate_value(value: Any) -> Iterator[Any]:
    """PowerShell's output unrolling: arrays are enumerated one level, everything else is itself."""
    if is_collection(value):
        yield from value
    elif value is not None or value is None:
        yield value


def to_bool(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return True
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if is_collection(value):
        if len(value) == 0:
            return False
        if len(value) == 1:
            return to_bool(value[0])
        return True
    if hasattr(value, "IsPresent") and isinstance(getattr(value, "IsPresent", None), bool):
        return bool(value.IsPresent)
    return True


def _float_string(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _psobject_string(value: PSObject) -> str:
    """An object's ToString(): its own, ``@{a=1; b=2}`` for a property bag, else its type name."""
    ts = value.PSObject.to_string
    if ts is not None:
        return str(ts)
    if isinstance(value, PSCustomObject) or not value.PSObject.adapted_properties:
        props = all_properties(value)
        if props:
            return "@{" + "; ".join(f"{k}={to_string(v)}" for k, v in props.items()) + "}"
    return str(value.PSObject.type_names[0]) if value.PSObject.type_names else ""


#: ToString() by type, first match wins (bool before int: a bool is an int in Python).
_TO_STRING: tuple[tuple[type | tuple[type, ...], Callable[[Any], str]], ...] = (
    (bool, lambda v: "True" if v else "False"),
    (enum.Enum, lambda v: str(v.name)),
    (float, _float_string),
    (datetime.datetime, lambda v: v.strftime("%m/%d/%Y %H:%M:%S")),
    (str, str.__str__),
    (int, int.__repr__),
    ((list, tuple), lambda v: " ".join(to_string(x) for x in v)),
    (dict, lambda v: "System.Collections.Hashtable"),
    (ScriptBlockValue, lambda v: v.text),
    (PSObject, _psobject_string),
)


def to_string(value: Any) -> str:
    """PowerShell's conversion of a value to text (LanguagePrimitives.ConvertTo string)."""
    if value is None:
        return ""
    for kind, convert in _TO_STRING:
        if isinstance(value, kind):
            return convert(value)
    return str(value)


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, enum.Enum):
        return int(value.value)
    if isinstance(value, (int, float)):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            if text.lower().startswith("0x"):
                return int(text, 16)
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                pass
    from psrpcore.types import ErrorCategory

    from winhost.engine.errors import terminating

    raise terminating(
        f'Cannot convert value "{to_string(value)}" to type "System.Int32". Error: "Input string was not in a '
        'correct format."',
        "InvalidCastFromStringToInteger",
        ErrorCategory.InvalidArgument,
        exception_type="System.Management.Automation.RuntimeException",
    )


def to_output(value: Any) -> Any:
    """Prepare a value for the wire: Python floats are doubles in PowerShell, script blocks are
    ScriptBlock, SecureStrings are <SS> (encrypted with the session key), other engine-internal
    values (type literals, encodings) go as their ToString()."""
    if isinstance(value, float) and not isinstance(value, PSObject):
        return PSDouble(value)
    if isinstance(value, ScriptBlockValue):
        return PSScriptBlock(value.text)
    if hasattr(value, "decrypt") and not isinstance(value, PSObject):
        return PSSecureString(value.decrypt())
    if isinstance(value, bytearray):
        return bytes(value)
    if type(value) is list:
        return [to_output(v) for v in value]
    if type(value) is dict:
        return {k: to_output(v) for k, v in value.items()}
    if isinstance(
        value, (str, int, bool, bytes, list, dict, datetime.datetime, datetime.timedelta, uuid.UUID, PSObject)
    ):
        return value
    if value is None:
        return None
    return to_string(value)


# -- members ----------------------------------------------------------------------------------


def all_properties(obj: Any) -> dict[str, Any]:
    """Property name -> value, adapted first then extended (as Select-Object * lists them)."""
    if isinstance(obj, dict):
        return {str(k): v for k, v in obj.items()}
    if isinstance(obj, PSObject):
        out: dict[str, Any] = {}
        for prop in [*obj.PSObject.adapted_properties, *obj.PSObject.extended_properties]:
            out[prop.name] = prop.get_value(obj)
        return out
    return {}


Found = tuple[bool, Any]


def _sized(obj: Any, name: str, low: str) -> Found | None:
    if low == "length" and _is_secure(obj):
        return True, len(str(obj.decrypt()))
    if isinstance(obj, (bytes, bytearray)) and low in ("length", "count"):
        return True, len(obj)
    return None


def _dotnet_property(obj: Any, name: str, low: str) -> Found | None:
    if type(obj).__module__ == "winhost.engine.dotnet" or getattr(type(obj), "_winhost_dotnet", False):
        getter = getattr(obj, "get", None)
        if getter is not None:
            result: Found = getter(low)
            return result
    return None


def _type_property(obj: Any, name: str, low: str) -> Found | None:
    if type(obj).__name__ != "TypeRef":
        return None
    if low == "fullname":
        return True, obj.full_name
    if low == "name":
        return True, obj.full_name.rsplit(".", 1)[-1]
    return None


def _psobject_view(obj: Any, name: str, low: str) -> Found | None:
    """``$x.PSObject``: type names, properties and the base object."""
    if low != "psobject" or obj is None:
        return None
    props = [
        {"Name": k, "Value": v, "MemberType": "NoteProperty", "IsSettable": True}
        for k, v in all_properties(obj).items()
    ]
    return True, {
        "TypeNames": type_names(obj),
        "Properties": props,
        "BaseObject": obj,
        "ImmediateBaseObject": obj,
    }


_DICT_MEMBERS: dict[str, Callable[[dict[Any, Any]], Any]] = {
    "count": len,
    "keys": lambda d: list(d.keys()),
    "values": lambda d: list(d.values()),
}


def _dict_property(obj: Any, name: str, low: str) -> Found | None:
    """A hashtable's key (keys win over Count/Keys/Values, as in PowerShell)."""
    if not isinstance(obj, dict):
        return None
    for k, v in obj.items():
        if str(k).lower() == low:
            return True, v
    member = _DICT_MEMBERS.get(low)
    return (True, member(obj)) if member is not None else (False, None)


def _object_property(obj: Any, name: str, low: str) -> Found | None:
    if isinstance(obj, PSObject):
        for prop in [*obj.PSObject.extended_properties, *obj.PSObject.adapted_properties]:
            if prop.name.lower() == low:
                return True, prop.get_value(obj)
        if low == "pstypenames":
            return True, list(obj.PSObject.type_names)
    if isinstance(obj, enum.Enum) and low == "value__":
        return True, int(obj.value)
    if isinstance(obj, str) and low == "length":
        return True, len(obj)
    return None


def _collection_property(obj: Any, name: str, low: str) -> Found | None:
    """Count/Length, else member enumeration (``$services.Name``, PowerShell 3+)."""
    if not is_collection(obj):
        return None
    if low in ("count", "length"):
        return True, len(obj)
    values: list[Any] = []
    found_any = False
    for item in obj:
        found, v = get_property(item, name)
        if found:
            found_any = True
            values.extend(as_list(v) if is_collection(v) else [v])
    return found_any, values


def _datetime_members(obj: datetime.datetime) -> dict[str, Callable[[], Any]]:
    return {
        "year": lambda: obj.year,
        "month": lambda: obj.month,
        "day": lambda: obj.day,
        "hour": lambda: obj.hour,
        "minute": lambda: obj.minute,
        "second": lambda: obj.second,
        "dayofweek": lambda: obj.strftime("%A"),
        "date": lambda: obj.replace(hour=0, minute=0, second=0, microsecond=0),
        "ticks": lambda: int((obj.replace(tzinfo=None) - datetime.datetime(1, 1, 1)).total_seconds() * 10**7),
    }


def _timedelta_members(obj: datetime.timedelta) -> dict[str, Callable[[], Any]]:
    return {
        "totalseconds": obj.total_seconds,
        "totalmilliseconds": lambda: obj.total_seconds() * 1000,
        "totalminutes": lambda: obj.total_seconds() / 60,
        "days": lambda: obj.days,
        "seconds": lambda: obj.seconds % 60,
    }


def _time_property(obj: Any, name: str, low: str) -> Found | None:
    if isinstance(obj, datetime.datetime):
        member = _datetime_members(obj).get(low)
    elif isinstance(obj, datetime.timedelta):
        member = _timedelta_members(obj).get(low)
    else:
        return None
    return (True, member()) if member is not None else None


def _fallback_property(obj: Any, name: str, low: str) -> Found | None:
    """A scalar's Count is 1; plain Python attributes (psrpcore's PSVersion.major) read as .NET
    properties."""
    if obj is None:
        return None
    if low == "count":
        return True, 1
    if not isinstance(obj, (str, int, float, bool)):
        for attr_name in (name, low, name[:1].lower() + name[1:]):
            attr_value = getattr(obj, attr_name, _MISSING)
            if attr_value is not _MISSING and not callable(attr_value):
                return True, attr_value
    return None


_PROPERTY_READERS: tuple[Callable[[Any, str, str], Found | None], ...] = (
    _sized,
    _dotnet_property,
    _type_property,
    _psobject_view,
    _dict_property,
    _object_property,
    _collection_property,
    _time_property,
    _fallback_property,
)


def get_property(obj: Any, name: str) -> tuple[bool, Any]:
    """Case-insensitive property lookup like PowerShell's member binder: (found, value)."""
    low = name.lower()
    for reader in _PROPERTY_READERS:
        result = reader(obj, name, low)
        if result is not None:
            return result
    return False, None


_MISSING = object()


def set_property(obj: Any, name: str, value: Any) -> None:
    from psrpcore.types import ErrorCategory

    from winhost.engine.errors import terminating

    if getattr(type(obj), "_winhost_dotnet", False) and obj.set(name.lower(), value):
        return
    if isinstance(obj, dict):
        for k in list(obj.keys()):
            if str(k).lower() == name.lower():
                obj[k] = value
                return
        obj[name] = value
        return
    if isinstance(obj, PSObject):
        for prop in [*obj.PSObject.extended_properties, *obj.PSObject.adapted_properties]:
            if prop.name.lower() == name.lower():
                setter = getattr(obj, "_winhost_setters", {}).get(prop.name.lower())
                if setter is not None:
                    setter(value)
                prop.set_value(value, obj) if prop.getter is None else None
                return
    raise terminating(
        f"The property '{name}' cannot be found on this object. Verify that the property exists and can be set.",
        "PropertyAssignmentException",
        ErrorCategory.InvalidOperation,
    )


def new_object(
    type_names: list[str],
    props: dict[str, Any],
    to_string_value: str | None = None,
    extended: dict[str, Any] | None = None,
) -> PSObject:
    """A .NET-typed object with adapted properties (serialized in ``<Props>`` like Windows)."""
    obj = PSObject()
    meta = obj.PSObject  # read once: each attribute read of a psrpcore PSObject walks its properties
    meta.type_names = list(type_names)
    adapted = meta.adapted_properties
    for name, value in props.items():
        adapted.append(PSNoteProperty(name, value=value))
    if extended:
        extended_properties = meta.extended_properties
        for name, value in extended.items():
            extended_properties.append(PSNoteProperty(name, value=value))
    if to_string_value is not None:
        meta.to_string = to_string_value
    return obj


def custom_object(props: dict[str, Any], type_name: str | None = None) -> PSCustomObject:
    obj = PSCustomObject(**{str(k): v for k, v in props.items() if str(k) != "PSTypeName"})
    if type_name:
        obj.PSObject.type_names.insert(0, type_name)
    elif "PSTypeName" in props:
        obj.PSObject.type_names.insert(0, to_string(props["PSTypeName"]))
    return obj


def _is_secure(value: Any) -> bool:
    """A SecureString: psrpcore's PSSecureString from the client or one made in the runspace."""
    return value is not None and callable(getattr(value, "decrypt", None))


def type_names(value: Any) -> list[str]:
    if _is_secure(value) and not isinstance(value, PSObject):
        return ["System.Security.SecureString", "System.Object"]
    if isinstance(value, PSObject):
        return list(value.PSObject.type_names)
    dotnet_names = getattr(type(value), "dotnet_type_names", None)
    if dotnet_names:
        return list(dotnet_names)
    mapping = {
        bool: "System.Boolean",
        int: "System.Int32",
        float: "System.Double",
        str: "System.String",
        dict: "System.Collections.Hashtable",
        list: "System.Object[]",
    }
    name = mapping.get(type(value))
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
        name = "System.Int64"
    return [name, "System.Object"] if name else ["System.Object"]


# -- comparison -------------------------------------------------------------------------------


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, enum.Enum):
        if isinstance(right, str):
            return left.name.lower(), right.lower()
        return int(left.value), to_number(right)
    if isinstance(left, bool):
        return left, to_bool(right)
    if isinstance(left, (int, float)):
        try:
            return left, to_number(right)
        except Exception:
            return to_string(left).lower(), to_string(right).lower()
    if isinstance(left, datetime.datetime) and isinstance(right, datetime.datetime):
        return left, right
    return to_string(left).lower(), to_string(right).lower()


def ps_equals(left: Any, right: Any, case_sensitive: bool = False) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if case_sensitive and isinstance(left, str):
        return left == to_string(right)
    a, b = _coerce_pair(left, right)
    return bool(a == b)


def ps_compare(left: Any, right: Any) -> int:
    if left is None:
        return 0 if right is None else -1
    if right is None:
        return 1
    a, b = _coerce_pair(left, right)
    return (a > b) - (a < b)


def like(value: Any, pattern: Any, case_sensitive: bool = False) -> bool:
    """``-like``: the value's text against a wildcard pattern (winhost/engine/wildcards.py)."""
    return wildcard_match(to_string(value), to_string(pattern), case_sensitive)


def regex_match(value: Any, pattern: Any, case_sensitive: bool = False) -> re.Match[str] | None:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.search(dotnet_regex(to_string(pattern)), to_string(value), flags)


def dotnet_regex(pattern: str) -> str:
    """.NET named groups (?<name>) -> Python (?P<name>)."""
    return re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", pattern)


class SecureText:
    """A SecureString made in the runspace; cmdlets read it with decrypt(), str() hides it."""

    def __init__(self, value: str) -> None:
        self._value = value

    def decrypt(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "System.Security.SecureString"

    def __repr__(self) -> str:
        return "SecureText(***)"


def credential_object(user: str, password: Any) -> PSObject:
    """System.Management.Automation.PSCredential made in the runspace (UserName, Password and
    GetNetworkCredential())."""
    cred = new_object(
        ["System.Management.Automation.PSCredential", "System.Object"],
        {"UserName": user, "Password": password},
        to_string_value="System.Management.Automation.PSCredential",
    )

    def network_credential(*_a: Any) -> Any:
        plain = password.decrypt() if hasattr(password, "decrypt") else to_string(password)
        domain, _, name = user.rpartition("\\")
        return new_object(
            ["System.Net.NetworkCredential", "System.Object"],
            {"UserName": name, "Password": plain, "Domain": domain},
            to_string_value="System.Net.NetworkCredential",
        )

    cred._winhost_methods = {"getnetworkcredential": network_credential}
    return cred
