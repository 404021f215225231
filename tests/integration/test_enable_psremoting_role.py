"""The enable_psremoting role against fresh simulated Windows hosts (winhost).

A fresh host answers HTTP with NTLM only, as a new Windows Server does. The role moves it to HTTPS
with a self-signed certificate, verifies the new endpoint from the controller with that
certificate, and the play then connects over HTTPS validating it. winhost enforces the WinRM
configuration live (listeners, auth methods, AllowUnencrypted, firewall), so what these tests see
is what the configuration allows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_runner import json_report, playbook_env

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
POLICY_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service"


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        out = proc.stdout
        self.report: dict[str, Any] = json_report(out)
        self.stats: dict[str, Any] = self.report.get("stats", {}).get("web01", {})

    @property
    def changed(self) -> int:
        return int(self.stats.get("changed", 0))

    @property
    def failed(self) -> bool:
        return bool(self.stats.get("failures") or self.stats.get("unreachable")) or self.proc.returncode != 0

    def results(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (task["task"]["name"].split(" : ", 1)[-1], task["hosts"]["web01"])
            for play in self.report.get("plays", [])
            for task in play["tasks"]
            if "web01" in task["hosts"]
        ]

    def failure_msg(self) -> str:
        return " | ".join(
            str(r.get("msg")) for _, r in self.results() if r.get("failed") and not r.get("ignore_errors")
        )

    def changed_tasks(self) -> list[str]:
        return [name for name, r in self.results() if r.get("changed")]


def run(hosts: Any, tmp_path: Path, plays: list[dict[str, Any]], *args: str) -> Run:
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = playbook_env(hosts.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", str(hosts.inventory_path), "-e", "ansible_connection=psremoting.core.psrp",
         str(playbook), *args],
        env=env, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )  # fmt: skip
    return Run(proc)


def role_play(role_vars: dict[str, Any], tasks_from: str = "main", **play_vars: Any) -> dict[str, Any]:
    base = {
        # winhost maps the Windows ports 5985/5986 to loopback ports: check those from the controller.
        "enable_psremoting_verify_https_port": "{{ winhost_https_port }}",
        "enable_psremoting_verify_http_port": "{{ winhost_http_port }}",
    }
    return {
        "hosts": "web01",
        "gather_facts": False,
        "vars": dict(play_vars),
        "tasks": [
            {
                "name": "Run the role",
                "ansible.builtin.include_role": {
                    "name": "psremoting.core.enable_psremoting",
                    "tasks_from": tasks_from,
                },
                "vars": dict(base, **role_vars),
            }
        ],
    }


def https_vars(pem: Path, auth: str = "ntlm", **more: Any) -> dict[str, Any]:
    """Connect over the new HTTPS listener.

    The certificate names web01 (and its FQDN) while the inventory reaches winhost by IP address,
    and the connection plugin has no TLS server-name override, so the play itself does not check
    the name; the role's winrm_endpoint_check already validated the same certificate (chain and
    name) from the controller before reporting success.
    """
    return dict(
        ansible_port="{{ winhost_https_port }}",
        ansible_psrp_protocol="https",
        ansible_psrp_cert_validation="ignore",
        ansible_psrp_ca_cert=str(pem),
        ansible_psrp_auth=auth,
        **more,
    )


def info_play(**play_vars: Any) -> dict[str, Any]:
    return {
        "hosts": "web01",
        "gather_facts": False,
        "vars": dict(play_vars),
        "tasks": [{"name": "Read WinRM", "psremoting.core.winrm_info": {"gather": ["service", "listeners"]}}],
    }


def test_fresh_host_to_https_check_apply_idempotent_basic(winhost_factory: Any, tmp_path: Path) -> None:
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    pem = tmp_path / "web01.pem"
    role_vars = {"enable_psremoting_certificate_dest": str(pem)}

    before = run(hosts, tmp_path, [info_play()])
    assert not before.failed, before.proc.stdout[-3000:]

    # 1. Check mode reports the change and changes nothing.
    checked = run(hosts, tmp_path, [role_play(role_vars)], "--check", "--diff")
    assert not checked.failed, checked.failure_msg() or checked.proc.stdout[-3000:]
    assert "HTTPS listener" in checked.changed_tasks()
    after_check = run(hosts, tmp_path, [info_play()])
    assert after_check.results()[0][1]["winrm"] == before.results()[0][1]["winrm"]
    assert not pem.exists()

    # 2. Apply: HTTPS listener with a self-signed certificate, verified from the controller.
    applied = run(hosts, tmp_path, [role_play(role_vars)])
    assert not applied.failed, applied.failure_msg() or applied.proc.stdout[-3000:]
    assert {"HTTPS listener", "Firewall rules for HTTPS"} <= set(applied.changed_tasks())
    verified = dict(applied.results())[
        "The HTTPS endpoint answers, its certificate validates and it offers the expected auth"
    ]
    assert verified["status"] == 401 and "Basic" not in verified["auth_methods"]
    assert pem.read_text().startswith("-----BEGIN CERTIFICATE-----")

    # 3. The play now connects over HTTPS.
    over_https = run(hosts, tmp_path, [info_play(**https_vars(pem))])
    assert not over_https.failed, over_https.proc.stdout[-3000:] + over_https.proc.stderr[-2000:]
    listeners = over_https.results()[0][1]["winrm"]["listeners"]
    assert sorted(lst["transport"] for lst in listeners) == ["HTTP", "HTTPS"]

    # 4. Apply again (over HTTPS this time): no change.
    again = run(hosts, tmp_path, [role_play(role_vars, **https_vars(pem))])
    assert not again.failed, again.failure_msg()
    assert again.changed == 0, again.changed_tasks()

    # 5. Basic is refused until enabled; then offered and usable over HTTPS only.
    basic_https = https_vars(pem, auth="basic")
    refused = run(hosts, tmp_path, [info_play(**basic_https)])
    assert refused.failed
    enabled = run(
        hosts, tmp_path, [role_play(dict(role_vars, enable_psremoting_auth_basic=True), **https_vars(pem))]
    )
    assert not enabled.failed, enabled.failure_msg()
    assert "WinRM service settings, start mode and state" in enabled.changed_tasks()
    assert not run(hosts, tmp_path, [info_play(**basic_https)]).failed
    basic_http = run(
        hosts, tmp_path, [info_play(ansible_psrp_auth="basic", ansible_psrp_message_encryption="never")]
    )
    assert basic_http.failed, "Basic over HTTP must fail while AllowUnencrypted is false"


def test_disabling_transport_in_use_is_refused(winhost_factory: Any, tmp_path: Path) -> None:
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    # Connected over HTTP: dropping the HTTP listener is refused before anything changes.
    refused = run(hosts, tmp_path, [role_play({"enable_psremoting_http_listener": False})])
    assert refused.failed
    assert "refuses to remove or disable what this play is connected through (HTTP" in refused.failure_msg()
    assert refused.changed == 0
    refused_basic = run(hosts, tmp_path, [role_play({}, ansible_psrp_auth="basic")])
    assert refused_basic.failed  # Basic is off on a fresh host; the play cannot even connect with it
    disable = run(hosts, tmp_path, [role_play({"enable_psremoting_disable_transports": ["http"]}, "disable")])
    assert disable.failed and "refuses to remove" in disable.failure_msg()
    listeners = run(hosts, tmp_path, [info_play()]).results()[0][1]["winrm"]["listeners"]
    assert [lst["transport"] for lst in listeners] == ["HTTP"]


def test_gpo_locked_setting_fails_clearly(winhost_factory: Any, tmp_path: Path) -> None:
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    set_policy = {
        "hosts": "web01",
        "gather_facts": False,
        "tasks": [
            {"psremoting.core.invoke_command": {"command": "New-Item", "parameters": {"Path": POLICY_KEY, "Force": True}}},
            {"psremoting.core.invoke_command": {"command": "New-ItemProperty", "parameters": {
                "Path": POLICY_KEY, "Name": "AllowUnencryptedTraffic", "PropertyType": "DWord", "Value": 1,
                "Force": True}}},
        ],
    }  # fmt: skip
    assert not run(hosts, tmp_path, [set_policy]).failed
    result = run(hosts, tmp_path, [role_play({})])
    assert result.failed
    msg = result.failure_msg()
    assert "allow_unencrypted" in msg and "Group Policy" in msg and "AllowUnencryptedTraffic = 1" in msg
    assert "Allow unencrypted traffic" in msg
    assert result.changed == 0


def test_disable_http_over_https_and_token_filter_policy(winhost_factory: Any, tmp_path: Path) -> None:
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    pem = tmp_path / "web01.pem"
    first = run(
        hosts,
        tmp_path,
        [role_play({"enable_psremoting_certificate_dest": str(pem),
                    "enable_psremoting_local_account_token_filter_policy": True})],
    )  # fmt: skip
    assert not first.failed, first.failure_msg()
    assert (
        "Set LocalAccountTokenFilterPolicy (remote UAC filtering of local administrators)"
        in first.changed_tasks()
    )
    read_policy = {
        "hosts": "web01",
        "gather_facts": False,
        "tasks": [{"psremoting.core.invoke_command": {"command": "Get-ItemProperty", "parameters": {
            "Path": "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System",
            "Name": "LocalAccountTokenFilterPolicy"}}}],
    }  # fmt: skip
    policy = run(hosts, tmp_path, [read_policy]).results()[0][1]
    assert policy["output"][0]["LocalAccountTokenFilterPolicy"] == 1

    # Connected over HTTPS, the disable entry point may remove HTTP.
    disabled = run(
        hosts,
        tmp_path,
        [role_play({"enable_psremoting_disable_transports": ["http"]}, "disable", **https_vars(pem))],
    )
    assert not disabled.failed, disabled.failure_msg()
    assert {"Remove firewall rules", "Remove listeners"} <= set(disabled.changed_tasks())
    listeners = run(hosts, tmp_path, [info_play(**https_vars(pem))]).results()[0][1]["winrm"]["listeners"]
    assert [lst["transport"] for lst in listeners] == ["HTTPS"]
    over_http = run(hosts, tmp_path, [info_play()])
    assert over_http.failed  # nothing serves HTTP any more
    again = run(
        hosts,
        tmp_path,
        [role_play({"enable_psremoting_disable_transports": ["http"]}, "disable", **https_vars(pem))],
    )
    assert not again.failed and again.changed == 0, again.changed_tasks()


def test_ca_issued_certificate_by_subject_validated_end_to_end(winhost_factory: Any, tmp_path: Path) -> None:
    """A machine certificate from the (winhost) enterprise CA, picked by subject: the role verifies it
    against the CA bundle, and the play then connects over HTTPS with full validation (chain, name
    and IP address), no pinning needed."""
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    role_vars = {
        "enable_psremoting_https_certificate_source": "subject",
        "enable_psremoting_https_certificate_subject": "CN=web01.winhost.test",
        "enable_psremoting_verify_ca_path": "{{ winhost_ca_cert }}",
        "enable_psremoting_http_listener": True,
    }
    applied = run(hosts, tmp_path, [role_play(role_vars)])
    assert not applied.failed, applied.failure_msg()
    listener = dict(applied.results())["HTTPS listener"]
    assert listener["certificate_created"] is False
    assert listener["certificate"]["subject"] == "CN=web01.winhost.test"
    validated = {
        "ansible_port": "{{ winhost_https_port }}",
        "ansible_psrp_protocol": "https",
        "ansible_psrp_cert_validation": "validate",
        "ansible_psrp_ca_cert": "{{ winhost_ca_cert }}",
    }
    over_https = run(hosts, tmp_path, [info_play(**validated)])
    assert not over_https.failed, over_https.proc.stdout[-2000:]
    again = run(hosts, tmp_path, [role_play(role_vars, **validated)])
    assert not again.failed and again.changed == 0, again.changed_tasks()


def _make_pfx(path: Path, password: str, names: list[str]) -> str:
    """A PFX with a self-signed server certificate (and its PEM next to it); returns its thumbprint."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"web01", key, cert, None, serialization.BestAvailableEncryption(password.encode())
        )
    )
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def test_pfx_from_controller(winhost_factory: Any, tmp_path: Path) -> None:
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    pfx = tmp_path / "web01.pfx"
    thumbprint = _make_pfx(pfx, "S3cret!pfx", ["web01", "web01.winhost.test"])
    role_vars = {
        "enable_psremoting_https_certificate_source": "pfx",
        "enable_psremoting_https_pfx_file": str(pfx),
        "enable_psremoting_https_pfx_password": "S3cret!pfx",
        "enable_psremoting_verify_server_name": "web01",
        "enable_psremoting_verify_ca_path": str(tmp_path / "web01.pem"),
    }
    applied = run(hosts, tmp_path, [role_play(role_vars)])
    assert "S3cret!pfx" not in applied.proc.stdout + applied.proc.stderr
    assert not applied.failed, applied.failure_msg()
    assert dict(applied.results())["HTTPS listener"]["listener"]["certificate_thumbprint"] == thumbprint
    again = run(hosts, tmp_path, [role_play(role_vars)])
    assert not again.failed and "Import the PFX into Cert:\\LocalMachine\\My" not in again.changed_tasks()


def test_all_session_configurations_like_enable_psremoting(winhost_factory: Any, tmp_path: Path) -> None:
    """By default only Microsoft.PowerShell is managed; enable_psremoting_all_session_configurations
    enables every session configuration, as Enable-PSRemoting does, and the second run changes
    nothing."""
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    machine = hosts.machine("web01")
    workflow = machine.session_configurations["microsoft.powershell.workflow"]
    workflow.enabled = False  # as Disable-PSSessionConfiguration leaves it
    pem = tmp_path / "web01.pem"
    base = {"enable_psremoting_certificate_dest": str(pem)}
    default = run(hosts, tmp_path, [role_play(base)])
    assert not default.failed, default.failure_msg()
    assert not workflow.enabled
    every = dict(base, enable_psremoting_all_session_configurations=True)
    first = run(hosts, tmp_path, [role_play(every, **https_vars(pem))])
    assert not first.failed, first.failure_msg()
    assert (
        "Enable every session configuration for remote use, as Enable-PSRemoting does"
        in first.changed_tasks()
    )
    assert all(sc.enabled for sc in machine.session_configurations.values())
    again = run(hosts, tmp_path, [role_play(every, **https_vars(pem))])
    assert not again.failed and again.changed == 0, again.changed_tasks()


@pytest.mark.runs_ps1("role.local_account_token_filter_policy")
def test_token_filter_policy_reports_its_diff(winhost_factory: Any, tmp_path: Path) -> None:
    """Issue 23: the LocalAccountTokenFilterPolicy change shows a diff; check mode changes nothing."""
    hosts = winhost_factory.start(hosts="web01", preset="fresh")
    machine = hosts.machine("web01")
    key = machine.registry["HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"]
    assert "LocalAccountTokenFilterPolicy" not in key
    role_vars = {"enable_psremoting_local_account_token_filter_policy": True}
    task = "Set LocalAccountTokenFilterPolicy (remote UAC filtering of local administrators)"
    checked = run(hosts, tmp_path, [role_play(role_vars, "sessions")], "--check", "--diff")
    assert not checked.failed, checked.failure_msg() or checked.proc.stdout[-3000:]
    result = dict(checked.results())[task]
    assert result["changed"] and result["diff"] == {
        "before": {"LocalAccountTokenFilterPolicy": None},
        "after": {"LocalAccountTokenFilterPolicy": 1},
    }
    assert "LocalAccountTokenFilterPolicy" not in key
    applied = run(hosts, tmp_path, [role_play(role_vars, "sessions")])
    assert not applied.failed and task in applied.changed_tasks(), applied.failure_msg()
    assert key["LocalAccountTokenFilterPolicy"].value == 1
    again = run(hosts, tmp_path, [role_play(role_vars, "sessions")], "--diff")
    assert not again.failed and task not in again.changed_tasks()
    off = run(
        hosts,
        tmp_path,
        [role_play({"enable_psremoting_local_account_token_filter_policy": False}, "sessions")],
    )
    assert dict(off.results())[task]["diff"]["before"] == {"LocalAccountTokenFilterPolicy": 1}
    assert key["LocalAccountTokenFilterPolicy"].value == 0
