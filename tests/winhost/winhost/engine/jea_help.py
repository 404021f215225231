"""Get-Help in a JEA (RestrictedRemoteServer) session of Windows PowerShell 5.1.

What Windows does, and where it is written down:

- MicrosoftDocs/PowerShell-Docs, reference/docs-conceptual/security/remoting/jea/
  session-configurations.md: a RestrictedRemoteServer session offers Get-Help among its default
  commands, and "No PowerShell providers are available".
- PowerShell/PowerShell src/System.Management.Automation/engine/CommandMetadata.cs,
  ``GetRestrictedGetHelp``: that Get-Help is a proxy of the cmdlet with two parameters only, ``Name``
  (``[string]``, ValidatePattern ``isSafeNameOrIdentifierRegex``, ValidateLength 0-1000) and
  ``Category`` (``[string[]]``, ValidateSet of the HelpCategory names, ValidateCount 0-1), bound by
  position in that order (``positionalBinding: true``), plus the common parameters.
- PowerShell/PowerShell issue 4092 "Get-Help does not work in JEA sessions" (Windows bug 9314110,
  PSVersion 5.1.15063; issue 8900 shows it again on 5.1.17763): ``Get-Help Select-Object`` in a
  RestrictedRemoteServer session fails with ItemNotFoundException "Cannot find path '' because it
  does not exist." (ObjectNotFound, ``PathNotFound,Microsoft.PowerShell.Commands.GetHelpCommand``).
  The cause is in help/ProviderContext.cs ``GetProviderSpecificHelpInfo``: the help found for a
  command is forwarded to the provider of the current location (ProviderHelpProvider
  ``ProcessForwardedHelp`` wraps it in a ProviderCommandHelpInfo); with no provider visible the
  location resolves to nothing and 5.1 throws ``ItemNotFoundException(_requestedPath, "PathNotFound")``
  with the unset -Path (so '' and no target). PowerShell 6+ returns the generic help there instead
  (pull request 2988, "Under JEA sessions the resolvedProviderPath will be null"); Windows
  PowerShell 5.1, which winhost is, was never changed.
- help/CommandHelpProvider.cs ``ExactMatchHelp`` skips a command that is not visible from the
  caller's CommandOrigin, so nothing is forwarded for a hidden command: the help system then reports
  HelpNotFoundException "Get-Help could not find <name> in a help file in this session. ..."
  (ResourceUnavailable, ``HelpNotFound,Microsoft.PowerShell.Commands.GetHelpCommand``), written as
  a non-terminating error by GetHelpCommand when nothing was found for a name without wildcards.

Not emulated (winhost says so): Get-Help without a name (issue 8900 reports that it fails, not
how), -Category (which categories hold a command's help), and a session whose roles make a
provider visible (the location then resolves and Windows returns real help content).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from psrpcore.types import ErrorCategory, ErrorRecord

from winhost.engine.errors import PSRuntimeError, make_error_record, not_emulated

PROXY = "Get-Help"
CMDLET = "Microsoft.PowerShell.Commands.GetHelpCommand"
#: CommandMetadata.isSafeNameOrIdentifierRegex, as the ValidatePattern error quotes it.
SAFE_NAME_PATTERN = r"^[-._:\\\p{Ll}\p{Lu}\p{Lt}\p{Lo}\p{Nd}\p{Lm}]{1,100}$"
_SAFE_PUNCTUATION = "-._:\\"
_SAFE_LETTER_CATEGORIES = {"Ll", "Lu", "Lt", "Lo", "Nd", "Lm"}
#: Enum.GetNames(typeof(HelpCategory)): the names in the order of their values (help/HelpCategory.cs).
HELP_CATEGORIES = (
    "None", "Alias", "Cmdlet", "Provider", "General", "FAQ", "Glossary", "HelpFile", "ScriptCommand",
    "Function", "Filter", "ExternalScript", "DefaultHelp", "Workflow", "Configuration", "DscResource",
    "Class", "All",
)  # fmt: skip
_PARAMETERS = ("Name", "Category")  # declaration order = position 0, 1
COMMON_PARAMETERS = (
    "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable",
    "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable",
)  # fmt: skip


def is_get_help(name: str) -> bool:
    return name.rsplit("\\", 1)[-1].lower() == "get-help"


def _binding_error(message: str, error_id: str, target: Any = None) -> ErrorRecord:
    return make_error_record(
        message,
        f"{error_id},{PROXY}",
        ErrorCategory.InvalidArgument,
        target=target,
        exception_type="System.Management.Automation.ParameterBindingException",
    )


def _validation_error(parameter: str, detail: str) -> ErrorRecord:
    return make_error_record(
        f"Cannot validate argument on parameter '{parameter}'. {detail}",
        f"ParameterArgumentValidationError,{PROXY}",
        ErrorCategory.InvalidData,
        exception_type="System.Management.Automation.ParameterBindingValidationException",
    )


def _resolve(name: str) -> str | None:
    """The proxy's parameter a (possibly abbreviated) name binds to; None: no such parameter."""
    low = name.lower()
    for candidates in (_PARAMETERS, COMMON_PARAMETERS):
        exact = [c for c in candidates if c.lower() == low]
        if exact:
            return exact[0]
        prefixed = [c for c in candidates if c.lower().startswith(low)]
        if len(prefixed) == 1:
            return prefixed[0]
    return None


def bind(parameters: list[tuple[str | None, Any]]) -> tuple[dict[str, Any], ErrorRecord | None]:
    """The proxy's bound parameters (named first, then positional in declaration order)."""
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    for name, value in parameters:
        if name is None:
            positional.append(value)
            continue
        resolved = _resolve(name)
        if resolved is None:
            return bound, _binding_error(
                f"A parameter cannot be found that matches parameter name '{name}'.", "NamedParameterNotFound"
            )
        bound[resolved] = value
    free = [p for p in _PARAMETERS if p not in bound]
    for value in positional:
        if not free:
            return bound, _binding_error(
                f"A positional parameter cannot be found that accepts argument '{value}'.",
                "PositionalParameterNotFound",
                target=value,
            )
        bound[free.pop(0)] = value
    return bound, None


def _safe_name(text: str) -> bool:
    return 1 <= len(text) <= 100 and all(
        c in _SAFE_PUNCTUATION or unicodedata.category(c) in _SAFE_LETTER_CATEGORIES for c in text
    )


def refusal(parameters: list[tuple[str | None, Any]]) -> ErrorRecord | None:
    """The proxy's parameter binding and validation error for these arguments, or None."""
    bound, error = bind(parameters)
    if error is not None:
        return error
    if "Name" in bound:
        text = "" if bound["Name"] is None else str(bound["Name"])
        if not _safe_name(text):
            return _validation_error(
                "Name",
                f'The argument "{text}" does not match the "{SAFE_NAME_PATTERN}" pattern. Supply an argument '
                f'that matches "{SAFE_NAME_PATTERN}" and try the command again.',
            )
    if "Category" in bound:
        values = bound["Category"] if isinstance(bound["Category"], list) else [bound["Category"]]
        for value in values:
            text = "" if value is None else str(value)
            if text.lower() not in (c.lower() for c in HELP_CATEGORIES):
                return _validation_error(
                    "Category",
                    f'The argument "{text}" does not belong to the set "{",".join(HELP_CATEGORIES)}" specified '
                    "by the ValidateSet attribute. Supply an argument that is in the set and then try the "
                    "command again.",
                )
    return None


def path_not_found() -> ErrorRecord:
    """5.1's ProviderContext.GetProviderSpecificHelpInfo in a session without a visible provider."""
    return make_error_record(
        "Cannot find path '' because it does not exist.",
        "PathNotFound",
        ErrorCategory.ObjectNotFound,
        exception_type="System.Management.Automation.ItemNotFoundException",
        command=CMDLET,
    )


def help_not_found(name: str) -> ErrorRecord:
    """HelpNotFoundException as Windows PowerShell 5.1 words it (its "https:/" has one slash)."""
    return make_error_record(
        f"Get-Help could not find {name} in a help file in this session. To download updated help topics "
        'type: "Update-Help". To get help online, search for the help topic in the TechNet library at '
        "https:/go.microsoft.com/fwlink/?LinkID=107116.",
        "HelpNotFound",
        ErrorCategory.ResourceUnavailable,
        exception_type="System.Management.Automation.HelpNotFoundException",
        command=CMDLET,
    )


def answer(
    parameters: list[tuple[str | None, Any]],
    is_visible: Callable[[str], bool],
    providers_visible: bool,
    write_error: Callable[[ErrorRecord, str | None], None],
) -> Iterator[Any]:
    """Run the (already validated) proxy: PathNotFound (terminating) for a visible command,
    HelpNotFound (non-terminating, honouring -ErrorAction) for any other name."""
    bound, _ = bind(parameters)
    name = bound.get("Name")
    if name is None or "Category" in bound or providers_visible:
        raise not_emulated("the JEA session command Get-Help")
    if is_visible(str(name)):
        raise PSRuntimeError(path_not_found())
    action = bound.get("ErrorAction")
    write_error(help_not_found(str(name)), None if action is None else str(action))
    yield from ()
