# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/session_configuration.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: session_configuration
short_description: Register, change, enable, disable or remove PowerShell session configurations (incl. JEA)
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Manages a session configuration (endpoint) with C(Register-PSSessionConfiguration),
    C(Set-PSSessionConfiguration), C(Enable-PSSessionConfiguration), C(Disable-PSSessionConfiguration) and
    C(Unregister-PSSessionConfiguration), always with C(-NoServiceRestart).
  - For Just Enough Administration, writes the C(.pssc) session configuration file and role capability
    (C(.psrc)) files and registers the configuration from the file.
  - Access is given as an SDDL string or as lists of principals to allow and deny.
  - Refuses to disable or remove the configuration the play is connected to unless I(allow_disconnect=true).
  - Every value is checked against the format or range Windows documents for it before the first request; a
    task with bad values fails naming the host, each option, its value and what is allowed, and changes nothing.
  - Needs the C(psremoting.core.psrp) connection plugin.
options:
  name:
    description: Name of the session configuration (C(Microsoft.PowerShell), C(JEA-Maintenance)).
    type: str
    required: true
  state:
    description: Whether the configuration is registered.
    type: str
    choices: [present, absent]
    default: present
  enabled:
    description: Whether remote users may connect (Enable-/Disable-PSSessionConfiguration). Unset leaves it.
    type: bool
  path:
    description: Path on the host of the C(.pssc) file to register the configuration from.
    type: str
  content:
    description: Text of the C(.pssc) file, written to I(path) when it differs (line endings ignored).
    type: str
  files:
    description: Other files to write first, typically role capability files under a module's C(RoleCapabilities).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path on the host.
        type: str
        required: true
      content:
        description: File text.
        type: str
        required: true
  sddl:
    description: Security descriptor of the configuration. Compared by its DACL.
    type: str
  allow:
    description:
      - Principals given access (GenericAll). Well-known names (C(BUILTIN\Administrators),
        C(Remote Management Users), C(INTERACTIVE)), local users and groups, or SIDs for domain principals.
    type: list
    elements: str
  deny:
    description: Principals denied access, with I(allow).
    type: list
    elements: str
    default: []
  allow_disconnect:
    description: Allow disabling or removing the configuration this play's connection uses.
    type: bool
    default: false
extends_documentation_fragment:
  - psremoting.core.attributes
  - psremoting.core.attributes.platform
notes:
  - The cmdlets act on the endpoints of the PowerShell the session runs in. Through the default
    C(Microsoft.PowerShell) endpoint that is Windows PowerShell 5.1; connect to a C(PowerShell.7) endpoint
    (C(ansible_psrp_configuration_name)) to manage PowerShell 7 endpoints.
  - A configuration change is effective for new sessions after WinRM restarts; the module returns
    C(restart_required) rather than restarting WinRM under its own session. Use
    M(psremoting.core.winrm_service) with I(state=restarted) (the enable_psremoting role does so in a handler).
"""

EXAMPLES = r"""
- name: JEA endpoint for the operators group
  psremoting.core.session_configuration:
    name: JEA-Maintenance
    path: C:\ProgramData\JEA\Maintenance.pssc
    content: "{{ lookup('ansible.builtin.file', 'Maintenance.pssc') }}"
    files:
      - path: C:\Program Files\WindowsPowerShell\Modules\Maintenance\RoleCapabilities\Operator.psrc
        content: "{{ lookup('ansible.builtin.file', 'Operator.psrc') }}"
    allow: [BUILTIN\Administrators, WinRMOperators]
  notify: Restart WinRM

- name: Make sure the default endpoint is enabled
  psremoting.core.session_configuration:
    name: Microsoft.PowerShell
    enabled: true
"""

RETURN = r"""
session_configuration:
  description: The configuration after the task (C(name), C(enabled), C(sddl), C(config_file_path)).
  returned: always
  type: dict
steps:
  description: The changes made (or to be made) in order, from C(register), C(set_path), C(set_sddl),
    C(enable), C(disable), C(unregister).
  returned: always
  type: list
  elements: str
files_changed:
  description: Paths of the files written (or to be written).
  returned: always
  type: list
  elements: str
restart_required:
  description: Whether WinRM must restart for the change to apply to new sessions.
  returned: always
  type: bool
"""
