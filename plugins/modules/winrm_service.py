# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/winrm_service.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: winrm_service
short_description: Configure the WinRM service (authentication, encryption, quotas) and its start mode
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Sets WinRM service settings on the C(WSMan:) drive with C(Set-Item) and the service start mode and
    state with C(Set-Service), C(Start-Service), C(Stop-Service) and C(Restart-Service).
  - Only options that are set are managed; the rest are left as they are.
  - A setting that Group Policy controls (a value under
    C(HKLM:\SOFTWARE\Policies\Microsoft\Windows\WinRM\Service), or C(SourceOfValue) C(GPO)) cannot be changed
    locally; the task fails and names the policy, unless the value already is as requested.
  - Refuses changes that would cut off the play's own connection (turning off the authentication it uses,
    AllowUnencrypted for Basic over HTTP, stopping or disabling the service) unless I(allow_disconnect=true).
  - Needs the C(psremoting.core.psrp) connection plugin.
options:
  auth_basic:
    description: Accept Basic authentication (C(Service\Auth\Basic)). Sends the password in every request.
    type: bool
  auth_kerberos:
    description: Accept Kerberos authentication.
    type: bool
  auth_negotiate:
    description: Accept Negotiate (Kerberos, or NTLM as fall-back).
    type: bool
  auth_certificate:
    description: Accept client certificate authentication (HTTPS only, with certificate mappings).
    type: bool
  auth_credssp:
    description: Accept CredSSP, which delegates the user's credentials to the host.
    type: bool
  cbt_hardening_level:
    description: Channel binding token requirement over HTTPS.
    type: str
    choices: [Strict, Relaxed, None]
  allow_unencrypted:
    description: Accept unencrypted messages over HTTP.
    type: bool
  max_envelope_size_kb:
    description: Largest SOAP message in KB (C(WSMan:\localhost\MaxEnvelopeSizekb)).
    type: int
  max_concurrent_operations_per_user:
    description: Concurrent operations per user (C(Service\MaxConcurrentOperationsPerUser)).
    type: int
  max_memory_per_shell_mb:
    description: Memory per shell in MB (C(Shell\MaxMemoryPerShellMB)).
    type: int
  max_shells_per_user:
    description: Shells per user (C(Shell\MaxShellsPerUser)).
    type: int
  idle_timeout_ms:
    description: Idle time-out of shells in milliseconds (C(Shell\IdleTimeout)).
    type: int
  ipv4_filter:
    description: IPv4 addresses C(*) listeners bind to (C(*), or ranges C(a-b) separated by commas).
    type: str
  ipv6_filter:
    description: IPv6 addresses C(*) listeners bind to.
    type: str
  start_mode:
    description: Start mode of the WinRM service.
    type: str
    choices: [automatic, manual, disabled]
  state:
    description:
      - State of the WinRM service. C(restarted) always restarts; the session this task runs in ends with the
        restart, which the task tolerates (C(connection_lost)).
    type: str
    choices: [started, stopped, restarted]
  allow_disconnect:
    description: Allow changes that end or lock out the play's own connection.
    type: bool
    default: false
extends_documentation_fragment:
  - psremoting.core.attributes
  - psremoting.core.attributes.platform
seealso:
  - module: psremoting.core.winrm_client
  - module: psremoting.core.winrm_info
  - name: about_WSMan_Provider
    description: The WSMan provider and its configuration tree.
    link: https://learn.microsoft.com/powershell/module/microsoft.wsman.management/about/about_wsman_provider
"""

EXAMPLES = r"""
- name: Secure service defaults
  psremoting.core.winrm_service:
    auth_basic: false
    auth_credssp: false
    allow_unencrypted: false
    cbt_hardening_level: Strict
    start_mode: automatic
    state: started

- name: Bigger envelopes for large objects
  psremoting.core.winrm_service:
    max_envelope_size_kb: 8192
    max_memory_per_shell_mb: 2048
"""

RETURN = r"""
settings:
  description: The managed settings and the service C(status) and C(start_mode) after the task.
  returned: always
  type: dict
  sample: {auth_basic: false, auth_kerberos: true, allow_unencrypted: false, max_envelope_size_kb: 500,
           status: running, start_mode: automatic}
changes:
  description: Names of the options that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
connection_lost:
  description: With I(state=restarted), whether the restart ended the session before it answered.
  returned: when state is restarted
  type: bool
"""
