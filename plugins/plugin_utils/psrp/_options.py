# for internal use by psremoting.core only; not a public API
"""Option table and validation for the psremoting.core.psrp connection plugin.

This is the single place where connection options are read. ``read_settings`` takes the plugin's
``get_option`` callable, reads every option once, validates it and returns a frozen
``ConnectionSettings``: the pypsrp ``WSMan`` keyword arguments plus the session settings. Errors
name the host, the option, the variable that sets it and how to fix it, and are raised before any
network traffic.

The option names, variables and defaults are those of ``ansible.builtin.psrp``: ansible-core 2.16
to 2.20 share one table; 2.21 added ``certificate_key_password`` and ``no_profile`` (accepted here on
every version) and changed the default of ``negotiate_service`` from ``WSMAN`` to ``host``, so that
default follows the installed ansible-core (``default_for``).
``tests/unit/plugins/plugin_utils/test_options.py`` compares this table with the installed
ansible-core's DOCUMENTATION.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _winrm_vars

# name -> (type, default, choices, first variable). ``None`` default means "not set".
# The first variable is quoted in error messages so the user knows what to change.
OPTION_TABLE: dict[str, tuple[str, Any, tuple[str, ...] | None, str]] = {
    "remote_addr": ("str", "inventory_hostname", None, "ansible_host"),
    "remote_user": ("str", None, None, "ansible_user"),
    "remote_password": ("str", None, None, "ansible_password"),
    "port": ("int", None, None, "ansible_port"),
    "protocol": ("str", None, ("http", "https"), "ansible_psrp_protocol"),
    "path": ("str", "wsman", None, "ansible_psrp_path"),
    "auth": (
        "str",
        "negotiate",
        ("basic", "certificate", "negotiate", "kerberos", "ntlm", "credssp"),
        "ansible_psrp_auth",
    ),
    "cert_validation": ("str", "validate", ("validate", "ignore"), "ansible_psrp_cert_validation"),
    "ca_cert": ("path", None, None, "ansible_psrp_ca_cert"),
    "connection_timeout": ("int", 30, None, "ansible_psrp_connection_timeout"),
    "read_timeout": ("int", 30, None, "ansible_psrp_read_timeout"),
    "reconnection_retries": ("int", 0, None, "ansible_psrp_reconnection_retries"),
    "reconnection_backoff": ("int", 2, None, "ansible_psrp_reconnection_backoff"),
    "message_encryption": ("str", "auto", ("auto", "always", "never"), "ansible_psrp_message_encryption"),
    "proxy": ("str", None, None, "ansible_psrp_proxy"),
    "ignore_proxy": ("bool", False, None, "ansible_psrp_ignore_proxy"),
    "certificate_key_pem": ("path", None, None, "ansible_psrp_certificate_key_pem"),
    "certificate_key_password": ("str", None, None, "ansible_psrp_certificate_key_password"),
    "certificate_pem": ("path", None, None, "ansible_psrp_certificate_pem"),
    "credssp_auth_mechanism": (
        "str",
        "auto",
        ("auto", "kerberos", "ntlm"),
        "ansible_psrp_credssp_auth_mechanism",
    ),
    "credssp_disable_tlsv1_2": ("bool", False, None, "ansible_psrp_credssp_disable_tlsv1_2"),
    "credssp_minimum_version": ("int", 2, None, "ansible_psrp_credssp_minimum_version"),
    "negotiate_delegate": ("bool", None, None, "ansible_psrp_negotiate_delegate"),
    "negotiate_hostname_override": ("str", None, None, "ansible_psrp_negotiate_hostname_override"),
    "negotiate_send_cbt": ("bool", True, None, "ansible_psrp_negotiate_send_cbt"),
    "negotiate_service": ("str", None, None, "ansible_psrp_negotiate_service"),  # default_for()
    "operation_timeout": ("int", 20, None, "ansible_psrp_operation_timeout"),
    "max_envelope_size": ("int", 153600, None, "ansible_psrp_max_envelope_size"),
    "configuration_name": ("str", "Microsoft.PowerShell", None, "ansible_psrp_configuration_name"),
    "no_profile": ("bool", False, None, "ansible_psrp_no_profile"),
    # psremoting.core additions: persistent sessions.
    "session_persist": ("bool", True, None, "ansible_psrp_session_persist"),
    "session_idle_timeout": ("int", 60, None, "ansible_psrp_session_idle_timeout"),
    "session_dir": ("path", "~/.ansible/psrp_sessions", None, "ansible_psrp_session_dir"),
    # psremoting.core addition: the controller-memory bound of one command's output.
    "max_output_size": ("int", 512 * 1024 * 1024, None, "ansible_psrp_max_output_size"),
    # psremoting.core addition: how long one of our named shells must be idle to count as orphaned.
    "orphan_idle": ("int", 600, None, "ansible_psrp_orphan_idle"),
    # ansible.builtin.winrm variables that need translating (see _winrm_vars.py).
    "winrm_transport": ("list", None, None, "ansible_winrm_transport"),
    "winrm_connection_timeout": ("int", None, None, "ansible_winrm_connection_timeout"),
    "winrm_proxy": ("str", None, None, "ansible_winrm_proxy"),
}

# Options that only exist in this collection (the rest mirror ansible.builtin.psrp).
SESSION_OPTIONS = ("session_persist", "session_idle_timeout", "session_dir", "max_output_size", "orphan_idle")
# Smallest max_output_size: one response of the largest envelope Windows allows fits under it.
MIN_OUTPUT_SIZE = 1024 * 1024


def ansible_core_version() -> tuple[int, int]:
    """(major, minor) of the installed ansible-core."""
    from ansible.release import __version__  # noqa: PLC0415 - only where Ansible is installed

    major, minor = (int(x) for x in re.findall(r"\d+", __version__)[:2])
    return major, minor


def default_for(name: str) -> Any:
    """The default of an option when it is not set: that of ansible.builtin.psrp of the installed
    ansible-core. Only ``negotiate_service`` differs between versions (``WSMAN`` up to 2.20,
    ``host`` from 2.21), so DOCUMENTATION leaves it unset and describes both."""
    if name == "negotiate_service":
        return "host" if ansible_core_version() >= (2, 21) else "WSMAN"
    return OPTION_TABLE[name][1]


# WSMan needs room for its SOAP header; Windows itself refuses MaxEnvelopeSizekb below 32.
MIN_ENVELOPE_SIZE = 32 * 1024
# PowerShell refuses a session IdleTimeout below 60 s (New-PSSessionOption -IdleTimeout docs).
MIN_SHELL_IDLE_TIMEOUT = 60

_TRUE = frozenset({"yes", "on", "1", "true", "y", "t"})
_FALSE = frozenset({"no", "off", "0", "false", "n", "f", ""})


class OptionError(ValueError):
    """An option has a bad type or value; the message names host, option, variable and fix."""


# Every forked worker defines the classes below again for its task (the collection's modules are
# compiled and run in each fork), so they are plain classes and NamedTuples: a dataclass costs
# about 0.5 ms of CPU to define.
class _Where:
    """The host a message names, and the variable that set each option (Ansible's ``var: <name>``
    origin), so that a message quotes the variable the user wrote (``ansible_winrm_read_timeout_sec``
    in a winrm inventory) rather than the table's first one."""

    __slots__ = ("host", "set_by")

    def __init__(self, host: str, set_by: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.set_by: Mapping[str, str] = set_by or {}

    def __str__(self) -> str:
        return self.host

    def var(self, name: str) -> str:
        return self.set_by.get(name) or OPTION_TABLE[name][3]


class SessionSettings(NamedTuple):
    persist: bool
    idle_timeout: int
    directory: str

    @property
    def shell_idle_timeout(self) -> int:
        """WSMan shell IdleTimeOut (seconds) asked of the server.

        If the broker dies without deleting its shells the server drops them after this time.
        A margin over the broker's own idle timer keeps the server from dropping a shell the
        broker still considers live.
        """
        return max(MIN_SHELL_IDLE_TIMEOUT, self.idle_timeout + 30)


class ConnectionSettings(NamedTuple):
    host: str
    port: int
    protocol: str
    user: str | None
    auth: str
    configuration_name: str
    # pypsrp WSMan(**kwargs); holds the password: kept out of repr() so it never reaches a log
    wsman_kwargs: Mapping[str, Any]
    session: SessionSettings
    warnings: tuple[str, ...] = ()
    #: -v notes: ansible_winrm_* variables translated or ignored (never secrets)
    notes: tuple[str, ...] = ()
    # RunspacePool(no_profile=...): do not load the user's PowerShell profile (WINRS_NOPROFILE)
    no_profile: bool = False
    # bytes of the host's responses one command may return before it is stopped
    max_output_size: int = 512 * 1024 * 1024
    # seconds of ShellInactivity after which a psremoting.core shell no live broker holds is removed
    orphan_idle: int = 600

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._fields if name != "wsman_kwargs"
        )
        return f"ConnectionSettings({shown})"

    def describe(self) -> str:
        """A log-safe one-line description (no secrets)."""
        return (
            f"{self.protocol}://{self.host}:{self.port}/{self.wsman_kwargs.get('path', 'wsman')} "
            f"user={self.user or ''} auth={self.auth} configuration={self.configuration_name}"
        )

    def identity(self) -> dict[str, Any]:
        """Non-secret fields that identify a session (shown in the broker, used in the key)."""
        return {
            "host": self.host,
            "port": self.port,
            "protocol": self.protocol,
            "user": self.user,
            "auth": self.auth,
            "configuration_name": self.configuration_name,
        }


def _convert(host: _Where, name: str, value: Any) -> Any:
    kind, _default, choices, _var = OPTION_TABLE[name]
    var = host.var(name)
    if value is None:
        return None
    where = f"psrp connection to '{host}': option '{name}' (variable {var})"
    if kind == "int":
        if isinstance(value, bool):
            raise OptionError(f"{where} must be an integer, got a boolean {value!r}; set {var} to a number")
        try:
            return int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise OptionError(f"{where} must be an integer, got {value!r}; set {var} to a number") from None
    if kind == "list":
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise OptionError(f"{where} must be a boolean, got {value!r}; set {var} to true or false")
    text = str(value)
    if kind == "path":
        text = os.path.expanduser(os.path.expandvars(text))
    if choices is not None and text not in choices:
        raise OptionError(f"{where} must be one of {', '.join(choices)}, got {value!r}; fix {var}")
    return text


def _fail(host: _Where, name: str, problem: str, fix: str) -> OptionError:
    var = host.var(name)
    return OptionError(f"psrp connection to '{host}': option '{name}' (variable {var}) {problem}; {fix}")


def _read_values(get_option: Callable[[str], Any], host: _Where) -> tuple[dict[str, Any], _Where]:
    """Every option, converted to its type; and the host name for messages."""
    values: dict[str, Any] = {}
    for name in OPTION_TABLE:
        try:
            raw = get_option(name)
        except Exception as exc:  # ansible raises AnsibleOptionsError on type conversion
            raise OptionError(
                f"psrp connection to '{host}': option '{name}' (variable {host.var(name)}) is invalid: {exc}"
            ) from None
        values[name] = _convert(host, name, default_for(name) if raw is None else raw)
        if name == "remote_addr" and values[name]:
            host = _Where(values[name], host.set_by)
    if not values["remote_addr"]:
        raise _fail(host, "remote_addr", "is empty", "set ansible_host to the host name or address")
    return values, host


def _protocol_and_port(values: Mapping[str, Any], host: _Where) -> tuple[str, int]:
    """Same derivation as ansible.builtin.psrp's _build_kwargs."""
    protocol, port = values["protocol"], values["port"]
    if protocol is None and port is None:
        protocol, port = "https", 5986
    elif protocol is None:
        protocol = "https" if int(port) != 5985 else "http"
    elif port is None:
        port = 5986 if protocol == "https" else 5985
    if not 0 < int(port) < 65536:
        raise _fail(
            host, "port", f"must be between 1 and 65535, got {port}", "use 5985 (http) or 5986 (https)"
        )
    return str(protocol), int(port)


def _check_numbers(values: Mapping[str, Any], host: _Where) -> list[str]:
    """Refuse impossible timeouts and sizes; return the warnings for dubious ones."""
    for name in ("connection_timeout", "read_timeout", "operation_timeout"):
        if values[name] <= 0:
            raise _fail(
                host, name, f"must be a positive number of seconds, got {values[name]}", "use e.g. 30"
            )
    for name in ("reconnection_retries", "reconnection_backoff", "session_idle_timeout", "orphan_idle"):
        if values[name] < 0:
            raise _fail(host, name, f"must not be negative, got {values[name]}", "use 0 or more")
    if values["max_output_size"] < MIN_OUTPUT_SIZE:
        raise _fail(
            host,
            "max_output_size",
            f"is {values['max_output_size']} bytes, below the minimum of {MIN_OUTPUT_SIZE} (1 MiB)",
            "use e.g. 536870912 (512 MiB, the default)",
        )
    if values["max_envelope_size"] < MIN_ENVELOPE_SIZE:
        raise _fail(
            host,
            "max_envelope_size",
            f"is {values['max_envelope_size']} bytes, below the minimum of {MIN_ENVELOPE_SIZE}",
            "use the server's MaxEnvelopeSizekb * 1024 (default 512000 on current Windows)",
        )
    if values["read_timeout"] <= values["operation_timeout"]:
        # The builtin documents this but does not enforce it; keep drop-in behaviour and warn.
        return [
            f"psrp connection to '{host}': read_timeout ({values['read_timeout']}) should be greater "
            f"than operation_timeout ({values['operation_timeout']}); long-running commands may hit "
            "HTTP read timeouts"
        ]
    return []


def _check_auth(values: Mapping[str, Any], host: _Where, protocol: str) -> None:
    """Refuse auth / encryption / certificate combinations that cannot work."""
    auth = values["auth"]
    encryption = values["message_encryption"]
    enc_capable = auth in ("credssp", "kerberos", "negotiate", "ntlm")
    if protocol == "http" and encryption != "never" and not enc_capable:
        raise _fail(
            host,
            "auth",
            f"'{auth}' cannot encrypt messages over http",
            "use protocol https, or set ansible_psrp_message_encryption=never (sends data in clear text), "
            "or use negotiate/kerberos/ntlm/credssp",
        )
    if protocol == "https" and encryption == "always" and not enc_capable:
        raise _fail(
            host,
            "message_encryption",
            f"'always' is not possible with auth '{auth}'",
            "set ansible_psrp_message_encryption=auto",
        )
    if auth == "certificate":
        for name in ("certificate_pem", "certificate_key_pem"):
            if not values[name]:
                raise _fail(host, name, "is required for certificate auth", "point it at the PEM file")
        if protocol != "https":
            raise _fail(host, "auth", "'certificate' needs https", "set ansible_psrp_protocol=https")
    elif auth in ("basic", "ntlm", "credssp") and not values["remote_user"]:
        raise _fail(host, "remote_user", f"is required for {auth} auth", "set ansible_user")
    for name in ("ca_cert", "certificate_pem", "certificate_key_pem"):
        path = values[name]
        if path and not os.path.exists(path):
            raise _fail(host, name, f"points to '{path}' which does not exist", "fix the path")


def _cert_validation(values: Mapping[str, Any]) -> bool | str:
    """Either a bool or the CA bundle path (same as the builtin)."""
    if values["cert_validation"] == "ignore":
        return False
    if values["ca_cert"]:  # an empty value (e.g. an unset env lookup) must not turn validation off
        return str(values["ca_cert"])
    return True


def _wsman_kwargs(values: Mapping[str, Any], host: str, protocol: str, port: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "server": host,
        "port": port,
        "username": values["remote_user"],
        "password": values["remote_password"],
        "ssl": protocol == "https",
        "path": values["path"],
        "auth": values["auth"],
        "cert_validation": _cert_validation(values),
        "connection_timeout": values["connection_timeout"],
        "encryption": values["message_encryption"],
        "proxy": values["proxy"],
        "no_proxy": bool(values["ignore_proxy"]),
        "reconnection_backoff": float(values["reconnection_backoff"]),
    }
    for name in (
        "max_envelope_size",
        "operation_timeout",
        "read_timeout",
        "reconnection_retries",
        "certificate_key_pem",
        "certificate_pem",
        "credssp_auth_mechanism",
        "credssp_disable_tlsv1_2",
        "credssp_minimum_version",
        "negotiate_send_cbt",
        "negotiate_delegate",
        "negotiate_hostname_override",
        "negotiate_service",
    ):
        kwargs[name] = values[name]
    if values["certificate_key_password"]:  # like the builtin: only when set (pypsrp >= 0.9.0)
        kwargs["certificate_key_password"] = values["certificate_key_password"]
    return kwargs


def read_plugin_settings(plugin: Any, host_hint: str = "") -> ConnectionSettings:
    """Read the settings of a loaded connection plugin: its options, where each was set (so that
    ansible_psrp_* wins over translated ansible_winrm_* variables) and its ansible_winrm_* extras."""

    ini: list[Callable[[str, str], str | None]] = []  # ansible.cfg, read once for all options

    def origin_of(name: str) -> str:
        inputs = getattr(plugin, "_option_inputs", None)
        if getattr(plugin, "_origins", None) is None and inputs:  # ansible-core 2.16 records none
            from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _rejected  # noqa: PLC0415

            if not ini:
                ini.append(_rejected.ini_reader())
            return _rejected.origin(name, plugin.option_definitions.get(name, {}), *inputs, ini=ini[0])
        try:
            return str(plugin.get_option_and_origin(name)[1])
        except (KeyError, AttributeError):
            return "default"

    try:
        extras = dict(plugin.get_option("_extras") or {})
    except KeyError:
        extras = {}
    return read_settings(plugin.get_option, host_hint, origin_of=origin_of, extras=extras)


# The variable each option is first documented under (most inventories use only these).
_FIRST_VARIABLES = frozenset(entry[3] for entry in OPTION_TABLE.values())


@functools.lru_cache(maxsize=1)
def _documented_variables() -> frozenset[str]:
    """Every ``vars`` name of the connection plugin's options, aliases included (its doc fragment)."""
    import yaml  # noqa: PLC0415 - only when a variable is not one of the first names

    from ansible_collections.psremoting.core.plugins.doc_fragments.psrp_connection import (  # noqa: PLC0415
        ModuleDocFragment,
    )

    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    return frozenset(v["name"] for option in options.values() for v in option.get("vars") or ())


def unknown_psrp_variables(names: Iterable[str]) -> list[str]:
    """The ``ansible_psrp_*`` names among ``names`` that no option reads, each with the closest
    one that is read: a misspelt variable (``ansible_psrp_operaton_timeout``) is otherwise
    ignored without a word, by this plugin as by ansible.builtin.psrp."""
    candidates = sorted(n for n in names if n.startswith("ansible_psrp_") and n not in _FIRST_VARIABLES)
    if not candidates:
        return []
    known = _documented_variables()
    prefix = len("ansible_psrp_")
    tails = sorted(k[prefix:] for k in known if k.startswith("ansible_psrp_"))
    out = []
    for name in candidates:
        if name not in known:  # compared without the common prefix, which would match anything
            close = difflib.get_close_matches(name[prefix:], tails, n=1)
            out.append(name + (f" (did you mean ansible_psrp_{close[0]}?)" if close else ""))
    return out


def read_settings(
    get_option: Callable[[str], Any],
    host_hint: str = "",
    *,
    origin_of: Callable[[str], str] | None = None,
    extras: Mapping[str, Any] | None = None,
) -> ConnectionSettings:
    """Read and validate every option through ``get_option`` (the plugin's ``get_option``).

    ``origin_of(option)`` says where an option was set (Ansible's origin: ``default``,
    ``var: <name>``, ``env: ...``); ``extras`` are the ansible_winrm_* variables the plugin received
    without an option (see _winrm_vars.py)."""
    origin = origin_of or (lambda name: "default")
    set_by = {name: where[5:] for name in OPTION_TABLE if (where := origin(name)).startswith("var: ")}
    values, at = _read_values(get_option, _Where(host_hint or "<unknown host>", set_by))
    host = at.host

    def fail(name: str, problem: str, fix: str) -> OptionError:
        return _fail(at, name, problem, fix)

    notes = _winrm_vars.apply(values, origin, host, fail)
    notes += _winrm_vars.extras_notes(extras or {}, host)
    protocol, port = _protocol_and_port(values, at)
    warnings = _check_numbers(values, at)
    _check_auth(values, at, protocol)
    return ConnectionSettings(
        host=host,
        port=port,
        protocol=protocol,
        user=values["remote_user"],
        auth=values["auth"],
        configuration_name=values["configuration_name"],
        wsman_kwargs=_wsman_kwargs(values, host, protocol, port),
        session=SessionSettings(
            persist=bool(values["session_persist"]),
            idle_timeout=int(values["session_idle_timeout"]),
            directory=values["session_dir"],
        ),
        warnings=tuple(warnings),
        notes=tuple(notes),
        no_profile=bool(values["no_profile"]),
        max_output_size=int(values["max_output_size"]),
        orphan_idle=int(values["orphan_idle"]),
    )


def session_key(
    salt: bytes,
    wsman_kwargs: Mapping[str, Any],
    configuration_name: str,
    become: Any,
    idle_timeout: int,
    *,
    no_profile: bool = False,
) -> str:
    """Derive the broker's key for a session.

    Every setting that changes what the session is (endpoint, user, auth, configuration, profile,
    become, every WSMan option *and the password*) goes into an HMAC keyed with ``salt``, a random value
    that only lives in the broker's memory. Different credentials therefore never share a
    session, and the key reveals nothing about the password outside that process.
    """
    material = json.dumps(
        {
            "wsman": dict(wsman_kwargs),
            "configuration_name": configuration_name,
            "become": become,
            "idle_timeout": idle_timeout,
            "no_profile": no_profile,
        },
        sort_keys=True,
        default=str,
    ).encode("utf-8")
    return hmac.new(salt, material, hashlib.sha256).hexdigest()
