"""Local security: the broker serves only its own user; options refuse unsafe transport set-ups;
secrets stay out of repr() and error messages.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import BrokerClient, prepare_dir
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import (
    peer_allowed,
    peer_uid,
    process_start_time,
    recv_frame,
    send_frame,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._server import Broker
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import classify
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    OPTION_TABLE,
    OptionError,
    read_settings,
)

NOBODY = 65534


# -- broker peer check ---------------------------------------------------------------------------
def test_peer_uid_is_read_from_the_kernel() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert peer_uid(a) == os.getuid()
        assert peer_allowed(a)
        assert not peer_allowed(a, uid=os.getuid() + 1)


def test_peer_uid_of_a_non_unix_socket_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        assert not peer_allowed(s)


@pytest.fixture
def running_broker() -> Iterator[tuple[str, Broker]]:
    directory = tempfile.mkdtemp(prefix="psrpsec-", dir="/tmp")
    sock_path = os.path.join(directory, "b.sock")
    broker = Broker(sock_path, os.getpid(), process_start_time(os.getpid()))
    thread = threading.Thread(target=broker.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not os.path.exists(sock_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield sock_path, broker
    finally:
        broker.shutdown()
        thread.join(10)


def _ask(sock_path: str, message: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(sock_path)
        send_frame(s, message)
        return recv_frame(s)


def test_broker_socket_and_directory_modes(running_broker: tuple[str, Broker]) -> None:
    sock_path, _broker_obj = running_broker
    assert os.stat(sock_path).st_mode & 0o777 == 0o600
    assert _ask(sock_path, {"op": "ping"})["ok"] is True


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another local user (setuid)")
def test_broker_refuses_another_local_user_even_if_the_file_mode_allows_it(
    running_broker: tuple[str, Broker],
) -> None:
    """The 0700/0600 modes are relaxed here on purpose, so only SO_PEERCRED stands in the way."""
    sock_path, _broker_obj = running_broker
    os.chmod(os.path.dirname(sock_path), 0o755)
    os.chmod(sock_path, 0o666)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody and try the broker
        os.close(read_fd)
        verdict = b"?"
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                reply = _ask(sock_path, {"op": "stats"})
                verdict = b"served:" + repr(reply).encode()[:200]
            except (ConnectionError, OSError, ValueError):
                verdict = b"refused"
        finally:
            os.write(write_fd, verdict)
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        verdict = fh.read()
    os.waitpid(pid, 0)
    assert verdict == b"refused"
    assert _ask(sock_path, {"op": "ping"})["ok"] is True  # the owner is still served


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to create a directory owned by another user")
def test_session_dir_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import BrokerUnavailable

    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, NOBODY, NOBODY)
    with pytest.raises(BrokerUnavailable, match="not owned by the current user"):
        prepare_dir(str(other))


def test_session_dir_mode_is_tightened(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o777)
    prepare_dir(str(loose))
    assert loose.stat().st_mode & 0o777 == 0o700


def test_a_shared_sticky_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    """``ansible_psrp_session_dir: /tmp`` must not chmod /tmp to 0700 (which broke every other
    user of the machine): a sticky directory is a shared one and is refused as it is."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import SessionDirUnsafe

    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(
        SessionDirUnsafe, match=r"is a shared directory \(mode 1777, sticky like /tmp\)"
    ) as refused:
        prepare_dir(str(shared))
    assert "ansible_psrp_session_dir" in str(refused.value) and f"psrp-{os.getuid()}" in str(refused.value)
    assert shared.stat().st_mode & 0o7777 == 0o1777


def test_a_directory_inside_a_world_writable_one_is_refused(tmp_path: Path) -> None:
    """Anyone could rename the session directory away and put their own in its place."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import SessionDirUnsafe

    opened = tmp_path / "open"
    opened.mkdir()
    os.chmod(opened, 0o777)
    with pytest.raises(SessionDirUnsafe, match=r"is inside .*/open, which everyone \(mode 0777\) can change"):
        prepare_dir(str(opened / "sessions"))


def test_an_unusable_path_names_the_option_and_falls_back(tmp_path: Path) -> None:
    """Not a refusal (SessionDirUnsafe) but BrokerUnavailable, which the connection turns into its
    documented warning and a per-task session; the message names the option and the fix."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (
        BrokerUnavailable,
        SessionDirUnsafe,
    )

    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for bad in (a_file, a_file / "below", Path("/proc/no-such-dir")):
        with pytest.raises(BrokerUnavailable) as exc:
            prepare_dir(str(bad))
        assert not isinstance(exc.value, SessionDirUnsafe)
        assert f"session directory {bad} (ansible_psrp_session_dir)" in str(exc.value)
        assert "set ansible_psrp_session_dir to a directory you can create and write" in str(exc.value)


def test_a_symlinked_session_directory_is_resolved_once(tmp_path: Path) -> None:
    real = tmp_path / "real"
    link = tmp_path / "link"
    real.mkdir(mode=0o700)
    link.symlink_to(real)
    assert prepare_dir(str(link)) == str(real)


def test_broker_requests_carry_no_secret_on_disk(tmp_path: Path) -> None:
    """BrokerClient only creates the lock file before a broker exists; nothing else is written."""
    directory = Path(tempfile.mkdtemp(prefix="psrpsec-", dir="/tmp"))
    client = BrokerClient(str(directory), controller=999999)
    assert not list(directory.iterdir())
    assert client.sock_path.startswith(str(directory))


# -- options ----------------------------------------------------------------------------------------
def _read(**values: Any) -> Any:
    def get(name: str) -> Any:
        if name in values:
            return values[name]
        default = OPTION_TABLE[name][1]
        return None if default == "inventory_hostname" else default

    return read_settings(get, "win01")


def test_certificate_validation_is_on_by_default() -> None:
    settings = _read(remote_addr="win01", remote_user="u", remote_password="p")
    assert settings.protocol == "https"
    assert settings.wsman_kwargs["cert_validation"] is True


def test_basic_over_http_is_refused_unless_explicitly_allowed() -> None:
    with pytest.raises(OptionError, match="cannot encrypt messages over http") as info:
        _read(remote_addr="win01", remote_user="u", remote_password="p", protocol="http", auth="basic")
    assert "message_encryption=never" in str(info.value)
    allowed = _read(
        remote_addr="win01",
        remote_user="u",
        remote_password="p",
        protocol="http",
        auth="basic",
        message_encryption="never",
    )
    assert allowed.wsman_kwargs["encryption"] == "never"


@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "kerberos", "credssp"])
def test_http_with_message_encryption_is_allowed(auth: str) -> None:
    settings = _read(remote_addr="w", remote_user="u", remote_password="p", protocol="http", auth=auth)
    assert settings.wsman_kwargs["encryption"] == "auto"


def test_settings_repr_and_errors_hide_the_password() -> None:
    secret = "Pw-In-Repr-0123456789"
    settings = _read(remote_addr="win01", remote_user="u", remote_password=secret)
    assert secret not in repr(settings) and secret not in settings.describe()
    assert secret not in str(settings.identity())
    with pytest.raises(OptionError) as info:
        _read(remote_addr="win01", remote_user="u", remote_password=secret, port="not-a-port")
    assert secret not in str(info.value)


def test_classified_errors_do_not_echo_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Error text comes from exception messages; a pypsrp auth error names the user, never the
    password."""
    from pypsrp.exceptions import AuthenticationError

    secret = "Pw-Classify-987654"
    info = classify(AuthenticationError("Failed to authenticate the user u with ntlm"), "win01", 5986)
    assert "authentication failed" in info.message and secret not in info.message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("port", "https", "must be an integer"),
        ("port", True, "boolean"),
        ("port", 70000, "between 1 and 65535"),
        ("operation_timeout", 0, "positive"),
        ("read_timeout", "soon", "must be an integer"),
        ("reconnection_retries", -1, "must not be negative"),
        ("cert_validation", "no", "must be one of validate, ignore"),
        ("auth", "digest", "must be one of"),
        ("session_persist", "perhaps", "must be a boolean"),
        ("max_envelope_size", 1000, "below the minimum"),
        ("ca_cert", "/nonexistent/ca.pem", "does not exist"),
    ],
)
def test_wrong_option_types_and_values_are_refused_clearly(name: str, value: Any, expected: str) -> None:
    with pytest.raises(OptionError) as info:
        _read(remote_addr="win01", remote_user="u", remote_password="p", **{name: value})
    message = str(info.value)
    assert expected in message
    assert f"'{name}'" in message and OPTION_TABLE[name][3] in message  # option and variable named
