"""invoke/_session.py: an invoke_command pipeline rewritten to run in the session runspace."""

from __future__ import annotations

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
    SESSION_MARKER,
    SESSION_RUNSPACE_SCRIPT,
    in_session,
    session_commands,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import PipelineRequest


def test_pipeline_becomes_one_constant_script_with_typed_parameters() -> None:
    secret = {"__psrp_type__": "SecureString", "value": "s3cret"}
    request: PipelineRequest = {
        "commands": [
            {"name": "$x = 42", "is_script": True, "use_local_scope": False, "end_of_statement": True},
            {
                "name": "Get-Item",
                "parameters": {"Path": "C:\\", "Credential": secret},
                "arguments": [1, [2, 3]],
            },
        ],
        "input": ["a", "b"],
        "depth": 3,
        "host_input": ["answer"],
    }
    wrapped = in_session(request)
    (command,) = wrapped["commands"]
    assert command["name"] == SESSION_RUNSPACE_SCRIPT and SESSION_RUNSPACE_SCRIPT.startswith(SESSION_MARKER)
    assert command["is_script"] is True
    assert "42" not in command["name"] and "s3cret" not in command["name"]  # values never in the text
    assert command["parameters"]["InputObjects"] == ["a", "b"]
    assert "Temporary" not in command["parameters"]
    assert "input" not in wrapped
    assert (wrapped["depth"], wrapped["host_input"]) == (3, ["answer"])
    first, second = command["parameters"]["Commands"]
    # keys whose value is false or empty are left out (the script reads them as $null)
    assert first == {"Name": "$x = 42", "IsScript": True, "EndOfStatement": True}
    assert second["Parameters"] == [
        {"Name": "Path", "Value": "C:\\"},
        {"Name": "Credential", "Value": secret},
    ]
    assert second["Arguments"] == [1, [2, 3]]
    assert "IsScript" not in second and "UseLocalScope" not in second and "EndOfStatement" not in second


def test_temporary_session_switch() -> None:
    wrapped = in_session({"commands": [{"name": "Get-Date"}]}, temporary=True)
    assert wrapped["commands"][0]["parameters"]["Temporary"] is True
    assert "InputObjects" not in wrapped["commands"][0]["parameters"]


def test_parameter_order_is_kept() -> None:
    (cmd,) = session_commands([{"name": "x", "parameters": {"b": 1, "a": 2, "c": 3}}])
    assert [p["Name"] for p in cmd["Parameters"]] == ["b", "a", "c"]


def test_cached_form_defines_once_then_calls_with_the_same_typed_parameters() -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
        SESSION_DEFINITION,
        SESSION_FUNCTION,
        SESSION_PARTS,
        cached_form,
    )

    user = "'; Remove-Item C:\\ -Recurse #"
    wrapped = in_session({"commands": [{"name": user, "is_script": True}], "input": [1], "depth": 3})
    cold = cached_form(wrapped, defined=False)
    warm = cached_form(wrapped, defined=True)
    assert cold is not None and warm is not None
    definition, call = cold["commands"]
    assert definition == {
        "name": SESSION_DEFINITION,
        "is_script": True,
        "use_local_scope": True,
        "end_of_statement": True,
    }
    # the function form is the script with the prelude/postlude table after its param block
    head, body = SESSION_RUNSPACE_SCRIPT.split("# Relay every record", 1)
    assert head + SESSION_PARTS + "# Relay every record" + body in SESSION_DEFINITION
    assert SESSION_FUNCTION in SESSION_DEFINITION
    assert warm["commands"] == [call]
    assert call["name"] == SESSION_FUNCTION and not call["is_script"]
    assert call["parameters"] == wrapped["commands"][0]["parameters"]  # values stay parameters
    assert user not in SESSION_DEFINITION and warm["depth"] == 3
    assert cached_form({"commands": [{"name": "Get-Date"}]}, defined=True) is None


def test_function_missing_only_for_our_function_when_nothing_ran() -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
        SESSION_FUNCTION,
        function_missing,
    )

    ours = {"fully_qualified_error_id": "CommandNotFoundException", "target_object": SESSION_FUNCTION}
    other = {"fully_qualified_error_id": "CommandNotFoundException", "target_object": "Get-Nothing"}
    assert function_missing({"output": [], "error": [ours]})  # type: ignore[typeddict-item]
    assert not function_missing({"output": [1], "error": [ours]})  # type: ignore[typeddict-item]
    assert not function_missing({"output": [], "error": [other]})  # type: ignore[typeddict-item]


def test_cached_form_names_the_prelude_and_postlude_instead_of_sending_them() -> None:
    """A script that needs $Ansible: the warm call carries Part names, the same typed prelude
    parameters, and none of the prelude/postlude text (the function form holds it)."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
        InvokeSpec,
        build_plan,
    )
    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
        PARTS,
        POSTLUDE,
        PRELUDE,
        PRELUDE_PIPED,
        SESSION_DEFINITION,
        cached_form,
    )

    for piped, prelude in ((False, "Prelude"), (True, "PreludePiped")):
        spec = InvokeSpec(script="$Ansible.Changed = $false", chdir="C:\\temp", input=[1] if piped else None)
        wrapped = build_plan(spec).wire_request()
        plain = wrapped["commands"][0]["parameters"]["Commands"]
        warm = cached_form(wrapped, defined=True)
        assert warm is not None
        (call,) = warm["commands"]
        sent = call["parameters"]["Commands"]
        assert [c.get("Part") for c in sent] == [prelude, None, "Postlude"]
        assert [c["Name"] for c in sent] == ["", spec.script, ""]
        # everything else of each entry (typed parameters included) is the plain form's
        for entry, original in zip(sent, plain, strict=True):
            assert {k: v for k, v in entry.items() if k not in ("Name", "Part")} == {
                k: v for k, v in original.items() if k != "Name"
            }
        assert sent[0]["Parameters"][3] == {"Name": "Location", "Value": "C:\\temp"}
        text = repr(warm)
        assert PRELUDE not in text and PRELUDE_PIPED not in text and POSTLUDE not in text
    assert set(PARTS.values()) == {PRELUDE, PRELUDE_PIPED, POSTLUDE}
    for name, part in PARTS.items():
        # single-quoted here-strings in the function form: no line of a part may end one early
        assert not any(line.startswith("'@") for line in part.splitlines())
        assert f"    {name} = @'\n{part.rstrip()}\n'@\n" in SESSION_DEFINITION
