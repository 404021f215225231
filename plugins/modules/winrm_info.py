# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/winrm_info.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: winrm_info
short_description: Read the WinRM configuration of a Windows host
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Returns the WinRM service and client settings, listeners with their certificates (as PEM), the WinRM
    firewall rules, the session configurations and the WinRM Group Policy values, without changing anything.
  - Settings that Group Policy controls are listed in C(locked_by_policy).
  - Needs the C(psremoting.core.psrp) connection plugin.
options:
  gather:
    description: Sections to read.
    type: list
    elements: str
    choices: [service, client, listeners, firewall, session_configurations, policies]
    default: [service, client, listeners, firewall, session_configurations, policies]
  jea_capabilities:
    description:
      - Users whose effective rights on a JEA endpoint to report with C(Get-PSSessionCapability), that is the
        commands each can run there, as C(Get-Command) lists them in that user's JEA session.
      - Needs an administrator's connection (not the JEA endpoint itself).
    type: list
    elements: dict
    default: []
    suboptions:
      configuration:
        description: Name of the session configuration (JEA endpoint).
        type: str
        required: true
      username:
        description: The user, as C(DOMAIN\user) or C(COMPUTER\user).
        type: str
        required: true
extends_documentation_fragment:
  - psremoting.core.attributes.info_module
  - psremoting.core.attributes.platform
"""

EXAMPLES = r"""
- name: Read everything
  psremoting.core.winrm_info:
  register: winrm

- name: Show the HTTPS listener certificate expiry
  ansible.builtin.debug:
    msg: "{{ winrm.winrm.listeners | selectattr('transport', 'eq', 'HTTPS') | map(attribute='certificate.not_after') }}"

- name: What can the help desk run on the HelpDesk endpoint?
  psremoting.core.winrm_info:
    gather: [session_configurations]
    jea_capabilities:
      - configuration: HelpDesk
        username: WEB01\helpdesk1
  register: jea

- name: Restart-Service is there, Stop-Service is not
  ansible.builtin.assert:
    that:
      - "'Restart-Service' in (jea.winrm.jea_capabilities[0].commands | map(attribute='name'))"
      - "'Stop-Service' not in (jea.winrm.jea_capabilities[0].commands | map(attribute='name'))"
"""

RETURN = r"""
winrm:
  description: The configuration, by section.
  returned: always
  type: dict
  contains:
    service:
      description: Service settings (options of M(psremoting.core.winrm_service)), C(status), C(start_mode),
        C(locked_by_policy).
      type: dict
      returned: when gathered
    client:
      description: Client settings (options of M(psremoting.core.winrm_client)) and C(locked_by_policy).
      type: dict
      returned: when gathered
    listeners:
      description: Listeners, each with its C(certificate) (C(pem), C(not_after), C(problems)).
      type: list
      elements: dict
      returned: when gathered
    firewall:
      description: The WINRM-HTTP(S)-In-TCP(-PUBLIC) rules that exist.
      type: list
      elements: dict
      returned: when gathered
    session_configurations:
      description: Session configurations (C(name), C(enabled), C(sddl), C(permission), C(config_file_path)).
      type: list
      elements: dict
      returned: when gathered
    policies:
      description: Values under the WinRM Service and Client policy keys.
      type: dict
      returned: when gathered
    jea_capabilities:
      description: One entry per I(jea_capabilities) query, with C(configuration), C(username) and
        C(commands) (each C(name) and C(command_type), C(Cmdlet) or C(Function)).
      type: list
      elements: dict
      returned: when I(jea_capabilities) is given
"""
