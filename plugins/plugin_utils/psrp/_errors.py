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


@dataclasses.dataclass(frozen=True)
class _Failure:
    """An exception with what every classifier looks at, computed once."""

    exc: BaseException
    host: str
    port: int | None
    where: str
    chain: list[BaseException]
    text: str
    low: str
    names: set[str]


def classify(exc: BaseException, host: str, port: int | None = None, *, stage: str = "") -> ErrorInfo:
    """Turn an exception into an ``ErrorInfo``; ``stage`` ("open", "command", ...) is context.

    The classifiers are tried in order (authentication, TLS, malformed responses, HTTP status,
    WSMan faults, network); the first that recognises the failure gives the message.
    """
    where = f"psrp connection to {_endpoint(host, port)}"
    if stage:
        where += f" ({stage})"
    chain = _chain(exc)
    text = _text(exc)
    failure = _Failure(exc, host, port, where, chain, text, text.lower(), {type(e).__name__ for e in chain})
    for classifier in _CLASSIFIERS:
        info = classifier(failure)
        if info is not None:
            return info
    return _other(failure)


def _authentication(f: _Failure) -> ErrorInfo | None:
    """HTTP 401, Kerberos and SPNEGO failures."""
    if "AuthenticationError" in f.names:
        # retry_safe: a request refused with 401 was not processed. The session layer only
        # retries a Command on a session that had authenticated before (a server restart drops
        # the connection's auth); opening a new session with a wrong password fails again here.
        return ErrorInfo(
            AUTH,
            f"{f.where}: authentication failed (HTTP 401): wrong user name or password, the account "
            "is not allowed to use WinRM, or the auth method is disabled on the server "
            "(check ansible_user, ansible_password and ansible_psrp_auth)",
            retry_safe=True,
        )
    if "server not found in kerberos database" in f.low or "unknown_server" in f.low.replace(" ", "_"):
        return ErrorInfo(
            AUTH,
            f"{f.where}: Kerberos could not find the service principal (SPN) for this host: register "
            "WSMAN/<fqdn> (setspn), use the DNS name the SPN is registered for, or set "
            "ansible_psrp_negotiate_hostname_override / ansible_psrp_negotiate_service",
        )
    if "Krb5Error" in f.names:
        # pyspnego gets the TGT itself when ansible_password is set (krb5 get_init_creds_password
        # into a MEMORY ccache); its failures ("Decrypt integrity check failed" or "Preauthentication
        # failed" for a wrong password, "Client ... not found in Kerberos database", "Cannot
        # contact any KDC") reach us as the krb5 library's own exception. ansible.builtin.psrp
        # lets that exception fail the task (FAILED, which ignore_errors catches), not mark the
        # host unreachable; the same kind here keeps playbooks written for it working.
        return ErrorInfo(
            ERROR,
            f"{f.where}: authentication failed: Kerberos could not get a ticket for ansible_user with "
            "ansible_password (wrong password, unknown or locked principal, wrong realm, or no KDC "
            f"reachable; check KRB5_CONFIG) ({_short(f.text)})",
        )
    if any(
        n in f.names for n in ("SpnegoError", "BadNameError", "NoCredentialError", "InvalidCredentialError")
    ) or ("spnego" in f.low or "gssapi" in f.low or "kerberos" in f.low):
        if "credential" in f.low or "kinit" in f.low or "ccache" in f.low:
            return ErrorInfo(
                AUTH,
                f"{f.where}: no usable Kerberos/NTLM credential: run kinit or set ansible_user and "
                f"ansible_password ({_short(f.text)})",
            )
        return ErrorInfo(AUTH, f"{f.where}: authentication negotiation failed: {_short(f.text)}")

    return None


def _tls(f: _Failure) -> ErrorInfo | None:
    """TLS handshake and certificate failures."""
    if "SSLError" in f.names or "SSLCertVerificationError" in f.names:
        if _HOSTNAME_MISMATCH.search(f.text):
            return _name_mismatch(f)
        if "certificate verify failed" in f.low or "SSLCertVerificationError" in f.names:
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: the server's TLS certificate is not trusted ({_short(_cert_reason(f.text))}): "
                "set ansible_psrp_ca_cert to the issuing CA bundle, or ansible_psrp_cert_validation=ignore "
                "for a test host",
                retry_safe=False,
            )
        if "WRONG_VERSION_NUMBER" in f.text or "wrong version number" in f.low:
            # The port answered in plain text: an HTTP listener (5985) asked for TLS.
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: the port answered without TLS (SSL wrong version number), so it is "
                f"probably an HTTP listener: set ansible_psrp_protocol=http for port {f.port}, or "
                "ansible_port to the HTTPS listener's port (5986 by default)",
                retry_safe=True,
            )
        if "NO_CERTIFICATE_OR_CRL_FOUND" in f.text:
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: the CA file holds no PEM certificate (X509: no certificate or crl found): "
                "point ansible_psrp_ca_cert at the issuing CA's certificate in PEM form",
            )
        return ErrorInfo(UNREACHABLE, f"{f.where}: TLS handshake failed: {_short(f.text)}")

    return None


# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH as Python's ssl module words it (and urllib3's own check).
_HOSTNAME_MISMATCH = re.compile(r"(?i)hostname mismatch|not valid for '|doesn't match '")


def _name_mismatch(f: _Failure) -> ErrorInfo:
    """The certificate is trusted but issued for other names: say which, not "set ca_cert"."""
    names = certificate_names(f.host, f.port)
    held = ", ".join(names) if names else "names that could not be read"
    return ErrorInfo(
        UNREACHABLE,
        f"{f.where}: the server's TLS certificate names another host ({held}), not '{f.host}': "
        "connect with a name the certificate holds (ansible_host, or "
        "ansible_psrp_negotiate_hostname_override for Kerberos), or give the listener a certificate "
        f"for '{f.host}'",
    )


def certificate_names(host: str, port: int | None, timeout: float = 5.0) -> list[str]:
    """The DNS names and addresses (SAN, else the subject CN) of the certificate ``host:port``
    presents, read without validating it; empty when it cannot be read. Only called to explain a
    name mismatch, after the validated connection already failed."""
    import ssl  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    try:
        pem = ssl.get_server_certificate((host, int(port or 5986)), timeout=timeout)
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (OSError, ValueError):
        return []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        return names + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _malformed(f: _Failure) -> ErrorInfo | None:
    """Responses that are no WS-Management at all."""
    if "ResponseTooLarge" in f.names:
        return ErrorInfo(UNREACHABLE, f"{f.where}: refused a malformed server response: {_short(f.text)}")
    if ("ParseError" in f.names or "XMLSyntaxError" in f.names) and type(
        f.exc
    ).__name__ != "WinRMTransportError":
        return ErrorInfo(
            UNREACHABLE,
            f"{f.where}: the server's response is not valid WS-Management XML ({_short(str(f.exc))}); "
            "check that the endpoint is a WinRM listener (ansible_port, ansible_psrp_path)",
        )

    return None


def _http_status(f: _Failure) -> ErrorInfo | None:
    """HTTP error statuses (pypsrp WinRMTransportError)."""
    code = getattr(f.exc, "code", None)
    if type(f.exc).__name__ == "WinRMTransportError" and isinstance(code, int):
        if code == 413:
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: the server rejected a message as too large (HTTP 413): lower "
                "ansible_psrp_max_envelope_size to the server's MaxEnvelopeSizekb * 1024, or raise it on "
                "the server (Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 512)",
            )
        if code == 400:
            # The server could not read the request (on WinRM: an encrypted message on a connection
            # whose authentication it no longer has, e.g. after a service restart). Not processed.
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: the server could not read the request (HTTP 400); its connection state "
                "was probably lost (WinRM restart)",
                retry_safe=True,
            )
        if code in (500, 503) and "MaxEnvelopeSize" in f.text:
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: request exceeds the server's MaxEnvelopeSize: "
                "lower ansible_psrp_max_envelope_size",
            )
        return ErrorInfo(UNREACHABLE, f"{f.where}: server answered HTTP {code}: {_short(f.text)}")

    return None


def _wsman_fault(f: _Failure) -> ErrorInfo | None:
    """WS-Management faults."""
    if type(f.exc).__name__ == "WSManFaultError":
        fcode = getattr(f.exc, "code", None)
        reason = getattr(f.exc, "reason", None) or str(f.exc)
        if fcode in SHELL_GONE_CODES:
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: the server no longer knows this shell (it was closed by idle timeout, "
                f"restart or quota): {_short(str(reason))}",
                retry_safe=True,
            )
        # The envelope fault's text also says "quota": test it first (its fix is different).
        if "MaxEnvelopeSize" in str(reason):
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: request exceeds the server's MaxEnvelopeSize: set "
                "ansible_psrp_max_envelope_size to at most the server's MaxEnvelopeSizekb * 1024, or "
                "raise it on the server (Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 512) "
                f"({_short(str(reason))})",
            )
        if fcode == WSMAN_QUOTA_EXCEEDED or "quota" in str(reason).lower():
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: WinRM quota reached (MaxShellsPerUser / MaxConcurrentOperationsPerUser): "
                f"{_short(str(reason))}",
            )
        if "session configuration in the WSMan: drive" in str(reason):
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: WSMan fault {fcode}: {_short(str(reason))} Fix ansible_psrp_configuration_name: "
                "it names an endpoint this host does not have (list them with Get-PSSessionConfiguration "
                "or psremoting.core.winrm_info; register one with psremoting.core.session_configuration)",
            )
        return ErrorInfo(UNREACHABLE, f"{f.where}: WSMan fault {fcode}: {_short(str(reason))}")

    return None


def _network(f: _Failure) -> ErrorInfo | None:
    """Connection failures (the request did not reach a live shell, mostly)."""
    if "ConnectTimeout" in f.names or "ConnectTimeoutError" in f.names:
        return ErrorInfo(
            UNREACHABLE,
            f"{f.where}: timed out connecting (firewall dropping packets, wrong address, or host down); "
            "see ansible_psrp_connection_timeout",
            retry_safe=True,
        )
    if "ReadTimeout" in f.names or "ReadTimeoutError" in f.names:
        return ErrorInfo(
            UNREACHABLE,
            f"{f.where}: HTTP read timeout waiting for the server; raise ansible_psrp_read_timeout "
            "(must exceed ansible_psrp_operation_timeout)",
        )
    if "ProxyError" in f.names or "Unable to connect to proxy" in f.text:
        m = re.search(
            r"Unable to connect to proxy', \w+\(\"\w+\(host='([^']*)', port=(\d+)\): ([^\"]+)", f.text
        )
        why = f"proxy {m.group(1)}:{m.group(2)}: {m.group(3)}" if m else _short(f.text, 200)
        return ErrorInfo(
            UNREACHABLE,
            f"{f.where}: cannot connect through the HTTP proxy ({why}); check ansible_psrp_proxy, or the "
            "HTTP(S)_PROXY environment unless ansible_psrp_ignore_proxy is true",
            retry_safe=True,
        )
    for e in f.chain:
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return ErrorInfo(
                UNREACHABLE,
                f"{f.where}: connection refused: nothing listens on port {f.port} (WinRM listener missing, "
                "service stopped, or wrong ansible_port / ansible_psrp_protocol)",
                retry_safe=True,
            )
        if isinstance(e, socket.gaierror):
            return ErrorInfo(UNREACHABLE, f"{f.where}: cannot resolve host name '{f.host}'", retry_safe=True)
    if "NewConnectionError" in f.names:
        return ErrorInfo(UNREACHABLE, f"{f.where}: cannot connect: {_short(f.text)}", retry_safe=True)
    if f.names & {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError", "ProtocolError"}:
        # The server closed the (kept-alive) connection; the request was not processed. On the
        # first request of a session that is what an HTTPS listener does with plain HTTP.
        hint = (
            f"; if port {f.port} is an HTTPS listener (5986 by default), set ansible_psrp_protocol=https"
            if f.where.endswith("(open)")
            else ""
        )
        return ErrorInfo(
            UNREACHABLE,
            f"{f.where}: the server closed the connection: {_short(_innermost(f), 200)}{hint}",
            retry_safe=True,
        )
    if "ConnectionError" in f.names:
        return ErrorInfo(UNREACHABLE, f"{f.where}: connection failed: {_short(f.text)}")
    return None


def _innermost(f: _Failure) -> str:
    """The text of the innermost exception (``[Errno 104] Connection reset by peer``), not the
    chain of wrappers around it."""
    cur: BaseException = f.exc
    for _ in range(10):
        inner = [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(cur, "reason", None)
        nxt = inner[0] if inner else reason if isinstance(reason, BaseException) else cur.__cause__
        if nxt is None:
            break
        cur = nxt
    return str(cur)


def _other(f: _Failure) -> ErrorInfo:
    """Anything else: pypsrp errors, local files, bad values, unexpected exceptions."""
    if "WinRMError" in f.names or type(f.exc).__module__.startswith("pypsrp"):
        return ErrorInfo(UNREACHABLE, f"{f.where}: {type(f.exc).__name__}: {_short(f.text)}")
    if isinstance(f.exc, FileNotFoundError):
        return ErrorInfo(FILE_NOT_FOUND, f"{f.where}: {f.exc}")
    if isinstance(f.exc, ValueError):
        return ErrorInfo(ERROR, f"{f.where}: {f.exc}")
    return ErrorInfo(ERROR, f"{f.where}: unexpected {type(f.exc).__name__}: {_short(f.text)}")


_CLASSIFIERS = (_authentication, _tls, _malformed, _http_status, _wsman_fault, _network)


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
