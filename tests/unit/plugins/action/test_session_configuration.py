"""session_configuration against the fake host: register/unregister, JEA files, access, safety."""

from __future__ import annotations

from ansible_collections.psremoting.core.plugins.action.session_configuration import ActionModule
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)

PSSC = "@{\n    SchemaVersion = '2.0.0.0'\n    SessionType = 'RestrictedRemoteServer'\n}\n"
PSSC_PATH = "C:\\ProgramData\\JEA\\Maintenance.pssc"


def test_register_jea_four_steps() -> None:
    host = FakeWindows()
    args = {
        "name": "Maintenance",
        "path": PSSC_PATH,
        "content": PSSC,
        "files": [
            {
                "path": "C:\\Program Files\\WindowsPowerShell\\Modules\\M\\RoleCapabilities\\Ops.psrc",
                "content": "@{ VisibleCmdlets = 'Restart-Service' }",
            }
        ],
        "allow": ["BUILTIN\\Administrators", "WinRMOperators"],
    }
    checked = run_action(ActionModule, args, host, check_mode=True)
    assert checked["changed"] is True and checked["steps"] == ["register"]
    assert host.changes() == [] and host.files == {}

    applied = run_action(ActionModule, args, host)
    assert applied["restart_required"] is True
    session = host.sessions["Maintenance"]
    assert session["ConfigFilePath"] == PSSC_PATH
    assert "(A;;GA;;;S-1-5-32-544)(A;;GA;;;S-1-5-21-1-2-3-1001)" in session["SecurityDescriptorSddl"]
    assert host.files[PSSC_PATH] == PSSC

    host.log.clear()
    host.files[PSSC_PATH] = PSSC.replace("\n", "\r\n")  # Windows line endings are not a change
    again = run_action(ActionModule, args, host)
    assert again["changed"] is False, again
    assert host.changes() == []


def test_access_compares_aliases_and_ignores_disable_ace() -> None:
    host = FakeWindows(
        sessions={
            "Ops": {
                "Name": "Ops",
                "Enabled": "false",
                "ConfigFilePath": "",
                "SecurityDescriptorSddl": "O:NSG:BAD:P(D;;GA;;;WD)(A;;GA;;;BA)",
            }
        }
    )
    result = run_action(ActionModule, {"name": "Ops", "allow": ["S-1-5-32-544"], "enabled": True}, host)
    assert result["steps"] == ["enable"]
    assert host.sessions["Ops"]["Enabled"] == "true"


def test_unresolvable_principal_fails_clearly() -> None:
    host = FakeWindows()
    result = run_action(ActionModule, {"name": "Ops", "allow": ["CONTOSO\\Ops Team"]}, host)
    assert result["failed"] is True
    assert "give domain principals as SIDs" in result["msg"]


def test_refuses_disabling_connected_configuration() -> None:
    host = FakeWindows(
        sessions={
            "Microsoft.PowerShell": {
                "Name": "Microsoft.PowerShell",
                "Enabled": "true",
                "SecurityDescriptorSddl": "O:NSG:BAD:P(A;;GA;;;BA)",
            }
        }
    )
    result = run_action(ActionModule, {"name": "microsoft.powershell", "enabled": False}, host)
    assert result["failed"] is True and "refuses to disable" in result["msg"]
    gone = run_action(
        ActionModule, {"name": "Microsoft.PowerShell", "state": "absent", "allow_disconnect": True}, host
    )
    assert gone["changed"] is True and host.sessions == {}


def test_disable_then_unregister() -> None:
    host = FakeWindows()
    run_action(ActionModule, {"name": "Ops"}, host)
    assert run_action(ActionModule, {"name": "Ops", "enabled": False}, host)["steps"] == ["disable"]
    assert host.sessions["Ops"]["Enabled"] == "false"
    assert run_action(ActionModule, {"name": "Ops", "state": "absent"}, host)["steps"] == ["unregister"]
    assert run_action(ActionModule, {"name": "Ops", "state": "absent"}, host)["changed"] is False


def test_diff_shows_file_contents_and_the_path_on_first_registration() -> None:
    """--diff: the registered properties (config_file_path set on the first registration, it was
    empty), then one entry per .pssc/.psrc whose content changes (issue 20)."""
    host = FakeWindows()
    psrc_path = "C:\\Program Files\\WindowsPowerShell\\Modules\\M\\RoleCapabilities\\Ops.psrc"
    args = {
        "name": "Maintenance",
        "path": PSSC_PATH,
        "content": PSSC,
        "files": [{"path": psrc_path, "content": "@{ VisibleCmdlets = 'Restart-Service' }"}],
    }
    first = run_action(ActionModule, args, host, check_mode=True)
    properties, *files = first["diff"]
    assert properties["before"] == {} and properties["after"]["config_file_path"] == PSSC_PATH
    assert [(f["after_header"], f["before"], f["after"]) for f in files] == [
        (psrc_path, "", "@{ VisibleCmdlets = 'Restart-Service' }"),
        (PSSC_PATH, "", PSSC),
    ]
    run_action(ActionModule, args, host)
    changed_role = dict(args, files=[{"path": psrc_path, "content": "@{ VisibleCmdlets = 'Get-Service' }"}])
    second = run_action(ActionModule, changed_role, host, check_mode=True)
    assert second["changed"] and second["files_changed"] == [psrc_path]
    (_, role) = second["diff"]
    assert role["before"] == "@{ VisibleCmdlets = 'Restart-Service' }"
    assert role["after"] == "@{ VisibleCmdlets = 'Get-Service' }"
