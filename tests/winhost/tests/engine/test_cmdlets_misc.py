"""Session configurations, Enable-PSRemoting, utility cmdlets, CIM, automatic variables.

Get-PSSessionConfiguration: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/get-pssessionconfiguration
Enable-PSRemoting: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/enable-psremoting
Select-Object (Selected.<type> names): https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/select-object
ConvertTo-Json (default depth 2): https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/convertto-json
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine.model import LOCAL_ACCOUNT_TOKEN_KEY, Account, Machine

from .helpers import Engine


def test_session_configurations(engine: Engine, machine: Machine) -> None:
    (default,) = engine.ok("Get-PSSessionConfiguration -Name Microsoft.PowerShell")
    assert default.PSObject.type_names[0] == (
        "Microsoft.PowerShell.Commands.PSSessionConfigurationCommands#PSSessionConfiguration"
    )
    assert default.URI == "http://schemas.microsoft.com/powershell/microsoft.powershell"
    assert default.Enabled is True
    engine.ok("Disable-PSSessionConfiguration -Name Microsoft.PowerShell -Force")
    assert machine.session_configurations["microsoft.powershell"].permission.startswith(
        "NT AUTHORITY\\NETWORK AccessDenied"
    )
    engine.ok("Enable-PSSessionConfiguration -Name Microsoft.PowerShell -Force")
    assert "AccessDenied" not in machine.session_configurations["microsoft.powershell"].permission


def test_register_jea_endpoint_from_pssc(engine: Engine, machine: Machine) -> None:
    (Path(machine.sandbox()) / "jea.pssc").write_text(
        "@{\nSchemaVersion = '2.0.0.0'\nSessionType = 'RestrictedRemoteServer'\nRunAsVirtualAccount = $true\n}\n"
    )
    engine.ok("Register-PSSessionConfiguration -Name JEAMaintenance -Path C:\\jea.pssc -Force | Out-Null")
    (jea,) = engine.ok("Get-PSSessionConfiguration JEAMaintenance")
    assert jea.SessionType == "RestrictedRemoteServer"
    assert jea.RunAsUser.startswith("WinRM Virtual Users\\")
    engine.ok("Unregister-PSSessionConfiguration -Name JEAMaintenance -Force")
    assert "JEAMaintenance" not in machine.session_configurations


def test_session_configuration_needs_admin(machine: Machine) -> None:
    machine.accounts["user1"] = Account("user1", "pw", groups=["Users"])
    result = Engine(machine, user="user1").script("Get-PSSessionConfiguration")
    assert result.failure is not None
    assert str(result.failure.Exception.Message).startswith("Access is denied.")


def test_enable_psremoting_repairs_a_broken_host(engine: Engine, machine: Machine) -> None:
    engine.ok(
        # the listeners go first: the WSMan: drive needs the running service (as on Windows)
        "Remove-Item WSMan:\\localhost\\Listener\\* -Recurse\n"
        "Stop-Service WinRM; Set-Service WinRM -StartupType Manual\n"
        "Disable-NetFirewallRule -DisplayGroup 'Windows Remote Management'"
    )
    assert not machine.winrm_running
    engine.ok("Enable-PSRemoting -Force")
    assert machine.winrm_running
    assert machine.services["WinRM"].start_type == "Automatic"
    assert machine.wsman.find_listener("*", "HTTP") is not None
    assert machine.firewall.allows(5985, "127.0.0.1")
    assert machine.registry_value(LOCAL_ACCOUNT_TOKEN_KEY, "LocalAccountTokenFilterPolicy") == 1


def test_select_object_type_names(run: Callable[[str], list[Any]]) -> None:
    (obj,) = run(
        "Get-Service W32Time | Select-Object Name, @{Name='Up'; Expression={ $_.Status -eq 'Running' }}"
    )
    assert obj.PSObject.type_names == [
        "Selected.System.ServiceProcess.ServiceController",
        "System.Management.Automation.PSCustomObject",
        "System.Object",
    ]
    assert (obj.Name, obj.Up) == ("W32Time", True)


def test_convert_json_round_trip(run: Callable[[str], list[Any]]) -> None:
    (text,) = run("@{ a = 1; b = @('x', 'y'); c = @{ d = $true } } | ConvertTo-Json -Compress")
    assert json.loads(text) == {"a": 1, "b": ["x", "y"], "c": {"d": True}}
    assert run('(\'{"n": {"m": 5}}\' | ConvertFrom-Json).n.m') == [5]
    (deep,) = run("@{ l1 = @{ l2 = @{ l3 = @{ l4 = 1 } } } } | ConvertTo-Json -Compress")
    assert json.loads(deep) == {"l1": {"l2": {"l3": "System.Collections.Hashtable"}}}  # default -Depth 2


def test_measure_sort_group(run: Callable[[str], list[Any]]) -> None:
    (m,) = run("1, 5, 3 | Measure-Object -Sum -Maximum -Minimum -Average")
    assert m.PSObject.type_names[0] == "Microsoft.PowerShell.Commands.GenericMeasureInfo"
    assert (m.Count, m.Sum, m.Maximum, m.Minimum, m.Average) == (3, 9.0, 5.0, 1.0, 3.0)
    names = run(
        "Get-Service | Sort-Object -Property DisplayName | Select-Object -First 2 -ExpandProperty DisplayName"
    )
    assert names == sorted(names, key=str.lower)


def test_cim_and_automatic_variables(run: Callable[[str], list[Any]]) -> None:
    (os_info,) = run("Get-CimInstance -ClassName Win32_OperatingSystem")
    assert (
        os_info.PSObject.type_names[0]
        == "Microsoft.Management.Infrastructure.CimInstance#root/cimv2/Win32_OperatingSystem"
    )
    assert os_info.Caption == "Microsoft Windows Server 2022 Datacenter"
    assert run("(Get-CimInstance Win32_ComputerSystem).Name") == ["WINHOST"]
    assert run("$PSVersionTable.PSVersion.ToString(); $PSVersionTable.PSEdition") == [
        "5.1.20348.2849",
        "Desktop",
    ]
    assert run("$env:USERNAME; $env:USERPROFILE; $HOME; $env:TEMP") == [
        "Administrator",
        "C:\\Users\\Administrator",
        "C:\\Users\\Administrator",
        "C:\\Users\\Administrator\\AppData\\Local\\Temp",
    ]


def test_get_command(engine: Engine) -> None:
    (info,) = engine.ok("Get-Command Get-Service")
    assert info.PSObject.type_names[0] == "System.Management.Automation.CmdletInfo"
    assert (info.Name, info.Source) == ("Get-Service", "Microsoft.PowerShell.Management")
    (err,) = engine.script("Get-Command Get-Nothing").errors
    assert (
        err.FullyQualifiedErrorId
        == "CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand"
    )


def test_set_wsman_quick_config(engine: Engine, machine: Machine) -> None:
    engine.ok("Remove-Item WSMan:\\localhost\\Listener\\* -Recurse; Stop-Service WinRM")
    engine.ok("Set-WSManQuickConfig -Force")
    assert machine.winrm_running
    assert machine.wsman.find_listener("*", "HTTP") is not None
    result = engine.script("Set-WSManQuickConfig -UseSSL -Force")
    assert result.failure is not None  # no certificate with CN=WINHOST yet
    engine.ok(
        "New-SelfSignedCertificate -Subject CN=WINHOST -DnsName winhost | Out-Null; Set-WSManQuickConfig -UseSSL -Force"
    )
    https = machine.wsman.find_listener("*", "HTTPS")
    assert https is not None
    assert https.certificate_thumbprint in machine.cert_store


def test_format_table_and_out_string(run: Callable[[str], list[Any]]) -> None:
    (text,) = run("Get-Service W32Time, WinRM | Format-Table | Out-String")
    lines = text.split("\r\n")
    assert lines[1].split() == ["Status", "Name", "DisplayName"]
    assert lines[3].split()[:2] == ["Running", "W32Time"]
    (listing,) = run("Get-Service W32Time | Format-List -Property Name, Status | Out-String")
    assert "Name   : W32Time" in listing
    assert "Status : Running" in listing
    (direct,) = run("Get-Service W32Time | Out-String")
    assert "W32Time" in direct and "Windows Time" in direct


def test_convertto_securestring_plaintext(engine: Engine, machine: Machine) -> None:
    engine.ok(
        "$pw = ConvertTo-SecureString 'P@ssw0rd!' -AsPlainText -Force\n"
        "New-LocalUser -Name svc1 -Password $pw | Out-Null\n"
        "$cred = New-Object System.Management.Automation.PSCredential('svc1', $pw)\n"
        "if ($cred.GetNetworkCredential().Password -ne 'P@ssw0rd!') { throw 'bad' }"
    )
    assert machine.accounts["svc1"].password == "P@ssw0rd!"
    result = engine.script("ConvertTo-SecureString 'x' -AsPlainText")
    assert result.failure is not None


def test_client_secure_string_and_credential(engine: Engine) -> None:
    """Values as psrpcore deserializes them from the client (SecureString, PSCredential)."""
    from psrpcore.types import PSCredential, PSSecureString

    secret = PSSecureString("s3cret!")
    cred = PSCredential(UserName="DOMAIN\\alice", Password=PSSecureString("pw"))
    result = engine.script(
        "param($Secret, $Cred)\n$Secret.Length\n$Secret -is [securestring]\n$Cred -is [pscredential]\n"
        "$n = $Cred.GetNetworkCredential(); $n.UserName; $n.Domain; $n.Password -ceq 'pw'",
        Secret=secret,
        Cred=cred,
    )
    assert result.failure is None
    assert result.output == [7, True, True, "alice", "DOMAIN", True]


def test_get_credential_asks_the_host(machine: Machine) -> None:
    from psrpcore import Command

    from .helpers import RecordingHost

    engine = Engine(machine)
    host = RecordingHost(lines_to_read=["typed-pw"])
    engine.runspace.invoke(
        [
            Command(
                "$c = Get-Credential -UserName admin; $c.UserName; $c.GetNetworkCredential().Password",
                is_script=True,
            )
        ],
        None,
        host,
    )
    assert host.output == ["admin", "typed-pw"]


def test_modules_and_drives(engine: Engine) -> None:
    assert engine.ok("Import-Module NetSecurity; (Get-Module -ListAvailable -Name PKI).Name") == ["PKI"]
    (err,) = engine.script("Import-Module NoSuchModule").errors
    assert (
        err.FullyQualifiedErrorId
        == "Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand"
    )
    assert engine.ok("(Get-PSDrive -Name WSMan).Provider") == ["Microsoft.WSMan.Management\\WSMan"]


def test_concurrent_runspaces_share_one_machine(machine: Machine) -> None:
    """Pipelines of different runspaces run in worker threads; the model stays consistent."""
    import threading

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            engine = Engine(machine)
            for _ in range(15):
                engine.ok("Stop-Service W32Time; Start-Service W32Time")
                engine.ok(f"Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb -Value {500 + n}")
                engine.ok("(Get-ChildItem WSMan:\\localhost\\Listener).Count")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert machine.services["W32Time"].status == "Running"
    assert 500 <= machine.wsman.max_envelope_size_kb <= 505


def test_get_module_lists_the_modules_imported_in_this_runspace(machine: Machine) -> None:
    """about_Modules: Get-Module gets the imported modules, -ListAvailable the installed ones;
    each runspace has its own."""
    first, second = Engine(machine), Engine(machine)
    assert first.ok("@(Get-Module -Name NetSecurity).Count") == [0]
    first.ok("Import-Module NetSecurity")
    assert first.ok("(Get-Module -Name NetSecurity).Name") == ["NetSecurity"]
    assert second.ok("@(Get-Module -Name NetSecurity).Count") == [0]
    assert second.ok("(Get-Module -ListAvailable -Name NetSecurity).Name") == ["NetSecurity"]


def test_remove_variable_scopes_and_missing_names(engine: Engine) -> None:
    """Remove-Variable (learn.microsoft.com/powershell/module/microsoft.powershell.utility/remove-variable);
    a missing name is a non-terminating error with SessionStateStrings.VariableNotFound's text."""
    assert engine.ok(
        "$global:g = 1; Remove-Variable -Name @('g', 'missing') -Scope Global -ErrorAction SilentlyContinue\n"
        "$null -eq $global:g; $Error.Count"
    ) == [True, 1]
    result = engine.script("$x = 1; Remove-Variable x; Remove-Variable x; 'after'")
    assert result.failure is None and result.output == ["after"]
    (error,) = result.errors
    assert str(error.Exception.Message) == "Cannot find a variable with the name 'x'."
    assert error.CategoryInfo.Category == ErrorCategory.ObjectNotFound


def test_push_and_pop_location_with_named_stacks(engine: Engine) -> None:
    """Push-Location/Pop-Location (about_Locations; SessionStateLocationAPIs): a named stack keeps
    its own locations; an empty default stack pops nothing; an unknown stack name is an error
    with SessionStateStrings.StackNotFound's text."""
    assert engine.ok(
        "Push-Location -LiteralPath C:\\Windows -StackName S; (Get-Location).Path\n"
        "Push-Location C:\\Windows\\System32; (Get-Location).Path\n"
        "Pop-Location -StackName S; (Get-Location).Path\n"
        "Pop-Location; (Get-Location).Path; Pop-Location; (Get-Location).Path"
    ) == ["C:\\Windows", "C:\\Windows\\System32", "C:\\Users\\Administrator", "C:\\Windows", "C:\\Windows"]
    missing = engine.script("Pop-Location -StackName nope; 'after'")
    assert missing.failure is not None and missing.output == []
    assert str(missing.failure.Exception.Message) == (
        "Cannot find location stack 'nope'. It does not exist or it is not a container."
    )
    bad = engine.script("Push-Location C:\\NoSuchDir; 'after'")
    assert bad.failure is not None and "Cannot find path" in str(bad.failure.Exception.Message)


def test_get_variable_lists_and_matches_wildcards(engine: Engine) -> None:
    """Get-Variable (learn.microsoft.com .../microsoft.powershell.utility/get-variable): without
    -Name it lists the visible variables sorted by name; -Name takes wildcards; a plain name that
    matches nothing is an ObjectNotFound error."""
    result = engine.script(
        "$zeta = 1; $alpha = 2; $alphabet = 3\n"
        "$all = Get-Variable; $all.Count -gt 3; ($all | Where-Object Name -eq zeta).Value\n"
        "(Get-Variable alpha*).Name\n"
        "$names = $all.Name; ($names -join ',') -eq (($names | Sort-Object) -join ',')\n"
        "Get-Variable -Name nope"
    )
    assert result.output == [True, 1, "alpha", "alphabet", True]
    [error] = result.errors
    assert str(error.Exception.Message) == "Cannot find a variable with the name 'nope'."
    assert error.FullyQualifiedErrorId == "VariableNotFound,Microsoft.PowerShell.Commands.GetVariableCommand"
