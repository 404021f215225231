"""The planted-socket attack of issue 15, played with a real second Unix user.

A session directory that is (or once was) writable by others lets another local user bind
``broker-<controller pid>-<shard>.sock`` first. Before this was fixed the worker connected to it
and sent the full connection settings, password included. Here a second user, created for the
test with ``useradd``, listens on that path and records every byte it receives; the worker must
refuse with a message naming the directory and the fix, and the attacker must receive nothing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (
    BrokerClient,
    SessionDirUnsafe,
)

SECRET = "Planted-Socket-Hunter2"

pytestmark = [
    pytest.mark.skipif(
        os.getuid() != 0, reason="needs root to create a second Unix user (useradd) and act as it"
    ),
    pytest.mark.skipif(shutil.which("useradd") is None, reason="useradd is not installed"),
]


@pytest.fixture(scope="module")
def attacker() -> Iterator[pwd.struct_passwd]:
    name = f"psrpatk{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


class Listener:
    """A process running as the attacker that listens on ``path`` and counts what it receives."""

    def __init__(self, user: pwd.struct_passwd, path: str) -> None:
        self.path = path
        ready_r, ready_w = os.pipe()
        self._loot_r, loot_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the attacker
            os.close(ready_r)
            os.close(self._loot_r)
            self._serve(user, ready_w, loot_w)
        os.close(ready_w)
        os.close(loot_w)
        with os.fdopen(ready_r, "rb") as fh:
            assert fh.read() == b"listening", "the attacker could not bind the socket"

    def _serve(self, user: pwd.struct_passwd, ready_w: int, loot_w: int) -> None:
        received = b""
        try:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(self.path)
            os.chmod(self.path, 0o777)
            server.listen(8)
            server.settimeout(0.2)
            os.write(ready_w, b"listening")
            os.close(ready_w)
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    while chunk := conn.recv(65536):
                        received += chunk
                conn.close()
        finally:
            os.write(loot_w, received)
            os._exit(0)

    def loot(self) -> bytes:
        with os.fdopen(self._loot_r, "rb") as fh:
            data = fh.read()
        os.waitpid(self.pid, 0)
        return data

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, 9)


def _request(client: BrokerClient) -> Any:
    conn = {"host": "win1", "wsman": {"server": "win1", "username": "admin", "password": SECRET}}
    return client.request({"op": "exec", "conn": conn, "args": {"script": "hostname"}}, timeout=2)


@pytest.fixture
def loose_dir() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="psrpatk-", dir="/tmp")
    os.chmod(directory, 0o777)  # the directory is, or once was, writable by others
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_planted_socket_is_refused_and_the_secret_never_leaves(
    attacker: pwd.struct_passwd, loose_dir: str
) -> None:
    path = os.path.join(loose_dir, f"broker-{os.getpid()}-0.sock")
    listener = Listener(attacker, path)
    try:
        with pytest.raises(SessionDirUnsafe) as refused:
            _request(BrokerClient(loose_dir, controller=os.getpid(), shard=0))
    finally:
        listener.stop()
    message = str(refused.value)
    assert loose_dir in message and os.path.basename(path) in message
    assert f"uid {attacker.pw_uid}" in message and "ansible_psrp_session_dir" in message
    assert listener.loot() == b""
    assert os.lstat(path).st_uid == attacker.pw_uid, "the planted file is neither reused nor removed"


def test_a_socket_planted_after_the_directory_check_fails_the_peer_check(
    attacker: pwd.struct_passwd, loose_dir: str
) -> None:
    """The attacker wins the race between the worker's directory check and its connect: the
    kernel's SO_PEERCRED still names the attacker, and nothing is sent."""
    client = BrokerClient(loose_dir, controller=os.getpid(), shard=0)  # checked, tightened to 0700
    os.chmod(loose_dir, 0o777)  # ...and opened again by the attacker's earlier foothold
    client.record_broker(os.getpid())  # this run's broker is recorded; someone else listens
    listener = Listener(attacker, client.sock_path)
    try:
        with pytest.raises(SessionDirUnsafe, match=f"served by pid {listener.pid} of uid {attacker.pw_uid}"):
            _request(client)
    finally:
        listener.stop()
    assert listener.loot() == b""


def test_a_symlinked_lock_file_is_never_followed(loose_dir: str, tmp_path: Any) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("keep")
    client = BrokerClient(loose_dir, controller=os.getpid(), shard=0)
    os.symlink(target, client.lock_path)
    with pytest.raises(SessionDirUnsafe, match="is a symbolic link"):
        client.ensure_broker()
    assert target.read_text() == "keep"


def test_a_hard_link_planted_as_a_broker_file_is_refused_before_it_is_written(
    loose_dir: str, tmp_path: Any
) -> None:
    """Where fs.protected_hardlinks is off, another user can link one of this user's files into a
    directory that is (or was) open to them, under a broker file's name: the pid record is opened
    with O_TRUNC and the log with O_APPEND, so following it would truncate or append to the
    victim. (Played with this user's own file: the kernel setting decides only who can plant it.)"""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    client = BrokerClient(loose_dir, controller=os.getpid(), shard=0)
    os.link(victim, client.pid_path)
    with pytest.raises(SessionDirUnsafe, match=r"\.pid has 2 hard links"):
        client.record_broker(os.getpid())
    assert victim.read_text() == "keep"
    with pytest.raises(SessionDirUnsafe, match="has 2 hard links"):
        BrokerClient(loose_dir, controller=os.getpid(), shard=0)  # the directory check sees it too
    assert victim.read_text() == "keep"


def test_a_fifo_planted_as_the_pid_record_does_not_block(loose_dir: str) -> None:
    client = BrokerClient(loose_dir, controller=os.getpid(), shard=0)
    os.mkfifo(client.pid_path, 0o600)
    outcome: list[BaseException | int | None] = []

    def read() -> None:
        try:
            outcome.append(client._recorded_broker_pid())
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # blocked in open(): release it with a writer, then fail
        os.close(os.open(client.pid_path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
        pytest.fail("reading a FIFO planted as the pid record blocked")
    assert isinstance(outcome[0], SessionDirUnsafe)
    assert "is neither a regular file nor a socket" in str(outcome[0])


def test_a_directory_planted_by_another_user_is_refused_through_a_symlink_too(
    attacker: pwd.struct_passwd, tmp_path: Any
) -> None:
    """The attacker pre-creates the session directory, or a symbolic link with its name pointing
    to a directory of theirs: both are refused, and nothing is created in them."""
    base = tempfile.mkdtemp(prefix="psrpatk-", dir="/tmp")
    try:
        theirs = os.path.join(base, "theirs")
        os.mkdir(theirs, 0o777)
        os.chown(theirs, attacker.pw_uid, attacker.pw_gid)
        link = os.path.join(base, "link")
        os.symlink(theirs, link)
        os.lchown(link, attacker.pw_uid, attacker.pw_gid)
        for planted in (theirs, link):
            with pytest.raises(
                SessionDirUnsafe, match=f"is not owned by the current user \\(uid {attacker.pw_uid}"
            ):
                BrokerClient(planted, controller=os.getpid(), shard=0)
        assert os.listdir(theirs) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)
