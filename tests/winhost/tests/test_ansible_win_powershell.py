"""ansible.windows.win_powershell emulated from the model (winhost/engine/ansible_modules/win_powershell.py).

Expected values follow the module's documented RETURN (ansible.windows win_powershell.py) and its
implementation (win_powershell.ps1: $Ansible variable, Convert-OutputObject, error dicts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from winhost.engine.model import fresh
from winhost.engine.runspace import Runspace

from .test_ansible_exec import run_module


@pytest.fixture
def runspace(tmp_path: Path) -> Runspace:
    machine = fresh("WIN01")
    machine.sandbox_dir = str(tmp_path / "C")
    return Runspace(machine, "Administrator", "Microsoft.PowerShell")


def ps(runspace: Runspace, **args: Any) -> dict[str, Any]:
    result, _ = run_module(runspace, "win_powershell", **args)
    return result


def test_streams_and_changed(runspace: Runspace) -> None:
    script = (
        "$VerbosePreference = 'Continue'\n"
        "'out'; 2; @{k='v'}\n"
        "Write-Warning 'warn'\nWrite-Verbose 'verb'\nWrite-Host 'to host'\n"
        "Write-Error 'bad thing'\n"
        "Write-Information 'info' -Tags t1\n"
        "$Ansible.Result = @{answer = 42}\n$Ansible.Changed = $false\n"
    )
    r = ps(runspace, script=script)
    assert r["output"] == ["out", 2, {"k": "v"}]
    assert r["warning"] == ["warn"]
    assert r["verbose"] == ["verb"]
    assert r["debug"] == []
    assert r["host_out"] == "to host\r\n"
    assert r["host_err"] == ""
    assert r["result"] == {"answer": 42}
    assert r["changed"] is False
    assert "failed" not in r
    assert len(r["error"]) == 1
    err = r["error"][0]
    assert err["exception"]["message"] == "bad thing"
    assert "bad thing" in err["output"]
    assert err["category_info"]["category"] == "NotSpecified"
    assert set(err) == {
        "output", "error_details", "exception", "target_object", "category_info",
        "fully_qualified_error_id", "script_stack_trace", "pipeline_iteration_info",
    }  # fmt: skip
    tags = [i["tags"] for i in r["information"]]
    assert ["PSHOST"] in tags and ["t1"] in tags
    info = next(i for i in r["information"] if i["tags"] == ["t1"])
    assert info["message_data"] == "info"
    assert info["time_generated"].endswith("Z")


def test_changed_defaults_to_true_and_parameters_are_bound(runspace: Runspace) -> None:
    r = ps(runspace, script='param($Name, $Count)\n"$Name x $Count"', parameters={"Name": "svc", "Count": 3})
    assert r["output"] == ["svc x 3"]
    assert r["changed"] is True


def test_terminating_error_fails_the_task(runspace: Runspace) -> None:
    r = ps(runspace, script="'before'\nthrow 'boom'\n'after'")
    assert r["failed"] is True
    assert r["output"] == ["before"]
    assert r["error"][0]["exception"]["message"] == "boom"


def test_error_action_stop(runspace: Runspace) -> None:
    r = ps(runspace, script="Write-Error 'first'\n'not reached'", error_action="stop")
    assert r["failed"] is True
    assert r["output"] == []


def test_depth_flattens_deeper_values_to_strings(runspace: Runspace) -> None:
    r = ps(runspace, script="[pscustomobject]@{A = @{B = @{C = 1}}}", depth=1)
    # output list is depth 1, the object depth 0, its properties -1: strings
    assert r["output"] == [{"A": "System.Collections.Hashtable"}]


def test_enum_output(runspace: Runspace) -> None:
    r = ps(runspace, script="(Get-Service -Name WinRM).Status")
    assert r["output"] == [
        {"Type": "System.ServiceProcess.ServiceControllerStatus", "String": "Running", "Value": 4}
    ]


def test_check_mode_skips_unless_should_process(runspace: Runspace) -> None:
    r = ps(runspace, script="Stop-Service -Name Spooler", _ansible_check_mode=True)
    assert r["changed"] is True and r["msg"] == "skipped, running in check mode"
    assert runspace.machine.services["Spooler"].status == "Running"
    script = (
        "[CmdletBinding(SupportsShouldProcess)]\nparam()\n"
        "if ($PSCmdlet.ShouldProcess('Spooler', 'Stop')) { Stop-Service -Name Spooler }\n"
        "$Ansible.CheckMode"
    )
    r = ps(runspace, script=script, _ansible_check_mode=True)
    assert r["output"] == [True]
    assert runspace.machine.services["Spooler"].status == "Running"


def test_sensitive_parameters_are_secure_and_masked(runspace: Runspace) -> None:
    script = "param($Secret, $Cred)\n$Secret -is [securestring]\n$Cred.GetNetworkCredential().Password"
    r = ps(
        runspace,
        script=script,
        sensitive_parameters=[
            {"name": "Secret", "value": "s3cret"},
            {"name": "Cred", "username": "bob", "password": "pw1"},
        ],
    )
    assert r["output"] == [True, "pw1"]
    args = r["invocation"]["module_args"]["sensitive_parameters"]
    assert "s3cret" not in str(r["invocation"]) and "pw1" not in str(r["invocation"])
    assert args[0]["value"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_path_and_script_are_exclusive(runspace: Runspace) -> None:
    r = ps(runspace)
    assert r["failed"] is True
    assert "path, script" in r["msg"]
