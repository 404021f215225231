# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module attributes (check mode, diff mode, platform) shared by the modules of the collection.

``psremoting.core.attributes`` is what a configuration module supports, ``.info_module`` what a
read-only one does. ``.platform`` is for modules that run through the host's
``psremoting.core.psrp`` session, ``.platform_wsman`` for those that send WS-Management requests
from the controller. A module lists the ones it needs and documents only what differs under its
own ``attributes:`` (Ansible merges each attribute; the module's keys win).
"""


class ModuleDocFragment:
    # Configuration modules (winrm_listener, winrm_service, ...): check and diff mode in full.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Reports the change it would make without making it.
  diff_mode:
    support: full
    description: Returns C(before) and C(after) in C(diff).
"""

    # Read-only modules (winrm_info, pssession_info).
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing to compare; the module changes nothing.
"""

    # Modules whose action plugin runs pipelines in the host's psremoting.core.psrp session.
    PLATFORM = r"""
attributes:
  platform:
    support: full
    platforms: windows
    description: Windows hosts reached with the C(psremoting.core.psrp) connection.
"""

    # Modules that send WS-Management requests from the controller (pssession, pssession_info).
    PLATFORM_WSMAN = r"""
attributes:
  platform:
    support: full
    platforms: windows
    description: Windows hosts reached over WinRM (WS-Management).
"""
