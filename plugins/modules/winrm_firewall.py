# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/winrm_firewall.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: winrm_firewall
short_description: Manage the inbound firewall rules of the WinRM ports per profile and remote scope
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Manages two inbound TCP rules per transport, named as Windows names its own HTTP rules,
    C(WINRM-<TRANSPORT>-In-TCP) for the Domain and Private profiles and C(WINRM-<TRANSPORT>-In-TCP-PUBLIC)
    for the Public profile, each with its remote address scope.
  - On the Public profile the scope defaults to C(LocalSubnet), as Windows does for its own rule.
  - Uses C(Get-NetFirewallRule), C(Get-NetFirewallPortFilter), C(Get-NetFirewallAddressFilter),
    C(New-NetFirewallRule), C(Set-NetFirewallRule) and C(Remove-NetFirewallRule).
  - Refuses to remove or disable the rules of the port the play is connected to unless I(allow_disconnect=true).
  - Every value is checked against the format or range Windows documents for it before the first request; a
    task with bad values fails naming the host, each option, its value and what is allowed, and changes nothing.
  - Needs the C(psremoting.core.psrp) connection plugin.
options:
  transport:
    description: Which listener's port the rules open.
    type: str
    choices: [http, https]
    default: http
  port:
    description:
      - The port; 5985 for HTTP and 5986 for HTTPS by default. 1 to 65535 (RFC 6335; 0 is reserved).
      - Moving the rules of the transport the play connects over to another port is refused unless
        I(allow_disconnect=true), as is making them C(absent) or C(disabled).
    type: int
  profiles:
    description: Profiles to open the port on. A profile left out loses its rule.
    type: list
    elements: str
    choices: [domain, private, public]
    default: [domain, private, public]
  remote_address:
    description: Remote addresses allowed on the Domain and Private profiles (C(Any), C(LocalSubnet) and the other
      keywords of C(New-NetFirewallRule -RemoteAddress), IPv4/IPv6 addresses, ranges C(a-b), subnets with a
      prefix or mask); anything else is refused before the host is touched.
    type: list
    elements: str
    default: [Any]
  public_remote_address:
    description: Remote addresses allowed on the Public profile.
    type: list
    elements: str
    default: [LocalSubnet]
  state:
    description: C(present) enables the rules, C(disabled) keeps them disabled, C(absent) removes them.
    type: str
    choices: [present, absent, disabled]
    default: present
  allow_disconnect:
    description: Allow closing the port the play is connected to.
    type: bool
    default: false
extends_documentation_fragment:
  - psremoting.core.attributes
  - psremoting.core.attributes.platform
notes:
  - A narrower I(remote_address) may exclude the controller itself; the module cannot know the controller's
    address as the host sees it.
"""

EXAMPLES = r"""
- name: Open HTTPS for the management subnet, and the local subnet on public networks
  psremoting.core.winrm_firewall:
    transport: https
    remote_address: [10.20.0.0/16]

- name: Close HTTP once HTTPS is in use
  psremoting.core.winrm_firewall:
    transport: http
    state: absent
"""

RETURN = r"""
rules:
  description:
    - The managed rules after the task, shaped as winrm_info reports them (C(port) is the rule's
      C(LocalPort) text), whether a rule was created or updated.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: WINRM-HTTPS-In-TCP, display_name: Windows Remote Management (HTTPS-In), port: '5986',
       profiles: [Domain, Private], remote_address: [Any], enabled: true}
"""
