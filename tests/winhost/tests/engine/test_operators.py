"""winhost/engine/operators.py: comparison and arithmetic operators as
about_Comparison_Operators and about_Arithmetic_Operators describe them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from winhost.engine.errors import PSRuntimeError
from winhost.engine.operators import add, arith, compare


def test_case_prefix_only_on_the_case_prefixed_operators() -> None:
    """-contains is case-insensitive; only -ccontains is case-sensitive (the 'c' of 'contains' is
    not a case prefix)."""
    assert compare("-contains", ["A", "b"], "a") is True
    assert compare("-ccontains", ["A", "b"], "a") is False
    assert compare("-icontains", ["A", "b"], "a") is True
    assert compare("-ceq", "A", "a") is False
    assert compare("-ieq", "A", "a") is True


def test_filtering_operators_filter_a_collection() -> None:
    assert compare("-gt", [1, 2, 3], 1) == [2, 3]
    assert compare("-like", ["ab", "cd"], "a*") == ["ab"]
    # -contains tests the collection, it does not filter it
    assert compare("-contains", [1, 2], 2) is True


def test_is_as_join_split_replace() -> None:
    assert compare("-is", 1, "int") is True
    assert compare("-isnot", "x", "int") is True
    assert compare("-as", "12", "int") == 12
    assert compare("-as", "x", "int") is None
    assert compare("-join", ["a", "b"], ",") == "a,b"
    assert compare("-split", "a1b2c", r"\d") == ["a", "b", "c"]
    assert compare("-replace", "John Smith", [r"(\w+) (\w+)", "$2, $1"]) == "Smith, John"


def test_unknown_operator_is_not_emulated() -> None:
    with pytest.raises(PSRuntimeError, match="winhost does not emulate"):
        compare("-shl", 1, 2)


ARITH: list[tuple[Callable[[], Any], Any]] = [
    (lambda: arith("/", 10, 4), 2.5),
    (lambda: arith("/", 10, 5), 2),
    (lambda: arith("%", -1, 2), -1),  # the remainder keeps the dividend's sign
    (lambda: arith("*", "ab", 2), "abab"),
    (lambda: arith("*", [1], 3), [1, 1, 1]),
    (lambda: add("a", 1), "a1"),
    (lambda: add([1], 2), [1, 2]),
    (lambda: add({"a": 1}, {"b": 2}), {"a": 1, "b": 2}),
    (
        lambda: arith("-", datetime.datetime(2020, 1, 2), datetime.datetime(2020, 1, 1)),
        datetime.timedelta(days=1),
    ),
]


@pytest.mark.parametrize(("call", "expected"), ARITH)
def test_arithmetic(call: Callable[[], Any], expected: Any) -> None:
    assert call() == expected


@pytest.mark.parametrize("op", ["/", "%"])
def test_divide_by_zero(op: str) -> None:
    with pytest.raises(PSRuntimeError, match="Attempted to divide by zero"):
        arith(op, 1, 0)
