"""Property tests: integer arithmetic and comparisons agree with PowerShell's (= Python's for
these operators on Int32 ranges; PowerShell's % keeps the dividend's sign like C#)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from winhost.engine.model import fresh

from .helpers import Engine

ENGINE = Engine(fresh())
small = st.integers(min_value=-1000, max_value=1000)


@settings(max_examples=60, deadline=None)
@given(a=small, b=small, c=small)
def test_arithmetic_precedence(a: int, b: int, c: int) -> None:
    assert ENGINE.ok(f"({a}) + ({b}) * ({c}) - ({a})") == [a + b * c - a]


@settings(max_examples=60, deadline=None)
@given(a=small, b=small.filter(lambda v: v != 0))
def test_remainder_has_sign_of_dividend(a: int, b: int) -> None:
    assert ENGINE.ok(f"({a}) % ({b})") == [int(math.fmod(a, b))]


@settings(max_examples=60, deadline=None)
@given(a=small, b=small)
def test_comparisons(a: int, b: int) -> None:
    assert ENGINE.ok(f"({a}) -lt ({b}); ({a}) -ge ({b}); ({a}) -eq ({b})") == [a < b, a >= b, a == b]


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=20))
def test_verbatim_strings_round_trip(text: str) -> None:
    assert ENGINE.ok(f"'{text}'.ToUpper(); '{text}'.Length") == [text.upper(), len(text)]
