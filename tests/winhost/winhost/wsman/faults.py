"""WS-Management faults formatted as a Windows WinRM service formats them.

Layout ([MS-WSMV] 2.2.4.17 WSManFaultType, DSP0226 table 10)::

    <s:Fault><s:Code><s:Value>s:Sender|s:Receiver</s:Value>
      <s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code>
      <s:Reason><s:Text xml:lang="en-US">...</s:Text></s:Reason>
      <s:Detail>[<w:FaultDetail>uri</w:FaultDetail>]
        <f:WSManFault xmlns:f="..." Code="2150858793" Machine="host"><f:Message>...</f:Message>
        </f:WSManFault></s:Detail></s:Fault>

Codes and wording come from real Windows answers recorded in pypsrp's source distribution
(tests/tests_pypsrp/responses/test_psrp_long_running_cmdlet.yml, test_psrp_receive_failure.yml,
test_psrp_is_alive_invalid_selectors.yml, test_winrs_operation_timeout.yml) and from Microsoft's
documentation: [MS-WSMV] 3.1.4.5.2.1 wsman:QuotaLimit (MaxShellsPerUser wording), "Configuring
WSMAN limits" (PowerShell team blog, 2010: "This user is allowed a maximum number of 5 concurrent
shells, which has been exceeded...") and about_Remote_Troubleshooting.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from winhost.wsman import namespaces as ns

# Error codes (HRESULT-like values WinRM reports; decimal as in f:WSManFault/@Code)
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_PARAMETER = 87
ERROR_WSMAN_INVALID_HEADER = 2150858767  # 0x8033800F
ERROR_WSMAN_MAX_ENVELOPE_SIZE = 2150858778  # 0x8033801A
ERROR_WSMAN_OPERATION_TIMEDOUT = 2150858793  # 0x80338029
ERROR_WSMAN_ACTION_NOT_SUPPORTED = 2150858797  # 0x8033802D
ERROR_WSMAN_INVALID_SELECTORS = 2150858843  # 0x8033805B
ERROR_WSMAN_RESOURCE_NOT_FOUND = 2150858752  # 0x80338000
ERROR_WSMAN_MALFORMED_REQUEST = 2150858754  # 0x80338002 (bad XML)
ERROR_WSMAN_QUOTA_MAX_OPERATIONS_USER = 2150859173  # 0x803381A5
ERROR_WSMAN_QUOTA_MAX_SHELLS_USER = 2150859174  # 0x803381A6
ERROR_WSMAN_INVALID_ENUMERATION_CONTEXT = 2150858776  # 0x80338018

_FAULT_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"


class WSManFault(Exception):
    """A fault to return to the client as ``(500, <s:Fault> envelope)``."""

    def __init__(
        self,
        code: int,
        subcode: str,
        reason: str,
        message: str | None = None,
        *,
        sender: bool = True,
        fault_detail: str | None = None,
        provider: tuple[str, str] | None = None,
        provider_text: bool = False,
    ) -> None:
        super().__init__(message or reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.message = message if message is not None else reason
        self.sender = sender
        self.fault_detail = fault_detail
        self.provider = provider
        #: The provider's fault is plain text (WinRS cmd plugin) rather than a nested WSManFault.
        self.provider_text = provider_text

    def to_xml(self, machine: str) -> str:
        f_ns = f'xmlns:f="{ns.NS_FAULT}"'
        inner = escape(self.message)
        if self.provider is not None and self.provider_text:
            name, path = self.provider
            inner = f"<f:ProviderFault provider={quoteattr(name)} path={quoteattr(path)}>{inner}</f:ProviderFault>"
        elif self.provider is not None:
            name, path = self.provider
            inner = (
                f"<f:ProviderFault provider={quoteattr(name)} path={quoteattr(path)}>"
                f'<f:WSManFault {f_ns} Code="{self.code}" Machine={quoteattr(machine)}>'
                f"<f:Message>{inner}</f:Message></f:WSManFault></f:ProviderFault>"
            )
        detail = (
            f"<w:FaultDetail>{_FAULT_DETAIL}{self.fault_detail}</w:FaultDetail>" if self.fault_detail else ""
        )
        return (
            "<s:Fault><s:Code>"
            f"<s:Value>{'s:Sender' if self.sender else 's:Receiver'}</s:Value>"
            f"<s:Subcode><s:Value>{self.subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{escape(self.reason)}</s:Text></s:Reason>'
            f'<s:Detail>{detail}<f:WSManFault {f_ns} Code="{self.code}" Machine={quoteattr(machine)}>'
            f"<f:Message>{inner}</f:Message></f:WSManFault></s:Detail></s:Fault>"
        )


_SELECTORS_REASON = (
    "The WS-Management service cannot process the request because the request contained invalid "
    "selectors for the resource. "
)


def operation_timeout() -> WSManFault:
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
    return WSManFault(ERROR_WSMAN_OPERATION_TIMEDOUT, "w:TimedOut", text, sender=False)


def shell_not_found(shell_id: str) -> WSManFault:
    message = (
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was "
        "not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no "
        "longer exists on the server. Provide the correct ShellId or create a new shell and retry the "
        "operation. "
    )
    return WSManFault(
        ERROR_WSMAN_INVALID_SELECTORS,
        "w:InvalidSelectors",
        _SELECTORS_REASON,
        message,
        fault_detail="UnexpectedSelectors",
    )


def command_not_found() -> WSManFault:
    message = (
        "The Windows Remote Shell received a request to perform an operation on a command identifier that "
        "does not exist. Either the command has completed execution or the client specified an invalid "
        "command identifier. "
    )
    return WSManFault(
        ERROR_WSMAN_INVALID_SELECTORS,
        "w:InvalidSelectors",
        _SELECTORS_REASON,
        message,
        fault_detail="UnexpectedSelectors",
    )


def invalid_selectors() -> WSManFault:
    return WSManFault(
        ERROR_WSMAN_INVALID_SELECTORS,
        "w:InvalidSelectors",
        _SELECTORS_REASON,
        fault_detail="UnexpectedSelectors",
        provider=("Shell provider", r"%systemroot%\system32\WsmSvc.dll"),
    )


def envelope_too_large(max_bytes: int) -> WSManFault:
    message = (
        "The WS-Management service cannot process the request because the request size exceeded the "
        f"configured MaxEnvelopeSize quota of {max_bytes} bytes. "
    )
    return WSManFault(
        ERROR_WSMAN_MAX_ENVELOPE_SIZE,
        "w:EncodingLimit",
        "The request size exceeded the configured MaxEnvelopeSize quota. ",
        message,
        fault_detail="MaxEnvelopeSize",
    )


def max_shells_per_user(limit: int) -> WSManFault:
    message = (
        f"The WS-Management service cannot process the request. This user is allowed a maximum number of "
        f"{limit} concurrent shells, which has been exceeded. Close existing shells or raise the quota for "
        "this user. "
    )
    return WSManFault(ERROR_WSMAN_QUOTA_MAX_SHELLS_USER, "w:QuotaLimit", message, sender=False)


def max_operations_per_user(limit: int) -> WSManFault:
    message = (
        f"The WS-Management service cannot process the request. This user is allowed a maximum number of "
        f"{limit} concurrent operations, which has been exceeded. Close existing operations for this user, "
        "or raise the quota for this user. "
    )
    return WSManFault(ERROR_WSMAN_QUOTA_MAX_OPERATIONS_USER, "w:QuotaLimit", message, sender=False)


def access_denied() -> WSManFault:
    return WSManFault(ERROR_ACCESS_DENIED, "w:AccessDenied", "Access is denied. ")


def invalid_header(message: str) -> WSManFault:
    reason = "The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers. "
    return WSManFault(ERROR_WSMAN_INVALID_HEADER, "a:InvalidMessageInformationHeader", reason, message)


def malformed_request(detail: str) -> WSManFault:
    reason = "The WS-Management service cannot process the request because the XML is invalid. "
    return WSManFault(ERROR_WSMAN_MALFORMED_REQUEST, "w:SchemaValidationError", reason, reason + detail)


def action_not_supported(action: str) -> WSManFault:
    reason = "The action is not supported by the service. "
    return WSManFault(ERROR_WSMAN_ACTION_NOT_SUPPORTED, "a:ActionNotSupported", reason, f"{reason}{action}")


def resource_not_found(resource_uri: str) -> WSManFault:
    reason = (
        "The WS-Management service cannot process the request. The resource URI does not support the "
        "operation, or the resource was not found. "
    )
    return WSManFault(
        ERROR_WSMAN_RESOURCE_NOT_FOUND, "w:DestinationUnreachable", reason, f"{reason}{resource_uri}"
    )


def configuration_not_found(configuration: str, computer: str) -> WSManFault:
    """Create on a resource URI whose session configuration is not registered. The text is the one
    PowerShell clients show inside "Connecting to remote server ... failed with the following error
    message : ..." (PowerShell/PowerShell issues, PowerShell-Docs "PowerShell remoting over SSH/WSMan"
    troubleshooting); the computer is the name the client addressed."""
    text = (
        f"The WS-Management service cannot process the request. Cannot find the {configuration} session "
        f"configuration in the WSMan: drive on the {computer} computer. "
    )
    return WSManFault(ERROR_WSMAN_RESOURCE_NOT_FOUND, "w:DestinationUnreachable", text)


def invalid_parameter(detail: str = "") -> WSManFault:
    return WSManFault(
        ERROR_INVALID_PARAMETER,
        "w:InvalidParameter",
        "The parameter is incorrect. ",
        f"The parameter is incorrect. {detail}".rstrip() + " ",
        fault_detail="InvalidValue",
    )


def invalid_enumeration_context() -> WSManFault:
    reason = "The enumeration context supplied in the message is not valid. "
    return WSManFault(
        ERROR_WSMAN_INVALID_ENUMERATION_CONTEXT, "n:InvalidEnumerationContext", reason, sender=False
    )
