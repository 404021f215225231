"""HTTP authentication of a WinRM listener, bound to one TCP connection.

Schemes, as WinRM offers them in ``WWW-Authenticate`` (MS-WSMV 2.2.9.1, "Authentication for
Remote Connections", https://learn.microsoft.com/windows/win32/winrm/authentication-for-remote-connections):

* ``Basic realm="WSMAN"``: local accounts only; over HTTP only when AllowUnencrypted is true.
* ``Negotiate``: SPNEGO (Kerberos or NTLM) or a raw NTLM token, through pyspnego's acceptor.
  NTLM passwords come from a per-host ``NTLM_USER_FILE`` (see :class:`NtlmStore`).
* ``Kerberos``: a raw Kerberos token (the private MIT KDC of :mod:`winhost.transport.kdc`).
* ``CredSSP``: pyspnego's CredSSP acceptor (TLS inside HTTP, NTLM/Kerberos inside that, then
  the delegated password).
* Client certificates (``Authorization: http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual``)
  over HTTPS: the certificate's UPN (``user@localhost``) names the local account.

Connection-bound schemes (Negotiate, Kerberos, CredSSP) keep their security context on the
connection: later requests without an ``Authorization`` header run as the same user, and
WinRM message encryption uses that context.

Channel binding (HTTPS) honours ``CbtHardeningLevel``: ``None`` ignores it, ``Relaxed`` (the
Windows default) accepts a client that sends no binding but rejects a wrong one, ``Strict``
requires a correct binding ("Service/Auth/CbtHardeningLevel", winrm config docs). pyspnego's
NTLM acceptor treats an all-zero binding as "none" but rejects a missing AV pair, so winhost
checks NTLM bindings itself; Kerberos bindings are checked by GSSAPI, which accepts an
initiator without bindings (so Strict behaves like Relaxed for Kerberos).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import spnego
import spnego._ntlm
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from winhost.transport.config import HostConfig
from winhost.transport.tls.ca import client_certificate_upn

log = logging.getLogger(__name__)

CERT_AUTH_HEADER = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

ENC_SPNEGO = "application/HTTP-SPNEGO-session-encrypted"
ENC_KERBEROS = "application/HTTP-Kerberos-session-encrypted"
ENC_CREDSSP = "application/HTTP-CredSSP-session-encrypted"

_NTLM_AUTH_SIGNATURE = b"NTLMSSP\x00\x03\x00\x00\x00"
_NTLM_NEGOTIATE_SIGNATURE = b"NTLMSSP\x00\x01\x00\x00\x00"

# --------------------------------------------------------------------------------------------
# NTLM credential store per host
#
# pyspnego's NTLM acceptor reads passwords from the file named by the process-wide
# NTLM_USER_FILE environment variable. One process serves many hosts, each with its own
# accounts, so the lookup is redirected to the file of the host whose connection is being
# served (a thread-local: one thread serves one connection at a time).

_current_ntlm_file = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False


def _install_ntlm_store_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        original = spnego._ntlm._get_credential_file

        def host_credential_file() -> str | None:
            path: str | None = getattr(_current_ntlm_file, "path", None)
            return path if path else original()

        spnego._ntlm._get_credential_file = host_credential_file
        _hook_installed = True


@contextmanager
def _ntlm_file(path: Path | None) -> Iterator[None]:
    previous = getattr(_current_ntlm_file, "path", None)
    _current_ntlm_file.path = str(path) if path else None
    try:
        yield
    finally:
        _current_ntlm_file.path = previous


@functools.lru_cache(maxsize=256)
def _ntlm_hashes(password: str) -> tuple[str, str]:
    """The LM and NT hashes of ``password`` (hex): one derivation per password for the process,
    however many hosts share the account (a bench fleet of 1,000 hosts has one password)."""
    return spnego._ntlm.lmowfv1(password).hex().upper(), spnego._ntlm.ntowfv1(password).hex().upper()


class NtlmStore:
    """The NTLM user file of one host, rewritten when its accounts change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._digest = b""
        self._inputs = b""  # digest of the accounts the file was written for
        _install_ntlm_store_hook()

    def update(self, config: HostConfig) -> None:
        # Called for every authentication leg: the hashes are derived only when the accounts
        # changed (inputs compared by digest; the passwords themselves are not kept here).
        accounts = sorted(config.accounts.items())
        inputs = hashlib.sha256(repr((accounts, config.computer_name)).encode()).digest()
        with self._lock:
            if inputs == self._inputs and self.path.exists():
                return
        lines: list[str] = []
        for name, password in config.accounts.items():
            # The smbpasswd form (user:uid:LM:NT:flags:time) with the hashes computed here, once
            # per change: in the "domain:user:password" form pyspnego would derive the LM hash
            # (a pure-Python DES, ~8 ms) again for every connection a client opens.
            lm_hash, nt_hash = _ntlm_hashes(password)
            # Accept "user", ".\user" and "COMPUTER\user" as Windows does for local accounts.
            for domain in ("", ".", config.computer_name):
                user = f"{domain}\\{name}" if domain else name
                lines.append(f"{user}:0:{lm_hash}:{nt_hash}:[U          ]:LCT-00000000")
        text = "\n".join(lines) + "\n"
        digest = hashlib.sha256(text.encode()).digest()
        with self._lock:
            if digest == self._digest and self.path.exists():
                self._inputs = inputs
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
            self._digest = digest
            self._inputs = inputs


# --------------------------------------------------------------------------------------------
# Outcomes


@dataclasses.dataclass
class Challenge:
    """Answer 401 with these ``WWW-Authenticate`` values."""

    www_authenticate: list[str]
    failed: bool = False  # credentials were presented and rejected


@dataclasses.dataclass
class Authenticated:
    user: str
    scheme: str  # Basic | Negotiate | Kerberos | CredSSP | Certificate
    www_authenticate: list[str] = dataclasses.field(default_factory=list)


Outcome = Challenge | Authenticated


def _decode_token(value: str) -> bytes | None:
    """The base64 token of an ``Authorization`` header; None when it is not valid or empty."""
    try:
        token = base64.b64decode(value, validate=True)
    except binascii.Error:
        return None
    return token or None


def _split_user(raw: str) -> str:
    """``DOMAIN\\user`` / ``user@realm`` -> ``user``."""
    if "\\" in raw:
        return raw.split("\\", 1)[1]
    if "@" in raw:
        return raw.split("@", 1)[0]
    return raw


def ntlm_channel_binding(token: bytes) -> bytes | None:
    """The MsvAvChannelBindings hash in an NTLM AUTHENTICATE message (raw or inside SPNEGO).

    None when the token carries no AUTHENTICATE message, no NTLMv2 response, no binding, or an
    all-zero binding (what a client that does not bind sends).
    """
    from spnego._ntlm_raw.messages import Authenticate, AvId, NTClientChallengeV2

    index = token.find(_NTLM_AUTH_SIGNATURE)
    if index < 0:
        return None
    try:
        auth = Authenticate.unpack(token[index:])
        response = auth.nt_challenge_response or b""
        if len(response) <= 24:
            return None
        av_pairs = NTClientChallengeV2.unpack(response[16:]).av_pairs
        value = av_pairs.get(AvId.channel_bindings, None)
    except Exception:  # a malformed token simply has no binding
        return None
    if not value or value == b"\x00" * 16:
        return None
    return bytes(value)


# --------------------------------------------------------------------------------------------
# Per-connection authenticator


class ConnectionAuth:
    """Authentication state of one TCP connection."""

    def __init__(
        self,
        *,
        tls: bool,
        ntlm_store: NtlmStore | None,
        channel_bindings: GssChannelBindings | None = None,
        peer_certificate: bytes | None = None,
        kerberos_realm: str | None = None,
        service_hostname: str = "unspecified",
    ) -> None:
        self.tls = tls
        self.ntlm_store = ntlm_store
        self.channel_bindings = channel_bindings
        self.peer_certificate = peer_certificate
        self.kerberos_realm = kerberos_realm
        self.service_hostname = service_hostname
        self.context: Any = None
        self.context_scheme: str | None = None
        self.user: str | None = None  # set once a connection-bound context completed

    @property
    def encryption_protocol(self) -> str | None:
        if self.user is None or self.context is None:
            return None
        if self.context_scheme == "CredSSP":
            return ENC_CREDSSP
        if self.context_scheme == "Kerberos":
            return ENC_KERBEROS
        return ENC_SPNEGO

    def reset(self) -> None:
        self.context = None
        self.context_scheme = None
        self.user = None

    def authenticate(self, authorization: str | None, config: HostConfig) -> Outcome:
        offered = config.offered_schemes()
        if not authorization:
            if self.user is not None and self.context_scheme is not None:
                if not self._scheme_enabled(self.context_scheme, config):
                    self.reset()
                    return Challenge(offered)
                checked = self._check_account(self.user, config)
                if checked is None:
                    self.reset()
                    return Challenge(offered, failed=True)
                return Authenticated(checked, self.context_scheme)
            return Challenge(offered)

        if authorization.strip().lower() == CERT_AUTH_HEADER:
            return self._certificate(config, offered)

        scheme, _, value = authorization.strip().partition(" ")
        scheme_l = scheme.lower()
        if scheme_l == "basic":
            return self._basic(value.strip(), config, offered)
        if scheme_l in ("negotiate", "kerberos", "credssp"):
            canonical = {"negotiate": "Negotiate", "kerberos": "Kerberos", "credssp": "CredSSP"}[scheme_l]
            if not self._scheme_enabled(canonical, config):
                self.reset()
                return Challenge(offered)
            return self._security_context(canonical, value.strip(), config, offered)
        return Challenge(offered)

    # -- schemes --------------------------------------------------------------------------------
    @staticmethod
    def _scheme_enabled(scheme: str, config: HostConfig) -> bool:
        return {
            "Negotiate": config.auth_negotiate,
            "Kerberos": config.auth_kerberos,
            "CredSSP": config.auth_credssp,
            "Basic": config.auth_basic,
            "Certificate": config.auth_certificate,
        }.get(scheme, False)

    def _local_user(self, name: str, config: HostConfig) -> str:
        return f"{config.computer_name}\\{name}"

    def _check_account(self, user: str, config: HostConfig) -> str | None:
        """Re-validate that a connection's user still exists (accounts can be removed)."""
        name = _split_user(user)
        account = config.account_name(name)
        if account is None:
            return None
        prefix = user.split("\\", 1)[0] + "\\" if "\\" in user else ""
        return f"{prefix}{account}" if prefix else account

    def _basic(self, value: str, config: HostConfig, offered: list[str]) -> Outcome:
        # Basic sends the password in clear, so over plain HTTP Windows accepts it only when
        # Service/AllowUnencrypted is true and answers 401 otherwise (WinRM configuration docs,
        # "Installation and configuration for Windows Remote Management"; pywinrm issue #79).
        if not config.auth_basic or (not self.tls and not config.allow_unencrypted):
            return Challenge(offered, failed=True)
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Challenge(offered, failed=True)
        raw_user, sep, password = decoded.partition(":")
        if not sep:
            return Challenge(offered, failed=True)
        name = _split_user(raw_user)
        expected = config.password_of(name)
        if expected is None or not _equal(expected, password):
            return Challenge(offered, failed=True)
        self.reset()
        return Authenticated(self._local_user(config.account_name(name) or name, config), "Basic")

    def _certificate(self, config: HostConfig, offered: list[str]) -> Outcome:
        if not (config.auth_certificate and self.tls and self.peer_certificate):
            return Challenge(offered, failed=True)
        upn = client_certificate_upn(self.peer_certificate)
        if not upn:
            return Challenge(offered, failed=True)
        account = config.account_name(_split_user(upn))
        if account is None:
            return Challenge(offered, failed=True)
        return Authenticated(self._local_user(account, config), "Certificate")

    def _security_context(self, scheme: str, value: str, config: HostConfig, offered: list[str]) -> Outcome:
        token = _decode_token(value)
        if token is None:
            self.reset()
            return Challenge(offered, failed=True)
        new_context = self.context is None or self.user is not None or self.context_scheme != scheme
        if new_context:
            self.reset()
            self.context = self._new_context(scheme, token, config)
            self.context_scheme = scheme
        if self.ntlm_store is not None:
            self.ntlm_store.update(config)
        out_token = (
            self._step(scheme, token, config) if self._channel_binding_ok(scheme, token, config) else None
        )
        if out_token is None:
            self.reset()
            return Challenge(offered, failed=True)
        return self._after_step(scheme, out_token, config, offered)

    def _channel_binding_ok(self, scheme: str, token: bytes, config: HostConfig) -> bool:
        """NTLM over HTTPS: the client's channel binding must match the TLS channel
        (CbtHardeningLevel Relaxed: when sent; Strict: always)."""
        level = config.cbt_hardening_level.lower()
        if not (self.tls and level != "none" and scheme != "CredSSP" and _NTLM_AUTH_SIGNATURE in token):
            return True
        sent = ntlm_channel_binding(token)
        expected = hashlib.md5(self.channel_bindings.pack()).digest() if self.channel_bindings else None
        if sent is not None and sent != expected:
            log.info("rejecting NTLM authentication: wrong channel binding")
            return False
        if sent is None and level == "strict":
            log.info("rejecting NTLM authentication: no channel binding and CbtHardeningLevel=Strict")
            return False
        return True

    def _step(self, scheme: str, token: bytes, config: HostConfig) -> bytes | None:
        """One acceptor step: the token to send back (b"" for none), None when it failed."""
        try:
            with _ntlm_file(self.ntlm_store.path if self.ntlm_store else None):
                out_token: bytes | None = self.context.step(token)
        except SpnegoError as err:
            log.info("%s authentication failed: %s", scheme, type(err).__name__)
            return None
        except Exception as err:  # any acceptor failure is a 401, like Windows
            log.warning("%s acceptor error: %s", scheme, type(err).__name__)
            return None
        return out_token or b""

    def _after_step(self, scheme: str, out_token: bytes, config: HostConfig, offered: list[str]) -> Outcome:
        header = [f"{scheme} {base64.b64encode(out_token).decode()}"] if out_token else []
        if not self.context.complete:
            if scheme == "CredSSP" and self.context.get_extra_info("auth_stage") == "Authentication failure":
                # pyspnego's acceptor answers a failed inner logon with a TSRequest carrying the
                # NTSTATUS (CredSSP >= 3); the client raises on it. The context is finished.
                self.reset()
                return Challenge(header or offered, failed=True)
            return Challenge(header or [scheme])
        principal = self._principal(scheme)
        user = self._map_principal(principal, config) if principal else None
        if user is None:
            log.info("%s authentication: principal is not an account of %s", scheme, config.computer_name)
            self.reset()
            return Challenge(offered, failed=True)
        if scheme == "CredSSP" and not self._credssp_password_ok(config):
            self.reset()
            return Challenge(offered, failed=True)
        self.user = user
        return Authenticated(user, scheme, header)

    def _new_context(self, scheme: str, token: bytes, config: HostConfig) -> Any:
        protocol = {"Negotiate": "negotiate", "Kerberos": "kerberos", "CredSSP": "credssp"}[scheme]
        bindings = None
        is_ntlm = token.startswith(_NTLM_NEGOTIATE_SIGNATURE) or _NTLM_NEGOTIATE_SIGNATURE in token[:200]
        # Kerberos checks bindings inside GSSAPI; NTLM bindings are checked above.
        if self.tls and config.cbt_hardening_level.lower() != "none" and scheme != "CredSSP" and not is_ntlm:
            bindings = self.channel_bindings
        return spnego.server(
            hostname=self.service_hostname,
            service="WSMAN",
            channel_bindings=bindings,
            protocol=protocol,
        )

    def _principal(self, scheme: str) -> str | None:
        try:
            principal = self.context.client_principal
        except Exception:
            principal = None
        if scheme == "CredSSP":
            creds = self.context.get_extra_info("client_credential")
            username = getattr(creds, "username", None)
            if username:
                domain = getattr(creds, "domain_name", "") or ""
                return f"{domain}\\{username}" if domain else str(username)
        return str(principal) if principal else None

    def _map_principal(self, principal: str, config: HostConfig) -> str | None:
        if "@" in principal and "\\" not in principal:
            name, _, realm = principal.partition("@")
            if self.kerberos_realm and realm.upper() == self.kerberos_realm.upper():
                account = config.account_name(name)
                if account is None:
                    return None
                return f"{self.kerberos_realm.split('.')[0].upper()}\\{account}"
        account = config.account_name(_split_user(principal))
        if account is None:
            return None
        return self._local_user(account, config)

    def _credssp_password_ok(self, config: HostConfig) -> bool:
        creds = self.context.get_extra_info("client_credential")
        username = getattr(creds, "username", None)
        password = getattr(creds, "password", None)
        if not username or password is None:
            return False
        expected = config.password_of(_split_user(str(username)))
        return expected is not None and _equal(expected, str(password))


def _equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
