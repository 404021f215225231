"""Automatic and preference variables a fresh runspace has (about_Automatic_Variables,
about_Preference_Variables: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_preference_variables)."""

from __future__ import annotations

from typing import Any

from psrpcore.types import PSVersion

from winhost.engine.hostui import HostUserInterface
from winhost.engine.model import Machine
from winhost.engine.values import new_object


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
