# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse WinRM service changes that would cut off the connection the play runs over.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Which service setting each client auth needs ([MS-WSMV] 3.1.4.1.29.2): Basic needs ``Basic``;
the SPNEGO profiles (NTLM, Negotiate, Kerberos) are served when ``Negotiate`` or ``Kerberos`` is
on (NTLM only through ``Negotiate``); CredSSP needs ``CredSSP``; client certificates need
``Certificate``. Basic over HTTP also needs ``AllowUnencrypted`` (pypsrp sends it unencrypted).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ConnectionFacts

# auth in use -> the service options of which at least one must stay true
AUTH_NEEDS: dict[str, tuple[str, ...]] = {
    "basic": ("auth_basic",),
    "ntlm": ("auth_negotiate",),
    "negotiate": ("auth_negotiate", "auth_kerberos"),
    "kerberos": ("auth_kerberos", "auth_negotiate"),
    "credssp": ("auth_credssp",),
    "certificate": ("auth_certificate",),
}


def service_change_problems(facts: ConnectionFacts, after: Mapping[str, object]) -> list[str]:
    """What in the planned service state (option -> value) breaks the current connection."""
    problems: list[str] = []
    auth = (facts.auth or "").lower()
    needs = AUTH_NEEDS.get(auth)
    if needs and all(after.get(option) is False for option in needs):
        problems.append(f"the play authenticates with {auth} and this would turn off " + " and ".join(needs))
    if auth == "basic" and facts.transport == "http" and after.get("allow_unencrypted") is False:
        problems.append("the play uses Basic over HTTP, which needs allow_unencrypted=true")
    problems.extend(filter_problems(facts, after))
    return problems


def filter_problems(facts: ConnectionFacts, after: Mapping[str, object]) -> list[str]:
    """IPv4Filter/IPv6Filter that leave out the address the play connects to (when it is an IP
    address: a name, or an address behind NAT, cannot be checked from here)."""
    try:
        address = ipaddress.ip_address(str(facts.address or "").strip("[]"))
    except ValueError:
        return []
    option = "ipv4_filter" if address.version == 4 else "ipv6_filter"
    value = after.get(option)
    if not isinstance(value, str) or value.strip() == "*":
        return []
    for item in (p.strip() for p in value.split(",") if p.strip()):
        low, _, high = item.partition("-")
        try:
            if ipaddress.ip_address(low) <= address <= ipaddress.ip_address(high or low):  # type: ignore[operator]
                return []
        except (ValueError, TypeError):
            continue
    return [f"the play connects to {address}, which {option} '{value}' leaves out"]
