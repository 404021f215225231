# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The console's PowerShell host (pypsrp ``PSHost``/``PSHostUserInterface``) on a terminal.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Host calls from the remote runspace (MS-PSRP 2.2.3.17, PSHostUserInterface methods) are answered
at the terminal: ``Write-Host`` text in its colours, ``Read-Host`` through ``ReadLine``,
``Read-Host -AsSecureString`` and passwords through ``getpass`` (no echo), ``Get-Credential``
through ``PromptForCredential``, ``$host.UI.PromptForChoice`` through ``PromptForChoice``.
Nothing typed here is added to the command history (the console turns readline's automatic
history off) and secrets are only handed to pypsrp's serializer, which encrypts them with the
session key.
"""

from __future__ import annotations

import getpass
import re
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ansible_collections.psremoting.core.plugins.plugin_utils.console._render import (
    RED,
    YELLOW,
    colour,
    stream_line,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    PSCredential,
    PSHost,
    PSHostUserInterface,
    TaggedValue,
)


class Terminal:
    """Where the console writes, and whether it may use colours."""

    def __init__(self, out: TextIO | None = None, use_colour: bool = False) -> None:
        self.out = out or sys.stdout
        self.use_colour = use_colour

    def write(self, message: str, foreground: int | None = None, background: int | None = None) -> None:
        # Colour each line's text, not its line break, so a reset never lands on the next line.
        lines = message.split("\n")
        self.out.write("\n".join(colour(line, foreground, background, self.use_colour) for line in lines))
        self.out.flush()


class Interrupted(Exception):
    """Ctrl-C while the host waited for an answer."""


def _read(reader: Callable[[], str]) -> str:
    """Run ``reader`` with Ctrl-C raising (the console blocks SIGINT while a command runs)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return reader()
    except KeyboardInterrupt:
        raise Interrupted() from None
    except EOFError:
        return ""
    finally:
        signal.signal(signal.SIGINT, previous)


def _hotkey(label: str) -> tuple[str, str]:
    """``&Yes`` -> (``Y``, ``Yes``), as ChoiceDescription labels mark their hot key."""
    match = re.search(r"&(.)", label)
    plain = label.replace("&", "", 1)
    return ((match.group(1).upper() if match else plain[:1].upper()), plain)


def _ext(obj: Any, name: str) -> Any:
    for attr in ("extended_properties", "adapted_properties"):
        props = getattr(obj, attr, None) or {}
        if name in props:
            return props[name]
    return None


class ConsoleUI(PSHostUserInterface):
    """PSHostUserInterface on a terminal."""

    def __init__(
        self,
        terminal: Terminal,
        read_line: Callable[[], str] = input,
        read_secret: Callable[[], str] = lambda: getpass.getpass(""),
        on_interrupt: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self.terminal = terminal
        self._read_line = read_line
        self._read_secret = read_secret
        self._on_interrupt = on_interrupt
        self.show_progress = False
        #: Called before any host output, so that what the pipeline sent earlier is printed first.
        self.before_write: Callable[[], None] = lambda: None

    # -- input ------------------------------------------------------------------------------
    def _line(self, secret: bool = False) -> str:
        try:
            return _read(self._read_secret if secret else self._read_line)
        except Interrupted:
            self.terminal.write("\n")
            self._on_interrupt()
            return ""

    def _secure(self, runspace: Any, value: str) -> Any:
        if not getattr(runspace, "_key_exchanged", False):
            runspace.exchange_keys()  # SecureStrings are encrypted with the session key
        return TaggedValue("SS", value)

    def ReadLine(self, runspace: Any, pipeline: Any) -> str:
        self.before_write()
        return self._line()

    def ReadLineAsSecureString(self, runspace: Any, pipeline: Any) -> Any:
        self.before_write()
        return self._secure(runspace, self._line(secret=True))

    def Prompt(
        self, runspace: Any, pipeline: Any, caption: str, message: str, descriptions: list[Any]
    ) -> Any:
        self.before_write()
        if caption:
            self.terminal.write(f"{caption}\n")
        if message:
            self.terminal.write(f"{message}\n")
        answers: dict[str, Any] = {}
        for field in descriptions:
            name = str(_ext(field, "name") or "")
            label = str(_ext(field, "label") or name)
            type_name = str(_ext(field, "parameterTypeFullName") or "")
            self.terminal.write(f"{label}: ")
            if type_name.endswith("SecureString"):
                answers[name] = self._secure(runspace, self._line(secret=True))
            elif type_name.endswith("PSCredential"):
                answers[name] = self.PromptForCredential1(runspace, pipeline, "", "", "", "")
            else:
                answers[name] = self._line()
        return answers

    def PromptForCredential1(  # noqa: PLR0917 - pypsrp calls host methods positionally
        self, runspace: Any, pipeline: Any, caption: str, message: str, user_name: str, target_name: str
    ) -> Any:
        self.before_write()
        if caption:
            self.terminal.write(f"{caption}\n")
        if message:
            self.terminal.write(f"{message}\n")
        user = user_name
        if not user:
            self.terminal.write("User: ")
            user = self._line()
        else:
            self.terminal.write(f"User: {user}\n")
        self.terminal.write(f"Password for user {user}: ")
        password = self._line(secret=True)
        if not getattr(runspace, "_key_exchanged", False):
            runspace.exchange_keys()
        return PSCredential(username=user, password=password)

    def PromptForCredential2(  # noqa: PLR0917 - pypsrp calls host methods positionally
        self,
        runspace: Any,
        pipeline: Any,
        caption: str,
        message: str,
        user_name: str,
        target_name: str,
        allowed_credential_types: int,
        options: int,
    ) -> Any:
        self.before_write()
        return self.PromptForCredential1(runspace, pipeline, caption, message, user_name, target_name)

    def PromptForChoice(  # noqa: PLR0917 - pypsrp calls host methods positionally
        self,
        runspace: Any,
        pipeline: Any,
        caption: str,
        message: str,
        choices: list[Any],
        default_choice: int,
    ) -> int:
        self.before_write()
        labels = [_hotkey(str(_ext(c, "label") or c)) for c in choices]
        if caption:
            self.terminal.write(f"{caption}\n")
        if message:
            self.terminal.write(f"{message}\n")
        menu = "  ".join(f"[{key}] {plain}" for key, plain in labels)
        default = f' (default is "{labels[default_choice][0]}")' if 0 <= default_choice < len(labels) else ""
        while True:
            self.terminal.write(f"{menu}{default}: ")
            answer = self._line().strip()
            if not answer and 0 <= default_choice < len(labels):
                return default_choice
            for index, (key, plain) in enumerate(labels):
                if answer.upper() in (key, plain.upper()):
                    return index
            if not answer:
                return max(default_choice, 0)

    # -- output ------------------------------------------------------------------------------
    def Write1(self, runspace: Any, pipeline: Any, value: str) -> None:
        self.before_write()
        self.terminal.write(value)

    def Write2(
        self, runspace: Any, pipeline: Any, foreground_color: int, background_color: int, value: str
    ) -> None:
        self.before_write()
        self.terminal.write(value, _console_colour(foreground_color), _console_colour(background_color))

    def WriteLine1(self, runspace: Any, pipeline: Any) -> None:
        self.before_write()
        self.terminal.write("\n")

    def WriteLine2(self, runspace: Any, pipeline: Any, value: str) -> None:
        self.before_write()
        self.terminal.write(value + "\n")

    def WriteLine3(
        self, runspace: Any, pipeline: Any, foreground_color: int, background_color: int, value: str
    ) -> None:
        self.before_write()
        self.terminal.write(value, _console_colour(foreground_color), _console_colour(background_color))
        self.terminal.write("\n")

    def WriteErrorLine(self, runspace: Any, pipeline: Any, message: str) -> None:
        self.before_write()
        self.terminal.write(message, RED)
        self.terminal.write("\n")

    def WriteDebugLine(self, runspace: Any, pipeline: Any, message: str) -> None:
        self.before_write()
        self.terminal.write(stream_line("debug", message), YELLOW)

    def WriteVerboseLine(self, runspace: Any, pipeline: Any, message: str) -> None:
        self.before_write()
        self.terminal.write(stream_line("verbose", message), YELLOW)

    def WriteWarningLine(self, runspace: Any, pipeline: Any, message: str) -> None:
        self.before_write()
        self.terminal.write(stream_line("warning", message), YELLOW)

    def WriteProgress(self, runspace: Any, pipeline: Any, source_id: int, record: Any) -> None:
        pass  # progress arrives as PROGRESS_RECORD messages too; the console shows those


def _console_colour(value: Any) -> int | None:
    try:
        number = int(getattr(value, "value", value))
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 16 else None


def make_host(ui: ConsoleUI) -> PSHost:
    return PSHost(None, None, False, "psremoting.core Enter-PSSession", None, ui, "1.0")
