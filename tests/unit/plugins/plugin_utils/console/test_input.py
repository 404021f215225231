"""Input completeness of the console (``>> `` continuation), per about_Parsing / about_Quoting_Rules."""

from __future__ import annotations

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.console._input import (
    in_literal,
    is_incomplete,
    open_construct,
)


@pytest.mark.parametrize(
    ("text", "opener"),
    [
        ("function f {", "{"),
        ("if ($x) {\n  'a'", "{"),
        ("Get-Service | Where-Object { $_.Status -eq 'Running'", "{"),
        ("$a = @(1, 2,", "("),
        ("$h = @{", "{"),
        ("[int", "["),
        ("'unterminated", "'"),
        ('"unterminated', '"'),
        ('"sub $(Get-Date', "("),  # innermost: the subexpression
        ('$s = @"', '@"'),
        ("$s = @'\nline one", "@'"),
        ("<# block", "<#"),
        ("Get-Service |", "|"),
        ("Get-Service `", "`"),
    ],
)
def test_incomplete(text: str, opener: str) -> None:
    assert is_incomplete(text)
    assert open_construct(text) == opener


@pytest.mark.parametrize(
    "text",
    [
        "Get-Service W32time",
        "$x = 5",
        "function f { 'a' }",
        "function f {\n 'a'\n}",
        "'it''s closed'",
        '"a ""quoted"" word"',
        '"escaped `" quote"',
        "\"sub $(Get-Date -Format 'yyyy') done\"",
        '$s = @"\nhello { unbalanced (\n"@',
        "$s = @'\n'not the end\n'@",
        "'{' + \"(\"",
        "Get-Service # a comment with { and '",
        "<# closed { #> Get-Date",
        "Get-Service ||",  # PowerShell 7 chain operator, not a dangling pipe
        "Get-Service `  ",  # a backtick followed by spaces does not continue the line
        "",
    ],
)
def test_complete(text: str) -> None:
    assert not is_incomplete(text), text
    assert open_construct(text) is None


def test_here_string_closer_must_start_the_line() -> None:
    assert is_incomplete('$s = @"\n  "@')  # indented closer is content
    assert not is_incomplete('$s = @"\n  x\n"@')


def test_blank_line_inside_literal_is_content() -> None:
    assert in_literal('$s = @"\n')
    assert in_literal("<# note")
    assert not in_literal("function f {")


def test_curly_quotes_count_as_quotes() -> None:
    assert is_incomplete("Write-Output \u2018abc")
    assert not is_incomplete("Write-Output \u2018abc\u2019")
