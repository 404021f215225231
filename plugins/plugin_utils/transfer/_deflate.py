# for internal use by psremoting.core only; not a public API
"""The raw deflate (RFC 1951) compressor put_file uses and the decompressor fetch_file uses:
ISA-L (the optional ``isal`` package, Intel's Intelligent Storage Acceleration Library) when it
is installed, else the standard library's zlib. Both write what .NET's ``DeflateStream`` reads;
ISA-L's level 1 takes about a third of zlib level 1's CPU on text and compresses it as well,
and its inflate under half of zlib's.

The chunker's Send budget relies on a bound both keep under sync flushes, for any bytes: the
deflate of ``n`` bytes ended with ``Z_SYNC_FLUSH`` is at most ``n + n // 2048 + 64`` bytes (zlib
falls back to stored blocks; ISA-L level 1 does too, measured at most 34 bytes over
``n + n // 2048`` on random, skewed, mixed and text input of 0 to 64 KiB, see
tests/unit/plugins/plugin_utils/transfer/test_deflate.py). ISA-L's level 0 does NOT keep it (it
writes static Huffman blocks, about 23% larger than random input), so level 0 is never used.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Any

_isal_zlib: ModuleType | None
try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # optional: the plugin works without it
    _isal_zlib = None

#: The lowest compression level: several hundred MB/s on text (ISA-L's level 0 breaks the bound).
LEVEL = 1
#: ``flush()`` mode that ends a piece on a byte boundary (same value in zlib and isal_zlib).
SYNC_FLUSH = zlib.Z_SYNC_FLUSH


#: The module compressors come from: ``isal.isal_zlib`` or ``zlib`` (tests may swap it).
IMPLEMENTATION: ModuleType = _isal_zlib if _isal_zlib is not None else zlib


def compressor() -> Any:
    """A new raw deflate compressor (``compress(data)``, ``flush(SYNC_FLUSH)``, ``flush()``)."""
    return IMPLEMENTATION.compressobj(LEVEL, IMPLEMENTATION.DEFLATED, -15)


#: What a decompressor raises for data that is not valid deflate (zlib's and ISA-L's errors).
INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error,) + ((_isal_zlib.error,) if _isal_zlib else ())


def decompressor() -> Any:
    """A new raw deflate decompressor (``decompress(data, max_length)``, ``unconsumed_tail``,
    ``eof``), like ``zlib.decompressobj(-15)``."""
    return IMPLEMENTATION.decompressobj(-15)
