# for internal use by psremoting.core only; not a public API
"""put_file / fetch_file over a ``PSRPSession``: the controller side of the transfer scripts.

- put: the local file is cut into pipeline input objects that each fill one WSMan Send
  (``_chunks.PutChunker``: deflate where it pays, raw bytes where not), the SHA256 of the file
  goes last, and ``PUT_FILE_SCRIPT`` appends to ``<dest>.psrp-partial`` on the host and renames
  it only when its own hash of the whole file matches. A file of ``RESUME_MIN_CHUNKS`` Sends or
  more is preceded by ``PUT_PROBE_SCRIPT``: when the host holds a partial file whose length and
  hash match the start of the local file (a put of it was cut off), only the rest is sent;
- fetch: ``FETCH_FILE_SCRIPT`` streams the remote file as chunks of about one Receive each, or
  of ``COMPRESSED_READ_CHUNKS`` times that many file bytes once a read compressed
  (``@{Deflate = byte[]}``), then ``SHA256:<hex>``; the controller appends to
  ``<dest>.psrp-partial`` and renames it only when the hashes match, so a failed or interrupted
  fetch never replaces the previous copy. A fetch that lost its connection keeps the partial file;
  the next fetch to the same destination hands its length and hash to the host, which sends only
  the rest when its file starts with those bytes.

Both run in the session's runspace pool through ``PSRPSession.run`` (one transparent reopen if
the shell was gone before the command started) and raise ``TransferError`` for a task failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Iterator
from typing import IO, Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (
    PSRPSession,
    SessionError,
    TransferError,
    parse_pipeline_result,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    PowerShell,
    RunspacePool,
    TaggedValue,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._chunks import (
    CorruptChunk,
    PutChunker,
    inflate_chunk,
    put_input,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._mode import fetched_file_mode
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._partial import (
    FetchPartial,
    open_fetch_partial,
    prefix_digest,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._scripts import (
    FETCH_FILE_SCRIPT,
    PUT_FILE_SCRIPT,
    PUT_PROBE_SCRIPT,
)

# Bytes of CLIXML/PSRP message overhead around one pipeline-input byte[] object (<BA> element,
# PipelineInput message header, fragment header), with margin.
_INPUT_OVERHEAD = 256
#: A put of at least this many Sends first asks the host for a partial file to resume from (one
#: more pipeline); a smaller file is simply sent again.
RESUME_MIN_CHUNKS = 4


def input_chunk_size(max_payload_size: int) -> int:
    """Raw bytes per put_file input object so that one object fills one WSMan Send."""
    return max(1024, (max_payload_size - _INPUT_OVERHEAD) * 3 // 4)


def output_chunk_size(max_payload_size: int) -> int:
    """Raw bytes per fetch_file output object so that one object fills about one Receive."""
    size = max(1024, (max_payload_size - _INPUT_OVERHEAD) * 3 // 4)
    return size - (size % 1024)


#: Reads of a compressible file are this many output chunks long (fetch_file v4's
#: ``CompressedReadSize``): fewer, larger objects, with at most this much held per chunk on
#: either side (about 3 MiB with Windows' default 500 KB envelopes).
COMPRESSED_READ_CHUNKS = 8


def _prop(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    for attr in ("adapted_properties", "extended_properties"):
        props = getattr(obj, attr, None) or {}
        if name in props:
            return props[name]
    return getattr(obj, name, None)


# -- put ------------------------------------------------------------------------------------------
def _probe_partial(session: PSRPSession, pool: RunspacePool, out_path: str) -> tuple[int, str] | None:
    """(length, sha256) of the host's partial file of ``out_path``, or None (none, or unreadable:
    the put then starts from 0 and reports any real problem itself)."""
    session.reset_host()
    ps = session.new_pipeline(pool)
    ps.add_script(PUT_PROBE_SCRIPT, use_local_scope=True)
    ps.add_parameter("Path", out_path)
    session.start(ps, None)
    session.wait(ps)
    rc, _out, _err = parse_pipeline_result(ps, session.host, 0)
    session.finish(ps)
    if rc != 0 or not ps.output:
        return None
    length, sha256 = _prop(ps.output[-1], "length"), _prop(ps.output[-1], "sha256")
    if not isinstance(length, int) or not isinstance(sha256, str):
        return None
    return length, sha256


def _resume_point(src: IO[bytes], size: int, partial: tuple[int, str] | None) -> tuple[Any, int]:
    """(running sha256, offset): where the put continues; 0 with a fresh hash when the host's
    partial file is not the start of ``src`` (a changed source or a damaged partial)."""
    if partial is not None and 0 < partial[0] <= size:
        digest = prefix_digest(src, partial[0], partial[1])
        if digest is not None:
            return digest, partial[0]
    return hashlib.sha256(), 0


class _SourceUnreadable(Exception):
    """Raised inside the put's input generator for a local read error, so that ``start`` does not
    take the ``OSError`` for a dropped connection (which would reconnect and send again)."""


def _local_reads(chunks: Iterator[list[Any]], failed: list[OSError]) -> Iterator[list[Any]]:
    """``chunks``; a local ``OSError`` (reading the controller's source file) is kept in ``failed``
    and ends the input as ``_SourceUnreadable``."""
    try:
        yield from chunks
    except OSError as exc:
        failed.append(exc)
        raise _SourceUnreadable(str(exc)) from None


def _abandon_put(session: PSRPSession, ps: PowerShell, in_path: str, error: OSError) -> TransferError:
    """Stop the put pipeline still waiting for input (the host keeps the verified partial file,
    released after each chunk, for the next put to resume) and name the unreadable local file."""
    with contextlib.suppress(Exception):
        ps.stop()
    session.running = None
    reason = error.strerror or str(error)
    return TransferError(
        f"put_file: cannot read the local file '{in_path}': {reason}; nothing was replaced on the host"
    )


def _send_put(
    session: PSRPSession,
    pool: RunspacePool,
    in_path: str,
    out_path: str,
    partial: tuple[int, str] | None,
    *,
    resumed: list[int],
) -> dict[str, Any]:
    """One put pipeline; the offset it starts from (0, or the verified partial's length) is
    appended to ``resumed`` before anything is sent."""
    chunker = PutChunker(input_chunk_size(pool.connection.max_payload_size))
    session.reset_host()
    ps = session.new_pipeline(pool)
    ps.add_script(PUT_FILE_SCRIPT, use_local_scope=True)
    ps.add_parameter("Path", out_path)
    with open(in_path, "rb") as src:
        digest, offset = _resume_point(src, os.fstat(src.fileno()).st_size, partial)
        resumed.append(offset)
        if offset:
            ps.add_parameter("Offset", TaggedValue("I64", offset))
            ps.add_parameter("PrefixSha256", digest.hexdigest())
        failed: list[OSError] = []
        try:
            session.start(ps, _local_reads(put_input(src, chunker, digest), failed), send_behind=True)
        except SessionError:
            if failed:
                raise _abandon_put(session, ps, in_path, failed[0]) from None
            raise
    session.wait(ps)
    rc, _out, stderr = parse_pipeline_result(ps, session.host, 0)
    session.finish(ps)
    if rc != 0 or not ps.output:
        raise TransferError(stderr.decode("utf-8", "replace") or f"put_file to '{out_path}' failed")
    remote = _prop(ps.output[-1], "sha256")
    if remote != digest.hexdigest():
        raise TransferError(f"remote SHA256 {remote} does not match local SHA256 {digest.hexdigest()}")
    return {
        "sha256": remote,
        "bytes": offset + chunker.stats.raw_bytes,
        "resumed_from": offset,
        "compressed_chunks": chunker.stats.compressed_chunks,
        "plain_chunks": chunker.stats.plain_chunks,
        "payload_bytes": chunker.stats.sent_bytes,
    }


def _reconnect_put(session: PSRPSession, exc: SessionError, failures: int) -> int:
    """The put's connection dropped: reconnect to the same shell (``reconnection_retries``, with
    backoff) and stop the pipeline left waiting for input; raises ``exc`` when out of retries."""
    orphan = session.running
    dropped = exc.dropped or ConnectionError(exc.info.message)
    try:
        failures = session.reconnect(dropped, failures, notice="a file was sent")
    except OSError:
        raise exc from None
    if orphan is not None:
        with contextlib.suppress(Exception):
            orphan.stop()
        session.running = None
    return failures


def put_file(session: PSRPSession, in_path: str, out_path: str) -> dict[str, Any]:
    """Copy the local ``in_path`` to ``out_path`` on the host; the remote hash must match. A put
    that was cut off before (or now: ``reconnection_retries``) continues from the host's verified
    partial file."""
    if not os.path.exists(in_path):
        raise FileNotFoundError(f'file or module does not exist: "{in_path}"')

    def work(pool: RunspacePool) -> dict[str, Any]:
        session.require_script_text(pool, "file transfer (put_file sends a PowerShell script)")
        budget = input_chunk_size(pool.connection.max_payload_size)
        resumable = os.path.getsize(in_path) >= RESUME_MIN_CHUNKS * budget
        failures = 0  # consecutive cuts without progress, as ``PSRPSession.wait`` counts them
        reached = 0  # the furthest offset a put pipeline of this task started from
        reconnected = False
        while True:
            resumed: list[int] = []
            try:
                partial = _probe_partial(session, pool, out_path) if resumable else None
                result = _send_put(session, pool, in_path, out_path, partial, resumed=resumed)
            except SessionError as exc:
                if not (resumable and exc.info.retry_safe and (exc.dropped or exc.not_started)):
                    raise
                if resumed and resumed[0] > reached:
                    reached, failures = resumed[0], 0  # this resume got further: a new cut
                failures = _reconnect_put(session, exc, failures)
                reconnected = True
                continue
            if reconnected:
                session.notices.append(
                    f"psrp: reconnected to {session.host_label}; the put of '{out_path}' continued after "
                    f"the {result['resumed_from']} bytes the host had kept (verified by SHA256)"
                )
            return result

    return session.run(work)


# -- fetch ----------------------------------------------------------------------------------------
class _LocalWriteFailed(Exception):
    """Raised by ``_Received.take`` for a local write error (a full disk, a partial file that may
    not be written), so that nothing takes the ``OSError`` for a dropped connection."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _abandon_fetch(
    session: PSRPSession, ps: PowerShell, out_path: str, partial: FetchPartial, error: OSError
) -> TransferError:
    """Stop the fetch pipeline (terminated after the reply, like every finished pipeline) and name
    the local file that cannot be written; the session stays usable."""
    with contextlib.suppress(Exception):
        ps.stop()
    session.finish(ps)
    reason = error.strerror or str(error)
    return TransferError(
        f"fetch_file: cannot write the local file '{out_path}' (through '{partial.path}'): {reason}; "
        "nothing was replaced"
    )


@dataclasses.dataclass
class _Received:
    """What the fetch script sent so far, appended to the partial file."""

    in_path: str
    read_size: int  # the largest read of the script: no chunk inflates to more
    partial: FetchPartial
    resumed_from: int = 0
    kind: str | None = None  # "[FILE]" or "[DIR]"
    remote_hash: str | None = None

    def take(self, item: Any) -> None:
        """One output object of the fetch script."""
        if isinstance(item, dict) and set(item) == {"Deflate"}:
            try:
                item = inflate_chunk(item["Deflate"], self.read_size)
            except CorruptChunk as exc:
                raise TransferError(f"fetch of '{self.in_path}': {exc}") from None
        if isinstance(item, bytes):
            self.partial.digest.update(item)
            self.partial.size += len(item)
            try:
                self.partial.file.write(item)
            except OSError as exc:
                raise _LocalWriteFailed(exc) from None
        elif item in ("[DIR]", "[FILE]"):
            self.kind = item
        elif isinstance(item, str) and item.startswith("RESUME:"):
            self.resumed_from = int(item[7:])
            if self.resumed_from != self.partial.size:
                self.partial.restart()
        elif isinstance(item, str) and item.startswith("SHA256:"):
            self.remote_hash = item[7:]

    def drain(self, ps: PowerShell) -> None:
        while ps.output:
            self.take(ps.output.pop(0))


def _verdict(
    session: PSRPSession, ps: PowerShell, received: _Received, out_path: str
) -> dict[str, Any] | None:
    """The result of a finished fetch: a dict for a directory, None for a verified file."""
    rc, _out, stderr = parse_pipeline_result(ps, session.host, 0)
    session.finish(ps)
    if received.kind == "[DIR]":
        return {"directory": True}
    if rc != 0 or received.kind != "[FILE]":
        raise TransferError(f"failed to transfer file to '{out_path}': {stderr.decode('utf-8', 'replace')}")
    actual = received.partial.digest.hexdigest()
    if received.remote_hash != actual:
        raise TransferError(
            f"fetch of '{received.in_path}': remote SHA256 {received.remote_hash} does not match received "
            f"data {actual}"
        )
    return None


def _fetch_into(
    session: PSRPSession, pool: RunspacePool, in_path: str, out_path: str, partial: FetchPartial
) -> dict[str, Any]:
    session.reset_host()
    buffer_size = output_chunk_size(pool.connection.max_payload_size)
    read_size = buffer_size * COMPRESSED_READ_CHUNKS
    ps = session.new_pipeline(pool)
    ps.add_script(FETCH_FILE_SCRIPT, use_local_scope=True)
    ps.add_parameter("Path", in_path)
    ps.add_parameter("BufferSize", buffer_size)
    ps.add_parameter("Compress", True)
    ps.add_parameter("CompressedReadSize", read_size)
    if partial.size:
        ps.add_parameter("Offset", TaggedValue("I64", partial.size))
        ps.add_parameter("PrefixSha256", partial.digest.hexdigest())
    received = _Received(in_path, read_size, partial)
    session.start(ps, None)
    try:
        received.drain(ps)
        session.wait(ps, received.drain, capped=False, ahead=True)
        received.drain(ps)
    except _LocalWriteFailed as failed:
        raise _abandon_fetch(session, ps, out_path, partial, failed.error) from None
    verdict = _verdict(session, ps, received, out_path)
    if verdict is not None:
        return verdict
    partial.commit(out_path)
    return {"sha256": received.remote_hash, "bytes": partial.size, "resumed_from": received.resumed_from}


def fetch_file(session: PSRPSession, in_path: str, out_path: str, mode: int | None = None) -> dict[str, Any]:
    """Stream ``in_path`` to ``out_path`` through ``<out_path>.psrp-partial``, renamed on a hash
    match. A fetch that lost its connection keeps the partial file for the next one to resume."""

    def work(pool: RunspacePool) -> dict[str, Any]:
        session.require_script_text(pool, "file transfer (fetch_file sends a PowerShell script)")
        partial = open_fetch_partial(out_path, fetched_file_mode(out_path) if mode is None else mode)
        keep = False
        try:
            result = _fetch_into(session, pool, in_path, out_path, partial)
        except SessionError as exc:
            # the connection dropped: the next fetch to this destination resumes
            keep = partial.shared and exc.info.retry_safe and partial.size > 0
            raise
        finally:
            if keep:
                partial.keep()
            else:
                partial.discard()
        return result

    return session.run(work)
