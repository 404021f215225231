"""winhost reads the module payload of ansible-core 2.22, which compresses the exec manifest.

What 2.22 sends (read in ansible-core 2.22.0rc1, ``lib/ansible/executor/powershell/``):

* ``module_manifest.py`` ``_get_bootstrap_input``: the exec manifest JSON is ``gzip.compress``-ed
  and base64-encoded; when that is shorter it replaces the JSON and the bootstrap params get
  ``"DecompressInput": true`` (``_ANSIBALLZ_PWSH_COMPRESSION``, default true, turns it off).
* ``bootstrap_wrapper.ps1`` is unchanged in shape: it splats those params onto exec_wrapper.ps1.
* ``exec_wrapper.ps1`` process block: with ``$DecompressInput`` every input line before the NUL
  line goes through ``[Convert]::FromBase64String``, a ``[GZipStream]`` in
  ``[CompressionMode]::Decompress`` and ``[Encoding]::UTF8.GetString`` before ConvertFrom-Json.
* ``module_wrapper.ps1``: the module arguments arrive as the string param ``ArgumentJSON``, which
  it parses with ConvertFrom-Json into ``$complex_args`` (2.19-2.21 sent ``Variables``).

The payloads here are the installed ansible-core's own (see test_ansible_exec.py), rewritten into
2.22's shape the way 2.22's module_manifest.py writes it, so the test runs on every supported line.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from psrpcore import Command

pytest.importorskip("ansible", reason="ansible-core builds the payloads under test")

from winhost.engine.model import fresh
from winhost.engine.runspace import Runspace

from .test_ansible_exec import FakeHost, module_payload


def bootstrap_script() -> str:
    """bootstrap_wrapper.ps1 as ansible-core 2.19+ ships it (2.16-2.18 send another form)."""
    from ansible.executor.powershell import module_manifest

    if not hasattr(module_manifest, "_bootstrap_powershell_script"):
        pytest.skip("ansible-core < 2.19 sends the exec manifest in one string, not as lines")
    return str(module_manifest._get_powershell_script("bootstrap_wrapper.ps1").decode())


@pytest.fixture(autouse=True)
def _lines_form() -> None:
    bootstrap_script()  # skips before 2.19


@pytest.fixture
def runspace(tmp_path: Path) -> Runspace:
    machine = fresh("WIN01")
    machine.sandbox_dir = str(tmp_path / "C")
    return Runspace(machine, "Administrator", "Microsoft.PowerShell")


def as_222(lines: list[str], compress: bool = True) -> list[str]:
    """The installed ansible-core's payload in 2.22's form (module_manifest.py of 2.22)."""
    text = "\n".join(lines)
    head, manifest_json = text.split("\n\0\0\0\0\n", 1)
    bootstrap = json.loads(head)
    if bootstrap["params"].get("DecompressInput"):  # 2.22+ built it compressed already
        manifest_json = gzip.decompress(base64.b64decode(manifest_json)).decode()
    manifest = json.loads(manifest_json)
    for action in manifest["actions"]:
        params = action["params"]
        if "Variables" in params:  # 2.19-2.21 -> 2.22 ArgumentJSON
            args = next(v["Value"] for v in params.pop("Variables") if v["Name"] == "complex_args")
            params["ArgumentJSON"] = json.dumps(args)
        elif "ArgumentJSON" not in params and action["name"] == "module_wrapper.ps1":
            pytest.skip("the installed ansible-core sends neither Variables nor ArgumentJSON")
    exec_input = json.dumps(manifest)
    if compress:
        exec_input = base64.b64encode(gzip.compress(exec_input.encode())).decode()
    bootstrap["params"]["DecompressInput"] = compress
    return [json.dumps(bootstrap), "\0\0\0\0", exec_input]


def run(runspace: Runspace, payload: list[str]) -> tuple[dict[str, Any], FakeHost]:
    host = FakeHost()
    runspace.invoke([Command(bootstrap_script(), is_script=True)], iter(payload), host)
    return host.result(), host


def test_compressed_manifest_runs_the_module_with_its_arguments(runspace: Runspace) -> None:
    payload = as_222(module_payload("win_ping", {"data": "hello"}))
    assert json.loads(payload[0])["params"]["DecompressInput"] is True
    result, host = run(runspace, payload)
    assert result["ping"] == "hello"
    assert result["invocation"] == {"module_args": {"data": "hello"}}
    assert host.exit_code == 0


def test_uncompressed_222_manifest_with_argument_json(runspace: Runspace) -> None:
    """_ANSIBALLZ_PWSH_COMPRESSION=false (or a longer compressed form): plain JSON, ArgumentJSON."""
    result, host = run(runspace, as_222(module_payload("win_ping", {"data": "crash"}), compress=False))
    assert result["failed"] is True
    assert result["msg"] == "Unhandled exception while executing module: boom"
    assert host.exit_code == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not base64!", "The input is not a valid Base-64 string"),
        (base64.b64encode(b'{"actions": []}').decode(), "The magic number in GZip header is not correct"),
    ],
)
def test_undecodable_compressed_input_fails_in_exec_wrapper(
    runspace: Runspace,
    line: str,
    message: str,
) -> None:
    """.NET's FormatException / InvalidDataException surface through Write-AnsibleErrorJson."""
    payload = as_222(module_payload("win_ping", {}))
    payload[2] = line
    result, host = run(runspace, payload)
    assert result["failed"] is True
    assert result["msg"].startswith("failure during exec_wrapper: ")
    assert message in result["msg"]
    assert host.exit_code == 1
