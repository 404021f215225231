"""powershell.exe started as a process (WinRS, win_shell/win_command, a pipeline calling it).

It reads ``-EncodedCommand``/``-Command``/``-File``/``-`` like about_PowerShell_exe (value
switches such as ``-ExecutionPolicy ByPass`` skipped) and runs the script in a new engine
runspace of the same machine and user (a new process, so a fresh session state) with the process's
environment and working directory. Redirected stdin becomes ``$input`` line by line; output
objects are written as console text, ``Write-Host`` as text and LF (as the recordings show for a
redirected console), errors to stderr, as CLIXML (``#< CLIXML``) when the command was
``-EncodedCommand``, as PowerShell's console host does for an encoded command.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from psrpcore import Command

from winhost.engine.ansible_modules._capture import bind_command_line, render_error, switch_parameters
from winhost.engine.formatting import format_objects, is_structured, render
from winhost.engine.model import CIDict

if TYPE_CHECKING:
    from winhost.engine.native import Process

_VALUE_SWITCHES = (
    "executionpolicy",
    "inputformat",
    "outputformat",
    "windowstyle",
    "version",
    "psconsolefile",
)
_FLAG_SWITCHES = ("noprofile", "noninteractive", "nologo", "noexit", "sta", "mta")


def _switch(arg: str, names: tuple[str, ...]) -> bool:
    low = arg.lower().lstrip("-/")
    return len(low) >= 2 and any(name.startswith(low) for name in names)


def parse_powershell_args(args: list[str], read_stdin: Callable[[], str]) -> tuple[str, list[str], bool, str]:
    """``(script, file arguments, encoded, mode)`` from powershell.exe's arguments
    (about_PowerShell_exe). ``mode`` is "command", "file" or "stdin"."""
    index = 0
    while index < len(args):
        arg = args[index]
        low = arg.lower()
        if low == "-":
            return read_stdin(), [], False, "stdin"
        if low in ("-e", "-ec", "-en", "-enc") or (len(low) > 3 and "-encodedcommand".startswith(low)):
            text = args[index + 1] if index + 1 < len(args) else ""
            return base64.b64decode(text).decode("utf-16-le"), [], True, "command"
        if low in ("-c", "-co", "-com") or (len(low) > 3 and "-command".startswith(low)):
            rest = args[index + 1 :]
            if rest == ["-"]:
                return read_stdin(), [], False, "stdin"
            return " ".join(rest), [], False, "command"
        if low in ("-f", "-fi", "-file") or (len(low) > 3 and "-file".startswith(low)):
            rest = args[index + 1 :]
            return "", rest, False, "file"
        if arg.startswith("-") and _switch(arg, _VALUE_SWITCHES):
            index += 2
            continue
        if arg.startswith("-") and _switch(arg, _FLAG_SWITCHES):
            index += 1
            continue
        return " ".join(args[index:]), [], False, "command"
    return read_stdin(), [], False, "stdin"


def run_powershell(process: Process, args: list[str]) -> int:
    """Run powershell.exe with ``args`` in ``process``; its exit code."""
    script, file_args, encoded, mode = parse_powershell_args(args, process.stdin.read_all)
    host = ConsoleHost(process, clixml=encoded)
    if mode == "file":
        if not file_args:
            process.err("-File requires a file path argument.\r\n")
            return 64
        real = process.fs().real(file_args[0])
        if not real.is_file():
            process.err(f"The argument '{file_args[0]}' to the -File parameter does not exist.\r\n")
            return 64
        script = real.read_text(encoding="utf-8-sig")
        file_args = file_args[1:]
    runspace = process.new_runspace()
    runspace.process_env = CIDict(dict(process.env))
    runspace.global_scope.set("__location", process.cwd)
    command = Command(script, is_script=True)
    for name, value in bind_command_line(file_args, switch_parameters(script)):
        command.add_parameter(name, value)
    # powershell.exe reads redirected stdin only when the script enumerates $input; a script that
    # does not finishes without the client ever closing stdin (pypsrp's WinRS recordings).
    reads_input = "$input" in script.lower()
    stdin = process.stdin.lines() if reads_input and not process.stdin.console and mode != "stdin" else None
    try:
        runspace.invoke([command], stdin, host)
    except Exception as exc:  # a terminating error ends the process with exit code 1
        host.write_error_text(str(exc))
        if host.exit_code is None:
            host.exit_code = 1
    host.close()
    if host.exit_code is not None:
        return host.exit_code
    return 1 if host.errors else 0


class ConsoleHost:
    """powershell.exe's console host with redirected stdout/stderr (the engine's PipelineHost)."""

    def __init__(self, process: Process, clixml: bool) -> None:
        self.process = process
        self.stop_requested = process.io.stop_requested
        self.clixml = clixml
        self.exit_code: int | None = None
        self.errors = 0
        self._objects: list[Any] = []
        self._error_lines: list[str] = []

    def _flush(self) -> None:
        if self._objects:
            self.process.out(format_objects(self._objects))
            self._objects = []

    def write_output(self, value: Any) -> None:
        if is_structured(value):
            self._objects.append(value)
            return
        self._flush()
        self.process.out(render(value) + "\r\n")

    def write_error(self, record: Any) -> None:
        self.errors += 1
        self.write_error_text(render_error(record).rstrip("\r\n "))

    def write_error_text(self, text: str) -> None:
        self._flush()
        if self.clixml:
            self._error_lines.append(text + "\r\n")
        else:
            self.process.err(text + "\r\n")

    def write_warning(self, message: str) -> None:
        self._flush()
        self.process.out(f"WARNING: {message}\r\n")

    def write_verbose(self, message: str) -> None:
        pass

    def write_debug(self, message: str) -> None:
        pass

    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None:
        pass  # Write-Host reaches the console through write_host; other records are not shown

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        pass

    def write_host(
        self,
        text: str,
        newline: bool = True,
        is_error: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None:
        if is_error:
            self.write_error_text(text)
            return
        self._flush()
        self.process.out(text + ("\n" if newline else ""))

    def set_should_exit(self, code: int) -> None:
        self.exit_code = int(code)

    def host_call(self, method: str, params: list[Any], wait: bool = False) -> Any:
        """``$host.UI`` calls: the console writes them to stdout (WriteErrorLine to stderr); the
        Write*Line calls for the verbose/debug/warning streams were already written."""
        text = str(params[-1]) if params else ""
        if method == "WriteErrorLine":
            self.write_error_text(text)
        elif method in ("Write1", "Write2"):
            self._flush()
            self.process.out(text)
        elif method in ("WriteLine1", "WriteLine2", "WriteLine3"):
            self._flush()
            self.process.out(text + "\r\n")
        elif method.startswith(("ReadLine", "Prompt")):
            self.read_line("")
        return None

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        raise RuntimeError(
            "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."
        )

    def close(self) -> None:
        self._flush()
        if self._error_lines:
            body = "".join(f'<S S="Error">{_clixml_text(line)}</S>' for line in self._error_lines)
            self.process.err(
                '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
                f"{body}</Objs>"
            )
            self._error_lines = []


def _clixml_text(text: str) -> str:
    """CLIXML string escaping ([MS-PSRP] 2.2.5.3.2): control characters as ``_xHHHH_``."""
    escaped = escape(text).replace("_x", "_x005F_x")
    return re.sub(r"[\x00-\x1f]", lambda m: f"_x{ord(m.group(0)):04X}_", escaped)
