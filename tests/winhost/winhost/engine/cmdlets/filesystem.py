"""The FileSystem provider (drive C:) over a real sandbox directory, and Get-FileHash.

C:\\ maps to ``machine.sandbox()``; names are matched case-insensitively as NTFS does. Items are
System.IO.FileInfo / System.IO.DirectoryInfo
(https://learn.microsoft.com/en-us/dotnet/api/system.io.fileinfo) with the Mode/BaseName/PS* members
PowerShell adds. Get-FileHash returns Microsoft.Powershell.Utility.FileHash (Algorithm, Hash as
upper-case hex, Path): https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/get-filehash.
Get-Content/Set-Content default to the system ANSI code page in Windows PowerShell 5.1; winhost
writes UTF-8 without BOM unless -Encoding asks for UTF8 (BOM), Unicode (UTF-16LE) or Byte.
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psrpcore.types import ErrorCategory, PSByteArray

from winhost.engine.cmdlets.items import ItemNotFound, Provider, provider_for, register_provider
from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import not_emulated
from winhost.engine.model import Machine
from winhost.engine.values import as_list, new_object, to_string


def _windows_path(path: str) -> tuple[str, list[str]]:
    drive, _, rest = path.partition(":")
    return drive.upper(), [p for p in rest.split("\\") if p]


def real_path(call: CommandCall, path: str) -> Path:
    """The sandbox file for a Windows path (existing components matched case-insensitively)."""
    if path.startswith("\\\\"):
        raise not_emulated("UNC paths")
    if ":" not in path.split("\\", 1)[0]:
        _prov, path, _d = provider_for(call, path)
    drive, parts = _windows_path(path)
    if drive != "C":
        raise not_emulated(f"the drive {drive}: (winhost models only C:)")
    current = call.ctx.machine.sandbox()
    for part in parts:
        if any(ch in part for ch in '<>"|?*'):
            raise call.fail(
                f"Illegal characters in path '{path}'.",
                "ArgumentException",
                ErrorCategory.InvalidArgument,
                exception_type="System.ArgumentException",
            )
        candidate = current / part
        if not candidate.exists() and current.is_dir():
            match = next((c for c in current.iterdir() if c.name.lower() == part.lower()), None)
            if match is not None:
                candidate = match
        current = candidate
    return current


def _windows_name(call: CommandCall, real: Path) -> str:
    root = call.ctx.machine.sandbox()
    rel = real.relative_to(root)
    return "C:\\" + "\\".join(rel.parts)


def _mode(real: Path) -> str:
    return "d-----" if real.is_dir() else "-a----"


def file_object(call: CommandCall, real: Path) -> Any:
    stat = real.stat()
    mtime = datetime.datetime.fromtimestamp(stat.st_mtime).astimezone()
    ctime = datetime.datetime.fromtimestamp(stat.st_ctime).astimezone()
    full = _windows_name(call, real)
    parent = full.rpartition("\\")[0] or "C:"
    common = {
        "Name": real.name if real.name else "C:\\",
        "FullName": full,
        "Exists": True,
        "Extension": real.suffix,
        "CreationTime": ctime,
        "CreationTimeUtc": ctime.astimezone(datetime.timezone.utc),
        "LastAccessTime": mtime,
        "LastAccessTimeUtc": mtime.astimezone(datetime.timezone.utc),
        "LastWriteTime": mtime,
        "LastWriteTimeUtc": mtime.astimezone(datetime.timezone.utc),
        "Attributes": "Directory" if real.is_dir() else "Archive",
    }
    if real.is_dir():
        obj = new_object(
            [
                "System.IO.DirectoryInfo",
                "System.IO.FileSystemInfo",
                "System.MarshalByRefObject",
                "System.Object",
            ],
            {**common, "Parent": parent.rpartition("\\")[2] or "C:\\", "Root": "C:\\"},
            to_string_value=real.name,
            extended={"Mode": _mode(real), "BaseName": real.name},
        )
    else:
        obj = new_object(
            ["System.IO.FileInfo", "System.IO.FileSystemInfo", "System.MarshalByRefObject", "System.Object"],
            {
                **common,
                "Length": stat.st_size,
                "DirectoryName": parent if parent != "C:" else "C:\\",
                "Directory": parent,
                "IsReadOnly": False,
            },
            to_string_value=real.name,
            extended={"Mode": _mode(real), "BaseName": real.stem, "VersionInfo": None},
        )
    return FileSystemProvider().decorate(obj, full if full != "C:\\" else "C:\\", real.is_dir(), "C")


def _encode(text: str, encoding: str | None) -> bytes:
    enc = (encoding or "").lower()
    if enc in ("unicode", "utf16", "utf-16"):
        return "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    if enc in ("utf8",):
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if enc in ("ascii",):
        return text.encode("ascii", errors="replace")
    return text.encode("utf-8")


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class FileSystemProvider(Provider):
    name = "FileSystem"
    module = "Microsoft.PowerShell.Core"
    drives = ("C",)

    def ps_path(self, path: str) -> str:
        return f"{self.module}\\{self.name}::{path}"

    def exists(self, call: CommandCall, path: str) -> bool:
        return real_path(call, path).exists()

    def is_container(self, call: CommandCall, path: str) -> bool:
        return real_path(call, path).is_dir()

    def get_item(self, call: CommandCall, path: str) -> Any:
        real = real_path(call, path)
        if not real.exists():
            raise ItemNotFound(path)
        return file_object(call, real)

    def child_items(self, call: CommandCall, path: str, recurse: bool) -> list[Any]:
        real = real_path(call, path)
        if not real.is_dir():
            raise ItemNotFound(path)
        entries = sorted(real.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower()))
        out = []
        for entry in entries:
            out.append(file_object(call, entry))
            if recurse and entry.is_dir():
                out.extend(self.child_items(call, _windows_name(call, entry), True))
        return out

    def new_item(self, call: CommandCall, path: str, item_type: str | None, value: Any) -> Any:
        real = real_path(call, path)
        kind = (item_type or "File").lower()
        force = call.switch("Force")
        if (
            real.exists()
            and not (force and kind == "directory" and real.is_dir())
            and not (force and kind == "file")
        ):
            raise call.fail(
                f"An item with the specified name {path} already exists.",
                "DirectoryExist" if kind == "directory" else "FileExists",
                ErrorCategory.ResourceExists,
                target=path,
                exception_type="System.IO.IOException",
            )
        if not real.parent.exists():
            if not force:
                raise call.fail(
                    f"Could not find a part of the path '{path}'.",
                    "NewItemIOError",
                    ErrorCategory.WriteError,
                    target=path,
                    exception_type="System.IO.DirectoryNotFoundException",
                )
            real.parent.mkdir(parents=True)
        if kind == "directory":
            real.mkdir(parents=True, exist_ok=True)
        elif kind == "file":
            real.write_bytes(b"" if value is None else _encode(to_string(value), None))
        else:
            raise not_emulated(f"New-Item -ItemType {item_type}")
        return file_object(call, real)

    def remove_item(self, call: CommandCall, path: str, recurse: bool) -> None:
        real = real_path(call, path)
        if not real.exists():
            raise ItemNotFound(path)
        if real == call.ctx.machine.sandbox():
            raise call.fail(
                "Cannot remove the root of drive C:.",
                "RemoveItemUnauthorizedAccessError",
                ErrorCategory.PermissionDenied,
                exception_type="System.UnauthorizedAccessException",
            )
        if real.is_dir():
            if any(real.iterdir()) and not recurse:
                raise call.fail(
                    f"The item at {path} has children and the Recurse parameter was not specified.",
                    "DirectoryNotEmpty",
                    ErrorCategory.WriteError,
                    target=path,
                    exception_type="System.IO.IOException",
                )
            shutil.rmtree(real)
        else:
            real.unlink()

    def get_content(self, call: CommandCall, path: str, raw: bool, encoding: str | None) -> Any:
        real = real_path(call, path)
        if not real.exists():
            raise ItemNotFound(path)
        if real.is_dir():
            raise call.fail(
                f"Unable to get content because it is a directory: '{path}'.",
                "GetContentReaderUnauthorizedAccessError",
                ErrorCategory.PermissionDenied,
                exception_type="System.UnauthorizedAccessException",
            )
        data = real.read_bytes()
        if (encoding or "").lower() == "byte":
            return PSByteArray(data) if raw else list(data)
        text = _decode(data)
        if raw:
            return text
        lines = text.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines

    def set_content(  # noqa: PLR0917 - provider interface
        self,
        call: CommandCall,
        path: str,
        values: list[Any],
        append: bool,
        encoding: str | None,
        no_newline: bool,
    ) -> None:
        real = real_path(call, path)
        if not real.parent.exists():
            raise call.fail(
                f"Could not find a part of the path '{path}'.",
                "GetContentWriterDirectoryNotFoundError",
                ErrorCategory.ObjectNotFound,
                target=path,
                exception_type="System.IO.DirectoryNotFoundException",
            )
        if (encoding or "").lower() == "byte":
            data = bytes(int(b) for v in values for b in (v if isinstance(v, (bytes, list)) else [v]))
        else:
            sep = "" if no_newline else "\r\n"
            text = "".join(to_string(v) + sep for v in values)
            data = _encode(text, encoding)
            if append and real.exists() and (encoding or "").lower() in ("utf8", "unicode"):
                data = _encode(text, encoding)[3 if (encoding or "").lower() == "utf8" else 2 :]
        with open(real, "ab" if append else "wb") as fh:
            fh.write(data)

    def copy_item(self, call: CommandCall, path: str, dest: str, recurse: bool) -> None:
        src = real_path(call, path)
        dst = real_path(call, dest)
        if dst.is_dir():
            dst = dst / src.name
        if src.is_dir():
            if not recurse:
                dst.mkdir(parents=True, exist_ok=True)
                return
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            if not dst.parent.exists():
                raise call.fail(
                    f"Could not find a part of the path '{dest}'.",
                    "CopyDirectoryInfoItemIOError",
                    ErrorCategory.WriteError,
                    exception_type="System.IO.DirectoryNotFoundException",
                )
            shutil.copy2(src, dst)

    def move_item(self, call: CommandCall, path: str, dest: str) -> None:
        src = real_path(call, path)
        dst = real_path(call, dest)
        if dst.is_dir():
            dst = dst / src.name
        if dst.exists() and not call.switch("Force"):
            raise call.fail(
                "Cannot create a file when that file already exists.",
                "MoveFileInfoItemIOError",
                ErrorCategory.WriteError,
                exception_type="System.IO.IOException",
            )
        shutil.move(str(src), str(dst))


register_provider(FileSystemProvider())


def ensure_standard_dirs(machine: Machine, user: str) -> None:
    """Create the folders every Windows host has (profile, temp, Windows, Program Files)."""
    root = machine.sandbox()
    short = user.rsplit("\\", maxsplit=1)[-1]
    for rel in (
        "Windows/Temp",
        "Windows/System32",
        f"Users/{short}/AppData/Local/Temp",
        f"Users/{short}/AppData/Roaming",
        # The profile's known folders (https://learn.microsoft.com/windows/win32/shell/knownfolderid).
        f"Users/{short}/Desktop",
        f"Users/{short}/Documents",
        f"Users/{short}/Downloads",
        "Program Files",
        "ProgramData",
    ):
        folder = root / rel
        if not folder.is_dir():  # a stat; most runspaces find them all (mkdir raises and catches)
            folder.mkdir(parents=True, exist_ok=True)


@cmdlet(
    "Get-FileHash",
    [Param("Path", position=0), Param("LiteralPath"), Param("Algorithm"), Param("InputStream")],
    module="Microsoft.PowerShell.Utility",
)
def get_file_hash(call: CommandCall) -> Iterator[Any]:
    algo = (call.string("Algorithm") or "SHA256").upper()
    names = {"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512", "MD5": "md5"}
    if algo not in names:
        raise call.fail(
            f"Cannot validate argument on parameter 'Algorithm'. The argument \"{algo}\" does not belong "
            'to the set "SHA1,SHA256,SHA384,SHA512,MACTripleDES,MD5,RIPEMD160".',
            "ParameterArgumentValidationError",
            ErrorCategory.InvalidData,
            exception_type="System.Management.Automation.ParameterBindingValidationException",
        )
    for path in as_list(call.get("Path") or call.get("LiteralPath")):
        real = real_path(call, to_string(path))
        if not real.is_file():
            call.error(
                f"Cannot find path '{to_string(path)}' because it does not exist.",
                "FileNotFound",
                ErrorCategory.ObjectNotFound,
                target=to_string(path),
                exception_type="System.Management.Automation.ItemNotFoundException",
            )
            continue
        digest = hashlib.new(names[algo], real.read_bytes()).hexdigest().upper()
        yield new_object(
            ["Microsoft.Powershell.Utility.FileHash", "System.Object"],
            {"Algorithm": algo, "Hash": digest, "Path": _windows_name(call, real)},
            to_string_value="@{Algorithm=" + algo + "; Hash=" + digest + "}",
        )
