"""The per-host machine model of winhost: what a Windows Server 2022 host "is".

One :class:`Machine` per simulated host. Cmdlets (``winhost.engine.cmdlets``) read and change it;
the transport reads its WSMan configuration, listeners, firewall, certificate store, accounts and
the WinRM service state, and re-reads them whenever :meth:`Machine.notify` fires the callbacks
registered with :meth:`Machine.subscribe`.

Defaults follow Microsoft's documentation of a fresh Windows Server 2022 install:

* "Installation and configuration for Windows Remote Management"
  (https://learn.microsoft.com/en-us/windows/win32/winrm/installation-and-configuration-for-windows-remote-management):
  ``MaxEnvelopeSizekb`` 500, ``MaxConcurrentOperationsPerUser`` 1500, ``AllowUnencrypted`` false,
  ``Auth/Basic`` false, ``Auth/Kerberos`` true, ``Auth/Negotiate`` true, ``Auth/Certificate``
  false, ``Auth/CredSSP`` false, ``Auth/CbtHardeningLevel`` Relaxed, ``Winrs/IdleTimeout``
  7200000, ``MaxShellsPerUser`` 30, HTTP listener on port 5985, HTTPS on 5986; MS-WSMV 2.2.4.10
  ConfigType: "The default value [of MaxEnvelopeSizekb] SHOULD be 500", MaxTimeoutms 60000,
  MaxBatchItems 32000.
* WinRM service: "Windows Remote Management (WS-Management)", start type Automatic on Windows
  Server (``Enable-PSRemoting`` docs: "On server versions of Windows, Enable-PSRemoting ...
  WinRM is enabled by default").
* Firewall: the "Windows Remote Management (HTTP-In)" rules ``WINRM-HTTP-In-TCP`` (Domain,
  Private) and ``WINRM-HTTP-In-TCP-PUBLIC`` (Public, remote address LocalSubnet), see
  about_Remote_Troubleshooting ("How to enable remoting on public networks").

Everything mutable lives behind ``Machine.lock`` (an RLock): runspaces run in worker threads.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tempfile
import threading
import time
import typing
import zlib
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from winhost.engine.certgen import generate_self_signed, load_pem, thumbprint_of

V = TypeVar("V")

#: Topics passed to subscribers (``callback(topic)``).
TOPIC_WSMAN = "wsman"
TOPIC_LISTENERS = "listeners"
TOPIC_FIREWALL = "firewall"
TOPIC_SERVICES = "services"
TOPIC_CERTS = "cert_store"
TOPIC_ACCOUNTS = "accounts"
TOPIC_REGISTRY = "registry"
TOPIC_SESSION_CONFIGS = "session_configurations"


class CIDict(MutableMapping[str, V], Generic[V]):
    """A dict with case-insensitive string keys that remembers the original spelling."""

    def __init__(self, data: dict[str, V] | None = None) -> None:
        self._d: dict[str, tuple[str, V]] = {}
        for k, v in (data or {}).items():
            self[k] = v

    def __getitem__(self, key: str) -> V:
        return self._d[key.lower()][1]

    def __setitem__(self, key: str, value: V) -> None:
        old = self._d.get(key.lower())
        self._d[key.lower()] = (old[0] if old else key, value)

    def __delitem__(self, key: str) -> None:
        del self._d[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._d.values())

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._d

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._d.get(key.lower()) if isinstance(key, str) else None
        return default if entry is None else entry[1]

    def entry(self, lowered: str) -> tuple[str, V] | None:
        """(spelling, value) under an already lower-cased key, else None (one dict lookup)."""
        return self._d.get(lowered)

    def __repr__(self) -> str:
        return f"CIDict({dict(self.items())!r})"


# --------------------------------------------------------------------------------------------
# WSMan configuration (WSMan:\localhost and winrm/config)


@dataclasses.dataclass
class AuthConfig:
    """``WSMan:\\localhost\\Service\\Auth`` (winrm/config/service/auth)."""

    basic: bool = False
    kerberos: bool = True
    negotiate: bool = True
    certificate: bool = False
    credssp: bool = False
    cbt_hardening_level: str = "Relaxed"


@dataclasses.dataclass
class ClientAuthConfig:
    """``WSMan:\\localhost\\Client\\Auth``; client-side defaults (Digest true, all else as service)."""

    basic: bool = True
    digest: bool = True
    kerberos: bool = True
    negotiate: bool = True
    certificate: bool = True
    credssp: bool = False


@dataclasses.dataclass
class ServiceConfig:
    """``WSMan:\\localhost\\Service`` plus the values the transport enforces.

    ``max_envelope_size_kb`` (``WSMan:\\localhost\\MaxEnvelopeSizekb``), ``max_shells_per_user`` and
    ``idle_timeout_ms`` (``WSMan:\\localhost\\Shell``) live elsewhere in the WSMan tree but are kept
    here too, so that the transport finds every enforced value in one place.
    """

    auth: AuthConfig = dataclasses.field(default_factory=AuthConfig)
    allow_unencrypted: bool = False
    allow_remote_access: bool = True
    max_concurrent_operations_per_user: int = 1500
    max_connections: int = 300
    max_packet_retrieval_time_seconds: int = 120
    enumeration_timeout_ms: int = 240000
    root_sddl: str = "O:NSG:BAD:P(A;;GA;;;BA)(A;;GR;;;IU)S:P(AU;FA;GA;;;WD)(AU;SA;GXGW;;;WD)"
    ipv4_filter: str = "*"
    ipv6_filter: str = "*"
    enable_compatibility_http_listener: bool = False
    enable_compatibility_https_listener: bool = False
    # Values from other WSMan containers that the transport enforces (kept in sync by WSManConfig).
    max_envelope_size_kb: int = 500
    max_shells_per_user: int = 30
    idle_timeout_ms: int = 7200000
    max_timeout_ms: int = 60000

    @property
    def cbt_hardening_level(self) -> str:
        return self.auth.cbt_hardening_level

    @cbt_hardening_level.setter
    def cbt_hardening_level(self, value: str) -> None:
        self.auth.cbt_hardening_level = value


@dataclasses.dataclass
class ShellConfig:
    """``WSMan:\\localhost\\Shell`` (winrm/config/winrs).

    "Quota Management for Remote Shells" (https://learn.microsoft.com/en-us/windows/win32/winrm/quotas):
    MaxConcurrentUsers 10, MaxProcessesPerShell 25, MaxShellsPerUser 30, MaxShellRunTime read-only
    since WinRM 2.0. MaxMemoryPerShellMB: that page lists 1024; Windows Server 2012 and later ship
    2147483647 (the value the project brief fixes), which is what winhost reports.
    """

    allow_remote_shell_access: bool = True
    max_concurrent_users: int = 10
    max_shell_run_time: int = 2147483647
    max_processes_per_shell: int = 25
    max_memory_per_shell_mb: int = 2147483647


@dataclasses.dataclass
class ClientConfig:
    """``WSMan:\\localhost\\Client``."""

    network_delayms: int = 5000
    url_prefix: str = "wsman"
    allow_unencrypted: bool = False
    auth: ClientAuthConfig = dataclasses.field(default_factory=ClientAuthConfig)
    trusted_hosts: str = ""


@dataclasses.dataclass
class Listener:
    """One ``winrm/config/Listener`` instance (selectors Address + Transport)."""

    address: str = "*"
    transport: str = "HTTP"
    port: int = 5985
    hostname: str = ""
    enabled: bool = True
    url_prefix: str = "wsman"
    certificate_thumbprint: str = ""
    listening_on: list[str] = dataclasses.field(default_factory=lambda: ["127.0.0.1", "::1"])

    @property
    def name(self) -> str:
        """Name under ``WSMan:\\localhost\\Listener``: stable per (Address, Transport), like Windows."""
        key = f"{self.address}|{self.transport}".upper().encode()
        return f"Listener_{zlib.crc32(key) & 0x7FFFFFFF}"

    @property
    def keys(self) -> list[str]:
        return [f"Transport={self.transport}", f"Address={self.address}"]


@dataclasses.dataclass
class WSManConfig:
    """The WSMan configuration tree of the host."""

    service: ServiceConfig = dataclasses.field(default_factory=ServiceConfig)
    shell: ShellConfig = dataclasses.field(default_factory=ShellConfig)
    client: ClientConfig = dataclasses.field(default_factory=ClientConfig)
    listeners: list[Listener] = dataclasses.field(default_factory=list)
    max_batch_items: int = 32000
    max_provider_requests: int = 4294967295

    @property
    def max_envelope_size_kb(self) -> int:
        return self.service.max_envelope_size_kb

    @max_envelope_size_kb.setter
    def max_envelope_size_kb(self, value: int) -> None:
        self.service.max_envelope_size_kb = value

    @property
    def max_timeout_ms(self) -> int:
        return self.service.max_timeout_ms

    @max_timeout_ms.setter
    def max_timeout_ms(self, value: int) -> None:
        self.service.max_timeout_ms = value

    def find_listener(self, address: str, transport: str) -> Listener | None:
        for listener in self.listeners:
            if (
                listener.address.lower() == address.lower()
                and listener.transport.upper() == transport.upper()
            ):
                return listener
        return None


# --------------------------------------------------------------------------------------------
# Services, processes, accounts


@dataclasses.dataclass
class Service:
    """A Windows service, as System.ServiceProcess.ServiceController describes it."""

    name: str
    display_name: str
    status: str = "Running"  # ServiceControllerStatus name
    start_type: str = "Automatic"  # ServiceStartMode name
    service_type: str = "Win32OwnProcess"
    depends_on: list[str] = dataclasses.field(default_factory=list)
    can_stop: bool = True
    can_pause_and_continue: bool = False
    can_shutdown: bool = False
    binary_path: str = ""
    pid: int = 0


@dataclasses.dataclass
class Process:
    """A running process (System.Diagnostics.Process)."""

    id: int
    name: str
    path: str = ""
    session_id: int = 0
    working_set: int = 10 * 1024 * 1024
    cpu: float = 0.0
    handles: int = 200


@dataclasses.dataclass
class Account:
    """A local account: name, password, group memberships."""

    name: str
    password: str
    groups: list[str] = dataclasses.field(default_factory=lambda: ["Users"])
    enabled: bool = True
    full_name: str = ""
    sid: str = ""

    @property
    def is_admin(self) -> bool:
        return any(g.lower() == "administrators" for g in self.groups)


# --------------------------------------------------------------------------------------------
# Certificates, firewall, registry, session configurations


@dataclasses.dataclass
class StoredCertificate:
    """A certificate in the machine store (``Cert:\\LocalMachine\\<store>``)."""

    thumbprint: str  # SHA1 of the DER, hex, upper case
    cert_pem: str
    key_pem: str = ""  # empty when the store holds no private key
    store: str = "My"
    location: str = "LocalMachine"
    friendly_name: str = ""

    @property
    def has_private_key(self) -> bool:
        return bool(self.key_pem)


@dataclasses.dataclass
class FirewallRule:
    """An inbound/outbound rule as Get-NetFirewallRule + its port/address filters describe it."""

    name: str
    display_name: str
    enabled: bool = True
    direction: str = "Inbound"  # Inbound | Outbound
    action: str = "Allow"  # Allow | Block
    profiles: list[str] = dataclasses.field(default_factory=lambda: ["Any"])  # Domain/Private/Public/Any
    protocol: str = "TCP"
    local_ports: list[str] = dataclasses.field(default_factory=lambda: ["Any"])
    remote_addresses: list[str] = dataclasses.field(default_factory=lambda: ["Any"])
    group: str = ""
    description: str = ""

    def matches(self, port: int, addr: str, profile: str) -> bool:
        if not self.enabled or self.direction != "Inbound":
            return False
        if self.protocol.upper() not in ("TCP", "ANY"):
            return False
        if "Any" not in self.profiles and profile not in self.profiles:
            return False
        if not _port_matches(self.local_ports, port):
            return False
        return _address_matches(self.remote_addresses, addr)


def _port_matches(ports: list[str], port: int) -> bool:
    """Never raises: a rule the cmdlets refused cannot be stored, but the model must not fall over
    on one anyway (a crash here would take every later connection down)."""
    for spec in ports:
        if spec.lower() == "any":
            return True
        low, sep, high = spec.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            continue
        if int(low) <= port <= int(high if sep else low):
            return True
    return False


def _address_matches(addresses: list[str], addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for spec in addresses:
        low = spec.lower()
        if low == "any":
            return True
        if low == "localsubnet":
            # The simulated host's only network is loopback, which is its local subnet.
            if ip.is_loopback or ip.is_private:
                return True
            continue
        try:
            if "-" in spec:
                lo, hi = (ipaddress.ip_address(s) for s in spec.split("-", 1))
                if lo <= ip <= hi:  # type: ignore[operator]
                    return True
            elif ip in ipaddress.ip_network(spec, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclasses.dataclass
class Firewall:
    """Windows Defender Firewall: rules + enabled profiles + the active network category."""

    rules: list[FirewallRule] = dataclasses.field(default_factory=list)
    profiles_enabled: dict[str, bool] = dataclasses.field(
        default_factory=lambda: {"Domain": True, "Private": True, "Public": True}
    )
    network_category: str = "Public"  # NetConnectionProfile.NetworkCategory
    network_name: str = "Network"
    interface_alias: str = "Ethernet"

    def find(self, name: str) -> FirewallRule | None:
        for rule in self.rules:
            if rule.name.lower() == name.lower():
                return rule
        return None

    def allows(self, port: int, addr: str) -> bool:
        """Would an inbound TCP connection from ``addr`` to ``port`` be accepted?

        Block rules win over allow rules; with the profile's firewall off everything passes;
        otherwise the default inbound action (Block) applies when no allow rule matches.
        """
        profile = self.network_category
        if not self.profiles_enabled.get(profile, True):
            return True
        matching = [r for r in self.rules if r.matches(port, addr, profile)]
        if any(r.action == "Block" for r in matching):
            return False
        return any(r.action == "Allow" for r in matching)


@dataclasses.dataclass
class RegistryValue:
    value: Any
    kind: str = "DWord"  # String | ExpandString | DWord | QWord | MultiString | Binary


@dataclasses.dataclass
class SessionConfiguration:
    """A PSSession configuration (Get-PSSessionConfiguration)."""

    name: str
    enabled: bool = True
    permission: str = "NT AUTHORITY\\INTERACTIVE AccessAllowed, BUILTIN\\Administrators AccessAllowed, BUILTIN\\Remote Management Users AccessAllowed"
    ps_version: str = "5.1"
    architecture: str = "64"
    run_as_user: str = ""
    path: str = ""  # .pssc for JEA endpoints
    session_type: str = "Default"
    language_mode: str = "FullLanguage"
    uri: str = ""
    #: VisibleProviders of a JEA endpoint's .pssc (empty: every provider is visible).
    visible_providers: list[str] = dataclasses.field(default_factory=list)
    #: The .pssc it was registered from, parsed (winhost/engine/jea.py); None: not file-based.
    config_file: dict[str, Any] | None = None
    #: Quotas\MaxIdleTimeoutms: the longest idle timeout a session of it may ask for (Windows
    #: reports 2147483647, rsp:MaxIdleTimeOut PT2147483.647S in pypsrp's recordings; Server 2012's
    #: Install-PowerShellRemoting wrote 43200000).
    max_idle_timeout_ms: int = 2147483647

    def __post_init__(self) -> None:
        if not self.uri:
            self.uri = f"http://schemas.microsoft.com/powershell/{self.name}"


# --------------------------------------------------------------------------------------------
# The machine


Callback = Callable[[str], None]


@dataclasses.dataclass
class Machine:
    """One simulated Windows host."""

    computer_name: str = "WINHOST"
    domain: str = "WORKGROUP"
    os_caption: str = "Microsoft Windows Server 2022 Datacenter"
    os_version: str = "10.0.20348"
    ps_version: str = "5.1.20348.2849"
    wsman: WSManConfig = dataclasses.field(default_factory=WSManConfig)
    services: CIDict[Service] = dataclasses.field(default_factory=CIDict)
    processes: list[Process] = dataclasses.field(default_factory=list)
    accounts: CIDict[Account] = dataclasses.field(default_factory=CIDict)
    cert_store: dict[str, StoredCertificate] = dataclasses.field(default_factory=dict)
    firewall: Firewall = dataclasses.field(default_factory=Firewall)
    registry: CIDict[CIDict[RegistryValue]] = dataclasses.field(default_factory=CIDict)
    session_configurations: CIDict[SessionConfiguration] = dataclasses.field(default_factory=CIDict)
    environment: CIDict[str] = dataclasses.field(default_factory=CIDict)
    credssp_server: bool = False
    credssp_client_delegates: list[str] = dataclasses.field(default_factory=list)
    boot_time: float = 0.0
    sandbox_dir: str = ""  # real directory that models C:\
    state_dir: str = ""

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._subscribers: list[Callback] = []
        #: A restart shutdown.exe /r scheduled (shutdown.exe /a cancels it).
        self.pending_restart: threading.Timer | None = None
        #: Seconds a service (lower-case name) takes to start, as on a slow host: Start-Service
        #: and Restart-Service return once it runs; meanwhile it is stopped (a stopped WinRM does
        #: not listen). Tests set it; not saved with the machine.
        self.service_start_seconds: dict[str, float] = {}

    # -- boot ---------------------------------------------------------------------------------
    def last_boot(self) -> float:
        """When the machine last booted (epoch seconds); three hours ago for a machine that has
        not recorded it."""
        with self.lock:
            if not self.boot_time:
                self.boot_time = time.time() - 3 * 3600
            return self.boot_time

    def restart(self) -> None:
        """The machine boots again: a new boot time and, once LogonUI is up, its
        AutoLogonChecked key. winhost keeps its services' state and open shells."""
        with self.lock:
            self.pending_restart = None
            self.boot_time = time.time()
            self.registry[normalize_registry_path(AUTOLOGON_CHECKED_KEY)] = CIDict()
        self.notify(TOPIC_REGISTRY)

    # -- change notification ------------------------------------------------------------------
    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(topic)`` after every change; returns an unsubscribe function."""
        with self.lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def notify(self, topic: str) -> None:
        """Tell subscribers that ``topic`` changed and persist the state if a state dir is set."""
        with self.lock:
            subscribers = list(self._subscribers)
            if self.state_dir:
                self.save(self.state_dir)
        for callback in subscribers:
            callback(topic)

    # -- convenience ----------------------------------------------------------------------------
    @property
    def winrm_running(self) -> bool:
        svc = self.services.get("WinRM")
        return svc is not None and svc.status == "Running"

    def set_service_status(self, name: str, status: str) -> None:
        with self.lock:
            self.services[name].status = status
        self.notify(TOPIC_SERVICES)

    def registry_key(self, path: str, create: bool = False) -> CIDict[RegistryValue] | None:
        key = normalize_registry_path(path)
        with self.lock:
            if key not in self.registry:
                if not create:
                    return None
                self.registry[key] = CIDict()
            return self.registry[key]

    def registry_value(self, path: str, name: str) -> Any:
        key = self.registry_key(path)
        if key is None or name not in key:
            return None
        return key[name].value

    def gpo_wsman_service_value(self, name: str) -> Any:
        """A WinRM Group Policy value (HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service)."""
        return self.registry_value(GPO_WINRM_SERVICE, name)

    def sandbox(self) -> Path:
        """The real directory that models ``C:\\`` (created on first use)."""
        if not self.sandbox_dir:
            self.sandbox_dir = tempfile.mkdtemp(prefix=f"winhost-{self.computer_name.lower()}-C-")
        path = Path(self.sandbox_dir)
        if not path.is_dir():  # one stat; mkdir(exist_ok=True) raises and catches when it exists
            path.mkdir(parents=True, exist_ok=True)
        return path

    # -- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return typing.cast(dict[str, Any], _dump(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Machine:
        return typing.cast(Machine, _load(cls, data))

    def save(self, state_dir: str | os.PathLike[str]) -> Path:
        """Write ``machine.json`` into ``state_dir`` atomically (private keys included: test PKI only)."""
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "machine.json"
        tmp = directory / "machine.json.tmp"
        with self.lock:
            payload = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, state_dir: str | os.PathLike[str]) -> Machine:
        data = json.loads((Path(state_dir) / "machine.json").read_text(encoding="utf-8"))
        machine = cls.from_dict(data)
        machine.state_dir = str(state_dir)
        return machine

    @classmethod
    def load_or_create(
        cls, state_dir: str | os.PathLike[str], preset: str = "fresh", computer_name: str = "WINHOST"
    ) -> Machine:
        """Load ``state_dir/machine.json`` or create a preset machine persisted there."""
        if (Path(state_dir) / "machine.json").exists():
            return cls.load(state_dir)
        machine = PRESETS[preset](computer_name)
        machine.state_dir = str(state_dir)
        machine.sandbox_dir = str(Path(state_dir) / "C")
        machine.save(state_dir)
        return machine


GPO_WINRM_SERVICE = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service"
#: The volatile key LogonUI creates when it is about to show the logon screen after a boot (what
#: ansible.windows' win_reboot waits for, plugin_utils/_reboot.py _LOGON_UI_KEY).
AUTOLOGON_CHECKED_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\AutoLogonChecked"
LOCAL_ACCOUNT_TOKEN_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"


def normalize_registry_path(path: str) -> str:
    """``HKEY_LOCAL_MACHINE\\X``, ``Registry::HKLM\\X``, ``HKLM:/X/`` -> ``HKLM:\\X``."""
    p = path.replace("/", "\\").strip()
    if p.lower().startswith("registry::"):
        p = p[len("registry::") :]
    hives = {
        "hkey_local_machine": "HKLM:",
        "hklm": "HKLM:",
        "hklm:": "HKLM:",
        "hkey_current_user": "HKCU:",
        "hkcu": "HKCU:",
        "hkcu:": "HKCU:",
    }
    head, _, rest = p.partition("\\")
    hive = hives.get(head.lower(), head)
    rest = "\\".join(part for part in rest.split("\\") if part)
    return f"{hive}\\{rest}" if rest else f"{hive}\\"


# --------------------------------------------------------------------------------------------
# JSON (de)serialization of the dataclass tree


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, CIDict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def _load(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: _load(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data and f.init
        }
        return tp(**kwargs)
    if origin is CIDict:
        return CIDict({k: _load(args[0], v) for k, v in data.items()})
    if origin is dict:
        return {k: _load(args[1], v) for k, v in data.items()}
    if origin is list:
        return [_load(args[0], v) for v in data]
    return data


# --------------------------------------------------------------------------------------------
# Presets


def _services() -> list[Service]:
    """A dozen services a Windows Server 2022 host has, with their documented display names."""
    return [
        Service("W32Time", "Windows Time", "Running", "Automatic", "Win32ShareProcess"),
        Service(
            "WinRM",
            "Windows Remote Management (WS-Management)",
            "Running",
            "Automatic",
            "Win32ShareProcess",
            depends_on=["RPCSS", "HTTP"],
        ),
        Service(
            "RpcSs",
            "Remote Procedure Call (RPC)",
            "Running",
            "Automatic",
            "Win32ShareProcess",
            can_stop=False,
        ),
        Service("HTTP", "HTTP Service", "Running", "Manual", "KernelDriver"),
        Service("Dnscache", "DNS Client", "Running", "Automatic", "Win32ShareProcess", can_stop=False),
        Service("EventLog", "Windows Event Log", "Running", "Automatic", "Win32ShareProcess", can_stop=False),
        Service(
            "LanmanServer", "Server", "Running", "Automatic", "Win32ShareProcess", can_pause_and_continue=True
        ),
        Service("LanmanWorkstation", "Workstation", "Running", "Automatic", "Win32ShareProcess"),
        Service(
            "mpssvc", "Windows Defender Firewall", "Running", "Automatic", "Win32ShareProcess", can_stop=False
        ),
        Service("Schedule", "Task Scheduler", "Running", "Automatic", "Win32ShareProcess", can_stop=False),
        Service("Spooler", "Print Spooler", "Running", "Automatic", "Win32OwnProcess"),
        Service("wuauserv", "Windows Update", "Stopped", "Manual", "Win32ShareProcess"),
        Service("TermService", "Remote Desktop Services", "Running", "Manual", "Win32ShareProcess"),
        Service("BITS", "Background Intelligent Transfer Service", "Stopped", "Manual", "Win32ShareProcess"),
        Service("CertPropSvc", "Certificate Propagation", "Stopped", "Manual", "Win32ShareProcess"),
        Service("sshd", "OpenSSH SSH Server", "Stopped", "Manual", "Win32OwnProcess"),
    ]


def _processes() -> list[Process]:
    names = [
        (4, "System"),
        (88, "Registry"),
        (312, "smss"),
        (412, "csrss"),
        (508, "wininit"),
        (640, "services"),
        (652, "lsass"),
        (788, "svchost"),
        (1204, "svchost"),
        (1888, "spoolsv"),
        (2240, "explorer"),
        (3120, "WmiPrvSE"),
    ]
    return [Process(pid, name, path=f"C:\\Windows\\System32\\{name}.exe") for pid, name in names]


def fresh(computer_name: str = "WINHOST") -> Machine:
    """A Windows Server 2022 host as installed: WinRM running with one HTTP listener."""
    m = Machine(computer_name=computer_name.upper())
    m.wsman.listeners.append(Listener(address="*", transport="HTTP", port=5985))
    for svc in _services():
        m.services[svc.name] = svc
    m.processes = _processes()
    m.accounts["Administrator"] = Account(
        "Administrator",
        "Winhost!Passw0rd",
        groups=["Administrators", "Users"],
        sid="S-1-5-21-1004336348-1177238915-682003330-500",
    )
    m.firewall.rules = [
        FirewallRule(
            "WINRM-HTTP-In-TCP",
            "Windows Remote Management (HTTP-In)",
            profiles=["Domain", "Private"],
            local_ports=["5985"],
            group="Windows Remote Management",
            description="Inbound rule for Windows Remote Management via WS-Management. [TCP 5985]",
        ),
        FirewallRule(
            "WINRM-HTTP-In-TCP-PUBLIC",
            "Windows Remote Management (HTTP-In)",
            profiles=["Public"],
            local_ports=["5985"],
            remote_addresses=["LocalSubnet"],
            group="Windows Remote Management",
            description="Inbound rule for Windows Remote Management via WS-Management. [TCP 5985]",
        ),
    ]
    for name in (
        "microsoft.powershell",
        "microsoft.powershell.workflow",
        "microsoft.powershell32",
        "microsoft.windows.servermanagerworkflows",
    ):
        sc = SessionConfiguration(name)
        if name == "microsoft.powershell32":
            sc.architecture = "32"
        if name == "microsoft.windows.servermanagerworkflows":
            sc.permission = "NT AUTHORITY\\INTERACTIVE AccessAllowed, BUILTIN\\Administrators AccessAllowed"
        m.session_configurations[name] = sc
    m.registry[LOCAL_ACCOUNT_TOKEN_KEY] = CIDict(
        {"EnableLUA": RegistryValue(1), "ConsentPromptBehaviorAdmin": RegistryValue(5)}
    )
    m.registry["HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"] = CIDict(
        {
            "ProductName": RegistryValue("Windows Server 2022 Datacenter", "String"),
            "CurrentBuild": RegistryValue("20348", "String"),
            "EditionID": RegistryValue("ServerDatacenter", "String"),
        }
    )
    m.registry["HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows"] = CIDict()
    m.registry[AUTOLOGON_CHECKED_KEY] = CIDict()
    m.environment = CIDict(
        {
            "COMPUTERNAME": m.computer_name,
            "OS": "Windows_NT",
            "SystemRoot": "C:\\Windows",
            "windir": "C:\\Windows",
            "SystemDrive": "C:",
            "ProgramFiles": "C:\\Program Files",
            "ProgramData": "C:\\ProgramData",
            "PROCESSOR_ARCHITECTURE": "AMD64",
            "NUMBER_OF_PROCESSORS": "2",
            "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
            "Path": "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;"
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\",
            "PSModulePath": "C:\\Program Files\\WindowsPowerShell\\Modules;"
            "C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules",
        }
    )
    return m


def configured(computer_name: str = "WINHOST") -> Machine:
    """A host prepared for Ansible: HTTPS listener too, Basic + CredSSP allowed, vagrant user,
    firewall open for 5985/5986 on all profiles, LocalAccountTokenFilterPolicy=1."""
    m = fresh(computer_name)
    cert_pem, key_pem = generate_self_signed([m.computer_name.lower(), "localhost"], preset=True)
    cert = StoredCertificate(thumbprint_of(load_pem(cert_pem)), cert_pem, key_pem)
    m.cert_store[cert.thumbprint] = cert
    m.wsman.listeners.append(
        Listener(
            address="*",
            transport="HTTPS",
            port=5986,
            hostname=m.computer_name.lower(),
            certificate_thumbprint=cert.thumbprint,
        )
    )
    m.wsman.service.auth.basic = True
    m.wsman.service.auth.credssp = True
    m.credssp_server = True
    m.accounts["vagrant"] = Account(
        "vagrant",
        "vagrant",
        groups=["Administrators", "Users"],
        sid="S-1-5-21-1004336348-1177238915-682003330-1000",
    )
    m.firewall.rules.append(
        FirewallRule(
            "WINRM-HTTPS-In-TCP",
            "Windows Remote Management (HTTPS-In)",
            profiles=["Any"],
            local_ports=["5986"],
            group="Windows Remote Management",
        )
    )
    m.firewall.network_category = "Private"
    m.registry[LOCAL_ACCOUNT_TOKEN_KEY]["LocalAccountTokenFilterPolicy"] = RegistryValue(1)
    return m


PRESETS: dict[str, Callable[[str], Machine]] = {"fresh": fresh, "configured": configured}
