"""Answers to GET_COMMAND_METADATA (MS-PSRP 2.2.2.14): which commands the runspace offers.

The server writes, as pipeline output, first a CommandMetadataCount object (MS-PSRP 2.2.3.22:
``Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo`` with ``Count``) and then one
command metadata object per matching command (MS-PSRP 2.2.3.21: ``Selected.<CommandInfo type>``
with ``Name``, ``Namespace``, ``HelpUri``, ``CommandType``, ``ResolvedCommandName``,
``OutputType`` and ``Parameters``, a dictionary of ``ParameterMetadata``: ``Name``,
``ParameterType``, ``Aliases``, ``IsDynamic``, ``SwitchParameter``). Names are wildcard patterns
(case-insensitive); ``CommandType`` is a CommandTypes bit mask (Alias 1, Function 2, Filter 4,
Cmdlet 8, ...); ``Namespace`` optionally restricts the module.
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import CommandTypes, PSObject

from winhost.engine.cmdlets.registry import _COMMON_ALIASES, _COMMON_SWITCHES, CATALOGUE, COMMON_PARAMETERS
from winhost.engine.cmdlets.system import BUILTIN_FUNCTIONS
from winhost.engine.values import like, new_object

_PARAMETER_TYPES = {
    "string": "System.String",
    "string[]": "System.String[]",
    "int": "System.Int32",
    "bool": "System.Boolean",
    "scriptblock": "System.Management.Automation.ScriptBlock",
}
_COMMON_TYPES = {
    "ErrorAction": "System.Management.Automation.ActionPreference",
    "WarningAction": "System.Management.Automation.ActionPreference",
    "InformationAction": "System.Management.Automation.ActionPreference",
    "OutBuffer": "System.Int32",
}


def _parameter(name: str, type_name: str, aliases: list[str], switch: bool) -> PSObject:
    return new_object(
        ["System.Management.Automation.ParameterMetadata", "System.Object"],
        {
            "Name": name,
            "ParameterType": type_name,
            "Aliases": aliases,
            "IsDynamic": False,
            "SwitchParameter": switch,
        },
        to_string_value="System.Management.Automation.ParameterMetadata",
    )


def _cmdlet_parameters(spec: Any) -> dict[str, PSObject]:
    params: dict[str, PSObject] = {}
    for p in spec.params:
        type_name = (
            "System.Management.Automation.SwitchParameter"
            if p.switch
            else _PARAMETER_TYPES.get(p.type, "System.Object")
        )
        params[p.name] = _parameter(p.name, type_name, list(p.aliases), p.switch)
    reverse = {v: k for k, v in _COMMON_ALIASES.items()}
    for name in COMMON_PARAMETERS:
        switch = name.lower() in _COMMON_SWITCHES
        type_name = (
            "System.Management.Automation.SwitchParameter"
            if switch
            else _COMMON_TYPES.get(name, "System.String")
        )
        alias = reverse.get(name)
        params.setdefault(name, _parameter(name, type_name, [alias] if alias else [], switch))
    return params


def _command_object(
    kind: str, name: str, namespace: str, command_type: CommandTypes, params: dict[str, Any]
) -> Any:
    return new_object(
        [
            f"Selected.System.Management.Automation.{kind}",
            "System.Management.Automation.PSCustomObject",
            "System.Object",
        ],
        {},
        extended={
            "Name": name,
            "Namespace": namespace,
            "HelpUri": "",
            "CommandType": command_type,
            "ResolvedCommandName": None,
            "OutputType": [],
            "Parameters": params,
        },
    )


def _matches(name: str, patterns: list[str]) -> bool:
    return any(like(name, p) for p in patterns)


def command_metadata(
    functions: dict[str, Any],
    names: list[str] | None,
    command_type: int,
    namespaces: list[str] | None,
) -> list[Any]:
    """The output of a GetCommandMetadata pipeline: the count object, then each command."""
    patterns = names or ["*"]
    found: list[tuple[str, Any]] = []
    if command_type & int(CommandTypes.Cmdlet):
        for spec in CATALOGUE.values():
            if spec.name.lower() in BUILTIN_FUNCTIONS or not _matches(spec.name, patterns):
                continue
            if namespaces and not _matches(spec.noun_module, namespaces):
                continue
            found.append(
                (
                    spec.name.lower(),
                    _command_object(
                        "CmdletInfo",
                        spec.name,
                        spec.noun_module,
                        CommandTypes.Cmdlet,
                        _cmdlet_parameters(spec),
                    ),
                )
            )
    if command_type & int(CommandTypes.Function):
        for spec in CATALOGUE.values():
            if spec.name.lower() not in BUILTIN_FUNCTIONS or not _matches(spec.name, patterns):
                continue
            if namespaces and not _matches(spec.noun_module, namespaces):
                continue
            found.append(
                (
                    spec.name.lower(),
                    _command_object(
                        "FunctionInfo",
                        spec.name,
                        spec.noun_module,
                        CommandTypes.Function,
                        _cmdlet_parameters(spec),
                    ),
                )
            )
    if command_type & int(CommandTypes.Function) and not namespaces:
        for name in functions:
            if _matches(name, patterns):
                found.append(
                    (name.lower(), _command_object("FunctionInfo", name, "", CommandTypes.Function, {}))
                )
    found.sort(key=lambda item: item[0])
    count = new_object(
        [
            "Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo",
            "System.Management.Automation.PSCustomObject",
            "System.Object",
        ],
        {},
        extended={"Count": len(found)},
    )
    return [count, *(obj for _, obj in found)]
