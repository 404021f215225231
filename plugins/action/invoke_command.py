# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.invoke_command (documentation in plugins/modules/)."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import (
    AnsibleActionFail,
    AnsibleAuthenticationFailure,
    AnsibleConnectionFailure,
    AnsibleError,
)
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
    ERROR_ACTIONS,
    SESSION_STATES,
    InvokeError,
    InvokeSpec,
    build_plan,
    check_mode_runs,
    cleanup_request,
    read_result,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import (
    DEFAULT_THROTTLE_LIMIT,
    FAIL_ON,
    HostOutcome,
    connection_for_host,
    run_throttled,
    tag_output,
    task_failed,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
    PipelineResult,
    ps_credential,
    secure_string,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import require_pipeline

display = Display()

Invoke = Callable[[PipelineRequest], PipelineResult]

ARGUMENT_SPEC: dict[str, Any] = {
    "script": {"type": "str"},
    "path": {"type": "path"},
    "remote_src": {"type": "bool", "default": False},
    "command": {"type": "str"},
    "arguments": {"type": "list", "elements": "raw"},
    "parameters": {"type": "dict"},
    "sensitive_parameters": {
        "type": "list",
        "elements": "dict",
        "options": {
            "name": {"type": "str", "required": True},
            "value": {"type": "str", "no_log": True},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
        },
        "mutually_exclusive": [("value", "username"), ("value", "password")],
        "required_one_of": [("value", "username")],
        "required_together": [("username", "password")],
    },
    "using": {"type": "dict"},
    "input": {"type": "list", "elements": "raw"},
    "error_action": {"type": "str", "default": "continue", "choices": list(ERROR_ACTIONS)},
    "session_state": {"type": "str", "default": "persistent", "choices": list(SESSION_STATES)},
    "depth": {"type": "int", "default": 2},
    "chdir": {"type": "str"},
    "creates": {"type": "str"},
    "removes": {"type": "str"},
    "computer_name": {"type": "list", "elements": "str"},
    "throttle_limit": {"type": "int", "default": DEFAULT_THROTTLE_LIMIT},
    "fail_on": {"type": "str", "default": "any", "choices": list(FAIL_ON)},
}
MUTUALLY_EXCLUSIVE = [("script", "path", "command")]
REQUIRED_ONE_OF = [("script", "path", "command")]

_RESULT_LISTS = ("output", "error", "warning", "verbose", "debug", "information")


def _bool_output(output: list[Any]) -> list[bool]:
    return [bool(v) if isinstance(v, bool) else str(v).lower() == "true" for v in output]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=MUTUALLY_EXCLUSIVE,
            required_one_of=REQUIRED_ONE_OF,
        )
        no_log_values = set(getattr(validation, "_no_log_values", set()))
        try:
            result.update(self._run(args, task_vars))
        except (InvokeError, AnsibleActionFail) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        return remove_values(result, no_log_values) if no_log_values else result

    # ------------------------------------------------------------------------------------------

    def _spec(self, args: dict[str, Any]) -> InvokeSpec:
        script: str | None = args["script"]
        if args["path"] and not args["remote_src"]:
            script = self._read_local_script(args["path"])
        parameters = dict(args["parameters"] or {})
        for entry in args["sensitive_parameters"] or []:
            if entry.get("value") is not None:
                parameters[entry["name"]] = secure_string(entry["value"])
            else:
                parameters[entry["name"]] = ps_credential(entry["username"], entry["password"])
        if args["depth"] < 0 or args["depth"] > 100:
            raise InvokeError("depth must be between 0 and 100")
        return InvokeSpec(
            script=script,
            command=args["command"],
            arguments=list(args["arguments"] or []),
            parameters=parameters,
            using=dict(args["using"] or {}),
            input=list(args["input"]) if args["input"] is not None else None,
            error_action=args["error_action"],
            depth=args["depth"],
            chdir=args["chdir"],
            session_state=args["session_state"],
            check_mode=bool(self._task.check_mode),
            verbosity=display.verbosity,
        )

    def _read_local_script(self, path: str) -> str:
        try:
            source = self._find_needle("files", path)
        except AnsibleError as exc:
            raise AnsibleActionFail(f"could not find script {path}: {exc}") from exc
        with open(source, "rb") as handle:
            data = handle.read()
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AnsibleActionFail(f"script {path} is not UTF-8: {exc}") from exc

    def _run(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        spec = self._spec(args)
        if args["computer_name"]:
            return self._run_many(args, spec, task_vars)
        # Connection errors propagate: Ansible marks the host unreachable.
        host = task_vars.get("inventory_hostname")
        return run_on_host(self._invoke_of(self._connection, host), args, spec, host)

    def _invoke_of(self, connection: Any, host: str | None) -> Invoke:
        return require_pipeline(connection, host or "host", "invoke_command")  # type: ignore[return-value]

    def _run_many(self, args: dict[str, Any], spec: InvokeSpec, task_vars: dict[str, Any]) -> dict[str, Any]:
        names: list[str] = list(dict.fromkeys(args["computer_name"]))
        hostvars: Mapping[str, Any] = task_vars.get("hostvars") or {}
        me = task_vars.get("inventory_hostname")
        if args["throttle_limit"] < 1:
            raise InvokeError("throttle_limit must be 1 or more")

        def render(value: Any) -> Any:
            return self._templar.template(value)

        def work(name: str) -> HostOutcome:
            connection: Any = None
            try:
                if name == me:
                    connection = self._connection
                else:
                    if name not in hostvars:
                        return HostOutcome(name, "unreachable", msg=f"{name} is not in the inventory")
                    connection = connection_for_host(
                        self._connection, self._play_context, hostvars[name], name, render
                    )
                fields = run_on_host(self._invoke_of(connection, name), args, spec, name)
            except (AnsibleConnectionFailure, AnsibleAuthenticationFailure) as exc:
                return HostOutcome(name, "unreachable", msg=str(exc))
            except (InvokeError, AnsibleError) as exc:
                return HostOutcome(name, "failed", msg=str(exc))
            finally:
                if connection is not None and connection is not self._connection:
                    try:
                        connection.close()
                    except Exception as exc:
                        display.vvv(f"{name}: closing the connection failed: {exc}")
            status = "failed" if fields.get("failed") else "ok"
            return HostOutcome(name, status, fields=fields, msg=fields.get("msg"))

        outcomes = run_throttled(names, work, args["throttle_limit"])
        return merge_outcomes(outcomes, args["fail_on"])


def run_on_host(
    invoke: Invoke, args: Mapping[str, Any], spec: InvokeSpec, computer_name: str | None = None
) -> dict[str, Any]:
    """Everything one host needs for one task: creates/removes, remote script, check mode, run.

    Output objects are tagged like Invoke-Command's (``PSComputerName`` = ``computer_name``, the
    inventory name; ``RunspaceId`` = the connection's ``runspace_id``, the id of the RunspacePool
    that ran it). In one-to-many runs ``merge_outcomes`` keeps each host's own ``RunspaceId``."""
    skip = _creates_removes(invoke, args)
    if skip:
        return {"changed": False, "skipped": True, "msg": skip, **_empty_lists()}

    if args.get("path") and args.get("remote_src"):
        spec.script = _read_remote_script(invoke, args["path"])

    if spec.check_mode and not check_mode_runs(spec):
        return {
            "changed": True,
            "skipped": True,
            "msg": "skipped, running in check mode (the script does not declare "
            "[CmdletBinding(SupportsShouldProcess)])",
            **_empty_lists(),
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
        except AnsibleError as exc:
            display.vvv(f"restoring the session after a failed run failed: {exc}")
    return fields


def _empty_lists() -> dict[str, Any]:
    fields: dict[str, Any] = {name: [] for name in _RESULT_LISTS}
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


def merge_outcomes(outcomes: list[HostOutcome], fail_on: str) -> dict[str, Any]:
    """One task result for many hosts: all output (tagged), per-host status and details."""
    merged: dict[str, Any] = {name: [] for name in _RESULT_LISTS}
    hosts: dict[str, Any] = {}
    changed = False
    for outcome in outcomes:
        fields = outcome.fields
        changed = changed or bool(fields.get("changed"))
        merged["output"].extend(tag_output(fields.get("output") or [], outcome.name))
        for name in _RESULT_LISTS[1:]:
            for item in fields.get(name) or []:
                if isinstance(item, dict):
                    merged[name].append({**item, "PSComputerName": outcome.name})
                else:
                    merged[name].append({"PSComputerName": outcome.name, "message": item})
        hosts[outcome.name] = {
            "status": outcome.status,
            "msg": outcome.msg,
            "changed": bool(fields.get("changed")),
            "skipped": bool(fields.get("skipped")),
            "result": fields.get("result", {}),
            "host_out": fields.get("host_out", ""),
            "host_err": fields.get("host_err", ""),
            "output_count": len(fields.get("output") or []),
        }
    failed = task_failed(outcomes, fail_on)
    merged.update(changed=changed, hosts=hosts, failed=failed)
    if failed:
        bad = [f"{o.name} ({o.status}: {o.msg})" for o in outcomes if o.status != "ok"]
        merged["msg"] = f"{len(bad)} of {len(outcomes)} hosts did not succeed: " + "; ".join(bad)
    return merged
