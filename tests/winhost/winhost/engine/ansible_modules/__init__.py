"""Ansible Windows modules answered from the machine model instead of being executed.

Each emulated module is a :class:`ModuleSpec`: the argument spec (validated the way
``Ansible.Basic`` or ``Ansible.ModuleUtils.Legacy`` validate it), a ``run(ctx)`` function that
reads/changes the :class:`~winhost.engine.model.Machine` and returns the result dictionary the
real module returns, and fingerprints that identify the module's PowerShell source when the
exec manifest carries only the source (ansible-core 2.16-2.18).

Result conventions copied from the real module utils (ansible-core
``lib/ansible/module_utils/csharp/Ansible.Basic.cs`` and
``lib/ansible/module_utils/powershell/Ansible.ModuleUtils.Legacy.psm1``):

* ``Ansible.Basic``: ``changed`` defaults to false, ``invocation.module_args`` holds the validated
  parameters (defaults filled, ``no_log`` values masked), ``FailJson`` adds ``failed``/``msg``,
  unsupported options and check mode without support are reported with Ansible.Basic's wording;
* ``Legacy``: ``Exit-Json`` adds ``changed`` false, no ``invocation``; ``Parse-Args`` skips with
  "remote module does not support check mode".

Add a module: create ``<name>.py`` here exporting ``SPEC = ModuleSpec(...)`` and list it in
``_MODULE_FILES``.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from winhost.engine.ansible_modules._winpath import WinFS

NO_LOG_MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


class ModuleFail(Exception):
    """Raised by a module's ``run`` for ``FailJson``/``Fail-Json``; ``extra`` is merged into the result."""

    def __init__(self, msg: str, **extra: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.extra = extra


class ModuleCrash(Exception):
    """An unhandled exception inside the module script (``throw``): module_wrapper reports it."""


@dataclasses.dataclass
class ModuleContext:
    """What a module's ``run`` gets: validated params plus the session's view of the machine."""

    runspace: Any
    machine: Any
    user: str
    params: dict[str, Any]
    fs: WinFS
    env: dict[str, str]
    check_mode: bool = False
    diff_mode: bool = False
    module_name: str = ""
    warnings: list[str] = dataclasses.field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@dataclasses.dataclass(frozen=True)
class ModuleSpec:
    """One emulated module."""

    name: str  # leaf name: win_ping, setup ...
    run: Callable[[ModuleContext], dict[str, Any]]
    options: Mapping[str, Mapping[str, Any]]
    supports_check_mode: bool = True
    style: str = "basic"  # basic (Ansible.Basic) | legacy (Parse-Args / Get-AnsibleParam)
    fingerprints: tuple[str, ...] = ()  # lower-case substrings that all occur in the .ps1 source
    ignore_unknown: bool = False  # setup.ps1 adds unknown options to its spec instead of failing
    collection: str = "ansible.windows"


_MODULE_FILES = (
    "win_ping",
    "win_stat",
    "win_file",
    "win_copy",
    "win_service",
    "win_shell",
    "setup",
    "slurp",
    "win_powershell",
    "win_whoami",
    "async_status",
)
_REGISTRY: dict[str, ModuleSpec] | None = None


def registry() -> dict[str, ModuleSpec]:
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, ModuleSpec] = {}
        for name in _MODULE_FILES:
            module = importlib.import_module(f"winhost.engine.ansible_modules.{name}")
            for spec in getattr(module, "SPECS", (getattr(module, "SPEC", None),)):
                if spec is not None:
                    found[spec.name] = spec
        _REGISTRY = found
    return _REGISTRY


def find_by_name(script_name: str) -> tuple[str, ModuleSpec | None]:
    """``ansible_collections.ansible.windows.plugins.modules.win_ping.ps1`` -> (display name, spec).

    Only modules of ansible.windows (and ansible-core's legacy/builtin Windows names) are matched:
    a module of the same leaf name in another collection is a different module.
    """
    base = script_name[:-4] if script_name.lower().endswith(".ps1") else script_name
    parts = base.split(".")
    leaf = parts[-1]
    if len(parts) >= 5 and parts[0] == "ansible_collections" and parts[3:5] == ["plugins", "modules"]:
        collection = f"{parts[1]}.{parts[2]}"
    elif parts[:2] in (["ansible", "legacy"], ["ansible", "builtin"], ["ansible", "modules"]):
        collection = "ansible.legacy"
    else:
        collection = ".".join(parts[:-1]) or "ansible.legacy"
    display = f"{collection}.{leaf}"
    spec = registry().get(leaf)
    if spec is None or collection not in (spec.collection, "ansible.legacy"):
        return display, None
    return display, spec


def find_by_source(source: str) -> ModuleSpec | None:
    """Identify a module from its PowerShell source (2.16-2.18 manifests carry no module name)."""
    lowered = source.lower()
    for spec in registry().values():
        if spec.fingerprints and all(f in lowered for f in spec.fingerprints):
            return spec
    return None


# ------------------------------------------------------------------------------------------------
# Argument validation


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "on", "1", "true", "y", "t"):
        return True
    if text in ("no", "off", "0", "false", "n", "f", ""):
        return False
    raise ValueError(f"The value '{value}' is not a valid boolean.")


def _convert(value: Any, kind: str, elements: str | None, fs: WinFS) -> Any:
    if value is None:
        return None
    if kind == "str":
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)
    if kind == "bool":
        return _to_bool(value)
    if kind == "int":
        return int(value)
    if kind == "path":
        return _expand_path(str(value), fs)
    if kind == "list":
        items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        if elements:
            items = [_convert(v, elements, None, fs) for v in items]
        return items
    if kind == "dict":
        if not isinstance(value, dict):
            raise ValueError(f"dictionary requested, could not parse JSON or key=value: {value}")
        return value
    return value


def _expand_path(value: str, fs: WinFS) -> str:
    """``type = 'path'``: environment variables expanded (``[Environment]::ExpandEnvironmentVariables``)."""
    from winhost.engine.ansible_modules._winpath import expand_environment_variables

    return expand_environment_variables(value, fs.env)


def _legacy_value(name: str, option: Mapping[str, Any], raw: Mapping[str, Any], fs: WinFS) -> Any:
    """Get-AnsibleParam for one option: the value (or alias, or default), converted and checked."""
    value = next((raw[key] for key in (name, *option.get("aliases", ())) if key in raw), None)
    if value is None:
        value = option.get("default")
    if value is None and option.get("required"):
        raise ModuleFail(f"Get-AnsibleParam: Missing required argument: {name}")
    try:
        converted = _convert(value, option.get("type", "raw"), option.get("elements"), fs)
    except ValueError as exc:
        raise ModuleFail(f"Get-AnsibleParam: Parameter '{name}' {exc}") from None
    choices = option.get("choices")
    if choices and converted is not None and str(converted).lower() not in choices:
        raise ModuleFail(
            f"Get-AnsibleParam: Argument {name} needs to be one of {','.join(choices)} but was {converted}."
        )
    return converted


def _validate_legacy(spec: ModuleSpec, raw: Mapping[str, Any], fs: WinFS) -> dict[str, Any]:
    # Get-AnsibleParam converts per option; unknown options are not rejected.
    params: dict[str, Any] = {k: v for k, v in raw.items() if not k.startswith("_ansible_")}
    for name, option in spec.options.items():
        params[name] = _legacy_value(name, option, raw, fs)
    return params


def _legal_names(spec: ModuleSpec) -> dict[str, str]:
    """Option names and aliases (lower case) -> option name."""
    legal: dict[str, str] = {}
    for name, option in spec.options.items():
        legal[name.lower()] = name
        for alias in option.get("aliases", ()):
            legal[alias.lower()] = name
    return legal


def _check_unsupported(
    spec: ModuleSpec, raw: Mapping[str, Any], module_name: str, legal: dict[str, str]
) -> None:
    unsupported = [k for k in raw if not k.startswith("_ansible_") and k.lower() not in legal]
    if unsupported and not (spec.ignore_unknown or raw.get("_ansible_ignore_unknown_opts")):
        supported = sorted({*spec.options, *(a for o in spec.options.values() for a in o.get("aliases", ()))})
        raise ModuleFail(
            f"Unsupported parameters for ({module_name}) module: {', '.join(unsupported)}. "
            f"Supported parameters include: {', '.join(supported)}"
        )


def _check_choices(name: str, option: Mapping[str, Any], value: Any) -> None:
    choices = option.get("choices")
    if not choices or value is None:
        return
    values = value if isinstance(value, list) else [value]
    bad = [str(v) for v in values if str(v).lower() not in [c.lower() for c in choices]]
    if bad:
        word = "one or more of" if isinstance(value, list) else "one of"
        raise ModuleFail(
            f"value of {name} must be {word}: {', '.join(choices)}. Got no match for: {', '.join(bad)}"
        )


def _basic_value(name: str, option: Mapping[str, Any], value: Any, fs: WinFS) -> Any:
    kind = option.get("type", "str")
    try:
        converted = _convert(value, kind, option.get("elements"), fs)
    except ValueError as exc:
        raise ModuleFail(
            f"argument for {name} is of type {type(value).__name__} and we were unable to convert to {kind}: {exc}"
        ) from None
    _check_choices(name, option, converted)
    return converted


def _validate_basic(spec: ModuleSpec, raw: Mapping[str, Any], module_name: str, fs: WinFS) -> dict[str, Any]:
    """Ansible.Basic's argument spec validation: unsupported names, required, types, choices."""
    legal = _legal_names(spec)
    _check_unsupported(spec, raw, module_name, legal)
    params = {legal[key.lower()]: value for key, value in raw.items() if key.lower() in legal}
    missing = [n for n, o in spec.options.items() if params.get(n) is None and o.get("required")]
    for name, option in spec.options.items():
        if params.get(name) is None:
            params[name] = option.get("default")
    if missing:
        raise ModuleFail(f"missing required arguments: {', '.join(missing)}")
    for name, option in spec.options.items():
        params[name] = _basic_value(name, option, params[name], fs)
    return params


def validate(spec: ModuleSpec, raw: Mapping[str, Any], module_name: str, fs: WinFS) -> dict[str, Any]:
    """Return the module's parameters; raise :class:`ModuleFail` like the module util would."""
    if spec.style == "legacy":
        return _validate_legacy(spec, raw, fs)
    return _validate_basic(spec, raw, module_name, fs)


def invocation(spec: ModuleSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """``invocation.module_args`` with ``no_log`` options masked (Ansible.Basic RemoveNoLogValues)."""
    args = dict(params)
    for name, option in spec.options.items():
        if option.get("no_log") and args.get(name) is not None:
            args[name] = NO_LOG_MASK
    return {"module_args": args}
