"""JEA on the Windows hosts (docs/getting-started.md "JEA"): an administrator registers a restricted
endpoint with session_configuration for a new local user, the user runs the visible command with
invoke_command's command: form, a hidden command fails with Windows' "not recognized" text, and
raw is refused before anything is sent. Everything is removed at the end (endpoint, role files,
user). Changes the host: runs with PSREMOTING_WINDOWS_ALLOW_CHANGES=1 (always on simulated hosts).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.windows, pytest.mark.integration]

ENDPOINT = "PSRemotingCoreJEA"
MODULE_DIR = "C:\\Program Files\\WindowsPowerShell\\Modules\\PSRemotingCoreJEATest"
PSRC = f"{MODULE_DIR}\\RoleCapabilities\\{ENDPOINT}.psrc"
PSSC = f"C:\\Windows\\Temp\\{ENDPOINT}.pssc"


def _admin_setup(user: str, password: str) -> dict[str, Any]:
    pssc = (
        "@{\n"
        "    SchemaVersion = '2.0.0.0'\n"
        "    SessionType = 'RestrictedRemoteServer'\n"
        "    RunAsVirtualAccount = $true\n"
        f"    RoleDefinitions = @{{ '{user}' = @{{ RoleCapabilities = '{ENDPOINT}' }} }}\n"
        "}\n"
    )
    psrc = "@{\n    VisibleCmdlets = @{ Name = 'Get-Service'; Parameters = @{ Name = 'Name'; ValidateSet = 'WinRM' } }\n}\n"
    return {
        "gather_facts": False,
        "tasks": [
            {
                "name": "JEA user",
                "psremoting.core.invoke_command": {
                    "command": "New-LocalUser",
                    "parameters": {"Name": user, "Description": "psremoting.core JEA test"},
                    "sensitive_parameters": [{"name": "Password", "value": password}],
                    "error_action": "stop",
                },
            },
            {
                "name": "JEA user may use WinRM",
                "psremoting.core.invoke_command": {
                    "command": "Add-LocalGroupMember",
                    "parameters": {"Group": "Remote Management Users", "Member": user},
                },
            },
            {
                "name": "Register the endpoint",
                "psremoting.core.session_configuration": {
                    "name": ENDPOINT,
                    "path": PSSC,
                    "content": pssc,
                    "files": [{"path": PSRC, "content": psrc}],
                },
            },
            {"name": "Restart WinRM", "psremoting.core.winrm_service": {"state": "restarted"}},
        ],
    }


def _member_play(user: str, password: str) -> dict[str, Any]:
    return {
        "gather_facts": False,
        "vars": {"ansible_user": user, "ansible_password": password, "ansible_psrp_configuration_name": ENDPOINT},
        "tasks": [
            {"name": "Visible", "psremoting.core.invoke_command": {"command": "Get-Service", "parameters": {"Name": "WinRM"}}},
            {
                "name": "Refused argument",
                "psremoting.core.invoke_command": {"command": "Get-Service", "parameters": {"Name": "Spooler"}},
                "ignore_errors": True,
            },
            {
                "name": "Hidden",
                "psremoting.core.invoke_command": {"command": "Stop-Service", "parameters": {"Name": "WinRM"}},
                "ignore_errors": True,
            },
            {"name": "Raw", "ansible.builtin.raw": "Get-Service WinRM", "ignore_errors": True},
        ],
    }  # fmt: skip


def _cleanup(user: str) -> dict[str, Any]:
    return {
        "gather_facts": False,
        "tasks": [
            {"name": "Remove the endpoint", "psremoting.core.session_configuration": {"name": ENDPOINT, "state": "absent"}},
            {"name": "Remove the role", "psremoting.core.invoke_command": {
                "command": "Remove-Item", "parameters": {"LiteralPath": MODULE_DIR, "Recurse": True, "Force": True}}},
            {"name": "Remove the .pssc", "psremoting.core.invoke_command": {
                "command": "Remove-Item", "parameters": {"LiteralPath": PSSC, "Force": True}}},
            {"name": "Remove the user", "psremoting.core.invoke_command": {
                "command": "Remove-LocalUser", "parameters": {"Name": user}}},
            {"name": "Restart WinRM", "psremoting.core.winrm_service": {"state": "restarted"}},
        ],
    }  # fmt: skip


@pytest.mark.usefixtures("changes_allowed")
def test_jea_endpoint_for_a_local_user(windows_target: Any, tmp_path: Path) -> None:
    user = f"psrcjea{uuid.uuid4().hex[:8]}"
    password = f"Jea!{uuid.uuid4().hex[:12]}Aa1"
    try:
        setup = windows_target.playbook(tmp_path, [_admin_setup(user, password)])
        assert setup.ok, setup.output()
        member = windows_target.playbook(tmp_path, [_member_play(user, password)])
        assert member.ok, member.output()
        for host in windows_target.hosts:
            visible = member.task("Visible")[host]
            assert visible["output"][0]["Name"] == "WinRM", visible
            refused = member.task("Refused argument")[host]
            assert refused["failed"] and 'does not belong to the set "WinRM"' in refused["msg"], refused
            hidden = member.task("Hidden")[host]
            assert hidden["failed"] and hidden["msg"].startswith(
                "The term 'Stop-Service' is not recognized"
            ), hidden
            raw = member.task("Raw")[host]
            assert raw["failed"] and f"the endpoint '{ENDPOINT}' runs in NoLanguage mode" in raw["msg"], raw
    finally:
        cleanup = windows_target.playbook(tmp_path, [_cleanup(user)])
        assert cleanup.ok, cleanup.output()
