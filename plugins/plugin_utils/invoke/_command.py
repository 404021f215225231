# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the PSRP pipeline of one ``invoke_command`` run and read its result back.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

How values reach the remote script (never by building script text from values):

* The user's script block is sent as the text of a PSRP script command, exactly as
  ``Invoke-Command -ScriptBlock`` does since PowerShell v3: ``AddScript(text)``, then
  ``AddArgument(arg)`` per ``-ArgumentList`` entry, then named parameters (splatted), then the
  ``$Using:`` values as ONE parameter named ``--%`` whose value is a hashtable keyed by
  ``GetUsingExpressionKey``: the Base64 of the UTF-16LE text of the using expression, lowercased
  when it is a plain variable (PowerShell source: ``PsUtils.GetUsingExpressionKey``,
  ``InvokeCommandCommand.GetPowerShellForPSv3OrLater``; ``about_Remote_Variables``). The remote
  engine resolves each ``$Using:x`` from that dictionary, so values stay typed data.
* ``$Ansible`` (as in ansible.windows.win_powershell), ``chdir`` and ``error_action`` need state
  around the user's script. A constant prelude script (parameters: check mode, verbosity, tmpdir,
  location, error action) sets ``$global:Ansible`` before it and a constant postlude script
  restores the session and writes ``$Ansible``'s final state as the last three output objects
  (state marker, ``Result``, ``Diff``). Both are only added when the script needs them, so a
  plain script is a single command: one WSMan Command + one Receive on a warm session. Their
  text lives in ``_session.py``: a warm task names them instead of sending them.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
    POSTLUDE,
    PRELUDE,
    PRELUDE_PIPED,
    in_session,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
    PipelineResult,
)

STATE_TYPE_NAME = "PSRemoting.Core.InvokeCommand.State"
VERBATIM_ARGUMENT = "--%"  # System.Management.Automation.Language.Parser.VERBATIM_ARGUMENT
#: session_state: the host's PSSession runspace (Invoke-Command -Session) or a temporary one
#: (Invoke-Command -ComputerName); see _session.py.
SESSION_STATES = ("persistent", "temporary")
ERROR_ACTIONS = {
    "continue": "Continue",
    "stop": "Stop",
    "silently_continue": "SilentlyContinue",
}

# Cmdlet verbs that only read (https://learn.microsoft.com/powershell/scripting/developer/cmdlet/approved-verbs-for-windows-powershell-commands)
READ_ONLY_VERBS = frozenset(
    {"get", "test", "find", "search", "measure", "resolve", "read", "select", "compare", "show"}
)


class InvokeError(ValueError):
    """The task's options cannot be turned into a pipeline (reported as a task failure)."""


# ---------------------------------------------------------------------------------------------
# Script text analysis (no values are ever put into script text; this only reads the user's)
# ---------------------------------------------------------------------------------------------


def strip_comments(script: str) -> str:
    """Blank out ``# ...`` and ``<# ... #>`` comments, keeping strings (a light PowerShell scan)."""
    out: list[str] = []
    i = 0
    n = len(script)
    while i < n:
        c = script[i]
        two = script[i : i + 2]
        if two in ("@'", '@"') and (i + 2 >= n or script[i + 2] in "\r\n"):
            end_marker = "\n" + two[1] + "@"
            end = script.find(end_marker, i + 2)
            end = n if end < 0 else end + len(end_marker)
            out.append(script[i:end])
            i = end
        elif c == "'":
            end = i + 1
            while end < n:
                if script[end] == "'":
                    if end + 1 < n and script[end + 1] == "'":
                        end += 2
                        continue
                    break
                end += 1
            out.append(script[i : end + 1])
            i = end + 1
        elif c == '"':
            end = i + 1
            while end < n and script[end] != '"':
                end += 2 if script[end] == "`" else 1
            out.append(script[i : end + 1])
            i = end + 1
        elif c == "`":
            out.append(script[i : i + 2])
            i += 2
        elif two == "<#":
            end = script.find("#>", i + 2)
            end = n if end < 0 else end + 2
            out.append(" ")
            i = end
        elif c == "#":
            end = script.find("\n", i)
            end = n if end < 0 else end
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


_CMDLETBINDING = re.compile(r"\[\s*CmdletBinding\s*\((?P<args>[^)]*)\)\s*\]", re.IGNORECASE)
_SHOULD_PROCESS = re.compile(r"SupportsShouldProcess\s*(?:=\s*(?P<value>[^,\s)]+))?", re.IGNORECASE)


def supports_should_process(script: str) -> bool:
    """True when the script block's param block carries ``[CmdletBinding(SupportsShouldProcess)]``
    (or ``= $true``), the check win_powershell makes on the script's AST."""
    text = strip_comments(script)
    param_at = re.search(r"\bparam\s*\(", text, re.IGNORECASE)
    head = text[: param_at.start()] if param_at else text
    for binding in _CMDLETBINDING.finditer(head):
        for arg in _SHOULD_PROCESS.finditer(binding.group("args")):
            value = arg.group("value")
            if value is None or value.lower() in ("$true", "1"):
                return True
    return False


_ANSIBLE_VAR = re.compile(
    r"(?:\$\{?|variable:|-Name\s+['\"]?)(?:global:|script:|local:)?Ansible\b", re.IGNORECASE
)


def references_ansible(script: str) -> bool:
    return bool(_ANSIBLE_VAR.search(strip_comments(script)))


def references_tmpdir(script: str) -> bool:
    return "tmpdir" in strip_comments(script).lower()


# $Using:name and ${Using:name}; PowerShell variable names: letters, digits, _ and ?
_USING = re.compile(r"\$(?:\{using:(?P<braced>[^}]+)\}|using:(?P<name>[\w?]+))(?P<index>\[)?", re.IGNORECASE)


def using_expression_key(expression_text: str, is_variable: bool = True) -> str:
    """``PsUtils.GetUsingExpressionKey``: Base64 of the UTF-16LE expression text, lowercased for
    plain variable references."""
    text = expression_text.lower() if is_variable else expression_text
    return base64.b64encode(text.encode("utf-16-le")).decode("ascii")


def using_parameter(script: str, using: dict[str, Any]) -> dict[str, Any]:
    """The ``--%`` dictionary for the ``$Using:`` expressions in ``script``.

    Raises InvokeError for a ``$Using:`` variable with no value (PowerShell fails the same way
    before sending) and for an indexed one (``$Using:a[0]``), which would need the index
    evaluated on the controller.
    """
    values = {name.lower(): value for name, value in using.items()}
    result: dict[str, Any] = {}
    missing: list[str] = []
    for match in _USING.finditer(strip_comments(script)):
        name = match.group("braced") or match.group("name")
        if match.group("index"):
            raise InvokeError(
                f"$Using:{name}[...] is not supported: read the variable first "
                f"($x = $Using:{name}) and index $x"
            )
        if name.lower() not in values:
            missing.append(name)
            continue
        text = match.group(0)
        result[using_expression_key(text)] = values[name.lower()]
    if missing:
        raise InvokeError(
            "the script reads $Using: variables that have no value in 'using': "
            + ", ".join(sorted(set(missing), key=str.lower))
        )
    return result


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------


@dataclass
class InvokeSpec:
    """What to run, in the controller's terms (validated task options)."""

    script: str | None = None
    command: str | None = None
    arguments: list[Any] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    using: dict[str, Any] = field(default_factory=dict)
    input: list[Any] | None = None
    error_action: str = "continue"
    depth: int = 2
    chdir: str | None = None
    check_mode: bool = False
    verbosity: int = 0
    remote_tmp: str = r"C:\Windows\TEMP"
    session_state: str = "persistent"


@dataclass
class InvokePlan:
    request: PipelineRequest  # the pipeline the session runspace runs
    uses_state: bool  # prelude/postlude present
    should_process: bool
    default_changed: bool
    temporary: bool = False  # session_state: temporary

    def wire_request(self) -> PipelineRequest:
        """What is sent: the pipeline wrapped to run in the session runspace (or a temporary one),
        never in the runspace of the pool that Ansible's own raw/script/module tasks use."""
        return in_session(self.request, temporary=self.temporary)


def check_mode_runs(spec: InvokeSpec) -> bool:
    """In check mode a script only runs when it supports -WhatIf; a command when it only reads."""
    if spec.script is not None:
        return supports_should_process(spec.script)
    return is_read_only_command(spec.command or "")


def is_read_only_command(name: str) -> bool:
    verb = name.strip().split("-", 1)[0].lower()
    return "-" in name and verb in READ_ONLY_VERBS


def build_plan(spec: InvokeSpec) -> InvokePlan:
    if (spec.script is None) == (spec.command is None):
        raise InvokeError("exactly one of a script or a command is needed")
    if spec.error_action not in ERROR_ACTIONS:
        raise InvokeError(f"error_action must be one of {', '.join(ERROR_ACTIONS)}")
    if spec.session_state not in SESSION_STATES:
        raise InvokeError(f"session_state must be one of {', '.join(SESSION_STATES)}")

    commands: list[PipelineCommand] = []
    request = PipelineRequest(commands=commands, depth=spec.depth)
    if spec.input is not None:
        request["input"] = list(spec.input)
    if spec.command is not None:
        plan = _command_plan(spec, spec.command, request, commands)
    else:
        plan = _script_plan(spec, spec.script or "", request, commands)
    plan.temporary = spec.session_state == "temporary"
    return plan


def _command_plan(
    spec: InvokeSpec, command: str, request: PipelineRequest, commands: list[PipelineCommand]
) -> InvokePlan:
    """One cmdlet with typed parameters."""
    if spec.using:
        raise InvokeError("'using' needs a script: a single command has no $Using: expressions")
    cmd = PipelineCommand(name=command, is_script=False)
    if spec.parameters:
        cmd["parameters"] = dict(spec.parameters)
    if spec.arguments:
        cmd["arguments"] = list(spec.arguments)
    needs_state = spec.chdir is not None or spec.error_action != "continue"
    _wrap(commands, cmd, spec, needs_state, tmpdir=None)
    return InvokePlan(request, needs_state, False, default_changed=not is_read_only_command(command))


def _script_plan(
    spec: InvokeSpec, script: str, request: PipelineRequest, commands: list[PipelineCommand]
) -> InvokePlan:
    """A script block with parameters, $Using: values and the optional $Ansible prelude."""
    should_process = supports_should_process(script)
    parameters = dict(spec.parameters)
    if should_process:
        # Taken last, like win_powershell: never prompt, and -WhatIf follows check mode.
        parameters["WhatIf"] = spec.check_mode
        parameters["Confirm"] = False
    using_values = using_parameter(script, spec.using)
    if using_values:
        parameters[VERBATIM_ARGUMENT] = using_values

    # Not in a local scope: like Invoke-Command -Session, `$x = 42` at the script's top level stays
    # in the session for the next task (about_Remote_Variables).
    cmd = PipelineCommand(name=script, is_script=True, use_local_scope=False)
    if spec.arguments:
        cmd["arguments"] = list(spec.arguments)
    if parameters:
        cmd["parameters"] = parameters

    wants_ansible = references_ansible(script)
    needs_state = wants_ansible or spec.chdir is not None or spec.error_action != "continue"
    tmpdir = None
    if wants_ansible and references_tmpdir(script):
        tmpdir = spec.remote_tmp.rstrip("\\") + "\\psremoting-" + uuid.uuid4().hex
    _wrap(commands, cmd, spec, needs_state, tmpdir)
    return InvokePlan(request, needs_state, should_process, default_changed=True)


def _wrap(
    commands: list[PipelineCommand],
    user: PipelineCommand,
    spec: InvokeSpec,
    needs_state: bool,
    tmpdir: str | None,
) -> None:
    if not needs_state:
        commands.append(user)
        return
    prelude_parameters: dict[str, Any] = {
        "CheckMode": spec.check_mode,
        "Verbosity": spec.verbosity,
        "Tmpdir": tmpdir or "",
        "Location": spec.chdir or "",
        "ErrorActionName": "" if spec.error_action == "continue" else ERROR_ACTIONS[spec.error_action],
    }
    piped = spec.input is not None
    commands.append(
        PipelineCommand(
            name=PRELUDE_PIPED if piped else PRELUDE,
            is_script=True,
            use_local_scope=True,
            parameters=prelude_parameters,
            end_of_statement=not piped,
        )
    )
    user = PipelineCommand(**user)
    user["end_of_statement"] = True
    commands.append(user)
    commands.append(PipelineCommand(name=POSTLUDE, is_script=True, use_local_scope=True))


def cleanup_request() -> PipelineRequest:
    """Restores the session runspace after a run whose postlude did not run (terminating error)."""
    request = PipelineRequest(
        commands=[PipelineCommand(name=POSTLUDE, is_script=True, use_local_scope=True)], depth=0
    )
    return in_session(request)


def _is_state_marker(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    names = value.get("PSTypeNames") or []
    return any(str(n).removeprefix("Deserialized.") == STATE_TYPE_NAME for n in names)


def as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y", "on")
    return bool(value)


def read_result(plan: InvokePlan, result: PipelineResult, error_action: str) -> dict[str, Any]:
    """Task result fields of one host's run (win_powershell's shape)."""
    output = list(result.get("output") or [])
    changed = plan.default_changed
    ansible_failed = False
    ansible_result: Any = {}
    diff: Any = None
    state_found = False
    if plan.uses_state and len(output) >= 3 and _is_state_marker(output[-3]):
        marker, ansible_result, diff = output[-3], output[-2], output[-1]
        del output[-3:]
        changed = as_bool(marker.get("Changed"), plan.default_changed)
        ansible_failed = as_bool(marker.get("Failed"), False)
        state_found = True

    state = result.get("state", "Completed")
    errors = list(result.get("error") or [])
    if error_action == "silently_continue":
        errors = []
    failed = state in ("Failed", "Stopped") or ansible_failed or (error_action == "stop" and bool(errors))
    fields: dict[str, Any] = {
        "changed": changed,
        "failed": failed,
        "output": output,
        "result": ansible_result if ansible_result is not None else {},
        "error": errors,
        "warning": list(result.get("warning") or []),
        "verbose": list(result.get("verbose") or []),
        "debug": list(result.get("debug") or []),
        "information": list(result.get("information") or []),
        "host_out": result.get("host_out", ""),
        "host_err": result.get("host_err", ""),
    }
    if result.get("rc") is not None:
        fields["rc"] = result["rc"]
    if isinstance(diff, dict) and diff:
        fields["diff"] = diff
    if failed:
        fields["msg"] = failure_message(state, errors, ansible_failed)
    fields["_state_found"] = state_found
    return fields


def failure_message(state: str, errors: list[dict[str, Any]], ansible_failed: bool) -> str:
    if errors:
        first = errors[-1] if state == "Failed" else errors[0]
        text = (first.get("error_details") or {}).get("message") or (first.get("exception") or {}).get(
            "message"
        )
        if text:
            return str(text)
    if ansible_failed:
        return "the script set $Ansible.Failed"
    return f"the pipeline ended in state {state}"
