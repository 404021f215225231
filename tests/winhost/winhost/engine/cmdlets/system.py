"""System information cmdlets: Get-Process, Get-Command, Get-CimInstance (Win32_OperatingSystem,
Win32_ComputerSystem, Win32_Service), Get-ExecutionPolicy, Get-WSManCredSSP, Enable/Disable-WSManCredSSP,
Test-WSMan, Get-Host, Get-Culture.

Docs: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-process
(System.Diagnostics.Process), .../microsoft.powershell.core/get-command (CmdletInfo),
.../cimcmdlets/get-ciminstance (CimInstance#root/cimv2/<class> type names),
.../microsoft.wsman.management/enable-wsmancredssp.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from psrpcore.types import CommandTypes, ErrorCategory, PSAliasProperty, PSVersion

from winhost.engine.cmdlets.registry import CATALOGUE, Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import not_emulated
from winhost.engine.model import TOPIC_WSMAN, Machine, Process
from winhost.engine.values import like, new_object, to_string
from winhost.engine.wildcards import contains_wildcards, select_by_wildcard

MANAGEMENT = "Microsoft.PowerShell.Management"
WSMAN_MODULE = "Microsoft.WSMan.Management"


def process_object(proc: Process) -> Any:
    obj = new_object(
        [
            "System.Diagnostics.Process",
            "System.ComponentModel.Component",
            "System.MarshalByRefObject",
            "System.Object",
        ],
        {
            "Id": proc.id,
            "ProcessName": proc.name,
            "Handles": proc.handles,
            "HandleCount": proc.handles,
            "WorkingSet64": proc.working_set,
            "WorkingSet": proc.working_set,
            "PrivateMemorySize64": proc.working_set // 2,
            "VirtualMemorySize64": proc.working_set * 4,
            "SessionId": proc.session_id,
            "Path": proc.path,
            "MachineName": ".",
            "HasExited": False,
            "Responding": True,
        },
        to_string_value=f"System.Diagnostics.Process ({proc.name})",
        extended={"CPU": proc.cpu},
    )
    obj.PSObject.extended_properties.append(PSAliasProperty("Name", "ProcessName"))
    obj.PSObject.extended_properties.append(PSAliasProperty("WS", "WorkingSet64"))
    return obj


@cmdlet(
    "Get-Process",
    [
        Param("Name", position=0, aliases=("ProcessName",)),
        Param("Id", aliases=("PID",)),
        Param("IncludeUserName", switch=True),
    ],
    module=MANAGEMENT,
    aliases=("ps", "gps"),
)
def get_process(call: CommandCall) -> Iterator[Any]:
    procs = sorted(call.ctx.machine.processes, key=lambda p: (p.name.lower(), p.id))
    if call.has("Id"):
        ids = [int(i) for i in (call.strings("Id") or [])]
        for pid in ids:
            match = [p for p in procs if p.id == pid]
            if not match:
                call.error(
                    f"Cannot find a process with the process identifier {pid}.",
                    "NoProcessFoundForGivenId",
                    ErrorCategory.ObjectNotFound,
                    target=pid,
                    exception_type="Microsoft.PowerShell.Commands.ProcessCommandException",
                )
            yield from (process_object(p) for p in match)
        return
    names = call.strings("Name")
    if names is None:
        yield from (process_object(p) for p in procs)
        return

    def not_found(pattern: str) -> None:
        call.error(
            f'Cannot find a process with the name "{pattern}". Verify the process name and call the cmdlet again.',
            "NoProcessFoundForGivenName",
            ErrorCategory.ObjectNotFound,
            target=pattern,
            exception_type="Microsoft.PowerShell.Commands.ProcessCommandException",
        )

    yield from (process_object(p) for p in select_by_wildcard(procs, names, lambda p: p.name, not_found))


@cmdlet(
    "Get-Command",
    [Param("Name", position=0), Param("Module"), Param("CommandType"), Param("ListImported", switch=True)],
    module="Microsoft.PowerShell.Core",
    aliases=("gcm",),
)
def get_command(call: CommandCall) -> Iterator[Any]:
    patterns = call.strings("Name") or ["*"]
    kinds = {k.strip().lower() for k in ",".join(call.strings("CommandType") or ["All"]).split(",")}
    cmdlets_wanted = bool(kinds & {"all", "cmdlet", "function", "alias"})
    for pattern in patterns:
        found = [spec for spec in CATALOGUE.values() if like(spec.name, pattern)] if cmdlets_wanted else []
        func = call.scope.find_function(pattern)
        if func is not None:
            yield new_object(
                [
                    "System.Management.Automation.FunctionInfo",
                    "System.Management.Automation.CommandInfo",
                    "System.Object",
                ],
                {
                    "Name": func.name,
                    "CommandType": CommandTypes.Function,
                    "Source": "",
                    "ModuleName": "",
                    "Definition": "",
                },
                to_string_value=func.name,
            )
            continue
        if not found and not contains_wildcards(pattern):
            call.error(
                f"The term '{pattern}' is not recognized as the name of a cmdlet, function, script file, or "
                "operable program. Check the spelling of the name, or if a path was included, verify that the "
                "path is correct and try again.",
                "CommandNotFoundException",
                ErrorCategory.ObjectNotFound,
                target=pattern,
                exception_type="System.Management.Automation.CommandNotFoundException",
            )
        for spec in sorted(found, key=lambda s: s.name):
            is_function = spec.name.lower() in BUILTIN_FUNCTIONS
            yield new_object(
                [
                    f"System.Management.Automation.{'FunctionInfo' if is_function else 'CmdletInfo'}",
                    "System.Management.Automation.CommandInfo",
                    "System.Object",
                ],
                {
                    "Name": spec.name,
                    "CommandType": CommandTypes.Function if is_function else CommandTypes.Cmdlet,
                    "Source": spec.noun_module,
                    "ModuleName": spec.noun_module,
                    "Version": PSVersion(major=3, minor=1, build=0, revision=0),
                    "Verb": spec.name.split("-")[0],
                    "Noun": spec.name.split("-", 1)[-1],
                    "Definition": spec.name + " " + " ".join(f"[-{p.name}]" for p in spec.params),
                    "ImplementingType": spec.command_type,
                },
                to_string_value=spec.name,
            )


def _cim(cls: str, parents: list[str], props: dict[str, Any]) -> Any:
    names = [f"Microsoft.Management.Infrastructure.CimInstance#root/cimv2/{cls}"]
    names += [f"Microsoft.Management.Infrastructure.CimInstance#root/cimv2/{p}" for p in parents]
    names += [
        "Microsoft.Management.Infrastructure.CimInstance#ROOT/cimv2/" + cls,
        "Microsoft.Management.Infrastructure.CimInstance",
        "System.Object",
    ]
    props = {**props, "CimClass": f"root/cimv2:{cls}", "PSComputerName": None}
    return new_object(names, props, to_string_value=cls)


#: Key properties of the emulated classes (returned whatever -Property names): Win32_OperatingSystem
#: (CSCreationClassName, CSName, CreationClassName, Name), Win32_ComputerSystem and Win32_Service (Name).
_CIM_KEYS = {"name", "csname"}


def cim_instances(machine: Machine, class_name: str) -> list[Any]:
    low = class_name.lower()
    if low == "win32_operatingsystem":
        boot = datetime.datetime.fromtimestamp(machine.last_boot()).astimezone()
        return [
            _cim(
                "Win32_OperatingSystem",
                ["CIM_OperatingSystem", "CIM_LogicalElement", "CIM_ManagedSystemElement"],
                {
                    "Caption": machine.os_caption,
                    "Version": machine.os_version,
                    "BuildNumber": "20348",
                    "OSArchitecture": "64-bit",
                    "CSName": machine.computer_name,
                    "LastBootUpTime": boot,
                    "SystemDirectory": "C:\\Windows\\system32",
                    "WindowsDirectory": "C:\\Windows",
                    "ProductType": 3,
                    "TotalVisibleMemorySize": 4193844,
                    "FreePhysicalMemory": 2097152,
                    "Name": f"{machine.os_caption}|C:\\Windows|\\Device\\Harddisk0\\Partition2",
                    "OSLanguage": 1033,
                    "SerialNumber": "00454-40000-00001-AA000",
                },
            )
        ]
    if low == "win32_computersystem":
        return [
            _cim(
                "Win32_ComputerSystem",
                ["CIM_UnitaryComputerSystem", "CIM_ComputerSystem", "CIM_System"],
                {
                    "Name": machine.computer_name,
                    "Domain": machine.domain,
                    "PartOfDomain": False,
                    "Workgroup": machine.domain,
                    "Manufacturer": "winhost",
                    "Model": "Simulated",
                    "NumberOfLogicalProcessors": 2,
                    "TotalPhysicalMemory": 4294434816,
                    "DNSHostName": machine.computer_name.lower(),
                    "DomainRole": 3,
                },
            )
        ]
    if low == "win32_service":
        return [
            _cim(
                "Win32_Service",
                ["Win32_BaseService", "CIM_Service"],
                {
                    "Name": s.name,
                    "DisplayName": s.display_name,
                    "State": s.status,
                    "StartMode": "Auto" if s.start_type == "Automatic" else s.start_type,
                    "Started": s.status == "Running",
                    "ProcessId": s.pid,
                    "PathName": s.binary_path,
                    "StartName": "LocalSystem",
                },
            )
            for s in sorted(machine.services.values(), key=lambda s: s.name.lower())
        ]
    raise not_emulated(f"the CIM class {class_name}")


@cmdlet(
    "Get-CimInstance",
    [
        Param("ClassName", position=0, aliases=("Class",)),
        Param("Namespace"),
        Param("Filter"),
        Param("ComputerName"),
        Param("Query"),
        Param("Property"),
    ],
    module="CimCmdlets",
    dotnet_class="Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand",
    aliases=("gcim",),
)
def get_ciminstance(call: CommandCall) -> Iterator[Any]:
    """-Property (learn.microsoft.com .../cimcmdlets/get-ciminstance): only the named properties
    (and the class's key properties) are retrieved; the others are present and null."""
    if call.has("Query"):
        raise not_emulated("Get-CimInstance -Query")
    wanted = {p.lower() for p in call.strings("Property") or []}
    for instance in cim_instances(call.ctx.machine, call.string("ClassName") or ""):
        if wanted:
            for prop in instance.PSObject.adapted_properties:
                name = prop.name.lower()
                if (
                    name not in wanted
                    and name not in _CIM_KEYS
                    and name not in ("cimclass", "pscomputername")
                ):
                    setattr(instance, prop.name, None)
        yield instance


@cmdlet(
    "Get-WmiObject",
    [Param("Class", position=0), Param("Namespace"), Param("Filter"), Param("ComputerName")],
    module=MANAGEMENT,
    aliases=("gwmi",),
)
def get_wmiobject(call: CommandCall) -> Iterator[Any]:
    yield from cim_instances(call.ctx.machine, call.string("Class") or "")


@cmdlet(
    "Get-ExecutionPolicy",
    [Param("Scope"), Param("List", switch=True)],
    module="Microsoft.PowerShell.Security",
)
def get_execution_policy(call: CommandCall) -> Iterator[Any]:
    """Windows Server default is RemoteSigned (about_Execution_Policies)."""
    yield "RemoteSigned"


@cmdlet("Get-Host", [], module="Microsoft.PowerShell.Utility")
def get_host(call: CommandCall) -> Iterator[Any]:
    yield call.scope.get("Host")


@cmdlet("Get-Culture", [], module="Microsoft.PowerShell.Utility")
def get_culture(call: CommandCall) -> Iterator[Any]:
    yield new_object(
        ["System.Globalization.CultureInfo", "System.Object"],
        {"Name": "en-US", "LCID": 1033, "DisplayName": "English (United States)"},
        to_string_value="en-US",
    )


# -- CredSSP -------------------------------------------------------------------------------------


@cmdlet("Get-WSManCredSSP", [], module=WSMAN_MODULE)
def get_wsman_credssp(call: CommandCall) -> Iterator[Any]:
    m = call.ctx.machine
    client = (
        (
            "The machine is configured to allow delegating fresh credentials to the following target(s): "
            + ", ".join(f"wsman/{d}" for d in m.credssp_client_delegates)
        )
        if m.credssp_client_delegates
        else "The machine is not configured to allow delegating fresh credentials."
    )
    server = (
        "This computer is configured to receive credentials from a remote client computer."
        if m.wsman.service.auth.credssp
        else "This computer is not configured to receive credentials from a remote client computer."
    )
    yield client
    yield server


@cmdlet(
    "Enable-WSManCredSSP",
    [Param("Role", position=0), Param("DelegateComputer", position=1), Param("Force", switch=True)],
    module=WSMAN_MODULE,
)
def enable_wsman_credssp(call: CommandCall) -> Iterator[Any]:
    m = call.ctx.machine
    role = (call.string("Role") or "").lower()
    if role not in ("server", "client"):
        raise call.fail(
            f"Cannot bind parameter 'Role'. Cannot convert value \"{call.string('Role')}\" to type "
            '"Microsoft.WSMan.Management.WSManRole".',
            "CannotConvertArgumentNoMessage",
            ErrorCategory.InvalidArgument,
            exception_type="System.Management.Automation.ParameterBindingException",
        )
    with m.lock:
        if role == "server":
            m.wsman.service.auth.credssp = True
            m.credssp_server = True
        else:
            for d in call.strings("DelegateComputer") or []:
                if d not in m.credssp_client_delegates:
                    m.credssp_client_delegates.append(d)
            m.wsman.client.auth.credssp = True
    m.notify(TOPIC_WSMAN)
    yield new_object(
        ["System.Xml.XmlElement", "System.Object"],
        {
            "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config/service/auth"
            if role == "server"
            else "http://schemas.microsoft.com/wbem/wsman/1/config/client/auth",
            "lang": "en-US",
            "Basic": m.wsman.service.auth.basic,
            "Kerberos": m.wsman.service.auth.kerberos,
            "Negotiate": m.wsman.service.auth.negotiate,
            "Certificate": m.wsman.service.auth.certificate,
            "CredSSP": True,
            "CbtHardeningLevel": m.wsman.service.auth.cbt_hardening_level,
        },
        to_string_value="cfg:Auth",
    )


@cmdlet("Disable-WSManCredSSP", [Param("Role", position=0)], module=WSMAN_MODULE)
def disable_wsman_credssp(call: CommandCall) -> Iterator[Any]:
    m = call.ctx.machine
    role = (call.string("Role") or "").lower()
    with m.lock:
        if role == "server":
            m.wsman.service.auth.credssp = False
            m.credssp_server = False
        else:
            m.credssp_client_delegates.clear()
            m.wsman.client.auth.credssp = False
    m.notify(TOPIC_WSMAN)
    return iter(())


@cmdlet(
    "Test-WSMan",
    [
        Param("ComputerName", position=0),
        Param("Authentication"),
        Param("Port"),
        Param("UseSSL", switch=True),
        Param("Credential"),
    ],
    module=WSMAN_MODULE,
)
def test_wsman(call: CommandCall) -> Iterator[Any]:
    """The IdentifyResponse (wsmid) as Test-WSMan shows it."""
    name = (call.string("ComputerName") or "localhost").lower()
    if name not in ("localhost", ".", "127.0.0.1", call.ctx.machine.computer_name.lower()):
        raise not_emulated("Test-WSMan against another computer")
    if not call.ctx.machine.winrm_running:
        raise call.fail(
            "The client cannot connect to the destination specified in the request.",
            "WsManError",
            ErrorCategory.InvalidOperation,
            exception_type="System.InvalidOperationException",
        )
    yield new_object(
        ["System.Xml.XmlElement", "System.Object"],
        {
            "wsmid": "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd",
            "ProtocolVersion": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
            "ProductVendor": "Microsoft Corporation",
            "ProductVersion": "OS: 0.0.0 SP: 0.0 Stack: 3.0",
        },
        to_string_value="wsmid:IdentifyResponse",
    )


_ = to_string


# -- modules and drives -------------------------------------------------------------------------


def _module_names() -> dict[str, str]:
    """Modules the catalogue's cmdlets come from (name -> version Windows Server 2022 ships)."""
    versions = {
        "Microsoft.PowerShell.Management": "3.1.0.0",
        "Microsoft.PowerShell.Utility": "3.1.0.0",
        "Microsoft.PowerShell.Security": "3.0.0.0",
        "Microsoft.PowerShell.Core": "3.0.0.0",
        "Microsoft.WSMan.Management": "3.0.0.0",
        "Microsoft.PowerShell.LocalAccounts": "1.0.0.0",
        "NetSecurity": "2.0.0.0",
        "NetConnection": "1.0.0.0",
        "PKI": "1.0.0.0",
        "CimCmdlets": "1.0.0.0",
    }
    return versions


def _module_object(name: str, version: str) -> Any:
    from psrpcore.types import PSVersion

    major, minor, build, rev = (int(p) for p in version.split("."))
    return new_object(
        ["System.Management.Automation.PSModuleInfo", "System.Object"],
        {
            "Name": name,
            "Version": PSVersion(major=major, minor=minor, build=build, revision=rev),
            "ModuleType": "Manifest",
            "Path": f"C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules\\{name}\\{name}.psd1",
            "ExportedCommands": {},
        },
        to_string_value=name,
    )


@cmdlet(
    "Get-Module",
    [Param("Name", position=0), Param("ListAvailable", switch=True), Param("All", switch=True)],
    module="Microsoft.PowerShell.Core",
    aliases=("gmo",),
)
def get_module(call: CommandCall) -> Iterator[Any]:
    """-ListAvailable: every module of the catalogue; otherwise the modules loaded in this
    runspace (about_Modules: "Get-Module gets the modules that have been imported"): the two a
    session loads on its first commands, plus what Import-Module imported here."""
    versions = _module_names()
    patterns = call.strings("Name") or ["*"]
    loaded = _AUTOLOADED | {n.lower() for n in call.ctx.global_scope.get(_IMPORTED) or []}
    for name, version in sorted(versions.items()):
        if not call.switch("ListAvailable") and name.lower() not in loaded:
            continue
        if any(like(name, p) for p in patterns):
            yield _module_object(name, version)


#: The runspace's imported modules (a global-scope variable of winhost's own).
_IMPORTED = "__imported_modules"
#: Loaded by module auto-loading as soon as a session runs its first commands.
_AUTOLOADED = frozenset({"microsoft.powershell.management", "microsoft.powershell.utility"})


@cmdlet(
    "Import-Module",
    [
        Param("Name", position=0),
        Param("Force", switch=True),
        Param("PassThru", switch=True),
        Param("MinimumVersion"),
        Param("RequiredVersion"),
        Param("DisableNameChecking", switch=True),
        Param("Global", switch=True),
        Param("Prefix"),
    ],
    module="Microsoft.PowerShell.Core",
    aliases=("ipmo",),
)
def import_module(call: CommandCall) -> Iterator[Any]:
    """Modules of the catalogue load (their cmdlets are always there); anything else is not found."""
    versions = _module_names()
    for name in call.strings("Name") or []:
        match = next((n for n in versions if n.lower() == name.lower()), None)
        if match is None:
            call.error(
                f"The specified module '{name}' was not loaded because no valid module file was found in any "
                "module directory.",
                "Modules_ModuleNotFound",
                ErrorCategory.ResourceUnavailable,
                target=name,
                exception_type="System.IO.FileNotFoundException",
            )
            continue
        imported = list(call.ctx.global_scope.get(_IMPORTED) or [])
        if match not in imported:
            call.ctx.global_scope.set(_IMPORTED, [*imported, match])
        if call.switch("PassThru"):
            yield _module_object(match, versions[match])


@cmdlet("Get-PSDrive", [Param("Name", position=0), Param("PSProvider")], module=MANAGEMENT, aliases=("gdr",))
def get_psdrive(call: CommandCall) -> Iterator[Any]:
    from winhost.engine.cmdlets.items import PROVIDERS

    patterns = call.strings("Name") or ["*"]
    for provider in PROVIDERS:
        for drive in provider.drives:
            if any(like(drive, p) for p in patterns):
                root = {"C": "C:\\", "HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER"}.get(
                    drive, "\\"
                )
                yield new_object(
                    ["System.Management.Automation.PSDriveInfo", "System.Object"],
                    {
                        "Name": drive,
                        "Provider": f"{provider.module}\\{provider.name}",
                        "Root": root,
                        "CurrentLocation": "",
                        "Description": "",
                    },
                    to_string_value=drive,
                )


# -- History -------------------------------------------------------------------------------------
# A pipeline the client creates with AddToHistory (MS-PSRP 2.2.2.10 CREATE_PIPELINE, 2.2.3.11) is
# added to the runspace's session history when it ends; Get-History lists the entries as
# Microsoft.PowerShell.Commands.HistoryInfo (Id, CommandLine, ExecutionStatus, Start/EndExecutionTime;
# https://learn.microsoft.com/powershell/module/microsoft.powershell.core/get-history).
HISTORY_VARIABLE = "__history"


def history_entry(
    entry_id: int, command_line: str, status: str, start: datetime.datetime, end: datetime.datetime
) -> Any:
    return new_object(
        ["Microsoft.PowerShell.Commands.HistoryInfo", "System.Object"],
        {
            "Id": entry_id,
            "CommandLine": command_line,
            "ExecutionStatus": status,
            "StartExecutionTime": start,
            "EndExecutionTime": end,
        },
        to_string_value=command_line,
    )


@cmdlet(
    "Get-History",
    [Param("Id", position=0), Param("Count", position=1)],
    module="Microsoft.PowerShell.Core",
)
def get_history(call: CommandCall) -> Iterator[Any]:
    from winhost.engine.values import as_list, get_property, to_number

    entries: list[Any] = list(call.ctx.global_scope.get(HISTORY_VARIABLE) or [])
    if call.has("Id"):
        wanted = {int(to_number(v)) for v in as_list(call.get("Id"))}
        entries = [e for e in entries if get_property(e, "Id")[1] in wanted]
    count = int(to_number(call.get("Count"))) if call.has("Count") else 32
    yield from entries[-count:]


@cmdlet("Clear-History", [Param("Id", position=0), Param("Count")], module="Microsoft.PowerShell.Core")
def clear_history(call: CommandCall) -> Iterator[Any]:
    call.ctx.global_scope.set(HISTORY_VARIABLE, [])
    yield from ()


# -- Utility functions ---------------------------------------------------------------------------
# In Windows PowerShell 5.1 New-Guid and New-TemporaryFile are functions of the
# Microsoft.PowerShell.Utility module (Get-Command reports CommandType Function; GET_COMMAND_METADATA
# lists them as FunctionInfo).
BUILTIN_FUNCTIONS = {"new-guid", "new-temporaryfile"}


@cmdlet("New-Guid", [], module="Microsoft.PowerShell.Utility")
def new_guid(call: CommandCall) -> Iterator[Any]:
    """https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/new-guid"""
    import uuid

    yield uuid.uuid4()


@cmdlet("New-TemporaryFile", [Param("WhatIf", switch=True)], module="Microsoft.PowerShell.Utility")
def new_temporary_file(call: CommandCall) -> Iterator[Any]:
    """Creates an empty ``tmp<hex>.tmp`` in the user's %TEMP% and returns it (System.IO.FileInfo);
    https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/new-temporaryfile"""
    import secrets

    from winhost.engine.cmdlets.filesystem import file_object, real_path

    temp = call.ctx.env_get("TEMP") or "C:\\Windows\\Temp"
    name = f"tmp{secrets.token_hex(2).upper()}.tmp"
    if not call.should_process(f"{temp}\\{name}", "New-TemporaryFile"):
        return
    real = real_path(call, f"{temp}\\{name}")
    real.parent.mkdir(parents=True, exist_ok=True)
    real.touch()
    yield file_object(call, real)


# -- PSSession (second hop) ----------------------------------------------------------------------


@cmdlet(
    "New-PSSession",
    [Param("ComputerName", position=0, aliases=("Cn",)), Param("Credential"), Param("ConfigurationName")],
    module="Microsoft.PowerShell.Core",
)
def new_pssession(call: CommandCall) -> Iterator[Any]:
    """Opening a session from inside a session (the second hop) is not emulated."""
    raise not_emulated("New-PSSession from a remote session (a second hop)")


@cmdlet(
    "New-PSSessionOption",
    [
        Param("MaximumRedirection"),
        Param("NoCompression", switch=True),
        Param("OperationTimeout"),
        Param("IdleTimeout"),
        Param("OpenTimeout"),
        Param("SkipCACheck", switch=True),
        Param("SkipCNCheck", switch=True),
        Param("MaxConnectionRetryCount"),
    ],
    module="Microsoft.PowerShell.Core",
)
def new_pssession_option(call: CommandCall) -> Iterator[Any]:
    """A System.Management.Automation.Remoting.PSSessionOption with the documented defaults
    (https://learn.microsoft.com/powershell/module/microsoft.powershell.core/new-pssessionoption):
    OperationTimeout 3 min, OpenTimeout 3 min, IdleTimeout -1 (the server's), MaximumRedirection 0."""
    minutes3 = datetime.timedelta(minutes=3)

    def ms(name: str, default: datetime.timedelta) -> datetime.timedelta:
        value = call.get(name)
        return default if value is None else datetime.timedelta(milliseconds=int(to_string(value)))

    yield new_object(
        ["System.Management.Automation.Remoting.PSSessionOption", "System.Object"],
        {
            "MaximumConnectionRedirectionCount": int(to_string(call.get("MaximumRedirection") or 0)),
            "NoCompression": call.switch("NoCompression"),
            "NoMachineProfile": False,
            "OperationTimeout": ms("OperationTimeout", minutes3),
            "OpenTimeout": ms("OpenTimeout", minutes3),
            "IdleTimeout": ms("IdleTimeout", datetime.timedelta(milliseconds=-1)),
            "SkipCACheck": call.switch("SkipCACheck"),
            "SkipCNCheck": call.switch("SkipCNCheck"),
            "MaxConnectionRetryCount": int(to_string(call.get("MaxConnectionRetryCount") or 5)),
        },
        to_string_value="System.Management.Automation.Remoting.PSSessionOption",
    )


@cmdlet(
    "New-PSSessionConfigurationFile",
    [
        Param("Path", position=0),
        Param("SessionType"),
        Param("RunAsVirtualAccount", switch=True),
        Param("LanguageMode"),
        Param("VisibleCmdlets"),
        Param("VisibleProviders"),
        Param("Description"),
    ],
    module="Microsoft.PowerShell.Core",
)
def new_pssession_configuration_file(call: CommandCall) -> Iterator[Any]:
    """Writes a .pssc (a PowerShell data file) with the given settings; Register-PSSessionConfiguration
    -Path reads it (https://learn.microsoft.com/powershell/module/microsoft.powershell.core/new-pssessionconfigurationfile)."""
    import uuid

    from winhost.engine.cmdlets.filesystem import real_path

    path = call.string("Path")
    if not path or not path.lower().endswith(".pssc"):
        raise call.fail(
            f"The path {path} is not valid. The file extension must be .pssc.",
            "InvalidPSSessionConfigurationFilePath",
            ErrorCategory.InvalidArgument,
            exception_type="System.InvalidOperationException",
        )

    def quote(value: Any) -> str:
        return "'" + to_string(value).replace("'", "''") + "'"

    lines = ["@{", "SchemaVersion = '2.0.0.0'", f"GUID = '{uuid.uuid4()}'"]
    lines.append(f"SessionType = {quote(call.string('SessionType') or 'Default')}")
    if call.has("Description"):
        lines.append(f"Description = {quote(call.get('Description'))}")
    if call.switch("RunAsVirtualAccount"):
        lines.append("RunAsVirtualAccount = $true")
    if call.has("LanguageMode"):
        lines.append(f"LanguageMode = {quote(call.get('LanguageMode'))}")
    for key in ("VisibleCmdlets", "VisibleProviders"):
        visible = call.strings(key)
        if visible:
            lines.append(f"{key} = " + ", ".join(quote(v) for v in visible))
    lines.append("}")
    real = real_path(call, path)
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return iter(())
