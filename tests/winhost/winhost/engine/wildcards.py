"""PowerShell wildcard patterns (about_Wildcards; System.Management.Automation.WildcardPattern).

``*`` matches any run of characters, ``?`` one character, ``[abc]`` one of a set and ``[a-z]``
one of a range; the backtick escapes the next character (`` `* `` is a literal star). Matching
is case-insensitive unless asked otherwise and covers the whole text. The wildcard characters are
``* ? [ ]`` (WildcardPattern.ContainsWildcardCharacters skips an escaped one).

:func:`select_by_wildcard` is the cmdlets' "-Name pattern" selection: the items a pattern
matches, and the cmdlet's not-found error for a pattern without wildcards that matches nothing
(Get-Service -Name nosuch errors, Get-Service -Name nosuch* does not).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from psrpcore.types import ErrorCategory

from winhost.engine.errors import terminating

T = TypeVar("T")

WILDCARD_CHARACTERS = "*?[]"
ESCAPE = "`"


def contains_wildcards(pattern: str) -> bool:
    """Does the pattern hold an unescaped ``* ? [ ]``?"""
    index = 0
    while index < len(pattern):
        if pattern[index] in WILDCARD_CHARACTERS:
            return True
        index += 2 if pattern[index] == ESCAPE else 1
    return False


def _invalid(pattern: str) -> Exception:
    return terminating(
        f"The specified wildcard character pattern is not valid: {pattern}",
        "RuntimeException",
        ErrorCategory.InvalidArgument,
        exception_type="System.Management.Automation.WildcardPatternException",
    )


def _bracket(pattern: str, index: int) -> tuple[str, int]:
    """The regex class of ``[...]`` starting after ``[`` at ``index``, and the index after ``]``."""
    members: list[str] = []
    while index < len(pattern) and pattern[index] != "]":
        if pattern[index] == ESCAPE and index + 1 < len(pattern):
            index += 1
        low = pattern[index]
        if index + 2 < len(pattern) and pattern[index + 1] == "-" and pattern[index + 2] != "]":
            members.append(f"{re.escape(low)}-{re.escape(pattern[index + 2])}")
            index += 3
        else:
            members.append(re.escape(low))
            index += 1
    if index >= len(pattern) or not members:
        raise _invalid(pattern)
    return "[" + "".join(members) + "]", index + 1


@functools.lru_cache(maxsize=512)
def wildcard_regex(pattern: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """The compiled regular expression a wildcard pattern stands for (anchored at both ends)."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        if ch == ESCAPE and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if ch == "[":
            cls, index = _bracket(pattern, index + 1)
            out.append(cls)
            continue
        out.append({"*": ".*", "?": "."}.get(ch) or re.escape(ch))
        index += 1
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    return re.compile("".join(out) + r"\Z", flags)


def wildcard_match(text: str, pattern: str, case_sensitive: bool = False) -> bool:
    return wildcard_regex(pattern, case_sensitive).match(text) is not None


def _matches(text: str, pattern: str) -> bool:
    """wildcard_match, case-insensitive; an ASCII pattern without wildcard or escape characters
    against an ASCII text is a comparison of the lower-cased strings (what its regex matches)."""
    if text.isascii() and pattern.isascii() and not any(ch in pattern for ch in "*?[]`"):
        return text.lower() == pattern.lower()
    return wildcard_match(text, pattern)


def select_by_wildcard(
    items: Iterable[T],
    patterns: Iterable[str],
    name: Callable[[T], str],
    not_found: Callable[[str], None],
    unique: bool = False,
) -> Iterator[T]:
    """The items whose ``name`` matches each pattern in turn (in the items' order), as the
    patterns are read; ``not_found`` reports a pattern without wildcards that matched nothing (in
    order with the output). ``unique`` yields an item once."""
    pool = list(items)
    seen: list[T] = []
    for pattern in patterns:
        found = [item for item in pool if _matches(name(item), pattern)]
        if not found and not contains_wildcards(pattern):
            not_found(pattern)
        for item in found:
            if unique and item in seen:
                continue
            seen.append(item)
            yield item
