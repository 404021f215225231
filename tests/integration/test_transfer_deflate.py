"""put_file against winhost's DeflateStream with each controller compressor: ISA-L (``isal``,
when installed) and the standard library's zlib (ISA-L forced off). The host writes the same
bytes either way: the raw deflate both produce is what System.IO.Compression.DeflateStream
(Windows PowerShell 5.1 and PowerShell 7) reads."""

from __future__ import annotations

import hashlib
import os
import random
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import _deflate
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._files import put_file

try:
    from isal import isal_zlib
except ImportError:
    isal_zlib = None

HOST = "fs01"
pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts=HOST)]


def _log_text(size: int) -> bytes:
    rng = random.Random(size)
    out = bytearray()
    while len(out) < size:
        out += b"2026-11-22T04:%02d:%02d.%03d W3SVC1 GET /api/v%d 200 %d\r\n" % (
            rng.randrange(60),
            rng.randrange(60),
            rng.randrange(1000),
            rng.randrange(9),
            rng.randrange(100000),
        )
    return bytes(out[:size])


@pytest.mark.runs_ps1("transfer.put_file")
@pytest.mark.parametrize(
    "module",
    [
        pytest.param(zlib, id="zlib"),
        pytest.param(
            isal_zlib, id="isal", marks=pytest.mark.skipif(isal_zlib is None, reason="isal is not installed")
        ),
    ],
)
def test_put_with_each_compressor_writes_the_same_bytes(
    winhost: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: ModuleType
) -> None:
    monkeypatch.setattr(_deflate, "IMPLEMENTATION", module)
    used: list[ModuleType] = []
    real = _deflate.compressor

    def spy() -> Any:
        used.append(_deflate.IMPLEMENTATION)
        return real()

    monkeypatch.setattr(_deflate, "compressor", spy)
    # text, incompressible bytes, tiny and odd-sized text: compressed and plain chunks, with
    # sync-flushed pieces of every size in between
    data = _log_text(2_500_000) + os.urandom(400_000) + _log_text(12_345) + b"\x00" * 70_001 + _log_text(7)
    src = tmp_path / "mixed.log"
    src.write_bytes(data)
    dest = "C:\\Windows\\Temp\\deflate-" + module.__name__.replace(".", "-") + ".log"
    session = winhost_session(winhost, HOST)
    try:
        result = put_file(session, str(src), dest)
    finally:
        session.close()
    host_file = Path(winhost.machine(HOST).sandbox()) / dest[3:].replace("\\", "/")
    assert host_file.read_bytes() == data
    assert result["sha256"] == hashlib.sha256(data).hexdigest() and result["bytes"] == len(data)
    assert result["compressed_chunks"] >= 1 and result["plain_chunks"] >= 1
    assert used and set(used) == {module}
