"""The script subset (tests/winhost/SCRIPT_SUBSET.md): expected values follow PowerShell's
language specification (about_Operators, about_Quoting_Rules, about_Splatting, about_Scopes,
about_Try_Catch_Finally, about_Switch, about_Functions_Advanced_Parameters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from psrpcore import Command
from psrpcore.types import ErrorCategory

from winhost.engine.hosts import RecordingHost

from .helpers import Engine

CASES: list[tuple[str, list[Any]]] = [
    # literals and operators (about_Operators, about_Arithmetic_Operators)
    ("1 + 2 * 3", [7]),
    ("(1 + 2) * 3", [9]),
    ("7 % 3; 10 / 4; 10 / 5", [1, 2.5, 2]),
    ("0x10 + 1kb", [1040]),
    ("'a' + 1", ["a1"]),
    ("1 + '2'", [3]),
    ("'ab' * 3", ["ababab"]),
    ("1, 2, 3", [1, 2, 3]),
    ("@(1, 2) + 3", [1, 2, 3]),
    ("@().Count; @(5).Count", [0, 1]),
    ("1..4", [1, 2, 3, 4]),
    ("$a = 1 .. 3; $a[0]; $a[-1]", [1, 3]),
    ("-not $true; !$false", [False, True]),
    ("$true -and $false; $true -or $false; $true -xor $true", [False, True, False]),
    # comparison (about_Comparison_Operators)
    ("'ABC' -eq 'abc'; 'ABC' -ceq 'abc'; 5 -gt 3; 5 -le 4", [True, False, True, False]),
    ("1, 2, 3, 2 -eq 2", [2, 2]),
    ("'Windows' -like 'win*'; 'Windows' -notlike '*x'", [True, True]),
    ("'abc123' -match '\\d+'; $Matches[0]", [True, "123"]),
    ("'key=value' -match '^(?<k>\\w+)='; $Matches.k", [True, "key"]),
    ("1, 2, 3 -contains 2; 4 -in 1, 2, 3", [True, False]),
    ("'a-b-c' -replace '-', '+'", ["a+b+c"]),
    ("'a,b,c' -split ','", ["a", "b", "c"]),
    ("@('x', 'y') -join ';'", ["x;y"]),
    ("'{0} has {1:N1} GB' -f 'C', 12.345", ["C has 12.3 GB"]),
    ("$null -eq $null; $null -eq 0", [True, False]),
    ("'5' -is [string]; 5 -is [int]; 5 -isnot [string]", [True, True, True]),
    # strings (about_Quoting_Rules)
    ("$n = 'World'; \"Hello $n\"; 'Hello $n'", ["Hello World", "Hello $n"]),
    ('$o = [pscustomobject]@{ N = 2 }; "v=$($o.N * 2)"', ["v=4"]),
    ('"tab`there"', ["tab\there"]),
    ("$env:COMPUTERNAME", ["WINHOST"]),
    ('"${env:OS}!"', ["Windows_NT!"]),
    ("@'\nline $x\n'@", ["line $x"]),
    ('$x = 3\n@"\nx is $x\n"@', ["x is 3"]),
    # variables, casts, assignment
    ("$x = 5; $x += 2; $x -= 1; $x *= 2; $x", [12]),
    ("[int]'42' + 1; [string]42 + 1", [43, "421"]),
    ("[int]$v = '7'; $v + 1", [8]),
    ("$a, $b = 1, 2; $b; $a", [2, 1]),
    ("$i = 0; $i++; $i++; $i", [2]),
    ("[bool]'' ; [bool]'x'", [False, True]),
    # hashtables and objects
    ("$h = @{ A = 1; B = 2 }; $h.A + $h['B']; $h.Count", [3, 2]),
    ("$h = @{}; $h.x = 1; $h.Add('y', 2); $h.ContainsKey('X'); $h.Keys.Count", [True, 2]),
    ("$o = [pscustomobject]@{ Name = 'n'; Size = 3 }; $o.Name; $o.Size", ["n", 3]),
    ("$o = [pscustomobject]@{ A = 1 }; $o.A = 5; $o.A", [5]),
    ("'abc'.ToUpper(); 'a,b'.Split(',').Count; ' x '.Trim(); 'abc'.Length", ["ABC", 2, "x", 3]),
    ("'hello'.Substring(1, 3); 'hello'.StartsWith('he'); 'hello'.Replace('l', 'L')", ["ell", True, "heLLo"]),
    ("(1, 2, 3).Count; (1, 2, 3).Contains(2)", [3, True]),
    ("[string]::IsNullOrEmpty($null); [string]::Join('-', @('a', 'b'))", [True, "a-b"]),
    ("[Environment]::MachineName; [math]::Max(3, 9)", ["WINHOST", 9]),
    ("$sb = [scriptblock]::Create('param($v) $v * 2'); & $sb 21", [42]),
    # control flow (about_If, about_Foreach, about_For, about_While, about_Switch)
    ("if (0) { 'a' } elseif ('') { 'b' } else { 'c' }", ["c"]),
    ("foreach ($i in 1..5) { if ($i -eq 2) { continue }; if ($i -eq 4) { break }; $i }", [1, 3]),
    # foreach does not enumerate a $null collection, but does a collection holding $null
    # (learn.microsoft.com/powershell/scripting/learn/deep-dives/everything-about-null, "foreach")
    ("foreach ($i in $null) { 'ran' }; $h = @{}; foreach ($i in $h.Missing) { 'ran' }", []),
    ("foreach ($i in @($null)) { '[' + $i + ']' }; foreach ($i in $null, $null) { 'n' }", ["[]", "n", "n"]),
    ("for ($i = 0; $i -lt 3; $i++) { $i * 10 }", [0, 10, 20]),
    ("$n = 3; while ($n -gt 0) { $n; $n-- }", [3, 2, 1]),
    ("$n = 0; do { $n++ } while ($n -lt 5); $n", [5]),
    ("$n = 0; do { $n++ } until ($n -ge 2); $n", [2]),
    ("switch ('b') {\n'a' { 1 }\n'b' { 2 }\ndefault { 3 }\n}", [2]),
    ("switch (5) {\n1 { 'one' }\ndefault { 'other' }\n}", ["other"]),
    ("switch -Wildcard ('server01') {\n'server*' { 'srv' }\n'*01' { 'one' }\n}", ["srv", "one"]),
    ('switch (1, 2) {\n{ $_ -gt 1 } { "big $_" }\n}', ["big 2"]),
    # functions and script blocks (about_Functions, about_Scopes)
    (
        "function Add-Two {\nparam([int]$Value = 1)\n$Value + 2\n}\nAdd-Two; Add-Two 5; Add-Two -Value 8",
        [3, 7, 10],
    ),
    ("function f { param($x) return $x * 2 }\nf 4", [8]),
    ("function g { 'a'; return 'b'; 'c' }\ng", ["a", "b"]),
    ("function h { $args.Count }\nh 1 2 3", [3]),
    ("function s { param([switch]$Force) [bool]$Force }\ns; s -Force", [False, True]),
    ("$v = 'outer'; & { $v = 'inner' }; $v", ["outer"]),
    ("$v = 'outer'; . { $v = 'inner' }; $v", ["inner"]),
    ("& { $args[1] } 'a' 'b'", ["b"]),
    ("function Get-Doubled {\nprocess { $_ * 2 }\n}\n1, 2 | Get-Doubled", [2, 4]),
    (
        "function Get-Count {\nbegin { $c = 0 }\nprocess { $c++ }\nend { $c }\n}\n'a', 'b', 'c' | Get-Count",
        [3],
    ),
    ("$params = @{ Name = 'W32Time' }; (Get-Service @params).DisplayName", ["Windows Time"]),
    ("$list = @('W32Time'); (Get-Service @list).Name", ["W32Time"]),
    # try/catch/finally, throw (about_Try_Catch_Finally, about_Throw)
    ("try { throw 'bad' } catch { \"caught $_\" } finally { 'finally' }", ["caught bad", "finally"]),
    ("try { 1 / 0 } catch [System.DivideByZeroException] { 'div' } catch { 'other' }", ["div"]),
    (
        "try { Get-Service nope -ErrorAction Stop } catch { $_.CategoryInfo.Category.ToString() }",
        ["ObjectNotFound"],
    ),
    ("$r = try { 'ok' } catch { 'no' }; $r", ["ok"]),
    # pipelines
    ("1..6 | Where-Object { $_ % 2 -eq 0 } | ForEach-Object { $_ * 10 }", [20, 40, 60]),
    ("3, 1, 2 | Sort-Object; 3, 1, 2 | Sort-Object -Descending", [1, 2, 3, 3, 2, 1]),
    ("(1..10 | Measure-Object -Sum).Sum", [55.0]),
    ("1..3 | Select-Object -First 2; 1..3 | Select-Object -Last 1", [1, 2, 3]),
    (
        "'a', 'b' | ForEach-Object -Begin { 'start' } -Process { $_ } -End { 'end' }",
        ["start", "a", "b", "end"],
    ),
    ("Get-Service | Where-Object Status -eq 'Stopped' | Measure-Object | ForEach-Object Count", [4]),
    ("(Get-Service W32Time, WinRM).Name", ["W32Time", "WinRM"]),
    ("Get-Service -Name W32Time | Select-Object Name, Status | ForEach-Object { $_.Name }", ["W32Time"]),
    ("$x = Get-Service W32Time; $x.Stop(); (Get-Service W32Time).Status.ToString()", ["Stopped"]),
    ("(Get-Service W32Time).Name.ToUpper()", ["W32TIME"]),
]


@pytest.mark.parametrize(("script", "expected"), CASES, ids=[c[0][:50] for c in CASES])
def test_script_subset(run: Callable[[str], list[Any]], script: str, expected: list[Any]) -> None:
    assert run(script) == expected


def test_dollar_input_in_script(engine: Engine) -> None:
    result = engine.script("$input | ForEach-Object { $_ + 1 }", input=iter([1, 2]))
    assert result.output == [2, 3]


def test_error_action_preference_stop_makes_errors_terminating(engine: Engine) -> None:
    result = engine.script("$ErrorActionPreference = 'Stop'; Get-Service nope; 'after'")
    assert result.output == []
    assert result.failure is not None
    assert (
        result.failure.FullyQualifiedErrorId
        == "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    )


def test_non_terminating_error_continues(engine: Engine) -> None:
    result = engine.script("Get-Service nope, W32Time | ForEach-Object Name; 'after'")
    assert result.output == ["W32Time", "after"]
    (err,) = result.errors
    assert str(err.Exception.Message) == "Cannot find any service with service name 'nope'."
    assert err.CategoryInfo.Category == ErrorCategory.ObjectNotFound
    assert err.Exception.PSObject.type_names[0] == "Microsoft.PowerShell.Commands.ServiceCommandException"


def test_silently_continue_hides_error_but_records_it(engine: Engine) -> None:
    result = engine.script("Get-Service nope -ErrorAction SilentlyContinue; $Error.Count")
    assert result.errors == []
    assert result.output == [1]


def test_error_action_ignore_does_not_record(engine: Engine) -> None:
    assert engine.ok("Get-Service nope -ErrorAction Ignore; $Error.Count") == [0]


def test_using_scope_is_invalid_locally(engine: Engine) -> None:
    result = engine.script("$using:name")
    assert result.failure is not None
    assert result.failure.FullyQualifiedErrorId == "UsingWithoutInvokeCommand"


@pytest.mark.parametrize(
    ("script", "construct"),
    [
        ("class Foo { }", "class definitions"),
        ("trap { 'x' }", "trap statements"),
        ("Get-Service | Invoke-Thing && 'x'", "pipeline chain"),
        ("& 'C:\\tools\\app.exe' /q", "native programs"),
        ("[System.Text.StringBuilder]::new()", "static method"),
        ("Get-Service > C:\\out.txt", "redirection"),
    ],
)
def test_outside_subset_is_not_emulated(engine: Engine, script: str, construct: str) -> None:
    result = engine.script(script)
    assert result.failure is not None, script
    assert result.failure.CategoryInfo.Category == ErrorCategory.NotImplemented, str(
        result.failure.Exception.Message
    )
    message = str(result.failure.Exception.Message)
    assert message.startswith("winhost does not emulate")
    assert construct in message


def test_parse_error_is_a_parser_error_record(engine: Engine) -> None:
    result = engine.script("if ($x { 'unbalanced' ")
    assert result.failure is not None
    assert result.failure.CategoryInfo.Category == ErrorCategory.ParserError


def test_named_parameter_prefix_and_ambiguity(engine: Engine) -> None:
    assert engine.ok("(Get-Service -N W32Time).Name") == ["W32Time"]
    result = engine.script("Get-Service -D x")
    assert result.failure is not None
    assert "ambiguous" in str(result.failure.Exception.Message)


def test_unknown_parameter_error(engine: Engine) -> None:
    result = engine.script("Get-Service -Bogus 1")
    assert result.failure is not None
    assert (
        result.failure.FullyQualifiedErrorId
        == "NamedParameterNotFound,Microsoft.PowerShell.Commands.GetServiceCommand"
    )


def test_invoke_command_local_with_using(run: Callable[[str], list[Any]]) -> None:
    assert run(
        "$name = 'W32Time'; Invoke-Command -ScriptBlock { (Get-Service $using:name).DisplayName }"
    ) == ["Windows Time"]
    assert run("Invoke-Command { param($a, $b) $a * $b } -ArgumentList 6, 7") == [42]


def test_invoke_command_remote_is_not_emulated(engine: Engine) -> None:
    result = engine.script("Invoke-Command -ComputerName other -ScriptBlock { 1 }")
    assert result.failure is not None
    assert result.failure.CategoryInfo.Category == ErrorCategory.NotImplemented


def test_read_host_asks_the_client(engine: Engine) -> None:
    from psrpcore import Command

    host_answers = ["typed answer"]
    cmd = Command("$a = Read-Host -Prompt 'Name'; \"got $a\"", is_script=True)
    from .helpers import RecordingHost

    host = RecordingHost(lines_to_read=host_answers)
    engine.runspace.invoke([cmd], None, host)
    assert host.output == ["got typed answer"]
    assert host.prompts == ["Name: "]  # PowerShell appends ": " to the prompt text (Read-Host docs)
    host = RecordingHost(lines_to_read=["x"])
    engine.runspace.invoke([Command("Read-Host", is_script=True)], None, host)
    assert host.prompts == [""]  # no prompt, no colon


def test_enum_static_members_and_parse(run: Callable[[str], list[Any]]) -> None:
    script = (
        "$s = Get-Service W32Time\n"
        "$s.Status -eq [System.ServiceProcess.ServiceControllerStatus]::Running\n"
        "[Enum]::Parse([System.ServiceProcess.ServiceControllerStatus], 'stopped', $true).ToString()\n"
        "$s.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Running, [TimeSpan]::FromSeconds(5))\n"
        "[string][ConsoleColor]::Red"
    )
    assert run(script) == [True, "Stopped", "Red"]


def test_environment_static_members_follow_machine_and_user(machine: Any) -> None:
    machine.computer_name = "SQL02"
    assert Engine(machine, user="SQL02\\vagrant").ok(
        "[Environment]::MachineName; [Environment]::UserName"
    ) == [
        "SQL02",
        "vagrant",
    ]


def test_get_command_application_finds_nothing(engine: Engine) -> None:
    assert engine.ok(
        "$null -eq (Get-Command dotnet.exe -CommandType Application -ErrorAction SilentlyContinue)"
    ) == [True]


def test_dollar_question_mark(run: Callable[[str], list[Any]]) -> None:
    script = "Get-Service W32Time | Out-Null\n$?\nGet-Service nope -ErrorAction SilentlyContinue\n$?\n"
    script += "try { throw 'x' } catch { }\n'after'"
    assert run(script) == [True, False, "after"]


def test_process_block_streams_input(engine: Engine) -> None:
    """Each input object reaches the process block before the next one is read."""
    seen: list[str] = []

    def feed() -> Any:
        for item in ("a", "b"):
            seen.append(f"read {item}")
            yield item

    script = "begin { 'begin' }\nprocess { \"got $input\" }\nend { 'end' }"
    result = engine.script(script, input=feed())
    assert result.output == ["begin", "got a", "got b", "end"]
    assert seen == ["read a", "read b"]


def test_process_block_without_input_runs_once(run: Callable[[str], list[Any]]) -> None:
    assert run("& {\nprocess { 'once' }\n}") == ["once"]


def test_assignment_keeps_single_element_arrays(run: Callable[[str], list[Any]]) -> None:
    assert run("$a = @(5); $a.Count; $h = @{ c = @(2) }; $h.c.Count; $b = ,7; $b.Count") == [1, 1, 1]
    assert run("$s = Get-Service W32Time; $s -is [array]; $t = @(Get-Service W32Time); $t.Count") == [
        False,
        1,
    ]


def test_advanced_function_bound_parameters_and_should_process(engine: Engine) -> None:
    script = (
        "function Set-Thing {\n"
        "[CmdletBinding(SupportsShouldProcess)]\n"
        "param([string]$Name, [int]$Size = 1)\n"
        "if ($PSCmdlet.ShouldProcess($Name, 'Set')) { \"set $Name\" }\n"
        "$PSBoundParameters.ContainsKey('Size')\n"
        "}\n"
        "Set-Thing -Name a\n"
        "Set-Thing -Name b -Size 3 -WhatIf\n"
    )
    result = engine.script(script)
    assert result.output == ["set a", False, True]
    assert result.host.host[0][0] == 'What if: Performing the operation "Set" on target "b".'


IDIOMS: list[tuple[str, list[Any]]] = [
    ("$list = [System.Collections.Generic.List[string]]::new(); $list.Add('a'); $list.Count", [1]),
    ("$al = [System.Collections.ArrayList]::new(); $al.Add('a'); $al.Add('b')", [0, 1]),
    ("'a b  c'.Split(' ', [StringSplitOptions]::RemoveEmptyEntries).Count", [3]),
    (
        "Split-Path 'C:\\Windows\\System32' -Leaf; Split-Path 'C:\\Windows\\System32'; Split-Path 'C:\\x' -Parent",
        [
            "System32",
            "C:\\Windows",
            "C:\\",
        ],
    ),
    ("Join-Path 'C:\\a\\' 'b.txt'", ["C:\\a\\b.txt"]),
    ("'x' | Out-File C:\\o.txt; Get-Content C:\\o.txt", ["x"]),
    (
        "try { Get-Item C:\\nope -ErrorAction Stop } catch { $_.Exception.GetType().FullName }",
        ["System.Management.Automation.ItemNotFoundException"],
    ),
    ("$h = [ordered]@{ b = 1; a = 2 }; $h.Keys -join ','", ["b,a"]),
]


@pytest.mark.parametrize(("script", "expected"), IDIOMS, ids=[c[0][:50] for c in IDIOMS])
def test_common_idioms(run: Callable[[str], list[Any]], script: str, expected: list[Any]) -> None:
    assert run(script) == expected


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'it''s'", "it's"),
        ("'a\u2019\u2019b'", "a\u2019b"),
        ("'a\u2018\u2018b\u201a\u201a\u201b\u201bc'", "a\u2018b\u201a\u201bc"),
    ],
)
def test_single_quoted_string_escapes_every_single_quote_character(
    run: Callable[[str], list[Any]], literal: str, value: str
) -> None:
    """about_Quoting_Rules; PowerShell's tokenizer (ScanStringLiteral, CharExtensions.IsSingleQuote)
    takes ' and U+2018..U+201B as single quotes: two in a row stand for the second one."""
    assert run(literal) == [value]


class _EventHost(RecordingHost):
    """Records output and Write-Host in one list, in the order the pipeline writes them."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def write_output(self, value: Any) -> None:
        super().write_output(value)
        self.events.append(f"out:{value}")

    def write_host(self, text: str, *args: Any, **kwargs: Any) -> None:
        super().write_host(text, *args, **kwargs)
        self.events.append(f"host:{text}")


@pytest.mark.parametrize(
    ("script", "events"),
    [
        (
            "try { 'a'; Write-Host 'h'; 'b' } finally { Write-Host 'f' }",
            ["out:a", "host:h", "out:b", "host:f"],
        ),
        (
            "try { 'a'; Write-Host 'h'; throw 'x' } catch { 'caught' }",
            ["out:a", "host:h", "out:caught"],
        ),
        ("while ($true) { try { 'a'; Write-Host 'h'; break } finally { } }", ["out:a", "host:h"]),
    ],
)
def test_output_inside_try_goes_down_the_pipeline_as_it_is_written(
    engine: Engine, script: str, events: list[str]
) -> None:
    """about_Pipelines: "objects sent down the pipeline are delivered one at a time". Output
    written in a try block reaches the pipeline when it is written, before what the block does
    next (fetch_file's chunks leave the host while it reads the rest of the file), not when the
    block ends."""
    host = _EventHost()
    engine.runspace.invoke([Command(script, is_script=True)], None, host)
    assert host.events == events
