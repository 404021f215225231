"""Registry, file system, Env: and location cmdlets.

about_Registry_Provider: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_registry_provider
about_FileSystem_Provider: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_filesystem_provider
Get-FileHash: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/get-filehash
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine.model import LOCAL_ACCOUNT_TOKEN_KEY, Machine

from .helpers import Engine


def test_local_account_token_filter_policy(engine: Engine, machine: Machine) -> None:
    key = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
    result = engine.script(f"Get-ItemPropertyValue -Path {key} -Name LocalAccountTokenFilterPolicy")
    assert result.errors  # not set on a fresh install
    engine.ok(
        f"New-ItemProperty -Path {key} -Name LocalAccountTokenFilterPolicy -Value 1 -PropertyType DWord -Force"
    )
    assert machine.registry_value(LOCAL_ACCOUNT_TOKEN_KEY, "LocalAccountTokenFilterPolicy") == 1
    (props,) = engine.ok(f"Get-ItemProperty -Path {key}")
    assert props.LocalAccountTokenFilterPolicy == 1
    assert props.PSPath == (
        "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
    )
    engine.ok(f"Remove-ItemProperty -Path {key} -Name LocalAccountTokenFilterPolicy")
    assert machine.registry_value(LOCAL_ACCOUNT_TOKEN_KEY, "LocalAccountTokenFilterPolicy") is None


def test_registry_keys(engine: Engine) -> None:
    assert engine.ok("Test-Path HKLM:\\SOFTWARE\\Contoso") == [False]
    (key,) = engine.ok("New-Item -Path HKLM:\\SOFTWARE\\Contoso")
    assert key.PSObject.type_names[0] == "Microsoft.Win32.RegistryKey"
    assert key.Name == "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso"
    engine.ok("Set-ItemProperty HKLM:\\SOFTWARE\\Contoso -Name Mode -Value 'x'")
    assert engine.ok("(Get-Item HKLM:\\SOFTWARE\\Contoso).Property") == ["Mode"]
    assert "Contoso" in engine.ok("Get-ChildItem HKLM:\\SOFTWARE | ForEach-Object PSChildName")
    engine.ok("Remove-Item HKLM:\\SOFTWARE\\Contoso -Recurse")
    assert engine.ok("Test-Path HKLM:\\SOFTWARE\\Contoso") == [False]


def test_files_in_sandbox(engine: Engine, machine: Machine) -> None:
    engine.ok(
        "New-Item -Path C:\\data -ItemType Directory | Out-Null; Set-Content -Path C:\\data\\a.txt -Value 'one', 'two'"
    )
    real = Path(machine.sandbox_dir) / "data" / "a.txt"
    assert real.read_bytes() == b"one\r\ntwo\r\n"
    assert engine.ok("Get-Content C:\\DATA\\A.TXT") == ["one", "two"]  # case-insensitive like NTFS
    engine.ok("Add-Content -Path C:\\data\\a.txt -Value 'three'")
    assert engine.ok("(Get-Content C:\\data\\a.txt -Raw)") == ["one\r\ntwo\r\nthree\r\n"]
    (info,) = engine.ok("Get-Item C:\\data\\a.txt")
    assert info.PSObject.type_names[0] == "System.IO.FileInfo"
    assert (info.Name, info.FullName, info.Length, info.Extension) == ("a.txt", "C:\\data\\a.txt", 17, ".txt")
    (digest,) = engine.ok("Get-FileHash C:\\data\\a.txt")
    assert digest.Hash == hashlib.sha256(b"one\r\ntwo\r\nthree\r\n").hexdigest().upper()
    assert digest.Algorithm == "SHA256"
    engine.ok("Copy-Item C:\\data\\a.txt C:\\data\\b.txt; Move-Item C:\\data\\b.txt C:\\c.txt")
    assert engine.ok("Test-Path C:\\c.txt; Test-Path C:\\data\\b.txt") == [True, False]
    assert engine.ok("Get-ChildItem C:\\data -File | ForEach-Object Name") == ["a.txt"]
    engine.ok("Remove-Item C:\\data -Recurse")
    assert not (Path(machine.sandbox_dir) / "data").exists()


def test_missing_path_error(engine: Engine) -> None:
    (err,) = engine.script("Get-Item C:\\missing.txt").errors
    assert err.FullyQualifiedErrorId == "PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand"
    assert err.CategoryInfo.Category == ErrorCategory.ObjectNotFound
    assert str(err.Exception.Message) == "Cannot find path 'C:\\missing.txt' because it does not exist."


def test_other_drives_are_not_emulated(engine: Engine) -> None:
    result = engine.script("Get-ChildItem D:\\")
    assert result.failure is not None
    assert str(result.failure.Exception.Message).startswith("Cannot find drive")


def test_location_and_relative_paths(engine: Engine) -> None:
    engine.ok(
        "New-Item C:\\work -ItemType Directory | Out-Null; Set-Location C:\\work; Set-Content f.txt 'x'"
    )
    assert engine.ok("(Get-Location).Path; Test-Path C:\\work\\f.txt; $PWD") == ["C:\\work", True, "C:\\work"]


def test_env_drive(run: Callable[[str], list[Any]]) -> None:
    assert run("(Get-Item Env:\\COMPUTERNAME).Value") == ["WINHOST"]
    assert run("$env:WINHOST_TEST = 'v'; Test-Path Env:\\WINHOST_TEST; (Get-ChildItem Env:).Count -gt 5") == [
        True,
        True,
    ]


def test_dotnet_file_and_encoding_statics(engine: Engine, machine: Machine) -> None:
    out = engine.ok(
        "$bytes = [Text.Encoding]::UTF8.GetBytes('héllo')\n"
        "[IO.File]::WriteAllBytes('C:\\b.bin', $bytes)\n"
        "[IO.File]::Exists('C:\\b.bin'); [IO.File]::Exists('C:\\nope.bin')\n"
        "[Text.Encoding]::UTF8.GetString([IO.File]::ReadAllBytes('C:\\b.bin'))\n"
        "[Convert]::ToBase64String([IO.File]::ReadAllBytes('C:\\b.bin'))\n"
        "[IO.Directory]::Exists('C:\\Windows')"
    )
    assert out == [True, False, "héllo", "aMOpbGxv", True]
    assert (Path(machine.sandbox_dir) / "b.bin").read_bytes() == "héllo".encode()


def test_current_windows_identity(run: Callable[[str], list[Any]]) -> None:
    assert run("[Security.Principal.WindowsIdentity]::GetCurrent().Name") == ["WINHOST\\Administrator"]
