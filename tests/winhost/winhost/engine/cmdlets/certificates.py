"""The Cert: drive, New-SelfSignedCertificate, Import-PfxCertificate, Import-Certificate, Export-Certificate.

Objects are System.Security.Cryptography.X509Certificates.X509Certificate2
(https://learn.microsoft.com/en-us/dotnet/api/system.security.cryptography.x509certificates.x509certificate2)
with the properties the certificate provider adds (DnsNameList, EnhancedKeyUsageList, PSPath...;
about_Certificate_Provider). Cmdlet behaviour: https://learn.microsoft.com/en-us/powershell/module/pki/new-selfsignedcertificate
(-DnsName, -Subject; new certificates go to a "My" store, Cert:\\LocalMachine\\My by default).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from psrpcore.types import ErrorCategory, PSByteArray, PSObject

from winhost.engine import certs
from winhost.engine.cmdlets.filesystem import real_path
from winhost.engine.cmdlets.items import ItemNotFound, Provider, provider_for, register_provider
from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import PSRuntimeError, not_emulated
from winhost.engine.model import TOPIC_CERTS, StoredCertificate
from winhost.engine.types import cast_value
from winhost.engine.values import new_object, to_string

STORES = (
    "My",
    "Root",
    "CA",
    "TrustedPeople",
    "TrustedPublisher",
    "Remote Desktop",
    "WebHosting",
    "Disallowed",
)
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "Server Authentication",
    ExtendedKeyUsageOID.CLIENT_AUTH: "Client Authentication",
}


def _dn(name: x509.Name) -> str:
    parts = []
    for attr in reversed(list(name)):
        short = {
            NameOID.COMMON_NAME: "CN",
            NameOID.ORGANIZATION_NAME: "O",
            NameOID.COUNTRY_NAME: "C",
            NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
        }.get(attr.oid, attr.oid.dotted_string)
        parts.append(f"{short}={attr.value!s}")
    return ", ".join(parts)


def certificate_object(stored: StoredCertificate) -> PSObject:
    cert = certs.load_pem(stored.cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        ekus = [
            new_object(
                ["Microsoft.PowerShell.Commands.EnhancedKeyUsageRepresentation", "System.Object"],
                {"FriendlyName": _EKU_NAMES.get(oid, oid.dotted_string), "ObjectId": oid.dotted_string},
                to_string_value=f"{_EKU_NAMES.get(oid, '')} ({oid.dotted_string})",
            )
            for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ]
    except x509.ExtensionNotFound:
        ekus = []
    dns_list = [
        new_object(
            [
                "System.Security.Cryptography.X509Certificates.DnsNameRepresentation",
                "System.ValueType",
                "System.Object",
            ],
            {"Punycode": d, "Unicode": d},
            to_string_value=d,
        )
        for d in dns
    ]
    der = cert.public_bytes(serialization.Encoding.DER)
    return new_object(
        [
            "System.Security.Cryptography.X509Certificates.X509Certificate2",
            "System.Security.Cryptography.X509Certificates.X509Certificate",
            "System.Object",
        ],
        {
            "Archived": False,
            "Extensions": [],
            "FriendlyName": stored.friendly_name,
            "HasPrivateKey": stored.has_private_key,
            "IssuerName": _dn(cert.issuer),
            "NotAfter": cert.not_valid_after_utc.astimezone(),
            "NotBefore": cert.not_valid_before_utc.astimezone(),
            "PrivateKey": None,
            "PublicKey": None,
            "RawData": PSByteArray(der),
            "SerialNumber": format(cert.serial_number, "X"),
            "SubjectName": _dn(cert.subject),
            "SignatureAlgorithm": "sha256RSA",
            "Thumbprint": stored.thumbprint,
            "Version": 3,
            "Handle": 0,
            "Issuer": _dn(cert.issuer),
            "Subject": _dn(cert.subject),
        },
        to_string_value=f"[Subject]\r\n  {_dn(cert.subject)}\r\n\r\n[Issuer]\r\n  {_dn(cert.issuer)}\r\n\r\n"
        f"[Serial Number]\r\n  {format(cert.serial_number, 'X')}\r\n\r\n[Not Before]\r\n  "
        f"{cert.not_valid_before_utc:%m/%d/%Y %H:%M:%S}\r\n\r\n[Not After]\r\n  "
        f"{cert.not_valid_after_utc:%m/%d/%Y %H:%M:%S}\r\n\r\n[Thumbprint]\r\n  {stored.thumbprint}\r\n",
        extended={
            "DnsNameList": dns_list,
            "EnhancedKeyUsageList": ekus,
            "SendAsTrustedIssuer": False,
            "EnrollmentPolicyEndPoint": None,
            "EnrollmentServerEndPoint": None,
            "PolicyId": None,
        },
    )


class CertificateProvider(Provider):
    name = "Certificate"
    module = "Microsoft.PowerShell.Security"
    drives = ("Cert",)

    def _parts(self, path: str) -> list[str]:
        return [p for p in self.provider_path(path).split("\\") if p]

    def is_container(self, call: CommandCall, path: str) -> bool:
        return len(self._parts(path)) < 3

    def _location(self, name: str) -> str:
        for loc in ("LocalMachine", "CurrentUser"):
            if loc.lower() == name.lower():
                return loc
        raise ItemNotFound(name)

    def _store(self, name: str) -> str:
        for store in STORES:
            if store.lower() == name.lower():
                return store
        raise ItemNotFound(name)

    def _certs(self, call: CommandCall, location: str, store: str) -> list[StoredCertificate]:
        with call.ctx.machine.lock:
            return [
                c
                for c in call.ctx.machine.cert_store.values()
                if c.store.lower() == store.lower() and c.location.lower() == location.lower()
            ]

    def get_item(self, call: CommandCall, path: str) -> Any:
        parts = self._parts(path)
        if not parts:
            return new_object(
                ["System.Management.Automation.PSDriveInfo"], {"Name": "Cert"}, to_string_value="Cert"
            )
        location = self._location(parts[0])
        if len(parts) == 1:
            return new_object(
                ["Microsoft.PowerShell.Commands.X509StoreLocation", "System.Object"],
                {"Location": location, "StoreNames": list(STORES)},
                to_string_value=location,
            )
        store = self._store(parts[1])
        if len(parts) == 2:
            return new_object(
                ["System.Security.Cryptography.X509Certificates.X509Store", "System.Object"],
                {"Name": store, "Location": location},
                to_string_value=store,
            )
        for stored in self._certs(call, location, store):
            if stored.thumbprint.lower() == parts[2].lower():
                return certificate_object(stored)
        raise ItemNotFound(path)

    def child_items(self, call: CommandCall, path: str, recurse: bool) -> list[Any]:
        parts = self._parts(path)
        if not parts:
            return [
                self.decorate(self.get_item(call, f"Cert:\\{loc}"), f"Cert:\\{loc}", True, "Cert")
                for loc in ("CurrentUser", "LocalMachine")
            ]
        location = self._location(parts[0])
        if len(parts) == 1:
            out = []
            for store in STORES:
                out.append(
                    self.decorate(
                        self.get_item(call, f"Cert:\\{location}\\{store}"),
                        f"Cert:\\{location}\\{store}",
                        True,
                        "Cert",
                    )
                )
                if recurse:
                    out.extend(self.child_items(call, f"Cert:\\{location}\\{store}", False))
            return out
        store = self._store(parts[1])
        if len(parts) == 2:
            return [
                self.decorate(
                    certificate_object(c), f"Cert:\\{location}\\{store}\\{c.thumbprint}", False, "Cert"
                )
                for c in self._certs(call, location, store)
            ]
        return [self.decorate(self.get_item(call, path), path, False, "Cert")]

    def remove_item(self, call: CommandCall, path: str, recurse: bool) -> None:
        parts = self._parts(path)
        if len(parts) != 3:
            raise not_emulated("removing certificate stores")
        machine = call.ctx.machine
        with machine.lock:
            stored = machine.cert_store.get(parts[2].upper())
            if stored is None or stored.store.lower() != parts[1].lower():
                raise ItemNotFound(path)
            del machine.cert_store[stored.thumbprint]
        machine.notify(TOPIC_CERTS)

    def ps_path(self, path: str) -> str:
        return f"{self.module}\\{self.name}::{self.provider_path(path)}"


register_provider(CertificateProvider())


def _store_from_location(call: CommandCall, location: str | None) -> tuple[str, str]:
    if not location:
        return "LocalMachine", "My"
    _prov, norm, _ = provider_for(call, location)
    parts = [p for p in norm.split(":\\", 1)[1].split("\\") if p]
    if len(parts) != 2:
        raise call.fail(
            f"The store location '{location}' is not valid.",
            "InvalidCertStoreLocation",
            ErrorCategory.InvalidArgument,
            exception_type="System.ArgumentException",
        )
    return parts[0], next((s for s in STORES if s.lower() == parts[1].lower()), parts[1])


def _not_after(call: CommandCall) -> datetime.datetime:
    value = call.get("NotAfter")
    try:
        converted: datetime.datetime = cast_value("datetime", value)
    except PSRuntimeError:
        raise call.fail(
            f"Cannot bind parameter 'NotAfter'. Cannot convert value \"{to_string(value)}\" to type "
            '"System.DateTime". Error: "String was not recognized as a valid DateTime."',
            "CannotConvertArgumentNoMessage",
            ErrorCategory.InvalidArgument,
            exception_type="System.Management.Automation.ParameterBindingException",
        ) from None
    return converted


@cmdlet(
    "New-SelfSignedCertificate",
    [
        Param("DnsName", aliases=("DnsNames",)),
        Param("Subject"),
        Param("CertStoreLocation"),
        Param("FriendlyName"),
        Param("NotAfter"),
        Param("KeyLength"),
        Param("KeyAlgorithm"),
        Param("KeyUsage"),
        Param("KeyExportPolicy"),
        Param("TextExtension"),
        Param("Type"),
        Param("HashAlgorithm"),
        Param("Provider"),
        Param("Signer"),
    ],
    module="PKI",
    dotnet_class="Microsoft.CertificateServices.Commands.NewSelfSignedCertificateCommand",
)
def new_self_signed_certificate(call: CommandCall) -> Iterator[Any]:
    dns = call.strings("DnsName") or []
    subject = call.string("Subject")
    if not dns and not subject:
        raise call.fail(
            "CertEnroll::CX509Enrollment::_CreateRequest: The subject name is empty.",
            "System.Exception",
            ErrorCategory.NotSpecified,
            exception_type="System.Exception",
        )
    location, store = _store_from_location(call, call.string("CertStoreLocation"))
    if store != "My":
        raise call.fail(
            "A new certificate can only be installed into MY store.",
            "System.Exception",
            ErrorCategory.NotSpecified,
            exception_type="System.Exception",
        )
    key_size = int(call.get("KeyLength", 2048))
    days = 365
    if call.has("NotAfter"):
        # -NotAfter is a [DateTime]: a string binds as PowerShell converts it (invariant culture)
        na = _not_after(call)
        now = datetime.datetime.now(na.tzinfo)
        days = max(1, (na - now).days)
    cert_pem, key_pem = certs.generate_self_signed(dns, subject, days=days, key_size=key_size)
    stored = certs.add_certificate(
        call.ctx.machine, cert_pem, key_pem, store="My", friendly_name=call.string("FriendlyName") or ""
    )
    if location != "LocalMachine":
        with call.ctx.machine.lock:
            stored.location = location
    yield CertificateProvider().decorate(
        certificate_object(stored), f"Cert:\\{location}\\My\\{stored.thumbprint}", False, "Cert"
    )


def _read_bytes(call: CommandCall, path: str) -> bytes:
    real = real_path(call, path)
    if not real.is_file():
        raise call.fail(
            f"The system cannot find the file specified. {path}",
            "System.IO.FileNotFoundException",
            ErrorCategory.ObjectNotFound,
            exception_type="System.IO.FileNotFoundException",
        )
    return real.read_bytes()


def _secure_text(value: Any) -> str | None:
    if value is None:
        return None
    for attr in ("decrypt", "Decrypt"):
        fn = getattr(value, attr, None)
        if callable(fn):
            try:
                return to_string(fn())
            except Exception:
                break
    return to_string(value)


@cmdlet(
    "Import-PfxCertificate",
    [
        Param("FilePath", position=0),
        Param("CertStoreLocation"),
        Param("Password"),
        Param("Exportable", switch=True),
    ],
    module="PKI",
    dotnet_class="Microsoft.CertificateServices.Commands.ImportPfxCertificate",
)
def import_pfx_certificate(call: CommandCall) -> Iterator[Any]:
    data = _read_bytes(call, call.string("FilePath") or "")
    location, store = _store_from_location(call, call.string("CertStoreLocation"))
    try:
        stored = certs.import_pfx(call.ctx.machine, data, _secure_text(call.get("Password")), store=store)
    except ValueError as exc:
        raise call.fail(
            "The PFX file you are trying to import requires either a different password or membership in "
            "an Active Directory principal to which it is protected.",
            "System.Security.Cryptography.CryptographicException",
            ErrorCategory.NotSpecified,
            exception_type="System.Security.Cryptography.CryptographicException",
        ) from exc
    yield CertificateProvider().decorate(
        certificate_object(stored), f"Cert:\\{location}\\{store}\\{stored.thumbprint}", False, "Cert"
    )


@cmdlet(
    "Get-PfxData",
    [Param("FilePath", position=0), Param("Password")],
    module="PKI",
    dotnet_class="Microsoft.CertificateServices.Commands.GetPfxData",
)
def get_pfx_data(call: CommandCall) -> Iterator[Any]:
    """Microsoft.CertificateServices.Commands.PfxData: EndEntityCertificates, OtherCertificates
    (X509Certificate2) and PrivateKeyProtectedTo; nothing is imported
    (https://learn.microsoft.com/powershell/module/pki/get-pfxdata)."""
    data = _read_bytes(call, call.string("FilePath") or "")
    try:
        end_entity, others = certs.read_pfx(data, _secure_text(call.get("Password")))
    except ValueError as exc:
        raise call.fail(
            "The specified network password is not correct.",
            "System.Security.Cryptography.CryptographicException",
            ErrorCategory.NotSpecified,
            exception_type="System.Security.Cryptography.CryptographicException",
        ) from exc
    yield new_object(
        ["Microsoft.CertificateServices.Commands.PfxData", "System.Object"],
        {
            "PrivateKeyProtectedTo": [],
            "PasswordProtectedTo": [],
            "EndEntityCertificates": [certificate_object(c) for c in end_entity],
            "OtherCertificates": [certificate_object(c) for c in others],
        },
        to_string_value="Microsoft.CertificateServices.Commands.PfxData",
    )


@cmdlet(
    "Import-Certificate",
    [Param("FilePath", position=0), Param("CertStoreLocation")],
    module="PKI",
    dotnet_class="Microsoft.CertificateServices.Commands.ImportCertificateCommand",
)
def import_certificate(call: CommandCall) -> Iterator[Any]:
    data = _read_bytes(call, call.string("FilePath") or "")
    location, store = _store_from_location(call, call.string("CertStoreLocation"))
    stored = certs.import_certificate(call.ctx.machine, data, store=store)
    yield CertificateProvider().decorate(
        certificate_object(stored), f"Cert:\\{location}\\{store}\\{stored.thumbprint}", False, "Cert"
    )


@cmdlet(
    "Export-Certificate",
    [
        Param("Cert"),
        Param("FilePath"),
        Param("Type"),
        Param("Force", switch=True),
        Param("NoClobber", switch=True),
    ],
    module="PKI",
    dotnet_class="Microsoft.CertificateServices.Commands.ExportCertificateCommand",
)
def export_certificate(call: CommandCall) -> Iterator[Any]:
    """Writes the DER (Type CERT, the default) to -FilePath and returns its FileInfo."""
    from winhost.engine.cmdlets.filesystem import file_object

    targets = [call.get("Cert")] if call.has("Cert") else list(call.input())
    path = call.string("FilePath") or ""
    for cert in targets:
        thumb = to_string(getattr(cert, "Thumbprint", None) or cert)
        if ":" in thumb:
            thumb = thumb.rsplit("\\", 1)[-1]
        stored = call.ctx.machine.cert_store.get(thumb.upper())
        if stored is None:
            raise call.fail(
                f"Cannot find certificate {thumb}.",
                "System.ArgumentException",
                ErrorCategory.ObjectNotFound,
                exception_type="System.ArgumentException",
            )
        kind = (call.string("Type") or "CERT").upper()
        if kind not in ("CERT", "P7B", "SST"):
            raise not_emulated(f"Export-Certificate -Type {kind}")
        real = real_path(call, path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_bytes(certs.der_bytes(stored))
        yield file_object(call, real)


@cmdlet(
    "Export-PfxCertificate",
    [Param("Cert"), Param("FilePath"), Param("Password"), Param("Force", switch=True)],
    module="PKI",
    dotnet_class="Microsoft.CertificateServices.Commands.ExportPfxCertificate",
)
def export_pfx_certificate(call: CommandCall) -> Iterator[Any]:
    from cryptography.hazmat.primitives.serialization import pkcs12

    from winhost.engine.cmdlets.filesystem import file_object

    cert_obj = call.get("Cert") if call.has("Cert") else next(iter(call.input()), None)
    thumb = to_string(getattr(cert_obj, "Thumbprint", None) or cert_obj).rsplit("\\", 1)[-1].upper()
    stored = call.ctx.machine.cert_store.get(thumb)
    if stored is None or not stored.has_private_key:
        raise call.fail(
            "Cannot export non-exportable private key.",
            "System.Security.Cryptography.CryptographicException",
            ErrorCategory.InvalidOperation,
            exception_type="System.Security.Cryptography.CryptographicException",
        )
    password = _secure_text(call.get("Password"))
    key = serialization.load_pem_private_key(stored.key_pem.encode(), None)
    enc = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    data = pkcs12.serialize_key_and_certificates(None, key, certs.load_pem(stored.cert_pem), None, enc)  # type: ignore[arg-type]
    real = real_path(call, call.string("FilePath") or "")
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data)
    yield file_object(call, real)


_ = os
