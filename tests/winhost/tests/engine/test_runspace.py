"""Runspace.invoke: PSRP command pipelines, streams, state between pipelines, stop, failures."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from psrpcore import Command
from psrpcore.types import ErrorCategory, PSObject, serialize

from winhost.engine.errors import PipelineStopped, PSRuntimeError
from winhost.engine.model import Machine
from winhost.engine.runspace import Runspace

from .helpers import Engine, RecordingHost


def test_get_service_command_with_named_parameter(engine: Engine) -> None:
    result = engine.command("Get-Service", Name="W32time")
    assert result.failure is None
    (svc,) = result.output
    assert svc.PSObject.type_names[0] == "System.ServiceProcess.ServiceController"
    assert svc.Name == "W32time"  # as given to -Name (new ServiceController(name))
    assert svc.DisplayName == "Windows Time"
    assert str(svc.Status) == "Running"


def test_pipeline_of_two_commands(engine: Engine) -> None:
    get = Command("Get-Service").add_parameter("Name", "W32Time")
    select = Command("Select-Object").add_parameter("ExpandProperty", "DisplayName")
    assert engine.commands([get, select]).output == ["Windows Time"]


def test_statements_split_by_end_of_statement(engine: Engine) -> None:
    first = Command("Write-Output").add_argument("a")
    first.end_of_statement = True
    second = Command("Write-Output").add_argument("b")
    assert engine.commands([first, second]).output == ["a", "b"]


def test_pipeline_input_feeds_first_command(engine: Engine) -> None:
    result = engine.commands([Command("Measure-Object")], input=iter([1, 2, 3]))
    assert result.output[0].Count == 3


def test_write_host_goes_to_host_with_colour(engine: Engine) -> None:
    result = engine.script("Write-Host 'hello' -ForegroundColor Green -NoNewline")
    assert result.host.host == [("hello", False, 10)]  # ConsoleColor.Green == 10
    assert result.output == []


def test_streams_are_separate(engine: Engine) -> None:
    result = engine.script(
        "Write-Output o; Write-Warning w; Write-Verbose v -Verbose; Write-Verbose hidden; Write-Debug d -Debug; "
        "Write-Information i; Write-Error e; Write-Progress -Activity act -Status st -PercentComplete 50"
    )
    assert result.output == ["o"]
    assert result.host.warnings == ["w"]
    assert result.host.verbose == ["v"]
    assert result.host.debug == ["d"]
    assert result.host.information == ["i"]
    assert [str(e.Exception.Message) for e in result.errors] == ["e"]
    assert result.host.progress == [("act", "st", 50)]


def test_variables_and_functions_persist_between_pipelines(engine: Engine) -> None:
    engine.ok("$answer = 42\nfunction Get-Answer { $answer }")
    assert engine.ok("Get-Answer") == [42]


def test_use_local_scope_does_not_leak(machine: Machine) -> None:
    rs = Runspace(machine, "Administrator", "Microsoft.PowerShell")
    host = RecordingHost()
    rs.invoke([Command("$leak = 1", is_script=True, use_local_scope=True)], None, host)
    rs.invoke([Command("$leak", is_script=True)], None, host)
    assert host.output == [None]


def test_reset_forgets_state(engine: Engine) -> None:
    engine.ok("$x = 1")
    engine.runspace.reset()
    assert engine.ok("$x") == [None]


def test_script_parameters_from_command(engine: Engine) -> None:
    result = engine.script('param([string]$Name, [int]$Count = 2)\n"$Name x $Count"', Name="svc")
    assert result.output == ["svc x 2"]
    result = engine.script("param($a)\n$a + $args[0]", 1, 2)
    assert result.output == [3]


def test_terminating_error_raises_with_error_record(engine: Engine) -> None:
    result = engine.script("Write-Output before; throw 'stop here'; Write-Output after")
    assert result.output == ["before"]
    assert result.failure is not None
    assert str(result.failure.Exception.Message) == "stop here"
    assert result.failure.CategoryInfo.Category == ErrorCategory.OperationStopped


def test_unknown_command_is_command_not_found(engine: Engine) -> None:
    result = engine.command("Get-Nothing")
    assert result.failure is not None
    assert result.failure.FullyQualifiedErrorId == "CommandNotFoundException"
    assert "is not recognized as the name of a cmdlet" in str(result.failure.Exception.Message)


def test_exit_sets_should_exit_and_lastexitcode(engine: Engine) -> None:
    result = engine.script("Write-Output x; exit 3; Write-Output y")
    assert result.output == ["x"]
    assert result.host.exit_code == 3
    assert engine.ok("$LASTEXITCODE") == [3]


def test_start_sleep_honours_stop(machine: Machine) -> None:
    rs = Runspace(machine, "Administrator", "Microsoft.PowerShell")
    host = RecordingHost()
    timer = threading.Timer(0.2, host.stop_requested.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(PipelineStopped):
        rs.invoke([Command("Start-Sleep").add_parameter("Seconds", 30)], None, host)
    assert time.monotonic() - started < 5


def test_ansible_exec_hook_handles_pipeline(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def try_invoke(runspace: Runspace, commands: list[Command], input: Any, host: Any) -> bool:
        calls.append(commands[0].command_text)
        if commands[0].command_text == "handled":
            host.write_output("from hook")
            return True
        return False

    monkeypatch.setattr("winhost.engine.runspace.ansible_exec_invoke", try_invoke)
    engine = Engine(machine)
    assert engine.command("handled").output == ["from hook"]
    assert engine.command("Write-Output", "normal").output == ["normal"]
    assert calls == ["handled", "Write-Output"]


def test_output_serializes_like_windows(engine: Engine) -> None:
    """Get-Service output serializes with the .NET type name and enum ToString."""
    (svc,) = engine.ok("Get-Service W32Time")
    element = serialize(svc, None)
    names = [t.text for t in element.find("TN")]  # type: ignore[union-attr]
    assert names[0] == "System.ServiceProcess.ServiceController"
    props = {e.attrib.get("N"): e for e in element.find("Props")}  # type: ignore[union-attr]
    status = props["Status"]
    assert status.find("ToString").text == "Running"  # type: ignore[union-attr]
    assert status.find("I32").text == "4"  # type: ignore[union-attr]
    assert isinstance(svc, PSObject)


def test_jea_endpoint_runs_in_no_language_mode(machine: Machine) -> None:
    from winhost.engine.model import SessionConfiguration

    machine.session_configurations["JEA"] = SessionConfiguration(
        "JEA", session_type="RestrictedRemoteServer", language_mode="NoLanguage"
    )
    rs = Runspace(machine, "Administrator", "http://schemas.microsoft.com/powershell/JEA")
    host = RecordingHost()
    with pytest.raises(PSRuntimeError) as info:
        rs.invoke([Command("Get-Service", is_script=True)], None, host)
    assert info.value.record.FullyQualifiedErrorId == "ScriptsNotAllowed"
    rs.invoke([Command("Get-Service").add_parameter("Name", "W32Time")], None, host)
    assert len(host.output) == 1


def test_environment_is_per_session(machine: Machine) -> None:
    """$env: changes stay in the session's process (wsmprovhost.exe), like Windows."""
    first = Engine(machine)
    second = Engine(machine)
    first.ok("$env:SESSION_ONLY = 'one'; [Environment]::SetEnvironmentVariable('OTHER', 'x')")
    assert first.ok("$env:SESSION_ONLY; [Environment]::GetEnvironmentVariable('OTHER')") == ["one", "x"]
    assert second.ok("$env:SESSION_ONLY") == [None]
    assert "SESSION_ONLY" not in machine.environment
    first.ok("[Environment]::SetEnvironmentVariable('MACHINE_WIDE', 'm', 'Machine')")
    assert machine.environment["MACHINE_WIDE"] == "m"
    assert Engine(machine).ok("$env:MACHINE_WIDE") == ["m"]  # new sessions see machine variables


def test_session_state_script_restores_environment_and_location(engine: Engine) -> None:
    """The shape of psremoting.core's SESSION_STATE_SCRIPT (plugins/plugin_utils/transfer/_scripts.py)."""
    script = (
        "$base = $global:Baseline\n"
        "if ($null -eq $base) {\n"
        "$global:Baseline = @{ Env = [Environment]::GetEnvironmentVariables(); Location = (Get-Location).Path;"
        " Directory = [Environment]::CurrentDirectory }\n"
        "return\n"
        "}\n"
        "foreach ($name in @([Environment]::GetEnvironmentVariables().Keys)) {\n"
        "if (-not $base.Env.Contains($name)) { [Environment]::SetEnvironmentVariable($name, $null) }\n"
        "}\n"
        "Set-Location -LiteralPath $base.Location\n"
        "[Environment]::CurrentDirectory = $base.Directory\n"
    )
    engine.ok(script)
    engine.ok(
        "$env:LEAK = 'leaked'; Set-Location C:\\Windows; [Environment]::CurrentDirectory = 'C:\\Windows'"
    )
    engine.ok(script)
    assert engine.ok('"[$env:LEAK]"; (Get-Location).Path; [Environment]::CurrentDirectory') == [
        "[]",
        "C:\\Users\\Administrator",
        "C:\\Windows\\system32",
    ]


def test_using_values_from_invoke_command(engine: Engine) -> None:
    """Invoke-Command's $using: values arrive in a '--%' hashtable keyed by
    base64(UTF-16LE('$using:<name>'))."""
    import base64

    key = base64.b64encode("$using:svc".encode("utf-16-le")).decode()
    cmd = Command("(Get-Service -Name $Using:svc).DisplayName", is_script=True)
    cmd.add_parameter("--%", {key: "W32Time"})
    result = engine.commands([cmd])
    assert result.failure is None
    assert result.output == ["Windows Time"]


def test_jea_visible_providers_and_statement_by_statement_no_language(machine: Machine) -> None:
    """pypsrp's test_psrp_with_jea_configuration recording: on a RestrictedRemoteServer endpoint
    whose VisibleProviders is WSMan (and VisibleCmdlets Get-Item: a RestrictedRemoteServer session
    has only its default commands otherwise), ``Get-Item C:\\Windows`` writes ProviderNotFound (the pipeline
    goes on), and the following script statement then fails the pipeline (NoLanguage)."""
    setup = Engine(machine)
    setup.ok(
        "New-PSSessionConfigurationFile -Path C:\\ProgramData\\r.pssc -SessionType RestrictedRemoteServer "
        "-VisibleCmdlets Get-Item, Get-Date -VisibleProviders WSMan\n"
        "Register-PSSessionConfiguration -Name Restricted -Path C:\\ProgramData\\r.pssc"
    )
    assert machine.session_configurations["Restricted"].visible_providers == ["WSMan"]
    rs = Runspace(machine, "Administrator", "http://schemas.microsoft.com/powershell/Restricted")
    host = RecordingHost()
    rs.invoke(
        [Command("Get-Item").add_parameter("Path", "WSMan:\\localhost\\Service\\AllowUnencrypted")],
        None,
        host,
    )
    assert len(host.output) == 1 and host.errors == []
    first = Command("Get-Item").add_parameter("Path", "C:\\Windows")
    first.end_of_statement = True
    with pytest.raises(PSRuntimeError) as info:
        rs.invoke([first, Command("Get-Date", is_script=True)], None, host)
    [error] = host.errors
    assert error.FullyQualifiedErrorId == "ProviderNotFound,Microsoft.PowerShell.Commands.GetItemCommand"
    assert str(error.Exception.Message) == "Cannot find a provider with the name 'FileSystem'."
    assert info.value.record.FullyQualifiedErrorId == "ScriptsNotAllowed"
