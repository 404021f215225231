"""A few .NET objects scripts use for file transfer: FileStream, HashAlgorithm, byte arrays.

- System.IO.FileStream (https://learn.microsoft.com/en-us/dotnet/api/system.io.filestream):
  ``[IO.File]::Create/OpenRead/OpenWrite/Open``; ``Write(buffer, offset, count)``,
  ``Read(buffer, offset, count)`` (fills the byte[] in place), ``Length``, ``Position``,
  ``Flush()``, ``Dispose()``/``Close()``.
- System.Security.Cryptography.HashAlgorithm
  (https://learn.microsoft.com/en-us/dotnet/api/system.security.cryptography.hashalgorithm):
  ``[SHA256]::Create()`` (also SHA1, SHA384, SHA512, MD5 and their *CryptoServiceProvider /
  *Managed names); ``TransformBlock``, ``TransformFinalBlock``, ``ComputeHash``, ``Hash``.
- ``byte[]`` values are Python ``bytes`` (read-only data from the client or files) or
  ``bytearray`` (``[byte[]]::new(n)``, buffers that ``Read`` fills).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, Any

from psrpcore.types import ErrorCategory

from winhost.engine.errors import not_emulated, terminating


def is_byte_array(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray))


class FileStreamValue:
    """An open file in the sandbox."""

    type_name = "System.IO.FileStream"

    def __init__(self, path: Path, mode: str, windows_path: str) -> None:
        self.path = path
        self.windows_path = windows_path
        self._fh: IO[bytes] | None = open(path, mode)  # noqa: SIM115 - lifetime is the script's

    def __str__(self) -> str:
        return self.type_name

    def _file(self) -> IO[bytes]:
        if self._fh is None:
            raise terminating(
                "Cannot access a closed file.",
                "ObjectDisposedException",
                ErrorCategory.InvalidOperation,
                exception_type="System.ObjectDisposedException",
            )
        return self._fh

    def call(self, low: str, args: list[Any]) -> Any:
        if low == "write":
            data, offset, count = args[0], int(args[1]), int(args[2])
            self._file().write(bytes(data[offset : offset + count]))
            return None
        if low == "read":
            buffer, offset, count = args[0], int(args[1]), int(args[2])
            if not isinstance(buffer, bytearray):
                raise not_emulated("FileStream.Read into a read-only byte[]")
            chunk = self._file().read(count)
            buffer[offset : offset + len(chunk)] = chunk
            return len(chunk)
        if low == "flush":
            self._file().flush()
            return None
        if low in ("dispose", "close"):
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            return None
        if low == "seek":
            return self._file().seek(int(args[0]), int(args[1]) if len(args) > 1 else 0)
        raise not_emulated(f"the method FileStream.{low}()")

    def get(self, low: str) -> tuple[bool, Any]:
        if low == "length":
            if self._fh is not None:
                self._fh.flush()
            return True, self.path.stat().st_size
        if low == "position":
            return True, self._file().tell()
        if low == "name":
            return True, self.windows_path
        return False, None


_HASHES = {
    "sha1": "sha1",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "md5": "md5",
}


def hash_algorithm_name(type_name: str) -> str | None:
    """System.Security.Cryptography.SHA256 / SHA256CryptoServiceProvider / SHA256Managed -> sha256."""
    short = type_name.rsplit(".", 1)[-1].lower()
    for suffix in ("cryptoserviceprovider", "managed", "cng"):
        short = short.removesuffix(suffix)
    return _HASHES.get(short)


class HashAlgorithmValue:
    type_name = "System.Security.Cryptography.HashAlgorithm"

    def __init__(self, name: str) -> None:
        self.name = name
        self._hash = hashlib.new(name)
        self.result: bytes | None = None

    def __str__(self) -> str:
        return f"System.Security.Cryptography.{self.name.upper()}CryptoServiceProvider"

    def call(self, low: str, args: list[Any]) -> Any:
        if low == "transformblock":
            data, offset, count = args[0], int(args[1]), int(args[2])
            self._hash.update(bytes(data[offset : offset + count]))
            return count
        if low == "transformfinalblock":
            data, offset, count = args[0], int(args[1]), int(args[2])
            block = bytes(data[offset : offset + count])
            self._hash.update(block)
            self.result = self._hash.digest()
            return block
        if low == "computehash":
            self.result = hashlib.new(self.name, bytes(args[0])).digest()
            return self.result
        if low in ("dispose", "clear", "initialize"):
            if low == "initialize":
                self._hash = hashlib.new(self.name)
            return None
        raise not_emulated(f"the method HashAlgorithm.{low}()")

    def get(self, low: str) -> tuple[bool, Any]:
        if low == "hash":
            return True, self.result
        if low == "hashsize":
            return True, self._hash.digest_size * 8
        return False, None


def bit_converter_to_string(data: Any) -> str:
    """[BitConverter]::ToString: upper-case hex pairs joined with '-'."""
    return "-".join(f"{b:02X}" for b in bytes(data))
