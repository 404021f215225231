# for internal use by psremoting.core only; not a public API
"""Clear messages for connection option values that ansible-core itself rejects.

ansible-core converts every option of a plugin to its documented ``type`` and checks its
``choices`` in ``ConfigManager.get_config_value_and_origin``, which ``set_options`` calls for each
option (TaskExecutor calls the connection's ``set_options`` before the connection is used;
``invoke/_targets.py`` calls the same ConfigManager method for one-to-many targets and the
console). Its errors (``AnsibleOptionsError``, or a bare ``TypeError`` on ansible-core 2.16) name
neither the host, nor what is accepted, nor the fix, and they quote the value, a password's too.

:func:`explain` finds the option ansible-core rejected (the first, in the same order) and says it
the way ``_options.py`` says its own checks: the host, the option, where the value was set (the
``ansible_psrp_*`` or ``ansible_winrm_*`` variable the inventory set, an environment variable,
an ansible.cfg entry or a task keyword), the value (never that of a ``secret`` option or of a
vaulted variable), what is accepted, and the fix.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Definition = Mapping[str, Any]

#: ansible-core option type -> (what a value must be, what to set it to)
_KINDS: dict[str, tuple[str, str]] = {
    "int": ("an integer", "a whole number"),
    "integer": ("an integer", "a whole number"),
    "float": ("a number", "a number"),
    "bool": ("a boolean", "true or false"),
    "boolean": ("a boolean", "true or false"),
    "str": ("a string", "a single text value (quote it in YAML)"),
    "string": ("a string", "a single text value (quote it in YAML)"),
    "path": ("a path", "a file or directory path (one string)"),
    "list": ("a list or a comma-separated string", "a list of strings"),
    "dict": ("a mapping", "a mapping"),
    "dictionary": ("a mapping", "a mapping"),
}
_MAX_SHOWN = 80
#: type names of vault-encrypted values (ansible-core < 2.19, >= 2.19)
_VAULT_TYPES = frozenset({"AnsibleVaultEncryptedUnicode", "EncryptedString"})


@dataclasses.dataclass(frozen=True)
class Source:
    """Where an option's value came from, as ConfigManager looks (direct, variables, task keywords,
    environment, ansible.cfg: the first that has one wins; within variables, the last listed)."""

    kind: str  # "variable", "environment variable", "ansible.cfg entry", "task keyword", "direct value"
    name: str  # the variable, environment variable, "[section] key" or keyword
    value: Any

    @property
    def origin(self) -> str:
        """The origin ansible-core >= 2.17 records for the value (``get_option_and_origin``)."""
        prefix = {"variable": "var", "environment variable": "env", "task keyword": "keyword"}.get(self.kind)
        return (
            f"{prefix}: {self.name}"
            if prefix
            else ("Direct" if self.kind == "direct value" else "ansible.cfg")
        )

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def to_set(self) -> str:
        """What the fix tells the user to set."""
        if self.kind == "variable":
            return self.name
        if self.kind == "ansible.cfg entry":
            return f"{self.name} in ansible.cfg"
        return self.label


def _last_set(
    entries: Iterable[Mapping[str, Any]] | None, container: Mapping[str, Any]
) -> tuple[str, Any] | None:
    """ConfigManager's ``_loop_entries``: the last entry whose name has a non-None value."""
    found = None
    for entry in entries or ():
        name = entry.get("name")
        if name is not None and container.get(name) is not None:
            found = (str(name), container[name])
    return found


def find_source(
    name: str,
    definition: Definition,
    *,
    variables: Mapping[str, Any] | None = None,
    keys: Mapping[str, Any] | None = None,
    direct: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    ini: Callable[[str, str], str | None] = lambda section, key: None,
) -> Source | None:
    """Where ConfigManager took option ``name``'s value from (None: its default)."""
    for key in (name, *(definition.get("aliases") or ())):
        if direct and direct.get(key) is not None:
            return Source("direct value", key, direct[key])
    if variables and (hit := _last_set(definition.get("vars"), variables)):
        return Source("variable", *hit)
    if keys:
        if hit := _last_set(definition.get("keyword"), keys):
            return Source("task keyword", *hit)
        for key in (name, *(definition.get("aliases") or ())):
            if keys.get(key) is not None:
                return Source("task keyword", key, keys[key])
    if hit := _last_set(definition.get("env"), os.environ if environ is None else environ):
        return Source("environment variable", *hit)
    for entry in definition.get("ini") or ():
        value = ini(str(entry.get("section", "defaults")), str(entry["key"]))
        if value is not None:
            return Source("ansible.cfg entry", f"[{entry.get('section', 'defaults')}] {entry['key']}", value)
    return None


def _is_vaulted(value: Any) -> bool:
    """A vault-encrypted value, or a list or mapping holding one."""
    if isinstance(value, Mapping):
        return any(_is_vaulted(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_is_vaulted(item) for item in value)
    if type(value).__name__ in _VAULT_TYPES:
        return True
    try:  # ansible-core >= 2.19: a decrypted vault value keeps a tag with its ciphertext
        from ansible.parsing.vault import VaultHelper  # noqa: PLC0415 - absent before 2.19

        return VaultHelper.get_ciphertext(value, with_tags=False) is not None
    except Exception:
        return False


def _a(value: Any) -> str:
    """'a list', 'an integer' ... for the type of a value."""
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (Mapping, "a mapping"),
        ((list, tuple), "a list"),
    )
    return next((kind for types, kind in kinds if isinstance(value, types)), f"a {type(value).__name__}")


def shown(value: Any, secret: bool) -> str:
    """The value as a message quotes it: never a secret's or a vaulted variable's."""
    if secret:
        return f"{_a(value)} (the value of a secret option is not shown)"
    if _is_vaulted(value):
        if isinstance(value, Mapping | list | tuple):
            return f"{_a(value)} holding a vaulted value (not shown)"
        return "a vaulted value (not shown)"
    text = repr(str(value)) if isinstance(value, str) else f"{_a(value)} {value!r}"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def is_secret(name: str, definition: Definition) -> bool:
    """Options whose value is never shown: marked secret, named like a password, or a proxy (its
    URL may carry ``user:password@``)."""
    return bool(definition.get("secret")) or "password" in name or "proxy" in name


def message(
    host: str,
    name: str,
    definition: Definition,
    source: Source | None,
    convert: Callable[[Any, str | None], Any],
) -> str:
    """The message for option ``name`` whose value from ``source`` ansible-core rejected.
    ``convert(value, type)`` is ansible-core's ``ensure_type`` (raises for a value of a wrong type)."""
    if source is None:
        return (
            f"psrp connection to '{host}': option '{name}' has a default ansible-core refuses; "
            "this is a bug of psremoting.core, please report it"
        )
    kind = str(definition.get("type") or "str").lower()
    must, fix = _KINDS.get(kind, (f"of type {kind}", f"a value of type {kind}"))
    got = shown(source.value, is_secret(name, definition))
    where = f"psrp connection to '{host}': option '{name}' ({source.label})"
    try:
        value = convert(source.value, kind)
    except Exception:
        return f"{where} must be {must}, got {got}; set {source.to_set} to {fix}"
    choices = [str(c) for c in definition.get("choices") or ()]
    if choices:
        bad = [v for v in value if v not in choices] if isinstance(value, list) else value
        return (
            f"{where} must be one of {', '.join(choices)}, got {shown(bad, is_secret(name, definition))}; "
            f"set {source.to_set} to one of these"
        )
    return f"{where} has a value ansible-core refuses: {got}; fix {source.to_set}"


def _host(definitions: Mapping[str, Definition], variables: Mapping[str, Any] | None, hint: str) -> str:
    """The address the connection's other messages name (option remote_addr), else ``hint``."""
    hit = _last_set(definitions.get("remote_addr", {}).get("vars"), variables or {})
    if hit and isinstance(hit[1], str) and hit[1]:
        return str(hit[1])
    return hint or str((variables or {}).get("inventory_hostname") or "<unknown host>")


def _scrubbed(text: str, secrets: Iterable[Any]) -> str:
    for secret in secrets:
        for part in secret if isinstance(secret, list | tuple) else (secret,):
            if isinstance(part, str) and part:
                text = text.replace(part, "********")
    return text


def ini_reader() -> Callable[[str, str], str | None]:
    """``(section, key) -> value`` of the ansible.cfg in use, read once (build one per task)."""
    from ansible import constants as C  # noqa: PLC0415 - only when reporting

    path = getattr(C, "CONFIG_FILE", None)
    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):
        parser.read(path or [], encoding="utf-8")
    return lambda section, key: parser.get(section, key, fallback=None)


def origin(
    name: str,
    definition: Definition,
    task_keys: Mapping[str, Any] | None,
    var_options: Mapping[str, Any] | None,
    direct: Mapping[str, Any] | None,
    *,
    ini: Callable[[str, str], str | None] | None = None,
) -> str:
    """Where option ``name`` was set, as ansible-core >= 2.17 records it; ansible-core 2.16 keeps no
    origins (its ``get_option_and_origin`` resolves the option again without the variables).
    ``ini``: an :func:`ini_reader` to reuse across options (else ansible.cfg is read for this one)."""
    source = find_source(
        name, definition, variables=var_options, keys=task_keys, direct=direct, ini=ini or ini_reader()
    )
    return source.origin if source else "default"


def explain(
    load_name: str,
    host_hint: str,
    error: BaseException,
    *,
    variables: Mapping[str, Any] | None = None,
    keys: Mapping[str, Any] | None = None,
    direct: Mapping[str, Any] | None = None,
) -> str:
    """The message to raise instead of ``error``, which ansible-core raised resolving the options
    of connection plugin ``load_name`` from these ``variables`` (var_options), ``keys``
    (task_keys) and ``direct`` values. Never raises: the callers raise the message ``from None``
    inside their ``except``, and an exception here would show ``error`` (which may quote a
    password) as the context of a traceback."""
    try:
        return _explain(load_name, host_hint, error, variables=variables, keys=keys, direct=direct)
    except Exception as failure:
        return (
            f"psrp connection to '{host_hint or '<unknown host>'}': ansible-core refused a connection "
            f"option value (not shown; {type(error).__name__}, and reading which one failed: "
            f"{type(failure).__name__}); check this host's ansible_psrp_* and ansible_winrm_* variables"
        )


def _explain(
    load_name: str,
    host_hint: str,
    error: BaseException,
    *,
    variables: Mapping[str, Any] | None = None,
    keys: Mapping[str, Any] | None = None,
    direct: Mapping[str, Any] | None = None,
) -> str:
    from ansible import constants as C  # noqa: PLC0415 - only when reporting
    from ansible.config.manager import ensure_type  # noqa: PLC0415

    definitions = C.config.get_configuration_definitions("connection", load_name)
    host = _host(definitions, variables, host_hint)
    for name, definition in definitions.items():
        try:
            C.config.get_config_value_and_origin(
                name,
                plugin_type="connection",
                plugin_name=load_name,
                keys=keys,
                variables=variables,
                direct=direct,
            )
        except Exception:
            source = find_source(
                name, definition, variables=variables, keys=keys, direct=direct, ini=ini_reader()
            )
            return message(host, name, definition, source, ensure_type)
    secrets = [
        source.value
        for name, definition in definitions.items()
        if is_secret(name, definition)
        and (source := find_source(name, definition, variables=variables, keys=keys, direct=direct))
    ]
    return (
        f"psrp connection to '{host}': ansible-core refused the connection options: "
        f"{_scrubbed(str(error), secrets)}; check this host's ansible_psrp_* and ansible_winrm_* variables"
    )
