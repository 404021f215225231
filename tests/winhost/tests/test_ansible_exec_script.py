"""The ``script`` action and win_shell's ``powershell -File``: command-line parameter binding.

PowerShell binds ``-Name value`` on a script's command line to the script's ``Name`` parameter
(about_PowerShell_exe ``-File``: "parameters ... are passed to the script"; about_Parameters).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from winhost.engine import ansible_exec
from winhost.engine.ansible_modules._capture import bind_command_line, run_script, switch_parameters
from winhost.engine.model import fresh
from winhost.engine.runspace import Runspace

from .test_ansible_exec import FakeHost

HELLO = "param([string]$Name = 'nobody', [switch]$Shout)\n$t = \"hello $Name\"\nif ($Shout) { $t = $t.ToUpper() }\n$t\n"


@pytest.fixture
def runspace(tmp_path: Path) -> Runspace:
    machine = fresh("WIN01")
    machine.sandbox_dir = str(tmp_path / "C")
    return Runspace(machine, "Administrator", "Microsoft.PowerShell")


@pytest.mark.parametrize(
    ("args", "switches", "expected"),
    [
        (["-Name", "world"], set(), [("Name", "world")]),
        (["-Name:world"], set(), [("Name", "world")]),
        (["-Name:", "world"], set(), [("Name", "world")]),
        (["pos", "-1"], set(), [(None, "pos"), (None, "-1")]),
        (["-Shout", "world"], {"shout"}, [("Shout", True), (None, "world")]),
        (["-Name", "a", "-Shout"], set(), [("Name", "a"), ("Shout", True)]),
        (["-Verbose", "-Name", "a"], set(), [("Verbose", True), ("Name", "a")]),
    ],
)
def test_bind_command_line(
    args: list[str], switches: set[str], expected: list[tuple[str | None, object]]
) -> None:
    assert bind_command_line(args, switches) == expected


def test_switch_parameters_found_in_param_block() -> None:
    assert switch_parameters(HELLO) == {"shout"}


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (["-Name", "world"], "hello world\r\n"),
        (["world"], "hello world\r\n"),
        (["-Shout", "-Name", "world"], "HELLO WORLD\r\n"),
        (["-Shout", "world"], "HELLO WORLD\r\n"),
        ([], "hello nobody\r\n"),
    ],
)
def test_run_script_binds_named_parameters(runspace: Runspace, args: list[str], stdout: str) -> None:
    out, err, rc = run_script(runspace, HELLO, args=args)
    assert (out, err, rc) == (stdout, "", 0)


def test_script_action_runs_uploaded_file_with_named_parameters(runspace: Runspace) -> None:
    """ansible's ``script`` action sends ``& '<remote tmp>\\x.ps1' -Name world; exit $LASTEXITCODE``
    (the shell plugin's wrap_for_exec) inside the exec wrapper's ``module_script_wrapper``."""
    target = runspace.machine.sandbox() / "Windows" / "Temp" / "hello.ps1"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(HELLO, encoding="utf-8")
    host = FakeHost()
    script = "& 'C:\\Windows\\Temp\\hello.ps1' -Name world; exit $LASTEXITCODE"
    ansible_exec._run_script_action(ansible_exec._Session(runspace, host), script, {})
    assert host.output == ["hello world"]
    assert host.exit_code == 0


def test_win_shell_formats_selected_objects_as_a_table(runspace: Runspace) -> None:
    """Objects of up to four properties print as a table (about_Format.ps1xml), not a Python error."""
    from .test_ansible_exec import run_module

    command = "Get-Service -Name WinRM | Select-Object -Property Name, Status"
    result, _ = run_module(runspace, "win_shell", _raw_params=command)
    assert result["rc"] == 0, result
    assert result["stderr"] == ""
    lines = result["stdout"].split("\r\n")
    assert lines[1].split() == ["Name", "Status"]
    assert lines[2].split() == ["----", "------"]
    assert lines[3].split() == ["WinRM", "Running"]


def test_run_script_formats_wide_objects_as_a_list_and_keeps_stream_order(runspace: Runspace) -> None:
    script = (
        "[pscustomobject]@{A=1; B=2; C=3; D=4; E=5}\n"
        "Write-Warning 'between'\n"
        "[pscustomobject]@{X='x'}\n[pscustomobject]@{X='y'}\n"
    )
    out, err, rc = run_script(runspace, script)
    assert rc == 0 and err == ""
    assert (
        out
        == "\r\nA : 1\r\nB : 2\r\nC : 3\r\nD : 4\r\nE : 5\r\n\r\n\r\nWARNING: between\r\n\r\nX\r\n-\r\nx\r\ny\r\n\r\n\r\n"
    )
