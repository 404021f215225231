"""winhost/engine/statics.py: static members of the emulated .NET types, as the .NET API reference
(learn.microsoft.com/dotnet/api: System.String, System.Environment, System.Math, System.Convert,
System.IO.File/Directory/Path, System.TimeSpan, System.Enum, System.Text.Encoding) describes them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from .helpers import Engine

CASES: list[tuple[str, list[Any]]] = [
    ("[string]::IsNullOrEmpty(''); [string]::IsNullOrWhiteSpace(' '); [string]::Empty", [True, True, ""]),
    ("[string]::Join(',', 'a', 'b'); [string]::Join('-', @('c', 'd'))", ["a,b", "c-d"]),
    ("[string]::Format('{0}+{1}', 1, 2); [string]::Concat('a', 'b', 'c')", ["1+2", "abc"]),
    ("[Math]::Round(2.567, 2); [Math]::Max(3, 7); [Math]::Abs(-4); [Math]::Floor(2.7)", [2.57, 7, 4, 2]),
    ("[int]::MaxValue; [int32]::MinValue", [2**31 - 1, -(2**31)]),
    ("[Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('hi'))", ["aGk="]),
    ("[Convert]::ToInt32('ff', 16); [Convert]::ToInt32('12'); [Convert]::ToBoolean(1)", [255, 12, True]),
    ("[Text.Encoding]::Unicode.GetString([Convert]::FromBase64String('aABpAA=='))", ["hi"]),
    (
        "[IO.Path]::Combine('C:\\a\\', 'b'); [IO.Path]::GetExtension('x.tar.gz'); [IO.Path]::GetFileName('C:\\d\\f.txt')",
        ["C:\\a\\b", ".gz", "f.txt"],
    ),
    ("[IO.Path]::GetDirectoryName('C:\\d\\f.txt'); [IO.Path]::DirectorySeparatorChar", ["C:\\d", "\\"]),
    (
        "[Environment]::NewLine; [Environment]::Is64BitProcess; [Environment]::MachineName",
        ["\r\n", True, "WINHOST"],
    ),
    ("[Environment]::CurrentDirectory = 'C:\\x'; [Environment]::CurrentDirectory", ["C:\\x"]),
    (
        "[regex]::Escape('a.b'); [regex]::IsMatch('abc', 'b'); [regex]::Replace('aXb', 'X', '-')",
        ["a\\.b", True, "a-b"],
    ),
    ("[TimeSpan]::FromMinutes(2).TotalSeconds", [120.0]),
    ("[BitConverter]::ToString([byte[]](1, 171))", ["01-AB"]),
]


@pytest.mark.parametrize(("script", "expected"), CASES)
def test_static_members(run: Callable[[str], list[Any]], script: str, expected: list[Any]) -> None:
    assert run(script) == expected


def test_io_file_round_trip(run: Callable[[str], list[Any]]) -> None:
    script = (
        "[IO.File]::WriteAllText('C:\\t.txt', 'one'); [IO.File]::AppendAllText('C:\\t.txt', 'two')\n"
        "[IO.File]::ReadAllText('C:\\t.txt'); [IO.File]::Exists('C:\\t.txt')\n"
        "[IO.File]::Copy('C:\\t.txt', 'C:\\u.txt'); [IO.File]::ReadAllBytes('C:\\u.txt').Count\n"
        "[IO.File]::Delete('C:\\t.txt'); [IO.File]::Exists('C:\\t.txt')\n"
        "[IO.Directory]::Exists('C:\\newdir'); $null = [IO.Directory]::CreateDirectory('C:\\newdir'); [IO.Directory]::Exists('C:\\newdir')\n"
    )
    assert run(script) == ["onetwo", True, 6, False, False, True]


def test_io_file_errors_follow_dotnet(engine: Engine) -> None:
    failure = engine.script("[IO.File]::ReadAllText('C:\\missing.txt')").failure
    assert failure is not None
    assert "Could not find file 'C:\\missing.txt'." in str(failure.Exception.Message)
    engine.ok("[IO.File]::WriteAllText('C:\\a.txt', 'x'); [IO.File]::WriteAllText('C:\\b.txt', 'y')")
    failure = engine.script("[IO.File]::Copy('C:\\a.txt', 'C:\\b.txt')").failure
    assert failure is not None
    assert "Cannot create a file when that file already exists." in str(failure.Exception.Message)
    assert engine.ok(
        "[IO.File]::Copy('C:\\a.txt', 'C:\\b.txt', $true); [IO.File]::ReadAllText('C:\\b.txt')"
    ) == ["x"]


def test_unknown_static_member_is_not_emulated(engine: Engine) -> None:
    failure = engine.script("[Math]::Tau").failure
    assert failure is not None
    assert "winhost does not emulate the static member [Math]::Tau" in str(failure.Exception.Message)


def test_datetime_now_and_enum_parse(run: Callable[[str], list[Any]]) -> None:
    (now,) = run("[DateTime]::Now")
    assert isinstance(now, datetime.datetime)
    assert [
        str(v) for v in run("[Enum]::Parse([System.ServiceProcess.ServiceControllerStatus], 'running')")
    ] == ["Running"]
