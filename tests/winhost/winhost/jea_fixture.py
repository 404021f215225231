"""The HelpDesk JEA endpoint of issue 20, as an admin sets it up (winhost tests and integration tests).

A role capability ``HelpDesk`` (module HelpDeskJEA) exposes Get-Service and Restart-Service limited
to ``-Name Spooler`` (ValidateSet), the RestrictedRemoteServer session runs as a virtual account,
transcribes to ``C:\\ProgramData\\JEA\\Transcripts`` and maps the local group ``HelpDesk`` to the
role. The texts follow PowerShell-Docs jea/role-capabilities.md and jea/session-configurations.md.
"""

from __future__ import annotations

from typing import Any

ENDPOINT = "HelpDesk"
GROUP = "HelpDesk"
MEMBER = "helpdesk1"
OUTSIDER = "outsider"
PASSWORD = "JeaPassw0rd!"
TRANSCRIPTS = "C:\\ProgramData\\JEA\\Transcripts"
PSSC_PATH = "C:\\ProgramData\\JEA\\HelpDesk.pssc"
PSRC_PATH = "C:\\Program Files\\WindowsPowerShell\\Modules\\HelpDeskJEA\\RoleCapabilities\\HelpDesk.psrc"

PSRC = """@{
    GUID = 'c2b7c1e6-7f7e-4d36-9d5e-3f1f4f0f9a11'
    VisibleCmdlets = 'Get-Service',
        @{ Name = 'Restart-Service'; Parameters = @{ Name = 'Name'; ValidateSet = 'Spooler' } }
}
"""


def pssc(computer: str) -> str:
    return f"""@{{
    SchemaVersion = '2.0.0.0'
    GUID = '5b7f2f0e-8f5e-4a4e-b7a4-0c7c6f3f2d10'
    SessionType = 'RestrictedRemoteServer'
    RunAsVirtualAccount = $true
    TranscriptDirectory = '{TRANSCRIPTS}'
    RoleDefinitions = @{{ '{computer}\\{GROUP}' = @{{ RoleCapabilities = 'HelpDesk' }} }}
}}
"""


def add_accounts(machine: Any) -> None:
    """The JEA user (member of HelpDesk, not an administrator) and a user outside the role."""
    from winhost.engine.model import Account

    with machine.lock:
        machine.accounts[MEMBER] = Account(
            MEMBER, PASSWORD, groups=["Users", GROUP, "Remote Management Users"]
        )
        machine.accounts[OUTSIDER] = Account(OUTSIDER, PASSWORD, groups=["Users", "Remote Management Users"])
