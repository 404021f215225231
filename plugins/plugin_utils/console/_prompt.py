# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enter-PSSession for an Ansible inventory host: the interactive remote PowerShell prompt.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice. Run it as documented in docs/enter_pssession.md.

Like ``Enter-PSSession`` (about_Remote, Enter-PSSession docs): one runspace pool for the whole
console; every typed input runs as one script with ``use_local_scope=False``, so variables,
functions, the location and imported modules persist between lines; the prompt is
``[host]: PS <remote location>>`` (or ``[host]: <output of the remote prompt function>``); Ctrl-C
stops the running pipeline (WSMan Signal ``powershell/signal/ctrl_c``, pypsrp's stop) and keeps the session;
``exit``/``Exit-PSSession``/Ctrl-D leave and delete the session on the server (WSMan Delete).

A running pipeline is polled with a 1-second WSMan OperationTimeout (``poll_invoke(timeout=1)``),
so a Ctrl-C is acted on within about a second without a second connection.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.console._arrivals import Arrivals
from ansible_collections.psremoting.core.plugins.plugin_utils.console._history import (
    DEFAULT_PATH,
    History,
    Keep,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.console._host import (
    ConsoleUI,
    Terminal,
    make_host,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.console._input import in_literal, is_incomplete
from ansible_collections.psremoting.core.plugins.plugin_utils.console._render import (
    RED,
    YELLOW,
    render_error,
    render_objects,
    stream_line,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.output._clixml import to_jsonable
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession, SessionError
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import classify
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    PowerShell,
    PSInvocationState,
)

POLL_SECONDS = 1  # WSMan OperationTimeout of each Receive while a command runs
FLUSH_AFTER = 0.3  # seconds output objects may wait to be laid out together (as Out-Default)
CONTINUATION_PROMPT = ">> "
EXIT_COMMANDS = ("exit", "exit-pssession")
SECURE_STRING_TEXT = "System.Security.SecureString"


def _nothing() -> None:
    return None


def is_exit(entry: str) -> bool:
    return entry.strip().rstrip(";").strip().lower() in EXIT_COMMANDS


class Console:
    """The read-eval-print loop over one open ``PSRPSession``."""

    def __init__(
        self,
        name: str,
        session: PSRPSession,
        terminal: Terminal,
        *,
        history: History | None = None,
        read_line: Callable[[str], str] = input,
        show_progress: bool = False,
    ) -> None:
        self.name = name
        self.session = session
        self.terminal = terminal
        self.history = history
        self._read_line = read_line
        self.show_progress = show_progress
        self.stop_requested = False
        self.ui = ConsoleUI(terminal, on_interrupt=self._request_stop)
        self.host = make_host(self.ui)
        self._use_prompt_function = False
        self._readline: Any = None
        self._pending: list[Any] = []  # output objects waiting to be laid out together
        self._pending_since = 0.0

    # -- session -------------------------------------------------------------------------------
    def attach(self) -> None:
        """Answer host calls of the session's pool with this console's host."""
        pool = self.session.pool
        if pool is None:
            raise RuntimeError("internal error: pool not set")
        pool.host = self.host
        self.session.host = self.host
        # pypsrp decrypts a SecureString output object to its plain text; the PowerShell console
        # shows only its type name, and so does this one (the secret is never printed).
        serializer = getattr(pool, "_serializer", None)
        if serializer is not None and hasattr(serializer, "_deserialize_secure_string"):
            serializer._deserialize_secure_string = lambda element: SECURE_STRING_TEXT
        found = self._simple("Get-Command", {"Name": "prompt", "ErrorAction": "Ignore"})
        self._use_prompt_function = bool(found)

    def _simple(self, cmdlet: str, parameters: dict[str, Any]) -> list[Any]:
        """Run one cmdlet for the console's own use (prompt, location); errors are ignored."""
        pool = self.session.pool
        if pool is None:
            raise RuntimeError("internal error: pool not set")
        ps = PowerShell(pool)
        ps.add_cmdlet(cmdlet)
        for key, value in parameters.items():
            ps.add_parameter(key, value)
        try:
            ps.invoke()
        finally:
            with contextlib.suppress(Exception):
                ps.close()
        return list(ps.output) if not ps.had_errors else []

    def remote_prompt(self) -> str:
        if self._use_prompt_function:
            output = self._simple("prompt", {})
            if output:
                return "".join(str(o) for o in output)
        location = self._simple("Get-Location", {})
        path = to_jsonable(location[0], depth=1).get("Path") if location else None
        return f"PS {path or '?'}> "

    # -- running one input ---------------------------------------------------------------------
    def _request_stop(self) -> None:
        self.stop_requested = True

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.stop_requested = True

    def execute(self, script: str) -> str:
        """Run ``script`` in the session's runspace; returns the pipeline's final state name.

        Output objects, stream records and host output are printed in the order the pipeline
        wrote them (``_arrivals``). Consecutive output objects are laid out together (one table),
        waiting at most ``FLUSH_AFTER`` for more while the pipeline runs, as Out-Default does."""
        pool = self.session.pool
        if pool is None:
            raise RuntimeError("internal error: pool not set")
        ps = PowerShell(pool)
        ps.add_script(script, use_local_scope=False)
        self.stop_requested = False
        arrivals = Arrivals()
        stop_watching = arrivals.watch(pool, ps)
        self._pending = []
        # Host output (Write-Host, $Host.UI) comes as host calls while a response is read: what
        # arrived before the call is printed first.
        self.ui.before_write = lambda: self._render(arrivals.released(), flush=True)
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        state = "Completed"
        try:
            ps.begin_invoke()
            while True:
                running = ps.state == PSInvocationState.RUNNING
                self._render(arrivals.take(), flush=not running)
                if not running:
                    break
                if self.stop_requested:
                    ps.stop()
                    state = "Stopped"
                    self._render(arrivals.take(), flush=True)
                    self.terminal.write("\n")
                    break
                ps.poll_invoke(timeout=POLL_SECONDS)
            if state != "Stopped":
                state = {
                    PSInvocationState.FAILED: "Failed",
                    PSInvocationState.STOPPED: "Stopped",
                }.get(ps.state, "Completed")
        finally:
            stop_watching()
            self.ui.before_write = _nothing
            signal.signal(signal.SIGINT, previous)
            if self.show_progress:
                self.terminal.out.write("\r\x1b[K")
            with contextlib.suppress(Exception):
                ps.close()
        return state

    def _render(self, items: list[tuple[str, Any]], *, flush: bool) -> None:
        """Print ``items`` in order; output objects wait (up to FLUSH_AFTER) for their table
        unless ``flush`` or something else arrived after them."""
        for kind, item in items:
            if kind == "output":
                if not self._pending:
                    self._pending_since = time.monotonic()
                self._pending.append(item)
                continue
            self._flush_output()
            self._render_record(kind, item)
        if self._pending and (flush or time.monotonic() - self._pending_since >= FLUSH_AFTER):
            self._flush_output()

    def _flush_output(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.terminal.write(render_objects([to_jsonable(o, depth=1) for o in pending]))

    def _render_record(self, kind: str, record: Any) -> None:
        if kind in ("warning", "verbose", "debug"):
            self.terminal.write(stream_line(kind, str(getattr(record, "message", record))), YELLOW)
        elif kind == "error":
            self.terminal.write(render_error(record), RED)
        elif kind == "progress" and self.show_progress:
            activity = getattr(record, "activity", "")
            status = getattr(record, "description", "") or ""
            percent = getattr(record, "percent_complete", -1)
            done = f" {percent}%" if isinstance(percent, int) and percent >= 0 else ""
            self.terminal.out.write(f"\r\x1b[K{activity}: {status}{done}")
            self.terminal.out.flush()
        # information records are not shown (InformationPreference is SilentlyContinue; Write-Host
        # text comes as host calls)

    # -- the loop --------------------------------------------------------------------------------
    def _setup_readline(self) -> None:
        try:
            import readline  # noqa: PLC0415 - optional (missing on some Pythons)
        except ImportError:
            return
        self._readline = readline
        readline.set_auto_history(False)  # Read-Host answers must never enter the history
        if self.history is not None:
            for entry in self.history.load():
                readline.add_history(entry)
            if self.history.problem:
                self.terminal.write(stream_line("warning", self.history.problem), YELLOW)

    def _remember(self, entry: str) -> None:
        keep = self.history.add(entry) if self.history is not None else Keep.MEMORY
        if keep is not Keep.NOWHERE and self._readline is not None:
            self._readline.add_history(entry)

    def read_input(self, prompt: str) -> str | None:
        """One complete input (several lines when incomplete); None at end of input (Ctrl-D)."""
        lines: list[str] = []
        while True:
            try:
                line = self._read_line(prompt if not lines else CONTINUATION_PROMPT)
            except EOFError:
                self.terminal.write("\n")
                return None
            except KeyboardInterrupt:  # at the prompt: clear the line, as the console does
                self.terminal.write("\n")
                lines = []
                continue
            lines.append(line)
            text = "\n".join(lines)
            if len(lines) > 1 and not line.strip() and not in_literal(text):
                return text.rstrip("\n")  # an empty line ends multi-line input
            if not is_incomplete(text):
                return text

    def run(self) -> int:
        self._setup_readline()
        prompt = f"[{self.name}]: {self.remote_prompt()}"
        while True:
            entry = self.read_input(prompt)
            if entry is None or is_exit(entry):
                return 0
            if not entry.strip():
                continue
            self._remember(entry)
            try:
                self.execute(entry)
                prompt = f"[{self.name}]: {self.remote_prompt()}"
            except SessionError as exc:
                self.terminal.write(f"{exc.info.message}\n", RED)
                return 1
            except Exception as exc:  # pypsrp / transport failure: the session is gone
                info = classify(exc, self.name, self.session.port)
                self.terminal.write(
                    f"{info.message}\nThe session to {self.name} is broken; leaving it.\n", RED
                )
                self.session.broken = True
                return 1


# -- command line ------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="enter-pssession",
        description="Interactive remote PowerShell prompt on one Ansible inventory host, with the "
        "connection settings of psremoting.core.psrp (like Enter-PSSession).",
    )
    parser.add_argument("host", help="inventory host name or a pattern that matches exactly one host")
    parser.add_argument(
        "-i", "--inventory", action="append", default=[], help="inventory source (repeatable)"
    )
    parser.add_argument("--vault-id", action="append", default=[], dest="vault_ids", help="vault identity")
    parser.add_argument(
        "--vault-password-file", "--vault-pass-file", action="append", default=[], dest="vault_password_files"
    )
    parser.add_argument("-J", "--ask-vault-pass", "--ask-vault-password", action="store_true")
    parser.add_argument("--history-file", default=os.environ.get("PSREMOTING_HISTORY_FILE", DEFAULT_PATH))
    parser.add_argument("--no-history", action="store_true", help="neither read nor write the history file")
    parser.add_argument("--no-color", action="store_true", help="no ANSI colours (also NO_COLOR=1)")
    parser.add_argument("--progress", action="store_true", help="show progress records on one line")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from ansible_collections.psremoting.core.plugins.plugin_utils.console._inventory import (  # noqa: PLC0415
        InventoryError,
        load_target,
    )

    args = parse_args(argv)
    # An interactive console always answers Ctrl-C, even when started from a process that ignores
    # SIGINT (a background job of a non-interactive shell): Python leaves an inherited SIG_IGN.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    use_colour = sys.stdout.isatty() and not args.no_color and not os.environ.get("NO_COLOR")
    terminal = Terminal(sys.stdout, use_colour)
    inventory = args.inventory or []
    if not inventory:
        from ansible import constants as C  # noqa: PLC0415

        inventory = list(C.DEFAULT_HOST_LIST)
    try:
        target = load_target(
            inventory, args.host, args.vault_ids, args.vault_password_files, args.ask_vault_pass
        )
    except InventoryError as exc:
        sys.stderr.write(f"enter-pssession: {exc}\n")
        return 2
    except Exception as exc:  # option errors name host, option, variable and fix
        sys.stderr.write(f"enter-pssession: {exc}\n")
        return 2
    settings = target.settings
    for warning in settings.warnings:
        terminal.write(stream_line("warning", warning), YELLOW)
    if target.connection and target.connection not in (
        "psremoting.core.psrp",
        "psrp",
        "ansible.builtin.psrp",
    ):
        terminal.write(
            stream_line("warning", f"{target.name} uses ansible_connection={target.connection}; "
                        "connecting with the psrp connection variables anyway"),
            YELLOW,
        )  # fmt: skip
    session = PSRPSession(
        dict(settings.wsman_kwargs),
        settings.configuration_name,
        None,
        target.name,
        no_profile=settings.no_profile,
    )
    try:
        session.open()
    except SessionError as exc:
        sys.stderr.write(f"enter-pssession: {exc.info.message}\n")
        return 1
    history = None if args.no_history else History(args.history_file)
    console = Console(target.name, session, terminal, history=history, show_progress=args.progress)
    try:
        console.attach()
        return console.run()
    finally:
        session.close()  # RunspacePool.close: WSMan Delete of the shell
