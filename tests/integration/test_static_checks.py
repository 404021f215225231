"""The static checks that `make lint` runs really fail on a planted error (issue 2).

Each check is run the way the Makefile runs it, on a small temporary tree holding one clean file
and one file with a planted error: the clean tree passes and the planted error fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build"), NO_COLOR="1")
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False)


GOOD_PY = "from __future__ import annotations\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"


@pytest.mark.parametrize(
    ("tool", "planted"),
    [
        ("ruff-check", "import os\n"),  # unused import
        ("ruff-format", "x = {  'a':1 }\n"),
        ("mypy", 'from __future__ import annotations\n\n\ndef f() -> int:\n    return "text"\n'),
    ],
)
def test_python_checks_fail_on_planted_error(tmp_path: Path, tool: str, planted: str) -> None:
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tmp_path / "good.py").write_text(GOOD_PY)
    argv = {
        "ruff-check": [str(BIN / "ruff"), "check", "."],
        "ruff-format": [str(BIN / "ruff"), "format", "--check", "."],
        "mypy": [str(BIN / "mypy"), "--config-file", "pyproject.toml", "."],
    }[tool]
    clean = _run(argv, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (tmp_path / "bad.py").write_text(planted)
    dirty = _run(argv, tmp_path)
    assert dirty.returncode != 0, dirty.stdout + dirty.stderr
    assert "bad.py" in dirty.stdout + dirty.stderr


def test_ps1_check_fails_on_parse_error(tmp_path: Path) -> None:
    good = tmp_path / "good.ps1"
    good.write_text(
        "[CmdletBinding()]\nparam([string]$Name)\n"
        "Get-Service -Name $Name | Select-Object -Property @('Name', 'Status')\n"
    )
    lone_param = tmp_path / "param_only.ps1"
    lone_param.write_text("param($Name)\n")
    bad = tmp_path / "bad.ps1"
    bad.write_text("if ($true) {\n    Write-Output 'unclosed'\n")
    checker = [sys.executable, str(REPO / "tools" / "check_ps1.py")]
    ok = _run([*checker, str(good), str(lone_param)], tmp_path)
    assert ok.returncode == 0, ok.stderr
    dirty = _run([*checker, str(good), str(bad)], tmp_path)
    assert dirty.returncode == 1
    assert "bad.ps1:" in dirty.stderr


def test_ansible_lint_fails_on_planted_error(tmp_path: Path) -> None:
    (tmp_path / ".ansible-lint").write_text((REPO / ".ansible-lint").read_text())
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "good.yml").write_text(
        "---\n- name: Good play\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n"
    )
    lint = [str(BIN / "ansible-lint"), "--offline", "playbooks"]
    clean = _run(lint, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (playbooks / "bad.yml").write_text(
        "---\n- hosts: all\n  tasks:\n    - shell: echo hi\n"  # unnamed play/task, shell without need
    )
    dirty = _run(lint, tmp_path)
    assert dirty.returncode != 0
    assert "bad.yml" in dirty.stdout + dirty.stderr


def test_embedded_powershell_scripts_parse() -> None:
    """The constant scripts the connection sends (put/fetch/session state) are PowerShell that
    tree-sitter-powershell parses without an error, like the shipped .ps1 files."""
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import check_ps1
    finally:
        sys.path.pop(0)
    from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import (
        _scripts as _transfer_scripts,
    )

    ps_parser = check_ps1.parser()
    scripts = {n: v for n, v in vars(_transfer_scripts).items() if n.endswith("_SCRIPT")}
    assert {"PUT_FILE_SCRIPT", "FETCH_FILE_SCRIPT", "SESSION_STATE_SCRIPT"} <= set(scripts)
    for name, script in scripts.items():
        assert list(check_ps1.errors(script.encode("utf-8"), ps_parser)) == [], name
    assert list(check_ps1.errors(b"if ($a { 'broken' }", ps_parser)) != []
