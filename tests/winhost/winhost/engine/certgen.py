"""X.509 certificate generation and parsing with no machine in sight (the model's presets and the
certificate cmdlets both use it)."""

from __future__ import annotations

import datetime
import hashlib
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def thumbprint_of(cert: x509.Certificate) -> str:
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def load_pem(cert_pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert_pem.encode())


_PRESET_KEYS: dict[int, rsa.RSAPrivateKey] = {}
_PRESET_LOCK = threading.Lock()


def _preset_key(key_size: int) -> rsa.RSAPrivateKey:
    """One RSA key per process for the presets' certificates: a 2048-bit key takes ~0.2 s to
    generate, which made ``winhost serve --hosts 1000`` spend minutes starting. Each certificate
    (subject, serial, thumbprint) is still its own; certificates made by cmdlets
    (New-SelfSignedCertificate) get fresh keys."""
    with _PRESET_LOCK:
        if key_size not in _PRESET_KEYS:
            _PRESET_KEYS[key_size] = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        return _PRESET_KEYS[key_size]


def generate_self_signed(
    dns_names: list[str],
    subject: str | None = None,
    days: int = 365,
    key_size: int = 2048,
    *,
    preset: bool = False,
) -> tuple[str, str]:
    """Return ``(cert_pem, key_pem)`` for a new self-signed certificate (``preset``: with the
    process's shared preset key, see ``_preset_key``)."""
    key = (
        _preset_key(key_size)
        if preset
        else rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    )
    cn = subject[3:] if subject and subject.upper().startswith("CN=") else (subject or dns_names[0])
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert_pem, key_pem
