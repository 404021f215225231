"""psremoting.core's invoke_command session script (plugins/plugin_utils/invoke/_session.py) runs
unchanged in the evaluator: [RunspaceFactory]::CreateRunspace($Host), [PowerShell]::Create()
with AddScript/AddCommand/AddParameter/AddArgument/AddStatement, BeginInvoke with
PSDataCollection input and output, PSDataStreams relayed through $PSCmdlet, Stop in finally.

The state it keeps follows about_PSSessions / about_Remote_Variables ("Invoke-Command -Session":
variables, functions, modules and location persist between commands); the runspace in which the
pool's own pipelines run (Ansible's raw/module tasks) sees none of it.
https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_pssessions
https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_remote_variables
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from psrpcore import Command

from winhost.engine.errors import PipelineStopped

from .helpers import Engine, RecordingHost

SESSION_FILE = Path(__file__).resolve().parents[4] / "plugins" / "plugin_utils" / "invoke" / "_session.py"


@pytest.fixture(scope="module")
def session() -> ModuleType:
    if not SESSION_FILE.exists():
        pytest.skip(f"{SESSION_FILE} not present (tests/winhost used outside the collection checkout)")
    spec = importlib.util.spec_from_file_location("_invoke_session", SESSION_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _in_session(
    engine: Engine, session: ModuleType, script: str, *, temporary: bool = False, **kwargs: Any
) -> Any:
    """Run ``script`` as invoke_command sends it (a script, module scope off) in the session."""
    request: dict[str, Any] = {}
    if "input" in kwargs:
        request["input"] = kwargs.pop("input")
    request["commands"] = [{"name": script, "is_script": True, "use_local_scope": False, **kwargs}]
    request = session.in_session(request, temporary=temporary)
    (wrapped,) = request["commands"]
    cmd = Command(wrapped["name"], is_script=True, use_local_scope=True)
    for name, value in wrapped["parameters"].items():
        cmd.add_parameter(name, value)
    return engine.commands([cmd])


def _ok(engine: Engine, session: ModuleType, script: str, **kwargs: Any) -> list[Any]:
    result = _in_session(engine, session, script, **kwargs)
    assert result.failure is None, result.failure and result.failure.Exception.Message
    assert not result.errors, [str(e.Exception.Message) for e in result.errors]
    return result.output


def test_variables_functions_and_location_persist_in_the_session(engine: Engine, session: ModuleType) -> None:
    _ok(
        engine, session, "$x = 42; $script:s = 'script'; function Get-Foo { 'foo' }; Set-Location C:\\Windows"
    )
    assert _ok(engine, session, '"x=$x s=$s"; Get-Foo; (Get-Location).Path') == [
        "x=42 s=script",
        "foo",
        "C:\\Windows",
    ]


def test_the_pool_runspace_sees_none_of_it(engine: Engine, session: ModuleType) -> None:
    """What a raw task runs (a local-scope script in the pool's runspace) sees neither the
    variable, the function shadowing a cmdlet, nor the location of the session."""
    before = engine.ok("(Get-Location).Path")
    _ok(engine, session, "$x = 42; function Get-Service { 'shadowed' }; Set-Location C:\\Windows")
    raw = engine.script('"x=$x"; (Get-Service -Name W32Time).Name; (Get-Location).Path')
    assert raw.failure is None
    assert raw.output == ["x=", "W32Time", before[0]]
    # ... and the session does not see what the pool's runspace defines either
    engine.script("$global:y = 'pool'", use_local_scope=False)
    assert _ok(engine, session, '"y=$y"; Get-Service') == ["y=", "shadowed"]


def test_environment_is_swapped_with_the_pool_runspace(engine: Engine, session: ModuleType) -> None:
    """$env: belongs to the process: the script swaps the session's variables in for each task."""
    _ok(engine, session, "$env:SESSION_VAR = 'kept'")
    assert engine.ok('"[$env:SESSION_VAR]"') == ["[]"]
    engine.ok("$env:POOL_VAR = 'pool'")
    assert _ok(engine, session, '"[$env:SESSION_VAR][$env:POOL_VAR]"') == ["[kept][]"]
    assert engine.ok('"[$env:SESSION_VAR][$env:POOL_VAR]"') == ["[][pool]"]


def test_pool_changes_after_an_unchanged_session_stay_out_of_it(engine: Engine, session: ModuleType) -> None:
    """A session whose environment still equals the pool's (no swap was needed) keeps the set it
    had when the pool's runspace later adds, changes or removes a variable: a session is a
    process of its own on Windows (about_PSSessions)."""
    assert _ok(engine, session, '"[$env:TEMP][$env:OS]"') == [
        "[C:\\Users\\Administrator\\AppData\\Local\\Temp][Windows_NT]"
    ]
    engine.ok("$env:POOL_VAR = 'pool'; $env:OS = 'changed'; $env:TEMP = $null")
    assert _ok(engine, session, '"[$env:POOL_VAR][$env:OS][$env:TEMP]"') == [
        "[][Windows_NT][C:\\Users\\Administrator\\AppData\\Local\\Temp]"
    ]
    assert engine.ok('"[$env:POOL_VAR][$env:OS][$env:TEMP]"') == ["[pool][changed][]"]


def test_session_changes_and_removals_stay_in_the_session(engine: Engine, session: ModuleType) -> None:
    """A value the session changes and a variable it removes are so in its next task only; a
    variable spelled in another case replaces the process's one (names are case-insensitive).
    The script compares the two sets as texts built from Hashtable.Keys and Hashtable.Values,
    which enumerate in the same order (Hashtable.Values remarks), of
    [Environment]::GetEnvironmentVariables(), and sets only the variables that differ:
    https://learn.microsoft.com/dotnet/api/system.collections.hashtable.values
    https://learn.microsoft.com/dotnet/api/system.environment.getenvironmentvariables"""
    _ok(engine, session, "$env:OS = 'session'; [Environment]::SetEnvironmentVariable('TEMP', $null)")
    assert engine.ok('"[$env:OS][$env:TEMP]"') == [
        "[Windows_NT][C:\\Users\\Administrator\\AppData\\Local\\Temp]"
    ]
    assert _ok(engine, session, '"[$env:OS][$env:TEMP]"') == ["[session][]"]
    _ok(engine, session, "$env:os = 'lower'")
    assert _ok(engine, session, '"[$env:OS]"') == ["[lower]"]
    assert engine.ok('"[$env:OS][$env:TEMP]"') == [
        "[Windows_NT][C:\\Users\\Administrator\\AppData\\Local\\Temp]"
    ]


def test_temporary_session_is_fresh_and_leaves_the_session_alone(engine: Engine, session: ModuleType) -> None:
    _ok(engine, session, "$x = 'persistent'")
    assert _ok(engine, session, '"x=$x"; $x = "temporary"', temporary=True) == ["x="]
    assert _ok(engine, session, '"x=$x"') == ["x=persistent"]


def test_streams_parameters_arguments_and_input_are_relayed(engine: Engine, session: ModuleType) -> None:
    result = _in_session(
        engine,
        session,
        'param($Name) begin { "hello $Name $($args[0])" } '
        "process { $_ * 2 } end { Write-Warning w; Write-Verbose v -Verbose; Write-Error e; "
        "Write-Information i; Write-Host h }",
        parameters={"Name": "you"},
        arguments=["arg"],
        input=[1, 2],
    )
    assert result.failure is None
    assert result.output == ["hello you arg", 2, 4]
    assert result.host.warnings == ["w"]
    assert result.host.verbose == ["v"]
    assert [str(e.Exception.Message) for e in result.errors] == ["e"]
    assert "i" in result.host.information
    assert [h[0] for h in result.host.host] == ["h"]


def test_terminating_error_fails_the_pipeline_with_its_record(engine: Engine, session: ModuleType) -> None:
    result = _in_session(engine, session, "'before'; throw 'boom'")
    assert result.output == ["before"]
    assert result.failure is not None
    assert str(result.failure.Exception.Message) == "boom"


def test_exit_code_reaches_the_client(engine: Engine, session: ModuleType) -> None:
    result = _in_session(engine, session, "exit 3")
    assert result.host.exit_code == 3


def test_stop_stops_the_nested_pipeline_and_restores_the_environment(
    engine: Engine, session: ModuleType
) -> None:
    command = {"name": "$env:DURING = 'x'; Start-Sleep -Seconds 30; Set-Content C:\\after.txt x",
               "is_script": True, "use_local_scope": False}  # fmt: skip
    (wrapped,) = session.in_session({"commands": [command]})["commands"]
    cmd = Command(wrapped["name"], is_script=True, use_local_scope=True)
    cmd.add_parameter("Commands", wrapped["parameters"]["Commands"])
    host = RecordingHost()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            engine.runspace.invoke([cmd], None, host)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(1.0)
    host.stop_requested.set()
    thread.join(10)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], PipelineStopped)
    assert engine.ok('"[$env:DURING]"; Test-Path C:\\after.txt') == ["[]", False]
