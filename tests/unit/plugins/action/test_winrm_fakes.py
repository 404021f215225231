"""A fake Windows host answering the WinRM modules' PSRP pipelines, plus a runner for action plugins.

The fake answers the documented ``PipelineRequest`` shape (docs/dev/architecture.md, "Pipeline
API") with objects shaped as the cmdlets return them after ``_clixml.to_jsonable``: WSMan leaf items
(``Name``, ``Value`` string, ``SourceOfValue``), listener XmlElements as flat string properties,
X509Certificate2 with ``RawData`` as a list of ints, enums as ``{"Type","String","Value"}``.
It records every command so tests can assert that check mode sends no change, and it refuses script
text so the "no values spliced into scripts" rule is enforced by every test.

Other test modules import it through the collection package path
(``ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes``).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import MagicMock

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    GONE,
    KEPT,
    REMOVED,
    Removal,
    ShellInfo,
    ShellListing,
)

SERVICE_DEFAULTS = {
    "WSMan:\\localhost\\Service\\Auth\\Basic": "false",
    "WSMan:\\localhost\\Service\\Auth\\Kerberos": "true",
    "WSMan:\\localhost\\Service\\Auth\\Negotiate": "true",
    "WSMan:\\localhost\\Service\\Auth\\Certificate": "false",
    "WSMan:\\localhost\\Service\\Auth\\CredSSP": "false",
    "WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel": "Relaxed",
    "WSMan:\\localhost\\Service\\AllowUnencrypted": "false",
    "WSMan:\\localhost\\MaxEnvelopeSizekb": "500",
    "WSMan:\\localhost\\MaxTimeoutms": "60000",
    "WSMan:\\localhost\\Service\\MaxConcurrentOperationsPerUser": "1500",
    "WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB": "2147483647",
    "WSMan:\\localhost\\Shell\\MaxShellsPerUser": "2147483647",
    "WSMan:\\localhost\\Shell\\IdleTimeout": "7200000",
    "WSMan:\\localhost\\Service\\IPv4Filter": "*",
    "WSMan:\\localhost\\Service\\IPv6Filter": "*",
    "WSMan:\\localhost\\Client\\Auth\\Basic": "true",
    "WSMan:\\localhost\\Client\\Auth\\Digest": "true",
    "WSMan:\\localhost\\Client\\Auth\\Kerberos": "true",
    "WSMan:\\localhost\\Client\\Auth\\Negotiate": "true",
    "WSMan:\\localhost\\Client\\Auth\\Certificate": "true",
    "WSMan:\\localhost\\Client\\Auth\\CredSSP": "false",
    "WSMan:\\localhost\\Client\\AllowUnencrypted": "false",
    "WSMan:\\localhost\\Client\\TrustedHosts": "",
}
CHANGING_VERBS = (
    "Set-",
    "New-",
    "Remove-",
    "Register-",
    "Unregister-",
    "Enable-",
    "Disable-",
    "Start-",
    "Stop-",
    "Restart-",
)


class ScriptRefused(AssertionError):
    pass


def make_certificate(
    names: list[str],
    *,
    days: int = 365,
    not_before: datetime.datetime | None = None,
    issuer_cn: str | None = None,
    server_auth: bool = True,
    key_size: int = 2048,
) -> tuple[dict[str, Any], bytes]:
    """A real X.509 certificate as Get-ChildItem Cert:\\LocalMachine\\My would describe it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    start = not_before or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]) if issuer_cn else subject
    eku = [ExtendedKeyUsageOID.SERVER_AUTH] if server_auth else [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    eku_list = [
        {"FriendlyName": "Server Authentication", "ObjectId": "1.3.6.1.5.5.7.3.1"}
        if server_auth
        else {"FriendlyName": "Client Authentication", "ObjectId": "1.3.6.1.5.5.7.3.2"}
    ]
    obj = {
        "Thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
        "Subject": f"CN={names[0]}",
        "Issuer": f"CN={issuer_cn or names[0]}",
        "NotBefore": start.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "NotAfter": (start + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "HasPrivateKey": True,
        "DnsNameList": [{"Punycode": n, "Unicode": n} for n in names],
        "EnhancedKeyUsageList": eku_list,
        "RawData": list(der),
        "PSTypeNames": ["Deserialized.System.Security.Cryptography.X509Certificates.X509Certificate2"],
    }
    return obj, der


def _enum(type_name: str, text: str, value: int) -> dict[str, Any]:
    return {"Type": type_name, "String": text, "Value": value}


@dataclass
class FakeWindows:
    """Just enough Windows state for the WinRM modules."""

    wsman: dict[str, str] = field(default_factory=lambda: dict(SERVICE_DEFAULTS))
    gpo_paths: set[str] = field(default_factory=set)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    listeners: list[dict[str, Any]] = field(default_factory=list)
    certs: list[dict[str, Any]] = field(default_factory=list)
    service: dict[str, str] = field(default_factory=lambda: {"Status": "Running", "StartType": "Automatic"})
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    local_groups: dict[str, str] = field(default_factory=lambda: {"WinRMOperators": "S-1-5-21-1-2-3-1001"})
    computer: dict[str, Any] = field(
        default_factory=lambda: {
            "Name": "WEB01",
            "DNSHostName": "web01",
            "Domain": "contoso.test",
            "PartOfDomain": True,
        }
    )
    log: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # WSMan shells of the user (pssession / pssession_info) and the ones the connection holds
    shells: list[ShellInfo] = field(default_factory=list)
    own_shells: set[str] = field(default_factory=set)
    shell_requests: list[tuple[str, list[str]]] = field(default_factory=list)

    # --- the connection's shell operations (list, remove by id) -----------------------------
    def list_shells(self) -> ShellListing:
        self.shell_requests.append(("list", []))
        return ShellListing(tuple(self.shells), frozenset(self.own_shells))

    def remove_shells(self, shells: list[ShellInfo]) -> list[Removal]:
        ids = [s.shell_id for s in shells]
        self.shell_requests.append(("remove", ids))
        out = []
        for shell_id in ids:
            if shell_id in self.own_shells:
                out.append(Removal(shell_id, KEPT))
            elif any(s.shell_id == shell_id for s in self.shells):
                self.shells = [s for s in self.shells if s.shell_id != shell_id]
                out.append(Removal(shell_id, REMOVED))
            else:
                out.append(Removal(shell_id, GONE))
        return out

    # --- the Pipeline API ------------------------------------------------------------------
    def invoke_pipeline(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(copy.deepcopy(request))
        output: list[Any] = []
        errors: list[dict[str, Any]] = []
        statement: list[dict[str, Any]] = []
        for cmd in request["commands"]:
            statement.append(cmd)
            if cmd.get("end_of_statement"):
                self._run_statement(statement, output, errors)
                statement = []
        if statement:
            self._run_statement(statement, output, errors)
        return {
            "output": output,
            "error": errors,
            "warning": [],
            "verbose": [],
            "debug": [],
            "information": [],
            "host_out": "",
            "host_err": "",
            "had_errors": bool(errors),
            "state": "Completed",
            "rc": None,
        }

    def _run_statement(
        self, cmds: list[dict[str, Any]], output: list[Any], errors: list[dict[str, Any]]
    ) -> None:
        piped: list[Any] | None = None
        for cmd in cmds:
            if cmd.get("is_script"):
                raise ScriptRefused(f"script text sent: {cmd['name']!r}")
            params = dict(cmd.get("parameters") or {})
            self.log.append({"name": cmd["name"], "parameters": copy.deepcopy(params)})
            handler: Callable[..., list[Any]] = getattr(self, "_" + cmd["name"].replace("-", "_").lower())
            silent = params.pop("ErrorAction", None) == "SilentlyContinue"
            try:
                piped = handler(params, piped)
            except LookupError as exc:
                if not silent:
                    errors.append({"output": str(exc), "fully_qualified_error_id": type(exc).__name__})
                piped = []
            except PermissionError as exc:
                errors.append({"output": str(exc), "fully_qualified_error_id": "PermissionDenied"})
                piped = []
        output.extend(piped or [])

    def changes(self) -> list[dict[str, Any]]:
        return [c for c in self.log if c["name"].startswith(CHANGING_VERBS)]

    # --- WSMan: and registry ---------------------------------------------------------------
    def _get_item(self, p: dict[str, Any], _: Any) -> list[Any]:
        paths = p["Path"] if isinstance(p["Path"], list) else [p["Path"]]
        out = []
        for path in paths:
            if path not in self.wsman:
                continue
            out.append(
                {
                    "Name": path.rsplit("\\", 1)[-1],
                    "Value": self.wsman[path],
                    "Type": "System.String",
                    "SourceOfValue": "GPO" if path in self.gpo_paths else "",
                    "PSTypeNames": ["Deserialized.Microsoft.WSMan.Management.WSManConfigLeafElement"],
                }
            )
        return out

    def _set_item(self, p: dict[str, Any], _: Any) -> list[Any]:
        path = p["Path"]
        if path in self.gpo_paths:
            raise PermissionError(
                f"The config setting {path} cannot be changed because is controlled by policies."
            )
        value = p["Value"]
        self.wsman[path] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return []

    def _get_itemproperty(self, p: dict[str, Any], _: Any) -> list[Any]:
        key = p["Path"]
        if key not in self.policies:
            raise LookupError(f"Cannot find path '{key}' because it does not exist.")
        tail = key.split(":", 1)[1]
        return [
            dict(
                self.policies[key],
                PSPath="Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE" + tail,
                PSChildName=tail.rsplit("\\", 1)[-1],
            )
        ]

    # --- listeners and certificates ----------------------------------------------------------
    def _find_listener(self, selector: dict[str, str]) -> dict[str, Any] | None:
        for lst in self.listeners:
            if lst["Address"] == selector["Address"] and lst["Transport"] == selector["Transport"]:
                return lst
        return None

    def _get_wsmaninstance(self, p: dict[str, Any], _: Any) -> list[Any]:
        assert p["ResourceURI"] == "winrm/config/Listener" and p["Enumerate"] is True
        return [dict(lst) for lst in self.listeners]

    def _new_wsmaninstance(self, p: dict[str, Any], _: Any) -> list[Any]:
        sel = p["SelectorSet"]
        if self._find_listener(sel):
            raise PermissionError("A listener with these selectors already exists")
        values = p["ValueSet"]
        if sel["Transport"] == "HTTPS":
            thumb = values.get("CertificateThumbprint")
            cert = next((c for c in self.certs if c["Thumbprint"] == thumb), None)
            if cert is None:
                raise LookupError("The certificate thumbprint was not found")
            if values.get("Hostname", "").lower() not in [d["Unicode"].lower() for d in cert["DnsNameList"]]:
                raise PermissionError("The certificate CN and the hostname that were provided do not match")
        self.listeners.append(
            {
                "Address": sel["Address"],
                "Transport": sel["Transport"],
                "Port": str(values.get("Port", 5985 if sel["Transport"] == "HTTP" else 5986)),
                "Hostname": values.get("Hostname", ""),
                "Enabled": "true" if values.get("Enabled", True) else "false",
                "URLPrefix": "wsman",
                "CertificateThumbprint": values.get("CertificateThumbprint", ""),
                "ListeningOn": ["127.0.0.1", "::1"],
            }
        )
        return []

    def _set_wsmaninstance(self, p: dict[str, Any], _: Any) -> list[Any]:
        lst = self._find_listener(p["SelectorSet"])
        if lst is None:
            raise LookupError("The WS-Management service cannot find the resource")
        for key, value in p["ValueSet"].items():
            lst[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return []

    def _remove_wsmaninstance(self, p: dict[str, Any], _: Any) -> list[Any]:
        lst = self._find_listener(p["SelectorSet"])
        if lst is None:
            raise LookupError("The WS-Management service cannot find the resource")
        self.listeners.remove(lst)
        return []

    def _get_childitem(self, p: dict[str, Any], _: Any) -> list[Any]:
        assert p["Path"] == "Cert:\\LocalMachine\\My", p
        return copy.deepcopy(self.certs)

    def _new_selfsignedcertificate(self, p: dict[str, Any], _: Any) -> list[Any]:
        assert p["CertStoreLocation"] == "Cert:\\LocalMachine\\My"
        not_after = datetime.datetime.fromisoformat(p["NotAfter"].replace("Z", "+00:00"))
        now = datetime.datetime.now(datetime.timezone.utc)
        obj, _der = make_certificate(list(p["DnsName"]), days=(not_after - now).days + 1, key_size=2048)
        obj["FriendlyName"] = p.get("FriendlyName", "")
        obj["KeyLength"] = p["KeyLength"]
        self.certs.append(obj)
        return [copy.deepcopy(obj)]

    def _get_ciminstance(self, p: dict[str, Any], _: Any) -> list[Any]:
        assert p["ClassName"] == "Win32_ComputerSystem"
        return [dict(self.computer)]

    # --- service -----------------------------------------------------------------------------
    def _get_service(self, p: dict[str, Any], _: Any) -> list[Any]:
        status = {"Running": 4, "Stopped": 1}[self.service["Status"]]
        start = {"Automatic": 2, "Manual": 3, "Disabled": 4}[self.service["StartType"]]
        return [
            {
                "Name": p["Name"],
                "Status": _enum(
                    "System.ServiceProcess.ServiceControllerStatus", self.service["Status"], status
                ),
                "StartType": _enum(
                    "System.ServiceProcess.ServiceStartMode", self.service["StartType"], start
                ),
            }
        ]

    def _set_service(self, p: dict[str, Any], _: Any) -> list[Any]:
        self.service["StartType"] = p["StartupType"]
        return []

    def _start_service(self, p: dict[str, Any], _: Any) -> list[Any]:
        self.service["Status"] = "Running"
        return []

    def _stop_service(self, p: dict[str, Any], _: Any) -> list[Any]:
        self.service["Status"] = "Stopped"
        return []

    def _restart_service(self, p: dict[str, Any], _: Any) -> list[Any]:
        self.service["Status"] = "Running"
        return []

    # --- firewall ----------------------------------------------------------------------------
    def _get_netfirewallrule(self, p: dict[str, Any], _: Any) -> list[Any]:
        rule = self.rules.get(p["Name"])
        if rule is None:
            raise LookupError(
                f"No MSFT_NetFirewallRule objects found with property 'Name' equal to '{p['Name']}'"
            )
        bits = sum({"Domain": 1, "Private": 2, "Public": 4}[x] for x in rule["Profile"])
        return [
            {
                "Name": p["Name"],
                "DisplayName": rule["DisplayName"],
                "Enabled": _enum(
                    "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Enabled",
                    rule["Enabled"],
                    1 if rule["Enabled"] == "True" else 2,
                ),
                "Profile": _enum(
                    "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Profile",
                    ", ".join(rule["Profile"]),
                    bits,
                ),
                "__rule__": p["Name"],
            }
        ]

    def _get_netfirewallportfilter(self, _: dict[str, Any], piped: Any) -> list[Any]:
        out = []
        for obj in piped or []:
            rule = self.rules[obj["__rule__"]]
            ports = rule["LocalPort"]
            out.append({"Protocol": "TCP", "LocalPort": ports[0] if len(ports) == 1 else ports})
        return out

    def _get_netfirewalladdressfilter(self, _: dict[str, Any], piped: Any) -> list[Any]:
        out = []
        for obj in piped or []:
            addrs = self.rules[obj["__rule__"]]["RemoteAddress"]
            out.append({"LocalAddress": "Any", "RemoteAddress": addrs[0] if len(addrs) == 1 else addrs})
        return out

    def _new_netfirewallrule(self, p: dict[str, Any], _: Any) -> list[Any]:
        self.rules[p["Name"]] = {
            "DisplayName": p["DisplayName"],
            "Enabled": p["Enabled"],
            "Profile": list(p["Profile"]),
            "LocalPort": list(p["LocalPort"]),
            "RemoteAddress": list(p["RemoteAddress"]),
        }
        return []

    def _set_netfirewallrule(self, p: dict[str, Any], _: Any) -> list[Any]:
        rule = self.rules[p.pop("Name")]
        for key, value in p.items():
            rule[key] = list(value) if isinstance(value, list) else value
        return []

    def _remove_netfirewallrule(self, p: dict[str, Any], _: Any) -> list[Any]:
        del self.rules[p["Name"]]
        return []

    # --- session configurations and files ----------------------------------------------------
    def _get_pssessionconfiguration(self, p: dict[str, Any], _: Any) -> list[Any]:
        if "Name" not in p:
            return [dict(s) for s in self.sessions.values()]
        for key, value in self.sessions.items():
            if key.lower() == p["Name"].lower():
                return [dict(value)]
        raise LookupError(f'No session configuration matches criteria "{p["Name"]}".')

    def _register_pssessionconfiguration(self, p: dict[str, Any], _: Any) -> list[Any]:
        assert p["Force"] is True and p["NoServiceRestart"] is True
        self.sessions[p["Name"]] = {
            "Name": p["Name"],
            "Enabled": "true",
            "SecurityDescriptorSddl": p.get("SecurityDescriptorSddl", "O:NSG:BAD:P(A;;GA;;;BA)(A;;GA;;;RM)"),
            "ConfigFilePath": p.get("Path", ""),
            "PSVersion": "5.1",
        }
        return []

    def _set_pssessionconfiguration(self, p: dict[str, Any], _: Any) -> list[Any]:
        session = self.sessions[p["Name"]]
        if "SecurityDescriptorSddl" in p:
            session["SecurityDescriptorSddl"] = p["SecurityDescriptorSddl"]
        if "Path" in p:
            session["ConfigFilePath"] = p["Path"]
        return []

    def _enable_pssessionconfiguration(self, p: dict[str, Any], _: Any) -> list[Any]:
        session = self.sessions[p["Name"]]
        session["Enabled"] = "true"
        session["SecurityDescriptorSddl"] = session["SecurityDescriptorSddl"].replace("(D;;GA;;;WD)", "")
        return []

    def _disable_pssessionconfiguration(self, p: dict[str, Any], _: Any) -> list[Any]:
        session = self.sessions[p["Name"]]
        session["Enabled"] = "false"
        session["SecurityDescriptorSddl"] = session["SecurityDescriptorSddl"].replace(
            "D:P", "D:P(D;;GA;;;WD)"
        )
        return []

    def _unregister_pssessionconfiguration(self, p: dict[str, Any], _: Any) -> list[Any]:
        del self.sessions[p["Name"]]
        return []

    def _get_content(self, p: dict[str, Any], _: Any) -> list[Any]:
        if p["Path"] not in self.files:
            raise LookupError(f"Cannot find path '{p['Path']}' because it does not exist.")
        return [self.files[p["Path"]]]

    def _set_content(self, p: dict[str, Any], _: Any) -> list[Any]:
        self.files[p["Path"]] = p["Value"]
        return []

    def _new_item(self, p: dict[str, Any], _: Any) -> list[Any]:
        return []

    def _get_localgroup(self, p: dict[str, Any], _: Any) -> list[Any]:
        if p["Name"] not in self.local_groups:
            raise LookupError(f"Group {p['Name']} was not found.")
        return [{"Name": p["Name"], "SID": {"Value": self.local_groups[p["Name"]]}}]

    def _get_localuser(self, p: dict[str, Any], _: Any) -> list[Any]:
        raise LookupError(f"User {p['Name']} was not found.")


def run_action(
    action_cls: type,
    args: dict[str, Any],
    host: FakeWindows,
    *,
    check_mode: bool = False,
    diff: bool = True,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run an action plugin's ``run()`` against ``host`` as the task executor would."""
    task = MagicMock()
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = diff
    task.async_val = 0
    connection = MagicMock()
    connection.invoke_pipeline = host.invoke_pipeline
    connection.list_shells = host.list_shells
    connection.remove_shells = host.remove_shells
    # A complete, valid connection: the actions resolve it with the connection plugin's own reader.
    opts = {
        "remote_addr": "web01",
        "remote_user": "admin",
        "remote_password": "secret",
        "protocol": "https",
        "port": 5986,
        "auth": "negotiate",
    }
    opts.update(options or {})

    def get_option(name: str) -> Any:
        if name not in opts:
            raise KeyError(name)
        return opts[name]

    connection.get_option = get_option
    connection._shell.tmpdir = None
    play_context = MagicMock()
    play_context.remote_addr = "web01"
    action = action_cls(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)
    result: dict[str, Any] = action.run(task_vars={"inventory_hostname": "web01"})
    return result


def test_fake_refuses_script_text() -> None:
    """Guards the guard: every module test relies on the fake failing on script text."""
    host = FakeWindows()
    try:
        host.invoke_pipeline({"commands": [{"name": "Get-Item WSMan:\\x", "is_script": True}]})
    except ScriptRefused:
        return
    raise AssertionError("script text was accepted")
