"""JEA in winhost: the HelpDesk endpoint of issue 20 (winhost/jea_fixture.py).

Each test names the Microsoft document it follows (MicrosoftDocs/PowerShell-Docs,
reference/docs-conceptual/security/remoting/jea/ unless said otherwise).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from psrpcore import Command
from psrpcore.types import ConsoleColor, Coordinates, HostDefaultData, Size

from winhost import jea_fixture as fx
from winhost.engine import jea
from winhost.engine.errors import PSRuntimeError
from winhost.engine.model import Machine
from winhost.engine.runspace import Runspace

from .helpers import Engine, RecordingHost

ENDPOINT_URI = f"http://schemas.microsoft.com/powershell/{fx.ENDPOINT}"


@pytest.fixture
def helpdesk(machine: Machine) -> Machine:
    """The admin's setup: accounts, the role capability file, the .pssc, registration."""
    fx.add_accounts(machine)
    write(machine, fx.PSRC_PATH, fx.PSRC)
    write(machine, fx.PSSC_PATH, fx.pssc(machine.computer_name))
    result = Engine(machine).command(
        "Register-PSSessionConfiguration", Name=fx.ENDPOINT, Path=fx.PSSC_PATH, Force=True
    )
    assert result.failure is None and result.errors == []
    return machine


def write(machine: Machine, path: str, text: str) -> None:
    parent = path.rsplit("\\", 1)[0]
    Engine(machine).command("New-Item", Path=parent, ItemType="Directory", Force=True)
    result = Engine(machine).command("Set-Content", Path=path, Value=text, Force=True)
    assert result.failure is None and result.errors == []


def read(machine: Machine, path: str) -> str:
    result = Engine(machine).command("Get-Content", Path=path, Raw=True)
    assert result.failure is None and result.errors == []
    return str(result.output[0])


def session(machine: Machine, user: str = fx.MEMBER) -> Runspace:
    return Runspace(machine, user, ENDPOINT_URI)


def run(rs: Runspace, name: str, *positional: Any, **params: Any) -> tuple[RecordingHost, Any]:
    cmd = Command(name)
    for value in positional:
        cmd.add_argument(value)
    for key, value in params.items():
        cmd.add_parameter(key, value)
    host = RecordingHost()
    try:
        rs.invoke([cmd], None, host)
    except PSRuntimeError as exc:
        return host, exc.record
    return host, None


def test_validate_set_refuses_an_argument_outside_the_set(helpdesk: Machine) -> None:
    """role-capabilities.md: Parameters = @{ Name = 'Name'; ValidateSet = ... } limits the values;
    the proxy's ValidateSetAttribute gives PowerShell's ParameterArgumentValidationError."""
    rs = session(helpdesk)
    _host, error = run(rs, "Restart-Service", Name="W32Time")
    assert error is not None
    assert str(error.Exception.Message) == (
        "Cannot validate argument on parameter 'Name'. The argument \"W32Time\" does not belong to the set "
        '"Spooler" specified by the ValidateSet attribute. Supply an argument that is in the set and then '
        "try the command again."
    )
    assert error.FullyQualifiedErrorId == "ParameterArgumentValidationError,Restart-Service"
    assert helpdesk.services["W32Time"].status == "Running"  # nothing ran
    host, error = run(rs, "Restart-Service", Name="Spooler")
    assert error is None and host.errors == []


def test_a_parameter_left_out_of_parameters_does_not_exist(helpdesk: Machine) -> None:
    """role-capabilities.md: only the listed parameters (and the common ones) are visible."""
    rs = session(helpdesk)
    _host, error = run(rs, "Restart-Service", Name="Spooler", Force=True)
    assert error is not None
    assert str(error.Exception.Message) == "A parameter cannot be found that matches parameter name 'Force'."
    _host, error = run(rs, "Restart-Service", Name="Spooler", Verbose=True)
    assert error is None


def test_a_command_that_is_not_visible_is_not_recognized(helpdesk: Machine) -> None:
    """session-configurations.md: a RestrictedRemoteServer session only has the default commands
    and what the roles make visible; anything else is CommandNotFoundException."""
    rs = session(helpdesk)
    _host, error = run(rs, "Stop-Service", Name="Spooler")
    assert error is not None
    assert str(error.Exception.Message) == (
        "The term 'Stop-Service' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct and "
        "try again."
    )
    assert error.FullyQualifiedErrorId == "CommandNotFoundException"
    assert helpdesk.services["Spooler"].status == "Running"


def test_external_programs_are_not_visible_by_default(helpdesk: Machine) -> None:
    """session-configurations.md: "No PowerShell providers are available, nor are any external
    programs (executables or scripts)."""
    _host, error = run(session(helpdesk), "whoami")
    assert error is not None
    assert str(error.Exception.Message).startswith("The term 'whoami' is not recognized")


def test_virtual_account_identity(helpdesk: Machine) -> None:
    """security-considerations.md / audit-and-report.md: the session runs as
    WinRM Virtual Users\\WinRM VA_<n>_<DOMAIN>_<user>; VisibleExternalCommands makes whoami.exe runnable."""
    psrc = fx.PSRC.replace(
        "GUID =", "VisibleExternalCommands = 'C:\\Windows\\System32\\whoami.exe'\n    GUID ="
    )
    write(helpdesk, fx.PSRC_PATH, psrc)
    rs = session(helpdesk)
    assert re.fullmatch(r"WinRM Virtual Users\\WinRM VA_\d+_WINHOST_helpdesk1", rs.user)
    host, error = run(rs, "whoami")
    assert error is None
    assert host.output == [rs.user.lower()]


def test_get_command_lists_the_visible_commands_only(helpdesk: Machine) -> None:
    """session-configurations.md (the default commands) and audit-and-report.md (what
    Get-Command shows in the session is what Get-PSSessionCapability reports)."""
    host, error = run(session(helpdesk), "Get-Command")
    assert error is None
    names = [str(o.Name) for o in host.output]
    assert names == [*jea.DEFAULT_COMMANDS, "Get-Service", "Restart-Service"]
    assert "Invoke-Expression" not in names
    capability = Engine(helpdesk).ok(
        f"Get-PSSessionCapability -ConfigurationName {fx.ENDPOINT} -Username {helpdesk.computer_name}\\{fx.MEMBER}"
    )
    assert [str(o.Name) for o in capability] == names


def test_script_text_and_the_exec_wrapper_are_refused(helpdesk: Machine) -> None:
    """about_Language_Modes (NoLanguage): script text cannot run, so Ansible's exec wrapper
    (a script) fails with the parser error before doing anything."""
    rs = session(helpdesk)
    host = RecordingHost()
    wrapper = Command("& $([scriptblock]::Create($input | Out-String))", is_script=True)  # bootstrap_wrapper
    with pytest.raises(PSRuntimeError) as info:
        rs.invoke([wrapper], ["{}"], host)
    assert info.value.record.FullyQualifiedErrorId == "ScriptsNotAllowed"
    assert str(info.value.record.Exception.Message) == (
        "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
    )


def test_transcript_records_the_user_the_identity_and_the_commands(helpdesk: Machine) -> None:
    """audit-and-report.md "Session transcripts": header with Username and RunAs User, then a
    CommandInvocation and ParameterBinding lines per command (refused ones included)."""
    rs = session(helpdesk)
    run(rs, "Get-Service", Name="Spooler")
    run(rs, "Stop-Service", Name="Spooler")
    assert rs.jea is not None and rs.jea.transcript is not None
    path = rs.jea.transcript
    assert re.fullmatch(
        r"C:\\ProgramData\\JEA\\Transcripts\\\d{8}\\PowerShell_transcript\.WINHOST\.\w{8}\.\d{14}\.txt", path
    )
    text = read(helpdesk, path)
    assert "Windows PowerShell transcript start" in text
    assert "Username: WINHOST\\helpdesk1" in text
    assert f"RunAs User: {rs.user}" in text
    assert 'PS>CommandInvocation(Get-Service): "Get-Service"' in text
    assert '>> ParameterBinding(Get-Service): name="Name"; value="Spooler"' in text
    assert "The term 'Stop-Service' is not recognized" in text


def test_registration_grants_the_role_definitions_and_shows_them(helpdesk: Machine) -> None:
    """security-considerations.md "WinRM Endpoint ACL": Permission lists the RoleDefinitions
    principals; audit-and-report.md reads RoleDefinitions and TranscriptDirectory."""
    (config,) = Engine(helpdesk).ok(f"Get-PSSessionConfiguration -Name {fx.ENDPOINT}")
    assert config.Permission == "WINHOST\\HelpDesk AccessAllowed"
    assert config.SessionType == "RestrictedRemoteServer"
    assert config.LanguageMode == "NoLanguage"
    assert config.TranscriptDirectory == fx.TRANSCRIPTS
    assert config.RunAsVirtualAccount is True


def test_a_user_without_a_role_has_only_the_default_commands(helpdesk: Machine) -> None:
    """security-considerations.md: a user with access but no role "only [has] access to the default cmdlets"."""
    host, error = run(session(helpdesk, fx.OUTSIDER), "Get-Command")
    assert error is None
    assert [str(o.Name) for o in host.output] == list(jea.DEFAULT_COMMANDS)


def test_role_merge_rules() -> None:
    """role-capabilities.md "How role capabilities are merged", the example of roles A and B."""
    caps = jea.Capabilities()
    caps.add(
        {
            "VisibleCmdlets": [
                "Get-Service",
                {
                    "Name": "Restart-Service",
                    "Parameters": {"Name": "DisplayName", "ValidateSet": "DNS Client"},
                },
            ]
        }
    )
    caps.add(
        {
            "VisibleCmdlets": [
                {"Name": "Get-Service", "Parameters": {"Name": "DisplayName", "ValidatePattern": "DNS.*"}},
                {
                    "Name": "Restart-Service",
                    "Parameters": {"Name": "DisplayName", "ValidateSet": "DNS Server"},
                },
            ]
        }
    )
    get_service = caps.command("Get-Service")
    assert get_service is not None and get_service.parameters is None  # rule 3/4: unconstrained wins
    restart = caps.command("Restart-Service")
    assert restart is not None and restart.parameters is not None
    assert restart.parameters["displayname"].validate_set == ["DNS Client", "DNS Server"]  # rule 5
    patterns = jea.Capabilities()
    patterns.add(
        {"VisibleCmdlets": {"Name": "Restart-Service", "Parameters": {"Name": "Name", "ValidateSet": "A"}}}
    )
    patterns.add(
        {
            "VisibleCmdlets": {
                "Name": "Restart-Service",
                "Parameters": {"Name": "Name", "ValidatePattern": "^B"},
            }
        }
    )
    rule = patterns.command("Restart-Service")
    assert rule is not None and rule.parameters is not None
    assert rule.parameters["name"].validate_pattern == ["^B"]  # rule 7: the set is ignored


def test_validate_pattern_text() -> None:
    """role-capabilities.md (ValidatePattern); the text of PowerShell's ValidatePatternAttribute."""
    visible = jea.VisibleCommand(
        "Start-Website", {"name": jea.ParameterRule("Name", validate_pattern=["HR_*"])}
    )
    assert jea.check_parameters(visible, [("Name", "HR_payroll")]) is None
    error = jea.check_parameters(visible, [("Name", "Finance")])
    assert error is not None
    assert str(error.Exception.Message) == (
        'Cannot validate argument on parameter \'Name\'. The argument "Finance" does not match the "HR_*" '
        'pattern. Supply an argument that matches "HR_*" and try the command again.'
    )


def test_data_file_parser_reads_the_documented_shapes() -> None:
    """about_Session_Configuration_Files / New-PSRoleCapabilityFile output: comments, nested
    hashtables, arrays, strings of both quotes, booleans, script blocks (kept as text)."""
    text = """# comment
@{
<# block
comment #>
SessionType = 'RestrictedRemoteServer'
RunAsVirtualAccount = $true
RoleDefinitions = @{ 'CONTOSO\\A' = @{ RoleCapabilities = 'One', 'Two' } }
VisibleCmdlets = @(@{ Name = "Restart-Service"; Parameters = @{ Name = 'Name'; ValidateSet = @('Dns', 'Spooler') } })
FunctionDefinitions = @{ Name = 'Get-X'; ScriptBlock = { param($a) Get-Process } }
}
"""
    table = jea.parse_data_file(text)
    assert table["RunAsVirtualAccount"] is True
    assert table["RoleDefinitions"] == {"CONTOSO\\A": {"RoleCapabilities": ["One", "Two"]}}
    assert table["VisibleCmdlets"][0]["Parameters"]["ValidateSet"] == ["Dns", "Spooler"]
    with pytest.raises(jea.DataFileError):
        jea.parse_data_file("Get-Process")


def test_default_commands_winhost_lacks_say_so(helpdesk: Machine) -> None:
    """Get-Help is visible in every RestrictedRemoteServer session (session-configurations.md); without
    a name it fails on Windows PowerShell 5.1 too (PowerShell/PowerShell issue 8900) but how is not
    written down, so winhost says it does not emulate that instead of "not recognized"."""
    _host, error = run(session(helpdesk), "Get-Help")
    assert error is not None
    assert str(error.Exception.Message) == "winhost does not emulate the JEA session command Get-Help"


def get_help(rs: Runspace, *positional: Any, **params: Any) -> tuple[RecordingHost, Any]:
    return run(rs, "Get-Help", *positional, **params)


@pytest.mark.parametrize(
    "name", ["Get-Service", "Select-Object", "gcm", "Microsoft.PowerShell.Management\\Get-Service"]
)
def test_get_help_of_a_visible_command_fails_as_on_windows_powershell_5_1(
    helpdesk: Machine, name: str
) -> None:
    """PowerShell/PowerShell issue 4092 "Get-Help does not work in JEA sessions" (5.1.15063, Windows
    bug 9314110; issue 8900 again on 5.1.17763): in a RestrictedRemoteServer session (no provider
    visible, session-configurations.md) ``Get-Help Select-Object`` fails with ItemNotFoundException
    from help/ProviderContext.cs (fixed only in PowerShell 6+, pull request 2988). The same happens
    for a role's cmdlet and a default alias: their help is forwarded to the provider context too."""
    _host, error = get_help(session(helpdesk), name)
    assert error is not None
    assert str(error.Exception.Message) == "Cannot find path '' because it does not exist."
    assert error.FullyQualifiedErrorId == "PathNotFound,Microsoft.PowerShell.Commands.GetHelpCommand"
    assert str(error.CategoryInfo) == "ObjectNotFound: (:) [Get-Help], ItemNotFoundException"
    _named, named_error = get_help(session(helpdesk), Name=name)
    assert named_error is not None and named_error.FullyQualifiedErrorId == error.FullyQualifiedErrorId


def test_get_help_of_a_hidden_command_is_help_not_found(helpdesk: Machine) -> None:
    """help/CommandHelpProvider.cs ExactMatchHelp skips a command not visible from the caller's
    CommandOrigin, so nothing reaches the provider context: GetHelpCommand writes the help system's
    HelpNotFoundException (non-terminating; Windows PowerShell 5.1's text, "https:/" and all)."""
    host, error = get_help(session(helpdesk), "Stop-Service")
    assert error is None and host.output == []
    (record,) = host.errors
    assert str(record.Exception.Message) == (
        "Get-Help could not find Stop-Service in a help file in this session. To download updated help "
        'topics type: "Update-Help". To get help online, search for the help topic in the TechNet library '
        "at https:/go.microsoft.com/fwlink/?LinkID=107116."
    )
    assert record.FullyQualifiedErrorId == "HelpNotFound,Microsoft.PowerShell.Commands.GetHelpCommand"
    assert str(record.CategoryInfo) == "ResourceUnavailable: (:) [Get-Help], HelpNotFoundException"
    quiet, quiet_error = get_help(session(helpdesk), "Stop-Service", ErrorAction="SilentlyContinue")
    assert quiet_error is None and quiet.errors == []
    _host, stop_error = get_help(session(helpdesk), "Stop-Service", ErrorAction="Stop")
    assert stop_error is not None and stop_error.FullyQualifiedErrorId == record.FullyQualifiedErrorId


def test_get_help_is_the_restricted_proxy_with_name_and_category_only(helpdesk: Machine) -> None:
    """PowerShell/PowerShell engine/CommandMetadata.cs GetRestrictedGetHelp: the session's Get-Help
    proxies the cmdlet with Name (ValidatePattern isSafeNameOrIdentifierRegex) and Category
    (ValidateSet of the HelpCategory names), bound by position, plus the common parameters."""
    rs = session(helpdesk)
    _host, error = get_help(rs, "Get-Service", Full=True)
    assert error is not None and error.FullyQualifiedErrorId == "NamedParameterNotFound,Get-Help"
    assert str(error.Exception.Message) == "A parameter cannot be found that matches parameter name 'Full'."
    _host, error = get_help(rs, "Get-*")
    assert error is not None and error.FullyQualifiedErrorId == "ParameterArgumentValidationError,Get-Help"
    pattern = r"^[-._:\\\p{Ll}\p{Lu}\p{Lt}\p{Lo}\p{Nd}\p{Lm}]{1,100}$"
    assert str(error.Exception.Message) == (
        f'Cannot validate argument on parameter \'Name\'. The argument "Get-*" does not match the "{pattern}" '
        f'pattern. Supply an argument that matches "{pattern}" and try the command again.'
    )
    _host, error = get_help(rs, "Get-Service", "Bogus")
    assert error is not None and error.FullyQualifiedErrorId == "ParameterArgumentValidationError,Get-Help"
    assert str(error.Exception.Message).startswith(
        "Cannot validate argument on parameter 'Category'. The argument \"Bogus\" does not belong to the set "
        '"None,Alias,Cmdlet,Provider,General,FAQ,Glossary,HelpFile,ScriptCommand,Function,Filter,'
    )
    _host, error = get_help(rs, "Get-Service", "Cmdlet", "extra")
    assert error is not None and error.FullyQualifiedErrorId == "PositionalParameterNotFound,Get-Help"
    _host, error = get_help(rs, "Get-Service", Category="Cmdlet")
    assert error is not None and str(error.Exception.Message) == (
        "winhost does not emulate the JEA session command Get-Help"
    )


def test_get_help_with_a_visible_provider_is_not_emulated(helpdesk: Machine) -> None:
    """With a provider visible (role-capabilities.md VisibleProviders) the location resolves and
    Windows returns real help content, which winhost does not have: it says so."""
    write(
        helpdesk,
        fx.PSRC_PATH,
        fx.PSRC.replace(
            "VisibleCmdlets = 'Get-Service',",
            "VisibleProviders = 'FileSystem'\n    VisibleCmdlets = 'Get-Service',",
        ),
    )
    _host, error = get_help(session(helpdesk), "Get-Service")
    assert error is not None
    assert str(error.Exception.Message) == "winhost does not emulate the JEA session command Get-Help"


def test_providers_and_aliases_are_hidden_unless_visible(helpdesk: Machine) -> None:
    """session-configurations.md: "No PowerShell providers are available"; role-capabilities.md:
    VisibleProviders and VisibleAliases are unions across roles."""
    write(
        helpdesk,
        fx.PSRC_PATH,
        fx.PSRC.replace("VisibleCmdlets = 'Get-Service',", "VisibleCmdlets = 'Get-Service', 'Get-Item',"),
    )
    rs = session(helpdesk)
    host, error = run(rs, "Get-Item", Path="C:\\Windows")
    assert error is None and host.output == []
    assert str(host.errors[0].Exception.Message) == "Cannot find a provider with the name 'FileSystem'."
    _host, error = run(rs, "gi", Path="WSMan:\\localhost")
    assert error is not None and str(error.Exception.Message).startswith("The term 'gi' is not recognized")
    psrc = fx.PSRC.replace("VisibleCmdlets = 'Get-Service',", "VisibleCmdlets = 'Get-Service', 'Get-Item',")
    psrc = psrc.replace("GUID =", "VisibleAliases = 'gi'\n    VisibleProviders = 'WSMan'\n    GUID =")
    write(helpdesk, fx.PSRC_PATH, psrc)
    host, error = run(session(helpdesk), "gi", Path="WSMan:\\localhost\\Service\\AllowUnencrypted")
    assert error is None and host.errors == [] and len(host.output) == 1


class _ClientHost(RecordingHost):
    """The client's host as the WSMan runner shows it (winhost/wsman/psrp.py): host calls are
    recorded, RawUI reads come from its HostDefaultData."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[Any], bool]] = []

    def has_host(self) -> bool:
        return True

    def host_call(self, method: str, params: list[Any] | None = None, wait: bool = False) -> Any:
        self.calls.append((method, list(params or []), wait))
        return None

    def host_default_data(self) -> Any:
        return HostDefaultData(
            ForegroundColor=ConsoleColor.Gray,
            BackgroundColor=ConsoleColor.DarkBlue,
            CursorPosition=Coordinates(X=4, Y=9),
            WindowPosition=Coordinates(X=0, Y=0),
            CursorSize=25,
            BufferSize=Size(Width=120, Height=3000),
            WindowSize=Size(Width=120, Height=30),
            MaxWindowSize=Size(Width=120, Height=50),
            MaxPhysicalWindowSize=Size(Width=200, Height=60),
            WindowTitle="Windows PowerShell",
        )


def run_with(rs: Runspace, host: RecordingHost, name: str, **params: Any) -> Any:
    cmd = Command(name)
    for key, value in params.items():
        cmd.add_parameter(key, value)
    try:
        rs.invoke([cmd], None, host)
    except PSRuntimeError as exc:
        return exc.record
    return None


def test_clear_host_clears_the_client_screen_and_writes_no_output(helpdesk: Machine) -> None:
    """Clear-Host is a function in every session (InitialSessionState's BuiltInFunctions,
    PowerShell/PowerShell): CursorPosition = 0,0, then SetBufferContents(-1,-1,-1,-1, a blank cell
    in the current colours); in a remote session both are host calls (MS-PSRP 2.2.3.17)."""
    host = _ClientHost()
    assert run_with(session(helpdesk), host, "Clear-Host") is None
    assert host.output == [] and host.errors == []
    assert [(m, w) for m, _, w in host.calls] == [("SetCursorPosition", False), ("SetBufferContents1", False)]
    position = host.calls[0][1][0]
    assert (position.X, position.Y) == (0, 0)
    rectangle, cell = host.calls[1][1]
    assert (rectangle.Left, rectangle.Top, rectangle.Right, rectangle.Bottom) == (-1, -1, -1, -1)
    assert cell.Character == ord(" ")  # psrpcore keeps a System.Char as its code point
    assert (cell.ForegroundColor, cell.BackgroundColor) == (ConsoleColor.Gray, ConsoleColor.DarkBlue)


def test_exit_pssession_pops_the_client_runspace_and_writes_no_output(helpdesk: Machine) -> None:
    """ExitPSSessionCommand.cs calls PopRunspace on the host; on the server that is
    ServerRemoteHost.PopRunspace, a void host call to the client (ServerRemoteHost.cs). The
    RestrictedRemoteServer proxy takes no parameters (CommandMetadata.GetRestrictedExitPSSession)."""
    host = _ClientHost()
    assert run_with(session(helpdesk), host, "Exit-PSSession") is None
    assert host.output == [] and host.errors == []
    assert host.calls == [("PopRunspace", [], False)]
    without_host = RecordingHost()
    assert run_with(session(helpdesk), without_host, "Exit-PSSession") is None
    assert without_host.output == [] and without_host.errors == []


def test_get_format_data_returns_type_definitions_of_formatted_types_only(helpdesk: Machine) -> None:
    """Get-FormatData (learn.microsoft.com/powershell/module/microsoft.powershell.utility/get-formatdata):
    an ExtendedTypeDefinition per formatted type matching -TypeName; nothing for a type without
    formatting data. View names as DotNetTypes.format.ps1xml gives them."""
    rs = session(helpdesk)
    host, error = run(rs, "Get-FormatData", TypeName="System.ServiceProcess.ServiceController")
    assert error is None and host.errors == []
    (definition,) = host.output
    assert definition.PSObject.type_names[0] == "System.Management.Automation.ExtendedTypeDefinition"
    assert definition.TypeName == "System.ServiceProcess.ServiceController"
    assert definition.TypeNames == ["System.ServiceProcess.ServiceController"]
    (view,) = definition.FormatViewDefinition
    assert view.Name == "service"
    assert [c.DisplayEntry.Value for c in view.Control.Rows[0].Columns] == ["Status", "Name", "DisplayName"]
    host, _ = run(rs, "Get-FormatData", TypeName="System.Diagnostics.*")
    assert [d.TypeName for d in host.output] == ["System.Diagnostics.Process"]
    assert host.output[0].FormatViewDefinition[0].Name == "process"
    host, error = run(rs, "Get-FormatData", TypeName="Contoso.NoSuchType")
    assert error is None and host.output == [] and host.errors == []
