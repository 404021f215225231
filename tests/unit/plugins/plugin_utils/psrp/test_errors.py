"""Error mapping: each library failure becomes an Ansible error naming the host and the cause."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest
import requests
from ansible.errors import (
    AnsibleAuthenticationFailure,
    AnsibleConnectionFailure,
    AnsibleError,
    AnsibleFileNotFound,
)
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import (
    AUTH,
    ERROR,
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
def test_kerberos_kinit_by_password_failure_fails_the_task_like_the_builtin(code: int) -> None:
    """What pyspnego raises when it gets the TGT itself from ansible_password and the KDC says no.
    ansible.builtin.psrp fails the task (FAILED, caught by ignore_errors), so does this plugin
    (issue 15), with a clearer message than the library's."""
    krb5 = pytest.importorskip("krb5")
    exc = krb5.Krb5Error(krb5.init_context(), code)
    info = classify(exc, "win1", 5985, stage="open")
    assert info.kind == ERROR, info
    assert "win1:5985" in info.message and "authentication failed" in info.message
    assert "ansible_password" in info.message and str(code) in info.message
    with pytest.raises(AnsibleError) as raised:
        raise_ansible(info)
    assert not isinstance(raised.value, AnsibleAuthenticationFailure | AnsibleConnectionFailure)


def test_envelope_too_large_names_the_option() -> None:
    info = classify(WinRMTransportError("http", 413, ""), "win1", 5985)
    assert info.kind == UNREACHABLE
    assert "413" in info.message and "ansible_psrp_max_envelope_size" in info.message
    assert "(HTTP 413): lower ansible_psrp_max_envelope_size to the server's" in info.message


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


def test_unknown_configuration_name_names_the_option_and_the_fix() -> None:
    """The fault Windows returns for a configuration that is not registered (docs/getting-started.md
    quotes it): the message keeps Windows' text and says which variable to fix and how."""
    fault = WSManFaultError(
        2150858752,
        "win1",
        "The WS-Management service cannot process the request. Cannot find the Nope session "
        "configuration in the WSMan: drive on the win1 computer.",
        None,
        None,
        None,
    )
    info = classify(fault, "win1", 5986, stage="open")
    assert info.kind == UNREACHABLE
    assert "Cannot find the Nope session configuration in the WSMan: drive" in info.message
    assert "Fix ansible_psrp_configuration_name: it names an endpoint this host does not have" in info.message


def test_a_proxy_that_cannot_be_reached_is_named_as_the_proxy() -> None:
    """Not "cannot resolve host name '<the Windows host>'" or a page of urllib3 text: the proxy's
    address and what failed, and the options that set it."""
    with pytest.raises(requests.exceptions.RequestException) as raised:
        requests.get("http://win1.invalid:5985/wsman", proxies={"http": "http://127.0.0.1:1"}, timeout=10)
    info = classify(raised.value, "win1.invalid", 5985)
    assert info.kind == UNREACHABLE
    assert "cannot connect through the HTTP proxy (proxy 127.0.0.1:1: " in info.message
    assert "Connection refused" in info.message and "ansible_psrp_proxy" in info.message
    assert "win1.invalid'" not in info.message and len(info.message) < 400


@pytest.fixture
def http_port() -> Any:
    """A plain-HTTP listener on loopback (what a WinRM HTTP listener is to a TLS client)."""
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_https_to_an_http_listener_says_so(http_port: int) -> None:
    with pytest.raises(requests.exceptions.SSLError) as raised:
        requests.get(f"https://127.0.0.1:{http_port}/wsman", verify=False, timeout=10)
    info = classify(raised.value, "127.0.0.1", http_port, stage="open")
    assert info.message == (
        f"psrp connection to 127.0.0.1:{http_port} (open): the port answered without TLS (SSL wrong "
        f"version number), so it is probably an HTTP listener: set ansible_psrp_protocol=http for port "
        f"{http_port}, or ansible_port to the HTTPS listener's port (5986 by default)"
    )


def test_a_ca_file_without_a_certificate_names_ansible_psrp_ca_cert(http_port: int, tmp_path: Any) -> None:
    empty = tmp_path / "ca.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(requests.exceptions.SSLError) as raised:
        requests.get(f"https://127.0.0.1:{http_port}/wsman", verify=str(empty), timeout=10)
    info = classify(raised.value, "127.0.0.1", http_port, stage="open")
    assert "the CA file holds no PEM certificate" in info.message
    assert "point ansible_psrp_ca_cert at the issuing CA's certificate in PEM form" in info.message


def test_http_to_an_https_listener_hints_at_the_protocol_when_opening() -> None:
    """What the first request gets from an HTTPS listener spoken to in plain HTTP (winhost, as
    Windows, resets the connection): the reason, not urllib3's wrappers, and the likely fix."""
    reset = ConnectionResetError(104, "Connection reset by peer")
    exc = requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", reset))
    opening = classify(exc, "win1", 5986, stage="open")
    assert opening.message == (
        "psrp connection to win1:5986 (open): the server closed the connection: [Errno 104] Connection "
        "reset by peer; if port 5986 is an HTTPS listener (5986 by default), set ansible_psrp_protocol=https"
    )
    later = classify(exc, "win1", 5986, stage="command")  # a dropped keep-alive: no protocol hint
    assert later.retry_safe and "ansible_psrp_protocol" not in later.message


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


def _ca_and_server(tmp_path: Any, names: list[str]) -> tuple[Any, Any, Any]:
    """A CA, and a server certificate it issued for ``names`` (files: ca.pem, srv.pem, srv.key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject: str, issuer: str, key: Any, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, srv_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("Test CA", "Test CA", ca_key, ca_key, True)
    srv = build(names[0], "Test CA", srv_key, ca_key, False)
    paths = tmp_path / "ca.pem", tmp_path / "srv.pem", tmp_path / "srv.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(srv.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        srv_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def test_a_certificate_for_another_host_names_that_host(tmp_path: Any) -> None:
    """A trusted certificate issued for other names: the message says which names, not "set
    ca_cert" (issue 15). The failure is a real one from requests against a local TLS server."""
    import socket
    import ssl
    import threading

    import requests

    ca, cert, key = _ca_and_server(tmp_path, ["web01.contoso.test", "web01"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        for _ in range(2):  # the validated attempt, then the look at the certificate
            conn, _addr = server.accept()
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(requests.exceptions.SSLError) as failed:
            requests.get(f"https://127.0.0.1:{port}/wsman", verify=str(ca), timeout=5)
        info = classify(failed.value, "127.0.0.1", port, stage="open")
    finally:
        thread.join(5)
        server.close()
    assert "certificate names another host (web01.contoso.test, web01), not '127.0.0.1'" in info.message
    assert "ansible_psrp_ca_cert" not in info.message and info.kind == UNREACHABLE
