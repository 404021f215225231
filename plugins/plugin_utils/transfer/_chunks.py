# for internal use by psremoting.core only; not a public API
"""How put_file cuts a local file into pipeline input for the put_file v2 script, and how
fetch_file inflates the compressed chunks of the fetch_file v2 script (deflate: ``_deflate``).

Every chunk must fit one WSMan Send (``budget`` raw bytes, see ``_client.input_chunk_size``):
PSRP allows nothing but pipeline objects there, serialized as base64 inside CLIXML inside the
base64 of the Send body, so every byte costs about 1.78 bytes on the wire and one chunk costs one
round trip. A chunk that compresses is sent as ``{"Deflate": <raw deflate>}`` (RFC 1951, what
.NET's ``DeflateStream`` reads): the file is deflated ``SUB_BLOCK`` bytes at a time, each piece
ended with a sync flush so that the chunk's exact size is known, until the chunk is full (the
last pieces are small enough that even incompressible bytes would fit), so a compressed chunk
fills its Send and a text file travels in a fraction of the round trips; what was read but did
not fit starts the next chunk. A chunk whose first piece does not shrink by at least
``MIN_SAVING`` is sent as it is, and compression is then only tried again every ``PROBE_EVERY``
chunks, so an already compressed file (zip, msi, media) costs almost no extra CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import _deflate

#: Most raw bytes in one compressed chunk: bounds the memory the controller holds for a chunk
#: (the put_file v5 script inflates a chunk through a 1 MiB buffer, whatever its size).
MAX_RAW_CHUNK = 8 * 1024 * 1024
#: A chunk is sent compressed only when its first piece shrinks by at least 10%.
MIN_SAVING = 0.9
#: After a chunk that did not compress, the next PROBE_EVERY - 1 chunks are sent as they are.
PROBE_EVERY = 16
#: Raw bytes deflated (and sync-flushed) at a time while a compressed chunk fills up.
SUB_BLOCK = 64 * 1024
#: A compressed chunk is closed when less room than this is left in its Send.
MIN_ROOM = 1024
#: Raw-byte equivalent of the hashtable around a compressed chunk (<Obj><TN>..<DCT><En>..), so
#: that a compressed chunk still fits the one Send a plain chunk of ``budget`` bytes fills.
HASHTABLE_OVERHEAD = 256
#: Bytes the final (empty) deflate block and the sync flushes' alignment may add.
END_RESERVE = 16
#: Before the first compressed chunk: raw bytes per packed byte assumed for reading ahead.
FIRST_RATIO = 4.0


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
    Feed it ``read_size`` bytes at a time with :meth:`encode`, then call :meth:`flush` once.
    """

    budget: int
    compress: bool = True
    stats: ChunkStats = field(default_factory=ChunkStats)
    _skip: int = 0
    _ratio: float = FIRST_RATIO  # raw bytes per packed byte of the last compressed chunk
    _carry: bytes = b""  # read but not sent yet: the start of the next chunk

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError("budget must be positive")

    @property
    def _packed_limit(self) -> int:
        return max(1, self.budget - HASHTABLE_OVERHEAD)

    @property
    def _compressing(self) -> bool:
        return self.compress and self._skip == 0

    @property
    def _chunk_raw(self) -> int:
        """Raw bytes the next chunk is expected to take."""
        if not self._compressing:
            return self.budget
        return max(self.budget, min(MAX_RAW_CHUNK, int(self._packed_limit * self._ratio)))

    @property
    def read_size(self) -> int:
        """How many bytes of the file to read next (a little more than the next chunk takes)."""
        return max(SUB_BLOCK, self._chunk_raw + self._chunk_raw // 4 - len(self._carry))

    def encode(self, data: bytes) -> list[Any]:
        """Pipeline objects for the chunks that ``data`` (after what was carried) fills, in
        order: ``bytes`` and/or ``{"Deflate": bytes}``; the rest is carried to the next call."""
        self.stats.raw_bytes += len(data)
        return self._chunks(self._carry + data if self._carry else data, final=False)

    def flush(self) -> list[Any]:
        """Pipeline objects for what is still carried (the end of the file)."""
        buf, self._carry = self._carry, b""
        return self._chunks(buf, final=True)

    def _chunks(self, buf: bytes, final: bool) -> list[Any]:
        out: list[Any] = []
        pos = 0
        while len(buf) - pos >= (1 if final else self._chunk_raw):
            made = self._chunk(buf, pos, final)
            if made is None:  # compresses better than expected: wait for more of the file
                break
            out.append(made[0])
            pos = made[1]
        self._carry = buf[pos:]
        return out

    def _chunk(self, buf: bytes, pos: int, final: bool) -> tuple[Any, int] | None:
        """The next chunk from ``buf[pos:]`` and where the one after it starts; None when a
        compressed chunk would end before its Send is full and more of the file follows."""
        if self._compressing:
            packed = self._pack(buf, pos, final)
            if isinstance(packed, tuple):
                return packed
            if packed == "short":
                return None
            self._skip = PROBE_EVERY - 1
        elif self._skip:
            self._skip -= 1
        piece = buf[pos : pos + self.budget]
        self.stats.plain_chunks += 1
        self.stats.sent_bytes += len(piece)
        return piece, pos + len(piece)

    def _pack(self, buf: bytes, pos: int, final: bool) -> tuple[dict[str, bytes], int] | str:
        """A compressed chunk from ``buf[pos:]`` that fills its Send; "plain" when its first
        piece does not shrink by MIN_SAVING (the chunk goes as it is); "short" when ``buf`` ends
        before the chunk is full and more of the file follows (the ratio seen so far then sizes
        the next read)."""
        view = memoryview(buf)
        packer = _deflate.compressor()
        start, end = pos, min(len(buf), pos + MAX_RAW_CHUNK)
        parts: list[bytes] = []
        size = 0
        room = self._packed_limit - END_RESERVE
        while pos < end and (room >= MIN_ROOM or pos == start):
            # never more than the Send can still take, whatever the bytes are: sync-flushed deflate
            # of n bytes is at most n + n/2048 + 64 (stored blocks of at most 16K symbols, 5
            # header bytes each, and the flush's empty block)
            take = min(SUB_BLOCK, end - pos, max(1, (room - 64) * 2047 // 2048))
            parts += (packer.compress(view[pos : pos + take]), packer.flush(_deflate.SYNC_FLUSH))
            size += len(parts[-2]) + len(parts[-1])
            if pos == start and size > take * MIN_SAVING:
                return "plain"
            room = self._packed_limit - END_RESERVE - size
            pos += take
        self._ratio = (pos - start) / max(size, 1)
        if not final and pos == len(buf) and room >= MIN_ROOM and pos - start < MAX_RAW_CHUNK:
            return "short"
        parts.append(packer.flush())
        packed = b"".join(parts)
        self.stats.compressed_chunks += 1
        self.stats.sent_bytes += len(packed)
        return {"Deflate": packed}, pos


def put_input(source: IO[bytes], chunker: PutChunker, digest: Any) -> Iterator[list[Any]]:
    """pypsrp input generator: one list of objects per chunk, then the SHA256 hex of the file.

    ``digest`` (a hashlib object) is fed the raw bytes, which is what the script hashes after
    inflating.
    """
    while data := source.read(chunker.read_size):
        digest.update(data)
        for obj in chunker.encode(data):
            yield [obj]
    for obj in chunker.flush():
        yield [obj]
    yield [digest.hexdigest()]


class CorruptChunk(ValueError):
    """A compressed chunk from the host does not inflate, or inflates to more than it may."""


def inflate_chunk(packed: bytes, limit: int) -> bytes:
    """Inflate one fetch_file chunk: raw deflate of at most ``limit`` bytes (the script's
    BufferSize). More than that is refused rather than held in memory (a deflate bomb)."""
    inflater = _deflate.decompressor()
    try:
        data = inflater.decompress(bytes(packed), limit + 1)
    except _deflate.INFLATE_ERRORS as exc:
        raise CorruptChunk(f"a compressed chunk from the host is not valid deflate data ({exc})") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise CorruptChunk(f"a compressed chunk from the host inflates to more than {limit} bytes")
    if not inflater.eof:
        raise CorruptChunk("a compressed chunk from the host is truncated")
    return data
