# for internal use by psremoting.core only; not a public API
"""The partial files that let a dropped transfer resume (stdlib only).

- fetch: the controller writes ``<dest>.psrp-partial`` beside the destination
  (:func:`open_fetch_partial`); a retried fetch of the same destination hands the host its length
  and SHA256, and the host sends only the rest when its file starts with those bytes.
- put: the host keeps ``<dest>.psrp-partial``; :func:`prefix_digest` checks a partial's length and
  hash against the local source before a put resumes from it.

A partial file is reused only when it is a regular file owned by the controller's user (never
through a symbolic link); anything else at that name is replaced. A fetch holds an exclusive
``flock`` on its partial file until it renamed it onto the destination or gave up: another
fetch to the same destination at the same time (``fetch flat=yes`` from several hosts) writes to
a private temporary file beside it instead (no resume for that one), so two fetches never write
into, truncate or rename each other's bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._scripts import PARTIAL_SUFFIX

#: Bytes read at a time when hashing a partial file or a source prefix.
HASH_BLOCK = 1024 * 1024
#: Longest file name component (NAME_MAX on Linux and macOS).
NAME_MAX = 255


def partial_path(dest: str) -> str:
    """``<dest>.psrp-partial``; a hashed name in the same folder when that name is too long."""
    folder, name = os.path.split(dest)
    if len(os.fsencode(name + PARTIAL_SUFFIX)) > NAME_MAX:
        name = "." + hashlib.sha256(os.fsencode(name)).hexdigest()[:32]
    return os.path.join(folder, name + PARTIAL_SUFFIX)


def hash_stream(stream: IO[bytes], length: int | None = None) -> tuple[Any, int]:
    """(sha256 object, bytes read) of the next ``length`` bytes of ``stream`` (all when None)."""
    digest = hashlib.sha256()
    done = 0
    while length is None or done < length:
        want = HASH_BLOCK if length is None else min(HASH_BLOCK, length - done)
        block = stream.read(want)
        if not block:
            break
        digest.update(block)
        done += len(block)
    return digest, done


def prefix_digest(source: IO[bytes], length: int, sha256: str) -> Any | None:
    """The running sha256 of ``source``'s first ``length`` bytes when they hash to ``sha256``
    (the put may resume after them, ``source`` is then positioned there), else None (``source``
    is back at 0)."""
    if length > 0:
        digest, done = hash_stream(source, length)
        if done == length and digest.hexdigest() == sha256:
            return digest
    source.seek(0)
    return None


@dataclass
class FetchPartial:
    """The controller's partial file of one fetch: an open file positioned at its end."""

    path: str
    file: IO[bytes]
    size: int
    digest: Any
    shared: bool = True  # the destination's own partial (a later fetch may resume from it)
    committed: bool = False

    def restart(self) -> None:
        """The host's file does not start with these bytes: empty the partial file."""
        self.file.seek(0)
        self.file.truncate()
        self.size = 0
        self.digest = hashlib.sha256()

    def commit(self, dest: str) -> None:
        """Rename the (verified) partial file onto ``dest``, still holding its lock, so that no
        other fetch takes the file between the rename and the close."""
        self.file.flush()
        os.replace(self.path, dest)
        self.committed = True
        self.file.close()

    def keep(self) -> None:
        """Leave the partial file for a later fetch to resume from (releases the lock)."""
        self.file.close()

    def discard(self) -> None:
        """Delete the partial file (while still locked: never another fetch's file) and close it;
        after :meth:`commit` only closes."""
        if not self.committed:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        with contextlib.suppress(OSError):
            self.file.close()


def _owned_regular(fd: int) -> bool:
    st = os.fstat(fd)
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()


def _locked_here(fd: int, path: str) -> bool:
    """Whether this process now holds the exclusive lock of ``fd`` and ``path`` still names it
    (a fetch that finished renames its partial away, still locked)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # another fetch to the same destination holds it
        return False
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _private_partial(dest: str, mode: int) -> FetchPartial:
    """An empty temporary file beside ``dest`` that no other fetch can find (no resume)."""
    fd, path = tempfile.mkstemp(prefix=".psrp-fetch-", suffix=".partial", dir=os.path.dirname(dest) or ".")
    try:
        os.fchmod(fd, mode)
        stream = os.fdopen(fd, "r+b")
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    return FetchPartial(path, stream, 0, hashlib.sha256(), shared=False)


def _shared_fd(path: str) -> int:
    """The destination's partial file: reused when it is ours, else replaced by a new one; -1
    when neither can be done (a file another user left in a sticky folder such as /tmp, or one
    another fetch created at the same moment)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, os.O_RDWR | nofollow)
    except FileNotFoundError:
        fd = -1
    except OSError:  # a symbolic link (ELOOP) or not openable: replace it
        fd = -2
    if fd >= 0 and not _owned_regular(fd):
        os.close(fd)
        fd = -2
    try:
        if fd == -2:
            os.unlink(path)
        if fd < 0:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | nofollow, 0o600)
    except OSError:
        return -1
    return fd


def open_fetch_partial(dest: str, mode: int) -> FetchPartial:
    """Reuse ``dest``'s partial file (hashed, positioned at its end), or create it empty with
    ``mode``; locked (see the module docstring), else a private one. Never follows a symbolic
    link; a partial owned by another user is replaced (or, where it cannot be removed, left
    alone for a private one)."""
    path = partial_path(dest)
    fd = _shared_fd(path)
    if fd < 0 or not _locked_here(fd, path):
        if fd >= 0:
            os.close(fd)
        return _private_partial(dest, mode)
    try:
        os.fchmod(fd, mode)
        stream = os.fdopen(fd, "r+b")
    except BaseException:
        os.close(fd)
        raise
    digest, size = hash_stream(stream)
    return FetchPartial(path, stream, size, digest)
