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

from collections.abc import Mapping

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import ConnectionFacts

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
    return problems
