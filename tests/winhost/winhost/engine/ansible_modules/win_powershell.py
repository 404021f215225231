"""ansible.windows.win_powershell: run a script in a new runspace and return every stream.

Source: ansible-collections/ansible.windows plugins/modules/win_powershell.ps1 and .py (RETURN):
the script (``script``, or the file at ``path``) runs in a new runspace of the same process with
``parameters`` (and ``sensitive_parameters`` as SecureString/PSCredential) bound to it, the
``$Ansible`` variable (``CheckMode``, ``Verbosity``, ``Result`` {}, ``Diff`` {}, ``Changed`` true,
``Failed`` false, ``Tmpdir``) and ``$ErrorActionPreference`` from ``error_action``. The result has
``output`` (Convert-OutputObject to ``depth``), ``error`` (one dict per error record: output,
error_details, exception, target_object, category_info, fully_qualified_error_id,
script_stack_trace, pipeline_iteration_info), ``warning``/``verbose``/``debug`` (messages),
``information`` (message_data, source, time_generated, tags), ``host_out``/``host_err`` (what the
host UI printed), ``result`` ($Ansible.Result), ``changed`` ($Ansible.Changed) and ``failed``
(a terminating error or $Ansible.Failed). Check mode skips the script ("skipped, running in check
mode", changed) unless it declares ``[CmdletBinding(SupportsShouldProcess)]``, which then runs with
``-WhatIf``. ``executable`` (another PowerShell process, with ``arguments``) is not emulated.
"""

from __future__ import annotations

import datetime
import enum
import re
from typing import Any

from psrpcore import Command
from psrpcore.types import ErrorRecord, PSCustomObject, PSObject

from winhost.engine.ansible_modules import NO_LOG_MASK, ModuleContext, ModuleFail, ModuleSpec
from winhost.engine.ansible_modules._capture import new_session, render_error
from winhost.engine.hosts import RecordingHost
from winhost.engine.values import all_properties, get_property, is_collection, to_bool, to_string, type_names

_SHOULD_PROCESS = re.compile(
    r"\[CmdletBinding\((?:[\w=\$]+,\s*)?SupportsShouldProcess(?:=\$true)?(?:,\s*[\w=\$]+)?\)\]", re.IGNORECASE
)
_EAP = {"stop": "Stop", "continue": "Continue", "silently_continue": "SilentlyContinue"}


class _StreamsHost(RecordingHost):
    """The module's runspace host: collects PowerShell's streams (``$ps.Streams``) and the host UI
    text (``Ansible.Windows.WinPowerShell.Host`` writes it to the host_out/host_err pipes)."""

    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        self.information.append({"data": data, "source": source, "time": now, "tags": list(tags or [])})

    def write_host(
        self,
        text: str,
        newline: bool = True,
        is_error: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None:
        # Write-Host also records an information record tagged PSHOST (PowerShell 5+).
        if not is_error:
            self.write_information(text, "Write-Host", ["PSHOST"])
        super().write_host(text, newline, is_error, foreground, background)

    def set_should_exit(self, code: int) -> None:
        return None

    def read_line(self, prompt: str, secure: bool = False) -> Any:
        raise RuntimeError("win_powershell: the module's host does not support user interaction")


def _iso(value: datetime.datetime) -> str:
    """DateTime.ToString('o'): seven fractional digits, ``Z`` for UTC, the offset otherwise."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"
    if value.tzinfo is None:
        return text
    offset = value.utcoffset() or datetime.timedelta(0)
    if offset == datetime.timedelta(0):
        return text + "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def convert_output(value: Any, depth: int) -> Any:
    """win_powershell's Convert-OutputObject: JSON-ready, flattened to strings below ``depth``."""
    child = depth - 1
    if value is None:
        return None
    if isinstance(value, enum.Enum) and depth >= 0:
        return {
            "Type": type_names(value)[0].removeprefix("Deserialized."),
            "String": to_string(value),
            "Value": int(value.value),
        }
    if isinstance(value, datetime.datetime):
        return _iso(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float) and not isinstance(value, enum.Enum):
        return value
    if depth < 0:
        return to_string(value)
    if isinstance(value, dict):
        return {to_string(k): convert_output(v, child) for k, v in value.items()}
    if is_collection(value):
        return [convert_output(v, child) for v in value]
    if isinstance(value, PSObject):
        return {name: convert_output(v, child) for name, v in all_properties(value).items()}
    return to_string(value)


def _exception(exc: Any) -> dict[str, Any] | None:
    if exc is None:
        return None
    names = getattr(getattr(exc, "PSObject", None), "type_names", None) or ["System.Exception"]
    return {
        "message": str(getattr(exc, "Message", "") or ""),
        "type": str(names[0]).removeprefix("Deserialized."),
        "help_link": getattr(exc, "HelpLink", None),
        "source": getattr(exc, "Source", None),
        "hresult": int(getattr(exc, "HResult", -2146233087) or -2146233087),
        "inner_exception": _exception(getattr(exc, "InnerException", None)),
    }


def error_to_dict(record: ErrorRecord, depth: int) -> dict[str, Any]:
    """One ``error`` entry, keys as win_powershell.ps1 builds them."""
    info = record.CategoryInfo
    category = getattr(info, "Category", None)
    details = getattr(record, "ErrorDetails", None)
    return {
        "output": render_error(record),
        "error_details": (
            {
                "message": getattr(details, "Message", None),
                "recommended_action": getattr(details, "RecommendedAction", None),
            }
            if details
            else None
        ),
        "exception": _exception(record.Exception),
        "target_object": convert_output(getattr(record, "TargetObject", None), depth),
        "category_info": {
            "category": str(getattr(category, "name", category) or "NotSpecified"),
            "category_id": int(getattr(category, "value", 0) or 0),
            "activity": getattr(info, "Activity", None),
            "reason": getattr(info, "Reason", None),
            "target_name": getattr(info, "TargetName", None),
            "target_type": getattr(info, "TargetType", None),
        },
        "fully_qualified_error_id": str(getattr(record, "FullyQualifiedErrorId", "") or ""),
        "script_stack_trace": getattr(record, "ScriptStackTrace", None),
        "pipeline_iteration_info": list(getattr(record, "PipelineIterationInfo", None) or [0, 0]),
    }


def _sensitive(entries: list[Any]) -> dict[str, Any]:
    from winhost.engine.values import SecureText, credential_object

    values: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ModuleFail("missing required arguments: name found in sensitive_parameters")
        if entry.get("value") is not None and (entry.get("username") or entry.get("password")):
            raise ModuleFail(
                "parameters are mutually exclusive: value, username|password found in sensitive_parameters"
            )
        if entry.get("username"):
            values[str(entry["name"])] = credential_object(
                str(entry["username"]), SecureText(str(entry.get("password") or ""))
            )
        else:
            values[str(entry["name"])] = SecureText(str(entry.get("value") or ""))
    return values


def _masked(sensitive: list[Any]) -> list[Any]:
    """sensitive_parameters as invocation.module_args shows them (password/value are no_log)."""
    return [
        {k: (NO_LOG_MASK if k in ("password", "value") and v is not None else v) for k, v in e.items()}
        if isinstance(e, dict)
        else e
        for e in sensitive
    ]


def _check_options(p: dict[str, Any]) -> None:
    if bool(p.get("script")) == bool(p.get("path")):
        raise ModuleFail(
            "parameters are mutually exclusive: path, script"
            if p.get("script")
            else "one of the following is required: path, script"
        )
    if p.get("executable"):
        raise ModuleFail("winhost does not emulate win_powershell's executable (another PowerShell process)")


def _skip_message(ctx: ModuleContext) -> str | None:
    """``creates`` / ``removes``: why the module skips, or None."""
    creates, removes = ctx.params.get("creates"), ctx.params.get("removes")
    if creates and ctx.fs.real(str(creates)).exists():
        return f"skipped, since {creates} exists"
    if removes and not ctx.fs.real(str(removes)).exists():
        return f"skipped, since {removes} does not exist"
    return None


def _script(ctx: ModuleContext) -> str:
    p = ctx.params
    if p.get("script"):
        return str(p["script"])
    real = ctx.fs.real(str(p["path"]))
    if not real.is_file():
        raise ModuleFail(f"Could not find or access '{p['path']}' on Windows host")
    return real.read_text(encoding="utf-8-sig")


def _ansible_variable(ctx: ModuleContext) -> PSCustomObject:
    """``$Ansible`` (Ansible.Windows.WinPowerShell.Module): the script reports through it."""
    return PSCustomObject(
        PSTypeName="Ansible.Windows.WinPowerShell.Module",
        CheckMode=ctx.check_mode,
        Verbosity=0,
        Result={},
        Diff={},
        Changed=True,
        Failed=False,
        Tmpdir=ctx.env.get("TEMP", "C:\\Windows\\TEMP"),
    )


def _command(
    script: str, p: dict[str, Any], sensitive: list[Any], should_process: bool, check: bool
) -> Command:
    parameters: dict[str, Any] = dict(p.get("parameters") or {})
    parameters.update(_sensitive(sensitive))
    if should_process:
        parameters["Confirm"] = False
        parameters["WhatIf"] = check
    command = Command(script, is_script=True)
    for name, value in parameters.items():
        command.add_parameter(str(name), value)
    return command


def _invoke(runspace: Any, command: Command, host: _StreamsHost) -> bool:
    """Run the script; True when it ended with a terminating error (recorded in host.errors)."""
    try:
        runspace.invoke([command], None, host)
    except Exception as exc:  # a terminating error: the module reports it and fails
        record = getattr(exc, "error_record", None)
        if not isinstance(record, ErrorRecord):
            raise
        if not host.errors or host.errors[-1] is not record:
            host.errors.append(record)
        return True
    return False


def _streams(host: _StreamsHost, depth: int) -> dict[str, Any]:
    return {
        "host_out": "".join(host.host_out),
        "host_err": "".join(host.host_err),
        "output": convert_output(list(host.output), depth),
        "error": [error_to_dict(r, depth) for r in host.errors],
        "warning": list(host.warnings),
        "verbose": list(host.verbose),
        "debug": list(host.debug),
        "information": [
            {
                "message_data": convert_output(i["data"], depth),
                "source": i["source"],
                "time_generated": _iso(i["time"]),
                "tags": i["tags"],
            }
            for i in host.information
        ],
    }


_EMPTY_RESULT: dict[str, Any] = {
    "result": {},
    "host_out": "",
    "host_err": "",
    "output": [],
    "error": [],
    "warning": [],
    "verbose": [],
    "debug": [],
    "information": [],
}


def run(ctx: ModuleContext) -> dict[str, Any]:
    p = ctx.params
    sensitive = list(p.get("sensitive_parameters") or [])
    if sensitive:
        p["sensitive_parameters"] = _masked(sensitive)
    _check_options(p)
    depth = int(p["depth"]) if p.get("depth") is not None else 2
    skipped = _skip_message(ctx)
    if skipped is not None:
        return {**_EMPTY_RESULT, "changed": False, "msg": skipped}
    script = _script(ctx)
    should_process = bool(_SHOULD_PROCESS.search(script))
    if ctx.check_mode and not should_process:
        return {**_EMPTY_RESULT, "changed": True, "msg": "skipped, running in check mode"}

    runspace = new_session(ctx.runspace)
    if p.get("chdir"):
        runspace.global_scope.set("__location", str(p["chdir"]))
    ansible = _ansible_variable(ctx)
    runspace.global_scope.set("Ansible", ansible)
    runspace.global_scope.set(
        "ErrorActionPreference", _EAP.get(str(p.get("error_action") or "continue"), "Continue")
    )
    host = _StreamsHost()
    failed = _invoke(runspace, _command(script, p, sensitive, should_process, ctx.check_mode), host)

    result: dict[str, Any] = {
        **_EMPTY_RESULT,
        **_streams(host, depth),
        "result": convert_output(get_property(ansible, "Result")[1], depth),
        "changed": to_bool(get_property(ansible, "Changed")[1]),
    }
    diff = get_property(ansible, "Diff")[1]
    if ctx.diff_mode and isinstance(diff, dict) and diff:
        result["diff"] = {str(k): convert_output(v, depth) for k, v in diff.items()}
    if failed or to_bool(get_property(ansible, "Failed")[1]):
        result["failed"] = True
    return result


SPEC = ModuleSpec(
    name="win_powershell",
    run=run,
    supports_check_mode=True,
    options={
        "arguments": {"type": "list", "elements": "str"},
        "chdir": {"type": "str"},
        "creates": {"type": "str"},
        "depth": {"type": "int", "default": 2},
        "error_action": {
            "type": "str",
            "default": "continue",
            "choices": ["silently_continue", "continue", "stop"],
        },
        "executable": {"type": "str"},
        "parameters": {"type": "dict"},
        "path": {"type": "str"},
        "remote_src": {"type": "bool", "default": False},
        "removes": {"type": "str"},
        "script": {"type": "str"},
        "sensitive_parameters": {"type": "list", "elements": "dict", "no_log": False},
    },
    fingerprints=("ansible.windows.winpowershell.module", "convert-outputobject"),
)
