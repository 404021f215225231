"""The cmdlet catalogue: declarations, parameter binding, lookup.

A cmdlet is a Python generator function ``fn(call: CommandCall) -> Iterator[Any]`` declared with
:func:`cmdlet`. ``call.args`` holds the bound parameters; pipeline input is read with
``call.input()`` (or ``call.each("InputObject")`` which yields the bound value or each pipeline
object, as PowerShell's ``ValueFromPipeline`` does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from psrpcore.types import ErrorCategory

from winhost.engine.errors import PSRuntimeError, make_error_record

if TYPE_CHECKING:
    from winhost.engine.context import CommandCall


@dataclasses.dataclass
class Param:
    name: str
    position: int | None = None
    switch: bool = False
    aliases: tuple[str, ...] = ()
    type: str = ""  # "string", "string[]", "int", "bool", "scriptblock", "" (any)
    value_from_remaining: bool = False


CmdletFunc = Callable[["CommandCall"], Iterator[Any]]

COMMON_PARAMETERS = (
    "ErrorAction",
    "WarningAction",
    "InformationAction",
    "Verbose",
    "Debug",
    "ErrorVariable",
    "WarningVariable",
    "InformationVariable",
    "OutVariable",
    "OutBuffer",
    "PipelineVariable",
    "WhatIf",
    "Confirm",
)
_COMMON_SWITCHES = {"verbose", "debug", "whatif", "confirm"}
_COMMON_ALIASES = {
    "ea": "ErrorAction",
    "wa": "WarningAction",
    "ev": "ErrorVariable",
    "ov": "OutVariable",
    "vb": "Verbose",
    "db": "Debug",
    "wi": "WhatIf",
    "cf": "Confirm",
    "infa": "InformationAction",
}


def common_parameter(name: str) -> str | None:
    """The common parameter ``-name`` spells in full or by its alias (about_CommonParameters), or
    None."""
    low = name.lower()
    if low in _COMMON_ALIASES:
        return _COMMON_ALIASES[low]
    return next((c for c in COMMON_PARAMETERS if c.lower() == low), None)


@dataclasses.dataclass
class CmdletSpec:
    name: str
    func: CmdletFunc
    params: list[Param]
    noun_module: str = "Microsoft.PowerShell.Management"
    dotnet_class: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def command_type(self) -> str:
        """e.g. Microsoft.PowerShell.Commands.GetServiceCommand (used in FullyQualifiedErrorId)."""
        return self.dotnet_class or "Microsoft.PowerShell.Commands." + self.name.replace("-", "") + "Command"

    def bind(self, named: list[tuple[str | None, Any]]) -> dict[str, Any]:
        """Bind ``[(name or None, value)]`` to parameters (case-insensitive, unique prefixes)."""
        bound: dict[str, Any] = {}
        positional: list[Any] = []
        for name, value in named:
            if name is None:
                positional.append(value)
                continue
            param_name = self._resolve(name)
            bound[param_name] = value
        by_pos = sorted((p for p in self.params if p.position is not None), key=lambda p: p.position or 0)
        remaining = [p for p in by_pos if p.name not in bound]
        rest = next((p for p in self.params if p.value_from_remaining), None)
        for value in positional:
            if remaining:
                bound[remaining.pop(0).name] = value
            elif rest is not None:
                existing = bound.get(rest.name)
                bound[rest.name] = (
                    existing if isinstance(existing, list) else ([] if existing is None else [existing])
                ) + [value]
            else:
                raise PSRuntimeError(
                    make_error_record(
                        f"A positional parameter cannot be found that accepts argument '{value}'.",
                        "PositionalParameterNotFound," + self.command_type,
                        ErrorCategory.InvalidArgument,
                        target=value,
                        exception_type="System.Management.Automation.ParameterBindingException",
                    )
                )
        return bound

    def _resolve(self, name: str) -> str:
        low = name.lower()
        if low in _COMMON_ALIASES:
            return _COMMON_ALIASES[low]
        candidates: dict[str, str] = {}
        for p in self.params:
            for n in (p.name, *p.aliases):
                if n.lower() == low:
                    return p.name
                if n.lower().startswith(low):
                    candidates[p.name] = p.name
        for c in COMMON_PARAMETERS:
            if c.lower() == low:
                return c
            if c.lower().startswith(low):
                candidates[c] = c
        if len(candidates) == 1:
            return next(iter(candidates))
        if len(candidates) > 1:
            raise PSRuntimeError(
                make_error_record(
                    f"Parameter cannot be processed because the parameter name '{name}' is ambiguous. "
                    f"Possible matches include: {' '.join('-' + c for c in candidates)}.",
                    "AmbiguousParameter," + self.command_type,
                    ErrorCategory.InvalidArgument,
                    exception_type="System.Management.Automation.ParameterBindingException",
                )
            )
        raise PSRuntimeError(
            make_error_record(
                f"A parameter cannot be found that matches parameter name '{name}'.",
                "NamedParameterNotFound," + self.command_type,
                ErrorCategory.InvalidArgument,
                exception_type="System.Management.Automation.ParameterBindingException",
            )
        )

    def is_switch(self, name: str) -> bool:
        """Does ``-name`` take no argument (switch)? Used by the script parser for ``-Force x``."""
        try:
            resolved = self._resolve(name)
        except PSRuntimeError:
            return False
        if resolved.lower() in _COMMON_SWITCHES:
            return True
        return any(p.name == resolved and p.switch for p in self.params)


CATALOGUE: dict[str, CmdletSpec] = {}
ALIASES: dict[str, str] = {}


def cmdlet(
    name: str,
    params: list[Param] | None = None,
    module: str = "Microsoft.PowerShell.Management",
    dotnet_class: str = "",
    aliases: tuple[str, ...] = (),
) -> Callable[[CmdletFunc], CmdletFunc]:
    def register(func: CmdletFunc) -> CmdletFunc:
        spec = CmdletSpec(name, func, params or [], module, dotnet_class, aliases)
        CATALOGUE[name.lower()] = spec
        for alias in aliases:
            ALIASES[alias.lower()] = name
        return func

    return register


def lookup(name: str) -> CmdletSpec | None:
    low = name.lower()
    if low in ALIASES:
        low = ALIASES[low].lower()
    # Module-qualified names: Microsoft.PowerShell.Management\Get-Service
    if "\\" in low:
        low = low.rsplit("\\", 1)[1]
    return CATALOGUE.get(low)
