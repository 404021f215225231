"""PowerShell's binary operators on values: comparison (-eq, -like, -match, -contains, -replace,
-split, -is, -as ...; about_Comparison_Operators), + and the arithmetic operators
(about_Arithmetic_Operators), and indexing (about_Arrays)."""

from __future__ import annotations

import datetime
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from psrpcore.types import ErrorCategory, PSObject

from winhost.engine.errors import PSRuntimeError, not_emulated, terminating
from winhost.engine.formatting import composite_format
from winhost.engine.types import cast_value, is_type
from winhost.engine.values import (
    as_list,
    dotnet_regex,
    get_property,
    is_collection,
    like,
    ps_compare,
    ps_equals,
    regex_match,
    to_bool,
    to_number,
    to_string,
)


def index_value(target: Any, index: Any) -> Any:
    if target is None:
        raise terminating("Cannot index into a null array.", "NullArray", ErrorCategory.InvalidOperation)
    if hasattr(target, "get_item") and getattr(type(target), "_winhost_dotnet", False):
        return target.get_item(index)
    if is_collection(index):
        return [index_value(target, i) for i in index]
    if isinstance(target, dict):
        found, value = (
            get_property(target, to_string(index))
            if isinstance(index, str)
            else (index in target, target.get(index))
        )
        return value if found else None
    if isinstance(target, (list, tuple, str)):
        i = int(to_number(index))
        try:
            return target[i]
        except IndexError:
            return None
    if isinstance(target, PSObject):
        found, value = get_property(target, to_string(index))
        return value
    if int(to_number(index)) in (0, -1):
        return target
    return None


#: Operators that take a case prefix: -ceq / -ieq (case-sensitive / -insensitive).
_CASE_PREFIXED = frozenset(
    [
        "eq",
        "ne",
        "gt",
        "ge",
        "lt",
        "le",
        "like",
        "notlike",
        "match",
        "notmatch",
        "contains",
        "notcontains",
        "in",
        "notin",
        "replace",
        "split",
    ]
)
#: Operators that filter when the left side is a collection (``1,2,3 -gt 1`` is ``2,3``).
_FILTERING = frozenset(["eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch"])


def _contains(collection: Any, value: Any, case: bool) -> bool:
    return any(ps_equals(v, value, case) for v in as_list(collection))


def _replace(left: Any, right: Any, case: bool) -> str:
    args = as_list(right)
    pattern, repl = to_string(args[0]), to_string(args[1]) if len(args) > 1 else ""
    repl = re.sub(r"\$(\d+)", r"\\\1", repl)
    repl = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", repl)
    return re.sub(dotnet_regex(pattern), repl, to_string(left), flags=0 if case else re.IGNORECASE)


def _split(left: Any, right: Any, case: bool) -> list[str]:
    return re.split(dotnet_regex(to_string(right)), to_string(left), flags=0 if case else re.IGNORECASE)


def _as(left: Any, right: Any, case: bool) -> Any:
    try:
        return cast_value(right if isinstance(right, str) else getattr(right, "name", str(right)), left)
    except PSRuntimeError:
        return None


_COMPARISONS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "eq": ps_equals,
    "ne": lambda left, right, case: not ps_equals(left, right, case),
    "gt": lambda left, right, case: ps_compare(left, right) > 0,
    "ge": lambda left, right, case: ps_compare(left, right) >= 0,
    "lt": lambda left, right, case: ps_compare(left, right) < 0,
    "le": lambda left, right, case: ps_compare(left, right) <= 0,
    "like": like,
    "notlike": lambda left, right, case: not like(left, right, case),
    "match": lambda left, right, case: regex_match(left, right, case) is not None,
    "notmatch": lambda left, right, case: regex_match(left, right, case) is None,
    "contains": _contains,
    "notcontains": lambda left, right, case: not _contains(left, right, case),
    "in": lambda left, right, case: _contains(right, left, case),
    "notin": lambda left, right, case: not _contains(right, left, case),
    "replace": _replace,
    "split": _split,
    "join": lambda left, right, case: to_string(right).join(to_string(v) for v in as_list(left)),
    "is": lambda left, right, case: is_type(left, right),
    "isnot": lambda left, right, case: not is_type(left, right),
    "as": _as,
}


def compare(op: str, left: Any, right: Any) -> Any:
    """``left <op> right`` for the comparison-like operators (``op`` as written, lower case)."""
    prefixed = op[:2] in ("-c", "-i") and op[2:] in _CASE_PREFIXED
    base = op[2:] if prefixed else op[1:]
    case = prefixed and op[1] == "c"
    if base in _FILTERING and is_collection(left):
        return [v for v in left if compare(op, v, right) is True]
    func = _COMPARISONS.get(base)
    if func is None:
        raise not_emulated(f"the operator '{op}'")
    return func(left, right, case)


def add(left: Any, right: Any) -> Any:
    """``+``: string concatenation, array concatenation, hashtable merge, date + timespan, sum."""
    if left is None:
        return right
    if isinstance(left, str):
        return left + to_string(right)
    if is_collection(left):
        return list(left) + as_list(right)
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        merged.update(right)
        return merged
    if isinstance(left, datetime.datetime) and isinstance(right, datetime.timedelta):
        return left + right
    return arith("+", left, right)


def _divide_by_zero() -> PSRuntimeError:
    return terminating(
        "Attempted to divide by zero.",
        "RuntimeException",
        ErrorCategory.NotSpecified,
        exception_type="System.DivideByZeroException",
    )


def _divide(a: Any, b: Any) -> Any:
    if b == 0:
        raise _divide_by_zero()
    result = a / b
    return int(result) if result == int(result) and isinstance(a, int) and isinstance(b, int) else result


def _remainder(a: Any, b: Any) -> Any:
    if b == 0:
        raise _divide_by_zero()
    # .NET remainder keeps the sign of the dividend (-1 % 2 == -1).
    result = math.fmod(a, b)
    return int(result) if isinstance(a, int) and isinstance(b, int) else result


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
    "%": _remainder,
}


def arith(op: str, left: Any, right: Any) -> Any:
    """``- * / %`` (and ``+`` on numbers): string and array repetition, date differences."""
    if op == "*" and isinstance(left, str):
        return left * int(to_number(right))
    if op == "*" and is_collection(left):
        return list(left) * int(to_number(right))
    if (
        op == "-"
        and isinstance(left, datetime.datetime)
        and isinstance(right, datetime.datetime | datetime.timedelta)
    ):
        return left - right
    func = _ARITHMETIC.get(op)
    if func is None:
        raise not_emulated(f"the operator '{op}'")
    return func(to_number(left), to_number(right))


def _range(left: Any, right: Any) -> list[int]:
    a, b = int(to_number(left)), int(to_number(right))
    return list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))


_BITWISE: dict[str, Callable[[int, int], int]] = {
    "-band": operator.and_,
    "-bor": operator.or_,
    "-bxor": operator.xor,
}


def _bitwise(op: str, left: Any, right: Any) -> int:
    func = _BITWISE.get(op)
    if func is None:
        raise not_emulated(f"the operator '{op}'")
    return func(int(to_number(left)), int(to_number(right)))


#: Binary expressions by syntax node kind: (operator as written, left, right) -> value.
_BINARY: dict[str, Callable[[str, Any, Any], Any]] = {
    "comparison_expression": compare,
    "additive_expression": lambda op, left, right: add(left, right) if op == "+" else arith("-", left, right),
    "multiplicative_expression": arith,
    "format_expression": lambda op, left, right: composite_format(to_string(left), as_list(right)),
    "range_expression": lambda op, left, right: _range(left, right),
    "bitwise_expression": _bitwise,
}


def binary(kind: str, op: str, left: Any, right: Any) -> Any:
    """A binary expression of syntax kind ``kind`` (``additive_expression`` ...) on two values."""
    func = _BINARY.get(kind)
    if func is None:
        raise not_emulated(f"the operator '{op}'")
    return func(op, left, right)


_UNARY: dict[str, Callable[[Any], Any]] = {
    "!": lambda v: not to_bool(v),
    "-not": lambda v: not to_bool(v),
    "-": lambda v: -to_number(v),
    "+": to_number,
    ",": lambda v: [v],
    "-bnot": lambda v: ~int(to_number(v)),
    "-split": lambda v: re.split(r"\s+", to_string(v).strip()),
    "-join": lambda v: "".join(to_string(x) for x in as_list(v)),
}


def unary(op: str, operand: Any) -> Any:
    """A unary operator (about_Operators): ! -not - + , -bnot -split -join."""
    func = _UNARY.get(op)
    if func is None:
        raise not_emulated(f"the unary operator '{op}'")
    return func(operand)
