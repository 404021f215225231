"""End to end: pypsrp (a real PSRP client) runs psremoting.core's put_file v2 script against a
winhost host over HTTPS with NTLM, sending a mix of raw ``byte[]`` chunks and compressed chunks
(a Python dict ``{"Deflate": raw deflate}``, which pypsrp serializes as a ``<DCT>``
System.Collections.Hashtable), then the SHA256 hex digest.

Checked: the file in winhost's sandbox has exactly the original bytes and the script's summary
object carries the right sha256 and length; a corrupt Deflate chunk fails the pipeline with
DeflateStream's InvalidDataException and leaves neither the destination nor a ``.partial`` file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.wsman import WSMan

from winhost.pytest_plugin import WinhostHosts

HOST = "pf01"
SCRIPTS_FILE = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / "transfer" / "_scripts.py"

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts=HOST, preset="configured", mode="thread")]


@pytest.fixture(scope="module")
def scripts() -> ModuleType:
    if not SCRIPTS_FILE.exists():
        pytest.skip(f"{SCRIPTS_FILE} not present (tests/winhost used outside the collection checkout)")
    spec = importlib.util.spec_from_file_location("_transfer_scripts", SCRIPTS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PUT_FILE_SCRIPT.startswith("# psremoting.core put_file v5")
    return module


def _wsman(winhost: WinhostHosts) -> WSMan:
    hv = winhost.hostvars(HOST)
    return WSMan(
        hv["ansible_host"],
        port=hv["winhost_https_port"],
        ssl=True,
        auth="ntlm",
        username=hv["ansible_user"],
        password=hv["ansible_password"],
        cert_validation=hv["ansible_psrp_ca_cert"],
        no_proxy=True,
    )


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def _put(
    winhost: WinhostHosts, scripts: ModuleType, path: str, items: list[Any]
) -> tuple[PowerShell, list[Any]]:
    with RunspacePool(_wsman(winhost)) as pool:
        ps = PowerShell(pool)
        ps.add_script(scripts.PUT_FILE_SCRIPT).add_parameter("Path", path)
        # pypsrp sends each object a generator yields as one PIPELINE_INPUT message.
        output: list[Any] = ps.invoke(input=(item for item in items))
    return ps, output


def _temp_dir(winhost: WinhostHosts) -> Path:
    return Path(winhost.machine(HOST).sandbox()) / "Windows" / "Temp"


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def test_put_file_v2_mixed_chunks(winhost: WinhostHosts, scripts: ModuleType) -> None:
    payload = b"".join(
        [
            b"a highly compressible line of text\r\n" * 3000,
            os.urandom(70000),  # incompressible: the controller would send it raw
            bytes(range(256)) * 300,
            b"\x00" * 50000,
        ]
    )
    items: list[Any] = []
    for index, piece in enumerate(_pieces(payload, 32768)):
        items.append({"Deflate": _deflate(piece)} if index % 3 != 1 else piece)
    assert any(isinstance(i, dict) for i in items) and any(isinstance(i, bytes) for i in items)
    digest = hashlib.sha256(payload).hexdigest()

    ps, output = _put(winhost, scripts, "C:\\Windows\\Temp\\mixed.bin", [*items, digest])

    assert ps.state == PSInvocationState.COMPLETED, [str(e) for e in ps.streams.error]
    (summary,) = output
    assert summary.extended_properties["sha256"] == digest
    assert summary.extended_properties["length"] == len(payload)
    temp = _temp_dir(winhost)
    assert (temp / "mixed.bin").read_bytes() == payload
    assert not list(temp.glob("*.partial"))


def test_put_file_v2_corrupt_deflate_chunk_leaves_no_file(winhost: WinhostHosts, scripts: ModuleType) -> None:
    good = b"first chunk, raw\n" * 100
    items: list[Any] = [
        good,
        {"Deflate": _deflate(b"second chunk, compressed\n" * 100)},
        {"Deflate": b"\x07 this is not raw deflate data"},  # reserved block type 11
        hashlib.sha256(good).hexdigest(),
    ]

    ps, output = _put(winhost, scripts, "C:\\Windows\\Temp\\corrupt.bin", items)

    assert ps.state == PSInvocationState.FAILED
    assert ps.had_errors
    assert output == []
    (error,) = ps.streams.error
    assert "The archive entry was compressed using an unsupported compression method." in str(error)
    assert error.fq_error == "InvalidDataException"
    temp = _temp_dir(winhost)
    assert not (temp / "corrupt.bin").exists()
    assert not list(temp.glob("corrupt.bin*"))
    assert not list(temp.glob("*.partial"))
