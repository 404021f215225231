# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command history of the interactive console (enter_pssession), kept across sessions.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

* One file, ``~/.ansible/psremoting_history`` by default, created with mode 0600 (its directory
  0700 when created); a file with wider permissions is tightened before it is read. A file that
  is not this user's own regular file with one link is never used (``History.problem``).
* One JSON string per line, so a multi-line command (braces, here-strings) comes back as one
  history entry. Entries are appended as they are typed, so two consoles do not overwrite each
  other; the file is trimmed to the newest ``limit`` entries when it has grown past twice that.
* Only commands typed at the prompt are recorded. Answers to ``Read-Host``, credential prompts and
  ``-AsSecureString`` input never reach this module (the console turns off readline's automatic
  history and adds entries itself).
* Like PSReadLine's default ``AddToHistoryHandler`` (about_PSReadLine, "Command history"), a line
  that mentions ``password``, ``asplaintext``, ``token``, ``apikey`` or ``secret`` stays in the
  in-memory history of this console only and is never written to the file. Lines starting with a
  space are not recorded at all (as ``HISTCONTROL=ignorespace`` in bash).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterable
from enum import Enum

DEFAULT_PATH = "~/.ansible/psremoting_history"
DEFAULT_LIMIT = 4096
SENSITIVE = re.compile(r"password|asplaintext|token|apikey|secret", re.IGNORECASE)


class Keep(Enum):
    NOWHERE = "nowhere"  # not recorded at all
    MEMORY = "memory"  # this console only
    FILE = "file"  # memory and the history file


def classify(entry: str) -> Keep:
    """Where a typed command may be kept."""
    if not entry.strip() or entry.startswith((" ", "\t")):
        return Keep.NOWHERE
    if SENSITIVE.search(entry):
        return Keep.MEMORY
    return Keep.FILE


def _decode(lines: Iterable[str]) -> list[str]:
    entries: list[str] = []
    for raw in lines:
        line = raw.rstrip("\n")
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue  # not ours (or damaged): skip the line rather than fail the console
        if isinstance(value, str) and classify(value) is Keep.FILE:
            entries.append(value)
    return entries


class History:
    """The history file: load at start, ``add`` every typed command.

    The file must be a regular file of this user with one link: another user's file (one planted
    where this user's path points, e.g. in a shared directory) or a hard link to another file is
    never read or written. When the file cannot be used, ``problem`` says why and the console goes
    on with in-memory history only (PSReadLine, too, keeps working when it cannot save)."""

    def __init__(self, path: str = DEFAULT_PATH, limit: int = DEFAULT_LIMIT) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.limit = max(1, limit)
        self.problem = ""

    def _open(self, flags: int) -> int:
        """A descriptor of the history file, checked as the class docstring says (0600)."""
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        try:
            st = os.fstat(fd)
            if st.st_uid != os.getuid():
                raise OSError(f"it belongs to uid {st.st_uid}, not to you (uid {os.getuid()})")
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                raise OSError("it is not a regular file with one link")
            if stat.S_IMODE(st.st_mode) & 0o077:
                os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _give_up(self, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        self.problem = (
            f"history file {self.path} cannot be used ({reason}); this console keeps its history in "
            "memory only. Use --history-file with a file of your own, or --no-history"
        )

    def load(self) -> list[str]:
        """The stored entries, oldest first (at most ``limit``); creates the file if needed."""
        try:
            with os.fdopen(self._open(os.O_CREAT | os.O_RDWR), encoding="utf-8", errors="replace") as handle:
                raw = handle.readlines()
            entries = _decode(raw)
            if len(raw) > 2 * self.limit:
                self._rewrite(entries[-self.limit :])
        except OSError as exc:
            self._give_up(exc)
            return []
        return entries[-self.limit :]

    def _rewrite(self, entries: list[str]) -> None:
        tmp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(e) + "\n" for e in entries)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def add(self, entry: str) -> Keep:
        """Record a typed command; returns where it was kept."""
        keep = classify(entry)
        if keep is Keep.FILE and not self.problem:
            try:
                with os.fdopen(
                    self._open(os.O_CREAT | os.O_APPEND | os.O_WRONLY), "a", encoding="utf-8"
                ) as handle:
                    handle.write(json.dumps(entry) + "\n")
            except OSError as exc:
                self._give_up(exc)
        return keep
