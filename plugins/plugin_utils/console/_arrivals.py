# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a running pipeline sent, in the order it arrived, for the Enter-PSSession console.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

pypsrp files each received PSRP message under its kind (``PowerShell.output``,
``streams.warning``, ``streams.error``...), answers host calls (``Write-Host``) while it reads a
Receive response, and appends the output objects of that response only after all of it was read.
Read that way, ``Write-Host a; Write-Warning b; Write-Host c; 'out-d'; Write-Error e; 'out-f'``
prints ``a, c, out-d, out-f, WARNING: b, e``; the PowerShell console prints them in the order the
pipeline wrote them.

:class:`Arrivals` sees the messages of each response in their order (it wraps the pool's
``Fragmenter.defragment``, which hands pypsrp the decoded messages) and queues what the console
shows: output objects, error/warning/verbose/debug/progress records and a marker per host call.
When pypsrp processes a host call, everything queued before its marker is released, so the
console prints it before the host output.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import MessageType

HOST_CALL = "host"


def _kinds() -> dict[int, str]:
    return {
        MessageType.PIPELINE_OUTPUT: "output",
        MessageType.ERROR_RECORD: "error",
        MessageType.WARNING_RECORD: "warning",
        MessageType.VERBOSE_RECORD: "verbose",
        MessageType.DEBUG_RECORD: "debug",
        MessageType.PROGRESS_RECORD: "progress",
        MessageType.INFORMATION_RECORD: "information",
        MessageType.PIPELINE_HOST_CALL: HOST_CALL,
    }


def _item(message: Any, kinds: dict[int, str]) -> tuple[str, Any] | None:
    if message.message_type == MessageType.PIPELINE_STATE:
        record = getattr(message.data, "error_record", None)  # the terminating error, if any
        return ("error", record) if record is not None else None
    kind = kinds.get(message.message_type)
    if kind is None:
        return None
    if kind == "output":
        return kind, message.data.data
    return kind, message.data


class Arrivals:
    """The pipeline's messages in arrival order, as ``(kind, item)``; ``kind`` is ``output`` or a
    stream name."""

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self._ready: list[tuple[str, Any]] = []

    def watch(self, pool: Any, ps: Any) -> Callable[[], None]:
        """Start recording the messages of ``ps`` (a pypsrp PowerShell on ``pool``); returns the
        function that stops it."""
        fragmenter = pool._fragmenter
        defragment = fragmenter.defragment
        host_call = ps._process_pipeline_host_call
        kinds = _kinds()

        def recording_defragment(data: bytes) -> list[Any]:
            messages = defragment(data)
            for message in messages:
                item = _item(message, kinds)
                if item is not None:
                    self._queue.append(item)
            return messages

        def releasing_host_call(message: Any) -> Any:
            self._release_to_host_call()
            return host_call(message)

        fragmenter.defragment = recording_defragment
        ps._process_pipeline_host_call = releasing_host_call

        def stop() -> None:
            fragmenter.defragment = defragment
            ps._process_pipeline_host_call = host_call

        return stop

    def _release_to_host_call(self) -> None:
        while self._queue:
            kind, item = self._queue.popleft()
            if kind == HOST_CALL:
                return
            self._ready.append((kind, item))

    def released(self) -> list[tuple[str, Any]]:
        """What arrived before the host call being answered (and was not taken yet)."""
        items, self._ready = self._ready, []
        return items

    def take(self) -> list[tuple[str, Any]]:
        """Everything not taken yet, oldest first."""
        items = self.released()
        items.extend(item for item in self._queue if item[0] != HOST_CALL)
        self._queue.clear()
        return items
