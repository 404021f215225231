"""winhost.engine.native (with cmdexe and console): cmd.exe /c and powershell.exe as WinRS starts
them, without the WSMan layer.

cmd.exe behaviour follows Microsoft's Windows Commands reference (cmd, echo, set, exit, "Command
redirection operators"); powershell.exe's arguments follow about_PowerShell_exe."""

from __future__ import annotations

import base64
import threading

import pytest

from winhost.engine import console
from winhost.engine import native as processes
from winhost.engine.model import configured
from winhost.engine.runspace import Runspace


class Output:
    def __init__(self) -> None:
        self.stop_requested = threading.Event()
        self.stdout = ""
        self.stderr = ""

    def write_stdout(self, text: str) -> None:
        self.stdout += text

    def write_stderr(self, text: str) -> None:
        self.stderr += text


@pytest.fixture(scope="module")
def machine():
    return configured()


def process(machine, stdin: bytes | None = None) -> tuple[processes.Process, Output]:
    out = Output()
    pipe = processes.Stdin(console=stdin is None, decode=lambda b: b.decode("utf-8"))
    if stdin is not None:
        pipe.feed(stdin, end=True)
    env = processes.process_environment(machine, "WINHOST\\vagrant", {"GREETING": "hello"}, no_profile=False)
    return processes.Process(
        machine,
        "WINHOST\\vagrant",
        env,
        "C:\\Users\\vagrant",
        out,
        pipe,
        lambda: Runspace(machine, "WINHOST\\vagrant", "Microsoft.PowerShell"),
    ), out


def cmd(machine, line: str, stdin: bytes | None = None) -> tuple[str, str, int]:
    proc, out = process(machine, stdin)
    rc = processes.start(proc, line, [], skip_cmd_shell=False)()
    return out.stdout, out.stderr, rc


def test_operators_and_redirections(machine):
    assert cmd(machine, "echo a && echo b>&2 || echo never & echo c") == ("a \r\nc\r\n", "b \r\n", 0)
    assert cmd(machine, "exit /b 4 || echo after failure") == ("", "", 4)
    assert cmd(machine, "nosuch && echo skipped")[2] == processes.NOT_RECOGNIZED
    assert cmd(machine, "echo quiet>nul") == ("", "", 0)
    assert cmd(machine, 'echo "a && b"') == ('"a && b"\r\n', "", 0)


def test_echo_forms(machine):
    assert cmd(machine, "echo.") == ("\r\n", "", 0)
    assert cmd(machine, "echo") == ("ECHO is on.\r\n", "", 0)
    assert cmd(machine, "echo %GREETING% %UNDEFINED%") == ("hello %UNDEFINED%\r\n", "", 0)


def test_set_lists_sets_and_reports_missing(machine):
    assert cmd(machine, "set GREET") == ("GREETING=hello\r\n", "", 0)
    assert cmd(machine, "set NEWVAR=1 && set NEWVAR") == ("NEWVAR=1\r\n", "", 0)
    assert cmd(machine, "set NOPE_NOT_SET") == ("", "Environment variable NOPE_NOT_SET not defined\r\n", 1)


def test_exit_code_and_nested_cmd(machine):
    assert cmd(machine, "cmd.exe /c exit 7") == ("", "", 7)
    assert cmd(machine, "cmd /c echo nested")[0] == "nested\r\n"


def test_file_redirection_and_type(machine):
    # A digit right before ">" names the handle, as in cmd.exe: "echo line2>> f" redirects stderr.
    assert cmd(machine, "echo line2>> C:\\r.txt") == ("line\r\n", "", 0)
    assert cmd(machine, "echo one> C:\\r.txt && echo two>> C:\\r.txt") == (
        "",
        "",
        0,
    )
    assert cmd(machine, "type C:\\r.txt") == ("one \r\ntwo\r\n", "", 0)


def test_powershell_arguments():
    encoded = base64.b64encode("Write-Output 1".encode("utf-16-le")).decode()
    read = lambda: "from stdin"  # noqa: E731
    assert console.parse_powershell_args(
        ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded], read
    ) == (
        "Write-Output 1",
        [],
        True,
        "command",
    )
    assert console.parse_powershell_args(["-nop", "-c", "Get-Date;", "1"], read) == (
        "Get-Date; 1",
        [],
        False,
        "command",
    )
    assert console.parse_powershell_args(["-"], read) == ("from stdin", [], False, "stdin")
    assert console.parse_powershell_args(["-File", "x.ps1", "-a", "b"], read) == (
        "",
        ["x.ps1", "-a", "b"],
        False,
        "file",
    )
    assert console.parse_powershell_args(["Write-Host", "hi"], read) == (
        "Write-Host hi",
        [],
        False,
        "command",
    )


def test_powershell_reads_redirected_stdin_as_input(machine):
    out, err, rc = cmd(
        machine, "powershell.exe -Command \"$input | ForEach-Object { 'got ' + $_ }\"", stdin=b"a\r\nb\n"
    )
    assert (out, err, rc) == ("got a\r\ngot b\r\n", "", 0)


def test_powershell_exit_code_and_clixml_errors(machine):
    encoded = base64.b64encode("Write-Error 'broken'; exit 5".encode("utf-16-le")).decode()
    _, err, rc = cmd(machine, f"powershell.exe -EncodedCommand {encoded}")
    assert rc == 5
    assert err.startswith("#< CLIXML\r\n<Objs ")
    assert '<S S="Error">broken_x000D__x000A_' in err
    assert err.endswith("</Objs>")


def test_skip_cmd_shell_needs_full_path(machine):
    proc, _ = process(machine)
    with pytest.raises(processes.ProgramNotFound):
        processes.start(proc, "powershell.exe", ["1"], skip_cmd_shell=True)
    run = processes.start(proc, processes.PROGRAM_PATHS["hostname"], [], skip_cmd_shell=True)
    assert run() == 0


def test_noprofile_environment(machine):
    env = processes.process_environment(machine, "WINHOST\\vagrant", {}, no_profile=True)
    assert env["USERPROFILE"] == "C:\\Users\\Default"
    assert "APPDATA" not in env
    assert env["PROMPT"] == "$P$G"


def test_dir_lists_the_folder_like_cmd(machine):
    cmd(machine, "echo x> C:\\dirtest.txt")
    out, err, rc = cmd(machine, "dir C:\\")
    lines = out.split("\r\n")
    assert (err, rc) == ("", 0)
    assert lines[0] == " Volume in drive C has no label."
    assert lines[3] == " Directory of C:\\"
    assert any(line.endswith("              3 dirtest.txt") for line in lines)  # "x\r\n"
    assert cmd(machine, "dir /b C:\\")[0].split("\r\n").count("dirtest.txt") == 1
    assert cmd(machine, "dir C:\\no-such-folder") == ("", "File Not Found\r\n", 1)
