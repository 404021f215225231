"""Values the WinRM service refuses for its numeric configuration settings.

A ``Set-Item WSMan:\\localhost\\...`` (or ``Set-WSManInstance -ValueSet``) is a WS-Management Put of
the configuration resource; the service validates the value before anything changes.

Sources:

* Types of the settings, [MS-WSMV] 2.2.4.10 ConfigType (MaxEnvelopeSizekb, MaxTimeoutms,
  MaxBatchItems, MaxProviderRequests: ``xs:unsignedInt``), 2.2.4.36 ServiceType
  (MaxConcurrentOperations, MaxConcurrentOperationsPerUser, EnumerationTimeoutms, MaxConnections,
  MaxPacketRetrievalTimeSeconds: ``xs:unsignedInt``), 2.2.4.42 WinrsType (IdleTimeout,
  MaxShellRunTime, MaxProcessesPerShell, MaxMemoryPerShellMB, MaxShellsPerUser:
  ``xs:unsignedLong``; MaxConcurrentUsers: ``xs:unsignedShort``), 2.2.4.5 ClientType
  (NetworkDelayms: ``xs:unsignedInt``).
* A value that is not of its schema type (negative, not a number, too large for the type) fails
  the Put's schema validation: ERROR_WSMAN_SCHEMA_VALIDATION_ERROR (0x80338041, 2150858817).
  Its text is the one a Windows server returned in that fault (quoted in diyan/pywinrm issue 377:
  "The SOAP XML in the message does not match the corresponding XML schema definition. Change
  the XML and retry.").
* Ranges Microsoft documents: [MS-WSMV] 2.2.4.10 "MaxEnvelopeSizekb ... The minimum value MUST be
  32. The maximum value MUST be 4294967295", "MaxTimeoutms ... The minimum value MUST be 500";
  Group Policy "Specify idle Timeout" (WindowsRemoteShell.admx) for Shell\\IdleTimeout: "Any
  value from 0 to 0x7FFFFFFF can be set. A minimum of 60000 milliseconds (1 minute) is used for
  smaller values" (so 0..59999 are accepted and the service uses 60000:
  ``winhost.wsman.shells.idle_timeout_ms``).
* A value of the right type outside those ranges: no Microsoft source shows the code or text
  Windows returns. winhost refuses it with ERROR_WSMAN_INVALID_XML_VALUES (0x80338056), whose
  text is that code's MessageText in the Windows SDK header wsmerror.h. That Windows uses this
  code here is UNVERIFIED.

PowerShell's WSMan provider (src/Microsoft.WSMan.Management/ConfigProvider.cs, ``SetItem``)
catches the COMException of the failed Put and throws ``AssertError(e.Message, false)``: a
terminating System.InvalidOperationException with error id ``WsManError``, category
InvalidOperation.
"""

from __future__ import annotations

import re
from typing import Any

ERROR_WSMAN_SCHEMA_VALIDATION_ERROR = 0x80338041
ERROR_WSMAN_INVALID_XML_VALUES = 0x80338056
SCHEMA_VALIDATION_TEXT = (
    "The SOAP XML in the message does not match the corresponding XML schema definition. "
    "Change the XML and retry."
)
INVALID_XML_VALUES_TEXT = (
    "The WS-Management service cannot process the request because the XML content has invalid values."
)

UINT = 4294967295  # xs:unsignedInt
ULONG = 18446744073709551615  # xs:unsignedLong
USHORT = 65535  # xs:unsignedShort
MAX_IDLE_TIMEOUT_MS = 0x7FFFFFFF

# leaf (container\name, lower case) -> (schema type maximum, documented range or None).
# MaxProviderRequests is left unchecked: winhost reports 4294967295, the value `winrm get
# winrm/config` shows on Windows Server, and nothing in winhost reads it.
LIMITS: dict[str, tuple[int, tuple[int, int] | None]] = {
    "maxenvelopesizekb": (UINT, (32, UINT)),
    "maxtimeoutms": (UINT, (500, UINT)),
    "maxbatchitems": (UINT, None),
    "client\\networkdelayms": (UINT, None),
    "service\\maxconcurrentoperationsperuser": (UINT, None),
    "service\\enumerationtimeoutms": (UINT, None),
    "service\\maxconnections": (UINT, None),
    "service\\maxpacketretrievaltimeseconds": (UINT, None),
    "shell\\idletimeout": (ULONG, (0, MAX_IDLE_TIMEOUT_MS)),
    "shell\\maxconcurrentusers": (USHORT, None),
    "shell\\maxshellruntime": (ULONG, None),
    "shell\\maxprocessespershell": (ULONG, None),
    "shell\\maxmemorypershellmb": (ULONG, None),
    "shell\\maxshellsperuser": (ULONG, None),
}
_UNSIGNED = re.compile(r"^\+?[0-9]+$")


def refusal(container: str, name: str, value: Any) -> tuple[int, str] | None:
    """(error code, message) when the service refuses ``value`` for the leaf, else None."""
    key = f"{container}\\{name}".lower().lstrip("\\")
    limits = LIMITS.get(key)
    if limits is None:
        return None
    type_max, documented = limits
    text = value if isinstance(value, str) else str(value)
    if isinstance(value, bool) or not _UNSIGNED.match(text.strip()):
        return ERROR_WSMAN_SCHEMA_VALIDATION_ERROR, SCHEMA_VALIDATION_TEXT
    number = int(text.strip())
    if number > type_max:
        return ERROR_WSMAN_SCHEMA_VALIDATION_ERROR, SCHEMA_VALIDATION_TEXT
    if documented is not None and not documented[0] <= number <= documented[1]:
        return ERROR_WSMAN_INVALID_XML_VALUES, INVALID_XML_VALUES_TEXT
    return None
