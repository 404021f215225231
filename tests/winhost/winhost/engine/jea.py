"""Just Enough Administration: what a session on a RestrictedRemoteServer endpoint may run.

Microsoft documents (MicrosoftDocs/PowerShell-Docs, reference/docs-conceptual/security/remoting/jea/):

- session-configurations.md: a ``RestrictedRemoteServer`` session runs in NoLanguage mode with the
  default commands Clear-Host, Exit-PSSession, Get-Command, Get-FormatData, Get-Help,
  Measure-Object, Out-Default, Select-Object (and their aliases); no provider and no external
  program is visible. ``RoleDefinitions`` maps users/groups to role capabilities (base names of
  ``.psrc`` files found in a module's ``RoleCapabilities`` folder under $env:PSModulePath, or
  ``RoleCapabilityFiles`` paths); everyone listed is granted access to the endpoint.
  ``RunAsVirtualAccount`` runs the session as a virtual account; ``TranscriptDirectory`` records
  a transcript of each session.
- role-capabilities.md: VisibleCmdlets/VisibleFunctions entries are names (wildcards allowed,
  module-qualified allowed) or ``@{ Name; Parameters = @{ Name; ValidateSet | ValidatePattern } }``;
  the common parameters are always allowed; roles are merged (most permissive wins: rules 1-7 of
  "How role capabilities are merged"); VisibleExternalCommands/Aliases/Providers are unions.
- security-considerations.md / audit-and-report.md: the virtual account is
  ``WinRM Virtual Users\\WinRM VA_<n>_<DOMAIN>_<user>`` (the transcript example of audit-and-report.md;
  security-considerations.md spells it ``WinRM_VA_``, whoami.exe on Windows prints the spaced form);
  the transcript header names the connecting user and the RunAs user; a command invocation is
  recorded as ``CommandInvocation(Name): "Name"`` with ``ParameterBinding`` lines.

The .pssc/.psrc files are PowerShell data files (restricted language: hashtables, arrays, strings,
numbers, $true/$false/$null, script blocks); :func:`parse_data_file` reads them without running code.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import random
import re
import string
from pathlib import Path
from typing import Any

from psrpcore.types import ErrorCategory, ErrorRecord

from winhost.engine.cmdlets.registry import lookup
from winhost.engine.errors import make_error_record
from winhost.engine.values import new_object
from winhost.engine.wildcards import wildcard_match

#: RestrictedRemoteServer's default commands (session-configurations.md) and their aliases.
DEFAULT_COMMANDS = (
    "Clear-Host",
    "Exit-PSSession",
    "Get-Command",
    "Get-FormatData",
    "Get-Help",
    "Measure-Object",
    "Out-Default",
    "Select-Object",
)
DEFAULT_ALIASES = {
    "cls": "Clear-Host",
    "clear": "Clear-Host",
    "exsn": "Exit-PSSession",
    "exit": "Exit-PSSession",
    "gcm": "Get-Command",
    "measure": "Measure-Object",
    "select": "Select-Object",
}
#: Role capability folders: $env:PSModulePath of Windows PowerShell 5.1 (system-wide parts).
MODULE_ROOTS = (
    "C:\\Program Files\\WindowsPowerShell\\Modules",
    "C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules",
)
COMMON_PARAMETERS = {
    "verbose", "debug", "erroraction", "warningaction", "informationaction", "errorvariable",
    "warningvariable", "informationvariable", "outvariable", "outbuffer", "pipelinevariable",
    "whatif", "confirm",
}  # fmt: skip
VIRTUAL_USERS = "WinRM Virtual Users"
_ACCOUNT_NUMBERS = itertools.count(1)


class DataFileError(ValueError):
    """A .pssc/.psrc that is not a valid PowerShell data file."""


# -- PowerShell data files -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*|<\#.*?\#>|;)
  | (?P<open>@\{|@\(|\{|\()
  | (?P<close>[})])
  | (?P<eq>=)
  | (?P<comma>,)
  | (?P<sq>'(?:[^']|'')*')
  | (?P<dq>"(?:[^"`]|`.|"")*")
  | (?P<var>\$(?:true|false|null)\b)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][\w.\-]*)
  | (?P<other>\S)
    """,
    re.VERBOSE | re.DOTALL | re.IGNORECASE,
)


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.lstrip("\ufeff")
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise DataFileError(f"unexpected text at offset {pos}: {text[pos : pos + 20]!r}")
            kind = match.lastgroup or ""
            if kind != "ws":
                self.tokens.append((kind, match.group(0)))
            pos = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.index += 1
        return token

    def value(self) -> Any:
        first = self.single()
        if self.peek()[0] != "comma":
            return first
        items = [first]
        while self.peek()[0] == "comma":
            self.take()
            items.append(self.single())
        return items

    def single(self) -> Any:
        kind, text = self.take()
        if kind == "sq":
            return text[1:-1].replace("''", "'")
        if kind == "dq":
            return re.sub(r"`(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
                          text[1:-1].replace('""', '"'))  # fmt: skip
        if kind == "var":
            return {"$true": True, "$false": False, "$null": None}[text.lower()]
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "open" and text == "@{":
            return self.hashtable()
        if kind == "open" and text in ("@(", "("):
            items: list[Any] = []
            while self.peek()[0] != "close":
                value = self.value()
                items.extend(value if isinstance(value, list) else [value])
            self.take()
            return items
        if kind == "open" and text == "{":
            return self.script_block()
        if kind == "word":
            return text
        raise DataFileError(f"unexpected {text!r}")

    def script_block(self) -> str:
        depth, parts = 1, []
        while depth:
            kind, text = self.take()
            if kind == "end":
                raise DataFileError("unterminated script block")
            depth += 1 if kind == "open" else -1 if kind == "close" else 0
            parts.append(text)
        return " ".join(parts[:-1])

    def hashtable(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        while self.peek()[0] != "close":
            kind, key = self.take()
            if kind not in ("word", "sq", "dq"):
                raise DataFileError(f"a hashtable key was expected, not {key!r}")
            if kind != "word":
                key = key[1:-1]
            if self.take()[0] != "eq":
                raise DataFileError(f"'=' expected after {key!r}")
            table[key] = self.value()
        self.take()
        return table


def parse_data_file(text: str) -> dict[str, Any]:
    """A .pssc/.psrc (``@{ ... }``) as a dict; DataFileError when it is not one."""
    reader = _Reader(text)
    kind, first = reader.take()
    if (kind, first) != ("open", "@{"):
        raise DataFileError("a PowerShell data file starts with @{")
    table = reader.hashtable()
    if reader.peek()[0] != "end":
        raise DataFileError("text after the closing }")
    return table


def get(table: dict[str, Any], key: str, default: Any = None) -> Any:
    """A data-file key, case-insensitively (PowerShell hashtables are)."""
    for name, value in table.items():
        if name.lower() == key.lower():
            return value
    return default


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# -- visible commands and their parameter restrictions ---------------------------------------------


@dataclasses.dataclass
class ParameterRule:
    """One allowed parameter; no ValidateSet/ValidatePattern: any value."""

    name: str
    validate_set: list[str] | None = None
    validate_pattern: list[str] | None = None

    @property
    def constrained(self) -> bool:
        return self.validate_set is not None or self.validate_pattern is not None


@dataclasses.dataclass
class VisibleCommand:
    """A VisibleCmdlets/VisibleFunctions entry; ``parameters`` None: every parameter."""

    name: str  # may be module-qualified and have wildcards
    parameters: dict[str, ParameterRule] | None = None

    @property
    def bare_name(self) -> str:
        return self.name.rsplit("\\", 1)[-1]

    def matches(self, command: str) -> bool:
        return wildcard_match(command.rsplit("\\", 1)[-1], self.bare_name)


def _visible_command(entry: Any) -> VisibleCommand:
    if isinstance(entry, dict):
        name = str(get(entry, "Name", ""))
        params = get(entry, "Parameters")
        if params is None:
            return VisibleCommand(name)
        rules: dict[str, ParameterRule] = {}
        for param in as_list(params):
            if not isinstance(param, dict):
                continue
            pname = str(get(param, "Name", ""))
            pattern = get(param, "ValidatePattern")
            values = get(param, "ValidateSet")
            rule = ParameterRule(pname)
            if pattern is not None:  # "If you do, the ValidatePattern overrides the ValidateSet."
                rule.validate_pattern = [str(p) for p in as_list(pattern)]
            elif values is not None:
                rule.validate_set = [str(v) for v in as_list(values)]
            rules[pname.lower()] = rule
        return VisibleCommand(name, rules)
    return VisibleCommand(str(entry))


def _merge_rule(a: ParameterRule, b: ParameterRule) -> ParameterRule:
    """Rules 4-7: unconstrained wins; sets union; patterns union; patterns beat sets."""
    if not a.constrained or not b.constrained:
        return ParameterRule(a.name)
    patterns = (a.validate_pattern or []) + (b.validate_pattern or [])
    if patterns:
        return ParameterRule(a.name, validate_pattern=patterns)
    return ParameterRule(a.name, validate_set=(a.validate_set or []) + (b.validate_set or []))


def merge_commands(entries: list[VisibleCommand]) -> list[VisibleCommand]:
    """Rules 1-3 of "How role capabilities are merged" for entries naming the same command."""
    merged: dict[str, VisibleCommand] = {}
    for entry in entries:
        key = entry.name.lower()
        have = merged.get(key)
        if have is None:
            merged[key] = VisibleCommand(
                entry.name, dict(entry.parameters) if entry.parameters is not None else None
            )
        elif have.parameters is None or entry.parameters is None:
            have.parameters = None
        else:
            for pkey, rule in entry.parameters.items():
                have.parameters[pkey] = (
                    _merge_rule(have.parameters[pkey], rule) if pkey in have.parameters else rule
                )
    return list(merged.values())


@dataclasses.dataclass
class Capabilities:
    """What one user may run in a JEA session (the merge of their roles and the session's own)."""

    cmdlets: list[VisibleCommand] = dataclasses.field(default_factory=list)
    functions: list[VisibleCommand] = dataclasses.field(default_factory=list)
    aliases: list[str] = dataclasses.field(default_factory=list)
    providers: list[str] = dataclasses.field(default_factory=list)
    external: list[str] = dataclasses.field(default_factory=list)
    roles: list[str] = dataclasses.field(default_factory=list)

    def add(self, table: dict[str, Any]) -> None:
        self.cmdlets = merge_commands(
            self.cmdlets + [_visible_command(e) for e in as_list(get(table, "VisibleCmdlets"))]
        )
        self.functions = merge_commands(
            self.functions + [_visible_command(e) for e in as_list(get(table, "VisibleFunctions"))]
        )
        for attr, key in (("aliases", "VisibleAliases"), ("providers", "VisibleProviders"),
                          ("external", "VisibleExternalCommands")):  # fmt: skip
            values: list[str] = getattr(self, attr)
            values.extend(str(v) for v in as_list(get(table, key)) if str(v) not in values)

    def command(self, name: str) -> VisibleCommand | None:
        """The visible entry for a command name (cmdlet or function), or None when hidden."""
        bare = name.rsplit("\\", 1)[-1]
        target = DEFAULT_ALIASES.get(bare.lower(), bare)
        if any(bare.lower() == a.lower() for a in self.aliases):
            # A VisibleAliases entry runs its command when that command is visible too.
            spec = lookup(bare)
            target = spec.name if spec is not None else bare
        if any(target.lower() == d.lower() for d in DEFAULT_COMMANDS):
            return VisibleCommand(target)
        found = [e for e in self.cmdlets + self.functions if e.matches(target)]
        if not found:
            return None
        return merge_commands([VisibleCommand(target, e.parameters) for e in found])[0]

    def external_visible(self, path: str) -> bool:
        return any(wildcard_match(path, pattern) for pattern in self.external)

    def visible_names(self) -> list[str]:
        """Get-Command's view: the default commands, then the visible cmdlets and functions."""
        names = list(DEFAULT_COMMANDS)
        for entry in self.cmdlets + self.functions:
            if entry.bare_name.lower() not in (n.lower() for n in names):
                names.append(entry.bare_name)
        return names


# -- the endpoint's configuration and the user's roles ---------------------------------------------


@dataclasses.dataclass
class JeaConfiguration:
    """A registered .pssc (Windows copies it into the plugin's configuration at registration)."""

    table: dict[str, Any]

    @property
    def restricted(self) -> bool:
        return str(get(self.table, "SessionType", "Default")).lower() == "restrictedremoteserver"

    @property
    def language_mode(self) -> str:
        default = "NoLanguage" if self.restricted else "FullLanguage"
        return str(get(self.table, "LanguageMode", default))

    @property
    def virtual_account(self) -> bool:
        return bool(get(self.table, "RunAsVirtualAccount", False))

    @property
    def transcript_directory(self) -> str:
        return str(get(self.table, "TranscriptDirectory", "") or "")

    @property
    def role_definitions(self) -> dict[str, Any]:
        value = get(self.table, "RoleDefinitions")
        return value if isinstance(value, dict) else {}

    def permission(self) -> str | None:
        """Get-PSSessionConfiguration's Permission for an endpoint registered from this file:
        every RoleDefinitions principal AccessAllowed (security-considerations.md)."""
        principals = list(self.role_definitions)
        return ", ".join(f"{p} AccessAllowed" for p in principals) if principals else None


def principal_matches(principal: str, user: str, groups: list[str], computer: str) -> bool:
    """A RoleDefinitions key (``COMPUTER\\group``, ``BUILTIN\\group``, ``group`` or a user) names this user."""
    domain, _, name = principal.rpartition("\\")
    if domain and domain.lower() not in (computer.lower(), "builtin", "localhost", "."):
        return False
    short_user = user.rsplit("\\", 1)[-1]
    return name.lower() == short_user.lower() or any(name.lower() == g.lower() for g in groups)


def user_groups(machine: Any, user: str) -> list[str]:
    account = machine.accounts.get(user.rsplit("\\", 1)[-1])
    return list(account.groups) if account is not None else []


def roles_for(config: JeaConfiguration, machine: Any, user: str) -> list[Any]:
    """The RoleDefinitions values whose key names this user (empty: the user has no role)."""
    groups = user_groups(machine, user)
    return [
        value
        for principal, value in config.role_definitions.items()
        if principal_matches(principal, user, groups, machine.computer_name)
    ]


def windows_file(machine: Any, path: str) -> Path | None:
    """The sandbox file of a C:\\ path, components matched case-insensitively (None: absent)."""
    drive, _, rest = path.partition(":")
    if drive.upper() != "C":
        return None
    current = machine.sandbox()
    for part in [p for p in rest.split("\\") if p]:
        match = (
            next((c for c in current.iterdir() if c.name.lower() == part.lower()), None)
            if current.is_dir()
            else None
        )
        if match is None:
            return None
        current = match
    return current


def find_role_capability(machine: Any, name: str) -> Path | None:
    """``<module>\\RoleCapabilities\\<name>.psrc`` under the module roots (first found)."""
    for root in MODULE_ROOTS:
        base = windows_file(machine, root)
        if base is None or not base.is_dir():
            continue
        for module in sorted(base.iterdir()):
            folder = (
                next((c for c in module.iterdir() if c.name.lower() == "rolecapabilities"), None)
                if module.is_dir()
                else None
            )
            if folder is None:
                continue
            found = next((f for f in folder.iterdir() if f.name.lower() == f"{name.lower()}.psrc"), None)
            if found is not None:
                return found
    return None


def capabilities_for(config: JeaConfiguration, machine: Any, user: str) -> Capabilities:
    """The session's own Visible* settings merged with every role of the user."""
    caps = Capabilities()
    caps.add(config.table)
    for role in roles_for(config, machine, user):
        role_table = role if isinstance(role, dict) else {}
        files = [find_role_capability(machine, str(n)) for n in as_list(get(role_table, "RoleCapabilities"))]
        files += [windows_file(machine, str(p)) for p in as_list(get(role_table, "RoleCapabilityFiles"))]
        caps.roles.extend(str(n) for n in as_list(get(role_table, "RoleCapabilities")))
        for path in files:
            if path is not None and path.is_file():
                try:
                    caps.add(parse_data_file(path.read_text(encoding="utf-8-sig", errors="replace")))
                except DataFileError:
                    continue  # Windows skips a role capability it cannot load
    return caps


def virtual_account(machine: Any, user: str) -> str:
    """``WinRM Virtual Users\\WinRM VA_<n>_<DOMAIN>_<user>`` for a new session of ``user``."""
    domain, _, name = user.rpartition("\\")
    return f"{VIRTUAL_USERS}\\WinRM VA_{next(_ACCOUNT_NUMBERS)}_{domain or machine.computer_name}_{name}"


# -- parameter restrictions ------------------------------------------------------------------------


def _validation_error(command: str, parameter: str, detail: str) -> ErrorRecord:
    return make_error_record(
        f"Cannot validate argument on parameter '{parameter}'. {detail}",
        f"ParameterArgumentValidationError,{command}",
        ErrorCategory.InvalidData,
        exception_type="System.Management.Automation.ParameterBindingValidationException",
    )


def check_parameters(visible: VisibleCommand, parameters: list[tuple[str | None, Any]]) -> ErrorRecord | None:
    """The error the JEA proxy function gives for these arguments, or None when they bind.

    A parameter left out of ``Parameters`` does not exist on the proxy (NamedParameterNotFound);
    a value outside the ValidateSet / not matching the ValidatePattern fails validation with the
    text of PowerShell's ValidateSetAttribute / ValidatePatternAttribute (case-insensitive)."""
    if visible.parameters is None:
        return None
    for name, value in parameters:
        if name is None:
            continue
        key = name.lower()
        rule = visible.parameters.get(key) or next(
            (r for k, r in visible.parameters.items() if k.startswith(key)), None
        )
        if rule is None:
            if key in COMMON_PARAMETERS:
                continue
            return make_error_record(
                f"A parameter cannot be found that matches parameter name '{name}'.",
                f"NamedParameterNotFound,{visible.name}",
                ErrorCategory.InvalidArgument,
                exception_type="System.Management.Automation.ParameterBindingException",
            )
        for item in value if isinstance(value, list) else [value]:
            text = "" if item is None else str(item)
            if rule.validate_pattern is not None:
                if not any(re.match(p, text, re.IGNORECASE) for p in rule.validate_pattern):
                    pattern = (
                        rule.validate_pattern[0]
                        if len(rule.validate_pattern) == 1
                        else "|".join(rule.validate_pattern)
                    )
                    return _validation_error(
                        visible.name,
                        rule.name,
                        f'The argument "{text}" does not match the "{pattern}" pattern. Supply an argument '
                        f'that matches "{pattern}" and try the command again.',
                    )
            elif rule.validate_set is not None and text.lower() not in (v.lower() for v in rule.validate_set):
                allowed = ",".join(rule.validate_set)
                return _validation_error(
                    visible.name,
                    rule.name,
                    f'The argument "{text}" does not belong to the set "{allowed}" specified by the ValidateSet '
                    "attribute. Supply an argument that is in the set and then try the command again.",
                )
    return None


# -- transcripts -----------------------------------------------------------------------------------


def transcript_path(machine: Any, directory: str, now: datetime.datetime) -> str:
    """``<dir>\\<yyyyMMdd>\\PowerShell_transcript.<COMPUTER>.<random>.<yyyyMMddHHmmss>.txt``."""
    token = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(8))
    stamp = now.strftime("%Y%m%d%H%M%S")
    return (
        f"{directory.rstrip(chr(92))}\\{now.strftime('%Y%m%d')}\\"
        f"PowerShell_transcript.{machine.computer_name.upper()}.{token}.{stamp}.txt"
    )


def transcript_header(machine: Any, user: str, run_as: str, now: datetime.datetime) -> str:
    """The header audit-and-report.md shows (Windows PowerShell 5.1's TranscriptPrologue)."""
    return (
        "**********************\r\n"
        "Windows PowerShell transcript start\r\n"
        f"Start time: {now.strftime('%Y%m%d%H%M%S')}\r\n"
        f"Username: {user}\r\n"
        f"RunAs User: {run_as}\r\n"
        f"Machine: {machine.computer_name.upper()} (Microsoft Windows NT {machine.os_version}.0)\r\n"
        "Host Application: C:\\Windows\\system32\\wsmprovhost.exe -Embedding\r\n"
        f"Process ID: {4000 + next(_ACCOUNT_NUMBERS) % 1000}\r\n"
        f"PSVersion: {machine.ps_version}\r\n"
        "**********************\r\n"
    )


def transcript_invocation(name: str, parameters: list[tuple[str | None, Any]]) -> str:
    """``PS>CommandInvocation(Get-Service): "Get-Service"`` and one ParameterBinding line per value."""
    lines = [f'PS>CommandInvocation({name}): "{name}"']
    for pname, value in parameters:
        lines.append(f'>> ParameterBinding({name}): name="{pname or ""}"; value="{value}"')
    return "\r\n".join(lines) + "\r\n"


def command_info(name: str, visible: VisibleCommand | None) -> Any:
    """A CommandInfo as Get-Command shows it in a JEA session: the RestrictedRemoteServer proxies
    and parameter-restricted commands are functions, the others cmdlets."""
    spec = lookup(name)
    is_function = (
        spec is None or name in DEFAULT_COMMANDS or (visible is not None and visible.parameters is not None)
    )
    kind = "FunctionInfo" if is_function else "CmdletInfo"
    return new_object(
        [f"System.Management.Automation.{kind}", "System.Management.Automation.CommandInfo", "System.Object"],
        {
            "Name": name,
            "CommandType": 2 if is_function else 8,
            "Source": "" if is_function or spec is None else spec.noun_module,
            "ModuleName": "" if is_function or spec is None else spec.noun_module,
            "Verb": name.split("-", maxsplit=1)[0],
            "Noun": name.split("-", 1)[-1],
        },
        to_string_value=name,
    )
