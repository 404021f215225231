"""Run script text through the engine and capture it the way a child ``powershell.exe`` prints.

win_shell/win_command start a new process; winhost has no processes, so the script runs in a new
engine Runspace of the same machine and user (a fresh session state, like a new process) and its
streams are rendered as console text: output objects one per line, errors in the console's
``message`` + ``CategoryInfo`` + ``FullyQualifiedErrorId`` layout, host writes as written. The
exit code follows ``powershell.exe -Command``: the ``exit N`` value when the script called exit,
otherwise 1 if an error record was written, else 0 ("about_PowerShell_exe", -Command).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from psrpcore.types import ErrorCategoryInfo

from winhost.engine.errors import category_message
from winhost.engine.formatting import format_objects, is_structured, render
from winhost.engine.hosts import RecordingHost

_PARAMETER_TOKEN = re.compile(r"^-([A-Za-z_?][\w-]*)(:?)(.*)$", re.DOTALL)
_SWITCH_DECLARATION = re.compile(r"\[switch\]\s*\$(\w+)", re.IGNORECASE)


def switch_parameters(script: str) -> set[str]:
    """Names of the ``[switch]`` parameters a script declares (lower case)."""
    return {m.group(1).lower() for m in _SWITCH_DECLARATION.finditer(script)}


def bind_command_line(args: list[str], switches: set[str] | None = None) -> list[tuple[str | None, Any]]:
    """Turn ``powershell.exe -File x.ps1 <args>`` style arguments into named and positional
    parameters as PowerShell's command-line parameter binding reads them (about_Parameters,
    about_PowerShell_exe -File): ``-Name value`` and ``-Name:value`` bind ``value`` to ``Name``;
    a ``-Name`` with nothing after it, followed by another ``-Param`` or naming a ``[switch]``, is
    a switch (``True``); anything else (including ``-1``, a negative number) is positional."""
    switches = switches or set()
    bound: list[tuple[str | None, Any]] = []
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        match = _PARAMETER_TOKEN.match(token)
        if match is None:
            bound.append((None, token))
            continue
        name, colon, inline = match.group(1), match.group(2), match.group(3)
        if colon:
            if inline:
                bound.append((name, inline))
            elif index < len(args):
                bound.append((name, args[index]))
                index += 1
            else:
                bound.append((name, True))
            continue
        if inline:
            bound.append((None, token))
            continue
        next_is_value = index < len(args) and _PARAMETER_TOKEN.match(args[index]) is None
        if name.lower() in switches or not next_is_value:
            bound.append((name, True))
        else:
            bound.append((name, args[index]))
            index += 1
    return bound


def render_error(record: Any) -> str:
    details = getattr(getattr(record, "ErrorDetails", None), "Message", None)
    message = str(details or getattr(getattr(record, "Exception", None), "Message", "") or record)
    info = getattr(record, "CategoryInfo", None)
    category = category_message(info) if isinstance(info, ErrorCategoryInfo) else ""
    fqid = getattr(record, "FullyQualifiedErrorId", "") or ""
    return f"{message}\r\n    + CategoryInfo          : {category}\r\n    + FullyQualifiedErrorId : {fqid}\r\n \r\n"


class CaptureHost(RecordingHost):
    """Records the streams and renders them as a console prints them (stdout/stderr text)."""

    def __init__(self, stop_requested: threading.Event | None = None) -> None:
        super().__init__(stop_requested)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._objects: list[Any] = []  # structured output waiting to be formatted as one view

    def flush(self) -> None:
        """Format the pending objects (a new stream write or the end of the script ends a view)."""
        if self._objects:
            self.stdout.append(format_objects(self._objects))
            self._objects = []

    def write_output(self, value: Any) -> None:
        super().write_output(value)
        if is_structured(value):
            self._objects.append(value)
            return
        self.flush()
        self.stdout.append(render(value) + "\r\n")

    def write_error(self, record: Any) -> None:
        super().write_error(record)
        self.flush()
        self.stderr.append(render_error(record))

    def write_warning(self, message: str) -> None:
        super().write_warning(message)
        self.flush()
        self.stdout.append(f"WARNING: {message}\r\n")

    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None:
        super().write_information(data, source, tags)
        self.flush()
        self.stdout.append(render(data) + "\r\n")

    def write_host(
        self,
        text: str,
        newline: bool = True,
        is_error: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None:
        super().write_host(text, newline, is_error, foreground, background)
        self.flush()
        (self.stderr if is_error else self.stdout).append(text + ("\r\n" if newline else ""))

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        raise RuntimeError("winhost: a non-interactive powershell.exe cannot read from the host")


def new_session(runspace: Any) -> Any:
    """A fresh engine Runspace for the same machine/user, like a child process; else the same one."""
    try:
        return type(runspace)(runspace.machine, runspace.user, "Microsoft.PowerShell")
    except Exception:  # the engine's constructor differs: fall back to the calling session
        return runspace


def run_script(
    runspace: Any,
    script: str,
    stdin: str | None = None,
    on_host: Callable[[CaptureHost], None] | None = None,
    args: list[str] | None = None,
) -> tuple[str, str, int]:
    """Evaluate ``script`` in a new session; return (stdout, stderr, rc) as powershell.exe would."""
    from psrpcore import Command

    host = CaptureHost()
    if on_host is not None:
        on_host(host)
    session = new_session(runspace)
    command = Command(script, is_script=True)
    for name, value in bind_command_line(args or [], switch_parameters(script)):
        command.add_parameter(name, value)
    stdin_items = iter([stdin]) if stdin is not None else None
    try:
        session.invoke([command], stdin_items, host)
    except Exception as exc:  # a terminating error ends the process with exit code 1
        host.stderr.append(f"{exc}\r\n")
        if host.exit_code is None:
            host.exit_code = 1
    host.flush()
    rc = host.exit_code if host.exit_code is not None else (1 if host.errors else 0)
    return "".join(host.stdout), "".join(host.stderr), rc
