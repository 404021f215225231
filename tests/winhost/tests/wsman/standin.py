"""A tiny stand-in for ``winhost.engine.runspace.Runspace`` used by the WSMan tests.

It understands just enough to exercise every PSRP stream: a script's text is written back as
output, and a handful of cmdlet names map to PipelineHost calls. It is not an engine and does not
pretend to evaluate PowerShell.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
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
        for cmd in commands:
            args = [value for name, value in cmd.parameters if name is None]
            named = {name: value for name, value in cmd.parameters if name is not None}
            name = cmd.command_text
            if cmd.is_script:
                host.write_output(name)
            elif name == "Write-Output":
                for value in args or list(input or []):
                    host.write_output(value)
            elif name == "Echo-Input":
                for value in input or []:
                    host.write_output(value)
            elif name == "Write-Error":
                host.write_error(
                    error_record(
                        str(args[0]),
                        "Microsoft.PowerShell.Commands.WriteErrorException",
                        ErrorCategory.NotSpecified,
                        "Microsoft.PowerShell.Commands.WriteErrorException",
                    )
                )
            elif name == "Write-Warning":
                host.write_warning(str(args[0]))
            elif name == "Write-Verbose":
                host.write_verbose(str(args[0]))
            elif name == "Write-Debug":
                host.write_debug(str(args[0]))
            elif name == "Write-Information":
                host.write_information(args[0], "Write-Information", ["tag"])
            elif name == "Write-Progress":
                host.write_progress(
                    str(args[0]), str(named.get("Status", "")), int(named.get("PercentComplete", -1))
                )
            elif name == "Write-Host":
                host.write_host(str(args[0]))
            elif name == "Read-Host":
                host.write_output(host.read_line(str(args[0]) if args else ""))
            elif name == "Exit":
                host.set_should_exit(int(args[0]))
            elif name == "Start-Sleep":
                end = time.monotonic() + float(args[0])
                while time.monotonic() < end:
                    if host.stop_requested.wait(0.01):
                        raise RuntimeError("stopped")
            elif name == "Throw":
                raise RuntimeError(str(args[0]))
            elif name == "Get-Invocations":
                host.write_output(self.invocations)
            else:
                host.write_error(
                    error_record(
                        f"The term '{name}' is not recognized by the stand-in runspace.",
                        "CommandNotFoundException",
                        ErrorCategory.ObjectNotFound,
                    )
                )
