"""Test helpers: a recording PipelineHost and an Engine that runs scripts/commands in one runspace."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from psrpcore import Command
from psrpcore.types import ErrorRecord

from winhost.engine.errors import PSRuntimeError
from winhost.engine.hosts import RecordingHost as BaseRecordingHost
from winhost.engine.model import Machine
from winhost.engine.runspace import Runspace


class RecordingHost(BaseRecordingHost):
    """Records every stream; ``read_line`` answers from ``lines_to_read`` and records the prompts."""

    def __init__(self, lines_to_read: list[str] | None = None) -> None:
        super().__init__()
        self.lines_to_read: list[str] = list(lines_to_read or [])
        self.prompts: list[str] = []

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        self.prompts.append(prompt)
        return self.lines_to_read.pop(0)


@dataclasses.dataclass
class Result:
    host: RecordingHost
    failure: ErrorRecord | None

    @property
    def output(self) -> list[Any]:
        return self.host.output

    @property
    def errors(self) -> list[ErrorRecord]:
        return self.host.errors


class Engine:
    """Run scripts or commands against one runspace of one machine."""

    def __init__(self, machine: Machine, user: str = "Administrator") -> None:
        self.machine = machine
        self.runspace = Runspace(machine, user, "Microsoft.PowerShell")

    def script(self, text: str, *args: Any, input: Iterable[Any] | None = None, **params: Any) -> Result:
        cmd = Command(text, is_script=True)
        for a in args:
            cmd.add_argument(a)
        for k, v in params.items():
            cmd.add_parameter(k, v)
        return self.commands([cmd], input)

    def command(self, name: str, *args: Any, input: Iterable[Any] | None = None, **params: Any) -> Result:
        cmd = Command(name)
        for a in args:
            cmd.add_argument(a)
        for k, v in params.items():
            cmd.add_parameter(k, v)
        return self.commands([cmd], input)

    def commands(self, commands: list[Command], input: Iterable[Any] | None = None) -> Result:
        host = RecordingHost()
        failure = None
        try:
            self.runspace.invoke(commands, input, host)
        except PSRuntimeError as exc:
            failure = exc.record
        return Result(host, failure)

    def ok(self, text: str, **params: Any) -> list[Any]:
        """Run a script that must neither fail nor write errors; return its output."""
        result = self.script(text, **params)
        assert result.failure is None, (
            f"{text!r} failed: {result.failure and result.failure.Exception.Message}"
        )
        assert not result.errors, [str(e.Exception.Message) for e in result.errors]
        return result.output
