"""A tiny stand-in for ``winhost.engine.runspace.Runspace`` used by the WSMan tests.

It understands just enough to exercise every PSRP stream: a script's text is written back as
output, and a handful of cmdlet names map to PipelineHost calls. It is not an engine and does not
pretend to evaluate PowerShell.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.wsman.psrp import error_record


class StandInRunspace:
    def __init__(self, user: str = "", configuration_name: str = "Microsoft.PowerShell") -> None:
        self.user = user
        self.configuration_name = configuration_name
        self.invocations = 0
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1
        self.invocations = 0

    def invoke(self, commands: list[Any], input: Iterable[Any] | None, host: Any) -> None:
        self.invocations += 1
        pipeline_input = list(input or [])
        for cmd in commands:
            args = [value for name, value in cmd.parameters if name is None]
            named = {name: value for name, value in cmd.parameters if name is not None}
            if cmd.is_script:
                host.write_output(cmd.command_text)
                continue
            command = _COMMANDS.get(cmd.command_text)
            if command is None:
                host.write_error(
                    error_record(
                        f"The term '{cmd.command_text}' is not recognized by the stand-in runspace.",
                        "CommandNotFoundException",
                        ErrorCategory.ObjectNotFound,
                    )
                )
                continue
            command(_Call(self, host, args, named, pipeline_input))


@dataclasses.dataclass
class _Call:
    runspace: StandInRunspace
    host: Any
    args: list[Any]
    named: dict[str, Any]
    input: list[Any]


def _sleep(call: _Call) -> None:
    end = time.monotonic() + float(call.args[0])
    while time.monotonic() < end:
        if call.host.stop_requested.wait(0.01):
            raise RuntimeError("stopped")


def _throw(call: _Call) -> None:
    raise RuntimeError(str(call.args[0]))


def _write_error(call: _Call) -> None:
    call.host.write_error(
        error_record(
            str(call.args[0]),
            "Microsoft.PowerShell.Commands.WriteErrorException",
            ErrorCategory.NotSpecified,
            "Microsoft.PowerShell.Commands.WriteErrorException",
        )
    )


def _write_progress(call: _Call) -> None:
    status, percent = str(call.named.get("Status", "")), int(call.named.get("PercentComplete", -1))
    call.host.write_progress(str(call.args[0]), status, percent)


def _write_output(call: _Call) -> None:
    for value in call.args or call.input:
        call.host.write_output(value)


def _echo_input(call: _Call) -> None:
    for value in call.input:
        call.host.write_output(value)


#: Command name -> what it does with the host (one PipelineHost call each).
_COMMANDS: dict[str, Callable[[_Call], None]] = {
    "Write-Output": _write_output,
    "Echo-Input": _echo_input,
    "Write-Error": _write_error,
    "Write-Warning": lambda call: call.host.write_warning(str(call.args[0])),
    "Write-Verbose": lambda call: call.host.write_verbose(str(call.args[0])),
    "Write-Debug": lambda call: call.host.write_debug(str(call.args[0])),
    "Write-Information": lambda call: call.host.write_information(call.args[0], "Write-Information", ["tag"]),
    "Write-Progress": _write_progress,
    "Write-Host": lambda call: call.host.write_host(str(call.args[0])),
    "Read-Host": lambda call: call.host.write_output(
        call.host.read_line(str(call.args[0]) if call.args else "")
    ),
    "Exit": lambda call: call.host.set_should_exit(int(call.args[0])),
    "Start-Sleep": _sleep,
    "Throw": _throw,
    "Get-Invocations": lambda call: call.host.write_output(call.runspace.invocations),
}
