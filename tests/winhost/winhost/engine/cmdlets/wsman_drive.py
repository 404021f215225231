"""The WSMan: drive and Get/Set/New/Remove-WSManInstance against the model's WSMan configuration.

Layout and item types follow about_WSMan_Provider
(https://learn.microsoft.com/en-us/powershell/module/microsoft.wsman.management/about/about_wsman_provider):
leaves are ``Microsoft.WSMan.Management.WSManConfigLeafElement`` (Name, Value as a string,
TypeNameOfElement, SourceOfValue), containers ``Microsoft.WSMan.Management.WSManConfigContainerElement``
(Name, Keys, TypeNameOfElement "Container"). Group Policy locks follow the WinRM policy values of
"Policy CSP - RemoteManagement"
(https://learn.microsoft.com/en-us/windows/client-management/mdm/policy-csp-remotemanagement), stored
under HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine.cmdlets import wsman_values
from winhost.engine.cmdlets.items import ItemNotFound, Provider, register_provider
from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import not_emulated
from winhost.engine.model import GPO_WINRM_SERVICE, TOPIC_LISTENERS, TOPIC_WSMAN, Listener, Machine
from winhost.engine.values import as_list, new_object, to_bool, to_string
from winhost.wsman.faults import ERROR_WSMAN_RESOURCE_NOT_FOUND
from winhost.wsman.namespaces import NS_FAULT

WSMAN_MODULE = "Microsoft.WSMan.Management"
# WinRM's text for 0x80338000 (ERROR_WSMAN_RESOURCE_NOT_FOUND) on a Get/Put/Delete of a listener
# that the selectors do not name (`winrm get winrm/config/Listener?Address=*+Transport=HTTPS`).
_RESOURCE_NOT_FOUND = (
    "The WS-Management service cannot process the request. The service cannot find the resource "
    "identified by the resource URI and selectors."
)


@dataclasses.dataclass
class Leaf:
    name: str
    attr: str  # dotted attribute path from machine.wsman, or "" for computed
    kind: str = "bool"  # bool | int | str
    gpo: str = ""  # policy value name that locks it
    gpo_invert: bool = False
    getter: Callable[[Machine], Any] | None = None

    def read(self, machine: Machine) -> Any:
        if self.getter is not None:
            return self.getter(machine)
        obj: Any = machine.wsman
        for part in self.attr.split("."):
            obj = getattr(obj, part)
        return obj

    def write(self, machine: Machine, value: Any) -> None:
        parts = self.attr.split(".")
        obj: Any = machine.wsman
        for part in parts[:-1]:
            obj = getattr(obj, part)
        setattr(obj, parts[-1], value)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return to_string(value)


TREE: dict[str, list[Leaf]] = {
    "": [
        Leaf("MaxEnvelopeSizekb", "max_envelope_size_kb", "int"),
        Leaf("MaxTimeoutms", "max_timeout_ms", "int"),
        Leaf("MaxBatchItems", "max_batch_items", "int"),
        Leaf("MaxProviderRequests", "max_provider_requests", "int"),
    ],
    "client": [
        Leaf("NetworkDelayms", "client.network_delayms", "int"),
        Leaf("URLPrefix", "client.url_prefix", "str"),
        Leaf("AllowUnencrypted", "client.allow_unencrypted"),
        Leaf("TrustedHosts", "client.trusted_hosts", "str"),
    ],
    "client\\auth": [
        Leaf("Basic", "client.auth.basic"),
        Leaf("Digest", "client.auth.digest"),
        Leaf("Kerberos", "client.auth.kerberos"),
        Leaf("Negotiate", "client.auth.negotiate"),
        Leaf("Certificate", "client.auth.certificate"),
        Leaf("CredSSP", "client.auth.credssp"),
    ],
    "client\\defaultports": [
        Leaf("HTTP", "", "int", getter=lambda m: 5985),
        Leaf("HTTPS", "", "int", getter=lambda m: 5986),
    ],
    "service": [
        Leaf("RootSDDL", "service.root_sddl", "str"),
        Leaf("MaxConcurrentOperations", "", "int", getter=lambda m: 4294967295),
        Leaf("MaxConcurrentOperationsPerUser", "service.max_concurrent_operations_per_user", "int"),
        Leaf("EnumerationTimeoutms", "service.enumeration_timeout_ms", "int"),
        Leaf("MaxConnections", "service.max_connections", "int"),
        Leaf("MaxPacketRetrievalTimeSeconds", "service.max_packet_retrieval_time_seconds", "int"),
        Leaf("AllowUnencrypted", "service.allow_unencrypted", gpo="AllowUnencryptedTraffic"),
        Leaf("IPv4Filter", "service.ipv4_filter", "str", gpo="IPv4Filter"),
        Leaf("IPv6Filter", "service.ipv6_filter", "str", gpo="IPv6Filter"),
        Leaf("EnableCompatibilityHttpListener", "service.enable_compatibility_http_listener"),
        Leaf("EnableCompatibilityHttpsListener", "service.enable_compatibility_https_listener"),
        Leaf("CertificateThumbprint", "", "str", getter=lambda m: ""),
        Leaf("AllowRemoteAccess", "service.allow_remote_access"),
    ],
    "service\\auth": [
        Leaf("Basic", "service.auth.basic", gpo="AllowBasic"),
        Leaf("Kerberos", "service.auth.kerberos", gpo="DisallowKerberos", gpo_invert=True),
        Leaf("Negotiate", "service.auth.negotiate"),
        Leaf("Certificate", "service.auth.certificate"),
        Leaf("CredSSP", "service.auth.credssp", gpo="AllowCredSSP"),
        Leaf("CbtHardeningLevel", "service.auth.cbt_hardening_level", "str", gpo="CbtHardeningLevel"),
    ],
    "service\\defaultports": [
        Leaf("HTTP", "", "int", getter=lambda m: 5985),
        Leaf("HTTPS", "", "int", getter=lambda m: 5986),
    ],
    "shell": [
        Leaf("AllowRemoteShellAccess", "shell.allow_remote_shell_access"),
        Leaf("IdleTimeout", "service.idle_timeout_ms", "int"),
        Leaf("MaxConcurrentUsers", "shell.max_concurrent_users", "int"),
        Leaf("MaxShellRunTime", "shell.max_shell_run_time", "int"),
        Leaf("MaxProcessesPerShell", "shell.max_processes_per_shell", "int"),
        Leaf("MaxMemoryPerShellMB", "shell.max_memory_per_shell_mb", "int"),
        Leaf("MaxShellsPerUser", "service.max_shells_per_user", "int"),
    ],
}
CONTAINERS: dict[str, list[str]] = {
    "": ["Client", "Service", "Shell", "Listener", "Plugin", "ClientCertificate"],
    "client": ["Auth", "DefaultPorts"],
    "service": ["Auth", "DefaultPorts"],
}
_CBT_VALUES = ("None", "Relaxed", "Strict")


def gpo_value(machine: Machine, leaf: Leaf) -> Any:
    """The effective policy value for a leaf, or None when no policy configures it."""
    if not leaf.gpo:
        return None
    raw = machine.gpo_wsman_service_value(leaf.gpo)
    if raw is None:
        return None
    if leaf.kind == "bool":
        value = bool(int(raw)) if not isinstance(raw, str) else raw.lower() in ("1", "true")
        return (not value) if leaf.gpo_invert else value
    return to_string(raw)


def apply_policies(machine: Machine) -> None:
    """Make policy values effective in the model (called after the policy registry key changes)."""
    changed = False
    with machine.lock:
        for leaves in TREE.values():
            for leaf in leaves:
                value = gpo_value(machine, leaf)
                if value is not None and leaf.read(machine) != value:
                    leaf.write(machine, value)
                    changed = True
    if changed:
        machine.notify(TOPIC_WSMAN)


def _convert(leaf: Leaf, value: Any, path: str) -> Any:
    if leaf.kind == "bool":
        if isinstance(value, str):
            low = value.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(
                    f"The parameter is incorrect. Value '{value}' for {leaf.name} is not a boolean."
                )
            return low == "true"
        return to_bool(value)
    if leaf.kind == "int":
        try:
            return int(to_string(value))
        except ValueError as exc:
            raise ValueError(
                f"The parameter is incorrect. Value '{value}' for {leaf.name} is not a number."
            ) from exc
    text = to_string(value)
    if leaf.name == "CbtHardeningLevel":
        match = next((v for v in _CBT_VALUES if v.lower() == text.lower()), None)
        if match is None:
            raise ValueError("The parameter is incorrect. CbtHardeningLevel must be None, Relaxed or Strict.")
        return match
    return text


def _leaf_item(machine: Machine, container: str, leaf: Leaf, value: Any | None = None) -> Any:
    source = "GPO" if gpo_value(machine, leaf) is not None else ""
    return new_object(
        [
            "Microsoft.WSMan.Management.WSManConfigLeafElement",
            "Microsoft.WSMan.Management.WSManConfigElement",
            "System.Object",
        ],
        {
            "WSManConfig": f"{WSMAN_MODULE}\\WSMan::{container}",
            "Value": _fmt(leaf.read(machine) if value is None else value),
            "TypeNameOfElement": "System.String",
            "SourceOfValue": source,
            "Type": "System.String",
            "Name": leaf.name,
        },
        to_string_value="Microsoft.WSMan.Management.WSManConfigLeafElement",
    )


def _container_item(parent: str, name: str, keys: list[str] | None = None) -> Any:
    return new_object(
        [
            "Microsoft.WSMan.Management.WSManConfigContainerElement",
            "Microsoft.WSMan.Management.WSManConfigElement",
            "System.Object",
        ],
        {
            "WSManConfig": f"{WSMAN_MODULE}\\WSMan::{parent}",
            "Keys": keys or [],
            "Name": name,
            "TypeNameOfElement": "Container",
        },
        to_string_value="Microsoft.WSMan.Management.WSManConfigContainerElement",
    )


def _listener_leaves(listener: Listener) -> list[tuple[str, Any]]:
    values: list[tuple[str, Any]] = [
        ("Address", listener.address),
        ("Transport", listener.transport),
        ("Port", listener.port),
        ("Hostname", listener.hostname),
        ("Enabled", listener.enabled),
        ("URLPrefix", listener.url_prefix),
        ("CertificateThumbprint", listener.certificate_thumbprint),
    ]
    for i, addr in enumerate(listener.listening_on):
        values.append((f"ListeningOn_{1000000 + i * 7919}", addr))
    return values


_LISTENER_SETTABLE = {
    "port": ("port", "int"),
    "hostname": ("hostname", "str"),
    "enabled": ("enabled", "bool"),
    "urlprefix": ("url_prefix", "str"),
    "certificatethumbprint": ("certificate_thumbprint", "str"),
}


#: The WSMan client's message for a destination without a running WinRM service (0x80338012).
WINRM_NOT_RUNNING = (
    "The client cannot connect to the destination specified in the request. Verify that the service on the "
    "destination is running and is accepting requests. Consult the logs and documentation for the "
    "WS-Management service running on the destination, most commonly IIS or WinRM. If the destination is the "
    "WinRM service, run the following command on the destination to analyze and configure the WinRM service: "
    '"winrm quickconfig".'
)


class WSManProvider(Provider):
    name = "WSMan"
    module = WSMAN_MODULE
    drives = ("WSMan",)

    def _split(self, call: CommandCall, path: str) -> list[str]:
        """The path below ``localhost``. Anything below the drive's root is read from the local
        WinRM service, so it fails as the WSMan client does while the service is stopped
        (WSManFault 0x80338012, as ``winrm get winrm/config`` prints it)."""
        rest = self.provider_path(path)
        parts = [p for p in rest.split("\\") if p]
        if parts and parts[0].lower() not in ("localhost", "."):
            raise not_emulated("the WSMan: drive of a remote computer")
        if parts and not call.ctx.machine.winrm_running:
            # WSManHelper.AssertError: a terminating "WsManError" (InvalidOperationException)
            raise call.fail(WINRM_NOT_RUNNING, "WsManError", ErrorCategory.InvalidOperation)
        return parts[1:] if parts else []

    def _is_root(self, path: str) -> bool:
        return not [p for p in self.provider_path(path).split("\\") if p]

    def _listener(self, machine: Machine, name: str) -> Listener:
        for listener in machine.wsman.listeners:
            if listener.name.lower() == name.lower():
                return listener
        raise ItemNotFound(name)

    def is_container(self, call: CommandCall, path: str) -> bool:
        if self._is_root(path):
            return True
        parts = self._split(call, path)
        key = "\\".join(parts).lower()
        if key in TREE or key in ("listener", "plugin", "clientcertificate"):
            return True
        return bool(len(parts) == 2 and parts[0].lower() in ("listener", "plugin"))

    def get_item(self, call: CommandCall, path: str) -> Any:
        machine = call.ctx.machine
        if self._is_root(path):
            return _container_item("", "localhost")
        parts = self._split(call, path)
        if not parts:
            return _container_item("", "localhost")
        key = "\\".join(parts).lower()
        parent_display = "localhost" + ("\\" + "\\".join(parts[:-1]) if len(parts) > 1 else "")
        if key in TREE or key in ("listener", "plugin", "clientcertificate"):
            return _container_item(parent_display, _canonical(parts[-1]))
        if parts[0].lower() == "listener" and len(parts) >= 2:
            listener = self._listener(machine, parts[1])
            if len(parts) == 2:
                return _container_item("localhost\\Listener", listener.name, listener.keys)
            for name, value in _listener_leaves(listener):
                if name.lower() == parts[2].lower() and len(parts) == 3:
                    return self._listener_leaf(listener, name, value)
            raise ItemNotFound(path)
        if parts[0].lower() == "plugin" and len(parts) == 2:
            sc = machine.session_configurations.get(parts[1])
            if sc is None:
                raise ItemNotFound(path)
            return _container_item("localhost\\Plugin", sc.name, [f"Name={sc.name}"])
        container = "\\".join(parts[:-1]).lower()
        for leaf in TREE.get(container, []):
            if leaf.name.lower() == parts[-1].lower():
                return _leaf_item(machine, parent_display, leaf)
        raise ItemNotFound(path)

    def _listener_leaf(self, listener: Listener, name: str, value: Any) -> Any:
        return new_object(
            [
                "Microsoft.WSMan.Management.WSManConfigLeafElement",
                "Microsoft.WSMan.Management.WSManConfigElement",
                "System.Object",
            ],
            {
                "WSManConfig": f"{WSMAN_MODULE}\\WSMan::localhost\\Listener\\{listener.name}",
                "Value": _fmt(value),
                "TypeNameOfElement": "System.String",
                "SourceOfValue": "",
                "Type": "System.String",
                "Name": name,
            },
            to_string_value="Microsoft.WSMan.Management.WSManConfigLeafElement",
        )

    def child_items(self, call: CommandCall, path: str, recurse: bool) -> list[Any]:
        machine = call.ctx.machine
        if self._is_root(path):
            return [self.decorate(_container_item("", "localhost"), "WSMan:\\localhost", True, "WSMan")]
        parts = self._split(call, path)
        key = "\\".join(parts).lower()
        display = "localhost" + ("\\" + "\\".join(_canonical(p) for p in parts) if parts else "")
        base = "WSMan:\\" + display
        if key in TREE or key in CONTAINERS:
            return self._tree_children(call, key, display, base, recurse)
        if key == "listener":
            with machine.lock:
                listeners = [(listener.name, listener.keys) for listener in machine.wsman.listeners]
            return self._containers(display, base, listeners)
        if key == "plugin":
            configs = [(sc.name, [f"Name={sc.name}"]) for sc in machine.session_configurations.values()]
            return self._containers(display, base, configs)
        if key == "clientcertificate":
            return []
        if parts and parts[0].lower() == "listener" and len(parts) == 2:
            listener = self._listener(machine, parts[1])
            return [
                self.decorate(self._listener_leaf(listener, n, v), f"{base}\\{n}", False, "WSMan")
                for n, v in _listener_leaves(listener)
            ]
        if parts and parts[0].lower() == "plugin" and len(parts) == 2:
            raise not_emulated("the session configuration plugin tree under WSMan:\\localhost\\Plugin")
        raise ItemNotFound(path)

    def _tree_children(
        self, call: CommandCall, key: str, display: str, base: str, recurse: bool
    ) -> list[Any]:
        """The settings and containers of a fixed part of the tree (Service, Client, Shell...)."""
        machine = call.ctx.machine
        out = [
            self.decorate(_leaf_item(machine, display, leaf), f"{base}\\{leaf.name}", False, "WSMan")
            for leaf in TREE.get(key, [])
        ]
        for name in CONTAINERS.get(key, []):
            out.append(self.decorate(_container_item(display, name), f"{base}\\{name}", True, "WSMan"))
            if recurse:
                out.extend(self.child_items(call, f"{base}\\{name}", True))
        return out

    def _containers(self, display: str, base: str, items: list[tuple[str, list[str]]]) -> list[Any]:
        """Named containers (listeners, plugins) with their keys."""
        return [
            self.decorate(_container_item(display, name, keys), f"{base}\\{name}", True, "WSMan")
            for name, keys in items
        ]

    def set_item(self, call: CommandCall, path: str, value: Any) -> None:
        machine = call.ctx.machine
        parts = self._split(call, path)
        if parts and parts[0].lower() == "listener" and len(parts) == 3:
            listener = self._listener(machine, parts[1])
            attr = _LISTENER_SETTABLE.get(parts[2].lower())
            if attr is None:
                raise call.fail(
                    f"The WS-Management service cannot process the request. {parts[2]} cannot be "
                    "changed for an existing listener.",
                    "WsManError",
                    ErrorCategory.InvalidOperation,
                )
            kind = attr[1]
            conv = (
                to_bool(value)
                if kind == "bool" and not isinstance(value, str)
                else (
                    to_string(value).lower() == "true"
                    if kind == "bool"
                    else (int(to_string(value)) if kind == "int" else to_string(value))
                )
            )
            if attr[0] == "certificate_thumbprint":
                _check_thumbprint(call, to_string(conv))
            with machine.lock:
                setattr(listener, attr[0], conv)
            machine.notify(TOPIC_LISTENERS)
            return
        container = "\\".join(parts[:-1]).lower()
        leaf = next(
            (lf for lf in TREE.get(container, []) if parts and lf.name.lower() == parts[-1].lower()), None
        )
        if leaf is None:
            if self.exists(call, path):
                raise call.fail(
                    "Cannot set the value of a WSMan: container.",
                    "SetItemNotSupported",
                    ErrorCategory.InvalidOperation,
                )
            raise ItemNotFound(path)
        if not leaf.attr:
            raise call.fail(
                f"The WS-Management service cannot process the request. {leaf.name} is read-only.",
                "WsManError",
                ErrorCategory.InvalidOperation,
            )
        if gpo_value(machine, leaf) is not None:
            raise call.fail(
                f"The config setting {leaf.name} cannot be changed because is controlled by policies.  The policy "
                'would need to be set to "Not Configured" in order to change the config setting. ',
                "System.InvalidOperationException",
                ErrorCategory.InvalidOperation,
                exception_type="System.InvalidOperationException",
            )
        if leaf.name == "TrustedHosts" and not call.switch("Force") and False:
            return
        _refuse_value(call, container, leaf.name, value)
        try:
            converted = _convert(leaf, value, path)
        except ValueError as exc:
            raise call.fail(
                str(exc),
                "System.InvalidOperationException",
                ErrorCategory.InvalidOperation,
                exception_type="System.InvalidOperationException",
            ) from exc
        with machine.lock:
            leaf.write(machine, converted)
        machine.notify(TOPIC_WSMAN)

    def new_item(self, call: CommandCall, path: str, item_type: str | None, value: Any) -> Any:
        parts = self._split(call, path)
        if [p.lower() for p in parts[:1]] != ["listener"] or len(parts) > 2:
            raise not_emulated("New-Item on WSMan: outside WSMan:\\localhost\\Listener")
        values = {
            "HostName": call.get("HostName"),
            "CertificateThumbPrint": call.get("CertificateThumbPrint"),
            "Port": call.get("Port"),
            "URLPrefix": call.get("URLPrefix"),
            "Enabled": call.get("Enabled"),
        }
        listener = create_listener(
            call,
            to_string(call.get("Address") or ""),
            to_string(call.get("Transport") or ""),
            {k: v for k, v in values.items() if v is not None},
        )
        return _container_item("localhost\\Listener", listener.name, listener.keys)

    def remove_item(self, call: CommandCall, path: str, recurse: bool) -> None:
        machine = call.ctx.machine
        parts = self._split(call, path)
        if len(parts) == 2 and parts[0].lower() == "listener":
            listener = self._listener(machine, parts[1])
            with machine.lock:
                machine.wsman.listeners.remove(listener)
            machine.notify(TOPIC_LISTENERS)
            return
        raise not_emulated("Remove-Item on WSMan: outside WSMan:\\localhost\\Listener\\<listener>")


def _refuse_value(call: CommandCall, container: str, name: str, value: Any) -> None:
    """The WinRM service's refusal of a numeric setting's value (``wsman_values``), as PowerShell's
    WSMan provider reports a failed Put: a terminating InvalidOperationException, id WsManError."""
    refused = wsman_values.refusal(container, name, value)
    if refused is not None:
        raise call.fail(refused[1], "WsManError", ErrorCategory.InvalidOperation)


def _canonical(name: str) -> str:
    for names in CONTAINERS.values():
        for n in names:
            if n.lower() == name.lower():
                return n
    return name


def _check_thumbprint(call: CommandCall, thumbprint: str) -> None:
    if not thumbprint:
        return
    stored = call.ctx.machine.cert_store.get(thumbprint.upper().replace(" ", ""))
    if stored is None or stored.store.lower() != "my":
        raise call.fail(
            "The WS-Management service cannot find the certificate that was requested.",
            "WsManError",
            ErrorCategory.InvalidOperation,
            exception_type="System.InvalidOperationException",
        )
    if not stored.has_private_key:
        raise call.fail(
            "The WS-Management service cannot process the request because the certificate does not "
            "have a private key.",
            "WsManError",
            ErrorCategory.InvalidOperation,
            exception_type="System.InvalidOperationException",
        )


def create_listener(call: CommandCall, address: str, transport: str, values: dict[str, Any]) -> Listener:
    """Create a listener (New-Item WSMan:\\localhost\\Listener / New-WSManInstance winrm/config/Listener)."""
    machine = call.ctx.machine
    transport = transport.upper()
    if transport not in ("HTTP", "HTTPS"):
        raise call.fail(
            "The WS-Management service cannot process the request. The Transport selector must be HTTP or "
            "HTTPS.",
            "WsManError",
            ErrorCategory.InvalidArgument,
            exception_type="System.InvalidOperationException",
        )
    if not address:
        raise call.fail(
            "The WS-Management service cannot process the request. The Address selector is missing.",
            "WsManError",
            ErrorCategory.InvalidArgument,
            exception_type="System.InvalidOperationException",
        )
    low = {k.lower(): v for k, v in values.items()}
    thumb = to_string(low.get("certificatethumbprint") or "").replace(" ", "").upper()
    if transport == "HTTPS":
        if not thumb:
            raise call.fail(
                "The WS-Management service cannot process the request because the HTTPS listener "
                "requires a CertificateThumbprint.",
                "WsManError",
                ErrorCategory.InvalidArgument,
                exception_type="System.InvalidOperationException",
            )
        _check_thumbprint(call, thumb)
    with machine.lock:
        if machine.wsman.find_listener(address, transport) is not None:
            raise call.fail(
                "The WS-Management service cannot create the resource because it already exists.",
                "WsManError",
                ErrorCategory.ResourceExists,
                exception_type="System.InvalidOperationException",
            )
        enabled = low.get("enabled")
        listener = Listener(
            address=address,
            transport=transport,
            port=int(to_string(low["port"])) if low.get("port") else (5986 if transport == "HTTPS" else 5985),
            hostname=to_string(low.get("hostname") or ""),
            enabled=True
            if enabled is None
            else (to_string(enabled).lower() == "true" if isinstance(enabled, str) else to_bool(enabled)),
            url_prefix=to_string(low.get("urlprefix") or "wsman"),
            certificate_thumbprint=thumb,
        )
        machine.wsman.listeners.append(listener)
    machine.notify(TOPIC_LISTENERS)
    return listener


register_provider(WSManProvider())


# -- WSManInstance ----------------------------------------------------------------------------------

_CONFIG_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"
_RESOURCES = {
    "winrm/config": "",
    "winrm/config/service": "service",
    "winrm/config/service/auth": "service\\auth",
    "winrm/config/client": "client",
    "winrm/config/client/auth": "client\\auth",
    "winrm/config/winrs": "shell",
    "winrm/config/listener": "listener",
}


def _resource(call: CommandCall) -> str:
    uri = (call.string("ResourceURI") or "").strip().lower().rstrip("/")
    if uri.startswith(_CONFIG_URI):
        uri = "winrm/config" + uri[len(_CONFIG_URI) :]
    if uri not in _RESOURCES:
        raise not_emulated(f"the WSMan resource {call.string('ResourceURI')}")
    return _RESOURCES[uri]


def _selectors(call: CommandCall) -> dict[str, str]:
    raw = call.get("SelectorSet") or {}
    if not isinstance(raw, dict):
        raise not_emulated("SelectorSet that is not a hashtable")
    return {str(k).lower(): to_string(v) for k, v in raw.items()}


def _listener_xml(listener: Listener) -> Any:
    return new_object(
        ["System.Xml.XmlElement", "System.Xml.XmlLinkedNode", "System.Xml.XmlNode", "System.Object"],
        {
            "cfg": f"{_CONFIG_URI}/listener",
            "xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "lang": "en-US",
            "Address": listener.address,
            "Transport": listener.transport,
            "Port": str(listener.port),
            "Hostname": listener.hostname,
            "Enabled": _fmt(listener.enabled),
            "URLPrefix": listener.url_prefix,
            "CertificateThumbprint": listener.certificate_thumbprint,
            "ListeningOn": list(listener.listening_on),
        },
        to_string_value="Listener",
    )


def _config_xml(machine: Machine, key: str) -> Any:
    props: dict[str, Any] = {
        "cfg": f"{_CONFIG_URI}/{key.replace(chr(92), '/').replace('shell', 'winrs')}",
        "lang": "en-US",
    }
    for leaf in TREE.get(key, []):
        props[leaf.name] = _fmt(leaf.read(machine))
    if key in {"service\\auth", "client\\auth"}:
        pass
    name = {
        "": "Config",
        "service": "Service",
        "service\\auth": "Auth",
        "client": "Client",
        "client\\auth": "Auth",
        "shell": "Winrs",
    }[key]
    return new_object(
        ["System.Xml.XmlElement", "System.Xml.XmlLinkedNode", "System.Xml.XmlNode", "System.Object"],
        props,
        to_string_value=name,
    )


_WSMAN_PARAMS = [
    Param("ResourceURI", position=0),
    Param("SelectorSet", position=1),
    Param("ValueSet"),
    Param("ComputerName"),
    Param("Enumerate", switch=True),
    Param("Fragment"),
    Param("Authentication"),
    Param("Credential"),
    Param("Port"),
    Param("UseSSL", switch=True),
    Param("SessionOption"),
    Param("FilePath"),
    Param("ApplicationName"),
    Param("ConnectionURI"),
    Param("OptionSet"),
]


def _local_only(call: CommandCall) -> None:
    name = call.string("ComputerName")
    if name and name.lower() not in ("localhost", ".", "127.0.0.1", call.ctx.machine.computer_name.lower()):
        raise not_emulated("WSManInstance cmdlets against another computer")


def _find_listener(call: CommandCall) -> Listener:
    """The listener the SelectorSet names. A missing one is a TERMINATING error, as on Windows:
    the WSManInstance cmdlets report WinRM's fault through ``WSManHelper.AssertError``, which calls
    ``ThrowTerminatingError`` with an InvalidOperationException whose message is the WSManFault XML
    (PowerShell src/Microsoft.WSMan.Management/WsManHelper.cs), so ``-ErrorAction SilentlyContinue``
    does not suppress it (about_CommonParameters: -ErrorAction applies to non-terminating errors)."""
    sel = _selectors(call)
    machine = call.ctx.machine
    listener = machine.wsman.find_listener(sel.get("address", ""), sel.get("transport", ""))
    if listener is None:
        raise call.fail(
            f'<f:WSManFault xmlns:f="{NS_FAULT}" Code="{ERROR_WSMAN_RESOURCE_NOT_FOUND}" '
            f'Machine="localhost"><f:Message>{_RESOURCE_NOT_FOUND} </f:Message></f:WSManFault>',
            "WsManError",
            ErrorCategory.InvalidOperation,
            target=call.string("ResourceURI"),
            exception_type="System.InvalidOperationException",
        )
    return listener


@cmdlet("Get-WSManInstance", _WSMAN_PARAMS, module=WSMAN_MODULE)
def get_wsman_instance(call: CommandCall) -> Iterator[Any]:
    _local_only(call)
    key = _resource(call)
    machine = call.ctx.machine
    if key == "listener":
        if call.switch("Enumerate"):
            with machine.lock:
                listeners = list(machine.wsman.listeners)
            yield from (_listener_xml(lst) for lst in listeners)
            return
        yield _listener_xml(_find_listener(call))
        return
    yield _config_xml(machine, key)


@cmdlet("New-WSManInstance", _WSMAN_PARAMS, module=WSMAN_MODULE)
def new_wsman_instance(call: CommandCall) -> Iterator[Any]:
    _local_only(call)
    if _resource(call) != "listener":
        raise not_emulated("New-WSManInstance for resources other than winrm/config/Listener")
    sel = _selectors(call)
    values = call.get("ValueSet") or {}
    listener = create_listener(
        call, sel.get("address", ""), sel.get("transport", ""), {str(k): v for k, v in values.items()}
    )
    yield new_object(
        ["System.Xml.XmlElement", "System.Object"],
        {
            "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
            "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
            "lang": "en-US",
            "Address": "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
            "ReferenceParameters": f"ResourceURI={_CONFIG_URI}/listener; "
            f"Address={listener.address}; Transport={listener.transport}",
        },
        to_string_value="ResourceCreated",
    )


@cmdlet("Set-WSManInstance", _WSMAN_PARAMS, module=WSMAN_MODULE)
def set_wsman_instance(call: CommandCall) -> Iterator[Any]:
    _local_only(call)
    key = _resource(call)
    machine = call.ctx.machine
    values = {str(k): v for k, v in (call.get("ValueSet") or {}).items()}
    provider = WSManProvider()
    if key == "listener":
        listener = _find_listener(call)
        for name, value in values.items():
            provider.set_item(call, f"WSMan:\\localhost\\Listener\\{listener.name}\\{name}", value)
        yield _listener_xml(listener)
        return
    base = "WSMan:\\localhost" + ("\\" + key if key else "")
    for name, value in values.items():  # one Put on Windows: a bad value changes nothing
        _refuse_value(call, key, name, value)
    for name, value in values.items():
        provider.set_item(call, f"{base}\\{name}", value)
    yield _config_xml(machine, key)


@cmdlet("Remove-WSManInstance", _WSMAN_PARAMS, module=WSMAN_MODULE)
def remove_wsman_instance(call: CommandCall) -> Iterator[Any]:
    _local_only(call)
    if _resource(call) != "listener":
        raise not_emulated("Remove-WSManInstance for resources other than winrm/config/Listener")
    machine = call.ctx.machine
    listener = _find_listener(call)
    with machine.lock:
        machine.wsman.listeners.remove(listener)
    machine.notify(TOPIC_LISTENERS)
    return iter(())


_ = (as_list, GPO_WINRM_SERVICE)
