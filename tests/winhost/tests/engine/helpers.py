"""Test helpers: a recording PipelineHost and an Engine that runs scripts/commands in one runspace."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Any

from psrpcore import Command
from psrpcore.types import ErrorRecord

from winhost.engine.errors import PSRuntimeError
from winhost.engine.model import Machine
from winhost.engine.runspace import Runspace


@dataclasses.dataclass
class RecordingHost:
    """PipelineHost that records every stream."""

    stop_requested: threading.Event = dataclasses.field(default_factory=threading.Event)
    output: list[Any] = dataclasses.field(default_factory=list)
    errors: list[ErrorRecord] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    verbose: list[str] = dataclasses.field(default_factory=list)
    debug: list[str] = dataclasses.field(default_factory=list)
    information: list[Any] = dataclasses.field(default_factory=list)
    progress: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    host: list[tuple[str, bool, int | None]] = dataclasses.field(default_factory=list)
    exit_code: int | None = None
    lines_to_read: list[str] = dataclasses.field(default_factory=list)
    prompts: list[str] = dataclasses.field(default_factory=list)

    def write_output(self, value: Any) -> None:
        self.output.append(value)

    def write_error(self, record: ErrorRecord) -> None:
        self.errors.append(record)

    def write_warning(self, message: str) -> None:
        self.warnings.append(message)

    def write_verbose(self, message: str) -> None:
        self.verbose.append(message)

    def write_debug(self, message: str) -> None:
        self.debug.append(message)

    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None:
        self.information.append(data)

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        self.progress.append((activity, status, percent))

    def write_host(
        self,
        text: str,
        newline: bool = True,
        is_error: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None:
        self.host.append((text, newline, foreground))

    def set_should_exit(self, code: int) -> None:
        self.exit_code = code

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
