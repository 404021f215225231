"""JEA end to end (issue 20): the HelpDesk endpoint registered with session_configuration, then
used as a member and as a non-member, through the collection (PSRPSession and ansible-playbook).

Windows' texts come from PowerShell-Docs jea/*.md (cited per test) and winhost enforces them
(tests/winhost/winhost/engine/jea.py). One test per row of the issue's table, and the scenario of
docs/getting-started.md's JEA section.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_runner import playbook_env, run_playbook
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession, SessionError
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
)
from winhost import jea_fixture as fx

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="web01", preset="fresh")]

HOST = "web01"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
NOT_RECOGNIZED = (
    "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
    "Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
)


def play(
    winhost: Any, tmp_path: Path, tasks: list[dict[str, Any]], *extra: str
) -> tuple[list[dict[str, Any]], str]:
    return run_plays(winhost, tmp_path, [{"hosts": HOST, "gather_facts": False, "tasks": tasks}], *extra)


REPO = Path(__file__).resolve().parents[2]


def docs_plays() -> list[list[dict[str, Any]]]:
    """The two playbooks of docs/getting-started.md's JEA section (admin, then help desk member)."""
    text = (REPO / "docs" / "getting-started.md").read_text(encoding="utf-8")
    section = text[text.index("## JEA") :]
    section = section[: section.index("\n## ", 1)]
    plays = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)]
    assert len(plays) == 2
    for playbook in plays:
        for one in playbook:
            one["hosts"] = HOST
    return plays


def run_plays(
    winhost: Any, tmp_path: Path, plays: list[dict[str, Any]], *extra: str
) -> tuple[list[dict[str, Any]], str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays))
    env = playbook_env(winhost.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    _rc, report, output = run_playbook(
        winhost.inventory_path, playbook, "-e", "ansible_connection=psremoting.core.psrp", *extra, env=env,
        program=ANSIBLE_PLAYBOOK,
    )  # fmt: skip
    assert report, output
    return [task["hosts"].get(HOST, {}) for task in report["plays"][0]["tasks"]], output


@pytest.fixture(scope="module")
def helpdesk(winhost: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The admin registers HelpDesk with the docs' playbook: --check --diff first, then for real,
    then again (idempotent)."""
    machine = winhost.machine(HOST)
    fx.add_accounts(machine)
    admin = docs_plays()[0]
    runs = {}
    for label, extra in (("check", ("--check", "--diff")), ("first", ("--diff",)), ("again", ())):
        results, output = run_plays(winhost, tmp_path_factory.mktemp(label), admin, *extra)
        runs[label] = results
        runs[f"{label}_output"] = output
    return {**runs, "machine": machine}


def member_session(winhost: Any, user: str = fx.MEMBER, configuration: str = fx.ENDPOINT) -> PSRPSession:
    return winhost_session(
        winhost, HOST, remote_user=user, remote_password=fx.PASSWORD, configuration_name=configuration
    )


def command(name: str, **parameters: Any) -> PipelineRequest:
    return PipelineRequest(commands=[PipelineCommand(name=name, parameters=parameters)], depth=1)


def task_result(helpdesk: dict[str, Any], run: str, index: int, *keys: str) -> dict[str, Any]:
    """Task `index`'s result in the fixture's `run` ("check", "first", "again"); a failed or
    unreachable task, or a result without `keys`, fails the test with that run's whole output."""
    result: dict[str, Any] = helpdesk[run][index]
    missing = [key for key in keys if key not in result]
    assert not (missing or result.get("failed") or result.get("unreachable")), (
        f"the {run!r} run's task {index} failed or lacks {missing}: {result}\n{helpdesk[f'{run}_output']}"
    )
    return result


def test_registration_with_the_module_is_idempotent_and_diffs(helpdesk: dict[str, Any]) -> None:
    """session_configuration registers from the .pssc (Register-PSSessionConfiguration -Path) and
    writes the role capability; the capability report asserts what the role gives; a second run
    changes nothing."""
    register = task_result(helpdesk, "first", 0, "steps", "files_changed", "session_configuration")
    report = helpdesk["first"][1:]
    check = task_result(helpdesk, "again", 0, "steps", "files_changed")
    assert register["changed"] and register["steps"] == ["register"]
    assert sorted(register["files_changed"]) == sorted([fx.PSRC_PATH, fx.PSSC_PATH])
    assert register["session_configuration"]["config_file_path"] == fx.PSSC_PATH
    assert all(not r.get("failed") for r in report), helpdesk["first_output"]
    assert not check["changed"] and check["steps"] == [] and check["files_changed"] == []
    sc = helpdesk["machine"].session_configurations[fx.ENDPOINT]
    assert sc.session_type == "RestrictedRemoteServer" and sc.language_mode == "NoLanguage"
    assert sc.permission == f"{helpdesk['machine'].computer_name}\\{fx.GROUP} AccessAllowed"


def test_row_restart_service_outside_the_validate_set_is_refused(
    winhost: Any, helpdesk: dict[str, Any]
) -> None:
    """Row 1 (role-capabilities.md, ValidateSet): Restart-Service -Name W32Time is refused."""
    session = member_session(winhost)
    try:
        result = session.invoke_pipeline(command("Restart-Service", Name="W32Time"))
        assert result["state"] == "Failed"
        (error,) = result["error"]
        assert error["exception"]["message"] == (
            "Cannot validate argument on parameter 'Name'. The argument \"W32Time\" does not belong to the set "
            '"Spooler" specified by the ValidateSet attribute. Supply an argument that is in the set and then try '
            "the command again."
        )
        assert error["fully_qualified_error_id"] == "ParameterArgumentValidationError,Restart-Service"
        allowed = session.invoke_pipeline(command("Restart-Service", Name="Spooler"))
        assert allowed["state"] == "Completed" and allowed["error"] == []
        service = session.invoke_pipeline(command("Get-Service", Name="Spooler"))
        assert service["output"][0]["Name"] == "Spooler"  # objects back
    finally:
        session.close()


def test_row_stop_service_is_not_visible(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """Row 2 (session-configurations.md): a command no role exposes is not recognized."""
    session = member_session(winhost)
    try:
        result = session.invoke_pipeline(command("Stop-Service", Name="Spooler"))
        assert result["state"] == "Failed"
        assert result["error"][0]["exception"]["message"] == NOT_RECOGNIZED.format("Stop-Service")
        assert helpdesk["machine"].services["Spooler"].status == "Running"
    finally:
        session.close()


def test_row_whoami_is_not_visible_and_the_identity_is_a_virtual_account(
    winhost: Any, helpdesk: dict[str, Any]
) -> None:
    """Row 3 (session-configurations.md: no external program is visible; security-considerations.md
    and audit-and-report.md: the session runs as WinRM Virtual Users\\WinRM VA_<n>_<DOMAIN>_<user>,
    which the transcript records as "RunAs User")."""
    session = member_session(winhost)
    try:
        result = session.invoke_pipeline(command("whoami"))
        assert result["error"][0]["exception"]["message"] == NOT_RECOGNIZED.format("whoami")
    finally:
        session.close()
    machine = helpdesk["machine"]
    transcripts = sorted((Path(machine.sandbox()) / "ProgramData" / "JEA" / "Transcripts").rglob("*.txt"))
    texts = [t.read_text(encoding="utf-8") for t in transcripts]
    (text,) = [t for t in texts if 'PS>CommandInvocation(whoami): "whoami"' in t]
    assert f"Username: {machine.computer_name}\\{fx.MEMBER}" in text
    assert re.search(
        rf"RunAs User: WinRM Virtual Users\\WinRM VA_\d+_{machine.computer_name}_{fx.MEMBER}", text
    )
    assert 'PS>CommandInvocation(whoami): "whoami"' in text


def test_row_get_command_lists_the_visible_commands(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """Row 4 (session-configurations.md: the RestrictedRemoteServer default commands, plus the role's)."""
    session = member_session(winhost)
    try:
        result = session.invoke_pipeline(command("Get-Command"))
        names = [o["Name"] for o in result["output"]]
        assert names == [
            "Clear-Host", "Exit-PSSession", "Get-Command", "Get-FormatData", "Get-Help", "Measure-Object",
            "Out-Default", "Select-Object", "Get-Service", "Restart-Service",
        ]  # fmt: skip
    finally:
        session.close()


def test_listed_default_commands_run_over_psrp(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """The defaults Get-Command lists run (Get-FormatData: an ExtendedTypeDefinition per formatted
    type, learn.microsoft.com .../get-formatdata; Exit-PSSession: nothing without a client host,
    ServerRemoteHost.PopRunspace) rather than answering "not emulated"."""
    session = member_session(winhost)
    try:
        result = session.invoke_pipeline(
            command("Get-FormatData", TypeName="System.ServiceProcess.ServiceController")
        )
        assert result["state"] == "Completed" and result["error"] == []
        assert [o["TypeName"] for o in result["output"]] == ["System.ServiceProcess.ServiceController"]
        unknown = session.invoke_pipeline(command("Get-FormatData", TypeName="Contoso.NoSuchType"))
        assert unknown["state"] == "Completed" and unknown["output"] == [] and unknown["error"] == []
        leave = session.invoke_pipeline(command("Exit-PSSession"))
        assert leave["state"] == "Completed" and leave["output"] == [] and leave["error"] == []
    finally:
        session.close()


def test_get_help_answers_as_windows_powershell_5_1_over_psrp(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """Get-Help, a default command of the session (session-configurations.md), answers through PSRP
    as it does on Windows PowerShell 5.1 (PowerShell/PowerShell issue 4092): a visible command's
    help fails with ItemNotFoundException (no provider is visible), a hidden one is HelpNotFound."""
    session = member_session(winhost)
    try:
        visible = session.invoke_pipeline(command("Get-Help", Name="Get-Service"))
        assert visible["state"] == "Failed"
        (error,) = visible["error"]
        assert error["exception"]["message"] == "Cannot find path '' because it does not exist."
        assert (
            error["fully_qualified_error_id"] == "PathNotFound,Microsoft.PowerShell.Commands.GetHelpCommand"
        )
        hidden = session.invoke_pipeline(command("Get-Help", Name="Stop-Service"))
        assert hidden["state"] == "Completed" and hidden["output"] == []
        (missing,) = hidden["error"]
        assert (
            missing["fully_qualified_error_id"] == "HelpNotFound,Microsoft.PowerShell.Commands.GetHelpCommand"
        )
        assert missing["exception"]["message"].startswith(
            "Get-Help could not find Stop-Service in a help file"
        )
    finally:
        session.close()


def test_row_exec_wrapper_raw_and_script_fail_before_sending(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """Rows 5 and 7: the exec wrapper, raw and script are script text (about_Language_Modes:
    NoLanguage refuses it); the collection refuses them before sending, naming the endpoint, the
    mode and the fix."""
    session = member_session(winhost)
    try:
        with pytest.raises(SessionError) as info:
            session.exec_script("Write-Output hi")
        message = info.value.info.message
        assert "the endpoint 'HelpDesk' runs in NoLanguage mode" in message
        assert "command:" in message and "parameters:" in message
        assert session.restricted
        stats_before = session.opened
        with pytest.raises(SessionError):
            session.exec_script("Write-Output again")
        assert session.opened == stats_before
    finally:
        session.close()


@pytest.mark.runs_ps1("connection.language_probe")
def test_language_probe_tells_full_from_no_language(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """psrp/_restricted.LANGUAGE_PROBE: FullLanguage on the default endpoint, NoLanguage (the
    probe's own ScriptsNotAllowed refusal) on the JEA endpoint (about_Language_Modes)."""
    admin = winhost_session(winhost, HOST)
    member = member_session(winhost)
    try:
        assert admin.run(admin._probe_language) == "FullLanguage"
        assert member.run(member._probe_language) == "NoLanguage"
    finally:
        admin.close()
        member.close()


def test_row_unknown_configuration_is_refused(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """Row 6: a configuration name that is not registered fails to connect with Windows' fault."""
    session = winhost_session(winhost, HOST, configuration_name="NoSuchEndpoint")
    with pytest.raises(SessionError) as info:
        session.invoke_pipeline(command("Get-Service"))
    assert (
        "Cannot find the NoSuchEndpoint session configuration in the WSMan: drive on the"
        in info.value.info.message
    )


def test_a_non_member_is_denied(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """session-configurations.md "Role definitions": only RoleDefinitions principals get access."""
    session = member_session(winhost, user=fx.OUTSIDER)
    with pytest.raises(SessionError) as info:
        session.invoke_pipeline(command("Get-Service"))
    assert "Access is denied" in info.value.info.message


def test_playbook_on_the_endpoint(winhost: Any, helpdesk: dict[str, Any], tmp_path: Path) -> None:
    """The member's playbook of docs/getting-started.md "JEA", then what its table says is refused:
    refused commands and arguments fail with Windows' error record, script:/raw/win_ping fail up
    front with the guiding message."""
    member = docs_plays()[1]
    member[0]["tasks"] += [
        {"psremoting.core.invoke_command": {"command": "Restart-Service", "parameters": {"Name": "W32Time"}},
         "ignore_errors": True},
        {"psremoting.core.invoke_command": {"command": "Stop-Service", "parameters": {"Name": "Spooler"}},
         "ignore_errors": True},
        {"psremoting.core.invoke_command": {"script": "Get-Service Spooler"}, "ignore_errors": True},
        {"ansible.builtin.raw": "Get-Service Spooler", "ignore_errors": True},
        {"ansible.windows.win_ping": {}, "ignore_errors": True},
    ]  # fmt: skip
    results, output = run_plays(winhost, tmp_path, member, "-e", f"helpdesk_password={fx.PASSWORD}")
    get, restart, refused_arg, hidden, script, raw, ping = results
    assert not get.get("failed"), output
    assert get["output"][0]["Name"] == "Spooler" and get["output"][0]["Status"] is not None
    assert not restart.get("failed") and restart["changed"]
    assert refused_arg["failed"] and 'does not belong to the set "Spooler"' in refused_arg["msg"]
    assert (
        refused_arg["error"][0]["fully_qualified_error_id"]
        == "ParameterArgumentValidationError,Restart-Service"
    )
    assert hidden["failed"] and hidden["msg"] == NOT_RECOGNIZED.format("Stop-Service")
    for refused in (script, raw, ping):
        assert refused["failed"], refused
        assert "the endpoint 'HelpDesk' runs in NoLanguage mode" in refused["msg"], refused
        assert "command:" in refused["msg"]


def test_check_mode_diff_and_capability_report(helpdesk: dict[str, Any]) -> None:
    """session_configuration --check --diff reports the registration it would make (the .pssc path,
    both files' content in the diff) without making it; winrm_info jea_capabilities
    (Get-PSSessionCapability, audit-and-report.md) lists what a member can run."""
    check = task_result(helpdesk, "check", 0, "steps", "session_configuration", "diff")
    assert check["changed"] and check["steps"] == ["register"], helpdesk["check_output"]
    assert check["session_configuration"]["config_file_path"] == fx.PSSC_PATH
    diffs = {d.get("after_header"): d for d in check["diff"][1:]}
    assert diffs[fx.PSSC_PATH]["before"] == "" and "RestrictedRemoteServer" in diffs[fx.PSSC_PATH]["after"]
    assert "ValidateSet = 'Spooler'" in diffs[fx.PSRC_PATH]["after"]
    info = task_result(helpdesk, "first", 1, "winrm")
    (member,) = info["winrm"]["jea_capabilities"]
    assert {"name": "Restart-Service", "command_type": "Function"} in member["commands"]
    assert {"name": "Get-Service", "command_type": "Cmdlet"} in member["commands"]
    assert "Stop-Service" not in [c["name"] for c in member["commands"]]
    (endpoint,) = [s for s in info["winrm"]["session_configurations"] if s["name"] == fx.ENDPOINT]
    assert endpoint["config_file_path"] == fx.PSSC_PATH


def test_outsider_has_no_capabilities(winhost: Any, helpdesk: dict[str, Any]) -> None:
    """Get-PSSessionCapability for a user outside RoleDefinitions: the default commands only."""
    session = winhost_session(winhost, HOST)
    try:
        result = session.invoke_pipeline(
            PipelineRequest(
                commands=[
                    PipelineCommand(
                        name="Get-PSSessionCapability",
                        parameters={"ConfigurationName": fx.ENDPOINT, "Username": f"WEB01\\{fx.OUTSIDER}"},
                    )
                ],
                depth=1,
            )
        )
        assert "Restart-Service" not in [o["Name"] for o in result["output"]]
        assert "Get-Command" in [o["Name"] for o in result["output"]]
    finally:
        session.close()
