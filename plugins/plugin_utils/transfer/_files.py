# for internal use by psremoting.core only; not a public API
"""put_file / fetch_file over a ``PSRPSession``: the controller side of the transfer scripts.

- put: the local file is cut into pipeline input objects that each fill one WSMan Send
  (``_chunks.PutChunker``: deflate where it pays, raw bytes where not), the SHA256 of the file
  goes last, and ``PUT_FILE_SCRIPT`` writes a temporary file it renames only when its own hash of
  what it received matches;
- fetch: ``FETCH_FILE_SCRIPT`` streams the remote file as chunks of about one Receive each
  (``@{Deflate = byte[]}`` when compressed), then ``SHA256:<hex>``; the controller writes to a
  temporary file in the destination folder and renames it only when the hashes match, so a
  failed or interrupted fetch never replaces the previous copy.

Both run in the session's runspace pool through ``PSRPSession.run`` (one transparent reopen if
the shell was gone before the command started) and raise ``TransferError`` for a task failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import tempfile
from typing import IO, Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (
    PSRPSession,
    SessionError,
    TransferError,
    parse_pipeline_result,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import classify
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    PowerShell,
    PSInvocationState,
    RunspacePool,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._chunks import (
    CorruptChunk,
    PutChunker,
    inflate_chunk,
    put_input,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._mode import fetched_file_mode
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._scripts import (
    FETCH_FILE_SCRIPT,
    PUT_FILE_SCRIPT,
)

# Bytes of CLIXML/PSRP message overhead around one pipeline-input byte[] object (<BA> element,
# PipelineInput message header, fragment header), with margin.
_INPUT_OVERHEAD = 256


def input_chunk_size(max_payload_size: int) -> int:
    """Raw bytes per put_file input object so that one object fills one WSMan Send."""
    return max(1024, (max_payload_size - _INPUT_OVERHEAD) * 3 // 4)


def output_chunk_size(max_payload_size: int) -> int:
    """Raw bytes per fetch_file output object so that one object fills about one Receive."""
    size = max(1024, (max_payload_size - _INPUT_OVERHEAD) * 3 // 4)
    return size - (size % 1024)


def _prop(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    for attr in ("adapted_properties", "extended_properties"):
        props = getattr(obj, attr, None) or {}
        if name in props:
            return props[name]
    return getattr(obj, name, None)


# -- put ------------------------------------------------------------------------------------------
def put_file(session: PSRPSession, in_path: str, out_path: str) -> dict[str, Any]:
    """Copy the local ``in_path`` to ``out_path`` on the host; the remote hash must match."""
    if not os.path.exists(in_path):
        raise FileNotFoundError(f'file or module does not exist: "{in_path}"')

    def work(pool: RunspacePool) -> dict[str, Any]:
        session.require_script_text(pool, "file transfer (put_file sends a PowerShell script)")
        session.reset_host()
        digest = hashlib.sha256()
        chunker = PutChunker(input_chunk_size(pool.connection.max_payload_size))
        ps = session.new_pipeline(pool)
        ps.add_script(PUT_FILE_SCRIPT, use_local_scope=True)
        ps.add_parameter("Path", out_path)
        with open(in_path, "rb") as src:
            session.start(ps, put_input(src, chunker, digest))
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
            "bytes": chunker.stats.raw_bytes,
            "compressed_chunks": chunker.stats.compressed_chunks,
            "plain_chunks": chunker.stats.plain_chunks,
            "payload_bytes": chunker.stats.sent_bytes,
        }

    return session.run(work)


# -- fetch ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Received:
    """What the fetch script sent so far."""

    in_path: str
    buffer_size: int
    digest: Any = dataclasses.field(default_factory=hashlib.sha256)
    size: int = 0
    kind: str | None = None  # "[FILE]" or "[DIR]"
    remote_hash: str | None = None

    def take(self, item: Any, dst: IO[bytes]) -> None:
        """One output object of the fetch script."""
        if isinstance(item, dict) and set(item) == {"Deflate"}:
            try:
                item = inflate_chunk(item["Deflate"], self.buffer_size)
            except CorruptChunk as exc:
                raise TransferError(f"fetch of '{self.in_path}': {exc}") from None
        if isinstance(item, bytes):
            self.digest.update(item)
            self.size += len(item)
            dst.write(item)
        elif item in ("[DIR]", "[FILE]"):
            self.kind = item
        elif isinstance(item, str) and item.startswith("SHA256:"):
            self.remote_hash = item[7:]


def _stream(session: PSRPSession, ps: PowerShell, received: _Received, dst: IO[bytes]) -> None:
    """Write the output of the running fetch script to ``dst`` as it arrives."""
    while True:
        while ps.output:
            received.take(ps.output.pop(0), dst)
        if ps.state != PSInvocationState.RUNNING:
            return
        try:
            ps.poll_invoke()
        except Exception as exc:
            raise SessionError(classify(exc, session.host_label, session.port, stage="receive")) from None


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
    if received.remote_hash != received.digest.hexdigest():
        raise TransferError(
            f"fetch of '{received.in_path}': remote SHA256 {received.remote_hash} does not match received "
            f"data {received.digest.hexdigest()}"
        )
    return None


def fetch_file(session: PSRPSession, in_path: str, out_path: str, mode: int | None = None) -> dict[str, Any]:
    """Stream ``in_path`` to ``out_path``; write to a temp file, rename on hash match."""

    def work(pool: RunspacePool) -> dict[str, Any]:
        session.require_script_text(pool, "file transfer (fetch_file sends a PowerShell script)")
        session.reset_host()
        buffer_size = output_chunk_size(pool.connection.max_payload_size)
        ps = session.new_pipeline(pool)
        ps.add_script(FETCH_FILE_SCRIPT, use_local_scope=True)
        ps.add_parameter("Path", in_path)
        ps.add_parameter("BufferSize", buffer_size)
        ps.add_parameter("Compress", True)
        session.start(ps, None)
        received = _Received(in_path, buffer_size)
        fd, tmp = tempfile.mkstemp(
            prefix=".psrp-fetch-", suffix=".partial", dir=os.path.dirname(out_path) or "."
        )
        try:
            os.fchmod(fd, fetched_file_mode(out_path) if mode is None else mode)
            with os.fdopen(fd, "wb") as dst:
                _stream(session, ps, received, dst)
            verdict = _verdict(session, ps, received, out_path)
            if verdict is not None:
                return verdict
            os.replace(tmp, out_path)
            tmp = ""
            return {"sha256": received.remote_hash, "bytes": received.size}
        finally:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    return session.run(work)
