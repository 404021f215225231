"""In-process PipelineHost implementations.

:class:`RecordingHost` keeps every stream a pipeline writes in memory; what the engine's own
callers need (the child ``powershell.exe`` of win_shell, win_powershell's runspace, the tests)
are subclasses of it that render or reshape a stream. The WSMan layer's host (it sends each
record to the client, winhost/wsman/psrp.py) and :class:`winhost.engine.merge.MergingHost` (it
forwards to another host) implement the protocol on their own.
"""

from __future__ import annotations

import threading
from typing import Any

from psrpcore.types import ErrorRecord


class RecordingHost:
    """A PipelineHost that records every stream; reading from it is an error."""

    def __init__(self, stop_requested: threading.Event | None = None) -> None:
        self.stop_requested = stop_requested or threading.Event()
        self.output: list[Any] = []
        self.errors: list[ErrorRecord] = []
        self.warnings: list[str] = []
        self.verbose: list[str] = []
        self.debug: list[str] = []
        self.information: list[Any] = []
        self.progress: list[tuple[str, str, int]] = []
        #: Host UI writes: (text, newline, foreground colour)
        self.host: list[tuple[str, bool, int | None]] = []
        self.host_out: list[str] = []  # what the console shows, line endings included
        self.host_err: list[str] = []
        self.exit_code: int | None = None

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
        (self.host_err if is_error else self.host_out).append(text + ("\r\n" if newline else ""))

    def set_should_exit(self, code: int) -> None:
        self.exit_code = int(code)

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        raise RuntimeError("winhost: this host cannot read input (no interactive user)")


class HostUIForwarder:
    """The host UI calls (Write-Host, the exit code, Read-Host) passed on to ``ui_host``: for
    hosts that reshape the data streams of a pipeline but not what its user sees
    (:class:`winhost.engine.merge.MergingHost`, the nested runspace's inner host)."""

    ui_host: Any

    def write_host(
        self,
        text: str,
        newline: bool = True,
        is_error: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None:
        self.ui_host.write_host(text, newline, is_error, foreground, background)

    def set_should_exit(self, code: int) -> None:
        self.ui_host.set_should_exit(code)

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        return self.ui_host.read_line(prompt, secure)
