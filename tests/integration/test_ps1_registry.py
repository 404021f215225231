"""tools/ps1_registry.py lists every PowerShell script the collection sends or renders (issue 23).

* A scan of plugins/, roles/ and playbooks/ (string constants and f-strings with PowerShell in
  Python modules, .ps1 files and templates, YAML tasks with script text) finds nothing that no
  entry covers, and every entry covers something that exists.
* tools/check_ps1.py parses every entry and reports how many.
* Every entry is run end to end on winhost by at least one test, which says so with
  ``@pytest.mark.runs_ps1("<entry>")``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import ps1_registry
import pytest

REPO = Path(__file__).resolve().parents[2]


def _covered() -> set[str]:
    return {key for item in ps1_registry.REGISTRY for key in ps1_registry.covered_keys(item)}


def test_every_powershell_string_in_the_collection_is_registered() -> None:
    found = ps1_registry.scan()
    missing = {key: excerpt for key, excerpt in found.items() if key not in _covered()}
    assert missing == {}, "PowerShell not in tools/ps1_registry.py (add an entry and a test that runs it)"


def test_every_entry_covers_something_that_exists() -> None:
    assert _covered() - set(ps1_registry.scan()) == set()
    names = [item.name for item in ps1_registry.REGISTRY]
    assert len(names) == len(set(names))


def test_the_scan_finds_a_new_script(tmp_path: Path) -> None:
    """What a contributor would add: a constant script, an f-string wrapper, a .ps1 file, a task
    with script text; plain messages and regular expressions are not PowerShell."""
    utils = tmp_path / "plugins" / "plugin_utils" / "x"
    utils.mkdir(parents=True)
    (utils / "_new.py").write_text(
        '"""Docstring with $Ansible and Get-Item."""\n'
        'NEW_SCRIPT = r"""param([string]$Path)\\nGet-Item -LiteralPath $Path\\n"""\n'
        'MESSAGE = "the value $5 is not valid"\n'
        'PATTERN = r"(?i)\\\\$env:|set-location"\n'
        "def wrap(cmd: str) -> str:\n"
        '    return f"{cmd}; exit $LASTEXITCODE"\n'
    )
    (tmp_path / "roles" / "r" / "files").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "files" / "setup.ps1").write_text("Write-Output 1\n")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "p.yml").write_text(
        "- hosts: all\n  tasks:\n    - name: Inline script\n      psremoting.core.invoke_command:\n"
        "        script: |\n          $x = Get-Service\n          $x.Count\n"
    )
    assert set(ps1_registry.scan(tmp_path)) == {
        "plugins/plugin_utils/x/_new.py::NEW_SCRIPT",
        "plugins/plugin_utils/x/_new.py::wrap",
        "roles/r/files/setup.ps1::<file>",
        "playbooks/p.yml::Inline script",
    }


def test_check_ps1_parses_every_registered_script_and_reports_the_count() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_ps1.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    count = len(ps1_registry.REGISTRY)
    assert f" and {count} registered scripts parsed, 0 errors" in proc.stdout, proc.stdout
    assert count >= 11


def _declared_runs() -> dict[str, list[str]]:
    """entry -> tests marked ``runs_ps1(entry)`` (decorators and module ``pytestmark``)."""
    runs: dict[str, list[str]] = {}
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("mark.runs_ps1")):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    runs.setdefault(arg.value, []).append(path.relative_to(REPO).as_posix())
                elif isinstance(arg, ast.Starred):
                    runs.setdefault(f"<dynamic {ast.unparse(arg)}>", []).append(str(path))
    return runs


def test_every_entry_is_run_on_winhost_by_a_test() -> None:
    runs = _declared_runs()
    names = {item.name for item in ps1_registry.REGISTRY}
    assert names - set(runs) == set(), "entries no test runs on winhost"
    assert set(runs) - names == set(), "runs_ps1 markers naming no entry"


@pytest.mark.parametrize("name", [item.name for item in ps1_registry.REGISTRY])
def test_entries_have_text(name: str) -> None:
    item = ps1_registry.entry(name)
    if item.kind == "template":
        pytest.skip(
            "rendered by ansible-playbook in test_check_ps1_parses_every_registered_script_and_reports_the_count"
        )
    (text,) = ps1_registry.texts((item,)).values()
    assert ps1_registry.is_powershell(text)


@pytest.mark.runs_ps1("invoke_command.session_runspace")
def test_session_runspace_script_keeps_state_apart(tmp_path: Path) -> None:
    """invoke/_session.py's script on winhost: two pipelines share the session runspace's
    variables, streams come back, and the pool's own runspace does not see them."""
    from winhost_local import run_local

    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
        SESSION_RUNSPACE_SCRIPT,
        in_session,
    )
    from winhost.engine.model import fresh
    from winhost.engine.runspace import Runspace

    machine = fresh("WIN01")
    machine.sandbox_dir = str(tmp_path / "C")
    pool_runspace = Runspace(machine, "Administrator", "Microsoft.PowerShell")

    def run(script: str) -> Any:
        (command,) = in_session(
            {"commands": [{"name": script, "is_script": True, "use_local_scope": False}]}
        )["commands"]
        result = run_local(machine, SESSION_RUNSPACE_SCRIPT, command["parameters"], runspace=pool_runspace)
        assert result.failure is None, result.failure_text()
        return result

    first = run("$suite = 41; Write-Warning 'w'; 'one'")
    assert first.lines == ["one"] and first.host.warnings == ["w"]
    assert run("$suite + 1").output == [42]
    outside = run_local(
        machine, "[bool](Get-Variable -Name suite -ErrorAction Ignore)", runspace=pool_runspace
    )
    assert outside.output == [False]


def test_a_lone_member_expression_is_powershell_but_prose_naming_one_is_not() -> None:
    """The scan sees the language probe (one member-access expression, no cmdlet or newline)
    and still skips an error message that mentions a variable's property."""
    assert ps1_registry.is_powershell("$ExecutionContext.SessionState.LanguageMode")
    assert not ps1_registry.is_powershell("the script set $Ansible.Failed")
