"""Controller side of put/fetch under faults: hash checks, interrupted transfers, odd paths.

The remote side is pypsrp's ``PowerShell`` replaced by a scripted fake that returns the objects
the fetch script would (``[FILE]``, byte chunks, ``SHA256:<hex>``), so the test controls exactly
when the file "changes" or the connection drops.
"""

from __future__ import annotations

import hashlib
import os
import stat
import types
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from failing_source import ReadFailsAfter, WriteFailsAfter
from pypsrp.complex_objects import PSInvocationState
from pypsrp.messages import PipelineInput
from pypsrp.powershell import Fragmenter
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _client
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (
    PSRPSession,
    SessionError,
    TransferError,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import _files
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._files import (
    fetch_file,
    input_chunk_size,
    output_chunk_size,
    put_file,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._partial import open_fetch_partial
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._scripts import (
    FETCH_FILE_SCRIPT,
    PARTIAL_SUFFIX,
    PUT_FILE_SCRIPT,
)

Stage = list[Any] | BaseException


class _FakePS:
    """Returns one stage of output per Receive; an exception stage is raised by that Receive."""

    stages: list[Stage] = []
    sent: list[Any] = []
    last: _FakePS | None = None

    def __init__(self, pool: Any) -> None:
        self.output: list[Any] = []
        self.state = PSInvocationState.NOT_STARTED
        self.had_errors = False
        self.streams = types.SimpleNamespace(error=[])
        self.params: dict[str, Any] = {}
        self._stages = list(type(self).stages)
        self.runspace_pool = types.SimpleNamespace(shell=types.SimpleNamespace(send=None))
        type(self).last = self

    def add_script(self, script: str, use_local_scope: bool = True) -> None:
        self.script = script

    def add_parameter(self, name: str, value: Any) -> None:
        self.params[name] = value

    def begin_invoke(self, data: Any = None) -> None:
        if data is not None:
            type(self).sent = [item for batch in data for item in batch]
        self.state = PSInvocationState.RUNNING
        self.poll_invoke()

    def poll_invoke(self) -> None:
        if not self._stages:
            self.state = PSInvocationState.COMPLETED
            return
        stage = self._stages.pop(0)
        if isinstance(stage, BaseException):
            raise stage
        self.output.extend(stage)
        if not self._stages:
            self.state = PSInvocationState.COMPLETED

    def end_invoke(self) -> list[Any]:
        while self.state == PSInvocationState.RUNNING:
            self.poll_invoke()
        return self.output

    def close(self) -> None:
        pass


class _PollDirect:
    """Stands in for ``_adapters.ReceiveAhead`` (tested in test_adapters.py): the fake pipelines
    here answer ``poll_invoke`` from their stages."""

    def __init__(self, ps: Any) -> None:
        self.poll = ps.poll_invoke

    def __enter__(self) -> _PollDirect:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _session(monkeypatch: pytest.MonkeyPatch, stages: list[Stage]) -> PSRPSession:
    s = PSRPSession({"server": "h", "port": 5985}, "Microsoft.PowerShell", 90, "h")
    pool = types.SimpleNamespace(connection=types.SimpleNamespace(max_payload_size=153600), state=None)
    ui = types.SimpleNamespace(stdout=[], stderr=[], answers=[])
    host = types.SimpleNamespace(rc=None, ui=ui)

    def fake_open() -> None:
        s.pool = pool  # type: ignore[assignment]
        s.host = host  # type: ignore[assignment]
        s.ui = ui  # type: ignore[assignment]
        s.broken = False

    monkeypatch.setattr(s, "open", fake_open)
    _FakePS.stages = stages
    monkeypatch.setattr(_client, "PowerShell", _FakePS)
    monkeypatch.setattr(_client, "ReceiveAhead", _PollDirect)
    return s


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_fetch_of_a_file_that_changed_during_transfer_is_detected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The host hashed what it read; the bytes we got differ (the file changed between reads is
    modelled as the hash over a different second half): no file is written, nothing is left."""
    first, second, changed = b"a" * 4096, b"b" * 4096, b"c" * 4096
    s = _session(monkeypatch, [["[FILE]", first], [second], ["SHA256:" + _sha(first + changed)]])
    out = tmp_path / "fetched.bin"
    with pytest.raises(TransferError, match="does not match"):
        fetch_file(s, "C:\\data.bin", str(out))
    assert _leftovers(tmp_path) == []


def test_failed_fetch_keeps_the_previous_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "fetched.bin"
    out.write_bytes(b"previous good copy")
    s = _session(monkeypatch, [["[FILE]", b"new data"], ["SHA256:" + "0" * 64]])
    with pytest.raises(TransferError):
        fetch_file(s, "C:\\data.bin", str(out))
    assert out.read_bytes() == b"previous good copy"
    assert _leftovers(tmp_path) == ["fetched.bin"]


def test_fetch_interrupted_by_a_dropped_connection_keeps_a_partial_the_next_fetch_resumes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """(Changed on purpose: a dropped fetch used to delete what it had.) The connection drops
    after 1,000 bytes: the destination is not created, ``fetched.bin.psrp-partial`` keeps those
    bytes; the next fetch hands their length and hash to the host and appends only the rest."""
    data = bytes(range(256)) * 20
    drop = ConnectionResetError(104, "Connection reset by peer")
    s = _session(monkeypatch, [["[FILE]", "RESUME:0", data[:1000]], drop])
    out = tmp_path / "fetched.bin"
    with pytest.raises(SessionError) as info:
        fetch_file(s, "C:\\data.bin", str(out))
    assert "closed the connection" in info.value.info.message
    assert _leftovers(tmp_path) == ["fetched.bin" + PARTIAL_SUFFIX]
    assert (tmp_path / ("fetched.bin" + PARTIAL_SUFFIX)).read_bytes() == data[:1000]

    s = _session(monkeypatch, [["[FILE]", "RESUME:1000", data[1000:]], ["SHA256:" + _sha(data)]])
    result = fetch_file(s, "C:\\data.bin", str(out))
    assert out.read_bytes() == data and result == {
        "sha256": _sha(data),
        "bytes": len(data),
        "resumed_from": 1000,
    }
    assert _leftovers(tmp_path) == ["fetched.bin"]


def test_fetch_restarts_when_the_host_file_does_not_start_with_the_partial(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The partial holds bytes the host's file does not start with (the file changed, or the
    partial is damaged): the host answers ``RESUME:0`` and sends everything; the partial is
    emptied first, so the result is the host's file."""
    data = b"new content " * 500
    out = tmp_path / "fetched.bin"
    (tmp_path / ("fetched.bin" + PARTIAL_SUFFIX)).write_bytes(b"stale bytes " * 10)
    s = _session(monkeypatch, [["[FILE]", "RESUME:0", data[:3000]], [data[3000:]], ["SHA256:" + _sha(data)]])
    result = fetch_file(s, "C:\\data.bin", str(out))
    assert out.read_bytes() == data and result["resumed_from"] == 0
    assert _leftovers(tmp_path) == ["fetched.bin"]


def test_fetch_never_resumes_through_a_symlinked_partial(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A symbolic link planted at the partial name is replaced, not written through."""
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"do not touch")
    (tmp_path / ("fetched.bin" + PARTIAL_SUFFIX)).symlink_to(target)
    s = _session(monkeypatch, [["[FILE]", "RESUME:0", b"data"], ["SHA256:" + _sha(b"data")]])
    fetch_file(s, "C:\\data.bin", str(tmp_path / "fetched.bin"))
    assert target.read_bytes() == b"do not touch"
    assert (tmp_path / "fetched.bin").read_bytes() == b"data"


@pytest.mark.parametrize(
    "name",
    [
        "with space.bin",
        "ünïcødé-файл-文件.bin",
        "deep",  # a > 260 character path, see below
    ],
)
def test_fetch_to_odd_local_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    directory = tmp_path
    if name == "deep":
        while len(str(directory)) < 300:
            directory = directory / ("segment with space " + "x" * 20)
        directory.mkdir(parents=True)
        name = "final file.bin"
    data = bytes(range(256)) * 40
    s = _session(monkeypatch, [["[FILE]", data[:5000]], [data[5000:]], ["SHA256:" + _sha(data)]])
    out = directory / name
    result = fetch_file(s, "C:\\Users\\dir with space\\ünï\\" + "y" * 250 + "\\f.bin", str(out))
    assert out.read_bytes() == data and result["bytes"] == len(data)
    assert len(str(out)) > 260 or name != "final file.bin"


def test_put_sends_the_digest_last_and_checks_the_remote_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src = tmp_path / "src file ünï.bin"
    src.write_bytes(b"z" * 300_000)
    digest = _sha(src.read_bytes())
    s = _session(monkeypatch, [[{"sha256": digest, "length": 300_000}]])
    assert put_file(s, str(src), "C:\\dir with space\\ünï\\dest.bin")["sha256"] == digest
    # "z" * 300000 compresses: it travels as raw deflate chunks the script inflates
    assert _FakePS.sent[-1] == digest
    sent = [zlib.decompress(o["Deflate"], -15) if isinstance(o, dict) else o for o in _FakePS.sent[:-1]]
    assert any(isinstance(o, dict) for o in _FakePS.sent[:-1])
    assert b"".join(sent) == src.read_bytes()

    s = _session(monkeypatch, [[{"sha256": "0" * 64, "length": 300_000}]])
    with pytest.raises(TransferError, match="does not match"):
        put_file(s, str(src), "C:\\dest.bin")


def test_put_script_only_renames_a_verified_temporary_file() -> None:
    """The remote script writes ``<Path>.psrp-partial`` and moves it onto ``Path`` only after
    the hash matched; an interrupted upload leaves at most a ``.psrp-partial`` file, never a
    complete-looking one (run for real in tests/integration/test_reliability_files.py)."""
    create = PUT_FILE_SCRIPT.index("[System.IO.File]::Create($partial)")
    compare = PUT_FILE_SCRIPT.index("if ($actual -ne $expected)")
    move = PUT_FILE_SCRIPT.index("[System.IO.File]::Move($partial, $Path)")
    assert create < compare < move
    assert "::Create($Path)" not in PUT_FILE_SCRIPT and f"'{PARTIAL_SUFFIX}'" in PUT_FILE_SCRIPT


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def test_fetch_inflates_compressed_chunks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """fetch_file v2 sends @{Deflate = byte[]} for reads that compress; the controller inflates
    them between plain byte[] chunks and checks the digest of the whole file."""
    text = b"2026-11-22 service WinRM started ok\r\n" * 2000
    raw = bytes(range(256)) * 20
    data = text + raw + text
    s = _session(
        monkeypatch,
        [
            ["[FILE]", {"Deflate": _deflate(text)}],
            [raw, {"Deflate": _deflate(text)}],
            ["SHA256:" + _sha(data)],
        ],
    )
    out = tmp_path / "fetched.log"
    result = fetch_file(s, "C:\\logs\\a.log", str(out))
    assert out.read_bytes() == data and result["bytes"] == len(data)


@pytest.mark.parametrize(
    ("packed", "message"),
    [
        (b"\x00\x01 not deflate", "not valid deflate data|truncated"),
        (_deflate(bytes(10_000_000)), "inflates to more than"),  # a small chunk that expands hugely
        (_deflate(b"abc" * 1000)[:-3], "truncated"),
    ],
)
def test_fetch_refuses_a_bad_compressed_chunk_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, packed: bytes, message: str
) -> None:
    s = _session(monkeypatch, [["[FILE]", {"Deflate": packed}], ["SHA256:" + "0" * 64]])
    with pytest.raises(TransferError, match=message):
        fetch_file(s, "C:\\a.bin", str(tmp_path / "a.bin"))
    assert _leftovers(tmp_path) == []


def test_fetch_asks_for_larger_compressed_reads_and_inflates_up_to_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """fetch_file v4: the script reads CompressedReadSize (8 Receives' worth) after a read that
    compressed; the controller accepts a chunk that inflates to that much and no more."""
    read = 8 * output_chunk_size(153600)
    text = (b"2026-11-22 service started ok\r\n" * (read // 31 + 1))[:read]
    s = _session(monkeypatch, [["[FILE]", {"Deflate": _deflate(text)}], ["SHA256:" + _sha(text)]])
    out = tmp_path / "big.log"
    assert fetch_file(s, "C:\\big.log", str(out))["bytes"] == read
    assert out.read_bytes() == text
    assert _FakePS.last is not None
    params = _FakePS.last.params
    assert (params["BufferSize"], params["CompressedReadSize"]) == (output_chunk_size(153600), read)
    assert params["Compress"] is True
    more = text + b"x"
    s = _session(monkeypatch, [["[FILE]", {"Deflate": _deflate(more)}], ["SHA256:" + _sha(more)]])
    with pytest.raises(TransferError, match=f"inflates to more than {read} bytes"):
        fetch_file(s, "C:\\big.log", str(tmp_path / "more.log"))
    assert not (tmp_path / "more.log").exists()


@pytest.mark.parametrize("envelope", [153600, 512000])
def test_put_chunk_fills_but_fits_one_send(envelope: int) -> None:
    payload = WSMan(
        "h", max_envelope_size=envelope, auth="basic", username="u", password="p"
    ).max_payload_size
    size = input_chunk_size(payload)
    fragmenter = Fragmenter(payload, Serializer())
    rpid, pid = str(uuid.uuid4()).upper(), str(uuid.uuid4()).upper()
    frags = fragmenter.fragment_multiple([PipelineInput(data=b"\xff" * size)], rpid, pid)
    assert len(frags) == 1, "one chunk must travel in one WSMan Send"
    assert len(frags[0]) > payload * 0.95, "chunk should use the negotiated payload"
    frags = fragmenter.fragment_multiple([PipelineInput(data=b"\xff" * (size + 512))], rpid, pid)
    assert len(frags) == 2, "the chunk size is the maximum, not a conservative guess"


def test_fetch_chunk_is_kib_aligned_and_larger_than_builtin() -> None:
    payload = WSMan("h", max_envelope_size=512000, auth="basic", username="u", password="p").max_payload_size
    size = output_chunk_size(payload)
    builtin = int(payload - payload / 4 * 3)
    builtin -= builtin % 1024
    assert size % 1024 == 0 and size > 2.5 * builtin


def test_transfer_scripts_take_values_only_as_parameters() -> None:
    for script in (PUT_FILE_SCRIPT, FETCH_FILE_SCRIPT):
        assert script.startswith("# psremoting.core ")
        assert "{" in script and "%s" not in script and "{path}" not in script.lower()
    assert PARTIAL_SUFFIX in PUT_FILE_SCRIPT and "SHA256" in PUT_FILE_SCRIPT


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_fetched_file_gets_the_builtins_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, umask: int, mode: int
) -> None:
    """ansible.builtin.psrp writes the fetched file with open(path, "wb"): 0o666 minus the umask
    for a new file (issue 23: ours was mkstemp's 0o600), the old mode for an existing one."""
    data = b"fetched"
    previous = os.umask(umask)
    try:
        s = _session(monkeypatch, [["[FILE]", data], ["SHA256:" + _sha(data)]])
        fetch_file(s, "C:\\f.bin", str(tmp_path / "new.bin"))
        existing = tmp_path / "existing.bin"
        existing.write_bytes(b"old")
        existing.chmod(0o640)
        s = _session(monkeypatch, [["[FILE]", data], ["SHA256:" + _sha(data)]])
        fetch_file(s, "C:\\f.bin", str(existing))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == mode
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640 and existing.read_bytes() == data


def test_a_fetch_cut_while_another_fetch_holds_the_partial_leaves_it_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another fetch to the same destination is under way (it holds the locked partial): this one
    writes to a private file, which it deletes when its own connection drops (nobody could resume
    from it), and the other fetch's partial keeps its bytes."""
    out = tmp_path / "fetched.bin"
    other = open_fetch_partial(str(out), 0o600)
    try:
        other.file.write(b"the other host's bytes")
        other.file.flush()
        drop = ConnectionResetError(104, "Connection reset by peer")
        s = _session(monkeypatch, [["[FILE]", "RESUME:0", b"x" * 1000], drop])
        with pytest.raises(SessionError):
            fetch_file(s, "C:\\data.bin", str(out))
        assert _leftovers(tmp_path) == ["fetched.bin" + PARTIAL_SUFFIX]
        assert (tmp_path / ("fetched.bin" + PARTIAL_SUFFIX)).read_bytes() == b"the other host's bytes"
        data = b"complete"
        s = _session(monkeypatch, [["[FILE]", "RESUME:0", data], ["SHA256:" + _sha(data)]])
        assert fetch_file(s, "C:\\data.bin", str(out))["resumed_from"] == 0
        assert out.read_bytes() == data
    finally:
        other.discard()


class _StartedPS(_FakePS):
    """As pypsrp: the pipeline is running on the host before its input is sent."""

    stopped = 0

    def begin_invoke(self, data: Any = None) -> None:
        self.state = PSInvocationState.RUNNING
        super().begin_invoke(data)

    def stop(self) -> None:
        type(self).stopped += 1
        self.state = PSInvocationState.STOPPED


def _refuse_reconnects(monkeypatch: pytest.MonkeyPatch, s: Any) -> list[Any]:
    """Make the session's reconnect fail at once; the returned list records every attempt."""
    reconnects: list[Any] = []

    def reconnect(*args: Any, **kwargs: Any) -> int:
        reconnects.append(args)
        raise OSError("out of reconnection_retries")

    monkeypatch.setattr(s, "reconnect", reconnect)
    return reconnects


def test_put_reports_a_local_read_error_and_does_not_reconnect(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src = tmp_path / "source.bin"
    src.write_bytes(os.urandom(1_000_000))
    s = _session(monkeypatch, [[]])
    monkeypatch.setattr(_client, "PowerShell", _StartedPS)
    _StartedPS.stopped = 0
    reconnects = _refuse_reconnects(monkeypatch, s)
    real_open = open

    def failing_open(path: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
        handle = real_open(path, mode, *a, **k)
        return ReadFailsAfter(handle, 300_000) if str(path) == str(src) else handle

    monkeypatch.setattr(_files, "open", failing_open, raising=False)
    with pytest.raises(
        TransferError, match=r"cannot read the local file '.*source\.bin': Input/output error"
    ):
        put_file(s, str(src), "C:\\dest.bin")
    assert reconnects == []
    assert _StartedPS.stopped == 1
    assert s.running is None
    assert not s.notices


def test_fetch_reports_a_local_write_error_and_does_not_reconnect(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The partial file cannot take the second chunk (a full disk) while the wait's Receives go
    on: the error names the local file, the pipeline is stopped, nothing reconnects, the session
    is not marked broken and no file is left."""
    data = os.urandom(3 * 4096)
    chunks = [data[:4096], data[4096:8192], data[8192:]]
    stages: list[Stage] = [
        ["[FILE]", "RESUME:0", chunks[0]],
        [chunks[1]],
        [chunks[2]],
        ["SHA256:" + _sha(data)],
    ]
    s = _session(monkeypatch, stages)
    monkeypatch.setattr(_client, "PowerShell", _StartedPS)
    _StartedPS.stopped = 0
    reconnects = _refuse_reconnects(monkeypatch, s)
    real_open = _files.open_fetch_partial

    def failing(dest: str, mode: int) -> Any:
        partial = real_open(dest, mode)
        partial.file = WriteFailsAfter(partial.file, 5000)
        return partial

    monkeypatch.setattr(_files, "open_fetch_partial", failing)
    out = tmp_path / "fetched.bin"
    with pytest.raises(TransferError, match=r"cannot write the local file '.*fetched\.bin'.*No space left"):
        fetch_file(s, "C:\\data.bin", str(out))
    assert reconnects == [] and _StartedPS.stopped == 1
    assert s.running is None and not s.broken and not s.notices
    assert _leftovers(tmp_path) == []


class _CutHost:
    """A host whose put pipelines are cut after taking ``cuts[i]`` input objects (one cut per put
    pipeline, then the put completes); its partial file grows by what arrived."""

    cuts: list[int] = []
    partial = bytearray()


class _CutPS(_FakePS):
    def begin_invoke(self, data: Any = None) -> None:
        self.state = PSInvocationState.RUNNING
        host = _CutHost
        if data is None:  # PUT_PROBE_SCRIPT
            if host.partial:
                self.output = [{"length": len(host.partial), "sha256": _sha(bytes(host.partial))}]
            self.state = PSInvocationState.COMPLETED
            return
        assert self.script == PUT_FILE_SCRIPT
        offset = int(getattr(self.params.get("Offset"), "value", 0) or 0)
        del host.partial[offset:]
        taken = 0
        for batch in data:
            if host.cuts and taken >= host.cuts[0]:
                host.cuts.pop(0)
                raise ConnectionResetError(104, "Connection reset by peer")
            for item in batch:
                if isinstance(item, str):
                    self.output = [{"sha256": _sha(bytes(host.partial)), "length": len(host.partial)}]
                    self.state = PSInvocationState.COMPLETED
                    return
                host.partial += zlib.decompress(item["Deflate"], -15) if isinstance(item, dict) else item
                taken += 1

    def stop(self) -> None:
        self.state = PSInvocationState.STOPPED


@pytest.mark.parametrize(
    ("cuts", "completes"),
    [
        ([2, 2], True),  # two cuts, each after progress: retries=1 covers each one
        ([2, 0, 0], False),  # the second and third cut came with no progress: two in a row
    ],
)
def test_put_reconnection_retries_count_consecutive_cuts_not_all_of_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cuts: list[int], completes: bool
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(1_000_000))
    s = _session(monkeypatch, [])
    s._wsman_kwargs.update(reconnection_retries=1, reconnection_backoff=0)
    monkeypatch.setattr(_client, "PowerShell", _CutPS)
    _CutHost.cuts = list(cuts)
    _CutHost.partial = bytearray()
    if completes:
        result = put_file(s, str(src), "C:\\dest.bin")
        assert result["sha256"] == _sha(src.read_bytes())
        assert bytes(_CutHost.partial) == src.read_bytes()
        assert result["resumed_from"] > 0
        assert _CutHost.cuts == []
    else:
        with pytest.raises(SessionError):
            put_file(s, str(src), "C:\\dest.bin")
        assert _CutHost.cuts == []
