"""File transfer through psremoting.core.psrp against winhost: odd paths and interrupted uploads.

winhost answers this collection's put/fetch scripts (``_transfer_scripts.py``). The controller
side of the same scenarios (hash mismatch when a file changes during a fetch, dropped
connections mid-fetch, odd local paths) is covered in
tests/unit/plugins/plugin_utils/psrp/test_client_transfer.py, where the timing can be controlled.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from failing_source import ReadFailsAfter, WriteFailsAfter
from playbook_runner import run_tasks
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (
    PSRPSession,
    SessionError,
    TransferError,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import _files
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._files import (
    fetch_file,
    input_chunk_size,
    put_file,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._scripts import PARTIAL_SUFFIX

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


# -- resume of a dropped transfer (issue 18) ------------------------------------------------------
RESUME_SIZE = 6 * 1024 * 1024


def _host_file(winhost: Any, windows_path: str) -> Path:
    """The sandbox path of ``windows_path`` on the host; its directory exists (a fresh host has
    no ``C:\\Windows\\Temp`` until something writes there, so a test run alone needs it)."""
    path = Path(winhost.machine(HOST).sandbox()) / windows_path[3:].replace("\\", "/")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _traffic(winhost: Any) -> tuple[int, int]:
    """(request bytes, Send requests) the host received since the last reset."""
    snap = winhost.stats(HOST)
    return int(snap["bytes_in"]), int(snap["wsman_requests"]["Send"])


def _cut_put(winhost: Any, src: Path, dest: str) -> int:
    """A put of ``src`` whose link dies after about 5 MB (of ~11 MB): it fails, the destination
    does not exist, the host keeps ``<dest>.psrp-partial``; returns the partial's length."""
    session = _session(winhost)
    try:
        session.exec_script("Write-Output warm")
        winhost.cut_after_bytes(HOST, 5_000_000, 1000)
        with pytest.raises(SessionError):
            put_file(session, str(src), dest)
    finally:
        winhost.clear_faults(HOST)
        session.close()
    assert not _host_file(winhost, dest).exists()
    partial = _host_file(winhost, dest + PARTIAL_SUFFIX)
    assert 0 < partial.stat().st_size < RESUME_SIZE
    return partial.stat().st_size


@pytest.mark.runs_ps1("transfer.put_probe", "transfer.put_file")
def test_put_cut_off_by_the_network_resumes_and_sends_only_the_rest(winhost: Any, tmp_path: Path) -> None:
    """The retried put (a task retry: a new session) finds the host's partial file, checks its
    length and hash against the source and sends only the rest: the host receives fewer bytes and
    Sends than the rest would need uncompressed plus a margin, the file is byte-identical and
    both ends checked the hash of the whole file."""
    data = os.urandom(RESUME_SIZE)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    dest = "C:\\Windows\\Temp\\resume.bin"
    have = _cut_put(winhost, src, dest)
    session = _session(winhost)
    try:
        session.exec_script("Write-Output warm")
        assert session.pool is not None
        budget = input_chunk_size(session.pool.connection.max_payload_size)
        winhost.reset_stats(HOST)
        result = put_file(session, str(src), dest)
        wire, sends = _traffic(winhost)
    finally:
        session.close()
    rest = RESUME_SIZE - have
    assert result["resumed_from"] == have and result["bytes"] == RESUME_SIZE
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert sends <= -(-rest // budget) + 1  # + the digest with the end of input
    assert wire < rest * 1.85 + 100_000  # the probe and the pipeline's own messages
    assert _host_file(winhost, dest).read_bytes() == data
    assert not _host_file(winhost, dest + PARTIAL_SUFFIX).exists()


def test_put_cut_off_reconnects_and_resumes_within_the_task(winhost: Any, tmp_path: Path) -> None:
    """With reconnection_retries (our reconnect), a put whose link dies part-way reconnects to
    the same shell, stops the pipeline left waiting for input and continues in a new one from the
    host's verified partial file: one call, byte-identical result, fewer bytes than two puts."""
    data = os.urandom(RESUME_SIZE)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    dest = "C:\\Windows\\Temp\\reconnect.bin"
    session = winhost_session(winhost, HOST, reconnection_retries=5, reconnection_backoff=1)
    try:
        session.exec_script("Write-Output warm")
        winhost.reset_stats(HOST)
        winhost.cut_after_bytes(HOST, 5_000_000, 1000)
        result = put_file(session, str(src), dest)
        wire = int(winhost.stats(HOST)["bytes_in"])
        notices = " ".join(session.take_notices())
    finally:
        winhost.clear_faults(HOST)
        session.close()
    assert 0 < result["resumed_from"] < RESUME_SIZE
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert wire < RESUME_SIZE * 1.8 * 1.5  # the rest, not the whole file again
    assert "dropped while a file was sent" in notices and "continued after" in notices
    assert _host_file(winhost, dest).read_bytes() == data
    assert not _host_file(winhost, dest + PARTIAL_SUFFIX).exists()


@pytest.mark.parametrize("what", ["corrupted-partial", "changed-source"])
def test_put_restarts_from_zero_when_the_partial_is_not_the_sources_prefix(
    winhost: Any, tmp_path: Path, what: str
) -> None:
    """A partial whose bytes were damaged on the host, or a source changed since the cut: the
    probe's hash does not match the source's prefix, so everything is sent again and the result
    is the current source."""
    data = os.urandom(RESUME_SIZE)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    dest = f"C:\\Windows\\Temp\\restart-{what}.bin"
    have = _cut_put(winhost, src, dest)
    if what == "corrupted-partial":
        partial = _host_file(winhost, dest + PARTIAL_SUFFIX)
        damaged = bytearray(partial.read_bytes())
        damaged[have // 2] ^= 0xFF
        partial.write_bytes(bytes(damaged))
    else:
        data = data[:100] + b"changed" + data[107:]
        src.write_bytes(data)
    session = _session(winhost)
    try:
        session.exec_script("Write-Output warm")
        winhost.reset_stats(HOST)
        result = put_file(session, str(src), dest)
        wire, _sends = _traffic(winhost)
    finally:
        session.close()
    assert result["resumed_from"] == 0 and result["sha256"] == hashlib.sha256(data).hexdigest()
    assert wire > RESUME_SIZE * 1.7  # all of it again
    assert _host_file(winhost, dest).read_bytes() == data
    assert not _host_file(winhost, dest + PARTIAL_SUFFIX).exists()


@pytest.mark.runs_ps1("transfer.fetch_file")
def test_fetch_cut_off_by_the_network_resumes_and_receives_only_the_rest(
    winhost: Any, tmp_path: Path
) -> None:
    """The link dies after about 5 MB of a 6 MiB fetch (no reconnect attempts): the controller
    keeps ``<dest>.psrp-partial`` beside the destination, which does not exist; the retried fetch
    hands its length and hash to the host and gets only the rest; a damaged partial is noticed by
    the host, which sends everything."""
    data = os.urandom(RESUME_SIZE)
    remote = "C:\\Windows\\Temp\\down.bin"
    _host_file(winhost, remote).write_bytes(data)
    out = tmp_path / "down.bin"
    partial = tmp_path / ("down.bin" + PARTIAL_SUFFIX)
    session = winhost_session(winhost, HOST, reconnection_retries=0)
    try:
        session.exec_script("Write-Output warm")
        winhost.cut_after_bytes(HOST, 5_000_000, 1000)
        with pytest.raises(SessionError):
            fetch_file(session, remote, str(out))
    finally:
        winhost.clear_faults(HOST)
        session.close()
    assert not out.exists()
    have = partial.stat().st_size
    assert 0 < have < RESUME_SIZE and partial.read_bytes() == data[:have]
    assert stat.S_IMODE(partial.stat().st_mode) == stat.S_IMODE(0o666 & ~_umask())

    session = _session(winhost)
    try:
        session.exec_script("Write-Output warm")
        winhost.reset_stats(HOST)
        result = fetch_file(session, remote, str(out))
        received = int(winhost.stats(HOST)["bytes_out"])
        assert result == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": RESUME_SIZE,
            "resumed_from": have,
        }
        assert received < (RESUME_SIZE - have) * 1.85 + 100_000
        assert out.read_bytes() == data and not partial.exists()

        partial.write_bytes(b"\0" * have)  # a damaged partial of the same length
        out.unlink()
        result = fetch_file(session, remote, str(out))
        assert result["resumed_from"] == 0 and out.read_bytes() == data and not partial.exists()
    finally:
        session.close()


def test_fetch_cut_off_reconnects_in_place(winhost: Any, tmp_path: Path) -> None:
    """With reconnection_retries (our reconnect), a fetch whose link dies part-way continues the
    same pipeline on a new connection and says so; the file is complete."""
    data = os.urandom(RESUME_SIZE)
    remote = "C:\\Windows\\Temp\\down-reconnect.bin"
    _host_file(winhost, remote).write_bytes(data)
    out = tmp_path / "down.bin"
    session = winhost_session(winhost, HOST, reconnection_retries=5, reconnection_backoff=1)
    try:
        session.exec_script("Write-Output warm")
        winhost.cut_after_bytes(HOST, 5_000_000, 500)
        result = fetch_file(session, remote, str(out))
        notices = " ".join(session.take_notices())
    finally:
        winhost.clear_faults(HOST)
        session.close()
    assert out.read_bytes() == data and result["resumed_from"] == 0
    assert "dropped while a command ran" in notices and "reconnected" in notices


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_put_whose_local_source_fails_to_read_fails_at_once_and_leaves_the_session_usable(
    winhost: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local read error part-way through a put is not a network drop: no reconnect, no retry,
    an error naming the local file, the pipeline waiting for input is stopped, nothing replaces
    the destination and the session runs the next command."""
    src = tmp_path / "unreadable.bin"
    src.write_bytes(os.urandom(RESUME_SIZE))
    real_open = open
    monkeypatch.setattr(
        _files,
        "open",
        lambda path, *a, **k: ReadFailsAfter(real_open(path, *a, **k), 2_000_000),
        raising=False,
    )
    dest = "C:\\Windows\\Temp\\unreadable.bin"
    session = winhost_session(winhost, HOST, reconnection_retries=5, reconnection_backoff=1)
    try:
        session.exec_script("Write-Output warm")
        with pytest.raises(TransferError, match=r"cannot read the local file '.*unreadable\.bin'"):
            put_file(session, str(src), dest)
        notices = " ".join(session.take_notices())
        _rc, out, _err = session.exec_script("Write-Output still-here")
    finally:
        session.close()
    assert "dropped" not in notices and "reconnect" not in notices
    assert out.strip() == b"still-here"
    assert not _host_file(winhost, dest).exists()


@pytest.mark.runs_ps1("transfer.fetch_file")
@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"), PermissionError(13, "Permission denied")],
    ids=["disk-full", "eacces"],
)
def test_fetch_whose_local_file_fails_to_write_fails_at_once_and_leaves_the_session_usable(
    winhost: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError
) -> None:
    """A local write error part-way through a fetch (a full disk, a partial file that may not be
    written) is not a network drop: no reconnect, no retry, an error naming the local file, the
    fetch pipeline is stopped, neither the destination nor a partial file is left, and the
    session fetches again at once."""
    data = os.urandom(RESUME_SIZE)
    remote = "C:\\Windows\\Temp\\full.bin"
    _host_file(winhost, remote).write_bytes(data)
    out = tmp_path / "full.bin"
    real_open = _files.open_fetch_partial
    doubles: list[WriteFailsAfter] = []

    def failing(dest: str, mode: int) -> Any:
        partial = real_open(dest, mode)
        doubles.append(WriteFailsAfter(partial.file, 2_000_000, error))
        partial.file = doubles[-1]
        return partial

    monkeypatch.setattr(_files, "open_fetch_partial", failing)
    session = winhost_session(winhost, HOST, reconnection_retries=5, reconnection_backoff=1)
    try:
        session.exec_script("Write-Output warm")
        with pytest.raises(TransferError, match=r"cannot write the local file '.*full\.bin"):
            fetch_file(session, remote, str(out))
        notices = " ".join(session.take_notices())
        assert doubles[0].failed == 1
        assert not out.exists() and not list(tmp_path.glob("*partial*"))
        _rc, said, _err = session.exec_script("Write-Output still-here")
        monkeypatch.setattr(_files, "open_fetch_partial", real_open)
        fetch_file(session, remote, str(out))
    finally:
        session.close()
    assert "dropped" not in notices and "reconnect" not in notices
    assert said.strip() == b"still-here"
    assert out.read_bytes() == data


class _ReadHook:
    """The controller's source file: ``hook`` runs once, when ``after`` bytes were read."""

    def __init__(self, real: Any, after: int, hook: Any) -> None:
        self._real = real
        self._after = after
        self._hook = hook

    def read(self, size: int = -1) -> bytes:
        if self._hook is not None and self._real.tell() >= self._after:
            hook, self._hook = self._hook, None
            hook()
        return bytes(self._real.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __enter__(self) -> _ReadHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()


def _put_outcome(session: PSRPSession, src: Path, dest: str) -> str:
    """ "verified" or the refusal of the host."""
    try:
        put_file(session, str(src), dest)
    except TransferError as exc:
        return str(exc)
    return "verified"


@pytest.mark.runs_ps1("transfer.put_file")
def test_two_puts_to_one_path_at_once_never_leave_a_mixed_file_reported_as_verified(
    winhost: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Put A is part-way when put B (another session) puts to the same path: they share
    ``<dest>.psrp-partial`` (B restarts it, A's chunks still in flight land in it, A's later ones
    in a new one). Whichever of them renames, only a file whose hash on disk is its own stream's:
    at least one is refused ("changed on the host"), a put reported as verified left exactly its
    source, and no partial stays."""
    sources = {"A": os.urandom(RESUME_SIZE), "B": os.urandom(300_000)}
    paths = {name: tmp_path / f"{name}.bin" for name in sources}
    for name, data in sources.items():
        paths[name].write_bytes(data)
    dest = "C:\\Windows\\Temp\\shared.bin"
    session_a, session_b = _session(winhost), _session(winhost)
    outcomes: dict[str, str] = {}
    real_open = open

    def opened(path: Any, *a: Any, **k: Any) -> Any:
        handle = real_open(path, *a, **k)
        if str(path) != str(paths["A"]):
            return handle
        return _ReadHook(
            handle, 2_000_000, lambda: outcomes.update(B=_put_outcome(session_b, paths["B"], dest))
        )

    monkeypatch.setattr(_files, "open", opened, raising=False)
    try:
        session_a.exec_script("Write-Output warm")
        session_b.exec_script("Write-Output warm")
        outcomes["A"] = _put_outcome(session_a, paths["A"], dest)
    finally:
        session_a.close()
        session_b.close()
    assert set(outcomes) == {"A", "B"}
    refused = {name: text for name, text in outcomes.items() if text != "verified"}
    assert refused, "two interleaved puts were both reported as verified"
    for text in refused.values():
        assert "shared.bin.psrp-partial changed on the host while it was written" in text
    verified = [name for name in outcomes if name not in refused]
    host_file = _host_file(winhost, dest)
    if verified:
        assert host_file.read_bytes() == sources[verified[0]]
    else:
        assert not host_file.exists()
    assert not _host_file(winhost, dest + PARTIAL_SUFFIX).exists()
