"""invoke_command on the Windows hosts: output objects and every stream, session state shared by
the tasks of a run, one task for many hosts, and the prelude/postlude that give a script
``$Ansible`` and ``chdir``. Read-only, apart from PowerShell variables in the play's sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.windows, pytest.mark.integration]


def test_objects_and_streams(windows: Any) -> None:
    out = {
        host: dict(r)
        for host, r in getattr(windows, "psremoting.core.invoke_command")(
            script=(
                "Write-Verbose 'v' -Verbose; Write-Warning 'w'; Write-Information 'i'; "
                "Write-Error 'e'; Get-Service -Name WinRM; [PSCustomObject]@{ Answer = 42; Nested = @{ a = 1 } }"
            ),
            depth=2,
        ).items()
    }
    for host, result in out.items():
        assert not result.get("failed"), (host, result.get("msg"))
        service, custom = result["output"]
        assert (
            service["Name"] == "WinRM"
            and "System.ServiceProcess.ServiceController" in service["PSTypeNames"][0]
        )
        assert custom["Answer"] == 42 and custom["Nested"] == {"a": 1}
        assert result["verbose"] == ["v"] and result["warning"] == ["w"]
        assert [i["message_data"] for i in result["information"]] == ["i"]
        assert [e["exception"]["message"] for e in result["error"]] == ["e"]


@pytest.mark.runs_ps1(
    "invoke_command.prelude",
    "invoke_command.postlude",
    "invoke_command.prelude_piped",
    "transfer.session_state",
)
def test_session_state_chdir_ansible_and_input(windows_target: Any, tmp_path: Path) -> None:
    """One run keeps one session per host: a global variable set by a task is there in the next;
    chdir and $Ansible (prelude/postlude) do not outlive their task; environment and location
    changes of a raw task do not reach the next task (the connection's session state script)."""
    tasks = [
        {"name": "Set a global", "psremoting.core.invoke_command": {"script": "$global:suiteValue = 41"}},
        {"name": "Read it", "psremoting.core.invoke_command": {"script": "$global:suiteValue + 1"}},
        {
            "name": "chdir and Ansible",
            "psremoting.core.invoke_command": {
                "script": "(Get-Location).Path; $Ansible.Changed = $false; $Ansible.Result.seen = $Ansible.CheckMode",
                "chdir": "C:\\Windows",
            },
        },
        {
            "name": "Location afterwards",
            "psremoting.core.invoke_command": {
                # (the variable's name is built so that this script does not get the prelude itself)
                "script": "(Get-Location).Path; $n = 'Ansi' + 'ble'; "
                "[bool](Get-Variable -Name $n -Scope Global -ErrorAction Ignore)"
            },
        },
        {
            "name": "Pipeline input with chdir",
            "psremoting.core.invoke_command": {
                "script": "process { '{0}:{1}' -f $_, (Split-Path -Leaf (Get-Location).Path) }",
                "input": ["a", "b"],
                "chdir": "C:\\Windows",
            },
        },
        {
            "name": "Raw changes env and location",
            "ansible.builtin.raw": "$env:SUITE_LEAK = 'x'; Set-Location C:\\Windows",
        },
        {"name": "Next raw task", "ansible.builtin.raw": "'[' + $env:SUITE_LEAK + ']'; (Get-Location).Path"},
    ]
    run = windows_target.playbook(tmp_path, [{"gather_facts": False, "tasks": tasks}])
    assert run.ok, run.output()
    for host in windows_target.hosts:
        assert run.task("Read it")[host]["output"] == [42]
        chdir = run.task("chdir and Ansible")[host]
        assert (
            chdir["output"] == ["C:\\Windows"]
            and chdir["changed"] is False
            and chdir["result"] == {"seen": False}
        )
        location, has_ansible = run.task("Location afterwards")[host]["output"]
        assert location != "C:\\Windows" and has_ansible is False
        assert run.task("Pipeline input with chdir")[host]["output"] == ["a:Windows", "b:Windows"]
        assert run.task("Next raw task")[host]["stdout_lines"][0] == "[]"
        assert run.task("Next raw task")[host]["stdout_lines"][1] != "C:\\Windows"


def test_one_task_many_hosts(windows_target: Any, tmp_path: Path) -> None:
    if len(windows_target.hosts) < 2:
        pytest.skip("one-to-many needs at least two hosts in the pattern")
    tasks = [
        {
            "name": "Fan out",
            "psremoting.core.invoke_command": {
                "script": "$env:COMPUTERNAME",
                "computer_name": "{{ ansible_play_hosts_all }}",
                "fail_on": "any",
            },
            "run_once": True,
        }
    ]
    run = windows_target.playbook(tmp_path, [{"gather_facts": False, "tasks": tasks}])
    assert run.ok, run.output()
    (result,) = run.task("Fan out").values()
    assert set(result["hosts"]) == set(windows_target.hosts)
    assert {h["status"] for h in result["hosts"].values()} == {"ok"}
    assert len(result["output"]) == len(windows_target.hosts) and all(result["output"])
