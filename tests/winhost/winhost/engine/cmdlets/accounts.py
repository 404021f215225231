"""Local accounts (Microsoft.PowerShell.LocalAccounts) over ``machine.accounts``.

Get/New/Remove/Enable/Disable-LocalUser, Get-LocalGroup, Get/Add/Remove-LocalGroupMember.
Objects follow https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/get-localuser
(Microsoft.PowerShell.Commands.LocalUser: Name, Enabled, FullName, Description, SID, PrincipalSource,
ObjectClass) and .../get-localgroupmember (Microsoft.PowerShell.Commands.LocalPrincipal with
Name as COMPUTER\\user). Account changes notify TOPIC_ACCOUNTS: the transport authenticates
against these accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.model import TOPIC_ACCOUNTS, Account, Machine
from winhost.engine.values import like, new_object, to_string
from winhost.engine.wildcards import select_by_wildcard

MODULE = "Microsoft.PowerShell.LocalAccounts"
BUILTIN_GROUPS = {
    "Administrators": (
        "S-1-5-32-544",
        "Administrators have complete and unrestricted access to the computer/domain",
    ),
    "Users": (
        "S-1-5-32-545",
        "Users are prevented from making accidental or intentional system-wide changes",
    ),
    "Remote Management Users": (
        "S-1-5-32-580",
        "Members of this group can access WMI resources over management protocols (such as WS-Management "
        "via the Windows Remote Management service).",
    ),
    "Remote Desktop Users": ("S-1-5-32-555", "Members in this group are granted the right to logon remotely"),
}


def account_sid(machine: Machine, account: Account) -> str:
    """The account's SID: the model's, or a RID from 1000 in name order."""
    if account.sid:
        return account.sid
    rid = 1000 + sorted(a.name.lower() for a in machine.accounts.values()).index(account.name.lower())
    return f"S-1-5-21-1004336348-1177238915-682003330-{rid}"


def user_object(machine: Machine, account: Account) -> Any:
    return new_object(
        [
            "Microsoft.PowerShell.Commands.LocalUser",
            "Microsoft.PowerShell.Commands.LocalPrincipal",
            "System.Object",
        ],
        {
            "AccountExpires": None,
            "Description": "Built-in account for administering the computer/domain"
            if account.name.lower() == "administrator"
            else "",
            "Enabled": account.enabled,
            "FullName": account.full_name,
            "PasswordChangeableDate": None,
            "PasswordExpires": None,
            "UserMayChangePassword": True,
            "PasswordRequired": True,
            "PasswordLastSet": None,
            "LastLogon": None,
            "Name": account.name,
            "SID": account_sid(machine, account),
            "PrincipalSource": "Local",
            "ObjectClass": "User",
        },
        to_string_value=account.name,
    )


def _find_users(call: CommandCall, names: list[str] | None) -> list[Account]:
    machine = call.ctx.machine
    with machine.lock:
        accounts = sorted(machine.accounts.values(), key=lambda a: a.name.lower())
    if names is None:
        return accounts

    def not_found(pattern: str) -> None:
        call.error(
            f"User {pattern} was not found.",
            "UserNotFound",
            ErrorCategory.ObjectNotFound,
            target=pattern,
            exception_type="Microsoft.PowerShell.Commands.UserNotFoundException",
        )

    return list(select_by_wildcard(accounts, names, lambda a: a.name, not_found, unique=True))


def _password_text(value: Any) -> str:
    for attr in ("decrypt", "Decrypt"):
        fn = getattr(value, attr, None)
        if callable(fn):
            return to_string(fn())
    return to_string(value)


@cmdlet("Get-LocalUser", [Param("Name", position=0), Param("SID"), Param("InputObject")], module=MODULE)
def get_local_user(call: CommandCall) -> Iterator[Any]:
    yield from (user_object(call.ctx.machine, a) for a in _find_users(call, call.strings("Name")))


@cmdlet(
    "New-LocalUser",
    [
        Param("Name", position=0),
        Param("Password"),
        Param("NoPassword", switch=True),
        Param("FullName"),
        Param("Description"),
        Param("Disabled", switch=True),
        Param("PasswordNeverExpires", switch=True),
        Param("AccountNeverExpires", switch=True),
        Param("UserMayNotChangePassword", switch=True),
    ],
    module=MODULE,
)
def new_local_user(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    name = call.string("Name") or ""
    with machine.lock:
        if name in machine.accounts:
            raise call.fail(
                f"User {name} already exists.",
                "UserExists",
                ErrorCategory.ResourceExists,
                target=name,
                exception_type="Microsoft.PowerShell.Commands.UserExistsException",
            )
        password = "" if call.switch("NoPassword") else _password_text(call.get("Password"))
        account = Account(
            name,
            password,
            groups=["Users"],
            enabled=not call.switch("Disabled"),
            full_name=call.string("FullName") or "",
        )
        machine.accounts[name] = account
    machine.notify(TOPIC_ACCOUNTS)
    yield user_object(machine, account)


@cmdlet("Remove-LocalUser", [Param("Name", position=0), Param("InputObject")], module=MODULE)
def remove_local_user(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    names = call.strings("Name") or [to_string(getattr(o, "Name", o)) for o in call.input()]
    for account in _find_users(call, names):
        with machine.lock:
            del machine.accounts[account.name]
    machine.notify(TOPIC_ACCOUNTS)
    return iter(())


def _set_enabled(call: CommandCall, enabled: bool) -> Iterator[Any]:
    machine = call.ctx.machine
    names = call.strings("Name") or [to_string(getattr(o, "Name", o)) for o in call.input()]
    for account in _find_users(call, names):
        with machine.lock:
            account.enabled = enabled
    machine.notify(TOPIC_ACCOUNTS)
    return iter(())


@cmdlet("Enable-LocalUser", [Param("Name", position=0), Param("InputObject")], module=MODULE)
def enable_local_user(call: CommandCall) -> Iterator[Any]:
    return _set_enabled(call, True)


@cmdlet("Disable-LocalUser", [Param("Name", position=0), Param("InputObject")], module=MODULE)
def disable_local_user(call: CommandCall) -> Iterator[Any]:
    return _set_enabled(call, False)


@cmdlet(
    "Set-LocalUser",
    [
        Param("Name", position=0),
        Param("Password"),
        Param("FullName"),
        Param("Description"),
        Param("InputObject"),
    ],
    module=MODULE,
)
def set_local_user(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    for account in _find_users(call, call.strings("Name")):
        with machine.lock:
            if call.has("Password"):
                account.password = _password_text(call.get("Password"))
            if call.has("FullName"):
                account.full_name = call.string("FullName") or ""
    machine.notify(TOPIC_ACCOUNTS)
    return iter(())


def _group_name(call: CommandCall, name: str) -> str:
    for group in BUILTIN_GROUPS:
        if group.lower() == name.lower():
            return group
    raise call.fail(
        f"Group {name} was not found.",
        "GroupNotFound",
        ErrorCategory.ObjectNotFound,
        target=name,
        exception_type="Microsoft.PowerShell.Commands.GroupNotFoundException",
    )


@cmdlet("Get-LocalGroup", [Param("Name", position=0)], module=MODULE)
def get_local_group(call: CommandCall) -> Iterator[Any]:
    patterns = call.strings("Name") or ["*"]
    for group, (sid, description) in BUILTIN_GROUPS.items():
        if any(like(group, p) for p in patterns):
            yield new_object(
                [
                    "Microsoft.PowerShell.Commands.LocalGroup",
                    "Microsoft.PowerShell.Commands.LocalPrincipal",
                    "System.Object",
                ],
                {
                    "Description": description,
                    "Name": group,
                    "SID": sid,
                    "PrincipalSource": "Local",
                    "ObjectClass": "Group",
                },
                to_string_value=group,
            )


@cmdlet(
    "Get-LocalGroupMember",
    [Param("Group", position=0, aliases=("Name",)), Param("Member", position=1)],
    module=MODULE,
)
def get_local_group_member(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    group = _group_name(call, call.string("Group") or "")
    with machine.lock:
        members = [a for a in machine.accounts.values() if any(g.lower() == group.lower() for g in a.groups)]
    for account in sorted(members, key=lambda a: a.name.lower()):
        if call.has("Member") and not like(account.name, call.string("Member") or ""):
            continue
        yield new_object(
            ["Microsoft.PowerShell.Commands.LocalPrincipal", "System.Object"],
            {
                "Name": f"{machine.computer_name}\\{account.name}",
                "SID": account_sid(machine, account),
                "PrincipalSource": "Local",
                "ObjectClass": "User",
            },
            to_string_value=f"{machine.computer_name}\\{account.name}",
        )


def _members(call: CommandCall) -> list[Account]:
    machine = call.ctx.machine
    names = (
        [to_string(getattr(m, "Name", m)).split("\\")[-1] for m in (call.get("Member") or [])]
        if isinstance(call.get("Member"), list)
        else [to_string(getattr(call.get("Member"), "Name", call.get("Member"))).split("\\")[-1]]
    )
    out = []
    for name in names:
        if name not in machine.accounts:
            raise call.fail(
                f"Principal {name} was not found.",
                "PrincipalNotFound",
                ErrorCategory.ObjectNotFound,
                target=name,
                exception_type="Microsoft.PowerShell.Commands.PrincipalNotFoundException",
            )
        out.append(machine.accounts[name])
    return out


@cmdlet(
    "Add-LocalGroupMember",
    [Param("Group", position=0, aliases=("Name",)), Param("Member", position=1)],
    module=MODULE,
)
def add_local_group_member(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    group = _group_name(call, call.string("Group") or "")
    for account in _members(call):
        if any(g.lower() == group.lower() for g in account.groups):
            call.error(
                f"{machine.computer_name}\\{account.name} is already a member of group {group}.",
                "MemberExists",
                ErrorCategory.ResourceExists,
                target=group,
                exception_type="Microsoft.PowerShell.Commands.MemberExistsException",
            )
            continue
        with machine.lock:
            account.groups.append(group)
    machine.notify(TOPIC_ACCOUNTS)
    return iter(())


@cmdlet(
    "Remove-LocalGroupMember",
    [Param("Group", position=0, aliases=("Name",)), Param("Member", position=1)],
    module=MODULE,
)
def remove_local_group_member(call: CommandCall) -> Iterator[Any]:
    machine = call.ctx.machine
    group = _group_name(call, call.string("Group") or "")
    for account in _members(call):
        with machine.lock:
            account.groups = [g for g in account.groups if g.lower() != group.lower()]
    machine.notify(TOPIC_ACCOUNTS)
    return iter(())
