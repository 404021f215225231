"""A set of simulated hosts in one process: machines, WSMan services, listeners, KDC, inventory.

``HostSet(["dc01", "sql02"]).start()`` gives each host its own loopback address (127.0.0.2,
127.0.0.3, ...), a server certificate from the set's CA, real ports for the model's Windows
ports 5985/5986, and (with ``kerberos=True``) principals in a private KDC. It then writes an
Ansible inventory and a JSON control file, and serves the control endpoint (stats, faults) on
127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from winhost.faults import HostFaults
from winhost.stats import HostStats
from winhost.transport.config import config_from_machine
from winhost.transport.kdc import DNS_SUFFIX, KDC, REALM, kerberos_missing_reason
from winhost.transport.server import Acceptor, HostTransport, WSManHandler
from winhost.transport.tls.ca import CertificateAuthority, IssuedCertificate

log = logging.getLogger(__name__)

HandlerFactory = Callable[[Any, HostStats, HostFaults], WSManHandler]
HTTP_PORT = 5985
HTTPS_PORT = 5986


def expand_host_names(spec: str | int | Sequence[str]) -> list[str]:
    """``"dc01,sql02"`` -> ``["dc01", "sql02"]``; ``"200"``/``200`` -> ``host001..host200``."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        count = int(spec)
        if count < 1:
            raise ValueError("host count must be at least 1")
        width = max(3, len(str(count)))
        return [f"host{i:0{width}d}" for i in range(1, count + 1)]
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else [str(n).strip() for n in spec]
    names = [n for n in names if n]
    for name in names:
        if not name.replace("-", "").isalnum() or len(name) > 15:
            raise ValueError(f"invalid host name {name!r}: letters, digits and '-', at most 15 characters")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("host names must be unique")
    if not names:
        raise ValueError("no host names given")
    return names


_USABLE_PER_BLOCK = 254  # x.x.x.1 .. x.x.x.254: .0 and .255 are a /24's network/broadcast forms
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def host_address(index: int, base: str = "127.0.0.2") -> str:
    """The loopback address of the ``index``-th host (0-based) counting from ``base``: addresses
    ending in .0 or .255 are skipped, so 127.0.0.254 is followed by 127.0.1.1 (one /24 holds 254
    hosts; 127.0.0.0/8 holds about 65,000)."""
    if index < 0:
        raise ValueError("host index must not be negative")
    start = int(ipaddress.IPv4Address(base))
    octet = start & 0xFF
    if octet == 0:
        start += 1
    elif octet == 255:
        start += 2
    position = (start & 0xFF) - 1 + index
    block = (start >> 8) + position // _USABLE_PER_BLOCK
    address = ipaddress.IPv4Address((block << 8) + position % _USABLE_PER_BLOCK + 1)
    if address not in _LOOPBACK:
        raise ValueError("out of loopback addresses")
    return str(address)


def default_handler_factory(machine: Any, stats: HostStats, faults: HostFaults) -> WSManHandler:
    from winhost.wsman.service import WSManService

    return WSManService(machine, stats, faults)


@dataclasses.dataclass
class Host:
    name: str
    address: str
    fqdn: str
    machine: Any
    stats: HostStats
    faults: HostFaults
    handler: WSManHandler
    transport: HostTransport
    certificate: IssuedCertificate
    unsubscribe: Callable[[], None] | None = None

    def inventory_vars(
        self, user: str, password: str, ca_path: Path, kerberos: bool, krb5_conf: Path | None
    ) -> dict[str, Any]:
        config = self.transport.config
        https_on = config.service_running and any(
            spec.transport == "HTTPS" and spec.enabled and spec.port == HTTPS_PORT
            for spec in config.listeners
        )
        http_port = self.transport.real_port(HTTP_PORT)
        https_port = self.transport.real_port(HTTPS_PORT)
        protocol = "https" if https_on else "http"
        hostvars: dict[str, Any] = {
            "ansible_host": self.address,
            "ansible_port": https_port if https_on else http_port,
            "ansible_user": f"{user}@{REALM}" if kerberos else user,
            "ansible_password": password,
            "ansible_psrp_protocol": protocol,
            "ansible_psrp_path": "wsman",
            "ansible_psrp_auth": "kerberos" if kerberos else "ntlm",
            "ansible_psrp_cert_validation": "validate",
            "ansible_psrp_ca_cert": str(ca_path),
            "ansible_psrp_message_encryption": "auto",
            "ansible_psrp_ignore_proxy": True,
            "winhost_fqdn": self.fqdn,
            "winhost_http_port": http_port,
            "winhost_https_port": https_port,
            "winhost_ca_cert": str(ca_path),
            # winhost maps the Windows ports 5985/5986 to free loopback ports: the enable_psremoting
            # role checks the endpoints from the controller on these.
            "enable_psremoting_verify_http_port": http_port,
            "enable_psremoting_verify_https_port": https_port,
        }
        if kerberos:
            hostvars["ansible_psrp_negotiate_hostname_override"] = self.fqdn
            hostvars["ansible_psrp_negotiate_service"] = "WSMAN"
            if krb5_conf is not None:
                hostvars["winhost_krb5_config"] = str(krb5_conf)
        return hostvars


class HostSet:
    """Simulated hosts sharing one acceptor thread, CA, KDC and control endpoint."""

    def __init__(
        self,
        names: str | int | Sequence[str],
        *,
        state_dir: str | os.PathLike[str] | None = None,
        preset: str = "fresh",
        kerberos: bool = False,
        latency_ms: int = 0,
        shell_create_ms: int = 0,
        base_address: str = "127.0.0.2",
        handler_factory: HandlerFactory | None = None,
        fixed_ports: dict[str, dict[int, int]] | None = None,
    ) -> None:
        self.names = expand_host_names(names)
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="winhost-"))
        self.persist = state_dir is not None
        self.preset = preset
        self.kerberos = kerberos
        self.latency_ms = latency_ms
        self.shell_create_ms = shell_create_ms
        self.base_address = base_address
        self.handler_factory = handler_factory or default_handler_factory
        self.fixed_ports = fixed_ports or {}
        self.hosts: dict[str, Host] = {}
        self.acceptor: Acceptor | None = None
        self.ca: CertificateAuthority | None = None
        self.kdc: KDC | None = None
        self.control: Any = None
        self.control_token = secrets.token_urlsafe(24)
        self.inventory_path: Path | None = None
        self.control_path: Path | None = None
        self._lock = threading.Lock()
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> HostSet:
        from winhost.engine.model import PRESETS, Machine

        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        if self.kerberos:
            reason = kerberos_missing_reason()
            if reason:
                raise RuntimeError(f"--kerberos: {reason}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ca = CertificateAuthority(self.state_dir / "ca")
        self.acceptor = Acceptor()

        machines: dict[str, Any] = {}
        created: set[str] = set()
        for name in self.names:
            host_dir = self.state_dir / "hosts" / name
            if not (host_dir / "machine.json").exists() or not self.persist:
                created.add(name)
            if self.persist:
                machine = Machine.load_or_create(host_dir, self.preset, computer_name=name.upper())
            else:
                machine = PRESETS[self.preset](name.upper())
                machine.sandbox_dir = str(host_dir / "C")
            machines[name] = machine

        if self.kerberos:
            accounts: dict[str, str] = {}
            for machine in machines.values():
                with machine.lock:
                    for account in machine.accounts.values():
                        accounts.setdefault(account.name, account.password)
            self.kdc = KDC(self.state_dir / "kdc")
            self.kdc.setup(self.names, accounts)
            self.kdc.start()
            # The acceptor (GSSAPI in this process) reads the keytab and config from the environment.
            for key, value in self.kdc.env.items():
                self._saved_env.setdefault(key, os.environ.get(key))
                os.environ[key] = value

        for index, name in enumerate(self.names):
            self._start_host(index, name, machines[name], name in created)
        from winhost.transport.control import ControlServer

        self.control = ControlServer(self)
        self.control.start()
        return self

    def _start_host(self, index: int, name: str, machine: Any, new_machine: bool) -> None:
        assert self.ca is not None and self.acceptor is not None
        address = host_address(index, self.base_address)
        fqdn = f"{name}.{DNS_SUFFIX}"
        certificate = self.ca.issue_server(name, address)
        self._install_certificate(machine, certificate, new_machine)
        stats = HostStats()
        faults = HostFaults(latency_ms=self.latency_ms, shell_create_ms=self.shell_create_ms)
        handler = self.handler_factory(machine, stats, faults)
        transport = HostTransport(
            name,
            address,
            acceptor=self.acceptor,
            handler=handler,
            stats=stats,
            faults=faults,
            config=config_from_machine(machine),
            state_dir=self.state_dir / "hosts" / name,
            ca_cert_path=self.ca.cert_path,
            default_certificate=(certificate.cert_pem, certificate.key_pem),
            fixed_ports=self.fixed_ports.get(name),
            kerberos_realm=REALM if self.kerberos else None,
            fqdn=fqdn,
        )
        transport.reserve_port(HTTP_PORT)
        transport.reserve_port(HTTPS_PORT)
        host = Host(name, address, fqdn, machine, stats, faults, handler, transport, certificate)

        def on_change(topic: str, m: Any = machine, t: HostTransport = transport) -> None:
            try:
                config = config_from_machine(m)
                previous = t.config.accounts
                t.apply_config(config)
                if self.kdc is not None and config.accounts != previous:
                    # Keep Kerberos principals in step with Set-LocalUser/New-LocalUser.
                    changed = {n: p for n, p in config.accounts.items() if previous.get(n) != p}
                    self.kdc.sync_accounts(changed)
            except Exception:  # a bad listener must not break the cmdlet
                log.exception("%s: applying configuration after %s change failed", name, topic)

        host.unsubscribe = machine.subscribe(on_change)
        transport.apply_config(config_from_machine(machine))
        self.hosts[name] = host

    def _install_certificate(self, machine: Any, certificate: IssuedCertificate, new_machine: bool) -> None:
        """Put the CA-issued server certificate (and the CA) in the machine's stores; make the
        ``configured`` preset's HTTPS listener use it, so clients can validate the chain."""
        from winhost.engine.model import StoredCertificate

        assert self.ca is not None
        thumb = certificate.thumbprint
        ca_thumb = IssuedCertificate(self.ca.cert_pem, b"", self.ca.cert_path, self.ca.key_path).thumbprint
        with machine.lock:
            store = machine.cert_store
            if thumb not in store:
                store[thumb] = StoredCertificate(
                    thumb,
                    certificate.cert_pem.decode(),
                    certificate.key_pem.decode(),
                    store="My",
                    friendly_name="winhost WinRM",
                )
            if ca_thumb not in store:
                store[ca_thumb] = StoredCertificate(ca_thumb, self.ca.cert_pem.decode(), "", store="Root")
            if new_machine:
                # The preset's HTTPS listener gets the CA-issued certificate instead of its
                # self-signed one; a persisted machine keeps whatever its listener was given.
                for listener in machine.wsman.listeners:
                    if listener.transport.upper() == "HTTPS":
                        listener.certificate_thumbprint = thumb
        if self.persist and machine.state_dir:
            machine.save(machine.state_dir)

    def close(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.control = None
        for host in self.hosts.values():
            self._close_host(host)
        if self.acceptor is not None:
            self.acceptor.close()
            self.acceptor = None
        if self.kdc is not None:
            self.kdc.stop()
            self.kdc = None
        self._restore_environment()
        if self.control_path is not None and self.control_path.exists():
            self.control_path.unlink()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    @staticmethod
    def _close_host(host: Any) -> None:
        if host.unsubscribe:
            host.unsubscribe()
        host.transport.close()
        close_all = getattr(host.handler, "close_all", None)
        if callable(close_all):
            try:
                close_all()
            except Exception:
                log.exception("%s: close_all failed", host.name)

    def _restore_environment(self) -> None:
        for key, previous in self._saved_env.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous
        self._saved_env.clear()

    def __enter__(self) -> HostSet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inventory ------------------------------------------------------------------------------
    def inventory(self) -> dict[str, Any]:
        assert self.ca is not None
        hosts: dict[str, Any] = {}
        krb5_conf = self.kdc.krb5_conf if self.kdc else None
        for name, host in self.hosts.items():
            user, password = _inventory_account(host.machine)
            hosts[name] = host.inventory_vars(user, password, self.ca.cert_path, self.kerberos, krb5_conf)
        # Group vars: the collection's connection plugin by default (``-e
        # ansible_connection=ansible.builtin.psrp`` switches to ansible-core's, which reads the
        # same ``ansible_psrp_*`` variables).
        group_vars = {"ansible_connection": "psremoting.core.psrp", "ansible_shell_type": "powershell"}
        windows: dict[str, Any] = {"hosts": hosts, "vars": group_vars}
        groups = inventory_groups(hosts)
        if groups:
            windows["children"] = {group: {"hosts": dict.fromkeys(names)} for group, names in groups.items()}
        return {"all": {"children": {"windows": windows}}}

    def write_inventory(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        text = "# Written by winhost; simulated Windows hosts.\n" + yaml.safe_dump(
            self.inventory(), sort_keys=False, default_flow_style=False
        )
        _write_private(target, text)
        self.inventory_path = target
        self.control_path = control_file_for(target)
        _write_private(self.control_path, json.dumps(self.control_document(), indent=2) + "\n")
        return target

    def control_document(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "control_url": self.control.url if self.control else None,
            "token": self.control_token,
            "inventory": str(self.inventory_path) if self.inventory_path else None,
            "state_dir": str(self.state_dir),
            "ca_cert": str(self.ca.cert_path) if self.ca else None,
            "env": dict(self.kdc.env) if self.kdc else {},
            "hosts": {
                name: {
                    "address": host.address,
                    "fqdn": host.fqdn,
                    "ports": {str(k): v for k, v in host.transport.port_map().items()},
                }
                for name, host in self.hosts.items()
            },
        }

    # -- control actions ------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        for key, host in self.hosts.items():
            if key.lower() == name.lower():
                return host
        raise KeyError(f"unknown host {name!r}")

    def stats(self, name: str | None = None) -> dict[str, Any]:
        if name is not None:
            return {self.host(name).name: self.host(name).stats.snapshot()}
        return {n: h.stats.snapshot() for n, h in self.hosts.items()}

    def reset_stats(self, name: str | None = None) -> None:
        for host in [self.host(name)] if name else list(self.hosts.values()):
            host.stats.reset()

    def fault(self, name: str, kind: str, value: int | None = None, count: int = 1) -> dict[str, Any]:
        """Apply one fault; see ``winhost fault --help`` for the kinds."""
        host = self.host(name)
        result: dict[str, Any] = {"host": host.name, "fault": kind}
        if kind == "latency":
            host.faults.set_latency(int(value or 0))
        elif kind == "shell-create":
            host.faults.set_shell_create_delay(int(value or 0))
        elif kind == "drop-next-receive":
            host.faults.drop_next_receive(count)
        elif kind == "cut-network":
            host.faults.cut_network(int(value or 0))
        elif kind == "cut-on-output":
            host.faults.cut_on_output(int(value or 0))
        elif kind == "cut-after-bytes":
            host.faults.cut_after_bytes(count, int(value or 0))
        elif kind == "http-error":
            host.faults.http_error(int(value or 500), count)
        elif kind == "kill-shells":
            killer = getattr(host.handler, "kill_shell", None)
            result["killed"] = int(killer(None)) if callable(killer) else 0
        elif kind == "restart":
            result.update(self.restart(host.name))
        elif kind == "clear":
            host.faults.clear()
        else:
            raise ValueError(f"unknown fault {kind!r}")
        result["faults"] = host.faults.snapshot()
        return result

    def restart(self, name: str) -> dict[str, Any]:
        """Restart the host's WinRM: close every shell and connection, keep the machine."""
        host = self.host(name)
        close_all = getattr(host.handler, "close_all", None)
        if callable(close_all):
            close_all()
        reset = host.transport.reset_connections()
        host.transport.apply_config(config_from_machine(host.machine))
        return {"connections_reset": reset}


# The groups of the collection's example inventory (playbooks/inventory/example.yml), so that the
# documented commands (``-e target=web``) run as written against simulated hosts named like it.
GROUP_PREFIXES = (("dc", "domain_controllers"), ("sql", "sql"), ("web", "web"))


def inventory_groups(hosts: Sequence[str] | dict[str, Any]) -> dict[str, list[str]]:
    """Child groups of ``windows`` by host name prefix (dc01 -> domain_controllers, web01 -> web)."""
    groups: dict[str, list[str]] = {}
    for name in hosts:
        for prefix, group in GROUP_PREFIXES:
            if name.lower().startswith(prefix) and name[len(prefix) :].isdigit():
                groups.setdefault(group, []).append(name)
    return groups


def control_file_for(inventory: Path) -> Path:
    """``inv.yml`` -> ``inv.yml.winhost.json`` beside it."""
    return inventory.with_name(inventory.name + ".winhost.json")


def _inventory_account(machine: Any) -> tuple[str, str]:
    with machine.lock:
        accounts = list(machine.accounts.values())
    for preferred in ("vagrant", "Administrator"):
        for account in accounts:
            if account.name.lower() == preferred.lower() and getattr(account, "enabled", True):
                return account.name, account.password
    if not accounts:
        raise RuntimeError("machine has no accounts")
    return accounts[0].name, accounts[0].password


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
