# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_info (documentation in plugins/modules/). Read-only."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.psremoting.core.plugins.action.winrm_firewall import read_rule
from ansible_collections.psremoting.core.plugins.action.winrm_service import service_state
from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ModuleAction,
    PipelineRunner,
    TaskContext,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import command
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._firewall import rule_name
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._listener import (
    certificate_from_ps,
    certificate_problems,
    listener_from_ps,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._remote import (
    read_certificates,
    read_listeners,
    read_policies,
    read_service,
    read_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._session_config import session_from_ps
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    CLIENT_SETTINGS,
    SERVICE_SETTINGS,
    WSManSetting,
    normalize,
    policy_configured,
)

SECTIONS = ["service", "client", "listeners", "firewall", "session_configurations", "policies"]


def _settings(
    settings: tuple[WSManSetting, ...], leaves: Mapping[str, Any], policies: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    locked: list[str] = []
    for setting in settings:
        leaf = leaves.get(setting.option)
        out[setting.option] = normalize(setting.kind, leaf.value) if leaf is not None else None
        by_policy = (
            setting.policy is not None
            and policy_configured(setting.policy, policies.get(setting.policy.key) or {}) is not None
        )
        if (leaf is not None and leaf.gpo) or by_policy:
            locked.append(setting.option)
    out["locked_by_policy"] = locked
    return out


def _listeners(runner: PipelineRunner) -> list[dict[str, Any]]:
    listeners = [listener_from_ps(o) for o in read_listeners(runner) if isinstance(o, Mapping)]
    certs: dict[str, Any] = {}
    if any(lst.certificate_thumbprint for lst in listeners):
        now = datetime.datetime.now(datetime.timezone.utc)
        for obj in read_certificates(runner):
            if isinstance(obj, Mapping):
                cert = certificate_from_ps(obj)
                certs[cert.thumbprint] = dict(cert.to_dict(), problems=certificate_problems(cert, now))
    return [dict(lst.to_dict(), certificate=certs.get(lst.certificate_thumbprint, {})) for lst in listeners]


def _firewall(runner: PipelineRunner) -> list[dict[str, Any]]:
    rules = []
    for transport in ("http", "https"):
        for public in (False, True):
            state = read_rule(runner, rule_name(transport, public))
            if state is not None:
                rules.append(dict(state.to_dict(), transport=transport))
    return rules


def _session_configurations(runner: PipelineRunner) -> list[dict[str, Any]]:
    output = runner.run("list session configurations", [command("Get-PSSessionConfiguration")], depth=1)
    return [session_from_ps(o) for o in output if isinstance(o, Mapping)]


def _jea_capabilities(runner: PipelineRunner, queries: list[dict[str, str]]) -> list[dict[str, Any]]:
    """What each user can run on each endpoint: Get-PSSessionCapability (PowerShell-Docs
    jea/audit-and-report.md "Check effective rights for a specific user": the same as the user
    running Get-Command in their JEA session)."""
    reports = []
    for query in queries:
        output = runner.run(
            f"read the capabilities of {query['username']} on {query['configuration']}",
            [
                command(
                    "Get-PSSessionCapability",
                    ConfigurationName=query["configuration"],
                    Username=query["username"],
                )
            ],
            depth=1,
        )
        commands = [
            {"name": str(o.get("Name")), "command_type": _command_type(o.get("CommandType"))}
            for o in output
            if isinstance(o, Mapping)
        ]
        reports.append({**query, "commands": commands})
    return reports


def _command_type(value: Any) -> str:
    """CommandTypes (System.Management.Automation.CommandTypes) by name."""
    names = {1: "Alias", 2: "Function", 4: "Filter", 8: "Cmdlet", 16: "ExternalScript", 32: "Application"}
    if isinstance(value, Mapping):
        value = value.get("Value", value.get("ToString"))
    try:
        return names.get(int(str(value)), str(value))
    except ValueError:
        return str(value)


@dataclass(frozen=True)
class InfoRequest:
    gather: list[str]
    jea_capabilities: list[dict[str, str]]


class ActionModule(ModuleAction[InfoRequest]):
    MODULE = "winrm_info"
    ARGUMENT_SPEC = {
        "gather": {"type": "list", "elements": "str", "default": list(SECTIONS), "choices": list(SECTIONS)},
        "jea_capabilities": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "configuration": {"type": "str", "required": True},
                "username": {"type": "str", "required": True},
            },
        },
    }
    REQUEST = InfoRequest

    def manage(self, runner: PipelineRunner, request: InfoRequest, context: TaskContext) -> dict[str, Any]:
        gather = set(request.gather)
        info: dict[str, Any] = {}
        policies: dict[str, dict[str, Any]] = {}
        if gather & {"service", "client", "policies"}:
            policies = read_policies(runner, SERVICE_SETTINGS + CLIENT_SETTINGS)
        if "policies" in gather:
            info["policies"] = {k.replace("HKLM:", "HKLM"): v for k, v in policies.items()}
        if "service" in gather:
            info["service"] = _settings(SERVICE_SETTINGS, read_settings(runner, SERVICE_SETTINGS), policies)
            info["service"].update(service_state(read_service(runner)))
        if "client" in gather:
            info["client"] = _settings(CLIENT_SETTINGS, read_settings(runner, CLIENT_SETTINGS), policies)
        readers = {
            "listeners": _listeners,
            "firewall": _firewall,
            "session_configurations": _session_configurations,
        }
        for section, reader in readers.items():
            if section in gather:
                info[section] = reader(runner)
        if request.jea_capabilities:
            info["jea_capabilities"] = _jea_capabilities(runner, request.jea_capabilities)
        return {"changed": False, "winrm": info}
