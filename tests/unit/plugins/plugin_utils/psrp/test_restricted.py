"""psrp/_restricted: which requests a restricted (JEA, NoLanguage) endpoint can run, and the refusal."""

from __future__ import annotations

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import InvokeSpec, build_plan
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._restricted import (
    for_restricted,
    has_script,
    is_default_configuration,
    mode_from_probe,
    refusal,
    what_needs_scripts,
)


def test_default_configurations_are_not_probed() -> None:
    assert is_default_configuration(None)
    assert is_default_configuration("Microsoft.PowerShell")
    assert is_default_configuration("http://schemas.microsoft.com/powershell/Microsoft.PowerShell32")
    assert is_default_configuration("PowerShell.7")
    assert not is_default_configuration("HelpDesk")


def test_mode_from_probe() -> None:
    assert mode_from_probe(["FullLanguage"], []) == "FullLanguage"
    assert mode_from_probe(["ConstrainedLanguage"], []) == "ConstrainedLanguage"
    assert mode_from_probe([], ["ScriptsNotAllowed"]) == "NoLanguage"
    assert mode_from_probe([], ["VariableReferenceNotSupportedInDataSection"]) == "RestrictedLanguage"


def test_invoke_command_command_form_is_unwrapped() -> None:
    """The session-runspace wrapper is script text; the cmdlet pipeline it carries is sent alone,
    with its typed parameters and input."""
    spec = InvokeSpec(command="Restart-Service", parameters={"Name": "Spooler"}, input=["x"])
    wire = build_plan(spec).wire_request()
    assert has_script(wire)
    sent = for_restricted(wire)
    assert sent is not None
    assert sent["commands"] == [
        PipelineCommand(
            name="Restart-Service",
            is_script=False,
            use_local_scope=False,
            end_of_statement=False,
            parameters={"Name": "Spooler"},
        )
    ]
    assert sent["input"] == ["x"]
    assert sent["depth"] == 2


def test_script_forms_are_refused() -> None:
    for spec in (
        InvokeSpec(script="Get-Service"),
        InvokeSpec(command="Get-Service", chdir="C:\\"),  # the prelude is a script
        InvokeSpec(command="Get-Service", error_action="stop"),
    ):
        wire = build_plan(spec).wire_request()
        assert for_restricted(wire) is None
        assert "invoke_command with script:" in what_needs_scripts(wire)
    plain = PipelineRequest(commands=[PipelineCommand(name="Get-Date", is_script=True)])
    assert for_restricted(plain) is None
    commands_only = PipelineRequest(commands=[PipelineCommand(name="Get-Date")])
    assert for_restricted(commands_only) == commands_only


def test_refusal_names_endpoint_mode_and_fix() -> None:
    text = refusal("web01", "http://schemas.microsoft.com/powershell/HelpDesk", "NoLanguage", "this task")
    assert text.startswith("psrp connection to web01: the endpoint 'HelpDesk' runs in NoLanguage mode")
    assert "this task needs script text, so nothing was sent" in text
    assert "command:" in text and "parameters:" in text and "jea_capabilities" in text
