# for internal use by psremoting.core only; not a public API
"""How put_file cuts a local file into pipeline input for the put_file v2 script, and how
fetch_file inflates the compressed chunks of the fetch_file v2 script (stdlib only).

Every chunk must fit one WSMan Send (``budget`` raw bytes, see ``_client.input_chunk_size``):
PSRP allows nothing but pipeline objects there, serialized as base64 inside CLIXML inside the
base64 of the Send body, so every byte costs about 1.78 bytes on the wire and one chunk costs one
round trip. A chunk that compresses is sent as ``{"Deflate": <raw deflate>}`` (RFC 1951, what
.NET's ``DeflateStream`` reads), and then more of the file is read at once so that the compressed
chunk still fills a Send: a text file travels in a fraction of the round trips. A chunk that does
not shrink by at least ``MIN_SAVING`` is sent as it is, and compression is then only tried again
every ``PROBE_EVERY`` chunks, so an already compressed file (zip, msi, media) costs almost no
extra CPU.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

#: Most raw bytes read for one compressed chunk: bounds the memory each side holds for a chunk
#: (the script inflates a chunk into a MemoryStream before writing it).
MAX_RAW_CHUNK = 8 * 1024 * 1024
#: A chunk is sent compressed only when that saves at least 10%.
MIN_SAVING = 0.9
#: After a chunk that did not compress, the next PROBE_EVERY - 1 chunks are sent as they are.
PROBE_EVERY = 16
#: zlib level 1: several hundred MB/s on text, far faster than the link it saves.
LEVEL = 1
#: Fill a compressed Send to this share of the budget, leaving room for a worse next chunk.
FILL = 0.85
#: Raw-byte equivalent of the hashtable around a compressed chunk (<Obj><TN>..<DCT><En>..), so
#: that a compressed chunk still fits the one Send a plain chunk of ``budget`` bytes fills.
HASHTABLE_OVERHEAD = 256


def deflate(data: bytes) -> bytes:
    """Raw deflate (no zlib header or checksum), as ``System.IO.Compression.DeflateStream`` reads."""
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@dataclass
class ChunkStats:
    raw_bytes: int = 0
    sent_bytes: int = 0  # payload bytes before CLIXML/base64 framing
    compressed_chunks: int = 0
    plain_chunks: int = 0


@dataclass
class PutChunker:
    """Turns the bytes of a file into put_file v2 pipeline input objects.

    ``budget``: raw bytes of one ``byte[]`` object that fill a Send. ``compress``: try deflate.
    """

    budget: int
    compress: bool = True
    stats: ChunkStats = field(default_factory=ChunkStats)
    _want: int = 0
    _skip: int = 0

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError("budget must be positive")
        self._want = self.budget

    @property
    def read_size(self) -> int:
        """How many bytes of the file to read for the next chunk."""
        return self._want

    def encode(self, data: bytes) -> list[Any]:
        """Pipeline objects carrying ``data``, in order: ``bytes`` and/or ``{"Deflate": bytes}``."""
        self.stats.raw_bytes += len(data)
        if not data:
            return []
        if self.compress and self._skip == 0:
            packed = deflate(data)
            if len(packed) <= len(data) * MIN_SAVING:
                if len(packed) <= self._packed_limit:
                    # Read enough next time for the compressed chunk to fill about one Send.
                    ratio = max(len(packed), 1) / len(data)
                    self._want = max(self.budget, min(MAX_RAW_CHUNK, int(self.budget * FILL / ratio)))
                    return [self._packed(packed)]
                # Compresses, but not into one Send: compress smaller pieces.
                pieces = -(-len(packed) // int(self.budget * FILL))
                size = -(-len(data) // pieces)
                self._want = max(self.budget, size)
                parts = (data[i : i + size] for i in range(0, len(data), size))
                return [obj for part in parts for obj in self._encode_piece(part)]
            self._skip = PROBE_EVERY - 1
        elif self._skip:
            self._skip -= 1
        self._want = self.budget
        return self._plain(data)

    @property
    def _packed_limit(self) -> int:
        return max(1, self.budget - HASHTABLE_OVERHEAD)

    def _encode_piece(self, data: bytes) -> list[Any]:
        packed = deflate(data)
        if len(packed) <= self._packed_limit and len(packed) <= len(data) * MIN_SAVING:
            return [self._packed(packed)]
        return self._plain(data)

    def _packed(self, packed: bytes) -> dict[str, bytes]:
        self.stats.compressed_chunks += 1
        self.stats.sent_bytes += len(packed)
        return {"Deflate": packed}

    def _plain(self, data: bytes) -> list[Any]:
        pieces = [data[i : i + self.budget] for i in range(0, len(data), self.budget)]
        self.stats.plain_chunks += len(pieces)
        self.stats.sent_bytes += len(data)
        return pieces


def put_input(source: IO[bytes], chunker: PutChunker, digest: Any) -> Iterator[list[Any]]:
    """pypsrp input generator: one list of objects per read, then the SHA256 hex of the file.

    ``digest`` (a hashlib object) is fed the raw bytes, which is what the script hashes after
    inflating.
    """
    while data := source.read(chunker.read_size):
        digest.update(data)
        for obj in chunker.encode(data):
            yield [obj]
    yield [digest.hexdigest()]


class CorruptChunk(ValueError):
    """A compressed chunk from the host does not inflate, or inflates to more than it may."""


def inflate_chunk(packed: bytes, limit: int) -> bytes:
    """Inflate one fetch_file chunk: raw deflate of at most ``limit`` bytes (the script's
    BufferSize). More than that is refused rather than held in memory (a deflate bomb)."""
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(bytes(packed), limit + 1)
    except zlib.error as exc:
        raise CorruptChunk(f"a compressed chunk from the host is not valid deflate data ({exc})") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise CorruptChunk(f"a compressed chunk from the host inflates to more than {limit} bytes")
    if not inflater.eof:
        raise CorruptChunk("a compressed chunk from the host is truncated")
    return data
