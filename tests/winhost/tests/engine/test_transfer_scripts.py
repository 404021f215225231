"""psremoting.core's put_file / fetch_file scripts (plugins/plugin_utils/transfer/_scripts.py) run
unchanged in the evaluator: FileStream, SHA256 TransformBlock, [BitConverter], [byte[]]::new,
[Array]::Copy, ValueFromPipeline parameters in a process block, `, $chunk` output, and put_file
v2's compressed chunks (a hashtable ``@{ Deflate = byte[] }`` inflated with Add-Type,
MemoryStream and DeflateStream)."""

from __future__ import annotations

import hashlib
import importlib.util
import random
import zlib
from pathlib import Path
from types import ModuleType

import pytest
from psrpcore import Command
from psrpcore.types import deserialize, serialize

from winhost.engine.model import Machine

from .helpers import Engine

SCRIPTS_FILE = Path(__file__).resolve().parents[4] / "plugins" / "plugin_utils" / "transfer" / "_scripts.py"


@pytest.fixture(scope="module")
def scripts() -> ModuleType:
    if not SCRIPTS_FILE.exists():
        pytest.skip(f"{SCRIPTS_FILE} not present (tests/winhost used outside the collection checkout)")
    spec = importlib.util.spec_from_file_location("_transfer_scripts", SCRIPTS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _command(script: str, **params: object) -> Command:
    """One transfer script with its parameters, in order."""
    cmd = Command(script, is_script=True)
    for name, value in params.items():
        cmd.add_parameter(name, value)
    return cmd


def test_put_file(engine: Engine, machine: Machine, scripts: ModuleType) -> None:
    payload = bytes(range(256)) * 300
    chunks = [payload[i : i + 20000] for i in range(0, len(payload), 20000)]
    digest = hashlib.sha256(payload).hexdigest()
    cmd = Command(scripts.PUT_FILE_SCRIPT, is_script=True).add_parameter("Path", "C:\\Windows\\Temp\\up.bin")
    result = engine.commands([cmd], input=iter([*chunks, digest]))
    assert result.failure is None, result.failure and result.failure.Exception.Message
    (summary,) = result.output
    assert (summary.sha256, summary.length) == (digest, len(payload))
    assert (Path(machine.sandbox_dir) / "Windows" / "Temp" / "up.bin").read_bytes() == payload
    assert not list((Path(machine.sandbox_dir) / "Windows" / "Temp").glob("*.partial"))


def test_put_file_hash_mismatch_leaves_nothing(engine: Engine, machine: Machine, scripts: ModuleType) -> None:
    cmd = Command(scripts.PUT_FILE_SCRIPT, is_script=True).add_parameter("Path", "C:\\Windows\\Temp\\bad.bin")
    result = engine.commands([cmd], input=iter([b"data", "0" * 64]))
    assert result.failure is not None
    assert "does not match" in str(result.failure.Exception.Message)
    assert list((Path(machine.sandbox_dir) / "Windows" / "Temp").iterdir()) == []


def _deflate_chunk(data: bytes) -> object:
    """A compressed chunk as the engine receives it from a client: a deserialized Hashtable."""
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return deserialize(serialize({"Deflate": packer.compress(data) + packer.flush()}, None), None)


def test_put_file_v2_deflate_chunks(engine: Engine, machine: Machine, scripts: ModuleType) -> None:
    assert scripts.PUT_FILE_SCRIPT.startswith("# psremoting.core put_file v5")
    payload = (b"compressible " * 5000) + bytes(range(256)) * 40
    pieces = [payload[i : i + 16384] for i in range(0, len(payload), 16384)]
    chunks = [_deflate_chunk(p) if i % 2 == 0 else p for i, p in enumerate(pieces)]
    digest = hashlib.sha256(payload).hexdigest()
    cmd = Command(scripts.PUT_FILE_SCRIPT, is_script=True).add_parameter("Path", "C:\\Windows\\Temp\\z.bin")
    result = engine.commands([cmd], input=iter([*chunks, digest]))
    assert result.failure is None, result.failure and result.failure.Exception.Message
    (summary,) = result.output
    assert (summary.sha256, summary.length) == (digest, len(payload))
    assert (Path(machine.sandbox_dir) / "Windows" / "Temp" / "z.bin").read_bytes() == payload


def test_put_file_v2_corrupt_chunk_leaves_nothing(
    engine: Engine, machine: Machine, scripts: ModuleType
) -> None:
    corrupt = deserialize(serialize({"Deflate": b"\x07not deflate"}, None), None)
    cmd = Command(scripts.PUT_FILE_SCRIPT, is_script=True).add_parameter("Path", "C:\\Windows\\Temp\\z.bin")
    result = engine.commands([cmd], input=iter([b"plain", corrupt, "0" * 64]))
    assert result.failure is not None
    assert result.failure.FullyQualifiedErrorId == "InvalidDataException"
    assert "unsupported compression method" in str(result.failure.Exception.Message)
    assert list((Path(machine.sandbox_dir) / "Windows" / "Temp").iterdir()) == []


def test_fetch_file(engine: Engine, machine: Machine, scripts: ModuleType) -> None:
    payload = b"0123456789" * 1000
    (Path(machine.sandbox()) / "down.bin").write_bytes(payload)
    cmd = _command(scripts.FETCH_FILE_SCRIPT, Path="C:\\down.bin", BufferSize=4096)
    result = engine.commands([cmd])
    assert result.failure is None, result.failure and result.failure.Exception.Message
    out = result.output
    assert out[:2] == ["[FILE]", "RESUME:0"]
    assert b"".join(out[2:-1]) == payload
    assert [len(c) for c in out[2:-1]] == [4096, 4096, 1808]
    assert out[-1] == "SHA256:" + hashlib.sha256(payload).hexdigest()


def _fetched(out: list[object]) -> tuple[bytes, list[str]]:
    """The bytes a fetch's chunks carry, and each chunk's kind ("plain" or "deflate")."""
    data, kinds = b"", []
    for chunk in out:
        if isinstance(chunk, dict):
            data += zlib.decompress(chunk["Deflate"], -15)
            kinds.append("deflate")
        else:
            assert isinstance(chunk, bytes)
            data += chunk
            kinds.append("plain")
    return data, kinds


def _fetch_compressed(
    engine: Engine, machine: Machine, scripts: ModuleType, content: bytes, *, buffer_size: int, read_size: int
) -> list[object]:
    """The fetch script's output for ``content`` (as C:\\fetched.bin) with -Compress."""
    (Path(machine.sandbox()) / "fetched.bin").write_bytes(content)
    cmd = _command(
        scripts.FETCH_FILE_SCRIPT,
        Path="C:\\fetched.bin",
        BufferSize=buffer_size,
        Compress=True,
        CompressedReadSize=read_size,
    )
    result = engine.commands([cmd])
    assert result.failure is None, result.failure and result.failure.Exception.Message
    return list(result.output)


def test_fetch_file_v4_reads_compressible_data_in_larger_reads(
    engine: Engine, machine: Machine, scripts: ModuleType
) -> None:
    """With -Compress, the read after one that compressed is CompressedReadSize long: 200 KB of
    text in 16 KiB / 64 KiB reads is one 16 KiB chunk, then 64 KiB chunks, all deflated."""
    assert scripts.FETCH_FILE_SCRIPT.startswith("# psremoting.core fetch_file v4")
    payload = b"".join(b"2026-11-22T10:%02d:00 service %d started ok\r\n" % (i % 60, i) for i in range(5000))
    out = _fetch_compressed(engine, machine, scripts, payload, buffer_size=16384, read_size=65536)
    data, kinds = _fetched(out[2:-1])
    assert data == payload
    assert kinds == ["deflate"] * len(kinds)
    sizes = [len(zlib.decompress(c["Deflate"], -15)) for c in out[2:-1]]
    assert sizes[0] == 16384 and set(sizes[1:-1]) == {65536} and sizes[-1] <= 65536
    assert out[-1] == "SHA256:" + hashlib.sha256(payload).hexdigest()


def test_fetch_file_v4_sends_incompressible_data_plain_and_probes_a_sample(
    engine: Engine, machine: Machine, scripts: ModuleType
) -> None:
    """Random bytes never shrink: the first read's 64 KiB sample does not, so it and the next 15
    are BufferSize byte[]s; the 17th read (text) is tried again, a sample first, and compresses:
    the rest follows deflated, in larger reads."""
    noise = random.Random(7).randbytes(16 * 131072)
    text = b"log line that repeats and repeats\r\n" * 20000
    out = _fetch_compressed(engine, machine, scripts, noise + text, buffer_size=131072, read_size=524288)
    data, kinds = _fetched(out[2:-1])
    assert data == noise + text
    assert kinds[:16] == ["plain"] * 16
    assert kinds[16:] == ["deflate"] * 3  # 131072 bytes, then 524288, then the last 64,640
    assert [len(c) for c in out[2:18]] == [131072] * 16
    assert out[-1] == "SHA256:" + hashlib.sha256(noise + text).hexdigest()


def test_fetch_directory_and_missing(engine: Engine, scripts: ModuleType) -> None:
    cmd = Command(scripts.FETCH_FILE_SCRIPT, is_script=True).add_parameter("Path", "C:\\Windows")
    assert engine.commands([cmd.add_parameter("BufferSize", 10)]).output == ["[DIR]"]
    missing = Command(scripts.FETCH_FILE_SCRIPT, is_script=True)
    missing.add_parameter("Path", "C:\\nope.bin").add_parameter("BufferSize", 10)
    result = engine.commands([missing])
    assert result.failure is not None
    assert "Could not find file" in str(result.failure.Exception.Message)


def _partial_dir(machine: Machine) -> Path:
    return Path(machine.sandbox_dir) / "Windows" / "Temp"


def test_put_file_resumes_from_a_verified_partial(
    engine: Engine, machine: Machine, scripts: ModuleType
) -> None:
    """A put cut off after 30,000 bytes left ``up.bin.psrp-partial``: the probe reports its
    length and hash, put_file v3 with that Offset/PrefixSha256 takes only the rest and checks the
    hash of the whole file."""
    payload = bytes(range(256)) * 300
    (_partial_dir(machine) / "up.bin.psrp-partial").write_bytes(payload[:30000])
    probe = _command(scripts.PUT_PROBE_SCRIPT, Path="C:\\Windows\\Temp\\up.bin")
    (found,) = engine.commands([probe]).output
    assert (found.length, found.sha256) == (30000, hashlib.sha256(payload[:30000]).hexdigest())
    cmd = _command(
        scripts.PUT_FILE_SCRIPT, Path="C:\\Windows\\Temp\\up.bin", Offset=30000, PrefixSha256=found.sha256
    )
    rest = payload[30000:]
    result = engine.commands(
        [cmd], input=iter([rest[:20000], rest[20000:], hashlib.sha256(payload).hexdigest()])
    )
    assert result.failure is None, result.failure and result.failure.Exception.Message
    (summary,) = result.output
    assert (summary.sha256, summary.length) == (hashlib.sha256(payload).hexdigest(), len(payload))
    assert sorted(p.name for p in _partial_dir(machine).iterdir()) == ["up.bin"]
    assert (_partial_dir(machine) / "up.bin").read_bytes() == payload


def test_put_file_refuses_a_partial_that_changed_since_the_probe(
    engine: Engine, machine: Machine, scripts: ModuleType
) -> None:
    (_partial_dir(machine) / "up.bin.psrp-partial").write_bytes(b"x" * 100)
    cmd = _command(
        scripts.PUT_FILE_SCRIPT,
        Path="C:\\Windows\\Temp\\up.bin",
        Offset=100,
        PrefixSha256=hashlib.sha256(b"y" * 100).hexdigest(),
    )
    result = engine.commands([cmd], input=iter([b"more", "0" * 64]))
    assert result.failure is not None
    assert "resume refused" in str(result.failure.Exception.Message)
    assert not (_partial_dir(machine) / "up.bin").exists()


def test_put_probe_without_a_partial_says_nothing(engine: Engine, scripts: ModuleType) -> None:
    probe = _command(scripts.PUT_PROBE_SCRIPT, Path="C:\\Windows\\Temp\\no.bin")
    result = engine.commands([probe])
    assert result.failure is None and result.output == []


@pytest.mark.parametrize(("prefix", "resumed"), [(b"0123456789" * 500, 5000), (b"changed!!!" * 500, 0)])
def test_fetch_file_resumes_only_from_a_matching_prefix(
    engine: Engine, machine: Machine, scripts: ModuleType, prefix: bytes, resumed: int
) -> None:
    payload = b"0123456789" * 1000
    (Path(machine.sandbox()) / "down.bin").write_bytes(payload)
    cmd = _command(
        scripts.FETCH_FILE_SCRIPT,
        Path="C:\\down.bin",
        BufferSize=4096,
        Offset=len(prefix),
        PrefixSha256=hashlib.sha256(prefix).hexdigest(),
    )
    result = engine.commands([cmd])
    assert result.failure is None, result.failure and result.failure.Exception.Message
    out = result.output
    assert out[:2] == ["[FILE]", f"RESUME:{resumed}"]
    assert b"".join(out[2:-1]) == payload[resumed:]
    assert out[-1] == "SHA256:" + hashlib.sha256(payload).hexdigest()


def test_put_file_refuses_a_partial_another_put_wrote_to(
    engine: Engine, machine: Machine, scripts: ModuleType
) -> None:
    """Two puts to one path share ``<Path>.psrp-partial``: bytes another put appends between this
    put's chunks make the file on disk differ from the stream this put hashed, so the put is
    refused and the partial deleted instead of renaming a mixed file as verified."""
    payload = bytes(range(256)) * 300
    partial = _partial_dir(machine) / "up.bin.psrp-partial"

    def chunks_with_an_intruder() -> object:
        yield payload[:20000]
        with partial.open("ab") as other_put:
            other_put.write(b"another put's chunk")
        yield payload[20000:]
        yield hashlib.sha256(payload).hexdigest()

    cmd = _command(scripts.PUT_FILE_SCRIPT, Path="C:\\Windows\\Temp\\up.bin")
    result = engine.commands([cmd], input=chunks_with_an_intruder())
    assert result.failure is not None
    message = str(result.failure.Exception.Message)
    assert "up.bin.psrp-partial changed on the host while it was written" in message
    assert "C:\\Windows\\Temp\\up.bin was not replaced" in message
    assert list(_partial_dir(machine).iterdir()) == []
