"""The connection plugin adapter: command classification like ansible.builtin.psrp, option errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from ansible.errors import AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader
from ansible.plugins.shell.powershell import _common_args

from ansible_collections.psremoting.core.plugins.connection import psrp as plugin


def _conn(**var_options: Any) -> Any:
    pc = PlayContext()
    conn = connection_loader.get("psremoting.core.psrp", pc, None)
    assert conn is not None
    opts = {"ansible_host": "win1.example.test", "ansible_user": "admin", "ansible_password": "pw"}
    opts.update(var_options)
    conn.set_options(var_options=opts)
    return conn


def _encoded(script: str) -> str:
    return (
        " ".join(_common_args) + " -EncodedCommand " + base64.b64encode(script.encode("utf-16-le")).decode()
    )


def test_plugin_loads_with_builtin_attributes() -> None:
    conn = _conn()
    assert conn.has_pipelining and conn.always_pipeline_modules and conn.has_native_async
    assert conn.module_implementation_preferences == (".ps1", ".exe", "")
    assert conn._shell.SHELL_FAMILY == "powershell"


def test_raw_command_gets_exit_lastexitcode() -> None:
    script, data, args = _conn()._script_for("Get-Service WinRM", None)
    assert script == "Get-Service WinRM\nexit $LASTEXITCODE" and data is None and args is None


def test_encoded_command_is_decoded_and_input_split_into_lines() -> None:
    script, data, args = _conn()._script_for(_encoded("Write-Output hi"), b'{"a":1}\n\0\0\0\0\n{"b":2}')
    assert script == "Write-Output hi" and args is None
    if plugin._MANIFEST_AS_LINES:
        assert data == ['{"a":1}', "\0\0\0\0", '{"b":2}']
    else:
        assert data == '{"a":1}\n\0\0\0\0\n{"b":2}'


def test_python_interpreter_is_refused() -> None:
    with pytest.raises(AnsibleError, match="cannot run the interpreter"):
        _conn()._script_for(_encoded("x"), b"#!/usr/bin/python\nprint(1)")


def test_file_command_uses_the_builtin_wrapper() -> None:
    """ansible-core 2.19 and 2.20 run scripts with -File; 2.21 through the bootstrap (encoded)."""
    cmd = " ".join(_common_args) + " -File 'C:\\tmp\\my script.ps1' -Name 'a b' c"
    kind, _script, args = plugin.split_command(cmd, encoded_anywhere=False)
    assert kind == plugin.FILE and args == ["C:\\tmp\\my script.ps1", "-Name", "a b", "c"]
    assert plugin.split_command(cmd, encoded_anywhere=True)[0] == plugin.RAW  # as the 2.21 builtin
    script, data, args = _conn()._script_for(cmd, None)
    if plugin._ENCODED_ANYWHERE:
        assert script == f"{cmd}\nexit $LASTEXITCODE" and data is None and args is None
    else:
        assert script == plugin.RUN_FILE_SCRIPT and data is None
        assert args == ["C:\\tmp\\my script.ps1", "-Name", "a b", "c"]


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
    from ansible_collections.psremoting.core.plugins.plugin_utils.broker._server import decode_input

    assert plugin._input_spec(data) == spec
    if spec is not None:
        assert decode_input(spec) == data


def test_bad_option_fails_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _conn(ansible_psrp_max_envelope_size=10)

    def no_backend(settings: Any) -> Any:
        raise AssertionError("must not connect with invalid options")

    monkeypatch.setattr(conn, "_make_backend", no_backend)
    with pytest.raises(
        AnsibleError, match=r"win1\.example\.test.*'max_envelope_size'.*ansible_psrp_max_envelope_size"
    ):
        conn.exec_command("hostname")


def test_invoke_pipeline_validates_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _conn()
    monkeypatch.setattr(conn, "_run", lambda fn: pytest.fail("must not send an invalid request"))
    with pytest.raises(AnsibleError, match=r"invoke_pipeline: .*commands"):
        conn.invoke_pipeline({"commands": []})


def test_persist_false_uses_an_in_process_session() -> None:
    conn = _conn(ansible_psrp_session_persist=False)
    settings = conn._read_settings()
    backend = conn._make_backend(settings)
    assert type(backend).__name__ == "_LocalBackend"


def test_become_is_part_of_the_session_identity() -> None:
    conn = _conn()
    assert conn._become_key() is None

    class Become:
        name = "ansible.builtin.runas"

        def get_option(self, name: str) -> str:
            return "SYSTEM"

    conn.become = Become()
    assert conn._become_key() == ["ansible.builtin.runas", "SYSTEM"]


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ("Get-Service WinRM", False),
        ("$env:FOO = 'x'", True),
        ("Set-Location C:\\Windows", True),
        ("cd C:\\", True),
        ("[Environment]::SetEnvironmentVariable('A', 'b')", True),
        ("Write-Output 'abcd'", False),
    ],
)
def test_raw_commands_that_may_change_state(cmd: str, expected: bool) -> None:
    assert plugin.may_change_state(cmd, None) is expected


def test_module_state_flag_follows_task_environment() -> None:
    cmd = _encoded("bootstrap")
    assert plugin.may_change_state(cmd, ['{"x":1}', '{"Environment": {"FOO": "1"}}']) is True
    assert plugin.may_change_state(cmd, ['{"x":1}', '{"Environment": {}}']) is False
    assert plugin.may_change_state(" ".join(_common_args) + " -File x.ps1", None, encoded_anywhere=False)


class _RecordingBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def put(self, in_path: str, out_path: str) -> dict[str, Any]:
        self.calls.append(("put", in_path, out_path))
        return {}

    def fetch(self, in_path: str, out_path: str) -> dict[str, Any]:
        self.calls.append(("fetch", in_path, out_path))
        return {}


@pytest.mark.parametrize("shell_unquotes", [True, False])
def test_put_and_fetch_paths_with_and_without_shell_unquote(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, shell_unquotes: bool
) -> None:
    """ansible-core <= 2.19: paths lose one pair of quotes (ShellModule._unquote), as in the builtin;
    2.20 removed _unquote (paths come unquoted) and the builtin passes them as they are."""
    conn = _conn()
    backend = _RecordingBackend()
    monkeypatch.setattr(conn, "_run", lambda fn: fn(backend))
    if shell_unquotes:
        monkeypatch.setattr(conn._shell, "_unquote", lambda v: v.strip("'"), raising=False)
    elif hasattr(type(conn._shell), "_unquote"):
        monkeypatch.delattr(type(conn._shell), "_unquote")
    local = tmp_path / "src.txt"
    local.write_text("x")
    conn.put_file(str(local), "'C:\\Temp\\a b.txt'")
    conn.fetch_file("'C:\\Temp\\a b.txt'", str(tmp_path / "dest.txt"))
    remote = "C:\\Temp\\a b.txt" if shell_unquotes else "'C:\\Temp\\a b.txt'"
    assert backend.calls == [
        ("put", str(local), remote),
        ("fetch", remote, str(tmp_path / "dest.txt")),
    ]


def _encoded_v2(script: str, clixml: str | None = None) -> str:
    """ansible-core 2.21's form: lower-case powershell, quoted base64, optional -EncodedArguments."""
    cmd = "powershell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "
    cmd += f"'{base64.b64encode(script.encode('utf-16-le')).decode()}'"
    if clixml is not None:
        cmd += f" -EncodedArguments '{base64.b64encode(clixml.encode('utf-16-le')).decode()}'"
    return cmd


_ARGS_CLIXML = (
    '<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04" Version="1.1.0.1"><Obj RefId="0">'
    '<TN RefId="0"><T>System.Collections.ArrayList</T><T>System.Object</T></TN>'
    "<LST><S>a b</S><S>_x005F_x41</S><S>tab_x0009_</S><S>_xD83D__xDE00_</S></LST></Obj></Objs>"
)


def test_split_command_reads_the_2_21_command_line() -> None:
    kind, script, args = plugin.split_command(_encoded_v2("Write-Output hi"), encoded_anywhere=True)
    assert (kind, script, args) == (plugin.ENCODED, "Write-Output hi", None)
    kind, script, args = plugin.split_command(
        _encoded_v2("param($a) $a", _ARGS_CLIXML), encoded_anywhere=True
    )
    assert (kind, script) == (plugin.ENCODED, "param($a) $a")
    assert args == ["a b", "_x41", "tab\t", "\U0001f600"]
    # the older form is read too (ansible.windows still builds it with _encode_script)
    assert plugin.split_command(_encoded("x"), encoded_anywhere=True)[:2] == (plugin.ENCODED, "x")
    # raw commands, including ones shlex cannot split, stay raw
    for raw in ("Get-Service WinRM", "Write-Output it's", "echo -EncodedCommand"):
        assert plugin.split_command(raw, encoded_anywhere=True) == (plugin.RAW, None, None)
    # up to 2.20 the builtin only decodes its own prefix: the 2.21 form would be a raw command there
    assert plugin.split_command(_encoded_v2("x"), encoded_anywhere=False)[0] == plugin.RAW


def test_arguments_clixml_matches_ansible_core_when_it_has_the_helper() -> None:
    ps_script = pytest.importorskip("ansible._internal._powershell._script")
    args = ["a b", "_x41", "C:\\temp\\x y.ps1", "tab\t", "\U0001f600", "'quoted'"]
    cmd = " ".join(ps_script.get_pwsh_encoded_cmdline("param($a) $a", args=args))
    assert plugin.parse_encoded_cmdline(cmd) == ps_script.parse_encoded_cmdline(cmd) == ("param($a) $a", args)


def test_the_installed_shell_plugins_encoded_commands_are_run_in_process() -> None:
    """Whatever form the installed ansible-core writes, its encoded commands are decoded (not run
    as a raw command line that would start powershell.exe on the host)."""
    conn = _conn()
    cmd = conn._shell.expand_user("~")
    script, data, _args = conn._script_for(cmd, None)
    assert "(Get-Location).Path" in script and "EncodedCommand" not in script and data is None
    assert plugin.split_command(cmd)[0] == plugin.ENCODED


def test_module_state_flag_with_the_2_21_command_line() -> None:
    cmd = _encoded_v2("bootstrap")
    lines = ['{"x":1}', '{"Environment": {"FOO": "1"}}']
    assert plugin.may_change_state(cmd, lines, encoded_anywhere=True) is True
    assert plugin.may_change_state(cmd, ['{"Environment": {}}'], encoded_anywhere=True) is False
