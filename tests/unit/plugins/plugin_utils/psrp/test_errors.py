"""Error mapping: each library failure becomes an Ansible error naming the host and the cause."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests
from ansible.errors import (
    AnsibleAuthenticationFailure,
    AnsibleConnectionFailure,
    AnsibleError,
    AnsibleFileNotFound,
)
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import (
    AUTH,
    UNREACHABLE,
    ErrorInfo,
    classify,
    raise_ansible,
)


def _refused() -> requests.exceptions.ConnectionError:
    inner = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    inner.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/wsman", inner))  # type: ignore[arg-type]


def test_wrong_password_is_an_authentication_failure() -> None:
    info = classify(AuthenticationError("Failed to authenticate the user admin with ntlm"), "win1", 5986)
    assert info.kind == AUTH
    assert "win1:5986" in info.message and "password" in info.message
    with pytest.raises(AnsibleAuthenticationFailure):
        raise_ansible(info)


def test_connection_refused_names_the_port_and_is_retry_safe() -> None:
    info = classify(_refused(), "win1", 5985)
    assert info.kind == UNREACHABLE and info.retry_safe
    assert "refused" in info.message and "5985" in info.message


def test_untrusted_certificate() -> None:
    err = requests.exceptions.SSLError(
        ssl.SSLCertVerificationError(
            1,
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "unable to get local issuer certificate (_ssl.c:1006)",
        )
    )
    info = classify(err, "win1", 5986)
    assert info.kind == UNREACHABLE
    assert "not trusted" in info.message and "ansible_psrp_ca_cert" in info.message
    assert "unable to get local issuer certificate" in info.message


def test_kerberos_spn_not_found() -> None:
    exc = Exception(
        "SpnegoError (1): Server not found in Kerberos database, Context: Processing security token"
    )
    info = classify(exc, "10.0.0.5", 5985)
    assert info.kind == AUTH
    assert "SPN" in info.message and "negotiate_hostname_override" in info.message


# KRB5KRB_AP_ERR_BAD_INTEGRITY, KDC_ERR_PREAUTH_FAILED, KDC_ERR_C_PRINCIPAL_UNKNOWN
@pytest.mark.parametrize("code", [-1765328353, -1765328360, -1765328378])
def test_kerberos_kinit_by_password_failure_is_an_authentication_failure(code: int) -> None:
    # What pyspnego raises when it gets the TGT itself from ansible_password and the KDC says no.
    krb5 = pytest.importorskip("krb5")
    exc = krb5.Krb5Error(krb5.init_context(), code)
    info = classify(exc, "win1", 5985, stage="open")
    assert info.kind == AUTH, info
    assert "win1:5985" in info.message and "authentication failed" in info.message
    assert "ansible_password" in info.message and str(code) in info.message
    with pytest.raises(AnsibleAuthenticationFailure):
        raise_ansible(info)


def test_envelope_too_large_names_the_option() -> None:
    info = classify(WinRMTransportError("http", 413, ""), "win1", 5985)
    assert info.kind == UNREACHABLE
    assert "413" in info.message and "ansible_psrp_max_envelope_size" in info.message


def test_unknown_shell_fault_is_retry_safe() -> None:
    fault = WSManFaultError(
        2150858843,
        "win1",
        "The request for the Windows Remote Shell with ShellId X failed "
        "because the shell was not found on the server.",
        None,
        None,
        None,
    )
    info = classify(fault, "win1", 5985, stage="command")
    assert info.retry_safe and info.kind == UNREACHABLE
    assert "(command)" in info.message


def test_other_fault_is_not_retry_safe() -> None:
    fault = WSManFaultError(
        2150858770, "win1", "The WS-Management service cannot process the request.", None, None, None
    )
    info = classify(fault, "win1", 5985)
    assert not info.retry_safe and "2150858770" in info.message


def test_read_timeout() -> None:
    info = classify(requests.exceptions.ReadTimeout("read timed out"), "win1", 5985)
    assert not info.retry_safe and "ansible_psrp_read_timeout" in info.message


def test_dns_failure() -> None:
    err = requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not known"))
    info = classify(err, "nohost.invalid", 5985)
    assert "cannot resolve" in info.message and "nohost.invalid" in info.message


def test_messages_have_no_traceback() -> None:
    for exc in (_refused(), AuthenticationError("x"), RuntimeError("boom")):
        assert "Traceback" not in classify(exc, "h").message


@pytest.mark.parametrize(
    ("kind", "exc"),
    [
        ("auth", AnsibleAuthenticationFailure),
        ("unreachable", AnsibleConnectionFailure),
        ("file_not_found", AnsibleFileNotFound),
        ("error", AnsibleError),
    ],
)
def test_raise_ansible_kinds(kind: str, exc: type[Exception]) -> None:
    with pytest.raises(exc, match="the message"):
        raise_ansible({"kind": kind, "message": "the message"})
    with pytest.raises(exc):
        raise_ansible(ErrorInfo(kind, "the message"))


def test_auth_failure_is_also_a_connection_failure() -> None:
    # Ansible marks the host unreachable for AnsibleConnectionFailure and its subclasses.
    assert issubclass(AnsibleAuthenticationFailure, AnsibleConnectionFailure)
