"""_invoke: the pipeline of one invoke_command run (values travel as parameters, never as text)."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
    POSTLUDE,
    PRELUDE,
    PRELUDE_PIPED,
    STATE_TYPE_NAME,
    VERBATIM_ARGUMENT,
    InvokeError,
    InvokeSpec,
    build_plan,
    check_mode_runs,
    cleanup_request,
    read_result,
    references_ansible,
    strip_comments,
    supports_should_process,
    using_expression_key,
    using_parameter,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import SESSION_RUNSPACE_SCRIPT
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import empty_result


def test_using_key_is_base64_utf16le_of_lowercased_expression() -> None:
    # PsUtils.GetUsingExpressionKey: StringToBase64String(usingAst.ToString().ToLowerInvariant())
    key = using_expression_key("$Using:ServiceName")
    assert base64.b64decode(key).decode("utf-16-le") == "$using:servicename"


def test_using_parameter_covers_each_spelling_and_only_referenced_values() -> None:
    script = 'Get-Service -Name $Using:Name; "${using:name}"; $USING:name.Length # $using:gone'
    values = using_parameter(script, {"NAME": "W32Time", "unused": 1})
    assert set(values.values()) == {"W32Time"}
    decoded = {base64.b64decode(k).decode("utf-16-le") for k in values}
    assert decoded == {"$using:name", "${using:name}"}


def test_using_without_value_fails_before_sending() -> None:
    with pytest.raises(InvokeError, match="Missing"):
        using_parameter("$Using:Missing", {})


def test_indexed_using_is_refused() -> None:
    with pytest.raises(InvokeError, match=r"\$Using:a\[\.\.\.\]"):
        using_parameter("$using:a[0]", {"a": [1]})


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("[CmdletBinding(SupportsShouldProcess)]\nparam()", True),
        ("[CmdletBinding(SupportsShouldProcess=$true, ConfirmImpact='High')] param($a)", True),
        ("[cmdletbinding(supportsshouldprocess = $True)]param()", True),
        ("[CmdletBinding(SupportsShouldProcess=$false)] param()", False),
        ("[CmdletBinding()] param()", False),
        ("# [CmdletBinding(SupportsShouldProcess)]\nparam()", False),
        ("<# [CmdletBinding(SupportsShouldProcess)] #> param()", False),
        ("Get-Service", False),
    ],
)
def test_supports_should_process(script: str, expected: bool) -> None:
    assert supports_should_process(script) is expected


def test_strip_comments_keeps_strings() -> None:
    text = "'# not a comment' \"also # not\" # gone\n@'\n# here-string\n'@ <# gone #>x"
    stripped = strip_comments(text)
    assert "'# not a comment'" in stripped
    assert '"also # not"' in stripped
    assert "# here-string" in stripped
    assert "gone" not in stripped


def test_ansible_reference_detection() -> None:
    assert references_ansible("$Ansible.Changed = $false")
    assert references_ansible("${ansible}.Result = 1")
    assert not references_ansible("Write-Output 'Ansible'  # $Ansible")


def test_plain_script_is_one_command_with_typed_values() -> None:
    spec = InvokeSpec(
        script='param($Name, $Greeting) "$Greeting $Name $Using:suffix"',
        arguments=["World"],
        parameters={"Greeting": "Hi"},
        using={"suffix": "!"},
    )
    plan = build_plan(spec)
    assert not plan.uses_state
    (cmd,) = plan.request["commands"]
    assert cmd["name"] == spec.script  # the user's text, untouched
    # Not in a local scope: `$x = 42` stays in the session, as with Invoke-Command -Session.
    assert cmd["is_script"] and cmd["use_local_scope"] is False
    assert cmd["arguments"] == ["World"]
    assert cmd["parameters"]["Greeting"] == "Hi"
    assert cmd["parameters"][VERBATIM_ARGUMENT] == {using_expression_key("$Using:suffix"): "!"}


def test_should_process_script_gets_whatif_in_check_mode() -> None:
    script = "[CmdletBinding(SupportsShouldProcess)] param() Stop-Service W32Time"
    plan = build_plan(InvokeSpec(script=script, check_mode=True, parameters={"WhatIf": False}))
    params = plan.request["commands"][0]["parameters"]
    assert params["WhatIf"] is True
    assert params["Confirm"] is False
    assert check_mode_runs(InvokeSpec(script=script))
    assert not check_mode_runs(InvokeSpec(script="Stop-Service W32Time"))


def test_ansible_script_is_wrapped_in_constant_prelude_and_postlude() -> None:
    spec = InvokeSpec(script="$Ansible.Changed = $false", chdir=r"C:\temp", error_action="stop", verbosity=3)
    plan = build_plan(spec)
    names = [c["name"] for c in plan.request["commands"]]
    assert names == [PRELUDE, spec.script, POSTLUDE]
    prelude = plan.request["commands"][0]
    assert prelude["parameters"]["Location"] == r"C:\temp"
    assert prelude["parameters"]["ErrorActionName"] == "Stop"
    assert prelude["parameters"]["Verbosity"] == 3
    assert prelude["end_of_statement"] is True
    # constants: no value reached the script text
    assert r"C:\temp" not in PRELUDE + POSTLUDE


def test_input_goes_through_the_piped_prelude() -> None:
    plan = build_plan(InvokeSpec(script="$input | % { $Ansible.Result = $_ }", input=[1, 2]))
    first, user, _ = plan.request["commands"]
    assert first["name"] == PRELUDE_PIPED
    assert first["end_of_statement"] is False  # same statement: input flows into the script
    assert user["end_of_statement"] is True
    assert plan.request["input"] == [1, 2]


def test_command_mode() -> None:
    plan = build_plan(InvokeSpec(command="Get-Service", parameters={"Name": "W32Time"}))
    (cmd,) = plan.request["commands"]
    assert cmd == {"name": "Get-Service", "is_script": False, "parameters": {"Name": "W32Time"}}
    assert plan.default_changed is False
    assert build_plan(InvokeSpec(command="Restart-Service")).default_changed is True
    with pytest.raises(InvokeError):
        build_plan(InvokeSpec(command="Get-Item", using={"a": 1}))


def _result(output: list[object], state: str = "Completed", error: list[dict] | None = None) -> dict:
    result = dict(empty_result())
    result.update(output=output, state=state, error=error or [])
    return result


def test_read_result_pops_the_ansible_state() -> None:
    plan = build_plan(InvokeSpec(script="$Ansible.Changed = $false; 'hi'"))
    marker = {"Changed": False, "Failed": True, "PSTypeNames": ["Deserialized." + STATE_TYPE_NAME]}
    fields = read_result(plan, _result(["hi", marker, {"k": 1}, {"before": "a"}]), "continue")  # type: ignore[arg-type]
    assert fields["output"] == ["hi"]
    assert fields["changed"] is False
    assert fields["failed"] is True
    assert fields["result"] == {"k": 1}
    assert fields["diff"] == {"before": "a"}


def test_read_result_failure_rules() -> None:
    plan = build_plan(InvokeSpec(script="Write-Error x"))
    err = {"exception": {"message": "x"}, "error_details": None}
    assert not read_result(plan, _result([], error=[err]), "continue")["failed"]  # type: ignore[arg-type]
    stop = read_result(plan, _result([], error=[err]), "stop")  # type: ignore[arg-type]
    assert stop["failed"] and stop["msg"] == "x"
    assert read_result(plan, _result([], error=[err]), "silently_continue")["error"] == []  # type: ignore[arg-type]
    assert read_result(plan, _result([], state="Failed", error=[err]), "continue")["failed"]  # type: ignore[arg-type]


def test_the_wire_request_runs_the_pipeline_in_the_session_runspace() -> None:
    plan = build_plan(InvokeSpec(script="$x = 42", input=[1, 2]))
    (wrapper,) = plan.wire_request()["commands"]
    assert wrapper["name"] == SESSION_RUNSPACE_SCRIPT
    params = wrapper["parameters"]
    assert [c["Name"] for c in params["Commands"]] == ["$x = 42"]
    assert params["InputObjects"] == [1, 2] and "Temporary" not in params
    temporary = build_plan(InvokeSpec(script="$x", session_state="temporary")).wire_request()
    assert temporary["commands"][0]["parameters"]["Temporary"] is True
    assert cleanup_request()["commands"][0]["parameters"]["Commands"][0]["Name"] == POSTLUDE


def test_unknown_session_state_is_refused() -> None:
    with pytest.raises(InvokeError, match="session_state must be one of persistent, temporary"):
        build_plan(InvokeSpec(script="1", session_state="shared"))
