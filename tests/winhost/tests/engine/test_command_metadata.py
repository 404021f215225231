"""GET_COMMAND_METADATA answers (MS-PSRP 2.2.2.14; 2.2.3.21 command metadata, 2.2.3.22 count)
and the commands added for it (New-Guid/New-TemporaryFile functions, New-PSSessionOption,
New-PSSessionConfigurationFile)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from psrpcore.types import CommandTypes

from winhost.engine.values import get_property

from .helpers import Engine


def _names(objects: list[Any]) -> list[str]:
    return [get_property(o, "Name")[1] for o in objects]


def test_count_object_first_then_matching_cmdlets(engine: Engine) -> None:
    out = engine.runspace.command_metadata(["get-wsman*"], int(CommandTypes.All), None)
    count = get_property(out[0], "Count")[1]
    assert out[0].PSObject.type_names[0] == "Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo"
    assert count == len(out) - 1 >= 2
    assert _names(out[1:]) == sorted(_names(out[1:]), key=str.lower)
    assert all(n.lower().startswith("get-wsman") for n in _names(out[1:]))
    first = out[1]
    assert first.PSObject.type_names[0] == "Selected.System.Management.Automation.CmdletInfo"
    params = get_property(first, "Parameters")[1]
    verbose = params["Verbose"]
    assert get_property(verbose, "SwitchParameter")[1] is True
    assert get_property(verbose, "Aliases")[1] == ["vb"]


def test_command_type_and_namespace_filters(engine: Engine) -> None:
    functions = engine.runspace.command_metadata(["new-*"], int(CommandTypes.Function), None)
    assert _names(functions[1:]) == ["New-Guid", "New-TemporaryFile"]
    assert get_property(functions[1], "CommandType")[1] == CommandTypes.Function
    in_module = engine.runspace.command_metadata(["get-*"], 511, ["Microsoft.WSMan.Management"])
    assert set(_names(in_module[1:])) >= {"Get-WSManInstance", "Get-WSManCredSSP"}
    assert all(get_property(o, "Namespace")[1] == "Microsoft.WSMan.Management" for o in in_module[1:])
    none = engine.runspace.command_metadata(["no-such-*"], 511, None)
    assert get_property(none[0], "Count")[1] == 0 and len(none) == 1


def test_user_functions_are_listed(engine: Engine, run: Callable[[str], list[Any]]) -> None:
    run("function global:Invoke-Mine { 'x' }")
    out = engine.runspace.command_metadata(["invoke-mine"], int(CommandTypes.Function), None)
    assert _names(out[1:]) == ["Invoke-Mine"]


def test_new_guid_and_temporary_file(run: Callable[[str], list[Any]]) -> None:
    [guid] = run("New-Guid")
    assert isinstance(guid, uuid.UUID)
    [exists, name] = run("$f = New-TemporaryFile; Test-Path $f.FullName; $f.Name")
    assert exists is True and name.startswith("tmp") and name.endswith(".tmp")


def test_new_pssession_option_defaults(run: Callable[[str], list[Any]]) -> None:
    [ms, skip] = run(
        "$o = New-PSSessionOption -SkipCACheck; $o.OperationTimeout.TotalMilliseconds; $o.SkipCACheck"
    )
    assert (ms, skip) == (180000, True)
