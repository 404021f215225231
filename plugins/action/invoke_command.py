# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.invoke_command (documentation in plugins/modules/)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ModuleAction, TaskContext
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._fanout import dispatch
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
    ERROR_ACTIONS,
    SESSION_STATES,
    InvokeError,
    InvokeSpec,
    build_plan,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import (
    DEFAULT_THROTTLE_LIMIT,
    FAIL_ON,
    HostOutcome,
    Job,
    merge_outcomes,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._live import show_event
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._run import run_on_host
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._targets import TargetReader
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    ps_credential,
    secure_string,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Problems, int_range

__all__ = ["ARGUMENT_SPEC", "ActionModule", "run_on_host"]

display = Display()

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
    "disconnected": {"type": "bool", "default": False},
    "disconnected_idle_timeout": {"type": "int"},
    "output_buffering_mode": {"type": "str", "choices": ["block", "drop"]},
}
# Disconnect-PSSession -IdleTimeoutSec / New-PSTransportOption -IdleTimeoutSec: ValidateRange(60,
# 2147483) seconds; MS-WSMV's IdleTimeoutms quota: 60000 to 2147483647 ms.
IDLE_TIMEOUT_RANGE = (60, 2147483)
DISCONNECT_OPTIONS = ("disconnected_idle_timeout", "output_buffering_mode")
MUTUALLY_EXCLUSIVE = [("script", "path", "command")]
REQUIRED_ONE_OF = [("script", "path", "command")]


@dataclass(frozen=True)
class InvokeRequest:
    """invoke_command's typed request: the pipeline (``InvokeSpec``) and the options that decide
    where and whether it runs (creates/removes, targets, throttle)."""

    spec: InvokeSpec
    args: dict[str, Any]


class ActionModule(ModuleAction[InvokeRequest]):
    MODULE = "invoke_command"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE
    REQUIRED_ONE_OF = REQUIRED_ONE_OF
    TASK_ERRORS = (InvokeError,)
    CHECKS = {
        "disconnected_idle_timeout": int_range(
            *IDLE_TIMEOUT_RANGE,
            "seconds, as Disconnect-PSSession -IdleTimeoutSec; at most the session "
            "configuration's MaxIdleTimeoutms",
        ),
    }

    def check_values(self, args: dict[str, Any], problems: Problems) -> None:
        if args["disconnected"]:
            return
        for name in DISCONNECT_OPTIONS:
            if args.get(name) is not None:
                problems.add(name, args[name], "only with disconnected=true (it sets how the host keeps a "
                             "disconnected session); set disconnected: true or remove it")  # fmt: skip

    def request(self, args: dict[str, Any]) -> InvokeRequest:
        return InvokeRequest(self._spec(args), args)

    def perform(self, request: InvokeRequest, context: TaskContext) -> dict[str, Any]:
        args = request.args
        if args["disconnected"]:
            return self._start_disconnected(args, request.spec, context)
        if args["computer_name"]:
            return self._run_many(args, request.spec, self.task_vars)
        # Connection errors propagate: Ansible marks the host unreachable.
        invoke = self.psrp_connection(context).invoke_pipeline
        return run_on_host(invoke, args, request.spec, context.host)

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

    def _start_disconnected(
        self, args: dict[str, Any], spec: InvokeSpec, context: TaskContext
    ) -> dict[str, Any]:
        """Invoke-Command -InDisconnectedSession: a new session on the host runs the command and
        is disconnected at once; ``pssession`` (state=received/stopped) gets its output later."""
        unsupported = [name for name in ("computer_name", "creates", "removes", "chdir") if args[name]]
        if args["path"] and args["remote_src"]:
            unsupported.append("remote_src")
        if args["error_action"] != "continue":
            unsupported.append("error_action")
        if unsupported:
            raise InvokeError(
                f"disconnected=true starts the command in a new session of {context.host} and returns at "
                f"once; it cannot be combined with {', '.join(unsupported)}"
            )
        if spec.check_mode:
            return {"changed": True, "skipped": True, "msg": "skipped, running in check mode (a "
                    "disconnected command is not started)"}  # fmt: skip
        spec.session_state = "temporary"
        plan = build_plan(spec)
        if plan.uses_state:
            raise InvokeError(
                "disconnected=true runs the script as it is in a new session: a script that uses "
                "$Ansible cannot run disconnected"
            )
        mode = args["output_buffering_mode"]
        ids = self.psrp_connection(context).start_disconnected(
            plan.request,
            idle_timeout=args["disconnected_idle_timeout"],
            buffer_mode=mode.capitalize() if mode else None,  # the wire's Block / Drop
        )
        return {
            "changed": True,
            **ids,
            "computer_name": context.host,
            "msg": f"started in disconnected session {ids['session_id']}: receive or stop it with "
            "psremoting.core.pssession (state=received or stopped, session_id)",
        }

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

    def _run_many(self, args: dict[str, Any], spec: InvokeSpec, task_vars: dict[str, Any]) -> dict[str, Any]:
        """One-to-many (``invoke._fanout``): each target reached with its own inventory settings,
        whatever connection this (play) host uses, in the broker that holds its session."""
        names: list[str] = list(dict.fromkeys(args["computer_name"]))
        if args["throttle_limit"] < 1:
            raise InvokeError("throttle_limit must be 1 or more")
        reader = TargetReader(task_vars.get("hostvars") or {}, self._templar.template)
        outcomes: dict[str, HostOutcome] = {}
        ready = []
        for target in (reader.read(name) for name in names):
            if target.settings is None:
                outcomes[target.name] = HostOutcome(target.name, target.status, msg=target.problem)
                show_event({"type": "done", "host": target.name, "status": target.status, "objects": 0,
                            "seconds": 0, "msg": target.problem}, display)  # fmt: skip
            else:
                ready.append((target.name, target.settings))
        for warning in sorted({w for _name, settings in ready for w in settings.warnings}):
            display.warning(warning)
        outcomes.update(
            dispatch(
                ready, Job.of(spec, args), args["throttle_limit"], lambda event: show_event(event, display)
            )
        )
        return merge_outcomes([outcomes[name] for name in names], args["fail_on"])
