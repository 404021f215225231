"""winhost/engine/wildcards.py follows about_Wildcards and WildcardPattern
(https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_wildcards):
``*``, ``?``, ``[abc]``, ``[a-z]``, the backtick escape, case-insensitive whole-text matching."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from winhost.engine.errors import PSRuntimeError
from winhost.engine.wildcards import contains_wildcards, select_by_wildcard, wildcard_match

from .helpers import Engine


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("WinRM", "win*", True),
        ("WinRM", "win?m", True),
        ("WinRM", "win", False),  # the whole text must match
        ("a1", "a[0-9]", True),
        ("ab", "a[0-9]", False),
        ("ac", "a[abc]", True),
        ("a*", "a`*", True),  # an escaped star is a star
        ("ab", "a`*", False),
        ("a[1]", "a`[1`]", True),
        ("line1\nline2", "line1*", True),
        ("a.b", "a.b", True),
        ("axb", "a.b", False),  # regex characters are literal
    ],
)
def test_wildcard_match(text: str, pattern: str, expected: bool) -> None:
    assert wildcard_match(text, pattern) is expected


def test_case_sensitivity() -> None:
    assert wildcard_match("WINRM", "winrm") is True
    assert wildcard_match("WINRM", "winrm", case_sensitive=True) is False


def test_contains_wildcards_counts_brackets_and_skips_escapes() -> None:
    assert [contains_wildcards(p) for p in ("a*", "a?", "a[b]", "a]", "a`*", "plain")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_unclosed_bracket_is_an_invalid_pattern() -> None:
    with pytest.raises(PSRuntimeError, match="The specified wildcard character pattern is not valid: a\\[b"):
        wildcard_match("ab", "a[b")


def test_select_by_wildcard_reports_only_literal_misses() -> None:
    missing: list[str] = []
    names = ["alpha", "beta", "gamma"]
    found = list(select_by_wildcard(names, ["a*", "nosuch", "nosuch*", "*a", "beta"], str, missing.append))
    assert found == ["alpha", "alpha", "beta", "gamma", "beta"]
    assert missing == ["nosuch"]
    unique = list(select_by_wildcard(names, ["*a", "beta"], str, missing.append, unique=True))
    assert unique == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize(
    "pattern",
    ["BETA", "beta", "a.b", "a`*", "Straße", "STRASSE", "", "b?ta", "a]"],
)
def test_select_by_wildcard_takes_what_the_pattern_matches(pattern: str) -> None:
    """A plain ASCII name is compared without a regex: the same items as wildcard_match."""
    names = ["alpha", "beta", "Beta", "a.b", "axb", "a*", "straße", "", "a]"]
    expected = [name for name in names if wildcard_match(name, pattern)]
    assert list(select_by_wildcard(names, [pattern], str, lambda _: None)) == expected
    assert expected or pattern == "STRASSE"


def test_like_operator_and_cmdlets_use_the_same_wildcards(
    run: Callable[[str], list[Any]], engine: Engine
) -> None:
    assert run("'W32Time' -like 'w[0-9][0-9]*'; 'a*' -like 'a`*'; 'ab' -like 'a`*'") == [True, True, False]
    assert run("(Get-Service -Name 'W[0-9]*').Name") == ["W32Time"]
    result = engine.script("Get-Service -Name 'W32Time]'")
    assert result.errors == []  # ']' is a wildcard character: no not-found error, as on Windows
