# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.session_configuration (documentation in plugins/modules/).

Cmdlets (Microsoft.PowerShell.Core, PowerShell-Docs): Get-PSSessionConfiguration,
Register-PSSessionConfiguration (-Path for .pssc files, -SecurityDescriptorSddl), Set-PSSessionConfiguration,
Enable-/Disable-PSSessionConfiguration, Unregister-PSSessionConfiguration. All with -Force (no prompt) and
-NoServiceRestart: restarting WinRM would end this very session; the module reports
``restart_required`` instead (the enable_psremoting role restarts WinRM in a handler).
Files: Get-Content -Raw / Set-Content -Encoding UTF8 / New-Item -ItemType Directory
(Microsoft.PowerShell.Management).
"""

from __future__ import annotations

import ntpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ModuleAction,
    PipelineRunner,
    TaskContext,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import WinRMConfigError, command
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._sddl import sddl as sddl_checker
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._session_config import (
    build_sddl,
    known_sid,
    plan_session,
    session_from_ps,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Problems

CONNECTED_DEFAULT = "microsoft.powershell"


def _normalized(text: str) -> str:
    """File text compared without line-ending differences."""
    return text.replace("\r\n", "\n").rstrip("\n")


def _sid_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("Value") or "")
    return str(value or "")


@dataclass(frozen=True)
class SessionRequest:
    name: str
    state: str
    enabled: bool | None
    path: str | None  # the .pssc the configuration is registered from
    files: tuple[tuple[str, str], ...]  # (path, content) to write, the .pssc last
    sddl: str | None
    allow: list[str] | None
    deny: list[str]
    allow_disconnect: bool


class ActionModule(ModuleAction[SessionRequest]):
    MODULE = "session_configuration"
    ARGUMENT_SPEC = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "enabled": {"type": "bool"},
        "path": {"type": "str"},
        "content": {"type": "str"},
        "files": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "path": {"type": "str", "required": True},
                "content": {"type": "str", "required": True},
            },
        },
        "sddl": {"type": "str"},
        "allow": {"type": "list", "elements": "str"},
        "deny": {"type": "list", "elements": "str", "default": []},
        "allow_disconnect": {"type": "bool", "default": False},
    }
    MUTUALLY_EXCLUSIVE = [("sddl", "allow")]
    CHECKS = {
        "name": validate.name,
        "path": validate.windows_path(".pssc"),
        "sddl": sddl_checker,
        "allow": validate.principal,
        "deny": validate.principal,
    }

    def check_values(self, args: dict[str, Any], problems: Problems) -> None:
        for index, entry in enumerate(args["files"] or []):
            problems.check(f"files[{index}].path", entry["path"], validate.windows_path())
        if args["content"] is not None and not args["path"]:
            problems.add("content", "(text)", "content needs path (where to write the .pssc)")

    def request(self, args: dict[str, Any]) -> SessionRequest:
        files = [(entry["path"], entry["content"]) for entry in args["files"] or []]
        if args["content"] is not None:
            files.append((args["path"], args["content"]))
        return SessionRequest(
            name=args["name"],
            state=args["state"],
            enabled=args["enabled"],
            path=args["path"],
            files=tuple(files),
            sddl=args["sddl"],
            allow=args["allow"],
            deny=args["deny"] or [],
            allow_disconnect=args["allow_disconnect"],
        )

    def manage(self, runner: PipelineRunner, request: SessionRequest, context: TaskContext) -> dict[str, Any]:
        name = request.name
        current = self._read(runner, name)
        self._refuse_own_configuration(request, current, context)
        file_diffs = self._file_changes(runner, request) if request.state == "present" else []
        files_changed = [d["after_header"] for d in file_diffs]
        sddl = request.sddl
        if request.allow is not None:
            sddl = build_sddl(
                [self._resolve(runner, p, context.host) for p in request.allow],
                [self._resolve(runner, p, context.host) for p in request.deny],
            )
        steps = plan_session(
            current,
            state=request.state,
            enabled=request.enabled,
            sddl=sddl,
            file_changed=bool(request.path) and request.path in files_changed,
        )
        # A configuration registered without a file is moved to the file-based one.
        moved = current is not None and request.path and not current["config_file_path"]
        if moved and request.state == "present" and "set_path" not in steps:
            steps.insert(0, "set_path")
        if not context.check_mode:
            for path, content in request.files:
                if path in files_changed:
                    self._write_file(runner, path, content)
            for step in steps:
                self._run_step(runner, step, name, request.path, sddl)
        after = self._after(current, request, sddl, steps)
        result: dict[str, Any] = {
            "changed": bool(steps) or bool(files_changed),
            "steps": steps,
            "files_changed": files_changed,
            "restart_required": bool(steps) and not context.check_mode,
            "session_configuration": after,
        }
        if context.diff:
            # The registered properties, then each .pssc/.psrc whose content changes.
            result["diff"] = [{"before": current or {}, "after": after}, *file_diffs]
        return result

    def _file_changes(self, runner: PipelineRunner, request: SessionRequest) -> list[dict[str, Any]]:
        """A diff entry for each file whose content differs from what the host has."""
        changes = []
        for path, content in request.files:
            have = self._read_file(runner, path)
            if _normalized(have) != _normalized(content):
                changes.append(
                    {"before_header": path, "after_header": path, "before": have, "after": content}
                )
        return changes

    @staticmethod
    def _after(
        current: dict[str, Any] | None, request: SessionRequest, sddl: str | None, steps: list[str]
    ) -> dict[str, Any]:
        """The registered properties after the task (empty when it is absent)."""
        if request.state != "present":
            return {}
        after = dict(current or {"name": request.name, "enabled": True, "sddl": "", "config_file_path": ""})
        if request.enabled is not None:
            after["enabled"] = request.enabled
        if sddl is not None:
            after["sddl"] = sddl
        if request.path and ({"register", "set_path"} & set(steps) or not after.get("config_file_path")):
            after["config_file_path"] = request.path
        return after

    @staticmethod
    def _read(runner: PipelineRunner, name: str) -> dict[str, Any] | None:
        output = runner.run(
            f"read session configuration {name}",
            [command("Get-PSSessionConfiguration", Name=name, ErrorAction="SilentlyContinue")],
            depth=1,
            ignore_errors=True,
        )
        found = [session_from_ps(o) for o in output if isinstance(o, Mapping)]
        return next((s for s in found if s["name"].lower() == name.lower()), None)

    @staticmethod
    def _refuse_own_configuration(request: SessionRequest, current: Any, context: TaskContext) -> None:
        """Refuse to unregister or disable the configuration this play's connection uses."""
        host = context.host
        connected = str(context.connection.configuration or CONNECTED_DEFAULT).lower()
        ending = request.state == "absent" or request.enabled is False
        if (
            ending
            and request.name.lower() == connected
            and current is not None
            and not request.allow_disconnect
        ):
            action = "unregister" if request.state == "absent" else "disable"
            raise WinRMConfigError(
                f"{host}: session_configuration refuses to {action} '{request.name}': this play's connection "
                "uses it. Connect with another configuration first, or set allow_disconnect=true if you "
                "really mean it."
            )

    @staticmethod
    def _read_file(runner: PipelineRunner, path: str) -> str:
        output = runner.run(
            f"read {path}",
            [command("Get-Content", Path=path, Raw=True, ErrorAction="SilentlyContinue")],
            ignore_errors=True,
        )
        return "".join(str(o) for o in output if o is not None)

    @staticmethod
    def _write_file(runner: PipelineRunner, path: str, content: str) -> None:
        parent = ntpath.dirname(path)
        if parent:
            runner.run(
                f"create {parent}", [command("New-Item", Path=parent, ItemType="Directory", Force=True)]
            )
        runner.run(
            f"write {path}", [command("Set-Content", Path=path, Value=content, Encoding="UTF8", Force=True)]
        )

    @staticmethod
    def _resolve(runner: PipelineRunner, principal: str, host: str) -> str:
        sid = known_sid(principal)
        if sid:
            return sid
        short = principal.split("\\", 1)[-1]
        for cmdlet in ("Get-LocalGroup", "Get-LocalUser"):
            output = runner.run(
                f"look up {principal}",
                [command(cmdlet, Name=short, ErrorAction="SilentlyContinue")],
                depth=2,
                ignore_errors=True,
            )
            for obj in output:
                if isinstance(obj, Mapping) and _sid_value(obj.get("SID")):
                    return _sid_value(obj.get("SID")).upper()
        raise WinRMConfigError(
            f"{host}: session_configuration: cannot resolve '{principal}' to a SID (not a well-known name, "
            "local group or local user); give domain principals as SIDs (S-1-5-21-...)"
        )

    @staticmethod
    def _run_step(runner: PipelineRunner, step: str, name: str, path: str | None, sddl: str | None) -> None:
        common = {"Force": True, "NoServiceRestart": True}
        if step == "register":
            params: dict[str, Any] = {"Name": name}
            if path:
                params["Path"] = path
            if sddl:
                params["SecurityDescriptorSddl"] = sddl
            runner.run(f"register {name}", [command("Register-PSSessionConfiguration", **params, **common)])
        elif step == "set_path":
            runner.run(
                f"update {name} from {path}",
                [command("Set-PSSessionConfiguration", Name=name, Path=path, **common)],
            )
        elif step == "set_sddl":
            runner.run(
                f"set access of {name}",
                [command("Set-PSSessionConfiguration", Name=name, SecurityDescriptorSddl=sddl, **common)],
            )
        elif step == "enable":
            runner.run(f"enable {name}", [command("Enable-PSSessionConfiguration", Name=name, **common)])
        elif step == "disable":
            runner.run(f"disable {name}", [command("Disable-PSSessionConfiguration", Name=name, **common)])
        elif step == "unregister":
            runner.run(
                f"unregister {name}", [command("Unregister-PSSessionConfiguration", Name=name, **common)]
            )
