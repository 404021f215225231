"""put_file's chunking: every chunk fits one Send (compressed ones fill it), compressed chunks
inflate back to the file."""

from __future__ import annotations

import hashlib
import io
import os
import random
import zlib
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._chunks import (
    HASHTABLE_OVERHEAD,
    MAX_RAW_CHUNK,
    MIN_ROOM,
    PROBE_EVERY,
    PutChunker,
    put_input,
)

BUDGET = 64 * 1024


def text(size: int, seed: int = 1) -> bytes:
    """Log-like lines: compressible about 5-10x, like configuration files, scripts and logs."""
    rng = random.Random(seed)
    words = [b"service", b"started", b"WinRM", b"listener", b"HTTPS", b"5986", b"ok", b"warning", b"user"]
    out = bytearray()
    while len(out) < size:
        out += b"2026-11-22T04:%02d:%02d " % (rng.randrange(60), rng.randrange(60))
        out += b" ".join(rng.choice(words) for _ in range(8)) + b"\r\n"
    return bytes(out[:size])


def rebuild(objects: list[Any]) -> bytes:
    """What the put_file v2 script writes: byte[] as is, @{Deflate} inflated."""
    out = bytearray()
    for obj in objects:
        if isinstance(obj, dict):
            out += zlib.decompress(obj["Deflate"], -15)
        else:
            out += obj
    return bytes(out)


def feed(chunker: PutChunker, data: bytes) -> list[Any]:
    objects: list[Any] = []
    offset = 0
    while offset < len(data):
        piece = data[offset : offset + chunker.read_size]
        offset += len(piece)
        objects += chunker.encode(piece)
    return objects + chunker.flush()


def check_sizes(objects: list[Any], budget: int = BUDGET) -> None:
    for obj in objects:
        if isinstance(obj, dict):
            assert len(obj["Deflate"]) <= budget - HASHTABLE_OVERHEAD
        else:
            assert isinstance(obj, bytes) and 0 < len(obj) <= budget


def test_incompressible_data_goes_as_it_is_and_is_probed_rarely(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = PutChunker._pack
    monkeypatch.setattr(
        PutChunker, "_pack", lambda self, buf, pos, final: calls.append(pos) or real(self, buf, pos, final)
    )
    data = os.urandom(BUDGET * 40)
    chunker = PutChunker(BUDGET)
    objects = feed(chunker, data)
    check_sizes(objects)
    assert all(isinstance(o, bytes) for o in objects)
    assert rebuild(objects) == data
    assert len(objects) == 40
    # one attempt, then one every PROBE_EVERY chunks
    assert len(calls) == -(-40 // PROBE_EVERY)
    assert chunker.stats.compressed_chunks == 0 and chunker.stats.sent_bytes == len(data)


def test_text_is_compressed_and_read_in_larger_pieces() -> None:
    data = text(BUDGET * 60)
    chunker = PutChunker(BUDGET)
    objects = feed(chunker, data)
    check_sizes(objects)
    assert rebuild(objects) == data
    assert all(isinstance(o, dict) for o in objects)
    # each Send now carries several budgets' worth of the file
    assert len(objects) <= 60 / 3
    assert chunker.stats.sent_bytes < len(data) / 3
    assert BUDGET < chunker.read_size <= MAX_RAW_CHUNK * 5 // 4


def test_compressed_chunks_fill_their_send() -> None:
    """Each compressed chunk but the file's last is closed only when less than MIN_ROOM (plus
    the final block) is left of its Send: a text file takes as few Sends as its deflate allows."""
    data = text(BUDGET * 80, seed=4)
    objects = feed(PutChunker(BUDGET), data)
    check_sizes(objects)
    assert rebuild(objects) == data
    limit = BUDGET - HASHTABLE_OVERHEAD
    sizes = [len(o["Deflate"]) for o in objects]
    assert all(size > limit - MIN_ROOM - 64 for size in sizes[:-1]), sizes


def test_data_that_compresses_worse_than_the_last_chunk_still_fits() -> None:
    """After text (the chunker reads several budgets at once), half-random data and then random
    data: no chunk exceeds its Send, whatever the bytes; the file round-trips."""
    chunker = PutChunker(BUDGET)
    data = text(BUDGET * 8)
    block = b"".join(os.urandom(512) + bytes(512) for _ in range(chunker.read_size // 512))
    data += block + os.urandom(BUDGET * 3) + text(BUDGET * 4, seed=5)
    objects = feed(chunker, data)
    check_sizes(objects)
    assert rebuild(objects) == data
    assert any(isinstance(o, bytes) for o in objects)


def test_a_compressed_chunk_inflates_to_at_most_max_raw_chunk() -> None:
    """Zeros deflate about 1000x: a chunk still carries at most MAX_RAW_CHUNK bytes, the memory
    the host's script holds to inflate it."""
    data = bytes(MAX_RAW_CHUNK * 2 + 5000)
    objects = feed(PutChunker(BUDGET), data)
    check_sizes(objects)
    assert [len(zlib.decompress(o["Deflate"], -15)) for o in objects] == [MAX_RAW_CHUNK, MAX_RAW_CHUNK, 5000]


def test_a_small_budget_still_fits_every_chunk() -> None:
    """The smallest input chunk (1024 bytes, input_chunk_size's floor) holds a compressed chunk
    too."""
    chunker = PutChunker(1024)
    data = text(50_000, seed=6) + os.urandom(3000)
    objects = feed(chunker, data)
    assert rebuild(objects) == data
    for obj in objects:
        size = len(obj["Deflate"]) if isinstance(obj, dict) else len(obj)
        assert size <= (1024 - HASHTABLE_OVERHEAD if isinstance(obj, dict) else 1024)
    assert chunker.stats.compressed_chunks > 0


def test_mixed_file_round_trips_and_every_chunk_fits() -> None:
    data = text(BUDGET * 10, seed=2) + os.urandom(BUDGET * 5 + 123) + text(BUDGET * 20, seed=3) + b"x"
    objects = feed(PutChunker(BUDGET), data)
    check_sizes(objects)
    assert rebuild(objects) == data
    assert any(isinstance(o, dict) for o in objects) and any(isinstance(o, bytes) for o in objects)


def test_compression_can_be_turned_off() -> None:
    data = text(BUDGET * 3)
    objects = feed(PutChunker(BUDGET, compress=False), data)
    assert [len(o) for o in objects] == [BUDGET, BUDGET, BUDGET]
    assert rebuild(objects) == data


def test_put_input_ends_with_the_sha256_of_the_file() -> None:
    data = text(BUDGET * 3 + 17) + os.urandom(1000)
    digest = hashlib.sha256()
    items = list(put_input(io.BytesIO(data), PutChunker(BUDGET), digest))
    assert all(len(item) == 1 for item in items)
    assert items[-1] == [hashlib.sha256(data).hexdigest()]
    assert rebuild([item[0] for item in items[:-1]]) == data


def test_empty_file_sends_only_the_digest() -> None:
    items = list(put_input(io.BytesIO(b""), PutChunker(BUDGET), hashlib.sha256()))
    assert items == [[hashlib.sha256(b"").hexdigest()]]
