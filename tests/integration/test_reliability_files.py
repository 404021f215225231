"""File transfer through psremoting.core.psrp against winhost: odd paths and interrupted uploads.

winhost answers this collection's put/fetch scripts (``_transfer_scripts.py``). The controller
side of the same scenarios (hash mismatch when a file changes during a fetch, dropped
connections mid-fetch, odd local paths) is covered in
tests/unit/plugins/plugin_utils/test_client_transfer.py, where the timing can be controlled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import run_tasks

from ansible_collections.psremoting.core.plugins.plugin_utils._client import PSRPSession, SessionError
from ansible_collections.psremoting.core.plugins.plugin_utils._options import OPTION_TABLE, read_settings

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
    hv = winhost.hostvars(HOST)
    opts = {
        "remote_addr": hv["ansible_host"],
        "remote_user": hv["ansible_user"],
        "remote_password": hv["ansible_password"],
        "port": hv["ansible_port"],
        "protocol": hv["ansible_psrp_protocol"],
        "auth": hv["ansible_psrp_auth"],
        "ca_cert": hv["ansible_psrp_ca_cert"],
        "ignore_proxy": True,
    }

    def get(name: str) -> Any:
        if name in opts:
            return opts[name]
        default = OPTION_TABLE[name][1]
        return None if default == "inventory_hostname" else default

    settings = read_settings(get, HOST)
    return PSRPSession(dict(settings.wsman_kwargs), settings.configuration_name, None, HOST)


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
            session.put_file(str(src), dest)
        session.guard._send = real_send
        assert sends["n"] == 3
    finally:
        session.close()  # deletes the shell: the interrupted pipeline ends without its end block

    check = _session(winhost)
    try:
        _rc, out, _err = check.exec_script(f"Test-Path -LiteralPath '{dest}'")
        assert out.strip() == b"False", "an interrupted upload left a complete-looking file"
        result = check.put_file(str(src), dest)
        assert result["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
        _rc, out, _err = check.exec_script(f"(Get-Item -LiteralPath '{dest}').Length")
        assert out.strip() == str(3 * 1024 * 1024).encode()
    finally:
        check.close()
