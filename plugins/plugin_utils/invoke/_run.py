# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything one host needs for one ``invoke_command`` run, over any ``invoke`` callable.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

``run_on_host`` runs in the worker (a per-host task: ``invoke`` is the connection's
``invoke_pipeline``) and in the session broker (one-to-many: ``invoke`` is the host's
``PSRPSession.invoke_pipeline``), so it imports neither Ansible nor pypsrp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
    InvokeError,
    InvokeSpec,
    build_plan,
    check_mode_runs,
    cleanup_request,
    read_result,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import RESULT_LISTS, tag_output
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
    PipelineResult,
)

Invoke = Callable[[PipelineRequest], PipelineResult]


def _bool_output(output: list[Any]) -> list[bool]:
    return [bool(v) if isinstance(v, bool) else str(v).lower() == "true" for v in output]


def run_on_host(
    invoke: Invoke,
    args: Mapping[str, Any],
    spec: InvokeSpec,
    computer_name: str | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Everything one host needs for one task: creates/removes, remote script, check mode, run.

    Output objects are tagged like Invoke-Command's (``PSComputerName`` = ``computer_name``, the
    inventory name; ``RunspaceId`` = the connection's ``runspace_id``, the id of the RunspacePool
    that ran it). In one-to-many runs ``merge_outcomes`` keeps each host's own ``RunspaceId``."""
    skip = _creates_removes(invoke, args)
    if skip:
        return {"changed": False, "skipped": True, "msg": skip, **empty_lists()}

    if args.get("path") and args.get("remote_src"):
        spec.script = _read_remote_script(invoke, args["path"])

    if spec.check_mode and not check_mode_runs(spec):
        return {
            "changed": True,
            "skipped": True,
            "msg": "skipped, running in check mode (the script does not declare "
            "[CmdletBinding(SupportsShouldProcess)])",
            **empty_lists(),
        }

    plan = build_plan(spec)
    result = invoke(plan.wire_request())
    fields = read_result(plan, result, spec.error_action)
    if computer_name:
        # .get: a connection (or a fake in tests) may leave runspace_id out.
        fields["output"] = tag_output(fields["output"], computer_name, result.get("runspace_id"))
    state_found = fields.pop("_state_found")
    if plan.uses_state and not state_found and spec.session_state != "temporary":
        # A terminating error skipped the postlude: put the session back as it was.
        try:
            invoke(cleanup_request())
        except Exception as exc:
            log(f"restoring the session after a failed run failed: {exc}")
    return fields


def empty_lists() -> dict[str, Any]:
    fields: dict[str, Any] = {name: [] for name in RESULT_LISTS}
    fields.update(result={}, host_out="", host_err="")
    return fields


def _creates_removes(invoke: Invoke, args: Mapping[str, Any]) -> str | None:
    paths = [p for p in (args.get("creates"), args.get("removes")) if p]
    if not paths:
        return None
    commands: list[PipelineCommand] = [
        PipelineCommand(name="Test-Path", parameters={"LiteralPath": p}, end_of_statement=True) for p in paths
    ]
    result = invoke(PipelineRequest(commands=commands, depth=0))
    exists = _bool_output(result.get("output") or [])
    if len(exists) != len(paths):
        raise InvokeError(f"could not test creates/removes paths: {result.get('error')}")
    index = 0
    if args.get("creates"):
        if exists[index]:
            return f"skipped, since {args['creates']} exists"
        index += 1
    if args.get("removes") and not exists[index]:
        return f"skipped, since {args['removes']} does not exist"
    return None


def _read_remote_script(invoke: Invoke, path: str) -> str:
    result = invoke(
        PipelineRequest(
            commands=[
                PipelineCommand(
                    name="Get-Content",
                    parameters={"LiteralPath": path, "Raw": True, "Encoding": "UTF8"},
                )
            ],
            depth=0,
        )
    )
    output = result.get("output") or []
    if result.get("error") or not output or not isinstance(output[0], str):
        errors = result.get("error") or []
        detail = errors[0].get("exception", {}).get("message") if errors else "no content"
        raise InvokeError(f"could not read the remote script {path}: {detail}")
    return str(output[0])
