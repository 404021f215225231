"""XML namespaces, action URIs and resource URIs of WS-Management as Windows uses them.

References: [MS-WSMV] 2.2.1 Namespaces and 3.1.4 Message Processing Events
(https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/), DMTF DSP0226.
The prefixes in responses (``s``, ``a``, ``x``, ``w``, ``rsp``, ``p``, ``n``, ``f``) are those a
Windows Server 2016-2022 WinRM service writes (see the recordings in pypsrp's source
distribution, tests/tests_pypsrp/responses/*.yml).
"""

from __future__ import annotations

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_EVENTING = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_CONFIG = "http://schemas.microsoft.com/wbem/wsman/1/config"
NS_POWERSHELL = "http://schemas.microsoft.com/powershell"
NS_XML = "http://www.w3.org/XML/1998/namespace"

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

# Actions ([MS-WSMV] 3.1.4)
A_CREATE = f"{NS_TRANSFER}/Create"
A_DELETE = f"{NS_TRANSFER}/Delete"
A_GET = f"{NS_TRANSFER}/Get"
A_PUT = f"{NS_TRANSFER}/Put"
A_ENUMERATE = f"{NS_ENUMERATION}/Enumerate"
A_PULL = f"{NS_ENUMERATION}/Pull"
A_COMMAND = f"{NS_SHELL}/Command"
A_SEND = f"{NS_SHELL}/Send"
A_RECEIVE = f"{NS_SHELL}/Receive"
A_SIGNAL = f"{NS_SHELL}/Signal"
A_DISCONNECT = f"{NS_SHELL}/Disconnect"
A_RECONNECT = f"{NS_SHELL}/Reconnect"
A_CONNECT = f"{NS_SHELL}/Connect"
A_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# Resource URIs
R_POWERSHELL_PREFIX = f"{NS_POWERSHELL}/"
R_SHELL = NS_SHELL  # enumeration of all shells
R_CMD = f"{NS_SHELL}/cmd"
R_CONFIG = NS_CONFIG
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"

# Signals ([MS-WSMV] 2.2.4.38 and [MS-PSRP] 3.1.5.3.9/3.1.5.3.10)
SIGNAL_TERMINATE = f"{NS_SHELL}/signal/Terminate"
SIGNAL_CTRL_C = f"{NS_SHELL}/signal/ctrl_c"
SIGNAL_PS_CTRL_C = "powershell/signal/crtl_c"  # sic: the misspelling is what Windows uses
SIGNAL_PS_CTRL_C_ALT = "powershell/signal/ctrl_c"

COMMAND_STATE_DONE = f"{NS_SHELL}/CommandState/Done"
COMMAND_STATE_RUNNING = f"{NS_SHELL}/CommandState/Running"
COMMAND_STATE_PENDING = f"{NS_SHELL}/CommandState/Pending"

RESPONSE_NAMESPACES = (
    f'xml:lang="en-US" xmlns:s="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" xmlns:x="{NS_TRANSFER}" '
    f'xmlns:e="{NS_EVENTING}" xmlns:n="{NS_ENUMERATION}" xmlns:w="{NS_WSMAN}" '
    f'xmlns:rsp="{NS_SHELL}" xmlns:p="{NS_WSMV}"'
)
