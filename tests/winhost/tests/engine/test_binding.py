"""winhost/engine/binding.py: param blocks and command arguments as about_Functions_Advanced_Parameters,
about_CommonParameters and about_Splatting describe them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from winhost.engine.binding import DeclaredParameter, declared_parameters
from winhost.engine.syntax import named, parse

from .helpers import Engine


def _param_block(text: str) -> Any:
    return next(n for n in named(parse(text)) if n.type == "param_block")


def test_declared_parameters_are_named_records() -> None:
    block = _param_block(
        "param(\n    [Parameter(Mandatory = $true, ValueFromPipeline)]\n    [string]$Name,\n"
        "    [switch]$Force,\n    $Count = 3\n)\n$Name\n"
    )
    name, force, count = declared_parameters(block)
    assert name == DeclaredParameter("Name", type_name="string", mandatory=True, from_pipeline=True)
    assert force == DeclaredParameter("Force", type_name="switch", switch=True)
    assert (count.name, count.default is not None, count.type_name) == ("Count", True, None)
    assert declared_parameters(None) == []


def test_binding_order_prefix_positional_and_defaults(run: Callable[[str], list[Any]]) -> None:
    script = "function f { param([int]$Count, $Name = 'd', [switch]$Force) \"$Count|$Name|$Force|$($args.Count)\" }\n"
    assert run(script + "f 1 x y") == ["1|x|False|1"]
    assert run(script + "f -Na n -Fo -Co 2") == ["2|n|True|0"]
    assert run(script + "f 7") == ["7|d|False|0"]


def test_parenthesized_function_parameters_bind_like_a_param_block(run: Callable[[str], list[Any]]) -> None:
    """about_Functions: "function <name> [([type]$parameter1[,[type]$parameter2])] { ... }" declares
    the same parameters a param() block would: positional, named, typed, with defaults."""
    script = "function f([int]$Count, $Name = 'd') { \"$Count|$Name|$($args.Count)\" }\n"
    assert run(script + "f 1 x y") == ["1|x|1"]
    assert run(script + "f -Name n -Count '2'") == ["2|n|0"]
    assert run(script + "f 7") == ["7|d|0"]
    assert run("function h([int]$a, $b = 2) { $a + $b }; h 3") == [5]


def test_common_parameters_are_accepted_by_a_function(engine: Engine) -> None:
    """Every common parameter (about_CommonParameters) binds; -ErrorAction sets the function's
    $ErrorActionPreference."""
    script = (
        "function f { [CmdletBinding()] param($Name) $ErrorActionPreference }\n"
        "f -Name x -ErrorAction Stop -ErrorVariable e -OutVariable o -WarningAction Ignore\n"
        "f -ea Ignore\n"
    )
    assert engine.ok(script) == ["Stop", "Ignore"]
    failed = engine.script("function f { param($Name) }\nf -Nope 1\n").failure
    assert failed is not None
    assert str(failed.Exception.Message) == "A parameter cannot be found that matches parameter name 'Nope'."


def test_splatting_and_switch_arguments(run: Callable[[str], list[Any]]) -> None:
    script = (
        'function f { param($A, $B, [switch]$S) "$A-$B-$S" }\n'
        "$h = @{ A = 1; S = $true }; $l = @(7, 8)\n"
        "f @h; f @l; f -S:$false 5\n"
    )
    assert run(script) == ["1--True", "7-8-False", "5--False"]


def test_method_call_on_a_parenthesized_argument_is_one_value(run: Callable[[str], list[Any]]) -> None:
    """about_Parsing: an argument that starts with ``(`` is an expression, member access and
    method call included: ``-NotAfter (Get-Date).AddDays(730)`` binds the method's result (the
    enable_psremoting bootstrap template passes it so); ``(x).M (y)`` with a space stays two."""
    assert run(
        "function f { param($When) $When -is [datetime]; ($When - (Get-Date)).Days }; f -When (Get-Date).AddDays(800)"
    ) == [True, 799]
    (cert,) = run("New-SelfSignedCertificate -DnsName web -NotAfter (Get-Date).AddDays(730)")
    assert 729 <= (cert.NotAfter - cert.NotBefore).days <= 730
    assert run("Write-Output ('a-b').Split('-') 'c'") == ["a", "b", "c"]
    assert run("function f { $args.Count }; f ('x').ToUpper() ('y')") == [2]
