"""invoke_command's PSSession state, against a simulated Windows host (winhost).

The state matrix of issue 15: {variable, function shadowing a cmdlet, imported module, location,
environment variable} x {invoke_command then invoke_command: kept; invoke_command then raw /
module / script (put + run): not seen; raw then invoke_command: not seen}, plus the temporary
session of ``session_state: temporary``. What is kept follows ``Invoke-Command -Session``
(about_PSSessions: "run multiple commands that share data ... in the same PSSession";
about_Remote_Variables: a variable set by one command is there for the next):
https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_pssessions
https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_remote_variables

One ansible-playbook run holds the whole matrix (one run costs ~5-8 s of ansible start-up).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import run_tasks

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01", preset="fresh")]

# What invoke_command sets: a script-scope variable, a function shadowing a cmdlet the exec wrapper
# calls, an imported module, the location (runspace and process directory), an environment variable.
SET_STATE = (
    "$x = 42; function ConvertFrom-Json { [PSCustomObject]@{ a = 'shadowed' } }; Import-Module NetSecurity; "
    "Set-Location -LiteralPath C:\\Windows; [Environment]::CurrentDirectory = 'C:\\Windows'; "
    "$env:PSRC_SESSION = 'ic'"
)
# One line per row of the matrix, the same script for every kind of task.
READ_STATE = (
    "$j = '{\"a\":1}' | ConvertFrom-Json; "
    '"x=$x"; "json=$($j.a)"; '
    '"module=$(@(Get-Module -Name NetSecurity).Count)"; "location=$((Get-Location).Path)"; '
    '"env=$env:PSRC_SESSION"'
)
KEPT = ["x=42", "json=shadowed", "module=1", "location=C:\\Windows", "env=ic"]
# What raw sets in the pool's runspace (a $global: variable and a global function stay there).
RAW_SET = (
    "$global:y = 'raw'; function global:Get-RawOnly { 'raw' }; Import-Module PKI; "
    "Set-Location -LiteralPath C:\\ProgramData; $env:PSRC_RAW = 'raw'"
)
RAW_READ = (
    '"y=$y"; "fn=$(@(Get-Command Get-RawOnly -ErrorAction SilentlyContinue).Count)"; '
    '"module=$(@(Get-Module -Name PKI).Count)"; "env=$env:PSRC_RAW"'
)


def _yaml(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML string


def _tasks() -> str:
    ic = "psremoting.core.invoke_command"
    return f"""
    - name: ic set
      {ic}: {{script: {_yaml(SET_STATE)}}}
    - name: ic read
      {ic}: {{script: {_yaml(READ_STATE)}}}
    - name: raw read
      ansible.builtin.raw: {_yaml(READ_STATE)}
    - name: module read
      ansible.windows.win_shell: {_yaml(READ_STATE)}
    - name: module that calls ConvertFrom-Json
      ansible.windows.win_ping:
    - name: script read
      ansible.builtin.script: "{{{{ script_file }}}}"
    - name: raw set
      ansible.builtin.raw: {_yaml(RAW_SET)}
    - name: raw reads its own state
      ansible.builtin.raw: {_yaml(RAW_READ)}
    - name: ic reads raw state
      {ic}: {{script: {_yaml(RAW_READ + '; "x=$x"; "location=$((Get-Location).Path)"')}}}
    - name: ic temporary
      {ic}: {{script: {_yaml(READ_STATE)}, session_state: temporary}}
    - name: ic after temporary
      {ic}: {{script: {_yaml(READ_STATE)}}}
"""


def _lines(result: dict[str, Any]) -> list[str]:
    if "output" in result:  # invoke_command: output objects
        return [str(o) for o in result["output"]]
    return [line for line in result.get("stdout", "").splitlines() if line.strip()]


def test_state_matrix(winhost: Any, tmp_path: Path) -> None:
    script = tmp_path / "read.ps1"
    script.write_text(READ_STATE + "\n", encoding="utf-8")
    tasks = _tasks().replace("{{ script_file }}", str(script))
    rc, data, text = run_tasks(winhost, tmp_path, "dc01", tasks)
    assert rc == 0, text
    results = {t["task"]["name"]: t["hosts"]["dc01"] for t in data["plays"][0]["tasks"]}
    home = "C:\\Users\\Administrator"

    # invoke_command then invoke_command: every row kept
    assert _lines(results["ic read"]) == KEPT
    # invoke_command then raw / module / script (put + run): none of it seen
    not_seen = ["x=", "json=1", "module=0", f"location={home}", "env="]
    assert _lines(results["raw read"]) == not_seen
    assert _lines(results["module read"])[:2] == ["x=", "json=1"]
    assert _lines(results["module read"])[4] == "env="
    assert results["module that calls ConvertFrom-Json"]["ping"] == "pong"
    assert _lines(results["script read"])[:2] == ["x=", "json=1"]
    assert _lines(results["script read"])[3:] == [f"location={home}", "env="]
    # raw then invoke_command: raw's state stays in the pool's runspace...
    assert _lines(results["raw reads its own state"]) == ["y=raw", "fn=1", "module=1", "env="]
    # ... and invoke_command sees none of it, while its own session state is still there
    assert _lines(results["ic reads raw state"]) == [
        "y=",
        "fn=0",
        "module=0",
        "env=",
        "x=42",
        "location=C:\\Windows",
    ]
    # session_state: temporary is a fresh session; the persistent one is left as it was
    assert _lines(results["ic temporary"]) == not_seen
    assert _lines(results["ic after temporary"]) == KEPT
