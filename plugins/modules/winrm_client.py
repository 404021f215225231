# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/winrm_client.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: winrm_client
short_description: Configure the WinRM client of a Windows host (TrustedHosts, client authentication)
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - For Windows hosts that open remote sessions themselves (jump hosts, hosts running C(Invoke-Command)).
  - Adds, removes or replaces entries of C(WSMan:\localhost\Client\TrustedHosts), keeping other entries, and
    sets the client's authentication methods and AllowUnencrypted with C(Set-Item).
  - Settings controlled by Group Policy (C(HKLM:\SOFTWARE\Policies\Microsoft\Windows\WinRM\Client)) fail with
    a message naming the policy.
  - Needs the C(psremoting.core.psrp) connection plugin.
options:
  trusted_hosts:
    description:
      - Names, addresses or wildcards (C(*.contoso.com)) for I(trusted_hosts_mode). Compared case-insensitively.
    type: list
    elements: str
  trusted_hosts_mode:
    description: C(add) keeps existing entries, C(remove) drops the given ones, C(replace) sets the list.
    type: str
    choices: [add, remove, replace]
    default: add
  auth_basic:
    description: Let the client use Basic authentication.
    type: bool
  auth_digest:
    description: Let the client use Digest authentication.
    type: bool
  auth_kerberos:
    description: Let the client use Kerberos.
    type: bool
  auth_negotiate:
    description: Let the client use Negotiate.
    type: bool
  auth_certificate:
    description: Let the client use certificate authentication.
    type: bool
  auth_credssp:
    description: Let the client delegate credentials with CredSSP.
    type: bool
  allow_unencrypted:
    description: Let the client send unencrypted messages.
    type: bool
extends_documentation_fragment:
  - psremoting.core.attributes
  - psremoting.core.attributes.platform
notes:
  - TrustedHosts only tells the client that it may send NTLM credentials to a host it cannot authenticate;
    prefer Kerberos or HTTPS with a trusted certificate.
"""

EXAMPLES = r"""
- name: Let the jump host reach the lab hosts by address
  psremoting.core.winrm_client:
    trusted_hosts: [10.0.5.11, 10.0.5.12]

- name: Remove a decommissioned host
  psremoting.core.winrm_client:
    trusted_hosts: [old01]
    trusted_hosts_mode: remove
"""

RETURN = r"""
settings:
  description: The client settings after the task; C(trusted_hosts) is a list.
  returned: always
  type: dict
changes:
  description: Names of the options that were (or would be) changed.
  returned: always
  type: list
  elements: str
"""
