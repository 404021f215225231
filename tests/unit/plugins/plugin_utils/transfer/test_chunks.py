"""put_file's chunking: every chunk fits one Send, compressed chunks inflate back to the file."""

from __future__ import annotations

import hashlib
import io
import os
import random
import zlib
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import _chunks as _transfer_chunks
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._chunks import (
    HASHTABLE_OVERHEAD,
    MAX_RAW_CHUNK,
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
    return objects


def check_sizes(objects: list[Any]) -> None:
    for obj in objects:
        if isinstance(obj, dict):
            assert len(obj["Deflate"]) <= BUDGET - HASHTABLE_OVERHEAD
        else:
            assert isinstance(obj, bytes) and 0 < len(obj) <= BUDGET


def test_incompressible_data_goes_as_it_is_and_is_probed_rarely(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = _transfer_chunks.deflate
    monkeypatch.setattr(_transfer_chunks, "deflate", lambda d: calls.append(len(d)) or real(d))
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
    assert BUDGET < chunker.read_size <= MAX_RAW_CHUNK


def test_mixed_file_round_trips_and_every_chunk_fits() -> None:
    data = text(BUDGET * 10, seed=2) + os.urandom(BUDGET * 5 + 123) + text(BUDGET * 20, seed=3) + b"x"
    objects = feed(PutChunker(BUDGET), data)
    check_sizes(objects)
    assert rebuild(objects) == data
    assert any(isinstance(o, dict) for o in objects) and any(isinstance(o, bytes) for o in objects)


def test_a_large_read_that_compresses_too_little_for_one_send_is_split() -> None:
    chunker = PutChunker(BUDGET)
    feed(chunker, text(BUDGET * 8))  # the chunker now reads several budgets at once
    want = chunker.read_size
    assert want > 2 * BUDGET
    # half random, half zeros: compresses to about half, more than one Send
    block = b"".join(os.urandom(512) + bytes(512) for _ in range(want // 1024))
    objects = chunker.encode(block)
    check_sizes(objects)
    assert len(objects) > 1
    assert rebuild(objects) == block


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
