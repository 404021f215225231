"""Session configurations and remoting setup: Get/Register/Unregister/Set/Enable/Disable-PSSessionConfiguration,
Enable-PSRemoting, Disable-PSRemoting.

Objects: Microsoft.PowerShell.Commands.PSSessionConfigurationCommands#PSSessionConfiguration with
Name, PSVersion, StartupScript, RunAsUser, Permission, Enabled, Architecture, URI, SessionType...
(https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/get-pssessionconfiguration).
Enable-PSRemoting (https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/enable-psremoting):
starts WinRM (Automatic), creates the HTTP listener on all addresses, enables the firewall
exception (on Public networks only for the local subnet, unless -SkipNetworkProfileCheck on a
Public profile which keeps LocalSubnet), enables the default session configurations and sets
LocalAccountTokenFilterPolicy to 1. Disable-PSRemoting denies network access to the session
configurations and leaves WinRM running.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psrpcore.types import ErrorCategory

from winhost.engine import jea
from winhost.engine.cmdlets.filesystem import real_path
from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.cmdlets.services import start_service
from winhost.engine.context import CommandCall
from winhost.engine.model import (
    LOCAL_ACCOUNT_TOKEN_KEY,
    TOPIC_FIREWALL,
    TOPIC_LISTENERS,
    TOPIC_REGISTRY,
    TOPIC_SESSION_CONFIGS,
    Listener,
    RegistryValue,
    SessionConfiguration,
)
from winhost.engine.values import new_object, to_string
from winhost.engine.wildcards import select_by_wildcard

CORE = "Microsoft.PowerShell.Core"
_NETWORK_DENY = "NT AUTHORITY\\NETWORK AccessDenied, "


def config_object(sc: SessionConfiguration) -> Any:
    return new_object(
        [
            "Microsoft.PowerShell.Commands.PSSessionConfigurationCommands#PSSessionConfiguration",
            "System.Object",
        ],
        {
            "Name": sc.name,
            "PSVersion": sc.ps_version,
            "StartupScript": "",
            "RunAsUser": sc.run_as_user,
            "Permission": sc.permission,
            "Enabled": sc.enabled,
            "Architecture": sc.architecture,
            "URI": sc.uri,
            "SessionType": sc.session_type,
            "LanguageMode": sc.language_mode,
            "ConfigFilePath": sc.path,
            "Filename": "%windir%\\system32\\pwrshplugin.dll",
            "ResourceUri": sc.uri,
            "Capability": ["Shell"],
            "xmlns": "http://schemas.microsoft.com/wbem/wsman/1/config/PluginConfiguration",
            "lang": "en-US",
            "SDKVersion": "2",
            "MaxShells": "2147483647",
            "MaxShellsPerUser": "2147483647",
            "IdleTimeoutms": "7200000",
            "MaxIdleTimeoutms": str(sc.max_idle_timeout_ms),
            "OutputBufferingMode": "Block",
            "ProcessIdleTimeoutSec": "0",
            "MaxMemoryPerShellMB": "2147483647",
            "MaxConcurrentUsers": "2147483647",
            **_file_properties(sc),
        },
        to_string_value=sc.name,
    )


def _file_properties(sc: SessionConfiguration) -> dict[str, Any]:
    """A file-based (JEA) configuration also shows its file's settings (audit-and-report.md reads
    RoleDefinitions and TranscriptDirectory from Get-PSSessionConfiguration)."""
    if sc.config_file is None:
        return {}
    config = jea.JeaConfiguration(sc.config_file)
    return {
        "RunAsVirtualAccount": config.virtual_account,
        "TranscriptDirectory": config.transcript_directory or None,
        "RoleDefinitions": config.role_definitions,
    }


def _select(call: CommandCall) -> list[SessionConfiguration]:
    machine = call.ctx.machine
    patterns = call.strings("Name")
    with machine.lock:
        configs = list(machine.session_configurations.values())
    if patterns is None:
        if call.expecting_input:
            names = [to_string(getattr(o, "Name", o)) for o in call.input()]
            return [c for c in configs if any(c.name.lower() == n.lower() for n in names)]
        return configs

    def not_found(pattern: str) -> None:
        call.error(
            f'No session configuration matches criteria "{pattern}".',
            "Microsoft.PowerShell.Commands.WriteErrorException",
            ErrorCategory.ObjectNotFound,
            target=pattern,
            exception_type="Microsoft.PowerShell.Commands.WriteErrorException",
        )

    return list(select_by_wildcard(configs, patterns, lambda c: c.name, not_found, unique=True))


def _load_config_file(call: CommandCall, sc: SessionConfiguration, name: str) -> None:
    """-Path: the .pssc is read (a PowerShell data file) and kept with the registration, as Windows
    copies it into the plugin's configuration; role capabilities are read when a session opens
    (winhost/engine/jea.py)."""
    pssc = real_path(call, call.string("Path") or "")
    if not pssc.is_file():
        raise call.fail(
            f"Cannot find path '{call.string('Path')}' because it does not exist.",
            "PathNotFound",
            ErrorCategory.ObjectNotFound,
            exception_type="System.Management.Automation.ItemNotFoundException",
        )
    text = pssc.read_text(encoding="utf-8-sig", errors="replace")
    try:
        table = jea.parse_data_file(text)
    except jea.DataFileError:
        raise call.fail(
            f"The configuration file '{call.string('Path')}' is not valid: it is not a valid PowerShell "
            "data file.",
            "InvalidPSSessionConfigurationFile",
            ErrorCategory.InvalidArgument,
            exception_type="System.InvalidOperationException",
        ) from None
    config = jea.JeaConfiguration(table)
    sc.path = call.string("Path") or ""
    sc.config_file = table
    sc.session_type = (
        "RestrictedRemoteServer" if config.restricted else str(jea.get(table, "SessionType", "Default"))
    )
    sc.language_mode = config.language_mode
    sc.visible_providers = [str(p) for p in jea.as_list(jea.get(table, "VisibleProviders"))]
    if config.virtual_account:
        sc.run_as_user = "WinRM Virtual Users\\WinRM VA_1_" + name
    permission = config.permission()
    if permission is not None:
        sc.permission = permission


def _require_admin(call: CommandCall) -> None:
    account = call.ctx.machine.accounts.get(call.ctx.user.split("\\")[-1])
    if account is not None and not account.is_admin:
        raise call.fail(
            'Access is denied. To run this cmdlet, start Windows PowerShell with the "Run as '
            'administrator" option.',
            "System.InvalidOperationException",
            ErrorCategory.PermissionDenied,
            exception_type="System.InvalidOperationException",
        )


@cmdlet("Get-PSSessionConfiguration", [Param("Name", position=0), Param("Force", switch=True)], module=CORE)
def get_pssessionconfiguration(call: CommandCall) -> Iterator[Any]:
    _require_admin(call)
    yield from (config_object(c) for c in _select(call))


@cmdlet(
    "Get-PSSessionCapability",
    [Param("ConfigurationName", position=0), Param("Username", position=1), Param("Full", switch=True)],
    module=CORE,
)
def get_pssessioncapability(call: CommandCall) -> Iterator[Any]:
    """The commands a user can run on an endpoint: what ``Get-Command`` shows in their session
    (PowerShell-Docs jea/audit-and-report.md "Check effective rights for a specific user")."""
    _require_admin(call)
    machine = call.ctx.machine
    name = call.string("ConfigurationName") or ""
    with machine.lock:
        sc = machine.session_configurations.get(name)
    if sc is None:
        raise call.fail(
            f'No session configuration matches criteria "{name}".',
            "Microsoft.PowerShell.Commands.WriteErrorException",
            ErrorCategory.ObjectNotFound,
            exception_type="Microsoft.PowerShell.Commands.WriteErrorException",
        )
    if sc.config_file is None:
        return
    caps = jea.capabilities_for(jea.JeaConfiguration(sc.config_file), machine, call.string("Username") or "")
    for command in caps.visible_names():
        yield jea.command_info(command, caps.command(command))


@cmdlet(
    "Register-PSSessionConfiguration",
    [
        Param("Name", position=0),
        Param("Path"),
        Param("RunAsCredential"),
        Param("ProcessorArchitecture"),
        Param("SecurityDescriptorSddl"),
        Param("ShowSecurityDescriptorUI", switch=True),
        Param("StartupScript"),
        Param("SessionType"),
        Param("PSVersion"),
        Param("Force", switch=True),
        Param("NoServiceRestart", switch=True),
        Param("AccessMode"),
    ],
    module=CORE,
)
def register_pssessionconfiguration(call: CommandCall) -> Iterator[Any]:
    _require_admin(call)
    machine = call.ctx.machine
    name = call.string("Name") or ""
    if name in machine.session_configurations and not call.switch("Force"):
        raise call.fail(
            f"Cannot register the session configuration {name} because a configuration with the same "
            "name already exists.",
            "PSSessionConfigurationExists",
            ErrorCategory.ResourceExists,
            exception_type="System.InvalidOperationException",
        )
    sc = SessionConfiguration(name)
    if call.has("Path"):
        _load_config_file(call, sc, name)
    cred = call.get("RunAsCredential")
    if cred is not None:
        sc.run_as_user = to_string(getattr(cred, "UserName", cred))
    if call.has("ProcessorArchitecture"):
        sc.architecture = "32" if "86" in (call.string("ProcessorArchitecture") or "") else "64"
    if call.has("SecurityDescriptorSddl"):
        sc.permission = call.string("SecurityDescriptorSddl") or sc.permission
    with machine.lock:
        machine.session_configurations[name] = sc
    machine.notify(TOPIC_SESSION_CONFIGS)
    yield new_object(
        ["System.Xml.XmlElement", "System.Object"],
        {
            "WSManConfig": "Microsoft.WSMan.Management\\WSMan::localhost\\Plugin",
            "Keys": [f"Name={name}"],
            "Name": name,
            "TypeNameOfElement": "Container",
            "Type": "Container",
        },
        to_string_value=name,
    )


@cmdlet(
    "Unregister-PSSessionConfiguration",
    [Param("Name", position=0), Param("Force", switch=True), Param("NoServiceRestart", switch=True)],
    module=CORE,
)
def unregister_pssessionconfiguration(call: CommandCall) -> Iterator[Any]:
    _require_admin(call)
    machine = call.ctx.machine
    for sc in _select(call):
        with machine.lock:
            del machine.session_configurations[sc.name]
    machine.notify(TOPIC_SESSION_CONFIGS)
    return iter(())


def _set_enabled(call: CommandCall, enabled: bool) -> Iterator[Any]:
    _require_admin(call)
    machine = call.ctx.machine
    configs = (
        _select(call)
        if call.has("Name")
        else [c for c in machine.session_configurations.values() if c.name.lower().startswith("microsoft.")]
    )
    with machine.lock:
        for sc in configs:
            sc.enabled = enabled
            if enabled:
                sc.permission = sc.permission.replace(_NETWORK_DENY, "")
            elif not sc.permission.startswith(_NETWORK_DENY):
                sc.permission = _NETWORK_DENY + sc.permission
    machine.notify(TOPIC_SESSION_CONFIGS)
    return iter(())


@cmdlet(
    "Enable-PSSessionConfiguration",
    [
        Param("Name", position=0),
        Param("Force", switch=True),
        Param("SecurityDescriptorSddl"),
        Param("SkipNetworkProfileCheck", switch=True),
        Param("NoServiceRestart", switch=True),
    ],
    module=CORE,
)
def enable_pssessionconfiguration(call: CommandCall) -> Iterator[Any]:
    return _set_enabled(call, True)


@cmdlet(
    "Disable-PSSessionConfiguration",
    [Param("Name", position=0), Param("Force", switch=True), Param("NoServiceRestart", switch=True)],
    module=CORE,
)
def disable_pssessionconfiguration(call: CommandCall) -> Iterator[Any]:
    return _set_enabled(call, False)


@cmdlet(
    "Set-PSSessionConfiguration",
    [
        Param("Name", position=0),
        Param("SecurityDescriptorSddl"),
        Param("RunAsCredential"),
        Param("Force", switch=True),
        Param("ShowSecurityDescriptorUI", switch=True),
        Param("AccessMode"),
        Param("NoServiceRestart", switch=True),
        Param("MaximumReceivedDataSizePerCommandMB"),
        Param("MaximumReceivedObjectSizeMB"),
        Param("Path"),
    ],
    module=CORE,
)
def set_pssessionconfiguration(call: CommandCall) -> Iterator[Any]:
    _require_admin(call)
    machine = call.ctx.machine
    configs = _select(call)
    for sc in configs:
        if call.has("Path"):
            _load_config_file(call, sc, sc.name)
    with machine.lock:
        for sc in configs:
            if call.has("SecurityDescriptorSddl"):
                sc.permission = call.string("SecurityDescriptorSddl") or sc.permission
            if call.has("RunAsCredential"):
                cred = call.get("RunAsCredential")
                sc.run_as_user = to_string(getattr(cred, "UserName", cred)) if cred is not None else ""
            if call.has("AccessMode"):
                mode = (call.string("AccessMode") or "").lower()
                sc.enabled = mode != "disabled"
                if mode == "local" and not sc.permission.startswith(_NETWORK_DENY):
                    sc.permission = _NETWORK_DENY + sc.permission
                elif mode == "remote":
                    sc.permission = sc.permission.replace(_NETWORK_DENY, "")
    machine.notify(TOPIC_SESSION_CONFIGS)
    return iter(())


@cmdlet(
    "Enable-PSRemoting",
    [Param("Force", switch=True), Param("SkipNetworkProfileCheck", switch=True)],
    module=CORE,
)
def enable_psremoting(call: CommandCall) -> Iterator[Any]:
    _require_admin(call)
    machine = call.ctx.machine
    fw = machine.firewall
    if fw.network_category == "Public" and not call.switch("SkipNetworkProfileCheck"):
        # Windows Server: Enable-PSRemoting succeeds on Public but keeps the LocalSubnet restriction
        # of WINRM-HTTP-In-TCP-PUBLIC (about_Remote_Troubleshooting). Nothing extra to do here.
        pass
    with machine.lock:
        svc = machine.services["WinRM"]
        svc.start_type = "Automatic"
    start_service(machine, "WinRM")
    with machine.lock:
        if machine.wsman.find_listener("*", "HTTP") is None:
            machine.wsman.listeners.append(Listener(address="*", transport="HTTP", port=5985))
    machine.notify(TOPIC_LISTENERS)
    with machine.lock:
        for rule in fw.rules:
            if rule.name.upper().startswith("WINRM-HTTP-IN-TCP"):
                rule.enabled = True
    machine.notify(TOPIC_FIREWALL)
    with machine.lock:
        for sc in machine.session_configurations.values():
            sc.enabled = True
            sc.permission = sc.permission.replace(_NETWORK_DENY, "")
        key = machine.registry_key(LOCAL_ACCOUNT_TOKEN_KEY, create=True)
        assert key is not None
        key["LocalAccountTokenFilterPolicy"] = RegistryValue(1)
    machine.notify(TOPIC_SESSION_CONFIGS)
    machine.notify(TOPIC_REGISTRY)
    return iter(())


@cmdlet("Disable-PSRemoting", [Param("Force", switch=True)], module=CORE)
def disable_psremoting(call: CommandCall) -> Iterator[Any]:
    _require_admin(call)
    machine = call.ctx.machine
    with machine.lock:
        for sc in machine.session_configurations.values():
            if not sc.permission.startswith(_NETWORK_DENY):
                sc.permission = _NETWORK_DENY + sc.permission
    machine.notify(TOPIC_SESSION_CONFIGS)
    call.warning(
        "Disabling the session configurations did not undo all the changes made by the Enable-PSRemoting or "
        "Enable-PSSessionConfiguration cmdlet. You might have to manually undo the changes by following these "
        "steps:\n    1. Stop and disable the WinRM service.\n    2. Delete the listener that accepts requests "
        "on any IP address.\n    3. Disable the firewall exceptions for WS-Management communications.\n    4. "
        "Restore the value of the LocalAccountTokenFilterPolicy to 0, which restricts remote access to members "
        "of the Administrators group on the computer."
    )
    return iter(())


@cmdlet(
    "Set-WSManQuickConfig",
    [
        Param("Force", switch=True),
        Param("SkipNetworkProfileCheck", switch=True),
        Param("UseSSL", switch=True),
    ],
    module="Microsoft.WSMan.Management",
)
def set_wsman_quick_config(call: CommandCall) -> Iterator[Any]:
    """winrm quickconfig: WinRM service Automatic + started, a listener on all addresses, the firewall
    exception (https://learn.microsoft.com/en-us/powershell/module/microsoft.wsman.management/set-wsmanquickconfig).
    -UseSSL creates the HTTPS listener and needs a Server Authentication certificate whose CN matches
    the computer name in Cert:\\LocalMachine\\My."""
    _require_admin(call)
    machine = call.ctx.machine
    with machine.lock:
        machine.services["WinRM"].start_type = "Automatic"
    start_service(machine, "WinRM")
    transport = "HTTPS" if call.switch("UseSSL") else "HTTP"
    thumb = ""
    if transport == "HTTPS":
        from winhost.engine import certs

        name = machine.computer_name.lower()
        for stored in machine.cert_store.values():
            cert = certs.load_pem(stored.cert_pem)
            cn = cert.subject.rfc4514_string().lower()
            if stored.store == "My" and stored.has_private_key and cn in (f"cn={name}",):
                thumb = stored.thumbprint
                break
        if not thumb:
            raise call.fail(
                "Cannot create a WinRM listener on HTTPS because this machine does not have an appropriate "
                "certificate. To be used for SSL, a certificate must have a CN matching the hostname, be "
                "appropriate for Server Authentication, and not be expired, revoked, or self-signed.",
                "WsManError",
                ErrorCategory.InvalidOperation,
                exception_type="System.InvalidOperationException",
            )
    with machine.lock:
        if machine.wsman.find_listener("*", transport) is None:
            machine.wsman.listeners.append(
                Listener(
                    address="*",
                    transport=transport,
                    port=5986 if transport == "HTTPS" else 5985,
                    hostname=machine.computer_name.lower() if thumb else "",
                    certificate_thumbprint=thumb,
                )
            )
    machine.notify(TOPIC_LISTENERS)
    with machine.lock:
        for rule in machine.firewall.rules:
            if rule.name.upper().startswith("WINRM-HTTP-IN-TCP"):
                rule.enabled = True
    machine.notify(TOPIC_FIREWALL)
    return iter(())
