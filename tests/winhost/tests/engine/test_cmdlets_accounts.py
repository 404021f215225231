"""Local accounts: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/"""

from __future__ import annotations

from winhost.engine.model import TOPIC_ACCOUNTS, Machine

from .helpers import Engine


def test_get_local_user(engine: Engine) -> None:
    (admin,) = engine.ok("Get-LocalUser -Name Administrator")
    assert admin.PSObject.type_names[0] == "Microsoft.PowerShell.Commands.LocalUser"
    assert (admin.Name, admin.Enabled, admin.ObjectClass) == ("Administrator", True, "User")
    assert admin.SID.endswith("-500")
    (err,) = engine.script("Get-LocalUser -Name ghost").errors
    assert err.FullyQualifiedErrorId == "UserNotFound,Microsoft.PowerShell.Commands.GetLocalUserCommand"


def test_user_lifecycle_notifies_transport(engine: Engine, machine: Machine) -> None:
    topics: list[str] = []
    machine.subscribe(topics.append)
    engine.ok("New-LocalUser -Name ansible -Password 'S3cret!' -FullName 'Ansible' | Out-Null")
    assert machine.accounts["ansible"].password == "S3cret!"
    engine.ok("Add-LocalGroupMember -Group 'Remote Management Users' -Member ansible")
    assert engine.ok("(Get-LocalGroupMember -Group 'Remote Management Users').Name") == ["WINHOST\\ansible"]
    engine.ok("Disable-LocalUser -Name ansible")
    assert machine.accounts["ansible"].enabled is False
    engine.ok(
        "Remove-LocalGroupMember -Group 'Remote Management Users' -Member ansible; Remove-LocalUser ansible"
    )
    assert "ansible" not in machine.accounts
    assert set(topics) == {TOPIC_ACCOUNTS}
    assert len(topics) == 5


def test_add_member_twice_is_an_error(engine: Engine) -> None:
    (err,) = engine.script("Add-LocalGroupMember -Group Administrators -Member Administrator").errors
    assert (
        err.FullyQualifiedErrorId == "MemberExists,Microsoft.PowerShell.Commands.AddLocalGroupMemberCommand"
    )
