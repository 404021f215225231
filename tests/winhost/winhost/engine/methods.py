"""Instance method calls: strings, arrays, hashtables, dates, script blocks, .NET values and model
objects (static members are in statics.py)."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psrpcore.types import ErrorCategory, PSObject

from winhost.engine.dotnet import (
    FileStreamValue,
    HashAlgorithmValue,
)
from winhost.engine.errors import terminating
from winhost.engine.formatting import format_date
from winhost.engine.types import TypeRef, register_enum
from winhost.engine.values import (
    ScriptBlockValue,
    as_list,
    credential_object,
    get_property,
    is_collection,
    ps_equals,
    to_bool,
    to_number,
    to_string,
    type_names,
)

if TYPE_CHECKING:
    from winhost.engine.context import ScriptEngine


def _no_method(target: Any, name: str) -> Exception:
    tn = type_names(target)[0] if target is not None else "null"
    if target is None:
        return terminating(
            "You cannot call a method on a null-valued expression.",
            "InvokeMethodOnNull",
            ErrorCategory.InvalidOperation,
        )
    return terminating(
        f"Method invocation failed because [{tn}] does not contain a method named '{name}'.",
        "MethodNotFound",
        ErrorCategory.InvalidOperation,
    )


class GenericList(list[Any]):
    """System.Collections.Generic.List[T] (its Add returns nothing, unlike ArrayList's)."""


class EncodingValue:
    """[System.Text.Encoding]::UTF8 / Unicode / ASCII / Default (Windows-1252 on en-US)."""

    CODECS = {
        "utf8": "utf-8",
        "unicode": "utf-16-le",
        "bigendianunicode": "utf-16-be",
        "ascii": "ascii",
        "default": "cp1252",
    }

    def __init__(self, name: str) -> None:
        self.name = name
        self.codec = self.CODECS[name]

    def __str__(self) -> str:
        return f"System.Text.{'UTF8Encoding' if self.name == 'utf8' else 'Encoding'}"


def to_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes(int(to_number(v)) & 0xFF for v in as_list(value))


def _host_method(ev: ScriptEngine, low: str) -> Callable[[list[Any]], Any] | None:
    """Methods of ``$Host`` (System.Management.Automation.Host.PSHost). In a remote session the
    host is ServerRemoteHost, which forwards SetShouldExit to the client's host as a host call
    (MS-PSRP 2.2.3.17 SetShouldExit, method id 3); the nested-prompt and application
    notifications are not remoted and do nothing."""

    def set_should_exit(args: list[Any]) -> None:
        ev.ctx.host.set_should_exit(int(to_number(args[0])) if args else 0)

    def nothing(args: list[Any]) -> None:
        return None

    return {
        "setshouldexit": set_should_exit,
        "notifybeginapplication": nothing,
        "notifyendapplication": nothing,
    }.get(low)


_UNHANDLED = object()


def _encoding_method(target: EncodingValue, low: str, args: list[Any], name: str) -> Any:
    if low == "getbytes":
        return to_string(args[0]).encode(target.codec)
    if low == "getstring":
        return to_bytes(args[0]).decode(target.codec, errors="replace")
    raise _no_method(target, name)


def _uuid_to_string(target: uuid.UUID, args: list[Any]) -> str:
    fmt = to_string(args[0]) if args else "D"
    return {"N": target.hex, "B": "{" + str(target) + "}", "P": "(" + str(target) + ")"}.get(
        fmt.upper(), str(target)
    )


def _own_method(ev: ScriptEngine, target: Any, low: str, args: list[Any], name: str) -> Any:
    """Methods a value defines itself (.NET values, Encoding, $Host, objects with script methods,
    PSCredential), or _UNHANDLED."""
    if isinstance(target, (FileStreamValue, HashAlgorithmValue)) or getattr(
        type(target), "_winhost_dotnet", False
    ):
        return target.call(low, args)
    if isinstance(target, uuid.UUID) and low == "tostring":
        return _uuid_to_string(target, args)
    if isinstance(target, EncodingValue):
        return _encoding_method(target, low, args, name)
    host_method = (
        _host_method(ev, low)
        if "System.Management.Automation.Internal.Host.InternalHost" in type_names(target)
        else None
    )
    if host_method is not None:
        return host_method(args)
    methods = getattr(target, "_winhost_methods", None) if isinstance(target, PSObject) else None
    if methods and low in methods:
        return methods[low](*args)
    if low == "getnetworkcredential" and any(
        n.endswith("System.Management.Automation.PSCredential") for n in type_names(target)
    ):
        return call_method(ev, credential_object(to_string(target.UserName), target.Password), name, args)
    return _UNHANDLED


def _to_string_method(target: Any, args: list[Any]) -> str:
    if args and isinstance(target, datetime.datetime):
        return format_date(target, to_string(args[0]))
    return to_string(target)


#: System.Object's methods, for every value.
_OBJECT_METHODS: dict[str, Callable[[Any, list[Any]], Any]] = {
    "tostring": _to_string_method,
    "gettype": lambda target, args: TypeRef(type_names(target)[0], type_names(target)[0]),
    "equals": lambda target, args: ps_equals(target, args[0] if args else None, case_sensitive=True),
    "gethashcode": lambda target, args: hash(to_string(target)) & 0x7FFFFFFF,
}


def _script_block_method(
    ev: ScriptEngine, target: ScriptBlockValue, low: str, args: list[Any], name: str
) -> Any:
    if low in ("invoke", "invokereturnasis"):
        values = ev.call_scriptblock(target, args)
        return values if len(values) != 1 else values[0]
    raise _no_method(target, name)


def call_method(ev: ScriptEngine, target: Any, name: str, args: list[Any]) -> Any:
    """``$target.Name(args)``."""
    low = name.lower()
    if target is None:
        raise _no_method(target, name)
    own = _own_method(ev, target, low, args, name)
    if own is not _UNHANDLED:
        return own
    if low in _OBJECT_METHODS:
        return _OBJECT_METHODS[low](target, args)
    if isinstance(target, ScriptBlockValue):
        return _script_block_method(ev, target, low, args, name)
    if isinstance(target, str):
        return _string_method(target, low, args, name)
    if isinstance(target, dict):
        return _dict_method(target, low, args, name)
    if is_collection(target):
        return _list_method(ev, target, low, args, name)
    if isinstance(target, datetime.datetime):
        return _date_method(target, low, args, name)
    raise _no_method(target, name)


def _split(s: str, args: list[Any]) -> list[str]:
    """String.Split(char[] [, options]): every character of the separator is a separator."""
    if not args:
        return s.split()
    seps = args[0] if isinstance(args[0], str) else "".join(to_string(x) for x in as_list(args[0]))
    parts = re.split("|".join(re.escape(c) for c in seps), s)
    if len(args) > 1 and "removeemptyentries" in to_string(args[-1]).lower():
        parts = [p for p in parts if p != ""]
    return parts


def _starts_or_ends(s: str, a: list[str], method: str) -> bool:
    """StartsWith/EndsWith(value [, comparison]): a second argument compares ignoring case."""
    if len(a) == 1:
        return bool(getattr(s, method)(a[0]))
    return bool(getattr(s.lower(), method)(a[0].lower()))


def _substring(s: str, a: list[str]) -> str:
    start = int(to_number(a[0]))
    return s[start:] if len(a) == 1 else s[start : start + int(to_number(a[1]))]


#: System.String methods: (string, arguments as strings, arguments) -> result.
_STRING_METHODS: dict[str, Callable[[str, list[str], list[Any]], Any]] = {
    "toupper": lambda s, a, args: s.upper(),
    "toupperinvariant": lambda s, a, args: s.upper(),
    "tolower": lambda s, a, args: s.lower(),
    "tolowerinvariant": lambda s, a, args: s.lower(),
    "trim": lambda s, a, args: s.strip(a[0]) if a else s.strip(),
    "trimstart": lambda s, a, args: s.lstrip(a[0]) if a else s.lstrip(),
    "trimend": lambda s, a, args: s.rstrip(a[0]) if a else s.rstrip(),
    "split": lambda s, a, args: _split(s, args),
    "replace": lambda s, a, args: s.replace(a[0], a[1]),
    "contains": lambda s, a, args: a[0] in s,
    "startswith": lambda s, a, args: _starts_or_ends(s, a, "startswith"),
    "endswith": lambda s, a, args: _starts_or_ends(s, a, "endswith"),
    "substring": lambda s, a, args: _substring(s, a),
    "indexof": lambda s, a, args: s.find(a[0]),
    "lastindexof": lambda s, a, args: s.rfind(a[0]),
    "padleft": lambda s, a, args: s.rjust(int(to_number(a[0])), a[1] if len(a) > 1 else " "),
    "padright": lambda s, a, args: s.ljust(int(to_number(a[0])), a[1] if len(a) > 1 else " "),
    "tochararray": lambda s, a, args: list(s),
    "normalize": lambda s, a, args: s,
}


def _string_method(s: str, low: str, args: list[Any], name: str) -> Any:
    method = _STRING_METHODS.get(low)
    if method is None:
        raise _no_method(s, name)
    return method(s, [to_string(x) for x in args], args)


def _dict_method(d: dict[Any, Any], low: str, args: list[Any], name: str) -> Any:
    def find(key: Any) -> Any:
        if isinstance(key, str):
            return next((k for k in d if isinstance(k, str) and k.lower() == key.lower()), None)
        return key if key in d else None

    if low in ("containskey", "contains"):
        return find(args[0]) is not None
    if low == "containsvalue":
        return any(ps_equals(v, args[0]) for v in d.values())
    if low == "add":
        if find(args[0]) is not None:
            raise terminating(
                f"Item has already been added. Key in dictionary: '{to_string(args[0])}'",
                "ArgumentException",
                ErrorCategory.InvalidArgument,
                exception_type="System.ArgumentException",
            )
        d[args[0]] = args[1]
        return None
    if low == "remove":
        key = find(args[0])
        if key is not None:
            del d[key]
        return None
    if low == "clear":
        d.clear()
        return None
    if low == "getenumerator":
        return [{"Key": k, "Value": v, "Name": k} for k, v in d.items()]
    if low == "clone":
        return dict(d)
    raise _no_method(d, name)


def _list_add(items: list[Any], value: Any) -> int | None:
    items.append(value)
    # ArrayList.Add returns the index; List<T>.Add returns nothing.
    return None if isinstance(items, GenericList) else len(items) - 1


def _list_remove(items: list[Any], value: Any) -> bool:
    for i, v in enumerate(items):
        if ps_equals(v, value):
            del items[i]
            return True
    return False


#: Methods of mutable lists (ArrayList, List[T], arrays as PowerShell builds them).
_LIST_MUTATORS: dict[str, Callable[[list[Any], list[Any]], Any]] = {
    "add": lambda items, args: _list_add(items, args[0]),
    "addrange": lambda items, args: items.extend(as_list(args[0])),
    "remove": lambda items, args: _list_remove(items, args[0]),
}


def _list_method(ev: ScriptEngine, items: Any, low: str, args: list[Any], name: str) -> Any:
    if low == "contains":
        return any(ps_equals(v, args[0]) for v in items)
    if low == "indexof":
        return next((i for i, v in enumerate(items) if ps_equals(v, args[0])), -1)
    if low in _LIST_MUTATORS and isinstance(items, list):
        return _LIST_MUTATORS[low](items, args)
    if low in ("toarray", "clone"):
        return list(items)
    if low == "where":
        return [v for v in items if to_bool(ev.call_scriptblock(args[0], dollar_under=v, set_under=True))]
    if low == "foreach":
        return [out for v in items for out in ev.call_scriptblock(args[0], dollar_under=v, set_under=True)]
    # Method enumeration (PowerShell 3+): call on each element.
    return [call_method(ev, v, name, args) for v in items]


def _date_method(d: datetime.datetime, low: str, args: list[Any], name: str) -> Any:
    n = float(to_number(args[0])) if args else 0.0
    deltas = {
        "adddays": "days",
        "addhours": "hours",
        "addminutes": "minutes",
        "addseconds": "seconds",
        "addmilliseconds": "milliseconds",
    }
    if low in deltas:
        return d + datetime.timedelta(**{deltas[low]: n})
    if low == "touniversaltime":
        return d.astimezone(datetime.timezone.utc)
    if low == "tolocaltime":
        return d
    if low == "tofiletime":
        epoch = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)
        aware = d if d.tzinfo else d.replace(tzinfo=datetime.timezone.utc)
        return int((aware - epoch).total_seconds() * 10**7)
    raise _no_method(d, name)


__all__ = ["call_method", "get_property", "register_enum"]
