"""Method calls and static members: strings, arrays, hashtables, dates, model objects, and a few
.NET static classes ([Environment], [Math], [ScriptBlock]::Create, [DateTime]::Now, ...)."""

from __future__ import annotations

import base64
import datetime
import os
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psrpcore.types import ErrorCategory, PSObject

from winhost.engine.dotnet import (
    FileStreamValue,
    HashAlgorithmValue,
    bit_converter_to_string,
    hash_algorithm_name,
    new_stream,
)
from winhost.engine.errors import not_emulated, terminating
from winhost.engine.formatting import composite_format, format_date
from winhost.engine.types import ENUM_TYPES, TypeRef, cast_value, register_enum
from winhost.engine.values import (
    ScriptBlockValue,
    as_list,
    credential_object,
    dotnet_regex,
    get_property,
    is_collection,
    new_object,
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


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes(int(to_number(v)) & 0xFF for v in as_list(value))


def _io_file(ev: ScriptEngine, low: str, args: list[Any], name: str) -> Any:
    """[System.IO.File] over the sandbox C:\\ (https://learn.microsoft.com/en-us/dotnet/api/system.io.file)."""
    from winhost.engine.cmdlets.filesystem import real_path
    from winhost.engine.context import CommandCall

    call = CommandCall(ev.ctx, _IO_SPEC, {}, ev.ctx.global_scope)
    path = real_path(call, to_string(args[0])) if args else None
    if low == "exists":
        return path is not None and path.is_file()
    assert path is not None
    if low in ("readallbytes", "readalltext", "readalllines") and not path.is_file():
        raise terminating(
            f"Could not find file '{to_string(args[0])}'.",
            "FileNotFoundException",
            ErrorCategory.ObjectNotFound,
            exception_type="System.IO.FileNotFoundException",
        )
    if low == "readallbytes":
        return path.read_bytes()
    if low == "readalltext":
        data = path.read_bytes()
        return data[3:].decode() if data.startswith(b"\xef\xbb\xbf") else data.decode("utf-8", "replace")
    if low == "readalllines":
        return path.read_text(encoding="utf-8-sig").splitlines()
    if low == "writeallbytes":
        path.write_bytes(_to_bytes(args[1]))
        return None
    if low in ("writealltext", "appendalltext", "writealllines"):
        text = (
            to_string(args[1])
            if low != "writealllines"
            else "".join(to_string(x) + "\r\n" for x in as_list(args[1]))
        )
        with open(path, "a" if low == "appendalltext" else "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        return None
    if low == "delete":
        if path.is_file():
            path.unlink()
        return None
    if low in ("create", "openwrite", "openread", "open"):
        if low == "openread" and not path.is_file():
            raise terminating(
                f"Could not find file '{to_string(args[0])}'.",
                "FileNotFoundException",
                ErrorCategory.ObjectNotFound,
                exception_type="System.IO.FileNotFoundException",
            )
        if low in ("create", "openwrite") and not path.parent.is_dir():
            raise terminating(
                f"Could not find a part of the path '{to_string(args[0])}'.",
                "DirectoryNotFoundException",
                ErrorCategory.ObjectNotFound,
                exception_type="System.IO.DirectoryNotFoundException",
            )
        mode = {"create": "wb", "openwrite": "r+b" if path.exists() else "wb", "openread": "rb"}.get(
            low, "r+b"
        )
        return FileStreamValue(path, mode, to_string(args[0]))
    if low in ("move", "copy"):
        import shutil

        dest = real_path(call, to_string(args[1]))
        if dest.exists() and (low == "move" or not (len(args) > 2 and to_bool(args[2]))):
            raise terminating(
                "Cannot create a file when that file already exists.",
                "IOException",
                ErrorCategory.WriteError,
                exception_type="System.IO.IOException",
            )
        if low == "move":
            shutil.move(str(path), str(dest))
        else:
            shutil.copyfile(path, dest)
        return None
    raise not_emulated(f"the static method [System.IO.File]::{name}()")


def _io_directory(ev: ScriptEngine, low: str, args: list[Any], name: str) -> Any:
    from winhost.engine.cmdlets.filesystem import real_path
    from winhost.engine.context import CommandCall

    call = CommandCall(ev.ctx, _IO_SPEC, {}, ev.ctx.global_scope)
    path = real_path(call, to_string(args[0]))
    if low == "exists":
        return path.is_dir()
    if low == "createdirectory":
        path.mkdir(parents=True, exist_ok=True)
        from winhost.engine.cmdlets.filesystem import file_object

        return file_object(call, path)
    raise not_emulated(f"the static method [System.IO.Directory]::{name}()")


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


def call_method(ev: ScriptEngine, target: Any, name: str, args: list[Any]) -> Any:
    low = name.lower()
    if target is None:
        raise _no_method(target, name)
    if isinstance(target, (FileStreamValue, HashAlgorithmValue)) or getattr(
        type(target), "_winhost_dotnet", False
    ):
        return target.call(low, args)
    if isinstance(target, uuid.UUID) and low == "tostring":
        fmt = to_string(args[0]) if args else "D"
        return {"N": target.hex, "B": "{" + str(target) + "}", "P": "(" + str(target) + ")"}.get(
            fmt.upper(), str(target)
        )
    if isinstance(target, EncodingValue):
        if low == "getbytes":
            return to_string(args[0]).encode(target.codec)
        if low == "getstring":
            return _to_bytes(args[0]).decode(target.codec, errors="replace")
        raise _no_method(target, name)
    if "System.Management.Automation.Internal.Host.InternalHost" in type_names(target):
        host_result = _host_method(ev, low)
        if host_result is not None:
            return host_result(args)
    methods = getattr(target, "_winhost_methods", None) if isinstance(target, PSObject) else None
    if methods and low in methods:
        return methods[low](*args)
    if low == "getnetworkcredential" and any(
        n.endswith("System.Management.Automation.PSCredential") for n in type_names(target)
    ):
        return call_method(ev, credential_object(to_string(target.UserName), target.Password), name, args)
    if low == "tostring":
        if args and isinstance(target, datetime.datetime):
            return format_date(target, to_string(args[0]))
        return to_string(target)
    if low == "gettype":
        return TypeRef(type_names(target)[0], type_names(target)[0])
    if low == "equals":
        return ps_equals(target, args[0] if args else None, case_sensitive=True)
    if low == "gethashcode":
        return hash(to_string(target)) & 0x7FFFFFFF
    if isinstance(target, ScriptBlockValue):
        if low in ("invoke", "invokereturnasis"):
            values = ev.call_scriptblock(target, args)
            return values if len(values) != 1 else values[0]
        raise _no_method(target, name)
    if isinstance(target, str):
        return _string_method(target, low, args, name)
    if isinstance(target, dict):
        return _dict_method(target, low, args, name)
    if is_collection(target):
        return _list_method(ev, target, low, args, name)
    if isinstance(target, datetime.datetime):
        return _date_method(target, low, args, name)
    raise _no_method(target, name)


def _string_method(s: str, low: str, args: list[Any], name: str) -> Any:
    a = [to_string(x) for x in args]
    if low in {"toupper", "toupperinvariant"}:
        return s.upper()
    if low in {"tolower", "tolowerinvariant"}:
        return s.lower()
    if low == "trim":
        return s.strip(a[0]) if a else s.strip()
    if low == "trimstart":
        return s.lstrip(a[0]) if a else s.lstrip()
    if low == "trimend":
        return s.rstrip(a[0]) if a else s.rstrip()
    if low == "split":
        if not a:
            return s.split()
        seps = a[0] if isinstance(args[0], str) else "".join(to_string(x) for x in as_list(args[0]))
        # String.Split(char[]): every character is a separator.
        parts = re.split("|".join(re.escape(c) for c in seps), s)
        if len(args) > 1 and "removeemptyentries" in to_string(args[-1]).lower():
            parts = [p for p in parts if p != ""]
        return parts
    if low == "replace":
        return s.replace(to_string(a[0]), to_string(a[1]))
    if low == "contains":
        return to_string(a[0]) in s
    if low == "startswith":
        return s.startswith(to_string(a[0])) if len(a) == 1 else s.lower().startswith(to_string(a[0]).lower())
    if low == "endswith":
        return s.endswith(to_string(a[0])) if len(a) == 1 else s.lower().endswith(to_string(a[0]).lower())
    if low == "substring":
        start = int(to_number(a[0]))
        return s[start:] if len(a) == 1 else s[start : start + int(to_number(a[1]))]
    if low == "indexof":
        return s.find(to_string(a[0]))
    if low == "lastindexof":
        return s.rfind(to_string(a[0]))
    if low == "padleft":
        return s.rjust(int(to_number(a[0])), to_string(a[1]) if len(a) > 1 else " ")
    if low == "padright":
        return s.ljust(int(to_number(a[0])), to_string(a[1]) if len(a) > 1 else " ")
    if low == "tochararray":
        return list(s)
    if low == "normalize":
        return s
    raise _no_method(s, name)


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


def _list_method(ev: ScriptEngine, items: Any, low: str, args: list[Any], name: str) -> Any:
    if low == "contains":
        return any(ps_equals(v, args[0]) for v in items)
    if low == "indexof":
        return next((i for i, v in enumerate(items) if ps_equals(v, args[0])), -1)
    if low == "add" and isinstance(items, list):
        items.append(args[0])
        # ArrayList.Add returns the index; List<T>.Add returns nothing.
        return None if isinstance(items, GenericList) else len(items) - 1
    if low == "addrange" and isinstance(items, list):
        items.extend(as_list(args[0]))
        return None
    if low == "remove" and isinstance(items, list):
        for i, v in enumerate(items):
            if ps_equals(v, args[0]):
                del items[i]
                return True
        return False
    if low == "toarray":
        return list(items)
    if low == "where":
        sb = args[0]
        return [v for v in items if to_bool(ev.call_scriptblock(sb, dollar_under=v, set_under=True))]
    if low == "foreach":
        out: list[Any] = []
        for v in items:
            out.extend(ev.call_scriptblock(args[0], dollar_under=v, set_under=True))
        return out
    if low == "clone":
        return list(items)
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


# -- static members ---------------------------------------------------------------------------------


def get_static(ev: ScriptEngine, target: Any, name: str) -> Any:
    if not isinstance(target, TypeRef):
        raise not_emulated("static member access on a non-type value")
    full = target.full_name.lower()
    low = name.lower()
    enum_type = ENUM_TYPES.get(full)
    if enum_type is not None:
        member = next((m for m in enum_type if str(m.name).lower() == low), None)
        if member is None:  # a flags enum's zero member (e.g. BufferCellType.Complete) is not iterated
            member = next((m for key, m in enum_type.__members__.items() if key.lower() == low), None)
        if member is None:
            raise terminating(
                f'Cannot find an overload or member named "{name}" on [{target.name}].',
                "PropertyNotFound",
                ErrorCategory.InvalidOperation,
            )
        return member
    if full == "system.environment":
        if low == "machinename":
            return ev.ctx.machine.computer_name
        if low == "newline":
            return "\r\n"
        if low == "username":
            return ev.ctx.user.split("\\")[-1]
        if low == "userdomainname":
            return ev.ctx.machine.computer_name
        if low == "osversion":
            return "Microsoft Windows NT 10.0.20348.0"
        if low in {"is64bitprocess", "is64bitoperatingsystem"}:
            return True
        if low == "processorcount":
            return 2
        if low == "currentdirectory" and ev.ctx.global_scope.lookup("__current_directory")[0]:
            return ev.ctx.global_scope.get("__current_directory")
        if low == "currentdirectory":
            return "C:\\Windows\\system32"
        if low == "systemdirectory":
            return "C:\\Windows\\system32"
    if full == "system.datetime":
        if low == "now":
            return datetime.datetime.now().astimezone()
        if low == "utcnow":
            return datetime.datetime.now(datetime.timezone.utc)
        if low == "today":
            return datetime.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    if full == "system.string" and low == "empty":
        return ""
    if full == "system.stringsplitoptions" and low in ("none", "removeemptyentries", "trimentries"):
        return {"none": "None", "removeemptyentries": "RemoveEmptyEntries", "trimentries": "TrimEntries"}[low]
    if full == "system.math" and low == "pi":
        import math

        return math.pi
    if full == "system.int32":
        if low == "maxvalue":
            return 2**31 - 1
        if low == "minvalue":
            return -(2**31)
    if full == "system.io.path" and low == "directoryseparatorchar":
        return "\\"
    if full == "system.text.encoding" and low in ("utf8", "unicode", "ascii", "default", "bigendianunicode"):
        return EncodingValue(low)
    raise not_emulated(f"the static member [{target.name}]::{name}")


def set_static(ev: ScriptEngine, target: Any, name: str, value: Any) -> None:
    """Static property assignment: only [Environment]::CurrentDirectory (per session)."""
    if (
        isinstance(target, TypeRef)
        and target.full_name.lower() == "system.environment"
        and (name.lower() == "currentdirectory")
    ):
        ev.ctx.global_scope.set("__current_directory", to_string(value))
        return
    raise not_emulated(f"assignment to the static member [{getattr(target, 'name', target)}]::{name}")


class BSTRPointer:
    """The IntPtr [Runtime.InteropServices.Marshal]::SecureStringToBSTR returns: an unmanaged
    copy of the secret that PtrToStringAuto/PtrToStringBSTR/PtrToStringUni read back and
    ZeroFreeBSTR wipes (https://learn.microsoft.com/dotnet/api/system.runtime.interopservices.marshal.securestringtobstr)."""

    _next = 0x1F0000

    def __init__(self, value: str) -> None:
        BSTRPointer._next += 0x40
        self.address = BSTRPointer._next
        self.value: str | None = value

    def __str__(self) -> str:  # an IntPtr prints as its address; the secret never does
        return str(self.address)

    def __repr__(self) -> str:
        return f"BSTRPointer({self.address})"


def _marshal(low: str, args: list[Any], name: str) -> Any:
    if low in ("securestringtobstr", "securestringtoglobalallocunicode", "securestringtocotaskmemunicode"):
        secure: Any = args[0] if args else None
        if secure is None or not hasattr(secure, "decrypt"):
            raise terminating(
                f'Cannot convert argument "s", with value: "{to_string(secure)}", for "{name}" to type '
                '"System.Security.SecureString"',
                "MethodArgumentConversionInvalidCastArgument",
                ErrorCategory.NotSpecified,
            )
        return BSTRPointer(str(secure.decrypt()))
    if low in ("ptrtostringauto", "ptrtostringbstr", "ptrtostringuni"):
        pointer = args[0] if args else None
        return pointer.value if isinstance(pointer, BSTRPointer) else None
    if low in ("zerofreebstr", "zerofreeglobalallocunicode", "zerofreecotaskmemunicode", "freebstr"):
        if args and isinstance(args[0], BSTRPointer):
            args[0].value = None
        return None
    raise not_emulated(f"the static method [System.Runtime.InteropServices.Marshal]::{name}()")


def call_static(ev: ScriptEngine, target: Any, name: str, args: list[Any]) -> Any:
    if not isinstance(target, TypeRef):
        raise not_emulated("static method calls on a non-type value")
    full = target.full_name.lower()
    low = name.lower()
    if full == "system.management.automation.scriptblock" and low == "create":
        return ev.script_block(to_string(args[0]), ev.ctx.global_scope)
    if full == "system.string":
        if low == "isnullorempty":
            return args[0] is None or to_string(args[0]) == ""
        if low == "isnullorwhitespace":
            return args[0] is None or to_string(args[0]).strip() == ""
        if low == "join":
            values = args[1:] if len(args) > 2 else as_list(args[1])
            return to_string(args[0]).join(to_string(v) for v in values)
        if low == "format":
            return composite_format(to_string(args[0]), args[1:] if len(args) > 2 else as_list(args[1]))
        if low == "concat":
            return "".join(to_string(a) for a in args)
    if full == "system.environment":
        if low == "getenvironmentvariable":
            if len(args) > 1 and to_string(args[1]).lower() == "machine":
                with ev.ctx.machine.lock:
                    return ev.ctx.machine.environment.get(to_string(args[0]))
            return ev.ctx.env_get(to_string(args[0]))
        if low == "setenvironmentvariable":
            target = to_string(args[2]) if len(args) > 2 else "Process"
            ev.ctx.env_set(to_string(args[0]), args[1] if len(args) > 1 else None, target)
            return None
        if low == "getenvironmentvariables":
            return ev.ctx.env_items()
        if low == "getfolderpath":
            return {
                "programfiles": "C:\\Program Files",
                "windows": "C:\\Windows",
                "system": "C:\\Windows\\system32",
            }.get(to_string(args[0]).lower(), "C:\\")
    if full == "system.math":
        import math

        funcs = {
            "abs": abs,
            "floor": math.floor,
            "ceiling": math.ceil,
            "sqrt": math.sqrt,
            "round": lambda x, d=0: round(x, int(d)),
            "max": max,
            "min": min,
            "pow": math.pow,
            "truncate": math.trunc,
        }
        if low in funcs:
            return funcs[low](*[to_number(a) for a in args])  # type: ignore[operator]
    if full == "system.convert":
        if low == "tobase64string":
            data = args[0]
            return base64.b64encode(bytes(data) if not isinstance(data, bytes) else data).decode()
        if low == "frombase64string":
            return base64.b64decode(to_string(args[0]))
        if low == "toint32":
            return (
                int(to_string(args[0]), int(to_number(args[1]))) if len(args) > 1 else int(to_number(args[0]))
            )
        if low == "toboolean":
            return to_bool(args[0])
        if low == "tostring":
            return to_string(args[0])
    if full == "system.io.file":
        return _io_file(ev, low, args, name)
    if full == "system.io.directory":
        return _io_directory(ev, low, args, name)
    if full == "system.security.principal.windowsidentity" and low == "getcurrent":
        user = ev.ctx.user.split("\\")[-1]
        return new_object(
            [
                "System.Security.Principal.WindowsIdentity",
                "System.Security.Claims.ClaimsIdentity",
                "System.Object",
            ],
            {
                "Name": f"{ev.ctx.machine.computer_name}\\{user}",
                "AuthenticationType": "NTLM",
                "IsAuthenticated": True,
                "IsSystem": False,
                "IsAnonymous": False,
                "ImpersonationLevel": "Impersonation",
            },
            to_string_value="System.Security.Principal.WindowsIdentity",
        )
    if full.endswith("interopservices.marshal"):
        return _marshal(low, args, name)
    if full == "system.guid" and low == "newguid":
        import uuid

        return uuid.uuid4()
    if low == "new" and (
        full.startswith("system.collections.generic.list[") or full == "system.collections.arraylist"
    ):
        items = GenericList() if "generic" in full else []
        if args and is_collection(args[0]):
            items.extend(args[0])
        return items
    if low == "new" and full in (
        "system.collections.hashtable",
        "system.collections.specialized.ordereddictionary",
    ):
        return {}
    if low == "new":
        stream = new_stream(full, args)
        if stream is not None:
            return stream
    if full == "system.byte[]" and low == "new":
        return bytearray(int(to_number(args[0])))
    if full == "system.bitconverter" and low == "tostring":
        return bit_converter_to_string(args[0])
    if full == "system.array" and low == "copy":
        src, dst = args[0], args[1]
        count = int(to_number(args[-1]))
        if isinstance(dst, bytearray):
            dst[:count] = bytes(src[:count])
        elif isinstance(dst, list):
            dst[:count] = list(src[:count])
        else:
            raise not_emulated("[Array]::Copy into this value")
        return None
    if full.startswith("system.security.cryptography.") and low == "create":
        algo = hash_algorithm_name(full)
        if algo is None:
            raise not_emulated(f"[{target.name}]::Create()")
        return HashAlgorithmValue(algo)
    if full == "system.text.regularexpressions.regex":
        if low == "escape":
            return re.escape(to_string(args[0]))
        if low == "ismatch":
            return re.search(dotnet_regex(to_string(args[1])), to_string(args[0])) is not None
        if low == "replace":
            return re.sub(dotnet_regex(to_string(args[1])), to_string(args[2]), to_string(args[0]))
    if full == "system.io.path":
        if low == "combine":
            return "\\".join(to_string(a).rstrip("\\") for a in args)
        if low == "getfilename":
            return to_string(args[0]).replace("/", "\\").rsplit("\\", 1)[-1]
        if low == "gettemppath":
            return (ev.ctx.env_get("TEMP") or "C:\\Windows\\TEMP") + "\\"
        if low == "getextension":
            base = to_string(args[0]).rsplit("\\", 1)[-1]
            return "." + base.rsplit(".", 1)[1] if "." in base else ""
        if low == "getdirectoryname":
            return to_string(args[0]).replace("/", "\\").rsplit("\\", 1)[0]
        if low == "getrandomfilename":
            return os.urandom(4).hex() + "." + os.urandom(2).hex()[:3]
    if full == "system.timespan":
        units = {
            "fromseconds": "seconds",
            "fromminutes": "minutes",
            "fromhours": "hours",
            "fromdays": "days",
            "frommilliseconds": "milliseconds",
        }
        if low in units:
            return datetime.timedelta(**{units[low]: float(to_number(args[0]))})
    if full == "system.enum" and low == "parse":
        enum_type = ENUM_TYPES.get(
            (args[0].full_name if isinstance(args[0], TypeRef) else to_string(args[0])).lower()
        )
        if enum_type is None:
            raise not_emulated(f"[Enum]::Parse for {to_string(args[0])}")
        text = to_string(args[1])
        member = next((m for m in enum_type if str(m.name).lower() == text.lower()), None)
        if member is None:
            raise terminating(
                f"Requested value '{text}' was not found.",
                "ArgumentException",
                ErrorCategory.InvalidArgument,
                exception_type="System.ArgumentException",
            )
        return member
    if full == "system.datetime" and low == "parse":
        return cast_value("datetime", args[0])
    if full == "system.net.dns" and low == "gethostname":
        return ev.ctx.machine.computer_name
    from winhost.engine.nested import NOT_HANDLED
    from winhost.engine.nested import call_static as nested_static

    value = nested_static(ev, full, low, args)
    if value is not NOT_HANDLED:
        return value
    raise not_emulated(f"the static method [{target.name}]::{name}()")


from winhost.engine.cmdlets.registry import CmdletSpec  # noqa: E402

_IO_SPEC = CmdletSpec("System.IO", lambda call: iter(()), [], dotnet_class="System.IO.File")

__all__ = ["call_method", "call_static", "get_property", "get_static", "register_enum"]
