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
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import (
    pid_alive,
    recv_frame,
    send_frame,
)

START_TIMEOUT = 15.0
# Unix socket paths are limited to 108 bytes on Linux (sun_path).
MAX_SOCKET_PATH = 100


class BrokerUnavailable(Exception):
    """The broker cannot be reached or started (the caller may fall back to a local session)."""


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
    path = os.path.abspath(os.path.expanduser(path))
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.stat(path)
    if st.st_uid != os.getuid():
        raise BrokerUnavailable(f"session directory {path} is not owned by the current user")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


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
        if len(self.sock_path) > MAX_SOCKET_PATH:
            raise BrokerUnavailable(
                f"session socket path {self.sock_path} is too long for a Unix socket; "
                "set ansible_psrp_session_dir to a shorter directory"
            )

    # transport
    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.sock_path)
        except OSError:
            sock.close()
            raise
        return sock

    def request(self, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        for attempt in (0, 1, 2):
            try:
                sock = self._connect()
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED) or attempt == 2:
                    raise BrokerUnavailable(f"cannot reach the session broker: {exc}") from None
                self.ensure_broker()
                continue
            try:
                sock.settimeout(timeout)
                send_frame(sock, message)
                reply = recv_frame(sock)
            except (OSError, ValueError, ConnectionError) as exc:
                raise BrokerUnavailable(f"session broker connection failed: {exc}") from None
            finally:
                sock.close()
            err = reply.get("error") if not reply.get("ok") else None
            if isinstance(err, dict) and err.get("kind") == "retry" and attempt < 2:
                time.sleep(0.2)  # the old broker is shutting down; a new one will be started
                continue
            return reply
        raise BrokerUnavailable("session broker did not answer")

    def ping(self) -> bool:
        try:
            sock = self._connect()
        except OSError:
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
        with open(self.lock_path, "a+") as lock_fh:
            os.chmod(self.lock_path, 0o600)
            fcntl.flock(lock_fh, fcntl.LOCK_EX)
            try:
                if self.ping():
                    return
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.sock_path)  # stale socket of a dead broker
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
        old_umask = os.umask(0o077)
        try:
            log_fh = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        finally:
            os.umask(old_umask)
        with log_fh:
            subprocess.Popen(
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


def cleanup_stale(directory: str) -> int:
    """Remove sockets/locks/logs of brokers whose controller is gone (previous runs)."""
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if not name.startswith("broker-"):
            continue
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
