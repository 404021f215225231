"""pssession / pssession_info over the connection's shell operations (``list_shells``,
``remove_shells``): what is selected, protected, removed, and how failures are reported."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.psremoting.core.plugins.action import pssession, pssession_info
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import UNREACHABLE
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import FAILED, Removal, ShellInfo
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)

OWN, OLD, OTHER = (f"0000000{n}-0000-4000-8000-000000000000" for n in range(1, 4))


def _shell(shell_id: str, config: str = "Microsoft.PowerShell", state: str = "Connected") -> ShellInfo:
    uri = f"http://schemas.microsoft.com/powershell/{config}"
    return ShellInfo(
        shell_id, None, uri, "WEB01\\admin", "10.0.0.5", 4, state, "PT7200S", "P0DT2H0M0S", "PT1S"
    )


def _host() -> FakeWindows:
    host = FakeWindows()
    host.shells = [_shell(OWN), _shell(OLD, state="Disconnected"), _shell(OTHER, config="JEA")]
    host.own_shells = {OWN}
    return host


def test_info_lists_and_marks_the_connections_own_shell() -> None:
    host = _host()
    result = run_action(pssession_info.ActionModule, {}, host)
    assert [(r["ShellId"], r["Protected"]) for r in result["sessions"]] == [
        (OWN, True),
        (OLD, False),
        (OTHER, False),
    ]
    assert result["protection"]["method"] == "shell_id"
    assert host.shell_requests == [("list", [])]


def test_absent_removes_the_selection_by_id_and_never_the_own_shell() -> None:
    host = _host()
    result = run_action(
        pssession.ActionModule, {"state": "absent", "configuration_name": ["microsoft.powershell"]}, host
    )
    assert [r["ShellId"] for r in result["removed"]] == [OLD]
    assert [r["ShellId"] for r in result["protected"]] == [OWN]
    assert result["changed"] is True
    assert host.shell_requests == [("list", []), ("remove", [OLD])]


def test_check_mode_removes_nothing() -> None:
    host = _host()
    result = run_action(pssession.ActionModule, {"state": "absent"}, host, check_mode=True)
    assert sorted(r["ShellId"] for r in result["removed"]) == sorted([OLD, OTHER])
    assert host.shell_requests == [("list", [])]


def test_a_failed_removal_fails_the_task_naming_it() -> None:
    host = _host()
    host.remove_shells = lambda shells: [Removal(OLD, FAILED, "error", "Access is denied.")]  # type: ignore[method-assign]
    result = run_action(pssession.ActionModule, {"state": "absent", "shell_id": [OLD]}, host)
    assert result["failed"] is True
    assert result["failed_removals"][0]["msg"] == "Access is denied."
    assert result["msg"] == "1 of 1 session(s) could not be removed on web01"


def test_an_unreachable_host_is_a_connection_failure() -> None:
    host = _host()
    host.remove_shells = lambda shells: [Removal(OLD, FAILED, UNREACHABLE, "connection refused")]  # type: ignore[method-assign]
    with pytest.raises(AnsibleConnectionFailure, match="removing sessions on web01: connection refused"):
        run_action(pssession.ActionModule, {"state": "absent", "shell_id": [OLD]}, host)
