# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/pssession.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: pssession
short_description: Remove leftover PowerShell sessions on Windows hosts, like Get-PSSession | Remove-PSSession
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Removes PowerShell Remoting sessions (WinRM shells) on the host that match the given filters, for example
    disconnected sessions or sessions older than an hour, freeing their C(wsmprovhost.exe) and the per-user shell
    quota.
  - Lists the shells like M(psremoting.core.pssession_info) (WS-Management Enumerate) and removes each selected one
    with a WS-Management Delete, which is what C(Remove-PSSession) sends. Both are sent by the task's
    P(psremoting.core.psrp#connection) connection over its session's connection to the host.
  - The play's own session is never removed (see RV(protection)).
  - With no filter every PowerShell session the connection user may see is removed, except the play's own.
options:
  state:
    description: C(absent) removes the matching sessions.
    type: str
    choices: [absent]
    required: true
extends_documentation_fragment:
  - psremoting.core.pssession_selection
  - psremoting.core.attributes.platform_wsman
attributes:
  check_mode:
    support: full
    description: Lists the sessions that would be removed in RV(removed) and removes nothing.
  diff_mode:
    support: none
    description: No diff is reported.
notes:
  - A session that disappears between listing and removal is reported in RV(already_gone), not as an error.
seealso:
  - module: psremoting.core.pssession_info
"""

EXAMPLES = r"""
- name: Remove disconnected sessions older than 30 minutes
  psremoting.core.pssession:
    state: absent
    session_state: [Disconnected]
    older_than_minutes: 30

- name: Remove every session of a service account
  psremoting.core.pssession:
    state: absent
    owner: ['CONTOSO\svc_deploy']
"""

RETURN = r"""
removed:
  description: The sessions removed (in check mode, that would be removed); fields as in pssession_info.
  returned: always
  type: list
  elements: dict
already_gone:
  description: Selected sessions the host no longer had when the Delete arrived.
  returned: always
  type: list
  elements: dict
protected:
  description: Selected sessions kept because they are (or may be) the play's own.
  returned: always
  type: list
  elements: dict
failed_removals:
  description: Sessions whose removal failed, with C(msg).
  returned: always
  type: list
  elements: dict
total_shells:
  description: How many shells the host reported before filtering.
  returned: always
  type: int
protection:
  description: How the play's own session was identified (C(method) is C(shell_id), C(owner_and_run_start) or C(none)) and C(message).
  returned: always
  type: dict
"""
