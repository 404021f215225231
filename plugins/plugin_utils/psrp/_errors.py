# for internal use by psremoting.core only; not a public API
"""Map pypsrp / requests / spnego exceptions to a kind and a message a user can act on.

``classify`` runs where the exception happens (the broker or the worker) and needs no Ansible
import; the result travels to the worker as ``{"kind": ..., "message": ...}`` and
``raise_ansible`` turns it into ``AnsibleAuthenticationFailure`` / ``AnsibleConnectionFailure``
(both make the host unreachable) or ``AnsibleError``. The message names the host and the cause
and never includes a traceback or a secret.
"""

from __future__ import annotations

import dataclasses
import errno
import re
import socket
from typing import Any, NoReturn

# Kinds
AUTH = "auth"  # AnsibleAuthenticationFailure: unreachable
UNREACHABLE = "unreachable"  # AnsibleConnectionFailure: unreachable
FILE_NOT_FOUND = "file_not_found"  # AnsibleFileNotFound
ERROR = "error"  # AnsibleError: task failure

# WSMan fault codes (MS-WSMV / winerror.h)
WSMAN_OPERATION_TIMEDOUT = 0x80338029  # 2150858793
WSMAN_UNEXPECTED_SELECTORS = 0x8033805B  # 2150858843: unknown shell / command id
WSMAN_QUOTA_EXCEEDED = 0x803381A6  # quota limit (shells / operations per user)
ERROR_WSMAN_INVALID_SELECTORS = 0x80338040
SHELL_GONE_CODES = frozenset({WSMAN_UNEXPECTED_SELECTORS, ERROR_WSMAN_INVALID_SELECTORS})


@dataclasses.dataclass(frozen=True)
class ErrorInfo:
    kind: str
    message: str
    retry_safe: bool = False  # the request never reached a live shell: safe to reopen and retry

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
        # requests/urllib3 keep the real reason in args
    for item in list(seen):
        for arg in getattr(item, "args", ()):
            if isinstance(arg, BaseException) and arg not in seen:
                seen.append(arg)
                reason = getattr(arg, "reason", None)
                if isinstance(reason, BaseException) and reason not in seen:
                    seen.append(reason)
        reason = getattr(item, "reason", None)
        if isinstance(reason, BaseException) and reason not in seen:
            seen.append(reason)
    return seen


def _text(exc: BaseException) -> str:
    return " | ".join(str(e) for e in _chain(exc))


def _endpoint(host: str, port: int | None) -> str:
    return f"{host}:{port}" if port else host


def classify(exc: BaseException, host: str, port: int | None = None, *, stage: str = "") -> ErrorInfo:
    """Turn an exception into an ``ErrorInfo``; ``stage`` ("open", "command", ...) is context."""
    where = f"psrp connection to {_endpoint(host, port)}"
    if stage:
        where += f" ({stage})"
    chain = _chain(exc)
    text = _text(exc)
    names = {type(e).__name__ for e in chain}

    # Authentication
    if "AuthenticationError" in names:
        # retry_safe: a request refused with 401 was not processed. The session layer only
        # retries a Command on a session that had authenticated before (a server restart drops
        # the connection's auth); opening a new session with a wrong password fails again here.
        return ErrorInfo(
            AUTH,
            f"{where}: authentication failed (HTTP 401): wrong user name or password, the account "
            "is not allowed to use WinRM, or the auth method is disabled on the server "
            "(check ansible_user, ansible_password and ansible_psrp_auth)",
            retry_safe=True,
        )
    low = text.lower()
    if "server not found in kerberos database" in low or "unknown_server" in low.replace(" ", "_"):
        return ErrorInfo(
            AUTH,
            f"{where}: Kerberos could not find the service principal (SPN) for this host: register "
            "WSMAN/<fqdn> (setspn), use the DNS name the SPN is registered for, or set "
            "ansible_psrp_negotiate_hostname_override / ansible_psrp_negotiate_service",
        )
    if "Krb5Error" in names:
        # pyspnego gets the TGT itself when ansible_password is set (krb5 get_init_creds_password
        # into a MEMORY ccache); its failures ("Decrypt integrity check failed" or "Preauthentication
        # failed" for a wrong password, "Client ... not found in Kerberos database", "Cannot
        # contact any KDC") reach us as the krb5 library's own exception.
        return ErrorInfo(
            AUTH,
            f"{where}: authentication failed: Kerberos could not get a ticket for ansible_user with "
            "ansible_password (wrong password, unknown or locked principal, wrong realm, or no KDC "
            f"reachable; check KRB5_CONFIG) ({_short(text)})",
        )
    if any(
        n in names for n in ("SpnegoError", "BadNameError", "NoCredentialError", "InvalidCredentialError")
    ) or ("spnego" in low or "gssapi" in low or "kerberos" in low):
        if "credential" in low or "kinit" in low or "ccache" in low:
            return ErrorInfo(
                AUTH,
                f"{where}: no usable Kerberos/NTLM credential: run kinit or set ansible_user and "
                f"ansible_password ({_short(text)})",
            )
        return ErrorInfo(AUTH, f"{where}: authentication negotiation failed: {_short(text)}")

    # TLS
    if "SSLError" in names or "SSLCertVerificationError" in names:
        if "certificate verify failed" in low or "SSLCertVerificationError" in names:
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: the server's TLS certificate is not trusted ({_short(_cert_reason(text))}): "
                "set ansible_psrp_ca_cert to the issuing CA bundle, or ansible_psrp_cert_validation=ignore "
                "for a test host",
                retry_safe=False,
            )
        return ErrorInfo(UNREACHABLE, f"{where}: TLS handshake failed: {_short(text)}")

    if "ResponseTooLarge" in names:
        return ErrorInfo(UNREACHABLE, f"{where}: refused a malformed server response: {_short(text)}")
    if ("ParseError" in names or "XMLSyntaxError" in names) and type(exc).__name__ != "WinRMTransportError":
        return ErrorInfo(
            UNREACHABLE,
            f"{where}: the server's response is not valid WS-Management XML ({_short(str(exc))}); "
            "check that the endpoint is a WinRM listener (ansible_port, ansible_psrp_path)",
        )

    # HTTP status
    code = getattr(exc, "code", None)
    if type(exc).__name__ == "WinRMTransportError" and isinstance(code, int):
        if code == 413:
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: the server rejected a message as too large (HTTP 413): lower "
                "ansible_psrp_max_envelope_size to the server's MaxEnvelopeSizekb * 1024, or raise it on "
                "the server (Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 512)",
            )
        if code == 400:
            # The server could not read the request (on WinRM: an encrypted message on a connection
            # whose authentication it no longer has, e.g. after a service restart). Not processed.
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: the server could not read the request (HTTP 400); its connection state "
                "was probably lost (WinRM restart)",
                retry_safe=True,
            )
        if code in (500, 503) and "MaxEnvelopeSize" in text:
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: request exceeds the server's MaxEnvelopeSize: "
                "lower ansible_psrp_max_envelope_size",
            )
        return ErrorInfo(UNREACHABLE, f"{where}: server answered HTTP {code}: {_short(text)}")

    # WSMan faults
    if type(exc).__name__ == "WSManFaultError":
        fcode = getattr(exc, "code", None)
        reason = getattr(exc, "reason", None) or str(exc)
        if fcode in SHELL_GONE_CODES:
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: the server no longer knows this shell (it was closed by idle timeout, "
                f"restart or quota): {_short(str(reason))}",
                retry_safe=True,
            )
        # The envelope fault's text also says "quota": test it first (its fix is different).
        if "MaxEnvelopeSize" in str(reason):
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: request exceeds the server's MaxEnvelopeSize: set "
                "ansible_psrp_max_envelope_size to at most the server's MaxEnvelopeSizekb * 1024, or "
                "raise it on the server (Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 512) "
                f"({_short(str(reason))})",
            )
        if fcode == WSMAN_QUOTA_EXCEEDED or "quota" in str(reason).lower():
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: WinRM quota reached (MaxShellsPerUser / MaxConcurrentOperationsPerUser): "
                f"{_short(str(reason))}",
            )
        return ErrorInfo(UNREACHABLE, f"{where}: WSMan fault {fcode}: {_short(str(reason))}")

    # Network
    if "ConnectTimeout" in names or "ConnectTimeoutError" in names:
        return ErrorInfo(
            UNREACHABLE,
            f"{where}: timed out connecting (firewall dropping packets, wrong address, or host down); "
            "see ansible_psrp_connection_timeout",
            retry_safe=True,
        )
    if "ReadTimeout" in names or "ReadTimeoutError" in names:
        return ErrorInfo(
            UNREACHABLE,
            f"{where}: HTTP read timeout waiting for the server; raise ansible_psrp_read_timeout "
            "(must exceed ansible_psrp_operation_timeout)",
        )
    for e in chain:
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return ErrorInfo(
                UNREACHABLE,
                f"{where}: connection refused: nothing listens on port {port} (WinRM listener missing, "
                "service stopped, or wrong ansible_port / ansible_psrp_protocol)",
                retry_safe=True,
            )
        if isinstance(e, socket.gaierror):
            return ErrorInfo(UNREACHABLE, f"{where}: cannot resolve host name '{host}'", retry_safe=True)
    if "NewConnectionError" in names:
        return ErrorInfo(UNREACHABLE, f"{where}: cannot connect: {_short(text)}", retry_safe=True)
    if names & {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError", "ProtocolError"}:
        # The server closed the (kept-alive) connection; the request was not processed.
        return ErrorInfo(
            UNREACHABLE, f"{where}: the server closed the connection: {_short(text)}", retry_safe=True
        )
    if "ConnectionError" in names:
        return ErrorInfo(UNREACHABLE, f"{where}: connection failed: {_short(text)}")
    if "WinRMError" in names or type(exc).__module__.startswith("pypsrp"):
        return ErrorInfo(UNREACHABLE, f"{where}: {type(exc).__name__}: {_short(text)}")
    if isinstance(exc, FileNotFoundError):
        return ErrorInfo(FILE_NOT_FOUND, f"{where}: {exc}")
    if isinstance(exc, ValueError):
        return ErrorInfo(ERROR, f"{where}: {exc}")
    return ErrorInfo(ERROR, f"{where}: unexpected {type(exc).__name__}: {_short(text)}")


def _cert_reason(text: str) -> str:
    m = re.search(r"certificate verify failed: ([^(')\]]+)", text)
    return m.group(1).strip() if m else "certificate verify failed"


def _short(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def raise_ansible(info: dict[str, Any] | ErrorInfo) -> NoReturn:
    """Raise the Ansible exception for an ``ErrorInfo`` (or its dict form)."""
    from ansible.errors import (  # noqa: PLC0415 - deferred on purpose
        AnsibleAuthenticationFailure,
        AnsibleConnectionFailure,
        AnsibleError,
        AnsibleFileNotFound,
    )

    if isinstance(info, ErrorInfo):
        kind, message = info.kind, info.message
    else:
        kind, message = str(info.get("kind", ERROR)), str(info.get("message", "unknown error"))
    if kind == AUTH:
        raise AnsibleAuthenticationFailure(message)
    if kind == UNREACHABLE:
        raise AnsibleConnectionFailure(message)
    if kind == FILE_NOT_FOUND:
        raise AnsibleFileNotFound(message)
    raise AnsibleError(message)
