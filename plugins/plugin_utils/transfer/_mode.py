# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local mode of a fetched file (stdlib only: the worker computes it, the broker applies it).

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

The session broker runs with umask 077 (its socket and records), so the mode is taken in the
worker, whose umask is the user's, and sent along with the fetch request.
"""

from __future__ import annotations

import os
import stat


def process_umask() -> int:
    """This process's umask, read without changing it (os.umask sets it, which other threads of
    the session broker would see): /proc/self/status on Linux, else set and restore."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fetched_file_mode(out_path: str) -> int:
    """The mode ansible.builtin.psrp's fetch_file leaves, which writes with ``open(out_path, "wb")``:
    a new file gets 0o666 minus the umask (0o644 with the usual 022), an existing file keeps its
    mode. (mkstemp creates the temporary file 0o600.)"""
    try:
        return stat.S_IMODE(os.stat(out_path).st_mode)
    except OSError:
        return 0o666 & ~process_umask()
