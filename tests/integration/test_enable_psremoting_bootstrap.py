"""The role's `bootstrap` entry point renders a PowerShell script that parses and runs, for several
variable sets.

ansible-playbook renders the template on the controller (the entry point's argument spec is
validated), tree-sitter-powershell parses the result (any ERROR or MISSING node fails; hostile
values must stay inside string literals: the only commands in the script are the ones the
template writes), and the script then runs end to end on a winhost machine the way it runs on a
real host (locally, as a GPO startup script or user data would run it): on a fresh host with only
the HTTP listener, on a host with WinRM stopped, and on a configured host; a second run prints no
"changed:" line and does not restart WinRM.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import ps1_registry
import pytest
import tree_sitter
import tree_sitter_powershell
from cryptography import x509
from psrpcore.types import PSSecureString
from winhost_local import LocalRun, run_local

from winhost.engine.model import Machine, configured, fresh

HOSTILE = ps1_registry.HOSTILE
HOSTILE_TYPOGRAPHIC = ps1_registry.HOSTILE_TYPOGRAPHIC
VARIANTS = ps1_registry.BOOTSTRAP_VARIANTS
EXPECTED_COMMANDS = {
    "Get-Item",
    "Set-Item",
    "New-NetFirewallRule",
    "Set-NetFirewallRule",
    "Get-NetFirewallRule",
    "Remove-NetFirewallRule",
    "Set-Service",
    "Start-Service",
    "Get-WSManInstance",
    "New-WSManInstance",
    "Set-WSManInstance",
    "Remove-WSManInstance",
    "Get-CimInstance",
    "New-SelfSignedCertificate",
    "Get-Date",
    "Get-ChildItem",
    "Where-Object",
    "Sort-Object",
    "Select-Object",
    "Import-PfxCertificate",
    "Enable-PSSessionConfiguration",
    "Disable-PSSessionConfiguration",
    "Get-PSSessionConfiguration",
    "Get-ItemProperty",
    "Get-Service",
    "ForEach-Object",
    "Get-WinRMListener",
    "Set-SessionConfigurationEnabled",
    "New-ItemProperty",
    "Restart-Service",
    "Write-Output",
    "Set-StrictMode",
    "Set-WSManValue",
    "Set-WinRMFirewallRule",
    "Remove-WinRMFirewallRule",
}


def parse_problems(source: bytes) -> tuple[list[str], set[str]]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(source)
    problems: list[str] = []
    commands: set[str] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            line = source.splitlines()[node.start_point[0]].decode(errors="replace")
            problems.append(f"line {node.start_point[0] + 1}: {node.type}: {line.strip()}")
        if node.type == "command_name":
            commands.add(source[node.start_byte : node.end_byte].decode())
        stack.extend(node.children)
    return problems, commands


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    texts = ps1_registry.render_bootstrap(sorted(VARIANTS))
    return {name: text.encode("utf-8") for name, text in texts.items()}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_script_parses_and_runs_only_template_commands(rendered: dict[str, bytes], variant: str) -> None:
    source = rendered[variant]
    problems, commands = parse_problems(source)
    assert problems == [], "\n".join(problems)
    assert commands <= EXPECTED_COMMANDS, commands - EXPECTED_COMMANDS


def test_variants_differ_where_they_should(rendered: dict[str, bytes]) -> None:
    default = rendered["defaults"].decode()
    assert "New-SelfSignedCertificate" in default and "-KeyLength 4096" in default
    assert "'WSMan:\\localhost\\Service\\Auth\\Basic' = $false" in default
    assert "MaxEnvelopeSizekb" not in default
    thumb = rendered["thumbprint_no_http_quotas"].decode()
    assert "'" + "AB" * 20 + "'" in thumb
    assert "'WSMan:\\localhost\\MaxEnvelopeSizekb' = 8192" in thumb
    assert "Remove-WSManInstance -ResourceURI winrm/config/Listener -SelectorSet $httpSelector" in thumb
    assert "WINRM-HTTPS-In-TCP-PUBLIC" not in thumb
    pfx = rendered["pfx_basic_trusted_hosts"].decode()
    assert "[SecureString]$PfxPassword" in pfx and "Import-PfxCertificate" in pfx
    assert "'x''; Remove-Item -Recurse -Force C:\\ ; ''y'" in pfx
    hostile = rendered["subject_hostile_values"].decode()
    assert "'a\u2019\u2019; Stop-Computer -Force; \u2018\u2018b'" in hostile
    no_https = rendered["self_signed_names_no_https"].decode()
    assert "New-SelfSignedCertificate" not in no_https
    assert "Set-WinRMFirewallRule -Name" not in no_https


# --- end to end on winhost -------------------------------------------------------------------


def _machine(preset: str, tmp_path: Path) -> Machine:
    machine = {"fresh": fresh, "configured": configured}[preset]("WEB01")
    machine.sandbox_dir = str(tmp_path / "C")
    return machine


def _run(machine: Machine, source: bytes) -> LocalRun:
    run = run_local(machine, source.decode("utf-8"))
    assert run.failure is None, run.failure_text()
    assert run.host.errors == [], [str(e.Exception.Message) for e in run.host.errors]
    return run


def _assert_second_run_changes_nothing(machine: Machine, source: bytes) -> LocalRun:
    again = _run(machine, source)
    assert again.changes == []
    assert (
        not again.winrm_restarted and "restarted: WinRM (session configurations changed)" not in again.lines
    )
    return again


def _certificate(machine: Machine, thumbprint: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(machine.cert_store[thumbprint].cert_pem.encode())


def _pem(run: LocalRun) -> list[str]:
    lines = run.lines
    return lines[lines.index("-----BEGIN CERTIFICATE-----") : lines.index("-----END CERTIFICATE-----") + 1]


@pytest.mark.runs_ps1("bootstrap.defaults")
def test_fresh_host_http_only(rendered: dict[str, bytes], tmp_path: Path) -> None:
    """The failure of issue 23: with only the HTTP listener the script stopped at the HTTPS
    listener lookup. Now it creates the certificate, the HTTPS listener and its firewall rules."""
    machine = _machine("fresh", tmp_path)
    assert machine.wsman.find_listener("*", "HTTPS") is None
    first = _run(machine, rendered["defaults"])
    listener = machine.wsman.find_listener("*", "HTTPS")
    assert listener is not None and listener.port == 5986 and listener.enabled
    cert = machine.cert_store[listener.certificate_thumbprint]
    lifetime = _certificate(machine, cert.thumbprint).not_valid_after_utc - datetime.now(timezone.utc)
    # 730 days (enable_psremoting_self_signed_valid_days), not New-SelfSignedCertificate's default
    # of one year; winhost's certificate keeps whole days from 10 minutes before now.
    assert timedelta(days=729) - timedelta(minutes=15) < lifetime <= timedelta(days=730)
    assert first.changes == [
        f"changed: self-signed certificate {listener.certificate_thumbprint} created",
        "changed: HTTPS listener created",
        "changed: firewall rule WINRM-HTTPS-In-TCP created",
        "changed: firewall rule WINRM-HTTPS-In-TCP-PUBLIC created",
    ]
    assert not first.winrm_restarted
    assert len(_pem(first)) >= 3
    assert {r.name for r in machine.firewall.rules} >= {"WINRM-HTTPS-In-TCP", "WINRM-HTTPS-In-TCP-PUBLIC"}
    again = _assert_second_run_changes_nothing(machine, rendered["defaults"])
    assert machine.wsman.find_listener("*", "HTTPS") is listener
    assert listener.certificate_thumbprint == cert.thumbprint and len(machine.cert_store) == 1
    assert _pem(again) == _pem(first)


@pytest.mark.runs_ps1("bootstrap.defaults")
def test_host_with_winrm_stopped(rendered: dict[str, bytes], tmp_path: Path) -> None:
    machine = _machine("fresh", tmp_path)
    winrm = machine.services["WinRM"]
    winrm.status, winrm.start_type = "Stopped", "Manual"
    first = _run(machine, rendered["defaults"])
    assert first.changes[:2] == [
        "changed: WinRM start type Manual -> Automatic",
        "changed: WinRM started (was Stopped)",
    ]
    assert (winrm.status, winrm.start_type) == ("Running", "Automatic")
    assert first.winrm_states[-1] == "Running" and not first.winrm_restarted
    assert machine.wsman.find_listener("*", "HTTPS") is not None
    _assert_second_run_changes_nothing(machine, rendered["defaults"])


@pytest.mark.runs_ps1("bootstrap.defaults")
def test_configured_host(rendered: dict[str, bytes], tmp_path: Path) -> None:
    """A host prepared for Ansible (HTTPS listener with a valid certificate, Basic and CredSSP on):
    the script turns off what the defaults turn off and keeps the listener and its certificate."""
    machine = _machine("configured", tmp_path)
    listener = machine.wsman.find_listener("*", "HTTPS")
    assert listener is not None
    thumbprint = listener.certificate_thumbprint
    first = _run(machine, rendered["defaults"])
    assert first.changes == [
        "changed: WSMan:\\localhost\\Service\\Auth\\Basic = False",
        "changed: WSMan:\\localhost\\Service\\Auth\\CredSSP = False",
        "changed: firewall rule WINRM-HTTPS-In-TCP-PUBLIC created",
    ]
    assert not machine.wsman.service.auth.basic and not machine.wsman.service.auth.credssp
    assert listener.certificate_thumbprint == thumbprint
    assert not first.winrm_restarted
    _assert_second_run_changes_nothing(machine, rendered["defaults"])


@pytest.mark.runs_ps1("bootstrap.defaults")
def test_session_configuration_change_restarts_winrm_once(rendered: dict[str, bytes], tmp_path: Path) -> None:
    machine = _machine("fresh", tmp_path)
    machine.session_configurations["microsoft.powershell"].enabled = False
    first = _run(machine, rendered["defaults"])
    assert "changed: session configuration Microsoft.PowerShell enabled" in first.changes
    assert (
        first.winrm_restarted and first.lines.count("restarted: WinRM (session configurations changed)") == 1
    )
    assert machine.session_configurations["microsoft.powershell"].enabled
    _assert_second_run_changes_nothing(machine, rendered["defaults"])


def _close_to_network(machine: Machine, name: str) -> None:
    """The state Disable-PSSessionConfiguration leaves: disabled, NETWORK denied."""
    sc = machine.session_configurations[name]
    sc.enabled = False
    sc.permission = "NT AUTHORITY\\NETWORK AccessDenied, " + sc.permission


@pytest.mark.runs_ps1("bootstrap.defaults", "bootstrap.like_enable_psremoting")
def test_like_enable_psremoting(rendered: dict[str, bytes], tmp_path: Path) -> None:
    """enable_psremoting_all_session_configurations: every session configuration is enabled for
    remote use, as Enable-PSRemoting does; the defaults enable only Microsoft.PowerShell.
    LocalAccountTokenFilterPolicy reports its change."""
    machine = _machine("fresh", tmp_path)
    _close_to_network(machine, "microsoft.powershell.workflow")
    defaults = _run(machine, rendered["defaults"])
    assert not machine.session_configurations["microsoft.powershell.workflow"].enabled
    assert not any("session configuration" in line for line in defaults.changes)
    first = _run(machine, rendered["like_enable_psremoting"])
    assert "changed: session configuration microsoft.powershell.workflow enabled" in first.changes
    assert all(
        sc.enabled and "NETWORK AccessDenied" not in sc.permission
        for sc in machine.session_configurations.values()
    )
    assert "changed: LocalAccountTokenFilterPolicy absent -> 1" in first.changes
    assert first.winrm_restarted
    _assert_second_run_changes_nothing(machine, rendered["like_enable_psremoting"])


@pytest.mark.runs_ps1("bootstrap.hostile_values_run")
def test_hostile_values_stay_data(rendered: dict[str, bytes], tmp_path: Path) -> None:
    """Values with quotes (ASCII and typographic) and commands reach the host as the literal text."""
    machine = _machine("fresh", tmp_path)
    marker = Path(machine.sandbox_dir) / "Windows" / "marker.txt"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("still here")
    _run(machine, rendered["hostile_values_run"])
    listener = machine.wsman.find_listener("*", "HTTPS")
    assert listener is not None and listener.hostname == HOSTILE_TYPOGRAPHIC
    assert HOSTILE in _certificate(
        machine, listener.certificate_thumbprint
    ).extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert machine.wsman.client.trusted_hosts.split(",") == ["db01", HOSTILE_TYPOGRAPHIC]
    assert marker.read_text() == "still here"
    _assert_second_run_changes_nothing(machine, rendered["hostile_values_run"])


@pytest.mark.runs_ps1("bootstrap.subject_run")
def test_certificate_chosen_by_subject(rendered: dict[str, bytes], tmp_path: Path) -> None:
    """enable_psremoting_https_certificate_source: subject: the newest valid certificate with a
    private key and that subject in Cert:\\LocalMachine\\My becomes the HTTPS listener's; no
    firewall rule for the Public profile."""
    machine = _machine("fresh", tmp_path)
    made = run_local(
        machine,
        "New-SelfSignedCertificate -Subject 'CN=web01.contoso.test' -DnsName web01.contoso.test "
        "-CertStoreLocation Cert:\\LocalMachine\\My | ForEach-Object { $_.Thumbprint }",
    )
    assert made.failure is None, made.failure_text()
    (thumbprint,) = made.lines
    first = _run(machine, rendered["subject_run"])
    listener = machine.wsman.find_listener("*", "HTTPS")
    assert listener is not None and listener.certificate_thumbprint == thumbprint
    assert listener.hostname == "web01.contoso.test"
    assert first.changes == [
        "changed: HTTPS listener created",
        "changed: firewall rule WINRM-HTTPS-In-TCP created",
    ]
    _assert_second_run_changes_nothing(machine, rendered["subject_run"])


PFX = Path(__file__).parent / "files" / "bootstrap-https-listener.pfx"
PFX_PASSWORD = "Winhost!Pfx1"  # test PKI only
PFX_THUMBPRINT = "831169D2C6BFA017A3951005DF24410D85ABE139"


def _copy_pfx(machine: Machine) -> str:
    target = machine.sandbox() / "Windows" / "Temp" / "listener.pfx"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(PFX.read_bytes())
    return "C:\\Windows\\Temp\\listener.pfx"


@pytest.mark.runs_ps1("bootstrap.thumbprint_run")
def test_certificate_chosen_by_thumbprint(rendered: dict[str, bytes], tmp_path: Path) -> None:
    """enable_psremoting_https_certificate_source: thumbprint (given in lower case with spaces,
    as copied from certlm.msc): the certificate already in Cert:\\LocalMachine\\My becomes the
    HTTPS listener's, its hostname the certificate's first DNS name; a second run changes nothing.
    A thumbprint not in the store stops the script (Get-Item's ItemNotFound under
    $ErrorActionPreference = 'Stop') before any listener exists."""
    machine = _machine("fresh", tmp_path)
    missing = run_local(machine, rendered["thumbprint_run"].decode("utf-8"))
    assert missing.failure is not None
    assert str(missing.failure.Exception.Message) == (
        f"Cannot find path 'Cert:\\LocalMachine\\My\\{PFX_THUMBPRINT}' because it does not exist."
    )
    assert machine.wsman.find_listener("*", "HTTPS") is None
    path = _copy_pfx(machine)
    imported = run_local(
        machine,
        "param($Path, $Password) Import-PfxCertificate -FilePath $Path -CertStoreLocation Cert:\\LocalMachine\\My "
        "-Password (ConvertTo-SecureString -String $Password -AsPlainText -Force) | ForEach-Object Thumbprint",
        {"Path": path, "Password": PFX_PASSWORD},
    )
    assert imported.failure is None, imported.failure_text()
    assert imported.lines == [PFX_THUMBPRINT]
    first = _run(machine, rendered["thumbprint_run"])
    listener = machine.wsman.find_listener("*", "HTTPS")
    assert listener is not None and listener.certificate_thumbprint == PFX_THUMBPRINT
    assert listener.hostname == "web01.contoso.test"
    assert "changed: HTTPS listener created" in first.changes
    _assert_second_run_changes_nothing(machine, rendered["thumbprint_run"])


@pytest.mark.runs_ps1("bootstrap.pfx_run")
def test_certificate_imported_from_pfx(rendered: dict[str, bytes], tmp_path: Path) -> None:
    """enable_psremoting_https_certificate_source: pfx: the script takes -PfxPath and a
    SecureString -PfxPassword, imports the PFX into Cert:\\LocalMachine\\My (Import-PfxCertificate)
    and binds the HTTPS listener to it; a second run imports again and changes nothing else. A
    wrong password stops the script before any listener exists."""
    machine = _machine("fresh", tmp_path)
    path = _copy_pfx(machine)
    script = rendered["pfx_run"].decode("utf-8")
    wrong = run_local(machine, script, {"PfxPath": path, "PfxPassword": PSSecureString("wrong")})
    assert wrong.failure is not None
    assert machine.wsman.find_listener("*", "HTTPS") is None and PFX_THUMBPRINT not in machine.cert_store
    first = run_local(machine, script, {"PfxPath": path, "PfxPassword": PSSecureString(PFX_PASSWORD)})
    assert first.failure is None, first.failure_text()
    listener = machine.wsman.find_listener("*", "HTTPS")
    assert listener is not None and listener.certificate_thumbprint == PFX_THUMBPRINT
    assert machine.cert_store[PFX_THUMBPRINT].key_pem  # imported with its private key
    assert "changed: HTTPS listener created" in first.changes
    again = run_local(machine, script, {"PfxPath": path, "PfxPassword": PSSecureString(PFX_PASSWORD)})
    assert again.failure is None, again.failure_text()
    assert again.changes == [] and not again.winrm_restarted
