"""The .NET objects scripts use for file transfer: streams, hash algorithms, byte arrays.

- System.IO.Stream (https://learn.microsoft.com/en-us/dotnet/api/system.io.stream): what every
  stream here shares: ``CopyTo(destination[, bufferSize])`` (default buffer 81920 bytes, the
  argument checks of Stream.CopyTo), ``CanRead``/``CanWrite``/``CanSeek``, ``Dispose()``/``Close()``.
- System.IO.FileStream (https://learn.microsoft.com/en-us/dotnet/api/system.io.filestream):
  ``[IO.File]::Create/OpenRead/OpenWrite/Open``; ``Write(buffer, offset, count)``,
  ``Read(buffer, offset, count)`` (fills the byte[] in place), ``Length``, ``Position``,
  ``Flush()``, ``Dispose()``/``Close()``.
- System.IO.MemoryStream (https://learn.microsoft.com/en-us/dotnet/api/system.io.memorystream):
  ``::new()`` / ``::new(capacity)`` (expandable), ``::new(byte[])`` / ``::new(byte[], writable)``
  (a non-resizable stream over that array, position 0); ``Write``, ``Read``, ``ReadByte``,
  ``WriteByte``, ``ToArray()`` (also after Dispose), ``GetBuffer()``, ``WriteTo``, ``Length``,
  ``Position`` (get/set), ``Capacity``, ``Seek(offset, SeekOrigin)``, ``SetLength``, ``Flush()``.
- System.IO.Compression.DeflateStream
  (https://learn.microsoft.com/en-us/dotnet/api/system.io.compression.deflatestream): raw deflate
  (RFC 1951, zlib with wbits -15). ``::new(stream, CompressionMode[, leaveOpen])``,
  ``::new(stream, CompressionLevel[, leaveOpen])`` (Compress); Decompress: ``Read``, ``ReadByte``,
  ``CopyTo``; Compress: ``Write`` then ``Dispose()`` writes the rest and the final block;
  ``Dispose()`` closes the inner stream unless leaveOpen. Enums
  ``[System.IO.Compression.CompressionMode]``, ``[System.IO.Compression.CompressionLevel]``,
  ``[System.IO.SeekOrigin]``.
- System.Security.Cryptography.HashAlgorithm
  (https://learn.microsoft.com/en-us/dotnet/api/system.security.cryptography.hashalgorithm):
  ``[SHA256]::Create()`` (also SHA1, SHA384, SHA512, MD5 and their *CryptoServiceProvider /
  *Managed names); ``TransformBlock``, ``TransformFinalBlock``, ``ComputeHash``, ``Hash``.
- ``byte[]`` values are Python ``bytes`` (read-only data from the client or files) or
  ``bytearray`` (``[byte[]]::new(n)``, buffers that ``Read`` fills).

Exceptions a .NET member throws reach the script as PowerShell wraps them (``Exception calling
"CopyTo" with "1" argument(s): "..."``, see :func:`winhost.engine.errors.dotnet_error`), with the
messages of Windows PowerShell 5.1's .NET Framework 4.8 (reference source mscorlib.txt /
System.txt resources), except for corrupt deflate data (see :data:`CORRUPT_DEFLATE_MESSAGE`).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import IO, Any, ClassVar

from psrpcore.types import ErrorCategory, PSType

from winhost.engine.errors import dotnet_error, not_emulated, terminating
from winhost.engine.types import TypeRef, register_enum
from winhost.engine.values import NetEnum, as_list, to_bool, to_number, to_string, type_names


@PSType(["System.IO.SeekOrigin"])
class SeekOrigin(NetEnum):
    """https://learn.microsoft.com/en-us/dotnet/api/system.io.seekorigin"""

    Begin = 0
    Current = 1
    End = 2


@PSType(["System.IO.Compression.CompressionMode"])
class CompressionMode(NetEnum):
    """https://learn.microsoft.com/en-us/dotnet/api/system.io.compression.compressionmode"""

    Decompress = 0
    Compress = 1


@PSType(["System.IO.Compression.CompressionLevel"])
class CompressionLevel(NetEnum):
    """https://learn.microsoft.com/en-us/dotnet/api/system.io.compression.compressionlevel

    ``SmallestSize`` exists from .NET 6 (PowerShell 7.2) on; Windows PowerShell 5.1's .NET
    Framework has only the first three. winhost accepts all four."""

    Optimal = 0
    Fastest = 1
    NoCompression = 2
    SmallestSize = 3


for _enum in (SeekOrigin, CompressionMode, CompressionLevel):
    register_enum(_enum)


class DotNetError(Exception):
    """A .NET exception inside an emulated member; ``call``/``get``/``set`` turn it into the
    record PowerShell makes (the member's name is known only there)."""

    def __init__(self, message: str, exception_type: str) -> None:
        super().__init__(message)
        self.message = message
        self.exception_type = exception_type


def _null(param: str) -> DotNetError:
    return DotNetError(f"Value cannot be null.\r\nParameter name: {param}", "System.ArgumentNullException")


def _negative(param: str) -> DotNetError:
    return DotNetError(
        f"Non-negative number required.\r\nParameter name: {param}", "System.ArgumentOutOfRangeException"
    )


_CLOSED = "Cannot access a closed Stream."  # mscorlib ObjectDisposed_StreamClosed
_INVALID_OFF_LEN = (
    "Offset and length were out of bounds for the array or count is greater than the number of "
    "elements from index to the end of the source collection."
)
_NOT_SUPPORTED = "This operation is not supported."  # System.txt NotSupported


def _int(value: Any) -> int:
    return int(to_number(value))


def _conversion_error(value: Any, param: str, method: str, target: str) -> Exception:
    """PowerShell's error for a method argument it cannot convert to the parameter's type."""
    shown = to_string(value)
    return terminating(
        f'Cannot convert argument "{param}", with value: "{shown}", for "{method}" to type "{target}": '
        f'"Cannot convert the "{shown}" value of type "{type_names(value)[0]}" to type "{target}"."',
        "MethodArgumentConversionInvalidCastArgument",
        ErrorCategory.NotSpecified,
        exception_type="System.Management.Automation.MethodException",
    )


def _byte_args(args: list[Any], method: str, names: tuple[str, str, str]) -> tuple[Any, int, int]:
    """(buffer, offset, count) of Read/Write, checked as Stream.Read/Write check them."""
    if len(args) != 3:
        raise not_emulated(f"{method}() with {len(args)} argument(s)")
    buffer, offset, count = args[0], _int(args[1]), _int(args[2])
    if buffer is None:
        raise DotNetError(
            f"Buffer cannot be null.\r\nParameter name: {names[0]}", "System.ArgumentNullException"
        )
    if not isinstance(buffer, (bytes, bytearray)):
        buffer = bytes(_int(v) & 0xFF for v in as_list(buffer))
    if offset < 0:
        raise _negative(names[1])
    if count < 0:
        raise _negative(names[2])
    if len(buffer) - offset < count:
        raise DotNetError(_INVALID_OFF_LEN, "System.ArgumentException")
    return buffer, offset, count


class StreamValue:
    """System.IO.Stream: the Python side every emulated stream offers (``can_read``,
    ``can_write``, ``read_bytes``, ``write_bytes``, ``dispose``) and the members all share."""

    _winhost_dotnet = True
    type_name: ClassVar[str] = "System.IO.Stream"
    dotnet_type_names: ClassVar[list[str]] = [
        "System.IO.Stream",
        "System.MarshalByRefObject",
        "System.Object",
    ]
    #: .NET spelling of the method names, for error messages.
    METHODS: ClassVar[dict[str, str]] = {
        "copyto": "CopyTo",
        "read": "Read",
        "write": "Write",
        "readbyte": "ReadByte",
        "writebyte": "WriteByte",
        "seek": "Seek",
        "setlength": "SetLength",
        "flush": "Flush",
        "dispose": "Dispose",
        "close": "Close",
        "toarray": "ToArray",
        "getbuffer": "GetBuffer",
        "writeto": "WriteTo",
    }
    PROPERTIES: ClassVar[dict[str, str]] = {
        "length": "Length",
        "position": "Position",
        "capacity": "Capacity",
        "canread": "CanRead",
        "canwrite": "CanWrite",
        "canseek": "CanSeek",
        "basestream": "BaseStream",
    }

    def __str__(self) -> str:
        return self.type_name

    # -- the Python side --------------------------------------------------------------------------
    def can_read(self) -> bool:
        return False

    def can_write(self) -> bool:
        return False

    def can_seek(self) -> bool:
        return False

    def read_bytes(self, count: int) -> bytes:
        raise DotNetError("Stream does not support reading.", "System.NotSupportedException")

    def write_bytes(self, data: bytes) -> None:
        raise DotNetError("Stream does not support writing.", "System.NotSupportedException")

    def dispose(self) -> None:
        pass

    def read_into(self, buffer: Any, offset: int, count: int, method: str) -> int:
        """Stream.Read: fill ``buffer[offset:]`` from ``read_bytes``; return how many bytes.
        (FileStream keeps its own: a closed file is reported by ``_file``.)"""
        if not isinstance(buffer, bytearray):
            raise not_emulated(f"{method} into a read-only byte[]")
        chunk = self.read_bytes(count)
        buffer[offset : offset + len(chunk)] = chunk
        return len(chunk)

    # -- PowerShell member access -----------------------------------------------------------------
    def call(self, low: str, args: list[Any]) -> Any:
        try:
            return self.invoke(low, args)
        except DotNetError as exc:
            raise dotnet_error(
                exc.message, exc.exception_type, method=self.METHODS.get(low, low), argc=len(args)
            ) from None

    def get(self, low: str) -> tuple[bool, Any]:
        try:
            return self.property(low)
        except DotNetError as exc:
            raise dotnet_error(
                exc.message,
                exc.exception_type,
                wrapper="System.Management.Automation.GetValueInvocationException",
                method=self.PROPERTIES.get(low, low),
            ) from None

    def set(self, low: str, value: Any) -> bool:
        try:
            return self.set_property(low, value)
        except DotNetError as exc:
            raise dotnet_error(
                exc.message,
                exc.exception_type,
                wrapper="System.Management.Automation.SetValueInvocationException",
                method=self.PROPERTIES.get(low, low),
            ) from None

    def invoke(self, low: str, args: list[Any]) -> Any:
        if low == "copyto":
            self.copy_to(args)
            return None
        if low in ("dispose", "close"):
            self.dispose()
            return None
        # System.Object's members.
        if low == "gettype":
            return TypeRef(self.type_name, self.type_name)
        if low == "tostring":
            return self.type_name
        if low == "equals":
            return bool(args) and args[0] is self
        if low == "gethashcode":
            return id(self) & 0x7FFFFFFF
        raise not_emulated(f"the method {self.type_name.rsplit('.', 1)[-1]}.{self.METHODS.get(low, low)}()")

    def property(self, low: str) -> tuple[bool, Any]:
        if low == "canread":
            return True, self.can_read()
        if low == "canwrite":
            return True, self.can_write()
        if low == "canseek":
            return True, self.can_seek()
        return False, None

    def set_property(self, low: str, value: Any) -> bool:
        return False

    def copy_to(self, args: list[Any]) -> None:
        """Stream.CopyTo(destination[, bufferSize]) with .NET Framework's argument checks."""
        if not args or len(args) > 2:
            raise not_emulated(f"CopyTo() with {len(args)} argument(s)")
        destination = args[0]
        if destination is None:
            raise _null("destination")
        if not isinstance(destination, StreamValue):
            raise _conversion_error(destination, "destination", "CopyTo", "System.IO.Stream")
        buffer_size = _int(args[1]) if len(args) > 1 else 81920
        if buffer_size <= 0:
            raise DotNetError(
                "Positive number required.\r\nParameter name: bufferSize",
                "System.ArgumentOutOfRangeException",
            )
        if not self.can_read() and not self.can_write():
            raise DotNetError(_CLOSED, "System.ObjectDisposedException")
        if not destination.can_read() and not destination.can_write():
            raise DotNetError(f"{_CLOSED}\r\nObject name: 'destination'.", "System.ObjectDisposedException")
        if not self.can_read():
            raise DotNetError("Stream does not support reading.", "System.NotSupportedException")
        if not destination.can_write():
            raise DotNetError("Stream does not support writing.", "System.NotSupportedException")
        while chunk := self.read_bytes(buffer_size):
            destination.write_bytes(chunk)


def is_byte_array(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray))


def _window(data: Any, offset: int, count: int) -> Any:
    """``data[offset:offset + count]`` of a byte[] for a method that only reads it (a hash, a
    file write) without copying it: the array itself when that is all of it, else a view (dropped
    as soon as the call returns, so the script's array stays resizable)."""
    if isinstance(data, bytes) and offset == 0 and count == len(data):
        return data
    if isinstance(data, (bytes, bytearray)):
        return memoryview(data)[offset : offset + count]
    return bytes(data[offset : offset + count])


class FileStreamValue(StreamValue):
    """An open file in the sandbox."""

    type_name = "System.IO.FileStream"
    dotnet_type_names: ClassVar[list[str]] = ["System.IO.FileStream", *StreamValue.dotnet_type_names]

    def __init__(self, path: Path, mode: str, windows_path: str) -> None:
        self.path = path
        self.windows_path = windows_path
        self.mode = mode
        self._fh: IO[bytes] | None = open(path, mode)  # noqa: SIM115 - lifetime is the script's

    def _file(self) -> IO[bytes]:
        if self._fh is None:
            raise terminating(
                "Cannot access a closed file.",
                "ObjectDisposedException",
                ErrorCategory.InvalidOperation,
                exception_type="System.ObjectDisposedException",
            )
        return self._fh

    def can_read(self) -> bool:
        return self._fh is not None and ("r" in self.mode or "+" in self.mode)

    def can_write(self) -> bool:
        return self._fh is not None and ("w" in self.mode or "a" in self.mode or "+" in self.mode)

    def can_seek(self) -> bool:
        return self._fh is not None

    def read_bytes(self, count: int) -> bytes:
        if self._fh is None:
            raise DotNetError("Cannot access a closed file.", "System.ObjectDisposedException")
        if not self.can_read():
            raise DotNetError("Stream does not support reading.", "System.NotSupportedException")
        return self._fh.read(count)

    def write_bytes(self, data: bytes) -> None:
        if self._fh is None:
            raise DotNetError("Cannot access a closed file.", "System.ObjectDisposedException")
        if not self.can_write():
            raise DotNetError("Stream does not support writing.", "System.NotSupportedException")
        self._fh.write(data)

    def dispose(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def invoke(self, low: str, args: list[Any]) -> Any:
        if low == "write":
            data, offset, count = args[0], int(args[1]), int(args[2])
            self._file().write(_window(data, offset, count))
            return None
        if low == "read":
            buffer, offset, count = args[0], int(args[1]), int(args[2])
            if not isinstance(buffer, bytearray):
                raise not_emulated("FileStream.Read into a read-only byte[]")
            if count <= 0 or offset + count > len(buffer):
                chunk = self._file().read(count)
                buffer[offset : offset + len(chunk)] = chunk
                return len(chunk)
            reader: Any = self._file()  # a buffered binary file: readinto fills the window in place
            with memoryview(buffer) as view:
                return int(reader.readinto(view[offset : offset + count]) or 0)
        if low == "flush":
            self._file().flush()
            return None
        if low == "seek":
            return self._file().seek(int(args[0]), _origin(args[1]) if len(args) > 1 else 0)
        return super().invoke(low, args)

    def property(self, low: str) -> tuple[bool, Any]:
        if low == "length":
            if self._fh is not None:
                self._fh.flush()
            return True, self.path.stat().st_size
        if low == "position":
            return True, self._file().tell()
        if low == "name":
            return True, self.windows_path
        return super().property(low)

    def set_property(self, low: str, value: Any) -> bool:
        if low == "position":
            self._file().seek(_int(value))
            return True
        return False


def _origin(value: Any) -> int:
    """A SeekOrigin argument (member, name or number) as 0/1/2."""
    if isinstance(value, SeekOrigin):
        return int(value.value)
    if isinstance(value, str):
        member = next((m for m in SeekOrigin if str(m.name).lower() == value.strip().lower()), None)
        if member is not None:
            return int(member.value)
    number = _int(value)
    if number not in (0, 1, 2):
        raise DotNetError("Invalid seek origin.", "System.ArgumentException")
    return number


class MemoryStreamValue(StreamValue):
    """System.IO.MemoryStream, following .NET Framework's MemoryStream: ``::new()`` is expandable;
    ``::new(byte[])`` is a non-resizable stream over that array (Length = the array's length,
    position 0, writable in place unless ``::new(byte[], $false)``; a ``[byte[]]`` the client sent
    is immutable in winhost, so writes then go to a copy)."""

    type_name = "System.IO.MemoryStream"
    dotnet_type_names: ClassVar[list[str]] = ["System.IO.MemoryStream", *StreamValue.dotnet_type_names]

    def __init__(self, buffer: bytearray | None = None, *, writable: bool = True, capacity: int = 0) -> None:
        self._expandable = buffer is None
        self._exposable = buffer is None
        # ``_buffer`` holds at least the stream's bytes; ``_capacity`` is .NET's Capacity (the
        # length of its array). Growing the capacity only records the new number: the bytearray
        # grows as bytes are written (GetBuffer pads it to the capacity), so a stream that doubles
        # its way to megabytes costs no zero-filled arrays and copies.
        self._buffer = buffer if buffer is not None else bytearray(capacity)
        self._capacity = len(self._buffer)
        self._length = len(self._buffer) if buffer is not None else 0
        self._position = 0
        self._open = True
        self._writable = writable

    # -- the Python side --------------------------------------------------------------------------
    def can_read(self) -> bool:
        return self._open

    def can_write(self) -> bool:
        return self._writable

    def can_seek(self) -> bool:
        return self._open

    def _ensure_open(self) -> None:
        if not self._open:
            raise DotNetError(_CLOSED, "System.ObjectDisposedException")

    def read_bytes(self, count: int) -> bytes:
        self._ensure_open()
        end = min(self._length, self._position + count)
        if end <= self._position:
            return b""
        data = self._copy(self._position, end)
        self._position = end
        return data

    def _copy(self, start: int, end: int) -> bytes:
        """The bytes ``start:end`` of the buffer, copied once."""
        with memoryview(self._buffer) as view:
            return bytes(view[start:end])

    def write_bytes(self, data: bytes) -> None:
        self._ensure_open()
        if not self._writable:
            raise DotNetError("Stream does not support writing.", "System.NotSupportedException")
        end = self._position + len(data)
        if end > self._length:
            self._ensure_capacity(end)
            if self._position > self._length:  # writing past the end: the gap reads as zeros
                self._buffer[self._length : self._position] = bytes(self._position - self._length)
            self._length = end
        # (len(_buffer) >= _length >= _position here: the slice grows the buffer when needed)
        self._buffer[self._position : end] = data
        self._position = end

    def _ensure_capacity(self, value: int) -> None:
        if value <= self._capacity:
            return
        if not self._expandable:
            raise DotNetError("Memory stream is not expandable.", "System.NotSupportedException")
        # MemoryStream.EnsureCapacity: at least 256 bytes, at least double.
        self._capacity = max(value, 256, self._capacity * 2)

    def dispose(self) -> None:
        # Dispose keeps the buffer: ToArray and GetBuffer still work.
        self._open = False
        self._writable = False
        self._expandable = False

    # -- PowerShell members -----------------------------------------------------------------------
    def invoke(self, low: str, args: list[Any]) -> Any:
        method = {
            "write": self._call_write,
            "read": self._call_read,
            "readbyte": self._call_readbyte,
            "writebyte": self._call_writebyte,
            "toarray": self._call_toarray,
            "getbuffer": self._call_getbuffer,
            "writeto": self._call_writeto,
            "seek": self._call_seek,
            "setlength": self._call_setlength,
            "flush": self._call_flush,
        }.get(low)
        return method(args) if method is not None else super().invoke(low, args)

    def _call_write(self, args: list[Any]) -> Any:
        data, offset, count = _byte_args(args, "MemoryStream.Write", ("buffer", "offset", "count"))
        self._ensure_open()
        if not self._writable:
            raise DotNetError("Stream does not support writing.", "System.NotSupportedException")
        self.write_bytes(bytes(data[offset : offset + count]))
        return None

    def _call_read(self, args: list[Any]) -> Any:
        buffer, offset, count = _byte_args(args, "MemoryStream.Read", ("buffer", "offset", "count"))
        return self.read_into(buffer, offset, count, "MemoryStream.Read")

    def _call_readbyte(self, args: list[Any]) -> Any:
        chunk = self.read_bytes(1)
        return chunk[0] if chunk else -1

    def _call_writebyte(self, args: list[Any]) -> Any:
        self.write_bytes(bytes([_int(args[0]) & 0xFF]))
        return None

    def _call_toarray(self, args: list[Any]) -> Any:
        return self._copy(0, self._length)

    def _call_getbuffer(self, args: list[Any]) -> Any:
        if not self._exposable:
            raise DotNetError(
                "MemoryStream's internal buffer cannot be accessed.", "System.UnauthorizedAccessException"
            )
        if len(self._buffer) < self._capacity:  # the array .NET hands out is Capacity bytes long
            self._buffer.extend(bytes(self._capacity - len(self._buffer)))
        return self._buffer

    def _call_writeto(self, args: list[Any]) -> Any:
        target = args[0] if args else None
        if target is None:
            raise DotNetError(
                "Stream cannot be null.\r\nParameter name: stream", "System.ArgumentNullException"
            )
        if not isinstance(target, StreamValue):
            raise _conversion_error(target, "stream", "WriteTo", "System.IO.Stream")
        self._ensure_open()
        target.write_bytes(self._copy(0, self._length))
        return None

    def _call_seek(self, args: list[Any]) -> Any:
        if len(args) != 2:
            raise not_emulated(f"MemoryStream.Seek() with {len(args)} argument(s)")
        self._ensure_open()
        base = {0: 0, 1: self._position, 2: self._length}[_origin(args[1])]
        target_position = base + _int(args[0])
        if target_position < 0:
            raise DotNetError(
                "An attempt was made to move the position before the beginning of the stream.",
                "System.IO.IOException",
            )
        self._position = target_position
        return target_position

    def _call_setlength(self, args: list[Any]) -> Any:
        value = _int(args[0])
        if value < 0:
            raise DotNetError(
                "Stream length must be non-negative and less than 2^31 - 1 - origin.\r\nParameter name: value",
                "System.ArgumentOutOfRangeException",
            )
        if not self._writable:
            raise DotNetError("Stream does not support writing.", "System.NotSupportedException")
        self._ensure_capacity(value)
        if value > self._length:
            self._buffer[self._length : value] = bytes(value - self._length)
        self._length = value
        self._position = min(self._position, value)
        return None

    def _call_flush(self, args: list[Any]) -> Any:
        return None

    def property(self, low: str) -> tuple[bool, Any]:
        if low == "length":
            self._ensure_open()
            return True, self._length
        if low == "position":
            self._ensure_open()
            return True, self._position
        if low == "capacity":
            self._ensure_open()
            return True, self._capacity
        return super().property(low)

    def set_property(self, low: str, value: Any) -> bool:
        if low == "position":
            number = _int(value)
            if number < 0:
                raise _negative("value")
            self._ensure_open()
            self._position = number
            return True
        return False


def new_memory_stream(args: list[Any]) -> MemoryStreamValue:
    """``[System.IO.MemoryStream]::new(...)`` / ``New-Object System.IO.MemoryStream``."""
    try:
        if not args:
            return MemoryStreamValue()
        if len(args) == 1 and not is_byte_array(args[0]) and args[0] is not None:
            capacity = _int(args[0])
            if capacity < 0:
                raise DotNetError(
                    "Capacity must be positive.\r\nParameter name: capacity",
                    "System.ArgumentOutOfRangeException",
                )
            return MemoryStreamValue(capacity=capacity)
        if len(args) <= 2:
            if args[0] is None:
                raise DotNetError(
                    "Buffer cannot be null.\r\nParameter name: buffer", "System.ArgumentNullException"
                )
            if not is_byte_array(args[0]):
                raise _conversion_error(args[0], "buffer", ".ctor", "System.Byte[]")
            buffer = args[0] if isinstance(args[0], bytearray) else bytearray(args[0])
            return MemoryStreamValue(buffer, writable=to_bool(args[1]) if len(args) == 2 else True)
    except DotNetError as exc:
        raise dotnet_error(exc.message, exc.exception_type, method=".ctor", argc=len(args)) from None
    raise not_emulated(f"the MemoryStream constructor with {len(args)} arguments")


# The message .NET gives for corrupt deflate data (zlib's Z_DATA_ERROR): System.IO.Compression's
# Inflater maps it to InvalidDataException(SR.UnsupportedCompression) (dotnet/runtime,
# src/libraries/System.IO.Compression/src/System/IO/Compression/DeflateZLib/Inflater.cs), which
# PowerShell 7 shows. Windows PowerShell 5.1 runs .NET Framework 4.8, whose DeflateStream has
# decompressed with the same native zlib since 4.7.2 ("DeflateStream uses native APIs for
# decompression", https://learn.microsoft.com/en-us/dotnet/framework/migration-guide/retargeting/4.7.1-4.7.2
# #deflatestream-uses-native-apis-for-decompression, which says only that messages may differ from the managed inflater's while the exception type
# stays InvalidDataException). The managed inflater of older .NET Framework (reference source
# System/sys/system/IO/compression/Inflater.cs) said e.g. "Block length does not match with its
# complement." (SR.InvalidBlockLength) for a bad stored block; that is used only with the
# Switch.System.IO.Compression.DoNotUseNativeZipLibraryForDecompression switch, so winhost gives
# the zlib-path message for every kind of corruption.
CORRUPT_DEFLATE_MESSAGE = "The archive entry was compressed using an unsupported compression method."

# .NET's DeflateStream runs a native zlib (PowerShell 7's .NET bundles zlib-ng, which inflates about
# twice as fast as stock zlib). winhost inflates, and deflates at CompressionLevel.Fastest (see
# _deflater), with ISA-L (the optional ``isal`` package: the same raw deflate format and the same
# max_length/unconsumed_tail/eof behaviour) when it is installed, so the simulated host's work
# costs about what a native one does; stock zlib otherwise. Corrupt data is the same
# InvalidDataException either way.
_NATIVE_ZLIB: Any
try:
    from isal import isal_zlib as _NATIVE_ZLIB
except ImportError:  # optional
    _NATIVE_ZLIB = zlib
_NATIVE_ZLIB_ERRORS: tuple[type[BaseException], ...] = (zlib.error, _NATIVE_ZLIB.error)

#: CompressionLevel -> (zlib level, memLevel), as DeflaterZLib sets them (.NET Framework reference
#: source System/sys/system/IO/compression/DeflaterZLib.cs; SmallestSize is zlib's best, 9).
_ZLIB_LEVELS = {
    CompressionLevel.Optimal: (6, 8),
    CompressionLevel.Fastest: (1, 8),
    CompressionLevel.NoCompression: (0, 7),
    CompressionLevel.SmallestSize: (9, 8),
}


def _deflater(level: CompressionLevel) -> Any:
    """A raw-deflate compressor for ``level``. ``CompressionLevel.Fastest`` on PowerShell 7's .NET
    is zlib-ng's level 1, several times faster than stock zlib's: winhost takes ISA-L's level 1
    (the same raw deflate format, within 3% of zlib level 1's size on the bench's log text, about
    3.7x faster measured) when the optional ``isal`` package is installed, as for inflating; every
    other level, and Fastest without isal, is stock zlib as DeflaterZLib sets it."""
    zlib_level, mem_level = _ZLIB_LEVELS[level]
    if level == CompressionLevel.Fastest and _NATIVE_ZLIB is not zlib:
        return _NATIVE_ZLIB.compressobj(1, zlib.DEFLATED, -15, mem_level)
    return zlib.compressobj(zlib_level, zlib.DEFLATED, -15, mem_level)


_SYSTEM_CLOSED = "Can not access a closed Stream."  # System.txt ObjectDisposed_StreamClosed


class DeflateStreamValue(StreamValue):
    """System.IO.Compression.DeflateStream over another emulated stream (raw deflate, RFC 1951)."""

    type_name = "System.IO.Compression.DeflateStream"
    dotnet_type_names: ClassVar[list[str]] = [
        "System.IO.Compression.DeflateStream",
        *StreamValue.dotnet_type_names,
    ]
    BUFFER_SIZE = 8192  # DeflateStream.DefaultBufferSize: how much it reads from the inner stream at once

    def __init__(
        self, inner: StreamValue, mode: CompressionMode, level: CompressionLevel, leave_open: bool
    ) -> None:
        self._inner: StreamValue | None = inner
        self.mode = mode
        self.leave_open = leave_open
        self._input_done = False
        self._wrote_bytes = False
        if mode == CompressionMode.Decompress:
            self._inflater: Any = _NATIVE_ZLIB.decompressobj(-15)
        else:
            self._deflater: Any = _deflater(level)

    # -- the Python side --------------------------------------------------------------------------
    def can_read(self) -> bool:
        return self._inner is not None and self.mode == CompressionMode.Decompress and self._inner.can_read()

    def can_write(self) -> bool:
        return self._inner is not None and self.mode == CompressionMode.Compress and self._inner.can_write()

    def _ensure_open(self) -> StreamValue:
        if self._inner is None:
            raise DotNetError(_SYSTEM_CLOSED, "System.ObjectDisposedException")
        return self._inner

    def read_bytes(self, count: int) -> bytes:
        if self.mode != CompressionMode.Decompress:
            raise DotNetError(
                "Reading from the compression stream is not supported.", "System.InvalidOperationException"
            )
        inner = self._ensure_open()
        # Never more than ``count`` is inflated: what zlib has not used yet stays in its
        # unconsumed_tail (like the input buffer .NET's inflater keeps), so each byte is copied
        # once into the answer.
        pieces: list[bytes] = []
        have = 0
        while have < count and not self._inflater.eof:
            data = self._inflater.unconsumed_tail
            if not data and not self._input_done:
                data = inner.read_bytes(self.BUFFER_SIZE)
                # Truncated input is not an error: Read returns what was inflated, then 0.
                self._input_done = not data
            try:
                piece = self._inflater.decompress(data, count - have)
            except _NATIVE_ZLIB_ERRORS:
                raise DotNetError(CORRUPT_DEFLATE_MESSAGE, "System.IO.InvalidDataException") from None
            if piece:
                pieces.append(piece)
                have += len(piece)
            elif not data:
                break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def write_bytes(self, data: bytes) -> None:
        if self.mode != CompressionMode.Compress:
            raise DotNetError(
                "Writing to the compression stream is not supported.", "System.InvalidOperationException"
            )
        inner = self._ensure_open()
        self._wrote_bytes = True
        packed = self._deflater.compress(data)
        if packed:
            inner.write_bytes(packed)

    def dispose(self) -> None:
        inner, self._inner = self._inner, None
        if inner is None:
            return
        try:
            # .NET Framework writes the final block only when something was written.
            if self.mode == CompressionMode.Compress and self._wrote_bytes:
                inner.write_bytes(self._deflater.flush(zlib.Z_FINISH))
        finally:
            if not self.leave_open:
                inner.dispose()

    # -- PowerShell members -----------------------------------------------------------------------
    def _array_args(self, args: list[Any], method: str) -> tuple[Any, int, int]:
        if len(args) != 3:
            raise not_emulated(f"DeflateStream.{method}() with {len(args)} argument(s)")
        array, offset, count = args[0], _int(args[1]), _int(args[2])
        if array is None:
            raise _null("array")
        if not isinstance(array, (bytes, bytearray)):
            array = bytes(_int(v) & 0xFF for v in as_list(array))
        for name, number in (("offset", offset), ("count", count)):
            if number < 0:
                raise DotNetError(
                    f"Specified argument was out of the range of valid values.\r\nParameter name: {name}",
                    "System.ArgumentOutOfRangeException",
                )
        if len(array) - offset < count:
            raise DotNetError(
                "Offset plus count is larger than the length of target array.", "System.ArgumentException"
            )
        return array, offset, count

    def invoke(self, low: str, args: list[Any]) -> Any:
        if low == "read":
            if self.mode != CompressionMode.Decompress:
                self.read_bytes(0)
            buffer, offset, count = self._array_args(args, "Read")
            return self.read_into(buffer, offset, count, "DeflateStream.Read")
        if low == "readbyte":
            chunk = self.read_bytes(1)
            return chunk[0] if chunk else -1
        if low == "write":
            if self.mode != CompressionMode.Compress:
                self.write_bytes(b"")
            data, offset, count = self._array_args(args, "Write")
            self.write_bytes(bytes(data[offset : offset + count]))
            return None
        if low == "writebyte":
            self.write_bytes(bytes([_int(args[0]) & 0xFF]))
            return None
        if low == "flush":
            self._ensure_open()
            return None
        if low in ("seek", "setlength"):
            raise DotNetError(_NOT_SUPPORTED, "System.NotSupportedException")
        return super().invoke(low, args)

    def property(self, low: str) -> tuple[bool, Any]:
        if low in ("length", "position"):
            raise DotNetError(_NOT_SUPPORTED, "System.NotSupportedException")
        if low == "basestream":
            return True, self._inner
        return super().property(low)

    def set_property(self, low: str, value: Any) -> bool:
        if low == "position":
            raise DotNetError(_NOT_SUPPORTED, "System.NotSupportedException")
        return False


def _enum_argument(value: Any) -> CompressionMode | CompressionLevel:
    if isinstance(value, (CompressionMode, CompressionLevel)):
        return value
    if isinstance(value, str):
        for enum_type in (CompressionMode, CompressionLevel):
            member = next((m for m in enum_type if str(m.name).lower() == value.strip().lower()), None)
            if member is not None:
                return member
        raise _conversion_error(value, "mode", ".ctor", "System.IO.Compression.CompressionMode")
    # A number matches both (Stream, CompressionMode) and (Stream, CompressionLevel).
    raise not_emulated("the DeflateStream constructor with a number for CompressionMode/CompressionLevel")


def new_deflate_stream(args: list[Any]) -> DeflateStreamValue:
    """``[System.IO.Compression.DeflateStream]::new(stream, mode|level[, leaveOpen])`` with the
    checks of DeflateStream's constructors (.NET Framework reference source DeflateStream.cs)."""
    if len(args) not in (2, 3):
        raise not_emulated(f"the DeflateStream constructor with {len(args)} arguments")
    try:
        stream = args[0]
        if stream is None:
            raise _null("stream")
        if not isinstance(stream, StreamValue):
            raise _conversion_error(stream, "stream", ".ctor", "System.IO.Stream")
        choice = _enum_argument(args[1])
        leave_open = to_bool(args[2]) if len(args) == 3 else False
        if isinstance(choice, CompressionMode) and choice == CompressionMode.Decompress:
            if not stream.can_read():
                raise DotNetError(
                    "The base stream is not readable.\r\nParameter name: stream", "System.ArgumentException"
                )
            return DeflateStreamValue(
                stream, CompressionMode.Decompress, CompressionLevel.Optimal, leave_open
            )
        if not stream.can_write():
            raise DotNetError(
                "The base stream is not writeable.\r\nParameter name: stream", "System.ArgumentException"
            )
        level = choice if isinstance(choice, CompressionLevel) else CompressionLevel.Optimal
        return DeflateStreamValue(stream, CompressionMode.Compress, level, leave_open)
    except DotNetError as exc:
        raise dotnet_error(exc.message, exc.exception_type, method=".ctor", argc=len(args)) from None


def new_stream(full_name: str, args: list[Any]) -> StreamValue | None:
    """Construct the stream type ``full_name`` (lower case), or None when it is not one of these."""
    if full_name == "system.io.memorystream":
        return new_memory_stream(args)
    if full_name == "system.io.compression.deflatestream":
        return new_deflate_stream(args)
    return None


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
            self._hash.update(_window(data, offset, count))
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
