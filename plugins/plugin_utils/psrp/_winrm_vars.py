# for internal use by psremoting.core only; not a public API
"""ansible.builtin.winrm's ``ansible_winrm_*`` variables, as psremoting.core.psrp reads them.

A winrm inventory works on this connection by changing only ``ansible_connection``. Each
variable of the installed ansible-core's winrm plugin (its DOCUMENTATION plus the pywinrm
``Protocol`` arguments it passes through as ``ansible_winrm_<argument>``) is in exactly one table:

* ``SAME``: the variable is listed in the doc fragment (plugins/doc_fragments/psrp_connection.py)
  as a variable of the PSRP option with the same meaning, before the ``ansible_psrp_*`` one, so
  that the psrp variable wins where both are set (Ansible takes the last variable of an option's
  list that is defined).
* ``DERIVED``: values that need translating. They are read through hidden options
  (``winrm_transport``, ``winrm_connection_timeout``, ``winrm_proxy``) and applied by
  :func:`apply` only when the PSRP option they feed was not set by an ``ansible_psrp_*`` variable,
  environment variable or ansible.cfg entry.
* ``IGNORED``: no PSRP meaning; accepted (the plugin collects them as ``_extras``) and reported at
  ``-v`` with the reason.

tests/unit/plugins/plugin_utils/psrp/test_winrm_vars.py fails when the installed ansible-core's
winrm plugin has a variable in none of the tables, and pins the translations to what that plugin does
(``_build_winrm_kwargs``/``_winrm_connect``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: ansible_winrm_* variable -> the PSRP option it sets (same values, same meaning).
SAME: dict[str, str] = {
    "ansible_winrm_host": "remote_addr",
    "ansible_winrm_user": "remote_user",
    "ansible_winrm_pass": "remote_password",
    "ansible_winrm_password": "remote_password",
    "ansible_winrm_port": "port",
    "ansible_winrm_scheme": "protocol",
    "ansible_winrm_path": "path",
    "ansible_winrm_server_cert_validation": "cert_validation",
    "ansible_winrm_ca_trust_path": "ca_cert",
    "ansible_winrm_cert_pem": "certificate_pem",
    "ansible_winrm_cert_key_pem": "certificate_key_pem",
    "ansible_winrm_message_encryption": "message_encryption",
    "ansible_winrm_kerberos_delegation": "negotiate_delegate",
    "ansible_winrm_kerberos_hostname_override": "negotiate_hostname_override",
    "ansible_winrm_service": "negotiate_service",
    "ansible_winrm_send_cbt": "negotiate_send_cbt",
    "ansible_winrm_operation_timeout_sec": "operation_timeout",
    "ansible_winrm_read_timeout_sec": "read_timeout",
    "ansible_winrm_credssp_auth_mechanism": "credssp_auth_mechanism",
    "ansible_winrm_credssp_disable_tlsv1_2": "credssp_disable_tlsv1_2",
    "ansible_winrm_credssp_minimum_version": "credssp_minimum_version",
}

#: ansible_winrm_* variable -> (hidden option that reads it, PSRP options it feeds).
DERIVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "ansible_winrm_transport": ("winrm_transport", ("auth", "message_encryption")),
    "ansible_winrm_connection_timeout": ("winrm_connection_timeout", ("operation_timeout", "read_timeout")),
    "ansible_winrm_proxy": ("winrm_proxy", ("proxy",)),
}
WINRM_OPTIONS = tuple(option for option, _ in DERIVED.values())

#: ansible_winrm_* variable -> why it means nothing to a PSRP connection (shown at -v).
IGNORED: dict[str, str] = {
    "ansible_winrm_kinit_cmd": (
        "pypsrp gets Kerberos tickets through GSSAPI (with the password when one is set), not from kinit"
    ),
    "ansible_winrm_kinit_args": "pypsrp does not run kinit (tickets come from GSSAPI)",
    "ansible_winrm_kinit_env_vars": "pypsrp does not run kinit (tickets come from GSSAPI)",
    "ansible_winrm_kinit_mode": (
        "with a password pypsrp acquires the ticket itself (as 'managed' does); without one it uses the "
        "credential cache (as 'manual' does)"
    ),
    "ansible_winrm_realm": "pywinrm does not use it either; the realm comes from the user name or krb5.conf",
    "ansible_winrm_keytab": "pywinrm does not use it either; use a credential cache (kinit -k) instead",
}

#: ansible_winrm_transport values (pywinrm transports) -> PSRP auth. ``ssl`` and ``plaintext`` are
#: HTTP Basic (pywinrm: ``ssl`` over HTTPS, ``plaintext`` over HTTP without message encryption).
TRANSPORT_AUTH: dict[str, str] = {
    "basic": "basic",
    "ssl": "basic",
    "plaintext": "basic",
    "ntlm": "ntlm",
    "kerberos": "kerberos",
    "credssp": "credssp",
    "certificate": "certificate",
}
#: The winrm plugin sets the read timeout this many seconds above ansible_winrm_connection_timeout.
READ_TIMEOUT_MARGIN = 10


def transports(value: Any) -> list[str]:
    """ansible_winrm_transport as a list (it is a list option; a comma-separated string works too)."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [str(item).strip().lower() for item in items if str(item).strip()]


def is_explicit(origin: str) -> bool:
    """Set by the user through a psrp variable, environment variable or ansible.cfg, not by a
    default or an ansible_winrm_* variable."""
    return origin != "default" and not origin.startswith("var: ansible_winrm_")


def apply(
    values: dict[str, Any],
    origin_of: Callable[[str], str],
    host: str,
    fail: Callable[[str, str, str], Exception],
) -> list[str]:
    """Translate the DERIVED variables into ``values`` (PSRP option -> value) in place; return the
    ``-v`` notes. ``fail(option, problem, fix)`` builds the error for a bad value."""
    notes: list[str] = []
    wanted = transports(values.get("winrm_transport"))
    if wanted and not is_explicit(origin_of("auth")):
        unknown = [t for t in wanted if t not in TRANSPORT_AUTH]
        if unknown:
            raise fail(
                "winrm_transport",
                f"has unknown transport(s) {', '.join(unknown)}",
                f"use one of {', '.join(TRANSPORT_AUTH)} (or set ansible_psrp_auth)",
            )
        values["auth"] = TRANSPORT_AUTH[wanted[0]]
        if wanted[0] == "plaintext" and not _set_by_user_or_winrm(origin_of("message_encryption")):
            values["message_encryption"] = "never"
        if len(wanted) > 1:
            notes.append(
                f"psrp connection to '{host}': ansible_winrm_transport lists {', '.join(wanted)}; a PSRP "
                f"connection uses one authentication, the first ({values['auth']})"
            )
    timeout = values.get("winrm_connection_timeout")
    if timeout:
        if not is_explicit(origin_of("operation_timeout")):
            values["operation_timeout"] = int(timeout)
        if not is_explicit(origin_of("read_timeout")):
            values["read_timeout"] = int(timeout) + READ_TIMEOUT_MARGIN
    proxy = str(values.get("winrm_proxy") or "").strip()
    if proxy and proxy != "legacy_requests" and not is_explicit(origin_of("proxy")):
        values["proxy"] = proxy  # pywinrm: a proxy URL; "legacy_requests" (its default) = the environment's
    if origin_of("path").startswith("var: ansible_winrm_") and values.get("path"):
        # pywinrm's endpoint is scheme://host:port + path ("/wsman"); pypsrp adds the "/" itself.
        values["path"] = str(values["path"]).lstrip("/")
    return notes


def _set_by_user_or_winrm(origin: str) -> bool:
    return origin != "default"


def extras_notes(extras: Mapping[str, Any], host: str) -> list[str]:
    """-v notes for the ansible_winrm_* variables the plugin received but does not use."""
    notes = []
    for name in sorted(extras):
        reason = IGNORED.get(name, "ansible.builtin.winrm has no such option either")
        notes.append(f"psrp connection to '{host}': {name} is accepted and ignored: {reason}")
    return notes
