"""A private test certificate authority.

winhost creates one CA per state directory and issues every simulated host a server
certificate whose subjectAltName holds the short host name, ``<name>.winhost.test`` and the
loopback address the host listens on, so clients validate the chain and the name for real.
It also issues client certificates for WinRM certificate authentication: Windows maps a
client certificate to a local account by the UPN in its subjectAltName (otherName
``1.3.6.1.4.1.311.20.2.3``) and requires the Client Authentication EKU
(https://learn.microsoft.com/windows/win32/winrm/authentication-for-remote-connections).

Keys are ECDSA P-256: generating 200 of them takes milliseconds, RSA would take seconds.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
DNS_SUFFIX = "winhost.test"


@dataclasses.dataclass(frozen=True)
class IssuedCertificate:
    cert_pem: bytes
    key_pem: bytes
    cert_path: Path
    key_path: Path

    @property
    def thumbprint(self) -> str:
        """SHA-1 thumbprint, upper-case hex, as Windows shows it."""
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        return cert.fingerprint(hashes.SHA1()).hex().upper()  # Windows' thumbprint


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class CertificateAuthority:
    """Load or create the CA in ``directory`` (``ca.pem`` + ``ca.key``)."""

    def __init__(self, directory: Path, common_name: str = "winhost test CA") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert_path = self.directory / "ca.pem"
        self.key_path = self.directory / "ca.key"
        if self.cert_path.exists() and self.key_path.exists():
            self._cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{self.key_path} is not an EC key")
            self._key = key
        else:
            self._key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
            now = _now()
            self._cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self._key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
                )
                .sign(self._key, hashes.SHA256())
            )
            _write_private(self.key_path, _key_pem(self._key))
            self.cert_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    def _builder(self, subject: str, key: ec.EllipticCurvePrivateKey, days: int) -> x509.CertificateBuilder:
        now = _now()
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )

    def issue_server(self, name: str, address: str, days: int = 825) -> IssuedCertificate:
        """Server certificate for host ``name`` listening on ``address``.

        SANs: ``name``, ``name.winhost.test`` and the IP address. Reuses the files when they
        exist and still match (a restart keeps the thumbprint the model may have stored).
        """
        fqdn = f"{name}.{DNS_SUFFIX}"
        cert_path = self.directory / f"{name}.pem"
        key_path = self.directory / f"{name}.key"
        if cert_path.exists() and key_path.exists():
            existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
            try:
                san = existing.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
                same_issuer = existing.issuer == self._cert.subject
            except x509.ExtensionNotFound:
                ips, same_issuer = [], False
            if same_issuer and address in ips and existing.not_valid_after_utc > _now():
                return IssuedCertificate(cert_path.read_bytes(), key_path.read_bytes(), cert_path, key_path)

        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            self._builder(fqdn, key, days)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName(name),
                        x509.DNSName(fqdn),
                        x509.IPAddress(ipaddress.ip_address(address)),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = _key_pem(key)
        _write_private(key_path, key_pem)
        cert_path.write_bytes(cert_pem)
        return IssuedCertificate(cert_pem, key_pem, cert_path, key_path)

    def issue_client(
        self, username: str, upn_suffix: str = "localhost", days: int = 825
    ) -> IssuedCertificate:
        """Client certificate mapped to local account ``username`` (UPN ``username@localhost``)."""
        key = ec.generate_private_key(ec.SECP256R1())
        upn = f"{username}@{upn_suffix}"
        # otherName value is a DER UTF8String.
        encoded = upn.encode("utf-8")
        der = b"\x0c" + _der_length(len(encoded)) + encoded
        cert = (
            self._builder(username, key, days)
            .add_extension(x509.SubjectAlternativeName([x509.OtherName(UPN_OID, der)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        safe = "".join(c if c.isalnum() else "_" for c in username)
        cert_path = self.directory / f"client-{safe}.pem"
        key_path = self.directory / f"client-{safe}.key"
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = _key_pem(key)
        _write_private(key_path, key_pem)
        cert_path.write_bytes(cert_pem)
        return IssuedCertificate(cert_pem, key_pem, cert_path, key_path)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def client_certificate_upn(cert_der: bytes) -> str | None:
    """The UPN in a client certificate's subjectAltName, if any."""
    cert = x509.load_der_x509_certificate(cert_der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == UPN_OID:
            value = other.value
            # DER UTF8String: tag 0x0c, length, bytes.
            if value[:1] == b"\x0c":
                length = value[1]
                offset = 2
                if length & 0x80:
                    count = length & 0x7F
                    length = int.from_bytes(value[2 : 2 + count], "big")
                    offset = 2 + count
                return value[offset : offset + length].decode("utf-8")
    return None


def tls_server_end_point(cert_der: bytes) -> bytes:
    """RFC 5929 ``tls-server-end-point`` channel binding data of a server certificate.

    The hash is the certificate's signature hash, with MD5 and SHA-1 upgraded to SHA-256.
    """
    cert = x509.load_der_x509_certificate(cert_der)
    algorithm = cert.signature_hash_algorithm
    name = algorithm.name if algorithm is not None else "sha256"
    if name in ("md5", "sha1"):
        name = "sha256"
    digest = hashlib.new(name, cert_der).digest()
    return b"tls-server-end-point:" + digest
