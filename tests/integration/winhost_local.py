"""Run a PowerShell script on a winhost machine as a local console would (no WinRM in between).

For scripts that run on the host itself: the role's bootstrap script runs from a GPO startup
script, cloud-init user data or psexec, also when WinRM is stopped. The script goes through the
same engine that answers PSRP pipelines; every stream is recorded, and the WinRM service's state
changes are watched so a test can tell whether the script restarted it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from psrpcore import Command
from psrpcore.types import ErrorRecord

from winhost.engine.errors import PSRuntimeError
from winhost.engine.hosts import RecordingHost
from winhost.engine.model import TOPIC_SERVICES, Machine
from winhost.engine.runspace import Runspace


class LocalHost(RecordingHost):
    """A PipelineHost that records every stream (the engine's own RecordingHost); a script that
    asks for input fails the test (nobody sits at a startup script's console)."""

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        raise AssertionError(f"the script asked for input: {prompt!r}")


@dataclasses.dataclass
class LocalRun:
    host: LocalHost
    failure: ErrorRecord | None
    winrm_states: list[str]  # WinRM's status before the run, then after each service change

    @property
    def output(self) -> list[Any]:
        return self.host.output

    @property
    def lines(self) -> list[str]:
        return [str(o) for o in self.host.output]

    @property
    def changes(self) -> list[str]:
        return [line for line in self.lines if line.startswith("changed: ")]

    @property
    def winrm_restarted(self) -> bool:
        """WinRM was running, went down and came up again during the run."""
        states = self.winrm_states
        stops = [i for i in range(1, len(states)) if states[i - 1] == "Running" and states[i] == "Stopped"]
        return any("Running" in states[i:] for i in stops)

    def failure_text(self) -> str:
        if self.failure is None:
            return ""
        position = getattr(self.failure.InvocationInfo, "PositionMessage", "") or ""
        return f"{self.failure.Exception.Message}\n{position}"


def run_local(
    machine: Machine,
    script: str,
    parameters: dict[str, Any] | None = None,
    *,
    input: Iterable[Any] | None = None,
    user: str = "Administrator",
    runspace: Runspace | None = None,
) -> LocalRun:
    """Run ``script`` on ``machine`` (in ``runspace``, else a new one) and record what happened."""
    states: list[str] = [machine.services["WinRM"].status] if "WinRM" in machine.services else []

    def watch(topic: str) -> None:
        if topic == TOPIC_SERVICES and "WinRM" in machine.services:
            states.append(machine.services["WinRM"].status)

    unsubscribe = machine.subscribe(watch)
    runspace = runspace or Runspace(machine, user, "Microsoft.PowerShell")
    command = Command(script, is_script=True)
    for name, value in (parameters or {}).items():
        command.add_parameter(name, value)
    host = LocalHost()
    failure = None
    try:
        runspace.invoke([command], input, host)
    except PSRuntimeError as exc:
        failure = exc.record
    finally:
        unsubscribe()
    return LocalRun(host, failure, states)
