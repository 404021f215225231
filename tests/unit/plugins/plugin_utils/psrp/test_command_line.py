"""exec_command's command line read like ansible.builtin.psrp of the installed ansible-core: once."""

from __future__ import annotations

import base64
import shlex
from typing import Any

import pytest
from ansible.errors import AnsibleError
from ansible.plugins.loader import shell_loader
from ansible.plugins.shell.powershell import _common_args
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _command_line as cl
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import ansible_core_version


def _shell() -> Any:
    return shell_loader.get("powershell")


def _parse(cmd: str, in_data: bytes | None) -> tuple[str, Any, list[str] | None]:
    command = cl.parse_command(cmd, in_data, _shell())
    return command.script, command.input_data, command.arguments


def _state(cmd: str, data: Any, encoded_anywhere: bool = cl.ENCODED_ANYWHERE) -> bool:
    return cl.may_change_state(cl.split_command(cmd, encoded_anywhere)[0], cmd, data)


def _encoded(script: str) -> str:
    return (
        " ".join(_common_args) + " -EncodedCommand " + base64.b64encode(script.encode("utf-16-le")).decode()
    )


def test_raw_command_gets_exit_lastexitcode() -> None:
    script, data, args = _parse("Get-Service WinRM", None)
    assert script == "Get-Service WinRM\nexit $LASTEXITCODE" and data is None and args is None


def test_encoded_command_is_decoded_and_input_split_into_lines() -> None:
    script, data, args = _parse(_encoded("Write-Output hi"), b'{"a":1}\n\0\0\0\0\n{"b":2}')
    assert script == "Write-Output hi" and args is None
    if cl.MANIFEST_AS_LINES:
        assert data == ['{"a":1}', "\0\0\0\0", '{"b":2}']
    else:
        assert data == '{"a":1}\n\0\0\0\0\n{"b":2}'


def test_python_interpreter_is_refused() -> None:
    with pytest.raises(AnsibleError, match="cannot run the interpreter"):
        _parse(_encoded("x"), b"#!/usr/bin/python\nprint(1)")


def test_file_command_uses_the_builtin_wrapper() -> None:
    """ansible-core 2.19 and 2.20 run scripts with -File; 2.21 through the bootstrap (encoded)."""
    cmd = " ".join(_common_args) + " -File 'C:\\tmp\\my script.ps1' -Name 'a b' c"
    kind, _script, args = cl.split_command(cmd, encoded_anywhere=False)
    assert kind == cl.FILE and args == ["C:\\tmp\\my script.ps1", "-Name", "a b", "c"]
    assert cl.split_command(cmd, encoded_anywhere=True)[0] == cl.RAW  # as the 2.21 builtin
    script, data, args = _parse(cmd, None)
    if cl.ENCODED_ANYWHERE:
        assert script == f"{cmd}\nexit $LASTEXITCODE" and data is None and args is None
    else:
        assert script == cl.RUN_FILE_SCRIPT and data is None
        assert args == ["C:\\tmp\\my script.ps1", "-Name", "a b", "c"]


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
    assert _state(cmd, None) is expected


def test_module_state_flag_follows_task_environment() -> None:
    cmd = _encoded("bootstrap")
    assert _state(cmd, ['{"x":1}', '{"Environment": {"FOO": "1"}}']) is True
    assert _state(cmd, ['{"x":1}', '{"Environment": {}}']) is False
    assert _state(" ".join(_common_args) + " -File x.ps1", None, encoded_anywhere=False)


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
    kind, script, args = cl.split_command(_encoded_v2("Write-Output hi"), encoded_anywhere=True)
    assert (kind, script, args) == (cl.ENCODED, "Write-Output hi", None)
    kind, script, args = cl.split_command(_encoded_v2("param($a) $a", _ARGS_CLIXML), encoded_anywhere=True)
    assert (kind, script) == (cl.ENCODED, "param($a) $a")
    assert args == ["a b", "_x41", "tab\t", "\U0001f600"]
    # the older form is read too (ansible.windows still builds it with _encode_script)
    assert cl.split_command(_encoded("x"), encoded_anywhere=True)[:2] == (cl.ENCODED, "x")
    # raw commands, including ones shlex cannot split, stay raw
    for raw in ("Get-Service WinRM", "Write-Output it's", "echo -EncodedCommand"):
        assert cl.split_command(raw, encoded_anywhere=True) == (cl.RAW, None, None)
    # up to 2.20 the builtin only decodes its own prefix: the 2.21 form would be a raw command there
    assert cl.split_command(_encoded_v2("x"), encoded_anywhere=False)[0] == cl.RAW


def test_arguments_clixml_matches_ansible_core_when_it_has_the_helper() -> None:
    ps_script = pytest.importorskip(
        "ansible._internal._powershell._script",
        reason="ansible-core 2.21+ only; make test runs it in the version matrix's 2.21 leg",
    )
    args = ["a b", "_x41", "C:\\temp\\x y.ps1", "tab\t", "\U0001f600", "'quoted'"]
    cmd = " ".join(ps_script.get_pwsh_encoded_cmdline("param($a) $a", args=args))
    assert cl.parse_encoded_cmdline(cmd) == ps_script.parse_encoded_cmdline(cmd) == ("param($a) $a", args)


def test_the_installed_shell_plugins_encoded_commands_are_run_in_process() -> None:
    """Whatever form the installed ansible-core writes, its encoded commands are decoded (not run
    as a raw command line that would start powershell.exe on the host)."""
    cmd = _shell().expand_user("~")
    script, data, _args = _parse(cmd, None)
    assert "(Get-Location).Path" in script and "EncodedCommand" not in script and data is None
    assert cl.split_command(cmd)[0] == cl.ENCODED


def test_module_state_flag_with_the_2_21_command_line() -> None:
    cmd = _encoded_v2("bootstrap")
    lines = ['{"x":1}', '{"Environment": {"FOO": "1"}}']
    assert _state(cmd, lines, encoded_anywhere=True) is True
    assert _state(cmd, ['{"Environment": {}}'], encoded_anywhere=True) is False


def test_stderr_form_follows_the_installed_ansible_core() -> None:
    assert cl.JOINED_STDERR is (ansible_core_version() < (2, 19))


def test_parse_command_reports_state_and_log_line() -> None:
    raw = cl.parse_command("Set-Location C:\\", None, _shell())
    assert raw.kind == cl.RAW and raw.may_change_state and raw.log_line == f"PSRP: EXEC {raw.script}"
    module = cl.parse_command(_encoded("bootstrap"), b'{"x":1}\n{"Environment": {"A": "1"}}', _shell())
    assert module.kind == cl.ENCODED and module.may_change_state and module.log_with_host


# -- split_words: shlex.split's words without its per-character loop ------------------------------
_LINE_CHARS = st.sampled_from(list("ab-=$ \t\r\n'\"\\#;|é"))


@settings(max_examples=600, deadline=None)
@given(st.text(_LINE_CHARS, max_size=30))
def test_split_words_gives_shlex_words_for_any_line(line: str) -> None:
    try:
        expected: list[str] | type[ValueError] = shlex.split(line)
    except ValueError:
        expected = ValueError
    try:
        got: list[str] | type[ValueError] = cl.split_words(line)
    except ValueError:
        got = ValueError
    assert got == expected


def test_split_words_reads_the_2_21_command_line_without_shlex(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line ansible-core 2.21+ builds for a module (single-quoted base64 words) never reaches
    shlex; a line with double quotes or backslashes still does."""
    script = base64.b64encode(("Write-Output 'x'\n" * 300).encode("utf-16-le")).decode()
    line = f"powershell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand '{script}'"
    expected = shlex.split(line)
    monkeypatch.setattr(cl.shlex, "split", lambda *_a, **_k: pytest.fail("shlex.split was used"))
    assert cl.split_words(line) == expected
    assert cl.parse_encoded_cmdline(line) == ("Write-Output 'x'\n" * 300, [])
    with pytest.raises(pytest.fail.Exception):
        cl.split_words('powershell -Command "Write-Output x"')
