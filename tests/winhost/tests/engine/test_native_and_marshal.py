"""Native programs winhost answers (cmd.exe /c echo, hostname.exe, whoami.exe) and
[Runtime.InteropServices.Marshal] SecureString <-> BSTR round trips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psrpcore import Command

from .helpers import Engine, RecordingHost


def test_cmd_echo_and_exit_code(run: Callable[[str], list[Any]]) -> None:
    assert run("cmd.exe /c echo hi there; $LASTEXITCODE") == ["hi there", 0]
    assert run("cmd /c exit /b 3; $LASTEXITCODE") == [3]


def test_whoami_and_hostname_from_the_model(engine: Engine, run: Callable[[str], list[Any]]) -> None:
    computer = engine.runspace.machine.computer_name
    [who] = run("whoami.exe")
    assert who == f"{computer.lower()}\\{engine.runspace.user.split(chr(92))[-1].lower()}"
    assert run("hostname") == [computer]


def test_native_program_as_a_pipeline_command(engine: Engine) -> None:
    host = RecordingHost()
    engine.runspace.invoke([Command("cmd.exe").add_argument("/c echo hi")], None, host)
    assert host.output == ["hi"]


def test_powershell_exe_from_a_pipeline(engine: Engine) -> None:
    """ansible-core's connection_psrp target ("test subprocess stderr and rc"): a child
    powershell.exe's stderr lines become NativeCommandError records in a remote session, its
    exit code $LASTEXITCODE (about_Automatic_Variables)."""
    host = RecordingHost()
    script = (
        "powershell.exe -command '$host.UI.WriteErrorLine(''stderr 1''); $host.UI.WriteErrorLine(''stderr 2''); exit 2'\n"
        "$LASTEXITCODE"
    )
    engine.runspace.invoke([Command(script, is_script=True)], None, host)
    assert host.output == [2]
    assert [(str(e.Exception.Message), e.FullyQualifiedErrorId) for e in host.errors] == [
        ("stderr 1", "NativeCommandError"),
        ("stderr 2", "NativeCommandError"),
    ]


def test_native_parameters_reach_the_program(run: Callable[[str], list[Any]]) -> None:
    """A native command gets ``-Name value`` as written (about_Parsing): powershell.exe skips
    -ExecutionPolicy's value and runs -Command."""
    assert run("powershell.exe -NoProfile -ExecutionPolicy ByPass -Command \"'a' + 'b'\"; $LASTEXITCODE") == [
        "ab",
        0,
    ]


def test_cmd_unknown_command_from_a_pipeline(engine: Engine) -> None:
    host = RecordingHost()
    engine.runspace.invoke([Command("cmd.exe /c nosuch; $LASTEXITCODE", is_script=True)], None, host)
    assert host.output == [9009]
    assert (
        str(host.errors[0].Exception.Message)
        == "'nosuch' is not recognized as an internal or external command,"
    )


def test_unknown_native_program_is_not_emulated(engine: Engine) -> None:
    host = RecordingHost()
    try:
        engine.runspace.invoke([Command("ipconfig.exe /all", is_script=True)], None, host)
    except Exception as exc:
        assert "winhost does not emulate running native programs" in str(exc)
    else:
        raise AssertionError("ipconfig.exe should not run")


def test_securestring_to_bstr_round_trip(run: Callable[[str], list[Any]]) -> None:
    script = (
        "$s = ConvertTo-SecureString -String 'abc' -AsPlainText -Force\n"
        "$p = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($s)\n"
        "[Runtime.InteropServices.Marshal]::PtrToStringAuto($p)\n"
        "\"$p\" -match '^\\d+$'\n"
        "[Runtime.InteropServices.Marshal]::ZeroFreeBSTR($p)\n"
        "$null -eq [Runtime.InteropServices.Marshal]::PtrToStringAuto($p)"
    )
    assert run(script) == ["abc", True, True]
