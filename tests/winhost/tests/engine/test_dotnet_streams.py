"""Add-Type -AssemblyName, MemoryStream, DeflateStream, their enums, -is on hashtables and a bare
``throw`` in a catch block: what psremoting.core's put_file v2 script needs to inflate a chunk.

Each test names the Microsoft document its expected values follow; .NET exception messages are
.NET Framework 4.8's (Windows PowerShell 5.1), as PowerShell wraps them (``Exception calling
"<Method>" with "<n>" argument(s): "<message>"``).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

import pytest
from psrpcore.types import ErrorCategory, deserialize, serialize

from winhost.engine import dotnet
from winhost.engine.dotnet import CORRUPT_DEFLATE_MESSAGE

from .helpers import Engine

TEXT = "winhost " * 200


def raw_deflate(data: bytes, level: int = 6) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@pytest.fixture(params=["isal", "zlib"])
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """DeflateStream inflates with ISA-L when the optional ``isal`` package is installed, with
    zlib otherwise: each inflating test runs with both (ISA-L's leg is skipped without it)."""
    if request.param == "isal":
        isal_zlib = pytest.importorskip("isal.isal_zlib", reason="the optional isal package is not installed")
        module: Any = isal_zlib
    else:
        module = zlib
    monkeypatch.setattr(dotnet, "_NATIVE_ZLIB", module)
    monkeypatch.setattr(dotnet, "_NATIVE_ZLIB_ERRORS", (zlib.error, module.error))
    return str(request.param)


def _message(result: Any) -> str:
    assert result.failure is not None, result.output
    return str(result.failure.Exception.Message)


# -- Add-Type ----------------------------------------------------------------------------------------


def test_add_type_framework_assemblies_load_silently(engine: Engine) -> None:
    """Add-Type (learn.microsoft.com/powershell/module/microsoft.powershell.utility/add-type):
    -AssemblyName takes a simple or full assembly name (alias AN, several names); by default the
    cmdlet returns no output."""
    out = engine.ok(
        "Add-Type -AssemblyName System.IO.Compression\n"
        "Add-Type -AssemblyName System.IO.Compression.FileSystem, System.Net.Http\n"
        "Add-Type -AN System.Web\n"
        "Add-Type -AssemblyName 'System.Security, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a'\n"
        "$r = Add-Type -AssemblyName System.IO.Compression; $null -eq $r"
    )
    assert out == [True]


@pytest.mark.parametrize(
    ("arguments", "construct"),
    [
        ("-TypeDefinition 'public class Widget { }'", "Add-Type -TypeDefinition"),
        ("'public class Widget { }'", "Add-Type -TypeDefinition"),
        ("-Path C:\\Tools\\Widget.dll", "Add-Type -Path"),
        ("-LiteralPath C:\\Tools\\Widget.dll", "Add-Type -LiteralPath"),
        (
            "-Name Native -MemberDefinition '[DllImport(\"user32.dll\")] public static extern int X();'",
            "Add-Type -Name",
        ),
        ("-AssemblyName Contoso.Widgets", "Add-Type -AssemblyName Contoso.Widgets"),
        ("-AssemblyName System.IO.Compression -PassThru", "Add-Type -PassThru"),
    ],
)
def test_add_type_other_uses_are_not_emulated(engine: Engine, arguments: str, construct: str) -> None:
    """Add-Type: compiling source, loading a file, unknown assemblies and -PassThru (which returns
    System.Type objects) are outside winhost's subset: the not-emulated error record."""
    result = engine.script(f"Add-Type {arguments}")
    assert _message(result).startswith(f"winhost does not emulate {construct}")
    assert result.failure is not None
    assert result.failure.FullyQualifiedErrorId == "WinhostNotEmulated"
    assert result.failure.CategoryInfo.Category == ErrorCategory.NotImplemented


# -- enums -----------------------------------------------------------------------------------------


def test_compression_enums(engine: Engine) -> None:
    """CompressionMode (learn.microsoft.com/dotnet/api/system.io.compression.compressionmode):
    Decompress = 0, Compress = 1. CompressionLevel (.../system.io.compression.compressionlevel):
    Optimal = 0, Fastest = 1, NoCompression = 2, SmallestSize = 3. SeekOrigin
    (.../system.io.seekorigin): Begin = 0, Current = 1, End = 2."""
    out = engine.ok(
        "[System.IO.Compression.CompressionMode]::Decompress.value__\n"
        "[System.IO.Compression.CompressionMode]::Compress.value__\n"
        "[IO.Compression.CompressionLevel]::Optimal, [IO.Compression.CompressionLevel]::Fastest,"
        " [IO.Compression.CompressionLevel]::NoCompression, [IO.Compression.CompressionLevel]::SmallestSize |"
        " ForEach-Object { '{0}={1}' -f $_, $_.value__ }\n"
        "[System.IO.SeekOrigin]::End.value__\n"
        "([System.IO.Compression.CompressionMode]'compress').ToString()\n"
        "[System.IO.Compression.CompressionMode]::Compress -is [System.IO.Compression.CompressionMode]"
    )
    assert out == [0, 1, "Optimal=0", "Fastest=1", "NoCompression=2", "SmallestSize=3", 2, "Compress", True]


# -- MemoryStream ----------------------------------------------------------------------------------


def test_memory_stream_write_read_seek(engine: Engine) -> None:
    """MemoryStream (learn.microsoft.com/dotnet/api/system.io.memorystream): ::new() is
    expandable; Write advances Position and grows Length; Seek(offset, SeekOrigin) returns the new
    position; Read fills the buffer and returns the count, 0 at the end; ReadByte returns -1 at
    the end; ToArray returns the bytes written; SetLength truncates."""
    out = engine.ok(
        "$m = [System.IO.MemoryStream]::new()\n"
        "$m.Write([byte[]](1, 2, 3, 4, 5), 1, 3)\n"
        "$m.Position; $m.Length; $m.CanRead; $m.CanWrite; $m.CanSeek\n"
        "$m.Seek(1, [System.IO.SeekOrigin]::Begin)\n"
        "$buffer = [byte[]]::new(4)\n"
        "$m.Read($buffer, 0, 4); [BitConverter]::ToString($buffer)\n"
        "$m.Read($buffer, 0, 4); $m.ReadByte()\n"
        "$m.Seek(-3, 'End'); $m.ReadByte()\n"
        "$m.Position = 5; $m.WriteByte(9); [BitConverter]::ToString($m.ToArray())\n"
        "$m.SetLength(2); $m.Position; [BitConverter]::ToString($m.ToArray())\n"
        '$m -is [System.IO.Stream]; $m.GetType().FullName; "$m"'
    )
    assert out == [
        3, 3, True, True, True,
        1,
        2, "03-04-00-00",
        0, -1,
        0, 2,
        "02-03-04-00-00-09",
        2, "02-03",
        True, "System.IO.MemoryStream", "System.IO.MemoryStream",
    ]  # fmt: skip


def test_memory_stream_over_a_byte_array(engine: Engine) -> None:
    """MemoryStream(Byte[]) (learn.microsoft.com/dotnet/api/system.io.memorystream.-ctor): a
    non-resizable stream over the array, Length = the array's length, position 0; writing past the
    end throws NotSupportedException "Memory stream is not expandable."; MemoryStream(Byte[],
    Boolean writable = false) refuses writes ("Stream does not support writing.")."""
    out = engine.ok(
        "$m = [System.IO.MemoryStream]::new([byte[]](10, 20, 30))\n"
        "$m.Length; $m.Position; $m.ReadByte(); $m.ReadByte()\n"
        "$m.Position = 0; $m.WriteByte(11); [BitConverter]::ToString($m.ToArray())\n"
        "$m.Position = 3\n"
        "try { $m.WriteByte(40) } catch { $_.Exception.Message; $_.FullyQualifiedErrorId }\n"
        "$r = [System.IO.MemoryStream]::new([byte[]](1, 2), $false); $r.CanWrite\n"
        "try { $r.WriteByte(1) } catch { $_.Exception.InnerException.Message }"
    )
    assert out == [
        3, 0, 10, 20,
        "0B-14-1E",
        'Exception calling "WriteByte" with "1" argument(s): "Memory stream is not expandable."',
        "NotSupportedException",
        False,
        "Stream does not support writing.",
    ]  # fmt: skip


def test_memory_stream_dispose_keeps_to_array(engine: Engine) -> None:
    """MemoryStream.ToArray (learn.microsoft.com/dotnet/api/system.io.memorystream.toarray):
    "This method works when the MemoryStream is closed"; other members throw
    ObjectDisposedException "Cannot access a closed Stream."; Seek before the beginning throws
    IOException."""
    out = engine.ok(
        "$m = [System.IO.MemoryStream]::new(); $m.WriteByte(7)\n"
        "try { $m.Seek(-2, 'Current') } catch { $_.Exception.InnerException.Message }\n"
        "$m.Close(); $m.CanRead; [BitConverter]::ToString($m.ToArray())\n"
        "try { $m.Length } catch { $_.Exception.Message; $_.FullyQualifiedErrorId }\n"
        "try { $m.WriteByte(1) } catch { $_.Exception.InnerException.Message }"
    )
    assert out == [
        "An attempt was made to move the position before the beginning of the stream.",
        False,
        "07",
        'Exception getting "Length": "Cannot access a closed Stream."',
        "ExceptionWhenGetting",
        "Cannot access a closed Stream.",
    ]


def test_memory_stream_copy_to_and_new_object(engine: Engine) -> None:
    """Stream.CopyTo (learn.microsoft.com/dotnet/api/system.io.stream.copyto) copies from the
    current position to the destination; New-Object creates the same type
    (learn.microsoft.com/powershell/module/microsoft.powershell.utility/new-object)."""
    out = engine.ok(
        "$source = New-Object System.IO.MemoryStream (, [byte[]](1, 2, 3, 4))\n"
        "$source.Position = 1\n"
        "$target = [IO.MemoryStream]::new()\n"
        "$source.CopyTo($target, 2); [BitConverter]::ToString($target.ToArray())\n"
        "try { $source.CopyTo($null) } catch { $_.Exception.Message }"
    )
    assert out == [
        "02-03-04",
        'Exception calling "CopyTo" with "1" argument(s): "Value cannot be null.\r\nParameter name: destination"',
    ]


def test_memory_stream_capacity_grows_like_dotnet(engine: Engine) -> None:
    """MemoryStream.Capacity (learn.microsoft.com/dotnet/api/system.io.memorystream.capacity) is
    the length of the array GetBuffer returns (learn.microsoft.com/dotnet/api/
    system.io.memorystream.getbuffer); an expandable stream grows it to at least 256 bytes and at
    least double (.NET Framework reference source MemoryStream.EnsureCapacity);
    MemoryStream(Int32) starts at that capacity. Length and ToArray stay the bytes written."""
    out = engine.ok(
        "$m = [System.IO.MemoryStream]::new(); $m.Capacity\n"
        "$m.WriteByte(1); $m.Capacity; $m.Length\n"
        "$m.Write([byte[]]::new(300), 0, 300); $m.Capacity; $m.Length\n"
        "$m.GetBuffer().Length; $m.ToArray().Length\n"
        "$m.Position = 2000; $m.WriteByte(5); $m.Capacity; $m.Length\n"
        ", $m.ToArray()\n"
        "$c = [System.IO.MemoryStream]::new(100); $c.Capacity; $c.Length\n"
        "$c.Write([byte[]]::new(100), 0, 100); $c.Capacity; $c.WriteByte(1); $c.Capacity"
    )
    assert out == [
        0,
        256,
        1,
        512,
        301,
        512,
        301,
        2001,
        2001,
        b"\x01" + bytes(1999) + b"\x05",
        100,
        0,
        100,
        256,
    ]


# -- DeflateStream ---------------------------------------------------------------------------------

INFLATE = (
    "param($Packed)\n"
    "$source = [System.IO.MemoryStream]::new([byte[]]$Packed)\n"
    "$inflater = [System.IO.Compression.DeflateStream]::new($source, [System.IO.Compression.CompressionMode]::Decompress)\n"
    "$plain = [System.IO.MemoryStream]::new()\n"
    "try { $inflater.CopyTo($plain) } finally { $inflater.Dispose() }\n"
    "$source.CanRead\n"
    ", $plain.ToArray()"
)


@pytest.mark.usefixtures("inflater")
def test_deflate_stream_inflates_raw_deflate(engine: Engine) -> None:
    """DeflateStream(Stream, CompressionMode.Decompress)
    (learn.microsoft.com/dotnet/api/system.io.compression.deflatestream): reads RFC 1951 raw
    deflate data from the inner stream; Dispose closes the inner stream (leaveOpen false)."""
    data = TEXT.encode()
    out = engine.ok(INFLATE, Packed=raw_deflate(data, 1))
    assert out == [False, data]
    assert engine.ok(INFLATE, Packed=raw_deflate(b"", 1)) == [False, b""]


@pytest.mark.usefixtures("inflater")
def test_deflate_stream_read_into_a_buffer(engine: Engine) -> None:
    """DeflateStream.Read (learn.microsoft.com/dotnet/api/system.io.compression.deflatestream.read)
    fills the buffer and returns the number of bytes, 0 at the end; leaveOpen true keeps the inner
    stream open (DeflateStream(Stream, CompressionMode, Boolean))."""
    data = bytes(range(256)) * 40
    out = engine.ok(
        "param($Packed)\n"
        "$source = [IO.MemoryStream]::new([byte[]]$Packed)\n"
        "$inflater = [IO.Compression.DeflateStream]::new($source, 'Decompress', $true)\n"
        "$buffer = [byte[]]::new(4000); $all = [IO.MemoryStream]::new(); $reads = 0\n"
        "while (($n = $inflater.Read($buffer, 0, $buffer.Length)) -gt 0) { $all.Write($buffer, 0, $n); $reads++ }\n"
        "$inflater.Dispose(); $source.CanRead; $reads; $all.Length\n"
        "$inflater.BaseStream -eq $null\n"
        ", $all.ToArray()",
        Packed=raw_deflate(data),
    )
    assert out == [True, 3, len(data), True, data]


@pytest.mark.usefixtures("inflater")
def test_deflate_stream_small_reads_of_a_long_stream(engine: Engine) -> None:
    """DeflateStream.Read returns at most ``count`` bytes and keeps the rest for the next Read,
    also when a few bytes of input inflate to far more than one Read takes (here the whole input
    fits one read of the inner stream), until 0 at the end; the bytes read are the data
    (learn.microsoft.com/dotnet/api/system.io.compression.deflatestream.read)."""
    data = b"a" * 300_000 + bytes(range(256)) * 20 + b"z" * 100_000
    packed = raw_deflate(data, 9)
    assert len(packed) < 8192
    out = engine.ok(
        "param($Packed)\n"
        "$inflater = [IO.Compression.DeflateStream]::new([IO.MemoryStream]::new([byte[]]$Packed), 'Decompress')\n"
        "$buffer = [byte[]]::new(65536); $all = [IO.MemoryStream]::new(); $most = 0\n"
        "while (($n = $inflater.Read($buffer, 0, $buffer.Length)) -gt 0) {\n"
        "    $all.Write($buffer, 0, $n); if ($n -gt $most) { $most = $n } }\n"
        "$inflater.Read($buffer, 0, 10); $most\n"
        ", $all.ToArray()",
        Packed=packed,
    )
    assert out == [0, 65536, data]


@pytest.mark.parametrize(
    ("level", "zlib_level"), [("Optimal", 6), ("Fastest", 1), ("NoCompression", 0), ("SmallestSize", 9)]
)
def test_deflate_stream_compresses(
    engine: Engine, level: str, zlib_level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeflateStream(Stream, CompressionLevel, Boolean leaveOpen): Write then Dispose writes raw
    deflate to the inner stream (CompressionLevel: learn.microsoft.com/dotnet/api/
    system.io.compression.compressionlevel; zlib levels as .NET's DeflaterZLib sets them). Without
    the optional isal package every level is stock zlib (test_deflate_stream_fastest_uses_isal:
    Fastest with it)."""
    monkeypatch.setattr(dotnet, "_NATIVE_ZLIB", zlib)
    data = TEXT.encode()
    out = engine.ok(
        "param($Data, $Level)\n"
        "$packed = [IO.MemoryStream]::new()\n"
        "$deflater = [IO.Compression.DeflateStream]::new($packed, [IO.Compression.CompressionLevel]$Level, $true)\n"
        "$deflater.Write($Data, 0, $Data.Length); $deflater.Dispose()\n"
        "$packed.CanWrite\n"
        ", $packed.ToArray()",
        Data=data,
        Level=level,
    )
    assert out[0] is True
    assert zlib.decompress(out[1], -15) == data
    assert out[1] == raw_deflate(data, zlib_level) if zlib_level else len(out[1]) > len(data)


def test_deflate_stream_compress_mode_closes_inner_stream(engine: Engine) -> None:
    """DeflateStream(Stream, CompressionMode.Compress): compresses with CompressionLevel.Optimal;
    Dispose closes the inner stream, whose ToArray still works; reading is refused
    (InvalidOperationException "Reading from the compression stream is not supported.")."""
    out = engine.ok(
        "$packed = [IO.MemoryStream]::new()\n"
        "$deflater = [IO.Compression.DeflateStream]::new($packed, [IO.Compression.CompressionMode]::Compress)\n"
        "$deflater.CanRead; $deflater.CanWrite\n"
        "try { $deflater.ReadByte() } catch { $_.Exception.InnerException.Message; $_.FullyQualifiedErrorId }\n"
        "$bytes = [Text.Encoding]::UTF8.GetBytes('hello hello hello')\n"
        "$deflater.Write($bytes, 0, $bytes.Length); $deflater.Dispose(); $deflater.Dispose()\n"
        "$packed.CanRead\n"
        ", $packed.ToArray()"
    )
    assert out[:5] == [
        False,
        True,
        "Reading from the compression stream is not supported.",
        "InvalidOperationException",
        False,
    ]
    assert zlib.decompress(out[5], -15) == b"hello hello hello"


@pytest.mark.usefixtures("inflater")
def test_deflate_stream_corrupt_data_is_invalid_data_exception(engine: Engine) -> None:
    """Corrupt deflate data: DeflateStream throws System.IO.InvalidDataException (the exception
    type the .NET Framework 4.7.2 compatibility note "DeflateStream uses native APIs for
    decompression" keeps; message from .NET's zlib-based Inflater, see
    winhost.engine.dotnet.CORRUPT_DEFLATE_MESSAGE); PowerShell wraps it in a
    MethodInvocationException, ``catch [System.IO.InvalidDataException]`` takes it
    (about_Try_Catch_Finally)."""
    for corrupt in (b"\x07\x00\x00", b"\x01\x05\x00\x00\x00hello"):  # reserved block type; LEN != ~NLEN
        result = engine.script(INFLATE, Packed=corrupt)
        assert _message(result) == (
            f'Exception calling "CopyTo" with "1" argument(s): "{CORRUPT_DEFLATE_MESSAGE}"'
        )
        assert result.failure is not None
        assert result.failure.FullyQualifiedErrorId == "InvalidDataException"
        assert result.failure.CategoryInfo.Category == ErrorCategory.NotSpecified
        assert result.failure.CategoryInfo.Reason == "MethodInvocationException"
        inner = result.failure.Exception.InnerException
        assert inner.PSObject.type_names[0] == "System.IO.InvalidDataException"
    out = engine.ok(
        "$s = [IO.MemoryStream]::new([byte[]](7, 0, 0))\n"
        "$d = [IO.Compression.DeflateStream]::new($s, [IO.Compression.CompressionMode]::Decompress)\n"
        "try { $d.ReadByte() } catch [System.IO.InvalidDataException] { 'caught: ' + $_.Exception.InnerException.Message }"
    )
    assert out == [f"caught: {CORRUPT_DEFLATE_MESSAGE}"]


@pytest.mark.usefixtures("inflater")
def test_deflate_stream_truncated_data_is_not_an_error(engine: Engine) -> None:
    """DeflateStream.Read returns 0 when the inner stream ends, even inside a block (.NET Framework
    DeflateStream.Read stops when the inner stream's Read returns 0)."""
    data = TEXT.encode()
    packed = raw_deflate(data, 0)  # stored blocks: a prefix inflates to a prefix
    out = engine.ok(INFLATE, Packed=packed[:200])
    assert out[0] is False
    assert data.startswith(out[1]) and 0 < len(out[1]) < len(data)


def test_deflate_stream_argument_and_state_errors(engine: Engine) -> None:
    """DeflateStream's constructors and members (learn.microsoft.com/dotnet/api/
    system.io.compression.deflatestream.-ctor): a null stream is ArgumentNullException, a closed
    inner stream ArgumentException "The base stream is not readable."; Length is
    NotSupportedException; after Dispose, ObjectDisposedException (System.dll's "Can not access a
    closed Stream.")."""
    out = engine.ok(
        "try { [IO.Compression.DeflateStream]::new($null, 'Decompress') } catch { $_.Exception.Message }\n"
        "$closed = [IO.MemoryStream]::new(); $closed.Dispose()\n"
        "try { [IO.Compression.DeflateStream]::new($closed, 'Decompress') } catch { $_.Exception.InnerException.Message }\n"
        "$d = [IO.Compression.DeflateStream]::new([IO.MemoryStream]::new(), 'Decompress')\n"
        "try { $d.Length } catch { $_.Exception.Message }\n"
        "$d.Dispose()\n"
        "try { $d.ReadByte() } catch { $_.Exception.InnerException.Message }"
    )
    assert out == [
        'Exception calling ".ctor" with "2" argument(s): "Value cannot be null.\r\nParameter name: stream"',
        "The base stream is not readable.\r\nParameter name: stream",
        'Exception getting "Length": "This operation is not supported."',
        "Can not access a closed Stream.",
    ]


# -- -is [System.Collections.IDictionary], indexing, [byte[]] ----------------------------------------


def test_hashtable_is_idictionary(engine: Engine) -> None:
    """about_Type_Operators (learn.microsoft.com/powershell/module/microsoft.powershell.core/about/
    about_type_operators): -is is true for the type's interfaces; Hashtable implements IDictionary,
    ICollection and IEnumerable (learn.microsoft.com/dotnet/api/system.collections.hashtable), an
    array IList (learn.microsoft.com/dotnet/api/system.array), a string IEnumerable only."""
    out = engine.ok(
        "$h = @{ Deflate = [byte[]](1, 2) }\n"
        "$h -is [System.Collections.IDictionary]; $h -is [hashtable]; $h -is [System.Collections.ICollection]\n"
        "$h -is [System.Collections.IList]\n"
        "@(1) -is [System.Collections.IDictionary]; @(1) -is [System.Collections.IList]\n"
        "'text' -is [System.Collections.IDictionary]; 'text' -is [System.Collections.IEnumerable]\n"
        "([byte[]](1)) -is [System.Collections.IDictionary]; ([byte[]](1)) -is [array]\n"
        "[ordered]@{} -is [System.Collections.IDictionary]; $null -is [System.Collections.IDictionary]"
    )
    assert out == [True, True, True, False, False, True, False, True, False, True, True, False]


def test_deserialized_hashtable_from_the_client(engine: Engine) -> None:
    """A hashtable a PSRP client sends as pipeline input is a ``<DCT>`` System.Collections.Hashtable
    (MS-PSRP 2.2.5.2.6.4 Dictionaries), rehydrated as a Hashtable: -is [IDictionary], string
    indexing (case-insensitive keys) and a [byte[]] cast of its byte[] value work."""
    chunk = deserialize(serialize({"Deflate": b"\x01\x02\x03"}, None), None)
    result = engine.script(
        "process {\n"
        "  $_ -is [System.Collections.IDictionary]; $_ -is [hashtable]\n"
        "  $b = [byte[]]$_['Deflate']; $b -is [byte[]]; $b.Length; $_['deflate'].Length\n"
        "}",
        input=[chunk],
    )
    assert result.failure is None and not result.errors
    assert result.output == [True, True, True, 3, 3]


def test_throw_without_expression_rethrows_in_catch(engine: Engine) -> None:
    """about_Throw: in a catch block, throw without an expression throws the current
    RuntimeException again; anywhere else it is ScriptHalted (ThrowStatementAst.IsRethrow:
    lexically inside a catch clause)."""
    out = engine.ok(
        "try { try { [IO.MemoryStream]::new($null, $true) } catch { throw } } catch { $_.FullyQualifiedErrorId }\n"
        "try { try { throw 'first' } catch { 1 | ForEach-Object { throw } } } catch { $_.Exception.Message }\n"
        "try { throw } catch { $_.Exception.Message }"
    )
    assert out == ["ArgumentNullException", "first", "ScriptHalted"]


def test_hash_and_file_stream_take_a_window_of_an_array(engine: Engine) -> None:
    """HashAlgorithm.TransformBlock(inputBuffer, inputOffset, inputCount, ...)
    (learn.microsoft.com/dotnet/api/system.security.cryptography.hashalgorithm.transformblock)
    hashes only that window and returns inputCount; FileStream.Write(array, offset, count) writes
    only that window and FileStream.Read(array, offset, count) fills it from ``offset``
    (learn.microsoft.com/dotnet/api/system.io.filestream.read), returning how many bytes it read."""
    out = engine.ok(
        "$data = [byte[]](0, 1, 2, 3, 4, 5, 6, 7, 8, 9)\n"
        "$algo = [System.Security.Cryptography.SHA256]::Create()\n"
        "$algo.TransformBlock($data, 2, 5, $null, 0)\n"
        "$null = $algo.TransformFinalBlock([byte[]]::new(0), 0, 0)\n"
        "[BitConverter]::ToString($algo.Hash).Replace('-', '').ToLowerInvariant()\n"
        "$fs = [System.IO.File]::Create('C:\\Windows\\Temp\\w.bin'); $fs.Write($data, 3, 4); $fs.Dispose()\n"
        "$fs = [System.IO.File]::OpenRead('C:\\Windows\\Temp\\w.bin')\n"
        "$into = [byte[]]::new(8); $fs.Read($into, 2, 6); $fs.Read($into, 0, 8); $fs.Dispose()\n"
        "[BitConverter]::ToString($into)"
    )
    assert out == [5, hashlib.sha256(bytes([2, 3, 4, 5, 6])).hexdigest(), 4, 0, "00-00-03-04-05-06-00-00"]


def test_deflate_stream_fastest_uses_isal_level_1_when_installed(engine: Engine) -> None:
    """CompressionLevel.Fastest with the optional isal package: ISA-L's level 1 (PowerShell 7's
    .NET compresses Fastest with zlib-ng, several times faster than stock zlib), still raw
    deflate that any inflater reads; Optimal stays stock zlib."""
    isal_zlib = pytest.importorskip("isal.isal_zlib", reason="the optional isal package is not installed")
    data = TEXT.encode() * 50
    script = (
        "param($Data, $Level)\n"
        "$packed = [IO.MemoryStream]::new()\n"
        "$deflater = [IO.Compression.DeflateStream]::new($packed, [IO.Compression.CompressionLevel]$Level, $true)\n"
        "$deflater.Write($Data, 0, $Data.Length); $deflater.Dispose()\n"
        ", $packed.ToArray()"
    )
    (fastest,) = engine.ok(script, Data=data, Level="Fastest")
    packer = isal_zlib.compressobj(1, zlib.DEFLATED, -15, 8)
    assert fastest == packer.compress(data) + packer.flush()
    assert zlib.decompress(fastest, -15) == data
    (optimal,) = engine.ok(script, Data=data, Level="Optimal")
    assert optimal == raw_deflate(data, 6)
