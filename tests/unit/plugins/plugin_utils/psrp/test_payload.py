"""The exec-wrapper payload split (plugins/plugin_utils/psrp/_payload.py): exact, arguments never cached."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._payload import (
    MISS_MARKER,
    NUL_LINE,
    PAYLOAD_DEFINITION,
    PAYLOAD_FUNCTION,
    Payload,
    PayloadState,
    is_full,
    missed,
    payload_commands,
    plan_payload,
)

SECRET = "S3cret-Argument-Value"


def _command(
    module_args: dict[str, Any], substyle: str = "powershell", module: str = "win_ping"
) -> tuple[str, list[str]]:
    from ansible_collections.ansible import windows

    module_manifest = pytest.importorskip("ansible.executor.powershell.module_manifest")
    if not hasattr(module_manifest, "_bootstrap_powershell_script"):  # ansible-core < 2.19
        pytest.skip("ansible-core < 2.19 builds the manifest as one string (see the _v1 tests below)")

    path = f"{windows.__path__[0]}/plugins/modules/{module}.ps1"
    data = module_manifest._create_powershell_wrapper(
        name=f"ansible_collections.ansible.windows.plugins.modules.{module}",
        module_data=Path(path).read_bytes()
        if substyle == "powershell"
        else b"& 'C:\\x.ps1' -Secret " + SECRET.encode(),
        module_path=path,
        module_args=module_args,
        environment={"TASK_ENV": SECRET},
        async_timeout=0,
        become_plugin=None,
        substyle=substyle,
        task_vars={},
        profile="legacy",
    )
    return module_manifest._get_powershell_script(
        "bootstrap_wrapper.ps1"
    ).decode(), data.decode().splitlines()


def _rebuild(payload: Payload) -> list[str]:
    """What the host's function rebuilds from the Lines parameter."""
    out = []
    for line in payload.lines:
        if isinstance(line, str):
            out.append(line)
        else:
            out.append("".join(payload.texts[payload.hashes[p]] if isinstance(p, int) else p for p in line))
    return out


def _sent(lines: list[str]) -> list[str]:
    """The input the cache has the host run: ansible-core 2.22's gzip+base64 manifest
    (module_manifest.py ``_get_bootstrap_input``, bootstrap param ``DecompressInput`` true) goes
    as the plain JSON it decompresses to, with ``DecompressInput`` false (exec_wrapper.ps1's
    other branch); every other input exactly as ansible-core built it."""
    code = json.loads(lines[0])
    if not code.get("params", {}).get("DecompressInput"):
        return lines
    code["params"]["DecompressInput"] = False
    return [json.dumps(code), lines[1], gzip.decompress(base64.b64decode(lines[2])).decode(), *lines[3:]]


def _compressed(lines: list[str]) -> list[str]:
    """``lines`` in 2.22's compressed form, built the way 2.22's module_manifest.py builds it."""
    code = json.loads(lines[0])
    code["params"]["DecompressInput"] = True
    return [json.dumps(code), lines[1], base64.b64encode(gzip.compress(lines[2].encode())).decode()]


def _literal_text(payload: Payload) -> str:
    return json.dumps(payload.lines)


def test_the_split_rebuilds_every_line_exactly() -> None:
    script, lines = _command({"data": SECRET, "_ansible_no_log": True})
    payload = plan_payload(script, lines)
    assert payload is not None
    assert _rebuild(payload) == _sent(lines)
    assert payload.texts[payload.hashes[payload.script]] == script
    # bootstrap + exec wrapper + each script of the manifest: module_wrapper, win_ping,
    # Ansible.Basic.cs, AddType.psm1 (and Ansible.Secrets.cs from 2.22)
    scripts = json.loads(_sent(lines)[2])["scripts"]
    assert {"module_wrapper.ps1", "Ansible.Basic.cs"} <= set(scripts)
    assert len(payload.hashes) == 2 + len(scripts)
    assert sum(len(x) for x in _sent(lines)) - len(_literal_text(payload)) > 150_000


def test_arguments_and_environment_are_literal_never_pieces() -> None:
    script, lines = _command({"data": SECRET, "_ansible_no_log": True})
    payload = plan_payload(script, lines)
    assert payload is not None
    assert all(SECRET not in text for text in payload.texts.values())
    assert SECRET in _literal_text(payload)  # sent with the task, every time


def test_a_script_tasks_text_is_not_cached() -> None:
    """``script`` tasks (substyle script): the module text is the command line, with values."""
    script, lines = _command({}, substyle="script")
    payload = plan_payload(script, lines)
    assert payload is not None
    assert _rebuild(payload) == _sent(lines)
    assert all(SECRET not in text for text in payload.texts.values())


def test_same_code_same_hashes_across_modules() -> None:
    script, ping = _command({"data": "a"})
    _, other = _command({"data": "b"})
    first, second = plan_payload(script, ping), plan_payload(script, other)
    assert first is not None and second is not None
    assert first.hashes == second.hashes and first.lines != second.lines


def test_a_compressed_manifest_is_split_as_the_json_it_expands_to() -> None:
    script, lines = _command({"data": SECRET, "_ansible_no_log": True})
    plain = _sent(lines)
    packed = _compressed(plain)
    payload, from_plain = plan_payload(script, packed), plan_payload(script, plain)
    assert payload is not None and from_plain is not None
    rebuilt = _rebuild(payload)
    assert json.loads(rebuilt[0])["params"]["DecompressInput"] is False
    assert rebuilt == _sent(packed)
    assert rebuilt[2] == plain[2]  # the manifest JSON byte for byte
    assert (payload.hashes, payload.texts) == (from_plain.hashes, from_plain.texts)  # same pieces
    assert all(SECRET not in text for text in payload.texts.values())


@pytest.mark.parametrize("manifest", ["not base64!", base64.b64encode(b"not gzip").decode()])
def test_a_compressed_manifest_that_does_not_expand_is_sent_as_it_is(manifest: str) -> None:
    script, lines = _command({"data": "x"})
    packed = _compressed(_sent(lines))
    assert plan_payload(script, [packed[0], packed[1], manifest]) is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        "raw text",
        ["only", "two"],
        ["{}", "x", "{}"],  # no NUL line
        ["not json", NUL_LINE, "{}"],
        [json.dumps({"name": "other", "script": "x"}), NUL_LINE, json.dumps({"scripts": {}})],
        # valid, but not json.dumps' own spacing: the split would not rebuild it
        ['{"name":"exec_wrapper","script":"x"}', NUL_LINE, '{"scripts":{}}'],
    ],
)
def test_anything_else_is_sent_as_it_is(data: Any) -> None:
    assert plan_payload("script", data) is None


def test_commands_define_once_and_send_only_missing_pieces() -> None:
    script, lines = _command({"data": "x"})
    payload = plan_payload(script, lines)
    assert payload is not None
    state = PayloadState()
    assert is_full(payload, state)
    first = payload_commands(payload, state)
    assert [c["name"] for c in first] == [PAYLOAD_DEFINITION, PAYLOAD_FUNCTION]
    assert set(first[1]["parameters"]["Add"]) == set(payload.hashes)
    state.remember(payload)
    warm = payload_commands(payload, state)
    assert [c["name"] for c in warm] == [PAYLOAD_FUNCTION]
    assert "Add" not in warm[0]["parameters"] and not is_full(payload, state)
    assert warm[0]["parameters"]["Hashes"] == payload.hashes
    state.reset()
    assert is_full(payload, state)


class _Record:
    def __init__(self, fq_error: str, text: str) -> None:
        self.fq_error = fq_error
        self._text = text

    def __str__(self) -> str:
        return self._text


def test_miss_detection() -> None:
    assert missed(f"{MISS_MARKER}: abc".encode(), [])
    assert not missed(f'{{"x": "{MISS_MARKER}: abc"}}'.encode(), [])
    assert not missed(f"{MISS_MARKER}: abc\r\nmore".encode(), [])
    not_found = _Record(
        "CommandNotFoundException",
        f"The term '{PAYLOAD_FUNCTION}' is not recognized as the name of a cmdlet, function, script file, or "
        "operable program.",
    )
    assert missed(b"", [not_found])
    assert not missed(b"{}", [not_found])  # something ran
    assert not missed(b"", [_Record("CommandNotFoundException", "The term 'Get-Foo' is not recognized")])


def _v1_input(module_source: str, module_args: dict[str, Any], actions: list[str]) -> str:
    """The input ansible-core 2.16-2.18 send (module_manifest._create_powershell_wrapper there):
    exec_wrapper.ps1 + two newlines, four NULs, then ``json.dumps(exec_manifest)``."""
    import base64

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    manifest = {
        "module_entry": b64(module_source),
        "powershell_modules": {"Ansible.ModuleUtils.AddType": b64("# AddType\n" * 200)},
        "csharp_utils": {"Ansible.Basic": b64("// Basic\n" * 2000)},
        "csharp_utils_module": ["Ansible.Basic"],
        "module_args": module_args,
        "actions": actions,
        "environment": {"TASK_ENV": SECRET},
        "become_password": SECRET,
        "min_ps_version": None,
        "module_powershell_wrapper": b64("# module wrapper\n" * 100),
    }
    return "# exec wrapper\n" * 300 + "\n\n" + NUL_LINE + json.dumps(manifest)


def test_pre_2_19_manifest_string_is_split_exactly() -> None:
    bootstrap_v1 = "$exec_wrapper_str = $input | Out-String\n# (2.16-2.18 bootstrap_wrapper.ps1)"
    data = _v1_input(
        "# win_ping\n" * 100, {"data": SECRET, "_ansible_no_log": True}, ["module_powershell_wrapper"]
    )
    payload = plan_payload(bootstrap_v1, data)
    assert payload is not None
    assert _rebuild(payload) == [data]  # one input object, as ansible.builtin.psrp sends it
    # bootstrap, exec wrapper, module, AddType, Ansible.Basic, module wrapper
    assert len(payload.hashes) == 6
    assert all(SECRET not in text for text in payload.texts.values())
    assert SECRET in _literal_text(payload)


def test_pre_2_19_script_task_text_is_not_cached() -> None:
    import base64

    command = f"& 'C:\\x.ps1' -Secret {SECRET}; exit $LASTEXITCODE" + " " * 600
    data = _v1_input(command, {}, ["module_script_wrapper"])
    payload = plan_payload("bootstrap", data)
    assert payload is not None and _rebuild(payload) == [data]
    encoded = base64.b64encode(command.encode()).decode()
    assert all(encoded not in text for text in payload.texts.values())
