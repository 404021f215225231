# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of psremoting.core.winrm_listener (documentation in plugins/modules/)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ModuleAction,
    PipelineRunner,
    TaskContext,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm import _validate as validate
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import WinRMConfigError, command
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._listener import (
    DEFAULT_PORTS,
    Certificate,
    Listener,
    certificate_from_ps,
    certificate_problems,
    check_connection_safety,
    choose_certificate,
    find_listener,
    listener_from_ps,
    listener_value_changes,
    self_signed_names,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._remote import (
    new_listener,
    read_certificates,
    read_listeners,
    remove_listener,
    set_listener,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Problems

SELF_SIGNED_FRIENDLY_NAME = "WinRM HTTPS listener (psremoting.core)"


def read_computer_names(runner: PipelineRunner) -> tuple[str, str | None]:
    """Computer name and DNS domain from Win32_ComputerSystem (Get-CimInstance, CimCmdlets)."""
    output = runner.run(
        "read the computer name",
        [command("Get-CimInstance", ClassName="Win32_ComputerSystem")],
        depth=1,
    )
    obj = output[0] if output and isinstance(output[0], dict) else {}
    name = str(obj.get("DNSHostName") or obj.get("Name") or "")
    domain = str(obj.get("Domain") or "") if obj.get("PartOfDomain", True) else None
    if not name:
        raise WinRMConfigError(f"{runner.host}: could not read the computer name (Win32_ComputerSystem)")
    return name, domain


@dataclass(frozen=True)
class ListenerRequest:
    transport: str
    address: str  # normalized: *, IP:<address>, MAC:<address>
    port: int | None
    hostname: str | None
    enabled: bool
    state: str
    certificate_thumbprint: str | None  # normalized: 40 upper-case hex digits
    certificate_subject: str | None
    certificate_issuer: str | None
    self_signed: bool
    self_signed_dns_names: list[str] | None
    self_signed_key_length: int
    self_signed_valid_days: int
    renew_before_days: int
    allow_disconnect: bool
    certificate_dest: str | None

    @property
    def upper(self) -> str:
        """The transport as WSMan writes it (HTTP, HTTPS)."""
        return self.transport.upper()


def _updated(current: Listener, changes: dict[str, Any]) -> Listener:
    return dataclasses.replace(
        current,
        port=int(changes.get("Port", current.port)),
        hostname=str(changes.get("Hostname", current.hostname)),
        enabled=bool(changes.get("Enabled", current.enabled)),
        certificate_thumbprint=str(changes.get("CertificateThumbprint", current.certificate_thumbprint)),
    )


class ActionModule(ModuleAction[ListenerRequest]):
    MODULE = "winrm_listener"
    ARGUMENT_SPEC = {
        "transport": {"type": "str", "required": True, "choices": ["http", "https"]},
        "address": {"type": "str", "default": "*"},
        "port": {"type": "int"},
        "hostname": {"type": "str"},
        "enabled": {"type": "bool", "default": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "certificate_thumbprint": {"type": "str"},
        "certificate_subject": {"type": "str"},
        "certificate_issuer": {"type": "str"},
        "self_signed": {"type": "bool", "default": False},
        "self_signed_dns_names": {"type": "list", "elements": "str"},
        "self_signed_key_length": {"type": "int", "default": 4096, "choices": [2048, 3072, 4096]},
        "self_signed_valid_days": {"type": "int", "default": 730},
        "renew_before_days": {"type": "int", "default": 30},
        "allow_disconnect": {"type": "bool", "default": False},
        "certificate_dest": {"type": "path"},
    }
    # No bound from Microsoft for certificate lifetimes (New-SelfSignedCertificate -NotAfter is a
    # DateTime): 1 day to 100 years is chosen so that NotAfter stays a valid date.
    CHECKS = {
        "port": validate.port,
        "address": validate.listener_address,
        "hostname": validate.listener_hostname,
        "certificate_thumbprint": validate.thumbprint,
        "certificate_subject": validate.no_control,
        "certificate_issuer": validate.no_control,
        "self_signed_dns_names": validate.dns_name,
        "self_signed_valid_days": validate.int_range(1, 36500, "chosen: Microsoft gives no bound"),
        "renew_before_days": validate.int_range(0, 36500, "chosen: Microsoft gives no bound"),
    }
    # self_signed=false must combine with the others, so that one is checked in check_values().
    MUTUALLY_EXCLUSIVE = [
        ("certificate_thumbprint", "certificate_subject"),
        ("certificate_thumbprint", "certificate_issuer"),
    ]
    REQUEST = ListenerRequest

    def check_values(self, args: dict[str, Any], problems: Problems) -> None:
        picked = [
            o for o in ("certificate_thumbprint", "certificate_subject", "certificate_issuer") if args[o]
        ]
        if args["self_signed"] and picked:
            problems.add(
                "self_signed",
                True,
                f"self_signed=true excludes {', '.join(picked)}; use one way to pick the certificate",
            )
        if args["transport"] == "http" and (picked or args["self_signed"]):
            problems.add("transport", "http", "certificate options need transport=https")

    def manage(
        self, runner: PipelineRunner, request: ListenerRequest, context: TaskContext
    ) -> dict[str, Any]:
        listeners = [listener_from_ps(o) for o in read_listeners(runner) if isinstance(o, dict)]
        current = find_listener(listeners, request.address, request.upper)
        safety = functools.partial(
            check_connection_safety,
            context.connection,
            current,
            allow_disconnect=request.allow_disconnect,
            host=context.host,
            listeners=listeners,
        )
        before = current.to_dict() if current else {}
        if request.state == "absent":
            safety(removing=True, new_values={})
            if current is not None and not context.check_mode:
                remove_listener(runner, request.address, request.upper)
            result: dict[str, Any] = {"changed": current is not None, "listener": {}}
            if context.diff:
                result["diff"] = {"before": before, "after": {}}
            return result

        result = {"changed": False}
        desired, certificate = self._desired(runner, request, context, current, result)
        if current is None:
            after = self._create(runner, request, desired, context)
            result["changed"] = True
        else:
            changes = listener_value_changes(current, desired)
            safety(removing=False, new_values=changes)
            after = _updated(current, changes)
            result["changed"] = result["changed"] or bool(changes)
            if changes and not context.check_mode:
                set_listener(runner, request.address, request.upper, changes)
        result["listener"] = after.to_dict()
        result["certificate"] = certificate.to_dict() if certificate else {}
        dest = request.certificate_dest
        if dest and certificate and write_controller_file(dest, certificate.pem, context.check_mode):
            result["changed"] = True
        if context.diff:
            result["diff"] = {"before": before, "after": after.to_dict()}
        return result

    def _desired(
        self,
        runner: PipelineRunner,
        request: ListenerRequest,
        context: TaskContext,
        current: Listener | None,
        result: dict[str, Any],
    ) -> tuple[dict[str, Any], Certificate | None]:
        """The listener values wanted (WSMan names) and the certificate to bind (HTTPS)."""
        desired: dict[str, Any] = {
            "Port": request.port or (current.port if current else DEFAULT_PORTS[request.upper]),
            "Enabled": request.enabled,
        }
        if request.hostname is not None:
            desired["Hostname"] = request.hostname
        if request.upper != "HTTPS":
            return desired, None
        certificate, created = self._certificate(runner, request, context, current)
        result["certificate_created"] = created
        result["changed"] = created
        if certificate is None:  # check mode: a self-signed certificate would be created
            desired["CertificateThumbprint"] = "(new self-signed certificate)"
            desired.setdefault("Hostname", (request.self_signed_dns_names or [""])[0])
            return desired, None
        desired["CertificateThumbprint"] = certificate.thumbprint
        if "Hostname" not in desired:
            # The listener's Hostname must match the certificate's CN or a SAN.
            keep = current and current.hostname and current.certificate_thumbprint == certificate.thumbprint
            desired["Hostname"] = (
                current.hostname
                if keep and current
                else (certificate.dns_names[0] if certificate.dns_names else _cn(certificate.subject))
            )
        return desired, certificate

    @staticmethod
    def _create(
        runner: PipelineRunner, request: ListenerRequest, desired: dict[str, Any], context: TaskContext
    ) -> Listener:
        values = {k: v for k, v in desired.items() if v not in (None, "")}
        if not context.check_mode:
            new_listener(runner, request.address, request.upper, values)
        return Listener(
            address=request.address,
            transport=request.upper,
            port=int(values["Port"]),
            hostname=str(values.get("Hostname", "")),
            enabled=bool(values["Enabled"]),
            certificate_thumbprint=str(values.get("CertificateThumbprint", "")),
        )

    def _certificate(
        self,
        runner: PipelineRunner,
        request: ListenerRequest,
        context: TaskContext,
        current: Listener | None,
    ) -> tuple[Certificate | None, bool]:
        """(certificate to bind, whether one was created). None only in check mode for a new one."""
        now = datetime.datetime.now(datetime.timezone.utc)
        certs = [certificate_from_ps(o) for o in read_certificates(runner) if isinstance(o, dict)]
        prefix = f"{context.host}: winrm_listener"
        try:
            if request.certificate_thumbprint or request.certificate_subject or request.certificate_issuer:
                return choose_certificate(
                    certs,
                    now,
                    thumbprint=request.certificate_thumbprint,
                    subject=request.certificate_subject,
                    issuer=request.certificate_issuer,
                ), False
        except WinRMConfigError as exc:
            raise WinRMConfigError(f"{prefix}: {exc}") from exc
        bound = next((c for c in certs if current and c.thumbprint == current.certificate_thumbprint), None)
        if not request.self_signed:
            if bound is not None and not certificate_problems(bound, now):
                return bound, False
            raise WinRMConfigError(
                f"{prefix}: an HTTPS listener needs a certificate: set certificate_thumbprint, "
                "certificate_subject/certificate_issuer, or self_signed=true"
                + (
                    f" (the bound certificate {bound.thumbprint} is unusable: "
                    f"{'; '.join(certificate_problems(bound, now))})"
                    if bound
                    else ""
                )
            )
        names = list(request.self_signed_dns_names or [])
        if not names:
            name, domain = read_computer_names(runner)
            names = self_signed_names(name, domain)
        renew = request.renew_before_days
        # Keep the bound certificate, or reuse one we made earlier, while it covers the names.
        for candidate in ([bound] if bound else []) + [c for c in certs if c.subject == c.issuer]:
            usable = candidate is not None and not certificate_problems(candidate, now, names, renew)
            if usable and (candidate is bound or _cn(candidate.subject).lower() == names[0].lower()):
                return candidate, False
        if context.check_mode:
            return None, True
        not_after = now + datetime.timedelta(days=request.self_signed_valid_days)
        output = runner.run(
            "create a self-signed certificate",
            [
                command(
                    "New-SelfSignedCertificate",
                    DnsName=names,
                    CertStoreLocation="Cert:\\LocalMachine\\My",
                    KeyAlgorithm="RSA",
                    KeyLength=request.self_signed_key_length,
                    HashAlgorithm="SHA256",
                    # A string binds to [DateTime] with the invariant culture (about_Type_Conversion).
                    NotAfter=not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    FriendlyName=SELF_SIGNED_FRIENDLY_NAME,
                )
            ],
            depth=2,
        )
        created = next((certificate_from_ps(o) for o in output if isinstance(o, dict)), None)
        if created is None or not created.thumbprint:
            raise WinRMConfigError(f"{prefix}: New-SelfSignedCertificate returned no certificate")
        return created, True


def write_controller_file(dest: str, text: str, check_mode: bool) -> bool:
    """Write ``text`` to ``dest`` on the controller (atomically, mode 0644) when it differs."""
    path = Path(dest).expanduser()
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    if check_mode:
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def _cn(subject: str) -> str:
    for part in subject.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN":
            return value.strip()
    return ""
