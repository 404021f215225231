"""Real X.509 certificates for the model's ``Cert:\\LocalMachine`` store.

New-SelfSignedCertificate (https://learn.microsoft.com/en-us/powershell/module/pki/new-selfsignedcertificate)
defaults: RSA 2048, SHA256, valid one year, subject ``CN=<first DNS name>``, SAN with every DNS name,
Server Authentication + Client Authentication EKUs; the thumbprint is the SHA1 hash of the DER
encoding, upper-case hex (X509Certificate2.Thumbprint).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from winhost.engine.certgen import generate_self_signed, load_pem, thumbprint_of
from winhost.engine.model import TOPIC_CERTS, Machine, StoredCertificate


def add_certificate(
    machine: Machine, cert_pem: str, key_pem: str = "", store: str = "My", friendly_name: str = ""
) -> StoredCertificate:
    thumb = thumbprint_of(load_pem(cert_pem))
    stored = StoredCertificate(thumb, cert_pem, key_pem, store=store, friendly_name=friendly_name)
    with machine.lock:
        machine.cert_store[thumb] = stored
    machine.notify(TOPIC_CERTS)
    return stored


def new_self_signed_certificate(
    machine: Machine,
    dns_names: list[str],
    subject: str | None = None,
    store: str = "My",
    friendly_name: str = "",
) -> StoredCertificate:
    cert_pem, key_pem = generate_self_signed(dns_names, subject)
    return add_certificate(machine, cert_pem, key_pem, store=store, friendly_name=friendly_name)


def import_pfx(machine: Machine, data: bytes, password: str | None, store: str = "My") -> StoredCertificate:
    """Import-PfxCertificate: key + certificate from PKCS#12 bytes."""
    key, cert, _extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    if cert is None:
        raise ValueError("The PFX file does not contain a certificate.")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = ""
    if key is not None:
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    return add_certificate(machine, cert_pem, key_pem, store=store)


def read_pfx(data: bytes, password: str | None) -> tuple[list[StoredCertificate], list[StoredCertificate]]:
    """Get-PfxData: the end-entity certificate(s) (with a key) and the other certificates of a
    PKCS#12 file, without importing anything; ValueError for a wrong password or bad data."""
    key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    end_entity: list[StoredCertificate] = []
    if cert is not None:
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        key_pem = (
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            if key is not None
            else ""
        )
        end_entity.append(StoredCertificate(thumbprint_of(cert), pem, key_pem))
    others = [
        StoredCertificate(thumbprint_of(c), c.public_bytes(serialization.Encoding.PEM).decode())
        for c in extra or []
    ]
    return end_entity, others


def import_certificate(machine: Machine, data: bytes, store: str = "My") -> StoredCertificate:
    """Import-Certificate: DER or PEM, no private key."""
    if b"-----BEGIN" in data:
        cert = x509.load_pem_x509_certificate(data)
    else:
        cert = x509.load_der_x509_certificate(data)
    return add_certificate(machine, cert.public_bytes(serialization.Encoding.PEM).decode(), "", store=store)


def der_bytes(stored: StoredCertificate) -> bytes:
    return load_pem(stored.cert_pem).public_bytes(serialization.Encoding.DER)
