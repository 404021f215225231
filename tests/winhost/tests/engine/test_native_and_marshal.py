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


_BOOT = (
    "(Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime.ToFileTime()"
)
_LOGON_UI_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\AutoLogonChecked"


def test_shutdown_restart_as_win_reboot_drives_it(engine: Engine, run: Callable[[str], list[Any]]) -> None:
    """ansible.windows win_reboot (plugin_utils/_reboot.py, ansible-core's connection_psrp target
    "reboot the host"): the boot time from Get-CimInstance -Property LastBootUpTime, the LogonUI
    key removed, ``shutdown.exe /r /t N`` run in a dot-sourced block piped to Set-Variable, then a
    new boot time and the key back once the machine is up. Get-CimInstance -Property leaves the
    other non-key properties null (learn.microsoft.com, Get-CimInstance -Property)."""
    import time

    [before] = run(_BOOT)
    assert run(
        "$o = Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime; $null -eq $o.Caption; $o.CSName"
    ) == [True, "WINHOST"]
    script = (
        f"Remove-Item -LiteralPath '{_LOGON_UI_KEY}' -Force -ErrorAction SilentlyContinue\n"
        "$stdout = $null\n"
        "$stderr = . { C:\\Windows\\System32\\shutdown.exe /r /t 1 /c 'Reboot initiated by Ansible' | Set-Variable stdout } 2>&1 | ForEach-Object ToString\n"
        'ConvertTo-Json -Compress -InputObject ([ordered]@{ stdout = (@($stdout) -join "`n"); stderr = (@($stderr) -join "`n"); rc = $LASTEXITCODE })'
    )
    assert run(script) == ['{"stdout":"","stderr":"","rc":0}']
    assert run(f"Test-Path -LiteralPath '{_LOGON_UI_KEY}'") == [False]
    # a second restart while one is pending is refused; /a cancels it and then has nothing to abort
    pending = engine.script("shutdown.exe /r /t 1; $LASTEXITCODE")
    assert pending.output == [1190]
    assert [str(e.Exception.Message) for e in pending.errors] == [
        "A system shutdown has already been scheduled.(1190)"
    ]
    deadline = time.monotonic() + 30
    while run(_BOOT) == [before] and time.monotonic() < deadline:
        time.sleep(0.2)
    [after] = run(_BOOT)
    assert after > before
    assert run(f"Test-Path -LiteralPath '{_LOGON_UI_KEY}'") == [True]
    aborted = engine.script(
        "shutdown.exe /r /t 600; shutdown.exe /a; $LASTEXITCODE; shutdown /a; $LASTEXITCODE"
    )
    assert aborted.output == [0, 1116]
    assert [str(e.Exception.Message) for e in aborted.errors] == [
        "Unable to abort the system shutdown because no shutdown was in progress.(1116)"
    ]
    assert run(_BOOT) == [after]
