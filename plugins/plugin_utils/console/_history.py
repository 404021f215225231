# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command history of the interactive console (enter_pssession), kept across sessions.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

* One file, ``~/.ansible/psremoting_history`` by default, created with mode 0600 (its directory
  0700 when created); a file with wider permissions is tightened before it is read.
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
    """The history file: load at start, ``add`` every typed command."""

    def __init__(self, path: str = DEFAULT_PATH, limit: int = DEFAULT_LIMIT) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.limit = max(1, limit)

    def _secure(self) -> None:
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_APPEND | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)

    def load(self) -> list[str]:
        """The stored entries, oldest first (at most ``limit``); creates the file if needed."""
        self._secure()
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            raw = handle.readlines()
        entries = _decode(raw)
        if len(raw) > 2 * self.limit:
            self._rewrite(entries[-self.limit :])
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
        if keep is Keep.FILE:
            self._secure()
            fd = os.open(self.path, os.O_APPEND | os.O_WRONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
        return keep
