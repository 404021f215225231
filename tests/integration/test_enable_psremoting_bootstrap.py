"""The role's `bootstrap` entry point renders a PowerShell script that parses, for several variable sets.

Runs ansible-playbook on the controller only (no Windows host needed): the entry point's argument
spec is validated, the template rendered, and the result parsed with tree-sitter-powershell; any
ERROR or MISSING node fails. Hostile values must stay inside string literals: the only commands in
the script are the ones the template writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
HOSTILE = "x'; Remove-Item -Recurse -Force C:\\ ; 'y"
HOSTILE_TYPOGRAPHIC = "a\u2019; Stop-Computer -Force; \u2018b"

VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "thumbprint_no_http_quotas": {
        "enable_psremoting_http_listener": False,
        "enable_psremoting_https_certificate_source": "thumbprint",
        "enable_psremoting_https_certificate_thumbprint": "ab" * 20,
        "enable_psremoting_max_envelope_size_kb": 8192,
        "enable_psremoting_idle_timeout_ms": 600000,
        "enable_psremoting_local_account_token_filter_policy": True,
        "enable_psremoting_firewall_profiles": ["domain"],
    },
    "pfx_basic_trusted_hosts": {
        "enable_psremoting_https_certificate_source": "pfx",
        "enable_psremoting_https_pfx_file": "/nonexistent.pfx",
        "enable_psremoting_auth_basic": True,
        "enable_psremoting_trusted_hosts": ["db01", HOSTILE],
        "enable_psremoting_trusted_hosts_mode": "replace",
    },
    "subject_hostile_values": {
        "enable_psremoting_https_certificate_source": "subject",
        "enable_psremoting_https_certificate_subject": HOSTILE,
        "enable_psremoting_https_certificate_issuer": HOSTILE_TYPOGRAPHIC,
        "enable_psremoting_self_signed_dns_names": [HOSTILE],
        "enable_psremoting_https_hostname": HOSTILE_TYPOGRAPHIC,
        "enable_psremoting_firewall_remote_address": [HOSTILE],
        "enable_psremoting_session_configurations": [{"name": HOSTILE, "enabled": False}],
        "enable_psremoting_trusted_hosts": [HOSTILE_TYPOGRAPHIC],
    },
    "self_signed_names_no_https": {
        "enable_psremoting_self_signed_dns_names": ["web01", "web01.contoso.test"],
        "enable_psremoting_https_listener": False,
        "enable_psremoting_firewall": False,
    },
}
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
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("bootstrap")
    inventory = {"all": {"hosts": {}}}
    for name, variables in VARIANTS.items():
        inventory["all"]["hosts"][name] = dict(
            variables,
            ansible_connection="local",
            ansible_python_interpreter=sys.executable,
            enable_psremoting_bootstrap_script_dest=str(work / f"{name}.ps1"),
        )
    (work / "inventory.json").write_text(json.dumps(inventory))
    (work / "play.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: psremoting.core.enable_psremoting\n"
        "        tasks_from: bootstrap\n"
    )
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(work / "inventory.json"), str(work / "play.yml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {name: (work / f"{name}.ps1").read_bytes() for name in VARIANTS}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_script_parses_and_runs_only_template_commands(rendered: dict[str, bytes], variant: str) -> None:
    source = rendered[variant]
    problems, commands = parse_problems(source)
    assert problems == [], "\n".join(problems)
    assert commands <= EXPECTED_COMMANDS, commands - EXPECTED_COMMANDS


def test_variants_differ_where_they_should(rendered: dict[str, bytes]) -> None:
    default = rendered["defaults"].decode()
    assert "New-SelfSignedCertificate" in default and "-KeyLength 4096" in default
    assert "'WSMan:\\localhost\\Service\\Auth\\Basic'             = $false" in default
    assert "MaxEnvelopeSizekb" not in default
    thumb = rendered["thumbprint_no_http_quotas"].decode()
    assert "'" + "AB" * 20 + "'" in thumb
    assert "'WSMan:\\localhost\\MaxEnvelopeSizekb'              = 8192" in thumb
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
