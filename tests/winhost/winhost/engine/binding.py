"""Parameter binding for script blocks and functions, and the argument list of a command.

A ``param(...)`` block is read into :class:`DeclaredParameter` records; :func:`bind_parameters`
binds ``[(name or None, value)]`` to them as PowerShell does (about_Functions_Advanced_Parameters):
names match exactly or by unique prefix, positional values fill the parameters in declaration
order (switches take none), defaults are evaluated in the function's scope, types are converted,
and a missing mandatory parameter is a ParameterBindingException. The common parameters
(about_CommonParameters, listed once in :mod:`winhost.engine.cmdlets.registry`) are accepted;
-ErrorAction, -WhatIf and -Verbose set the function's preference variables.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine.cmdlets.registry import CmdletSpec, common_parameter
from winhost.engine.context import ExecutionContext, Scope
from winhost.engine.errors import PSRuntimeError, not_emulated, terminating
from winhost.engine.syntax import Node, generic_token, named, parse_expression, text_of
from winhost.engine.types import cast_value
from winhost.engine.values import as_list, new_object, to_bool, to_number, to_string

Evaluate = Callable[[Node, Scope], Any]
Arguments = list[tuple[str | None, Any]]

_ATTR_MANDATORY = re.compile(r"\bmandatory\b(\s*=\s*\$true)?\s*[,)]", re.IGNORECASE)
_ATTR_FROM_PIPELINE = re.compile(r"\bvaluefrompipeline\b(\s*=\s*\$true)?\s*[,)]", re.IGNORECASE)
_SWITCH_TYPES = ("switch", "system.management.automation.switchparameter")


@dataclasses.dataclass(frozen=True)
class DeclaredParameter:
    """One parameter of a ``param(...)`` block."""

    name: str
    default: Node | None = None  # the default value's expression, evaluated at binding
    type_name: str | None = None  # ``[int]`` -> "int"
    mandatory: bool = False
    switch: bool = False
    from_pipeline: bool = False  # [Parameter(ValueFromPipeline)]


def _declared(parameter: Node) -> DeclaredParameter:
    fields: dict[str, Any] = {"name": ""}
    for part in named(parameter):
        if part.type == "variable":
            fields["name"] = text_of(part)[1:]
        elif part.type == "script_parameter_default":
            fields["default"] = named(part)[0]
        elif part.type == "attribute_list":
            for attr in named(part):
                inner = named(attr)
                if inner and inner[0].type == "type_literal":
                    fields["type_name"] = text_of(inner[0])[1:-1]
                    fields["switch"] = fields["type_name"].lower() in _SWITCH_TYPES
                else:
                    attr_text = text_of(attr)
                    fields["mandatory"] = fields.get("mandatory") or bool(_ATTR_MANDATORY.search(attr_text))
                    fields["from_pipeline"] = fields.get("from_pipeline") or bool(
                        _ATTR_FROM_PIPELINE.search(attr_text)
                    )
    return DeclaredParameter(**fields)


def declared_parameters(param_block: Node | None) -> list[DeclaredParameter]:
    """The parameters a ``param(...)`` block declares, in order (none without a block)."""
    if param_block is None:
        return []
    return [
        _declared(parameter)
        for plist in named(param_block)
        if plist.type == "parameter_list"
        for parameter in named(plist)
    ]


def _parameter_binding_error(message: str, error_id: str) -> PSRuntimeError:
    return terminating(
        message,
        error_id,
        ErrorCategory.InvalidArgument,
        exception_type="System.Management.Automation.ParameterBindingException",
    )


def _match(declared: list[DeclaredParameter], name: str) -> DeclaredParameter | None:
    low = name.lower()
    found = [d for d in declared if d.name.lower() == low] or [
        d for d in declared if d.name.lower().startswith(low)
    ]
    return found[0] if len(found) == 1 else None


def _apply_common(name: str, value: Any, scope: Scope) -> None:
    """-ErrorAction, -WhatIf and -Verbose set the function's preference variables."""
    if name == "ErrorAction":
        scope.set("ErrorActionPreference", value)
    elif name == "WhatIf":
        scope.set("WhatIfPreference", to_bool(value))
    elif name == "Verbose" and to_bool(value):
        scope.set("VerbosePreference", "Continue")


def _split_arguments(
    declared: list[DeclaredParameter], arguments: Arguments, scope: Scope, strict: bool
) -> tuple[dict[str, Any], list[Any]]:
    """Named arguments matched to declared parameters, and the positional values. Without a
    ``param`` block (``strict`` false), a named argument that matches nothing is positional."""
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    for name, value in arguments:
        if name is None:
            positional.append(value)
            continue
        match = _match(declared, name)
        common = common_parameter(name) if match is None else None
        if match is not None:
            bound[match.name] = value
        elif common is not None:
            _apply_common(common, value, scope)
        elif not strict:
            positional.append(value)
        else:
            raise _parameter_binding_error(
                f"A parameter cannot be found that matches parameter name '{name}'.", "NamedParameterNotFound"
            )
    return bound, positional


def bind_parameters(
    param_block: Node | None, arguments: Arguments, scope: Scope, evaluate: Evaluate, ctx: ExecutionContext
) -> list[Any]:
    """Bind ``arguments`` to the block's parameters as variables of ``scope`` (with
    $PSBoundParameters, and $PSCmdlet for [CmdletBinding()]); returns the unbound positional
    values ($args)."""
    declared = declared_parameters(param_block)
    bound, positional = _split_arguments(declared, arguments, scope, strict=param_block is not None)
    bound_parameters: dict[str, Any] = {}
    for parameter in declared:
        if parameter.name in bound or (positional and not parameter.switch):
            value = bound[parameter.name] if parameter.name in bound else positional.pop(0)
            bound_parameters[parameter.name] = value
        elif parameter.default is not None:
            value = evaluate(parameter.default, scope)
        elif parameter.mandatory and not parameter.from_pipeline:
            raise _parameter_binding_error(
                "Cannot process command because of one or more missing mandatory parameters: "
                f"{parameter.name}.",
                "MissingMandatoryParameter",
            )
        else:
            value = False if parameter.switch else None
        if parameter.type_name and value is not None:
            value = cast_value(parameter.type_name, value)
            if parameter.name in bound_parameters:
                bound_parameters[parameter.name] = value
        scope.set(parameter.name, value)
    scope.set("PSBoundParameters", bound_parameters)
    scope.set("__pipeline_params", [p.name for p in declared if p.from_pipeline and p.name])
    if param_block is not None and "cmdletbinding" in text_of(param_block).lower():
        scope.set("PSCmdlet", pscmdlet(ctx, scope))
    return positional


def pscmdlet(ctx: ExecutionContext, scope: Scope) -> Any:
    """$PSCmdlet of an advanced function: ShouldProcess (honours $WhatIfPreference),
    WriteError, ThrowTerminatingError, WriteVerbose/Warning/Debug/Information/Progress."""

    def should_process(*args: Any) -> bool:
        if to_bool(scope.get("WhatIfPreference", False)):
            target = to_string(args[0]) if args else ""
            action = to_string(args[1]) if len(args) > 1 else "Process"
            ctx.host.write_host(f'What if: Performing the operation "{action}" on target "{target}".')
            return False
        return True

    def write_error(record: Any) -> None:
        ctx.write_error(record, scope)

    def throw_terminating(record: Any) -> None:
        raise PSRuntimeError(record)

    obj = new_object(
        ["System.Management.Automation.PSScriptCmdlet", "System.Object"],
        {"ParameterSetName": "__AllParameterSets"},
    )
    obj._winhost_methods = {
        "shouldprocess": should_process,
        "shouldcontinue": lambda *a: True,
        "writeerror": write_error,
        "throwterminatingerror": throw_terminating,
        "writeverbose": lambda m: ctx.write_verbose(to_string(m), scope),
        "writewarning": lambda m: ctx.write_warning(to_string(m), scope),
        "writedebug": lambda m: ctx.write_debug(to_string(m), scope),
        "writeprogress": lambda r: ctx.host.write_progress(
            to_string(getattr(r, "Activity", "") or ""),
            to_string(getattr(r, "StatusDescription", "") or ""),
            int(to_number(getattr(r, "PercentComplete", -1))),
        ),
        "writeinformation": lambda r: ctx.host.write_information(
            getattr(r, "MessageData", r),
            to_string(getattr(r, "Source", "") or ""),
            list(getattr(r, "Tags", None) or []),
        ),
    }
    return obj


# -- a command's arguments ------------------------------------------------------------------------


def _is_splat(item: Node) -> bool:
    """``@params`` (a variable) or ``@name`` read as an array literal, not ``@(...)``/``@{...}``."""
    text = text_of(item)
    if item.type == "variable":
        return text.startswith("@")
    return (
        item.type == "array_literal_expression"
        and text.startswith("@")
        and not text.startswith(("@(", "@{", "@'", '@"'))
    )


def _splat(item: Node, scope: Scope) -> Arguments:
    """A hashtable splats as named arguments, anything else as positional ones (about_Splatting)."""
    value = scope.get(text_of(item).lstrip("@").split(":")[-1])
    if isinstance(value, dict):
        return [(to_string(k), v) for k, v in value.items()]
    return [(None, v) for v in as_list(value)]


def _check_redirection(item: Node) -> None:
    """``2>&1``, ``*>&1`` and ``> $null`` are accepted (output stays where it is); others are not
    emulated."""
    redirection = text_of(item).replace(" ", "")
    if redirection in ("2>&1", "*>&1") or redirection.endswith(("$null", ">$null")):
        return
    raise not_emulated(f"the redirection '{redirection}'")


def _is_colon(items: list[Node], i: int) -> bool:
    return i < len(items) and items[i].type == "command_argument_sep" and text_of(items[i]).strip() == ":"


def _is_member_access(node: Node | None) -> bool:
    """``(Get-Date).AddDays`` / ``$x.Split``: an expression ending in a member name (not a
    bareword such as ``New-Object Type('a')``'s type name)."""
    while node is not None and node.type != "member_access" and node.named_child_count == 1:
        node = node.named_children[0]
    return node is not None and node.type == "member_access"


class _ArgumentReader:
    """Walks a command's elements: ``-Name value``, ``-Name:value``, switches, splats, values."""

    def __init__(self, spec: CmdletSpec | None, scope: Scope, evaluate: Evaluate) -> None:
        self.spec = spec
        self.scope = scope
        self.evaluate = evaluate
        self.arguments: Arguments = []
        self.pending: str | None = None  # a -Name waiting for its value

    def parameter(self, item: Node, items: list[Node], i: int) -> None:
        if self.pending is not None:
            self.arguments.append((self.pending, True))
        name = text_of(item)[1:].removesuffix(":")
        is_switch = self.spec.is_switch(name) if self.spec is not None else False
        if is_switch and not _is_colon(items, i):
            self.arguments.append((name, True))
            self.pending = None
        else:
            self.pending = name

    def value(self, item: Node) -> None:
        value = (
            generic_token(text_of(item)) if item.type == "generic_token" else self.evaluate(item, self.scope)
        )
        self.arguments.append((self.pending, value))
        self.pending = None

    def method_call(self, target: Node, argument_list: Node) -> None:
        """``(Get-Date).AddDays(2)`` as an argument is one value, the method's result
        (about_Parsing: a value that starts with ``(`` is an expression); the grammar reads the
        ``(2)`` as an element of its own, right after the member access."""
        name, _ = self.arguments.pop()
        value = self.evaluate(parse_expression(text_of(target) + text_of(argument_list)), self.scope)
        self.arguments.append((name, value))

    def read(self, items: list[Node]) -> Arguments:
        for i, item in enumerate(items, start=1):
            previous = items[i - 2] if i >= 2 else None
            if (
                item.type == "argument_list"
                and previous is not None
                and _is_member_access(previous)
                and self.arguments
            ):
                self.method_call(previous, item)
            elif item.type == "command_parameter":
                self.parameter(item, items, i)
            elif item.type == "redirection":
                _check_redirection(item)
            elif item.type in ("command_argument_sep", "comment") or not item.is_named:
                continue
            elif _is_splat(item):
                self.arguments.extend(_splat(item, self.scope))
            else:
                self.value(item)
        if self.pending is not None:
            self.arguments.append((self.pending, True))
        return self.arguments


def command_arguments(
    elements: Node | None, scope: Scope, spec: CmdletSpec | None, evaluate: Evaluate
) -> Arguments:
    """A command's arguments as ``[(name or None, value)]``. ``spec`` (a cmdlet's declaration)
    tells which ``-Name`` is a switch, so that ``-Force x`` leaves ``x`` positional."""
    if elements is None:
        return []
    return _ArgumentReader(spec, scope, evaluate).read(list(elements.children))
