"""The module docs and role files generated from the WSMan setting declarations are current, and
the declarations drive the module argument specs (issue 14: one declaration per setting)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleLookupError

from ansible_collections.psremoting.core.plugins.action import winrm_client, winrm_service
from ansible_collections.psremoting.core.plugins.lookup import winrm_role_settings
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    CLIENT_SETTINGS,
    SERVICE_SETTINGS,
    role_settings,
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
    for setting in SERVICE_SETTINGS:
        if setting.in_role:
            assert defaults[f"enable_psremoting_{setting.option}"] == setting.role_default
        else:
            assert f"enable_psremoting_{setting.option}" not in defaults


def test_role_reads_its_settings_through_the_lookup_not_by_name() -> None:
    """The role's service task and bootstrap template spell no setting: they loop over the lookup,
    so a new role-managed setting needs no edit there (issue 14: at most 4 files per setting)."""
    task = yaml.safe_load((ROLE / "tasks" / "service.yml").read_text())[0]
    assert "query('psremoting.core.winrm_role_settings')" in task["vars"]["__enable_psremoting_wsman"]
    assert "__enable_psremoting_wsman" in task["psremoting.core.winrm_service"]["settings"]
    template = (ROLE / "templates" / "Enable-PSRemoting.ps1.j2").read_text()
    assert "query('psremoting.core.winrm_role_settings')" in template
    for setting in role_settings():
        for text, where in (
            (yaml.safe_dump(task), "tasks/service.yml"),
            (template, "the bootstrap template"),
        ):
            assert setting.role_variable not in text, f"{where} names {setting.role_variable}"
            assert setting.path not in text, f"{where} names {setting.path}"


def test_lookup_lists_every_role_setting_in_order() -> None:
    entries = winrm_role_settings.LookupModule().run([], variables={})
    assert entries == [
        {"option": s.option, "variable": f"enable_psremoting_{s.option}", "path": s.path, "kind": s.kind}
        for s in SERVICE_SETTINGS
        if s.in_role
    ]
    assert {e["kind"] for e in entries} <= {"bool", "int", "str"}  # what the template can write
    with pytest.raises(AnsibleLookupError, match="takes no terms"):
        winrm_role_settings.LookupModule().run(["x"], variables={})
