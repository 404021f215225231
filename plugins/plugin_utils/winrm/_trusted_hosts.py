# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WinRM client TrustedHosts arithmetic.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

``WSMan:\\localhost\\Client\\TrustedHosts`` is one comma-separated string of names, IP addresses
and wildcards (``*``, ``*.contoso.com``); about_Remote_Troubleshooting, "How to add a computer to
the trusted hosts list". Entries compare case-insensitively; their order is kept.
"""

from __future__ import annotations

from collections.abc import Sequence


def merge_trusted_hosts(current: Sequence[str], wanted: Sequence[str], mode: str) -> list[str]:
    """``add`` keeps others and appends missing; ``remove`` drops the given; ``replace`` sets."""
    seen = {c.lower() for c in current}
    if mode == "add":
        out = list(current)
        for entry in wanted:
            if entry.lower() not in seen:
                out.append(entry)
                seen.add(entry.lower())
        return out
    if mode == "remove":
        drop = {w.lower() for w in wanted}
        return [c for c in current if c.lower() not in drop]
    if mode == "replace":
        out = []
        for entry in wanted:
            if entry.lower() not in (o.lower() for o in out):
                out.append(entry)
        return out
    raise ValueError(f"unknown trusted_hosts_mode {mode!r}")


def same_hosts(a: Sequence[str], b: Sequence[str]) -> bool:
    return [x.lower() for x in a] == [y.lower() for y in b]
