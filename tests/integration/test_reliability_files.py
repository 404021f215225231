"""File transfer through psremoting.core.psrp against winhost: odd paths and interrupted uploads.

winhost answers this collection's put/fetch scripts (``_transfer_scripts.py``). The controller
side of the same scenarios (hash mismatch when a file changes during a fetch, dropped
connections mid-fetch, odd local paths) is covered in
tests/unit/plugins/plugin_utils/psrp/test_client_transfer.py, where the timing can be controlled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import run_tasks
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession, SessionError
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._files import (
    fetch_file,
    input_chunk_size,
    put_file,
)

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="fs01")]

HOST = "fs01"
LONG_DIR = "C:\\psrp long " + "\\".join(["segment with space and ünïcødé " + "x" * 12] * 7)


def _run(winhost: Any, tmp_path: Path, tasks: str) -> tuple[int, dict[str, Any], str]:
    return run_tasks(winhost, tmp_path, HOST, tasks)


@pytest.mark.parametrize(
    "remote",
    [
        "C:\\Windows\\Temp\\with space.bin",
        "C:\\Windows\\Temp\\ünïcødé-файл-文件.bin",
        LONG_DIR + "\\final file.bin",
    ],
    ids=["spaces", "unicode", "long-path"],
)
def test_copy_and_fetch_odd_paths(winhost: Any, tmp_path: Path, remote: str) -> None:
    assert len(LONG_DIR) > 260
    src = tmp_path / "src file ünï.bin"
    src.write_bytes(os.urandom(200_000))
    out = tmp_path / "out"
    out.mkdir()
    rc, _data, text = _run(
        winhost,
        tmp_path,
        f"    - raw: New-Item -ItemType Directory -Force -Path '{remote.rsplit(chr(92), 1)[0]}'\n"
        f"    - ansible.windows.win_copy:\n        src: '{src}'\n        dest: '{remote}'\n"
        f"    - fetch:\n        src: '{remote}'\n        dest: '{out}/fetched.bin'\n        flat: true\n",
    )
    assert rc == 0, text
    assert (out / "fetched.bin").read_bytes() == src.read_bytes()


def _session(winhost: Any) -> PSRPSession:
    return winhost_session(winhost, HOST)


SEND_ACTION = b"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send"


def test_interrupted_upload_leaves_no_complete_looking_file(winhost: Any, tmp_path: Path) -> None:
    """The connection breaks after two of the upload's Send requests (3 MiB in ~150 KB
    envelopes): the destination does not exist afterwards (at most a ``*.partial`` file), and
    the next upload of the same file produces the complete file."""
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024))
    dest = "C:\\Windows\\Temp\\up.bin"
    session = _session(winhost)
    try:
        session.exec_script("Write-Output warm")
        assert session.guard is not None
        real_send = session.guard._send
        sends = {"n": 0}

        def breaking_send(message: bytes, **kwargs: Any) -> bytes:
            if SEND_ACTION in message:
                sends["n"] += 1
                if sends["n"] == 3:
                    raise ConnectionResetError(104, "Connection reset by peer")
            return bytes(real_send(message, **kwargs))

        session.guard._send = breaking_send
        with pytest.raises(SessionError):
            put_file(session, str(src), dest)
        session.guard._send = real_send
        assert sends["n"] == 3
    finally:
        session.close()  # deletes the shell: the interrupted pipeline ends without its end block

    check = _session(winhost)
    try:
        _rc, out, _err = check.exec_script(f"Test-Path -LiteralPath '{dest}'")
        assert out.strip() == b"False", "an interrupted upload left a complete-looking file"
        result = put_file(check, str(src), dest)
        assert result["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
        _rc, out, _err = check.exec_script(f"(Get-Item -LiteralPath '{dest}').Length")
        assert out.strip() == str(3 * 1024 * 1024).encode()
    finally:
        check.close()


def _log_text(size: int) -> bytes:
    line = b"2026-11-22T04:05:06.789 W3SVC1 GET /api/status 200 0 0 15 10.0.0.%d Mozilla/5.0\r\n"
    out = bytearray()
    i = 0
    while len(out) < size:
        out += line % (i % 250)
        i += 1
    return bytes(out[:size])


@pytest.mark.parametrize("kind", ["text", "random", "mixed"])
def test_put_and_fetch_compress_what_compresses(winhost: Any, tmp_path: Path, kind: str) -> None:
    """put_file v2 / fetch_file v2 against winhost's DeflateStream: the file arrives byte for
    byte; a compressible file takes several times fewer Sends and bytes on the wire than it
    would uncompressed; incompressible data is sent as it is, in as many Sends as before."""
    size = 3 * 1024 * 1024
    data = {
        "text": _log_text(size),
        "random": os.urandom(size),
        "mixed": _log_text(size // 2) + os.urandom(size // 2),
    }[kind]
    src = tmp_path / f"{kind}.bin"
    src.write_bytes(data)
    dest = f"C:\\Windows\\Temp\\{kind}.bin"
    session = _session(winhost)
    try:
        session.exec_script("Write-Output warm")
        assert session.guard is not None and session.pool is not None
        budget = input_chunk_size(session.pool.connection.max_payload_size)
        real_send = session.guard._send
        wire = {"sends": 0, "bytes": 0}

        def counting_send(message: bytes, **kwargs: Any) -> bytes:
            if SEND_ACTION in message:
                wire["sends"] += 1
                wire["bytes"] += len(message)
            return bytes(real_send(message, **kwargs))

        session.guard._send = counting_send
        result = put_file(session, str(src), dest)
        session.guard._send = real_send
        fetched = tmp_path / f"{kind}.fetched"
        back = fetch_file(session, dest, str(fetched))
    finally:
        session.close()
    assert result["sha256"] == hashlib.sha256(data).hexdigest() and result["bytes"] == size
    assert fetched.read_bytes() == data and back["bytes"] == size
    plain_sends = -(-size // budget)  # what v1 needed: one full byte[] per Send
    if kind == "random":
        assert result["compressed_chunks"] == 0 and result["plain_chunks"] == plain_sends
        assert wire["sends"] == plain_sends + 1  # + the digest with the end of input
        assert wire["bytes"] > size * 1.7  # base64 inside base64, as before
    elif kind == "text":
        assert result["plain_chunks"] == 0 and result["compressed_chunks"] >= 1
        assert wire["sends"] * 3 <= plain_sends
        assert wire["bytes"] * 4 < size
    else:
        assert result["compressed_chunks"] >= 1 and result["plain_chunks"] >= 1
        assert wire["bytes"] < size * 1.7 * 0.75
