# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/pssession_info.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: pssession_info
short_description: List the PowerShell sessions on Windows hosts, like Get-PSSession -ComputerName
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Lists the PowerShell Remoting sessions (WinRM shells) on the host, with the fields Windows reports for them.
  - Like C(Get-PSSession -ComputerName), it sends a WS-Management Enumerate of the shell resource
    C(http://schemas.microsoft.com/wbem/wsman/1/windows/shell) and keeps the shells of
    PowerShell endpoints (C(http://schemas.microsoft.com/powershell/<ConfigurationName>)). No PowerShell runs on
    the host for this, and no shell is created for it.
  - The request is sent by the task's P(psremoting.core.psrp#connection) connection, over its session's connection
    to the host (the session broker's, or the task's own with C(ansible_psrp_session_persist=false)); hosts that
    use another connection plugin are refused with a message saying so.
  - Windows shows an administrator every user's shells and other users only their own.
extends_documentation_fragment:
  - psremoting.core.pssession_selection
  - psremoting.core.attributes.info_module
  - psremoting.core.attributes.platform_wsman
notes:
  - C(Protected) marks the play's own session, which M(psremoting.core.pssession) never removes. The ShellIds of
    the sessions the session broker (or the task's own session) holds are exact; when it holds none, every
    connected session owned by the connection user and created since the playbook run started counts as the
    play's own (see RV(protection)).
seealso:
  - module: psremoting.core.pssession
"""

EXAMPLES = r"""
- name: List the PowerShell sessions on every Windows host
  psremoting.core.pssession_info:
  register: sessions

- name: Disconnected sessions older than one hour
  psremoting.core.pssession_info:
    session_state: [Disconnected]
    older_than_minutes: 60
"""

RETURN = r"""
sessions:
  description: The matching sessions, with the fields of the MS-WSMV Shell type.
  returned: always
  type: list
  elements: dict
  contains:
    ShellId: {description: The shell id (the runspace pool id for PowerShell sessions)., type: str}
    Name: {description: 'The session name the client gave, if any.', type: str}
    ResourceUri: {description: The shell's resource URI., type: str}
    ConfigurationName: {description: The endpoint (session configuration)., type: str}
    Owner: {description: 'The account that opened the session, as Windows writes it.', type: str}
    ClientIP: {description: The client address., type: str}
    ProcessId: {description: The process hosting the shell (wsmprovhost.exe)., type: int}
    State: {description: C(Connected) or C(Disconnected)., type: str}
    IdleTimeOut: {description: The shell's idle timeout (xs:duration)., type: str}
    ShellRunTime: {description: How long the shell exists (xs:duration)., type: str}
    ShellInactivity: {description: How long the shell is idle (xs:duration)., type: str}
    ShellRunTimeSeconds: {description: C(ShellRunTime) in seconds., type: float}
    IdleTimeSeconds: {description: C(ShellInactivity) in seconds., type: float}
    Protected: {description: Whether this is the play's own session., type: bool}
    BrokerState:
      description:
        - For a session created by this collection's session broker (C(Name) starts with C(psremoting.core broker)),
          whether that broker still runs, C(alive), or is gone, C(gone) (killed, its shell is an orphan that the
          next run for the same user removes); C(unknown) when the broker ran on another machine or container and no
          record of it is in the session directory. None for every other session.
        - Taken from the broker records in the session directory where it exists, otherwise from the name
          (machine, pid and start time of the broker).
      type: str
      choices: [alive, gone, unknown]
    PSComputerName: {description: The inventory host name., type: str}
  sample:
    - ShellId: 4A319B02-6F05-4747-877A-DAE074AA532A
      ConfigurationName: Microsoft.PowerShell
      Owner: DC01\\Administrator
      State: Disconnected
      ShellRunTime: P0DT1H5M3S
      ClientIP: 10.0.0.5
      PSComputerName: dc01
count:
  description: How many sessions matched.
  returned: always
  type: int
total_shells:
  description: How many shells the host reported before filtering.
  returned: always
  type: int
orphans:
  description: The ShellIds of the listed sessions whose C(BrokerState) is C(gone).
  returned: always
  type: list
  elements: str
recorded_shells:
  description:
    - The shells that the session brokers' records in the session directory (C(ansible_psrp_session_dir))
      name for this host and user, before any cleanup. Empty when the directory does not exist.
  returned: always
  type: list
  elements: dict
  contains:
    ShellId: {description: The recorded shell id., type: str}
    BrokerPid: {description: The process id of the broker that created it., type: int}
    BrokerState: {description: C(alive) or C(gone)., type: str}
    OnHost: {description: Whether the host still lists the shell., type: bool}
protection:
  description: How the play's own session was identified (C(method) is C(shell_id), C(owner_and_run_start) or C(none)).
  returned: always
  type: dict
"""
