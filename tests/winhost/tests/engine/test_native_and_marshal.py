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
