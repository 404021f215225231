"""The controller-side listener probe against a local TLS server answering like WinRM does."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._endpoint import probe, probe_problems

ANSWER = (
    b"HTTP/1.1 401 \r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Kerberos\r\n"
    b'WWW-Authenticate: Basic realm="WSMAN"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
)


def _cert(tmp: Path, name: str) -> tuple[str, Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path, key_path = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_path.write_text(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pem, cert_path, key_path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    pem, cert_path, key_path = _cert(tmp_path, "web01")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(4096)
                    tls.sendall(ANSWER)
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, pem
    stop.set()
    thread.join(2)
    listener.close()


def test_validated_probe_reads_offered_methods(server: tuple[int, str]) -> None:
    port, pem = server
    result = probe("https", "127.0.0.1", port, server_name="web01", ca_pem=pem, timeout=60)
    assert result.status == 401
    assert result.auth_methods == ["Negotiate", "Kerberos", "Basic"]
    assert len(result.peer_certificate_sha1) == 40
    assert probe_problems(result, forbid_auth=["Basic"]) == ["still offers Basic"]
    assert probe_problems(result, require_auth=["CredSSP"]) == ["does not offer CredSSP"]
    assert probe_problems(result, require_any_auth=["Negotiate"], forbid_auth=["credssp"]) == []


def test_wrong_name_or_untrusted_certificate_fails(server: tuple[int, str], tmp_path: Path) -> None:
    port, pem = server
    with pytest.raises(ssl.SSLCertVerificationError):
        probe("https", "127.0.0.1", port, server_name="web02", ca_pem=pem, timeout=60)
    other_pem, _, _ = _cert(tmp_path, "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        probe("https", "127.0.0.1", port, server_name="web01", ca_pem=other_pem, timeout=60)


def test_closed_port_raises_oserror() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError):
        probe("http", "127.0.0.1", port, timeout=2)
