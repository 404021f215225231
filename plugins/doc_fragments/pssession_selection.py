# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by pssession and pssession_info: which sessions (shells) to select."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  configuration_name:
    description:
      - Only sessions of these endpoints (session configurations), e.g. C(Microsoft.PowerShell). Default all.
    type: list
    elements: str
    default: []
  include_non_powershell:
    description: Also list shells that are not PowerShell sessions (C(winrs) command shells).
    type: bool
    default: false
  owner:
    description:
      - Only sessions owned by these accounts. C(DOMAIN\\user), C(user@realm) and C(user) compare equal on the
        user name.
    type: list
    elements: str
    default: []
  session_state:
    description: Only sessions in these states.
    type: list
    elements: str
    choices: [Connected, Disconnected]
    default: []
  older_than_minutes:
    description: Only sessions that exist for at least this many minutes (C(ShellRunTime)).
    type: float
  idle_minutes:
    description: Only sessions idle for at least this many minutes (C(ShellInactivity)).
    type: float
  shell_id:
    description: Only the sessions with these ShellIds.
    type: list
    elements: str
    default: []
"""
