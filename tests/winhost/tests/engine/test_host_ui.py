"""$Host.UI / $Host.UI.RawUI forwarded to the client's host as host calls (MS-PSRP 2.2.2.27,
method ids 2.2.3.17); RawUI reads answered from HostDefaultData (2.2.3.14), writes forwarded."""

from __future__ import annotations

from typing import Any

from psrpcore import Command
from psrpcore.types import ConsoleColor, Coordinates, HostDefaultData, Size

from .helpers import Engine, RecordingHost


class UIHost(RecordingHost):
    """A RecordingHost with the wsman runner's host_call/host_default_data extension."""

    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[Any], bool]] = []
        self.answers = answers

    def host_call(self, method: str, params: list[Any] | None = None, wait: bool = False) -> Any:
        self.calls.append((method, list(params or []), wait))
        return self.answers.get(method)

    def host_default_data(self) -> Any:
        return HostDefaultData(
            ForegroundColor=ConsoleColor.White,
            BackgroundColor=ConsoleColor.Blue,
            CursorPosition=Coordinates(X=1, Y=2),
            WindowPosition=Coordinates(X=3, Y=4),
            CursorSize=50,
            BufferSize=Size(Width=80, Height=80),
            WindowSize=Size(Width=80, Height=80),
            MaxWindowSize=Size(Width=80, Height=80),
            MaxPhysicalWindowSize=Size(Width=80, Height=80),
            WindowTitle="title",
        )


def _run(engine: Engine, script: str, host: UIHost) -> list[Any]:
    engine.runspace.invoke([Command(script, is_script=True)], None, host)
    return host.output


def test_ui_methods_become_host_calls(engine: Engine) -> None:
    host = UIHost({"ReadLine": "typed", "PromptForChoice": 1})
    script = (
        "$host.UI.ReadLine()\n"
        "$host.UI.Write('a')\n"
        "$host.UI.WriteLine([ConsoleColor]::Gray, [ConsoleColor]::Green, 'b')\n"
        "$host.UI.WriteWarningLine('careful')\n"
        "$c1 = New-Object System.Management.Automation.Host.ChoiceDescription -ArgumentList 'Yes', 'help'\n"
        "$c2 = New-Object System.Management.Automation.Host.ChoiceDescription -ArgumentList 'No'\n"
        "$host.UI.PromptForChoice('caption', 'message', @($c1, $c2), 0)\n"
    )
    assert _run(engine, script, host) == ["typed", 1]
    methods = [(m, w) for m, _, w in host.calls]
    assert methods == [
        ("ReadLine", True),
        ("Write1", False),
        ("WriteLine3", False),
        ("WriteWarningLine", False),
        ("PromptForChoice", True),
    ]
    assert host.calls[2][1] == [ConsoleColor.Gray, ConsoleColor.Green, "b"]
    assert host.warnings == ["careful"]  # the record is written to the stream too
    assert [c.Label for c in host.calls[4][1][2]] == ["Yes", "No"]


def test_raw_ui_reads_from_host_default_data_and_forwards_writes(engine: Engine) -> None:
    host = UIHost({})
    script = (
        "$host.UI.RawUI.ForegroundColor\n"
        "$host.UI.RawUI.ForegroundColor = [ConsoleColor]::Green\n"
        "$host.UI.RawUI.ForegroundColor\n"
        "$host.UI.RawUI.WindowTitle = 'new'\n"
        "$host.UI.RawUI.WindowTitle\n"
        "$host.UI.RawUI.CursorPosition = New-Object System.Management.Automation.Host.Coordinates -ArgumentList 11, 12\n"
        "$host.UI.RawUI.CursorPosition.X\n"
    )
    assert _run(engine, script, host) == [ConsoleColor.White, ConsoleColor.Green, "new", 11]
    assert [m for m, _, _ in host.calls] == ["SetForegroundColor", "SetWindowTitle", "SetCursorPosition"]


def test_buffer_cell_array(engine: Engine) -> None:
    host = UIHost({})
    script = (
        "$cell = New-Object System.Management.Automation.Host.BufferCell -ArgumentList 'A', "
        "([ConsoleColor]::Black), ([ConsoleColor]::White), ([System.Management.Automation.Host.BufferCellType]::Complete)\n"
        "$cells = New-Object -TypeName 'System.Management.Automation.Host.BufferCell[,]' -ArgumentList 2, 2\n"
        "$cells[1, 0] = $cell\n"
        "$cells[1, 0].Character\n"
        "$null -eq $cells[0, 0]\n"
        "$at = New-Object System.Management.Automation.Host.Coordinates -ArgumentList 1, 1\n"
        "$host.UI.RawUI.SetBufferContents($at, $cells)\n"
    )
    assert _run(engine, script, host) == [ord("A"), True]  # a System.Char (psrpcore PSChar)
    [(method, params, _)] = host.calls
    assert method == "SetBufferContents2"
    assert params[1].mal == [2, 2]


def test_host_without_ui_extension_is_not_emulated(engine: Engine) -> None:
    result = engine.script("$host.UI.ReadLine()")
    assert result.failure is not None
    assert "winhost does not emulate" in str(result.failure.Exception.Message)
