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
  - With O(state=received) (like C(Receive-PSSession)) it connects to the disconnected session
    O(session_id) that M(psremoting.core.invoke_command) started with O(psremoting.core.invoke_command#module:disconnected=true),
    from any later task, play or run, waits for its command to end, returns the command's output and removes the
    session. O(state=stopped) stops the command instead (and removes the session).
options:
  state:
    description:
      - C(absent) removes the matching sessions.
      - C(received) receives the output of the command of the disconnected session O(session_id), then removes it.
      - C(stopped) stops the command of the disconnected session O(session_id), then removes it.
    type: str
    choices: [absent, received, stopped]
    required: true
  session_id:
    description:
      - The disconnected session to receive or stop (RV(psremoting.core.invoke_command#module:session_id)); only
        sessions of the connection user are found. Required with O(state=received) and O(state=stopped).
    type: str
  depth:
    description: With O(state=received), how deep output objects are converted (like invoke_command's).
    type: int
    default: 2
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
  - O(state=received) waits until the command ends, like C(Receive-PSSession); its output is lost for good once
    received (the session is removed).
  - A network cut while O(state=received) waits is ridden out like a cut during any task (connection options
    C(reconnection_retries) and C(reconnection_backoff)), reconnecting to the same session and command and
    getting the output whole and once.
seealso:
  - module: psremoting.core.pssession_info
"""

EXAMPLES = r"""
- name: Remove disconnected sessions older than 30 minutes
  psremoting.core.pssession:
    state: absent
    session_state: [Disconnected]
    older_than_minutes: 30

- name: Get the output of a command started with invoke_command disconnected=true
  psremoting.core.pssession:
    state: received
    session_id: "{{ started.session_id }}"
  register: install

- name: Stop it instead
  psremoting.core.pssession:
    state: stopped
    session_id: "{{ started.session_id }}"

- name: Remove every session of a service account
  psremoting.core.pssession:
    state: absent
    owner: ['CONTOSO\svc_deploy']
"""

RETURN = r"""
removed:
  description: The sessions removed (in check mode, that would be removed); fields as in pssession_info.
  returned: when state is absent
  type: list
  elements: dict
already_gone:
  description: Selected sessions the host no longer had when the Delete arrived.
  returned: when state is absent
  type: list
  elements: dict
protected:
  description: Selected sessions kept because they are (or may be) the play's own.
  returned: when state is absent
  type: list
  elements: dict
failed_removals:
  description: Sessions whose removal failed, with C(msg).
  returned: when state is absent
  type: list
  elements: dict
total_shells:
  description: How many shells the host reported before filtering.
  returned: when state is absent
  type: int
protection:
  description: How the play's own session was identified (C(method) is C(shell_id), C(owner_and_run_start) or C(none)) and C(message).
  returned: when state is absent
  type: dict
output:
  description: With O(state=received), the command's output objects (converted as by invoke_command).
  returned: when state is received or stopped
  type: list
error:
  description: With O(state=received), the command's error records.
  returned: when state is received or stopped
  type: list
state:
  description: The command's end state, C(Completed), C(Failed) or C(Stopped).
  returned: when state is received or stopped
  type: str
session_id:
  description: The session received or stopped.
  returned: when state is received or stopped
  type: str
"""
