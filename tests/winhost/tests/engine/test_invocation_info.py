"""Cmdlet error records carry InvocationInfo with the command's position, so that clients can
render Windows' error layout (``At line:2 char:3`` / the line / a ``~`` underline of the command;
System.Management.Automation.InvocationInfo: ScriptLineNumber, OffsetInLine, Line,
PositionMessage, PipelineLength, PipelinePosition, InvocationName)."""

from __future__ import annotations

from psrpcore import Command

from .helpers import Engine, RecordingHost


def _errors(engine: Engine, script: str) -> list[object]:
    host = RecordingHost()
    try:
        engine.runspace.invoke([Command(script, is_script=True)], None, host)
    except Exception as exc:  # a terminating error: its record is the failure
        return [*host.errors, exc.error_record]  # type: ignore[attr-defined]
    return list(host.errors)


def test_non_terminating_error_has_position(engine: Engine) -> None:
    [record] = _errors(engine, "$x = 1\n  Get-Service -Name nope | Select-Object Name")
    info = record.InvocationInfo  # type: ignore[attr-defined]
    assert info.ScriptLineNumber == 2
    assert info.OffsetInLine == 3
    assert info.Line == "  Get-Service -Name nope | Select-Object Name"
    assert info.PipelineLength == 2
    assert info.PipelinePosition == 1
    assert info.InvocationName == "Get-Service"
    assert info.MyCommand.Name == "Get-Service"
    assert info.PositionMessage == (
        "At line:2 char:3\r\n+   Get-Service -Name nope | Select-Object Name\r\n+   "
        + "~" * len("Get-Service -Name nope")
    )


def test_second_pipeline_position(engine: Engine) -> None:
    [record] = _errors(engine, "'nope' | Get-Service")
    info = record.InvocationInfo  # type: ignore[attr-defined]
    assert (info.PipelinePosition, info.PipelineLength, info.OffsetInLine) == (2, 2, 10)
    assert info.PositionMessage == "At line:1 char:10\r\n+ 'nope' | Get-Service\r\n+          ~~~~~~~~~~~"


def test_alias_keeps_the_typed_name(engine: Engine) -> None:
    [record] = _errors(engine, "gi C:\\does-not-exist")
    info = record.InvocationInfo  # type: ignore[attr-defined]
    assert info.InvocationName == "gi"
    assert info.MyCommand.Name == "Get-Item"


def test_terminating_cmdlet_error_has_position(engine: Engine) -> None:
    records = _errors(engine, "Get-Service -Name nope -ErrorAction Stop")
    info = records[-1].InvocationInfo  # type: ignore[attr-defined]
    assert (info.ScriptLineNumber, info.OffsetInLine) == (1, 1)
    assert info.PositionMessage.startswith("At line:1 char:1\r\n")
