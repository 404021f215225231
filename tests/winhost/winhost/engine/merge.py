"""Stream merging of a pipeline command (the client's MergeMyResult/MergeToResult and
MergeError/MergeWarning/MergeVerbose/MergeDebug/MergeInformation flags).

MS-PSRP 2.2.3.12 (Command) carries, per command, where its error stream goes (``MergeMyResult``
``Error`` + ``MergeToResult`` ``Output``: the protocol 2.1 form of ``2>&1``) and, from protocol
version 2.2/2.3, the target of each other stream (2.2.3.31 PipelineResultTypes: None 0, Output 1,
Null 8). A stream merged into Output leaves the command as objects in its output, in the order
the records were written (``ErrorRecord``, ``WarningRecord``, ``VerboseRecord``, ``DebugRecord``,
``InformationRecord``, as PowerShell's ``*>&1`` does); merged into Null it is discarded.
"""

from __future__ import annotations

import datetime
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from psrpcore import Command
from psrpcore.types import DebugRecord, ErrorRecord, InformationRecord, VerboseRecord, WarningRecord

from winhost.engine.context import ExecutionContext, PipelineHost
from winhost.engine.hosts import HostUIForwarder

OUTPUT = 1
NULL = 8
_STREAMS = ("error", "warning", "verbose", "debug", "information")


def merge_targets(command: Command) -> dict[str, int]:
    """Stream name -> target (1 Output, 8 Null) for the streams this command redirects."""
    targets: dict[str, int] = {}
    for stream in _STREAMS:
        value = int(getattr(command, f"merge_{stream}", 0) or 0)
        if value in (OUTPUT, NULL):
            targets[stream] = value
    if (
        "error" not in targets
        and int(command.merge_my or 0) == 2
        and int(command.merge_to or 0) in (OUTPUT, NULL)
    ):
        targets["error"] = int(command.merge_to)
    return targets


class MergingHost(HostUIForwarder):
    """A PipelineHost that diverts the merged streams into a queue and forwards the rest."""

    def __init__(self, base: PipelineHost, targets: dict[str, int], pending: deque[Any]) -> None:
        self.base = base
        self.ui_host = base
        self.targets = targets
        self.pending = pending

    @property
    def stop_requested(self) -> threading.Event:
        return self.base.stop_requested

    def _divert(self, stream: str, record: Any) -> bool:
        target = self.targets.get(stream)
        if target is None:
            return False
        if target == OUTPUT:
            self.pending.append(record)
        return True

    def write_output(self, value: Any) -> None:
        self.base.write_output(value)

    def write_error(self, record: ErrorRecord) -> None:
        if not self._divert("error", record):
            self.base.write_error(record)

    def write_warning(self, message: str) -> None:
        if not self._divert("warning", WarningRecord(Message=message)):
            self.base.write_warning(message)

    def write_verbose(self, message: str) -> None:
        if not self._divert("verbose", VerboseRecord(Message=message)):
            self.base.write_verbose(message)

    def write_debug(self, message: str) -> None:
        if not self._divert("debug", DebugRecord(Message=message)):
            self.base.write_debug(message)

    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None:
        if "information" in self.targets:
            record = InformationRecord.create(
                message_data=data,
                source=source,
                time_generated=datetime.datetime.now(datetime.timezone.utc),
                tags=tags,
            )
            self._divert("information", record)
            return
        self.base.write_information(data, source, tags)

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        self.base.write_progress(activity, status, percent)

    def __getattr__(self, name: str) -> Any:  # has_host(), has_host_ui(), exit_code, ...
        return getattr(self.base, name)


def restore_host_for(ctx: ExecutionContext, upstream: Iterator[Any], host: PipelineHost) -> Iterator[Any]:
    """Pull from the previous command with the host it was started with, so that its own
    streams are not merged into this command's output."""
    while True:
        saved = ctx.host
        ctx.host = host
        try:
            value = next(upstream)
        except StopIteration:
            return
        finally:
            ctx.host = saved
        yield value


def merged_stream(ctx: ExecutionContext, stream: Iterator[Any], targets: dict[str, int]) -> Iterator[Any]:
    """Run ``stream`` (one command) with its merged streams folded into its output, in order."""
    pending: deque[Any] = deque()
    while True:
        saved = ctx.host
        ctx.host = MergingHost(saved, targets, pending)  # type: ignore[assignment]
        try:
            value = next(stream)
        except StopIteration:
            break
        except Exception:
            ctx.host = saved
            yield from list(pending)  # what the command wrote before it failed
            raise
        finally:
            ctx.host = saved
        while pending:
            yield pending.popleft()
        yield value
    while pending:
        yield pending.popleft()
