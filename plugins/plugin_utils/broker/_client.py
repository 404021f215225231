# for internal use by psremoting.core only; not a public API
"""Worker side of persistent sessions: find or start the broker and talk to it.

Stdlib only (no pypsrp import): a task on a warm session costs one Unix-socket round trip to the
broker plus the WSMan requests the broker makes. The broker belongs to the ansible-playbook
process that runs the play (the workers' parent); its socket is
``<session_dir>/broker-<controller pid>-<shard>.sock``: a run has up to ``BROKER_SHARDS`` brokers,
one per CPU, and a host always goes to the same one (``shard_for``), so the CPU-bound work of
many sessions (XML, message encryption, authentication) is spread over processes instead of
queueing behind one interpreter lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import multiprocessing
import os
import socket
import stat
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import (
    peer_cred,
    pid_alive,
    process_start_time,
    recv_frame,
    recv_reply,
    send_frame,
)

if TYPE_CHECKING:
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import ConnectionSettings

START_TIMEOUT = 15.0
SHELL_RECORD_SUFFIX = ".shells.json"  # broker._orphans.SUFFIX (this module stays import-light)
# Seconds a worker waits for the spawning worker to record a new broker's pid.
RECORD_WAIT = 2.0
# Unix socket paths are limited to 108 bytes on Linux (sun_path).
MAX_SOCKET_PATH = 100


class BrokerUnavailable(Exception):
    """The broker cannot be reached or started (the caller may fall back to a local session)."""


class SessionDirUnsafe(BrokerUnavailable):
    """Something in the session directory is not this user's own broker: refused, not bypassed.

    Nothing is sent and nothing there is followed or reused; the caller must not fall back
    silently either (the task fails with this message, which names the directory and the fix).
    """


def conn_message(settings: ConnectionSettings, become: Any = None) -> dict[str, Any]:
    """The ``conn`` of a broker request for ``settings`` (what ``BrokerBackend`` sends)."""
    return {
        "host": settings.host,
        "identity": settings.identity(),
        "wsman": dict(settings.wsman_kwargs),
        "configuration_name": settings.configuration_name,
        "no_profile": settings.no_profile,
        "become": become,
        "idle_timeout": settings.session.idle_timeout,
        "shell_idle_timeout": settings.session.shell_idle_timeout,
        "max_output_size": settings.max_output_size,
        "orphan_idle": settings.orphan_idle,
    }


def _unsafe(directory: str, detail: str) -> SessionDirUnsafe:
    return SessionDirUnsafe(
        f"session directory {directory}: {detail}; refusing to use it (nothing was sent). Another "
        "local user may have planted it. Fix: remove that file and make the directory private "
        "(chmod 700), or set ansible_psrp_session_dir to a directory only you can write"
    )


def open_private(path: str, flags: int) -> int:
    """``os.open`` of a file in the session directory that never follows a symbolic link and
    refuses anything but a regular file of this user with one link (the descriptor is 0600 when
    created). A hard link another user planted to one of this user's files (possible where
    ``fs.protected_hardlinks`` is off) is refused before a byte of it is changed: ``O_TRUNC`` is
    applied only after the check, and ``O_NONBLOCK`` keeps a planted FIFO from blocking the open."""
    directory, name = os.path.split(path)
    try:
        fd = os.open(path, (flags & ~os.O_TRUNC) | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _unsafe(directory, f"{name} is a symbolic link") from None
        raise
    st = os.fstat(fd)
    problem = _not_private(st)
    if problem:
        os.close(fd)
        raise _unsafe(directory, f"{name} {problem}")
    if flags & os.O_TRUNC:
        os.ftruncate(fd, 0)
    return fd


def _not_private(st: os.stat_result) -> str:
    """Why a broker file with this ``lstat``/``fstat`` is not this user's own ('' when it is)."""
    if st.st_uid != os.getuid():
        return f"belongs to uid {st.st_uid}, not to you (uid {os.getuid()})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISSOCK(st.st_mode)):
        return "is neither a regular file nor a socket"
    if st.st_nlink != 1:
        return f"has {st.st_nlink} hard links (a file planted as a link to another)"
    return ""


def check_entries(directory: str) -> None:
    """Refuse broker files (sockets, locks, logs, pid records) that are not the user's own."""
    for name in os.listdir(directory):
        if not name.startswith("broker-"):
            continue
        try:
            st = os.lstat(os.path.join(directory, name))
        except FileNotFoundError:
            continue
        problem = _not_private(st)
        if problem:
            raise _unsafe(directory, f"{name} {problem}")


def controller_pid() -> int:
    """The ansible-playbook (TaskQueueManager) process: the parent of a forked worker.

    ``meta: reset_connection`` runs in the controller itself, which has no multiprocessing parent.
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid:
        return int(parent.pid)
    return os.getpid()


def collection_root() -> str:
    """The directory that holds ``ansible_collections`` (for the broker's sys.path)."""
    # .../ansible_collections/psremoting/core/plugins/plugin_utils/broker/_client.py
    return str(Path(__file__).absolute().parents[6])


def prepare_dir(path: str) -> str:
    """The session directory, created 0700, tightened to 0700, checked (:func:`check_entries`).

    The path is resolved once (a symbolic link another user planted as the directory is not
    followed again later) and no directory above it may be writable by everyone unless sticky (as
    ``/tmp`` is: :func:`_check_ancestors`). A shared sticky directory (``/tmp`` itself) is
    refused, never tightened. An unusable path raises :class:`BrokerUnavailable` naming the
    option."""
    given = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(given, mode=0o700, exist_ok=True)
        path = os.path.realpath(given)
        st = os.stat(path)
    except OSError as exc:
        why = "it exists and is not a directory" if isinstance(exc, FileExistsError) else exc.strerror or exc
        raise BrokerUnavailable(
            f"session directory {given} (ansible_psrp_session_dir) cannot be used: "
            f"{why}; set ansible_psrp_session_dir to a directory you can create and write"
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise BrokerUnavailable(
            f"session directory {given} (ansible_psrp_session_dir) is not a directory; "
            "set ansible_psrp_session_dir to a directory you can create and write"
        )
    if st.st_uid != os.getuid():
        raise SessionDirUnsafe(
            f"session directory {path} is not owned by the current user (uid {st.st_uid}, you are "
            f"uid {os.getuid()}); set ansible_psrp_session_dir to a directory of your own"
        )
    if st.st_mode & stat.S_ISVTX:
        private = os.path.join(path, f"psrp-{os.getuid()}")
        raise SessionDirUnsafe(
            f"session directory {path} is a shared directory (mode {stat.S_IMODE(st.st_mode):04o}, "
            "sticky like /tmp): its mode is left alone and it is not used; set "
            f"ansible_psrp_session_dir to a directory of your own, e.g. {private}"
        )
    _check_ancestors(path)
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    check_entries(path)
    return path


def _check_ancestors(path: str) -> None:
    """Refuse a session directory inside a directory that everyone can change entries of (writable
    by others and not sticky): anyone could rename it away and put a directory or a symbolic link
    of theirs in its place. A directory of another user above it is accepted (``sudo`` keeping
    ``HOME``): that user can only delete what the broker writes, never read it or make it follow a
    link (:func:`open_private`, the broker's peer check)."""
    parent = os.path.dirname(path)
    while True:
        mode = stat.S_IMODE(os.stat(parent).st_mode)
        if mode & 0o002 and not mode & stat.S_ISVTX:
            raise SessionDirUnsafe(
                f"session directory {path} is inside {parent}, which everyone (mode {mode:04o}) can "
                "change (and so replace the session directory); set ansible_psrp_session_dir to a "
                "directory under one only you (or root) can write"
            )
        if parent == os.path.dirname(parent):
            return
        parent = os.path.dirname(parent)


BROKER_SHARDS = max(1, min(4, os.cpu_count() or 1))


def shard_for(host: str) -> int:
    """The broker shard that holds every session to ``host`` (stable across processes)."""
    return zlib.crc32(host.encode("utf-8")) % BROKER_SHARDS


class BrokerClient:
    def __init__(self, session_dir: str, controller: int | None = None, shard: int = 0) -> None:
        self.dir = prepare_dir(session_dir)
        self.controller = controller if controller is not None else controller_pid()
        stem = os.path.join(self.dir, f"broker-{self.controller}-{shard}")
        self.sock_path = f"{stem}.sock"
        self.lock_path = f"{stem}.lock"
        self.log_path = f"{stem}.log"
        self.pid_path = f"{stem}.pid"  # "<broker pid> <start time>", written by the spawning worker
        if len(self.sock_path) > MAX_SOCKET_PATH:
            raise BrokerUnavailable(
                f"session socket path {self.sock_path} is too long for a Unix socket; "
                "set ansible_psrp_session_dir to a shorter directory"
            )

    # transport
    def _connect(self) -> socket.socket:
        """A connection to this run's broker, checked before a byte is sent (:meth:`_check_peer`)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.sock_path)
            self._check_peer(sock)
        except BaseException:
            sock.close()
            raise
        return sock

    def _check_peer(self, sock: socket.socket) -> None:
        """The process listening on the socket must run as this user and be the broker this run
        started (the pid the spawning worker recorded), as the kernel reports it (SO_PEERCRED)."""
        cred = peer_cred(sock)
        name = os.path.basename(self.sock_path)
        if cred is None or cred.uid != os.getuid():
            who = "an unknown process" if cred is None else f"pid {cred.pid} of uid {cred.uid}"
            raise _unsafe(self.dir, f"{name} is served by {who}, not by you (uid {os.getuid()})")
        expected = self._recorded_broker_pid()
        deadline = time.monotonic() + RECORD_WAIT
        while expected is None and time.monotonic() < deadline:  # the spawner writes it after Popen
            time.sleep(0.02)
            expected = self._recorded_broker_pid()
        if cred.pid != expected:
            raise _unsafe(
                self.dir,
                f"{name} is served by pid {cred.pid}, not by this run's broker "
                f"({'no pid recorded' if expected is None else f'pid {expected}'})",
            )

    def _recorded_broker_pid(self) -> int | None:
        try:
            fd = open_private(self.pid_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "r", encoding="ascii", errors="replace") as fh:
            fields = fh.read().split()
        if not fields or not fields[0].isdigit():
            return None
        pid = int(fields[0])
        start = fields[1] if len(fields) > 1 else None
        return pid if pid_alive(pid, start) else None

    def request(
        self,
        message: dict[str, Any],
        timeout: float | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Send one request; the reply is the last frame. Frames ``{"event": {...}}`` before it
        (live output of a running request) go to ``on_event``."""
        for attempt in (0, 1, 2):
            try:
                sock = self._connect()
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED) or attempt == 2:
                    raise BrokerUnavailable(f"cannot reach the session broker: {exc}") from None
                self.ensure_broker()
                continue
            started = False
            try:
                sock.settimeout(timeout)
                send_frame(sock, message)
                reply, raw = recv_reply(sock)
                while isinstance(reply.get("event"), dict) or "progress" in reply:
                    if "progress" in reply:  # interim: the host accepted the command
                        started = True
                    elif on_event is not None:  # live output of the running request
                        on_event(reply["event"])
                    reply, raw = recv_reply(sock)
                if raw is not None:
                    reply["raw"] = raw  # an exec's stdout, as the broker sent it
            except (OSError, ValueError, ConnectionError) as exc:
                raise BrokerUnavailable(self._lost(exc, started)) from None
            finally:
                sock.close()
            err = reply.get("error") if not reply.get("ok") else None
            if isinstance(err, dict) and err.get("kind") == "retry" and attempt < 2:
                time.sleep(0.2)  # the old broker is shutting down; a new one will be started
                continue
            return reply
        raise BrokerUnavailable("session broker did not answer")

    def _lost(self, exc: BaseException, started: bool) -> str:
        """What a worker says when its broker stops answering in the middle of a request."""
        if started:
            outcome = (
                "after the command had started on the host: its outcome is unknown, and it was not sent again"
            )
        else:
            outcome = "before the command started on the host: nothing ran there"
        return f"the session broker stopped answering ({exc}) {outcome}; see {self.log_path}"

    def ping(self) -> bool:
        try:
            sock = self._connect()
        except (OSError, SessionDirUnsafe) as exc:
            if isinstance(exc, SessionDirUnsafe) and os.path.exists(self.pid_path):
                raise  # our broker is recorded, yet someone else answers: refuse
            return False
        try:
            sock.settimeout(5)
            send_frame(sock, {"op": "ping"})
            return bool(recv_frame(sock).get("ok"))
        except (OSError, ValueError, ConnectionError):
            return False
        finally:
            sock.close()

    # start on demand
    def ensure_broker(self) -> None:
        cleanup_stale(self.dir)
        with os.fdopen(open_private(self.lock_path, os.O_RDWR | os.O_CREAT), "r+b") as lock_fh:
            fcntl.flock(lock_fh, fcntl.LOCK_EX)
            try:
                if self.ping():
                    return
                for stale in (self.sock_path, self.pid_path):  # of a dead broker (our own: checked)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(stale)
                self._spawn()
                deadline = time.monotonic() + START_TIMEOUT
                while time.monotonic() < deadline:
                    if self.ping():
                        return
                    time.sleep(0.02)
                raise BrokerUnavailable(
                    f"session broker did not start within {START_TIMEOUT:.0f}s; see {self.log_path}"
                )
            finally:
                fcntl.flock(lock_fh, fcntl.LOCK_UN)

    def _spawn(self) -> None:
        root = collection_root()
        code = (
            "import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from ansible_collections.psremoting.core.plugins.plugin_utils.broker import _server; "
            "sys.exit(_server.main())"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        log_fd = open_private(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(log_fd, "ab") as log_fh:
            broker = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    code,
                    root,
                    "--socket",
                    self.sock_path,
                    "--controller-pid",
                    str(self.controller),
                    "--log",
                    self.log_path,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_fh,
                start_new_session=True,  # Ctrl-C on ansible-playbook must not kill it mid-cleanup
                close_fds=True,
                cwd="/",
                env=env,
            )
        self.record_broker(broker.pid)

    def record_broker(self, pid: int) -> None:
        """Record the broker process this run started: the only peer :meth:`_check_peer` accepts."""
        record = open_private(self.pid_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(record, "w", encoding="ascii") as fh:
            fh.write(f"{pid} {process_start_time(pid) or ''}\n")


def cleanup_stale(directory: str) -> int:
    """Remove sockets/locks/logs of brokers whose controller is gone (previous runs)."""
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if not name.startswith("broker-") or name.endswith(SHELL_RECORD_SUFFIX):
            continue  # a dead broker's shell record stays until the next broker removes its shells
        stem = name.split(".", 1)[0]  # broker-<controller pid>-<shard>
        try:
            pid = int(stem.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))
            removed += 1
    return removed


def remove_run_files(sock_path: str) -> None:
    """What a broker that ends with its run (the controller is gone) removes besides its socket:
    the run's lock and pid record. Its log stays for the user to read until the next run removes
    it (:func:`cleanup_stale`), and so does a record of shells it could not delete (the next
    broker deletes those shells, broker._orphans)."""
    stem = sock_path[: -len(".sock")] if sock_path.endswith(".sock") else sock_path
    for suffix in (".pid", ".lock"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stem + suffix)
