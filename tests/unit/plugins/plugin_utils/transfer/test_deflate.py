"""put_file's deflate: ISA-L when ``isal`` is installed, zlib otherwise; either keeps the size
bound the chunker's Send budget relies on, for any bytes, and writes raw deflate that inflates
(as .NET's DeflateStream does) to the same bytes. fetch_file's inflate refuses bad chunks the
same way with either."""

from __future__ import annotations

import importlib
import os
import random
import sys
import zlib
from collections.abc import Iterator
from types import ModuleType

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import _chunks, _deflate
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._chunks import (
    END_RESERVE,
    SUB_BLOCK,
    CorruptChunk,
    PutChunker,
    inflate_chunk,
)
from ansible_collections.psremoting.core.tests.unit.plugins.plugin_utils.transfer.test_chunks import (
    check_sizes,
    feed,
    rebuild,
)

try:
    from isal import isal_zlib
except ImportError:
    isal_zlib = None

IMPLEMENTATIONS = [
    pytest.param(zlib, id="zlib"),
    pytest.param(
        isal_zlib, id="isal", marks=pytest.mark.skipif(isal_zlib is None, reason="isal is not installed")
    ),
]
#: Piece sizes around the stored-block (65535), symbol-buffer (16K) and 2 KiB steps of the bound.
EDGE_SIZES = [0, 1, 2, 3, 63, 64, 65, 2047, 2048, 2049, 16383, 16384, 16385, 32768, 65535, SUB_BLOCK]


def _text(size: int, rng: random.Random) -> bytes:
    words = [b"service", b"started", b"WinRM", b"listener", b"HTTPS", b"5986", b"ok", b"warning"]
    out = bytearray()
    while len(out) < size:
        out += b"2026-11-22T04:%02d:%02d " % (rng.randrange(60), rng.randrange(60))
        out += b" ".join(rng.choice(words) for _ in range(rng.randrange(3, 10))) + b"\r\n"
    return bytes(out[:size])


def _skewed(size: int, rng: random.Random) -> bytes:
    """Random bytes over a small alphabet: Huffman coding shrinks them a little, no matches."""
    alphabet = bytes(rng.sample(range(256), rng.choice([2, 16, 128, 240, 255])))
    return bytes(rng.choices(alphabet, k=size))


def _mixed(size: int, rng: random.Random) -> bytes:
    out = bytearray()
    while len(out) < size:
        kind = rng.choice([_text, _skewed, lambda n, _r: os.urandom(n)])
        out += kind(rng.randrange(1, 6000), rng)
    return bytes(out[:size])


def _pieces(seed: int) -> Iterator[bytes]:
    """Random, text, skewed and mixed pieces of the edge sizes and of random sizes."""
    rng = random.Random(seed)
    makers = [lambda n, _r: os.urandom(n), _text, _skewed, _mixed, lambda n, _r: bytes(n)]
    for size in EDGE_SIZES:
        for make in makers:
            yield make(size, rng)
    for _ in range(150):
        size = rng.choice([rng.randrange(0, 100), rng.randrange(0, SUB_BLOCK + 1), SUB_BLOCK])
        yield rng.choice(makers)(size, rng)


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize("seed", [1, 2])
def test_sync_flushed_pieces_keep_the_bound_for_any_bytes(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, seed: int
) -> None:
    """Every piece the chunker deflates (after whatever came before it in the same chunk) and
    sync-flushes is at most n + n/2048 + 64 bytes, the end of the stream at most END_RESERVE,
    and the whole inflates to the input."""
    monkeypatch.setattr(_deflate, "IMPLEMENTATION", module)
    packer = _deflate.compressor()
    sent: list[bytes] = []
    packed: list[bytes] = []
    for piece in _pieces(seed):
        out = packer.compress(piece) + packer.flush(_deflate.SYNC_FLUSH)
        assert len(out) <= len(piece) + len(piece) // 2048 + 64, (len(piece), len(out))
        sent.append(piece)
        packed.append(out)
    end = packer.flush()
    assert len(end) <= END_RESERVE
    assert zlib.decompress(b"".join(packed) + end, -15) == b"".join(sent)


def test_isal_is_used_when_installed_and_zlib_when_not(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.setitem(sys.modules, "isal", None)  # makes `from isal import ...` fail
        without = importlib.reload(_deflate)
        assert without.IMPLEMENTATION is zlib
        data = _text(300_000, random.Random(3))
        packer = without.compressor()
        assert zlib.decompress(packer.compress(data) + packer.flush(), -15) == data
    finally:
        monkeypatch.undo()
        importlib.reload(_deflate)
    assert _deflate.IMPLEMENTATION is (isal_zlib if isal_zlib is not None else zlib)
    assert _chunks._deflate is _deflate  # the reload replaced the module object's contents only


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize("budget", [4096, 64 * 1024, 150_000])
def test_chunks_fit_their_send_and_round_trip(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, budget: int
) -> None:
    """The chunker with either compressor: text, then random, then text again (compressed
    chunks followed by data that does not compress) fits every Send and rebuilds the file."""
    monkeypatch.setattr(_deflate, "IMPLEMENTATION", module)
    rng = random.Random(budget)
    data = _text(2_000_000, rng) + os.urandom(300_000) + _mixed(700_000, rng) + _text(500_000, rng)
    chunker = PutChunker(budget)
    objects = feed(chunker, data)
    check_sizes(objects, budget)
    assert rebuild(objects) == data
    assert chunker.stats.compressed_chunks >= 1 and chunker.stats.plain_chunks >= 1


def _zlib_deflate(data: bytes) -> bytes:
    """What the fetch script's DeflateStream sends (winhost models it with zlib)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
def test_inflate_chunk_with_either_decompressor(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
    """fetch's inflate: a chunk inflates to its bytes up to the limit; more than the limit
    (a deflate bomb), data that is not deflate and a cut chunk are refused as CorruptChunk."""
    monkeypatch.setattr(_deflate, "IMPLEMENTATION", module)
    text = _text(1_000_000, random.Random(5))
    assert inflate_chunk(_zlib_deflate(text), len(text)) == text
    assert inflate_chunk(bytearray(_zlib_deflate(b"")), 10) == b""
    with pytest.raises(CorruptChunk, match="inflates to more than 999999 bytes"):
        inflate_chunk(_zlib_deflate(text), len(text) - 1)
    with pytest.raises(CorruptChunk, match="inflates to more than"):
        inflate_chunk(_zlib_deflate(bytes(20_000_000)), 1_000_000)
    with pytest.raises(CorruptChunk, match="not valid deflate data"):
        inflate_chunk(b"\xff\xff\xff\xff not deflate", 1000)
    with pytest.raises(CorruptChunk, match="truncated"):
        inflate_chunk(_zlib_deflate(text)[:-40], len(text))
