"""Static members of .NET types: ``[Type]::Member`` and ``[Type]::Method(...)``.

Each emulated type has a table of members (name, lower case -> function); a member outside the
tables is outside the emulated subset ("winhost does not emulate the static member ..."). Types:
[string], [Environment], [Math], [Convert], [System.IO.File]/[Directory]/[Path] over the sandbox
C:\\, [WindowsIdentity], [Runtime.InteropServices.Marshal], [Guid], [BitConverter], [Array],
[Regex], [TimeSpan], [Enum], [DateTime], [Net.Dns], [ScriptBlock]::Create, hash algorithms,
streams and collections (``::new``), enum members.
"""

from __future__ import annotations

import base64
import datetime
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psrpcore.types import ErrorCategory

from winhost.engine.cmdlets.filesystem import file_object, real_path
from winhost.engine.cmdlets.registry import CmdletSpec
from winhost.engine.context import CommandCall
from winhost.engine.dotnet import (
    FileStreamValue,
    HashAlgorithmValue,
    bit_converter_to_string,
    hash_algorithm_name,
    new_stream,
)
from winhost.engine.errors import exception_type_name, new_exception, not_emulated, terminating
from winhost.engine.formatting import composite_format
from winhost.engine.methods import EncodingValue, GenericList, to_bytes
from winhost.engine.nested import NOT_HANDLED
from winhost.engine.nested import call_static as nested_static
from winhost.engine.types import ENUM_TYPES, TypeRef, cast_value
from winhost.engine.values import (
    as_list,
    dotnet_regex,
    is_collection,
    new_object,
    to_bool,
    to_number,
    to_string,
)

if TYPE_CHECKING:
    from winhost.engine.context import ScriptEngine

StaticMethod = Callable[["ScriptEngine", list[Any]], Any]
StaticProperty = Callable[["ScriptEngine"], Any]

# -- properties -------------------------------------------------------------------------------------


def _current_directory(ev: ScriptEngine) -> Any:
    found, value = ev.ctx.global_scope.lookup("__current_directory")
    return value if found else "C:\\Windows\\system32"


def _encoding(name: str) -> StaticProperty:
    return lambda ev: EncodingValue(name)


_PROPERTIES: dict[str, dict[str, StaticProperty]] = {
    "system.environment": {
        "machinename": lambda ev: ev.ctx.machine.computer_name,
        "newline": lambda ev: "\r\n",
        "username": lambda ev: ev.ctx.user.split("\\")[-1],
        "userdomainname": lambda ev: ev.ctx.machine.computer_name,
        "osversion": lambda ev: "Microsoft Windows NT 10.0.20348.0",
        "is64bitprocess": lambda ev: True,
        "is64bitoperatingsystem": lambda ev: True,
        "processorcount": lambda ev: 2,
        "currentdirectory": _current_directory,
        "systemdirectory": lambda ev: "C:\\Windows\\system32",
    },
    "system.datetime": {
        "now": lambda ev: datetime.datetime.now().astimezone(),
        "utcnow": lambda ev: datetime.datetime.now(datetime.timezone.utc),
        "today": lambda ev: datetime.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0),
    },
    "system.string": {"empty": lambda ev: ""},
    "system.stringsplitoptions": {
        "none": lambda ev: "None",
        "removeemptyentries": lambda ev: "RemoveEmptyEntries",
        "trimentries": lambda ev: "TrimEntries",
    },
    "system.math": {"pi": lambda ev: math.pi},
    "system.int32": {"maxvalue": lambda ev: 2**31 - 1, "minvalue": lambda ev: -(2**31)},
    "system.io.path": {"directoryseparatorchar": lambda ev: "\\"},
    "system.text.encoding": {
        name: _encoding(name) for name in ("utf8", "unicode", "ascii", "default", "bigendianunicode")
    },
}


def _enum_member(target: TypeRef, enum_type: Any, name: str) -> Any:
    low = name.lower()
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


def get_static(ev: ScriptEngine, target: Any, name: str) -> Any:
    """``[Type]::Name``: an enum member or a static property."""
    if not isinstance(target, TypeRef):
        raise not_emulated("static member access on a non-type value")
    full = target.full_name.lower()
    enum_type = ENUM_TYPES.get(full)
    if enum_type is not None:
        return _enum_member(target, enum_type, name)
    getter = _PROPERTIES.get(full, {}).get(name.lower())
    if getter is None:
        raise not_emulated(f"the static member [{target.name}]::{name}")
    return getter(ev)


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


# -- [System.IO.File] / [System.IO.Directory] -------------------------------------------------------

_IO_SPEC = CmdletSpec("System.IO", lambda call: iter(()), [], dotnet_class="System.IO.File")


def _io_call(ev: ScriptEngine) -> CommandCall:
    return CommandCall(ev.ctx, _IO_SPEC, {}, ev.ctx.global_scope)


def _file_not_found(path_text: str) -> Exception:
    return terminating(
        f"Could not find file '{path_text}'.",
        "FileNotFoundException",
        ErrorCategory.ObjectNotFound,
        exception_type="System.IO.FileNotFoundException",
    )


def _existing_file(path: Path, path_text: str) -> Path:
    if not path.is_file():
        raise _file_not_found(path_text)
    return path


def _read_all_text(path: Path) -> str:
    data = path.read_bytes()
    return data[3:].decode() if data.startswith(b"\xef\xbb\xbf") else data.decode("utf-8", "replace")


def _write_text(path: Path, text: str, append: bool) -> None:
    with open(path, "a" if append else "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _open(path: Path, path_text: str, low: str) -> FileStreamValue:
    if low == "openread" and not path.is_file():
        raise _file_not_found(path_text)
    if low in ("create", "openwrite") and not path.parent.is_dir():
        raise terminating(
            f"Could not find a part of the path '{path_text}'.",
            "DirectoryNotFoundException",
            ErrorCategory.ObjectNotFound,
            exception_type="System.IO.DirectoryNotFoundException",
        )
    mode = {"create": "wb", "openwrite": "r+b" if path.exists() else "wb", "openread": "rb"}.get(low, "r+b")
    return FileStreamValue(path, mode, path_text)


def _move_or_copy(ev: ScriptEngine, path: Path, args: list[Any], move: bool) -> None:
    dest = real_path(_io_call(ev), to_string(args[1]))
    overwrite = not move and len(args) > 2 and to_bool(args[2])
    if dest.exists() and not overwrite:
        raise terminating(
            "Cannot create a file when that file already exists.",
            "IOException",
            ErrorCategory.WriteError,
            exception_type="System.IO.IOException",
        )
    if move:
        shutil.move(str(path), str(dest))
    else:
        shutil.copyfile(path, dest)


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _delete(path: Path) -> None:
    if path.is_file():
        path.unlink()


#: [System.IO.File] methods: (engine, resolved path, path as given, arguments) -> result.
_FILE_METHODS: dict[str, Callable[[ScriptEngine, Path, str, list[Any]], Any]] = {
    "readallbytes": lambda ev, p, text, a: _existing_file(p, text).read_bytes(),
    "readalltext": lambda ev, p, text, a: _read_all_text(_existing_file(p, text)),
    "readalllines": lambda ev, p, text, a: (
        _existing_file(p, text).read_text(encoding="utf-8-sig").splitlines()
    ),
    "writeallbytes": lambda ev, p, text, a: _write_bytes(p, to_bytes(a[1])),
    "writealltext": lambda ev, p, text, a: _write_text(p, to_string(a[1]), append=False),
    "appendalltext": lambda ev, p, text, a: _write_text(p, to_string(a[1]), append=True),
    "writealllines": lambda ev, p, text, a: _write_text(
        p, "".join(to_string(x) + "\r\n" for x in as_list(a[1])), append=False
    ),
    "delete": lambda ev, p, text, a: _delete(p),
    "create": lambda ev, p, text, a: _open(p, text, "create"),
    "openwrite": lambda ev, p, text, a: _open(p, text, "openwrite"),
    "openread": lambda ev, p, text, a: _open(p, text, "openread"),
    "open": lambda ev, p, text, a: _open(p, text, "open"),
    "move": lambda ev, p, text, a: _move_or_copy(ev, p, a, move=True),
    "copy": lambda ev, p, text, a: _move_or_copy(ev, p, a, move=False),
}


def _io_file(ev: ScriptEngine, low: str, args: list[Any], name: str) -> Any:
    """[System.IO.File] over the sandbox C:\\ (https://learn.microsoft.com/en-us/dotnet/api/system.io.file)."""
    if low == "exists":
        return bool(args) and real_path(_io_call(ev), to_string(args[0])).is_file()
    method = _FILE_METHODS.get(low)
    if method is None:
        raise not_emulated(f"the static method [System.IO.File]::{name}()")
    text = to_string(args[0])
    return method(ev, real_path(_io_call(ev), text), text, args)


def _io_directory(ev: ScriptEngine, low: str, args: list[Any], name: str) -> Any:
    call = _io_call(ev)
    path = real_path(call, to_string(args[0]))
    if low == "exists":
        return path.is_dir()
    if low == "createdirectory":
        path.mkdir(parents=True, exist_ok=True)
        return file_object(call, path)
    raise not_emulated(f"the static method [System.IO.Directory]::{name}()")


# -- [Runtime.InteropServices.Marshal] --------------------------------------------------------------


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


# -- methods --------------------------------------------------------------------------------------


def _string_args(args: list[Any]) -> list[Any]:
    """``[string]::Join(sep, a, b)`` and ``[string]::Join(sep, @(a, b))`` alike."""
    return args[1:] if len(args) > 2 else as_list(args[1])


def _get_environment_variable(ev: ScriptEngine, args: list[Any]) -> Any:
    if len(args) > 1 and to_string(args[1]).lower() == "machine":
        with ev.ctx.machine.lock:
            return ev.ctx.machine.environment.get(to_string(args[0]))
    return ev.ctx.env_get(to_string(args[0]))


def _set_environment_variable(ev: ScriptEngine, args: list[Any]) -> None:
    target = to_string(args[2]) if len(args) > 2 else "Process"
    ev.ctx.env_set(to_string(args[0]), args[1] if len(args) > 1 else None, target)


_FOLDERS = {"programfiles": "C:\\Program Files", "windows": "C:\\Windows", "system": "C:\\Windows\\system32"}


def _math(func: Callable[..., Any]) -> StaticMethod:
    return lambda ev, args: func(*[to_number(a) for a in args])


def _current_identity(ev: ScriptEngine, args: list[Any]) -> Any:
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


def _array_copy(ev: ScriptEngine, args: list[Any]) -> None:
    src, dst = args[0], args[1]
    count = int(to_number(args[-1]))
    if isinstance(dst, bytearray):
        dst[:count] = bytes(src[:count])
    elif isinstance(dst, list):
        dst[:count] = list(src[:count])
    else:
        raise not_emulated("[Array]::Copy into this value")


def _extension(path: str) -> str:
    base = path.rsplit("\\", 1)[-1]
    return "." + base.rsplit(".", 1)[1] if "." in base else ""


def _enum_parse(ev: ScriptEngine, args: list[Any]) -> Any:
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


def _timespan(unit: str) -> StaticMethod:
    return lambda ev, args: datetime.timedelta(**{unit: float(to_number(args[0]))})


def _to_int32(ev: ScriptEngine, args: list[Any]) -> int:
    if len(args) > 1:
        return int(to_string(args[0]), int(to_number(args[1])))
    return int(to_number(args[0]))


_METHODS: dict[str, dict[str, StaticMethod]] = {
    "system.management.automation.scriptblock": {
        "create": lambda ev, args: ev.script_block(to_string(args[0]), ev.ctx.global_scope),
    },
    "system.string": {
        "isnullorempty": lambda ev, args: args[0] is None or to_string(args[0]) == "",
        "isnullorwhitespace": lambda ev, args: args[0] is None or to_string(args[0]).strip() == "",
        "join": lambda ev, args: to_string(args[0]).join(to_string(v) for v in _string_args(args)),
        "format": lambda ev, args: composite_format(to_string(args[0]), _string_args(args)),
        "concat": lambda ev, args: "".join(to_string(a) for a in args),
    },
    "system.environment": {
        "getenvironmentvariable": _get_environment_variable,
        "setenvironmentvariable": _set_environment_variable,
        "getenvironmentvariables": lambda ev, args: ev.ctx.env_items(),
        "getfolderpath": lambda ev, args: _FOLDERS.get(to_string(args[0]).lower(), "C:\\"),
    },
    "system.math": {
        "abs": _math(abs),
        "floor": _math(math.floor),
        "ceiling": _math(math.ceil),
        "sqrt": _math(math.sqrt),
        "round": _math(lambda x, d=0: round(x, int(d))),
        "max": _math(max),
        "min": _math(min),
        "pow": _math(math.pow),
        "truncate": _math(math.trunc),
    },
    "system.convert": {
        "tobase64string": lambda ev, args: base64.b64encode(bytes(args[0])).decode(),
        "frombase64string": lambda ev, args: base64.b64decode(to_string(args[0])),
        "toint32": _to_int32,
        "toboolean": lambda ev, args: to_bool(args[0]),
        "tostring": lambda ev, args: to_string(args[0]),
    },
    "system.security.principal.windowsidentity": {"getcurrent": _current_identity},
    "system.guid": {"newguid": lambda ev, args: uuid.uuid4()},
    "system.byte[]": {"new": lambda ev, args: bytearray(int(to_number(args[0])))},
    "system.bitconverter": {"tostring": lambda ev, args: bit_converter_to_string(args[0])},
    "system.array": {"copy": _array_copy},
    "system.text.regularexpressions.regex": {
        "escape": lambda ev, args: re.escape(to_string(args[0])),
        "ismatch": lambda ev, args: (
            re.search(dotnet_regex(to_string(args[1])), to_string(args[0])) is not None
        ),
        "replace": lambda ev, args: re.sub(
            dotnet_regex(to_string(args[1])), to_string(args[2]), to_string(args[0])
        ),
    },
    "system.io.path": {
        "combine": lambda ev, args: "\\".join(to_string(a).rstrip("\\") for a in args),
        "getfilename": lambda ev, args: to_string(args[0]).replace("/", "\\").rsplit("\\", 1)[-1],
        "gettemppath": lambda ev, args: (ev.ctx.env_get("TEMP") or "C:\\Windows\\TEMP") + "\\",
        "getextension": lambda ev, args: _extension(to_string(args[0])),
        "getdirectoryname": lambda ev, args: to_string(args[0]).replace("/", "\\").rsplit("\\", 1)[0],
        "getrandomfilename": lambda ev, args: os.urandom(4).hex() + "." + os.urandom(2).hex()[:3],
    },
    "system.timespan": {
        "fromseconds": _timespan("seconds"),
        "fromminutes": _timespan("minutes"),
        "fromhours": _timespan("hours"),
        "fromdays": _timespan("days"),
        "frommilliseconds": _timespan("milliseconds"),
    },
    "system.enum": {"parse": _enum_parse},
    "system.datetime": {"parse": lambda ev, args: cast_value("datetime", args[0])},
    "system.net.dns": {"gethostname": lambda ev, args: ev.ctx.machine.computer_name},
}


def _construct(full: str, args: list[Any]) -> Any:
    """``[Type]::new(...)`` for collections and streams; None when the type is not emulated."""
    if full.startswith("system.collections.generic.list[") or full == "system.collections.arraylist":
        items = GenericList() if "generic" in full else []
        if args and is_collection(args[0]):
            items.extend(args[0])
        return items
    if full in ("system.collections.hashtable", "system.collections.specialized.ordereddictionary"):
        return {}
    exception = exception_type_name(full)
    if exception is not None:
        return new_exception(exception, args)
    return new_stream(full, args)


def _special(ev: ScriptEngine, target: TypeRef, name: str, args: list[Any]) -> Any:
    """Types matched by more than their name: IO, Marshal, hash algorithms, constructors."""
    full, low = target.full_name.lower(), name.lower()
    if full == "system.io.file":
        return _io_file(ev, low, args, name)
    if full == "system.io.directory":
        return _io_directory(ev, low, args, name)
    if full.endswith("interopservices.marshal"):
        return _marshal(low, args, name)
    if full.startswith("system.security.cryptography.") and low == "create":
        algo = hash_algorithm_name(full)
        if algo is None:
            raise not_emulated(f"[{target.name}]::Create()")
        return HashAlgorithmValue(algo)
    constructed = _construct(full, args) if low == "new" else None
    if constructed is not None:
        return constructed
    value = nested_static(ev, full, low, args)  # [RunspaceFactory], [PowerShell], PSDataCollection
    if value is NOT_HANDLED:
        raise not_emulated(f"the static method [{target.name}]::{name}()")
    return value


def call_static(ev: ScriptEngine, target: Any, name: str, args: list[Any]) -> Any:
    """``[Type]::Method(args)``."""
    if not isinstance(target, TypeRef):
        raise not_emulated("static method calls on a non-type value")
    full = target.full_name.lower()
    low = name.lower()
    method = _METHODS.get(full, {}).get(low)
    if method is not None:
        return method(ev, args)
    return _special(ev, target, name, args)
