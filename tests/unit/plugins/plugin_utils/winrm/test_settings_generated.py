"""The module docs and role files generated from the WSMan setting declarations are current, and
the declarations drive the module argument specs (issue 14: one declaration per setting)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.psremoting.core.plugins.action import winrm_client, winrm_service
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    CLIENT_SETTINGS,
    SERVICE_SETTINGS,
)

ROOT = Path(__file__).resolve().parents[5]
TOOL = ROOT / "tools" / "gen_winrm_settings.py"
ROLE = ROOT / "roles" / "enable_psremoting"


def test_generated_files_are_current() -> None:
    proc = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_check_names_a_stale_file(tmp_path: Path) -> None:
    """--check fails when a generated part was edited by hand (run against a copy of the tree)."""
    copy = tmp_path / "tree"
    for rel in ("plugins", "roles", "tools"):
        shutil.copytree(ROOT / rel, copy / rel)
    build = copy / ".build" / "ansible_collections" / "psremoting"
    build.mkdir(parents=True)
    (build / "core").symlink_to(copy)
    defaults = copy / "roles" / "enable_psremoting" / "defaults" / "main.yml"
    defaults.write_text(
        defaults.read_text().replace(
            "enable_psremoting_auth_basic: false", "enable_psremoting_auth_basic: true"
        )
    )
    proc = subprocess.run(
        [sys.executable, str(copy / "tools" / "gen_winrm_settings.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "roles/enable_psremoting/defaults/main.yml" in proc.stderr


def test_declarations_drive_specs_and_role() -> None:
    for settings, action in ((SERVICE_SETTINGS, winrm_service), (CLIENT_SETTINGS, winrm_client)):
        for setting in settings:
            assert action.ActionModule.ARGUMENT_SPEC[setting.option]["type"] == setting.kind
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    task = yaml.safe_load((ROLE / "tasks" / "service.yml").read_text())[0]["psremoting.core.winrm_service"]
    for setting in SERVICE_SETTINGS:
        if setting.in_role:
            assert defaults[f"enable_psremoting_{setting.option}"] == setting.role_default
            assert f"enable_psremoting_{setting.option}" in task[setting.option]
        else:
            assert f"enable_psremoting_{setting.option}" not in defaults
