"""Variables: reading and writing ``$name`` with its scope or drive prefix, and the automatic
and preference variables a fresh runspace has (about_Automatic_Variables,
about_Preference_Variables: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_preference_variables)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from psrpcore.types import ErrorCategory, PSVersion

from winhost.engine.context import ExecutionContext, Scope
from winhost.engine.errors import not_emulated, terminating
from winhost.engine.hostui import HostUserInterface
from winhost.engine.model import Machine
from winhost.engine.values import new_object, to_string


def ps_version_table(machine: Machine) -> dict[str, Any]:
    major, minor, build, rev = (int(x) for x in machine.ps_version.split("."))
    return {
        "PSVersion": PSVersion(major=major, minor=minor, build=build, revision=rev),
        "PSEdition": "Desktop",
        "PSCompatibleVersions": [
            PSVersion(major=1, minor=0),
            PSVersion(major=2, minor=0),
            PSVersion(major=3, minor=0),
            PSVersion(major=4, minor=0),
            PSVersion(major=5, minor=0),
            PSVersion(major=5, minor=1),
        ],
        "BuildVersion": PSVersion(major=10, minor=0, build=20348, revision=2849),
        "CLRVersion": PSVersion(major=4, minor=0, build=30319, revision=42000),
        "WSManStackVersion": PSVersion(major=3, minor=0),
        "PSRemotingProtocolVersion": PSVersion(major=2, minor=3),
        "SerializationVersion": PSVersion(major=1, minor=1, build=0, revision=1),
    }


def initial_globals(machine: Machine, user: str) -> dict[str, Any]:
    short_user = user.rsplit("\\", maxsplit=1)[-1]
    home = f"C:\\Users\\{short_user}"
    host_obj = new_object(
        [
            "System.Management.Automation.Internal.Host.InternalHost",
            "System.Management.Automation.Host.PSHost",
            "System.Object",
        ],
        {
            "Name": "ServerRemoteHost",
            "Version": PSVersion(major=1, minor=0, build=0, revision=0),
            "InstanceId": "00000000-0000-0000-0000-000000000000",
            "CurrentCulture": "en-US",
            "CurrentUICulture": "en-US",
            "UI": HostUserInterface(),
        },
        to_string_value="System.Management.Automation.Internal.Host.InternalHost",
    )
    return {
        "true": True,
        "false": False,
        "null": None,
        "Error": [],
        "ErrorActionPreference": "Continue",
        "WarningPreference": "Continue",
        "VerbosePreference": "SilentlyContinue",
        "DebugPreference": "SilentlyContinue",
        "InformationPreference": "SilentlyContinue",
        "ProgressPreference": "Continue",
        "ConfirmPreference": "High",
        "WhatIfPreference": False,
        "LASTEXITCODE": None,
        "PSVersionTable": ps_version_table(machine),
        "Host": host_obj,
        "HOME": home,
        "PID": 4242,
        "PSHOME": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
        "PSCulture": "en-US",
        "PSUICulture": "en-US",
        "ShellId": "Microsoft.PowerShell",
        "MaximumHistoryCount": 4096,
        "OFS": " ",
        "PSSessionConfigurationName": "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
        "__location": home,
        "__user": user,
    }


_NO_USING = object()
_PROVIDER_PREFIXES = ("wsman", "cert", "hklm", "hkcu", "c", "function", "alias")
_CONSTANTS = {"true": True, "false": False, "null": None}


def _using(scope: Scope, name: str) -> Any:
    """``$using:name``: the caller's variable in a local Invoke-Command, else the value the client
    sent (Invoke-Command sends them keyed by base64(UTF-16LE("$using:name")), PowerShell 5.1)."""
    found, caller = scope.lookup("__using_scope")
    if found and isinstance(caller, Scope):
        return caller.get(name)
    found, values = scope.lookup("__using_values")
    if found and isinstance(values, dict):
        key = base64.b64encode(f"$using:{name}".lower().encode("utf-16-le")).decode()
        for candidate in (key, name):
            hit = next((v for k, v in values.items() if to_string(k) == candidate), _NO_USING)
            if hit is not _NO_USING:
                return hit
    raise terminating(
        "A Using variable cannot be retrieved. A Using variable can be used only with Invoke-Command, "
        "Start-Job, or InlineScript in the script workflow. When it is used with Invoke-Command, the "
        "Using variable is valid only if the script block is invoked on a remote computer.",
        "UsingWithoutInvokeCommand",
        ErrorCategory.InvalidOperation,
        exception_type="System.Management.Automation.RuntimeException",
    )


#: ``$prefix:name`` readers (about_Scopes, about_Environment_Variables, about_Remote_Variables).
_PREFIXED_READERS: dict[str, Callable[[ExecutionContext, Scope, str], Any]] = {
    "env": lambda ctx, scope, name: ctx.env_get(name),
    "using": lambda ctx, scope, name: _using(scope, name),
    "global": lambda ctx, scope, name: scope.root().get(name),
    "script": lambda ctx, scope, name: scope.root().get(name),
    "local": lambda ctx, scope, name: scope.variables.get(name),
    "private": lambda ctx, scope, name: scope.variables.get(name),
    "variable": lambda ctx, scope, name: scope.get(name),
}


def read_variable(ctx: ExecutionContext, scope: Scope, name: str) -> Any:
    """The value of ``$name`` (``name`` may carry a scope or drive prefix: ``env:PATH``)."""
    if ":" in name:
        prefix, rest = name.split(":", 1)
        reader = _PREFIXED_READERS.get(prefix.lower())
        if reader is not None:
            return reader(ctx, scope, rest)
        if prefix.lower() in _PROVIDER_PREFIXES:
            raise not_emulated(f"provider variable paths (${prefix}:)")
    low = name.lower()
    if low == "?":
        return ctx.last_status
    if low == "pwd":
        return ctx.location
    if low in _CONSTANTS:
        return _CONSTANTS[low]
    return scope.get(name)


def write_variable(ctx: ExecutionContext, scope: Scope, name: str, value: Any) -> None:
    """``$name = value``; $null swallows, $true/$false are constants."""
    if ":" in name:
        prefix, rest = name.split(":", 1)
        low = prefix.lower()
        if low == "env":
            ctx.env_set(rest, value)
        elif low in ("global", "script"):
            scope.root().set(rest, value)
        elif low in ("local", "private"):
            scope.set(rest, value)
        else:
            raise not_emulated(f"assignment to ${prefix}: variables")
        return
    if name.lower() in _CONSTANTS:
        if name.lower() == "null":
            return
        raise terminating(
            f"Cannot overwrite variable {name} because it is read-only or constant.",
            "VariableNotWritable",
            ErrorCategory.WriteError,
        )
    scope.set(name, value)
