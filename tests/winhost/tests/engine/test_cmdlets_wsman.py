"""The WSMan: drive, WSManInstance cmdlets, Group Policy locks and CredSSP.

about_WSMan_Provider:
https://learn.microsoft.com/en-us/powershell/module/microsoft.wsman.management/about/about_wsman_provider
New-WSManInstance: https://learn.microsoft.com/en-us/powershell/module/microsoft.wsman.management/new-wsmaninstance
WinRM policies: https://learn.microsoft.com/en-us/windows/client-management/mdm/policy-csp-remotemanagement
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from psrpcore.types import ErrorCategory

from winhost.engine.model import Machine

from .helpers import Engine


def test_leaf_item_shape(run: Callable[[str], list[Any]]) -> None:
    (leaf,) = run("Get-Item -Path WSMan:\\localhost\\Service\\Auth\\Basic")
    assert leaf.PSObject.type_names[0] == "Microsoft.WSMan.Management.WSManConfigLeafElement"
    assert leaf.Name == "Basic"
    assert leaf.Value == "false"  # WSMan values are strings
    assert leaf.TypeNameOfElement == "System.String"
    assert leaf.SourceOfValue == ""
    assert leaf.WSManConfig == "Microsoft.WSMan.Management\\WSMan::localhost\\Service\\Auth"
    assert leaf.PSPath == "Microsoft.WSMan.Management\\WSMan::localhost\\Service\\Auth\\Basic"


def test_documented_defaults_readable_from_drive(run: Callable[[str], list[Any]]) -> None:
    values = run(
        "(Get-Item WSMan:\\localhost\\MaxEnvelopeSizekb).Value; (Get-Item WSMan:\\localhost\\Shell\\MaxShellsPerUser).Value;"
        " (Get-Item WSMan:\\localhost\\Service\\MaxConcurrentOperationsPerUser).Value;"
        " (Get-Item WSMan:\\localhost\\Shell\\IdleTimeout).Value;"
        " (Get-Item WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel).Value;"
        " (Get-Item WSMan:\\localhost\\Service\\AllowUnencrypted).Value"
    )
    assert values == ["500", "30", "1500", "7200000", "Relaxed", "false"]


def test_child_items_of_auth(run: Callable[[str], list[Any]]) -> None:
    names = run("Get-ChildItem WSMan:\\localhost\\Service\\Auth | ForEach-Object Name")
    assert names == ["Basic", "Kerberos", "Negotiate", "Certificate", "CredSSP", "CbtHardeningLevel"]


def test_set_item_changes_model(engine: Engine, machine: Machine) -> None:
    engine.ok("Set-Item WSMan:\\localhost\\Service\\Auth\\Basic -Value $true")
    engine.ok("Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb -Value 2048")
    engine.ok("Set-Item WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel -Value strict")
    engine.ok("Set-Item WSMan:\\localhost\\Client\\TrustedHosts -Value '*' -Force")
    assert machine.wsman.service.auth.basic is True
    assert machine.wsman.max_envelope_size_kb == 2048
    assert machine.wsman.service.cbt_hardening_level == "Strict"
    assert machine.wsman.client.trusted_hosts == "*"


def test_set_item_rejects_bad_values(engine: Engine, machine: Machine) -> None:
    assert engine.script("Set-Item WSMan:\\localhost\\Service\\Auth\\Basic -Value maybe").failure is not None
    assert engine.script("Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb -Value 8").failure is not None
    assert machine.wsman.max_envelope_size_kb == 500


def test_group_policy_locks_setting(engine: Engine, machine: Machine) -> None:
    engine.ok(
        "New-Item -Path HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service -Force | Out-Null\n"
        "New-ItemProperty -Path HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service -Name AllowBasic"
        " -Value 1 -PropertyType DWord | Out-Null"
    )
    # The policy is effective at once and shows GPO as its source.
    assert machine.wsman.service.auth.basic is True
    (leaf,) = engine.ok("Get-Item WSMan:\\localhost\\Service\\Auth\\Basic")
    assert (leaf.Value, leaf.SourceOfValue) == ("true", "GPO")
    result = engine.script("Set-Item WSMan:\\localhost\\Service\\Auth\\Basic -Value $false")
    assert result.failure is not None
    message = str(result.failure.Exception.Message)
    assert message.startswith("The config setting Basic cannot be changed because is controlled by policies.")
    assert result.failure.FullyQualifiedErrorId.endswith(",Microsoft.PowerShell.Commands.SetItemCommand")
    assert machine.wsman.service.auth.basic is True


def test_listener_drive_and_new_item_https(engine: Engine, machine: Machine) -> None:
    (listener,) = engine.ok("Get-ChildItem WSMan:\\localhost\\Listener")
    assert listener.Keys == ["Transport=HTTP", "Address=*"]
    assert listener.Name.startswith("Listener_")
    engine.ok(
        "$cert = New-SelfSignedCertificate -DnsName winhost -CertStoreLocation Cert:\\LocalMachine\\My\n"
        "New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS -Address * -CertificateThumbPrint "
        "$cert.Thumbprint -Force | Out-Null"
    )
    https = machine.wsman.find_listener("*", "HTTPS")
    assert https is not None
    assert https.port == 5986
    assert https.certificate_thumbprint in machine.cert_store
    port = engine.ok(f"(Get-Item WSMan:\\localhost\\Listener\\{https.name}\\Port).Value")
    assert port == ["5986"]


def test_https_listener_needs_known_certificate(engine: Engine, machine: Machine) -> None:
    result = engine.script(
        "New-WSManInstance -ResourceURI winrm/config/Listener -SelectorSet @{Address='*'; Transport='HTTPS'}"
        " -ValueSet @{CertificateThumbprint='00112233445566778899AABBCCDDEEFF00112233'}"
    )
    assert result.failure is not None
    assert "cannot find the certificate" in str(result.failure.Exception.Message)
    assert machine.wsman.find_listener("*", "HTTPS") is None


def test_wsman_instance_listener_lifecycle(engine: Engine, machine: Machine) -> None:
    engine.ok(
        "$c = New-SelfSignedCertificate -DnsName h\n"
        "New-WSManInstance -ResourceURI winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTPS'}"
        " -ValueSet @{Hostname='h'; CertificateThumbprint=$c.Thumbprint; Port='15986'} | Out-Null"
    )
    (xml,) = engine.ok(
        "Get-WSManInstance -ResourceURI winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTPS'}"
    )
    assert xml.PSObject.type_names[0] == "System.Xml.XmlElement"
    assert (xml.Transport, xml.Port, xml.Hostname, xml.Enabled) == ("HTTPS", "15986", "h", "true")
    duplicate = engine.script(
        "New-WSManInstance winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTP'}"
    )
    assert duplicate.failure is not None
    assert "already exists" in str(duplicate.failure.Exception.Message)
    assert len(engine.ok("Get-WSManInstance winrm/config/Listener -Enumerate")) == 2
    engine.ok(
        "Set-WSManInstance winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTPS'} -ValueSet @{Enabled='false'}"
        " | Out-Null"
    )
    https = machine.wsman.find_listener("*", "HTTPS")
    assert https is not None
    assert https.enabled is False
    engine.ok("Remove-WSManInstance winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTPS'}")
    assert machine.wsman.find_listener("*", "HTTPS") is None


def test_wsman_instance_service_auth(engine: Engine, machine: Machine) -> None:
    (auth,) = engine.ok("Get-WSManInstance -ResourceURI winrm/config/service/auth")
    assert (auth.Basic, auth.Kerberos, auth.CbtHardeningLevel) == ("false", "true", "Relaxed")
    engine.ok(
        "Set-WSManInstance -ResourceURI winrm/config/service/auth -ValueSet @{Certificate='true'} | Out-Null"
    )
    assert machine.wsman.service.auth.certificate is True


def test_credssp_server_role(engine: Engine, machine: Machine) -> None:
    engine.ok("Enable-WSManCredSSP -Role Server -Force | Out-Null")
    assert machine.wsman.service.auth.credssp is True
    assert engine.ok("(Get-WSManCredSSP)[1]") == [
        "This computer is configured to receive credentials from a remote client computer."
    ]
    engine.ok("Disable-WSManCredSSP -Role Server")
    assert machine.wsman.service.auth.credssp is False


def test_wildcards_in_the_middle_of_a_path(run: Callable[[str], list[Any]]) -> None:
    assert run("(Get-Item WSMan:\\localhost\\Listener\\*\\Port).Value") == ["5985"]
    assert run("(Get-Item WSMan:\\localhost\\Serv*\\Auth\\Basic).Value") == ["false"]


def _settable_leaves() -> list[tuple[str, str]]:
    from winhost.engine.cmdlets.wsman_drive import TREE

    out = []
    for container, leaves in TREE.items():
        for leaf in leaves:
            if leaf.attr:
                path = "WSMan:\\localhost" + ("\\" + container if container else "") + "\\" + leaf.name
                out.append((path, leaf.kind))
    return out


@pytest.mark.parametrize(("path", "kind"), _settable_leaves(), ids=[p for p, _ in _settable_leaves()])
def test_every_settable_leaf_round_trips(engine: Engine, machine: Machine, path: str, kind: str) -> None:
    (before,) = engine.ok(f"(Get-Item '{path}').Value")
    if kind == "bool":
        new = "false" if before == "true" else "true"
    elif kind == "int":
        new = str(int(before) + 1)
    elif path.endswith("CbtHardeningLevel"):
        new = "Strict"
    else:
        new = "10.0.0.1"
    topics: list[str] = []
    machine.subscribe(topics.append)
    engine.ok(f"Set-Item -Path '{path}' -Value '{new}'")
    assert engine.ok(f"(Get-Item '{path}').Value") == [new]
    assert topics == ["wsman"]


# The WSManInstance cmdlets report WinRM faults through WSManHelper.AssertError, which calls
# ThrowTerminatingError (PowerShell src/Microsoft.WSMan.Management/WsManHelper.cs, used by
# GetWSManInstanceCommand.ProcessRecord in WSManInstance.cs); about_CommonParameters: -ErrorAction
# "works only when the command generates a non-terminating error". So a missing listener stops a
# script even with -ErrorAction SilentlyContinue (the bug of the role's bootstrap script, issue 23).
MISSING_HTTPS = "winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTPS'}"


@pytest.mark.parametrize("action", ["SilentlyContinue", "Ignore", "Continue"])
def test_missing_listener_is_terminating_whatever_the_error_action(engine: Engine, action: str) -> None:
    result = engine.script(f"Get-WSManInstance {MISSING_HTTPS} -ErrorAction {action}; 'after'")
    assert result.failure is not None, "the error must end the script"
    assert result.output == []
    assert result.failure.CategoryInfo.Category == ErrorCategory.InvalidOperation
    assert str(result.failure.FullyQualifiedErrorId).startswith("WsManError")
    message = str(result.failure.Exception.Message)
    assert message.startswith("<f:WSManFault ") and 'Code="2150858752"' in message
    assert "cannot find the resource identified by the resource URI and selectors" in message


def test_missing_listener_is_caught_by_try_catch(engine: Engine) -> None:
    assert engine.ok(
        f"try {{ Get-WSManInstance {MISSING_HTTPS} }} catch {{ 'caught ' + $_.CategoryInfo.Category }}"
    ) == ["caught InvalidOperation"]


@pytest.mark.parametrize("verb", ["Set", "Remove"])
def test_set_and_remove_of_a_missing_listener_are_terminating(engine: Engine, verb: str) -> None:
    values = " -ValueSet @{Enabled='false'}" if verb == "Set" else ""
    result = engine.script(
        f"{verb}-WSManInstance {MISSING_HTTPS}{values} -ErrorAction SilentlyContinue; 'after'"
    )
    assert result.failure is not None and result.output == []


def test_enumerate_without_a_match_is_not_an_error(engine: Engine) -> None:
    script = (
        "@(Get-WSManInstance winrm/config/Listener -Enumerate | "
        "Where-Object { $_.Transport -eq 'HTTPS' }).Count"
    )
    assert engine.ok(script) == [0]


def test_drive_below_localhost_needs_the_winrm_service(engine: Engine, machine: Machine) -> None:
    """The WSMan: provider reads below ``localhost`` from the local WinRM service; while it is
    stopped the WSMan client fails with WSManFault 0x80338012 (the text ``winrm get
    winrm/config`` prints), which WSManHelper.AssertError throws as a terminating "WsManError".
    The drive's root still lists ``localhost``."""
    machine.set_service_status("WinRM", "Stopped")
    try:
        assert engine.ok("(Get-ChildItem WSMan:\\).Name") == ["localhost"]
        for script in ("Get-ChildItem WSMan:\\localhost", "Get-Item WSMan:\\localhost\\MaxEnvelopeSizekb"):
            failure = engine.script(script).failure
            assert failure is not None, script
            assert str(failure.Exception.Message).startswith(
                "The client cannot connect to the destination specified in the request. Verify that the service "
                "on the destination is running and is accepting requests."
            )
            assert str(failure.Exception.Message).endswith(
                "run the following command on the destination to "
                'analyze and configure the WinRM service: "winrm quickconfig".'
            )
            assert failure.FullyQualifiedErrorId.startswith("WsManError,")
            assert failure.CategoryInfo.Category == ErrorCategory.InvalidOperation
    finally:
        machine.set_service_status("WinRM", "Running")
    assert engine.ok("(Get-Item WSMan:\\localhost\\MaxEnvelopeSizekb).Value") == ["500"]
