"""The broker protocol shared by both ends: codec round trips, liveness, peer credentials."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import (
    decode_exec_result,
    decode_input,
    encode_exec_result,
    encode_input,
    peer_cred,
    pid_alive,
    process_start_time,
    recv_reply,
    send_reply,
)


@pytest.mark.parametrize(
    ("data", "spec"),
    [
        (None, None),
        ("", None),
        ("text", {"text": "text"}),
        (b"\x00\x01", {"b64": "AAE="}),
        (["a", "b"], {"lines": ["a", "b"]}),
        ([b"a"], {"b64lines": ["YQ=="]}),
    ],
)
def test_input_encoding_for_the_broker(data: Any, spec: Any) -> None:
    assert encode_input(data) == spec
    if spec is not None:
        assert decode_input(spec) == data


def test_unsupported_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported pipeline input type int"):
        encode_input(5)


def test_exec_result_round_trip() -> None:
    result, raw = encode_exec_result(3, b"out\xff", b"err")
    assert raw == b"out\xff" and "stdout" not in result  # stdout travels after the frame, as it is
    assert decode_exec_result(json.loads(json.dumps(result)), raw) == (3, b"out\xff", b"err")


def test_reply_with_raw_bytes_travels_as_is() -> None:
    """The raw part follows the JSON frame unencoded; the receiver gets exactly those bytes."""
    left, right = socket.socketpair()
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    sender = threading.Thread(target=send_reply, args=(left, {"ok": True}, payload))
    sender.start()
    reply, raw = recv_reply(right)
    sender.join()
    assert reply == {"ok": True} and raw == payload
    send_reply(left, {"ok": True})
    assert recv_reply(right) == ({"ok": True}, None)
    left.close()
    right.close()


def test_peer_cred_names_the_process_at_the_other_end() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        cred = peer_cred(a)
        assert cred is not None and cred.pid == os.getpid() and cred.uid == os.getuid()


def test_a_killed_unreaped_process_is_not_alive() -> None:
    """ansible-playbook killed with -9 stays a zombie until its parent reaps it: it has ended."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        start = process_start_time(child.pid)
        assert start is not None and pid_alive(child.pid, start)
        assert not pid_alive(child.pid, str(int(start) + 1))  # same pid, another process
        child.kill()
        deadline = time.monotonic() + 60
        while pid_alive(child.pid, start) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.path.exists(f"/proc/{child.pid}"), "still a zombie (not reaped yet)"
        assert not pid_alive(child.pid, start)
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)
