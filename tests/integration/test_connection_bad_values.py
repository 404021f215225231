"""Connection option values ansible-core itself refuses (a wrong type, a value outside an option's
``choices``) fail the task with our message: the host, the option, the variable the inventory set
(``ansible_psrp_*`` or ``ansible_winrm_*``), the value (never a secret's or a vaulted one), what is
accepted and the fix; no traceback at -vvvv, and nothing is sent to the host.

One ansible-playbook run covers every case: each inventory host is dc01 (same address and port)
with one bad value, so winhost's dc01 counters show whether any of them sent a request. The first
play reaches them one-to-many (invoke_command computer_name on localhost), where the options are
read through ``invoke/_targets.py``; the second runs a task on each, through the connection's
``set_options``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from playbook_runner import playbook_env, run_playbook

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01")]

PASSWORD_IN_LIST = "Lst-Secret-51a7"  # test-only values that must never appear in any output
KEY_PASSWORD = "Key-Secret-0c3e"
VAULTED = "vaulted-9d41-not-a-number"
VAULT_PASSWORD = "vault-pw-for-the-test"

# host -> (variables replacing dc01's, expected message parts)
CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "psrp_type": (
        {"ansible_psrp_connection_timeout": "abc"},
        [
            "option 'connection_timeout' (variable ansible_psrp_connection_timeout) must be an integer",
            "got 'abc'",
            "set ansible_psrp_connection_timeout to a whole number",
        ],
    ),
    "psrp_choice": (
        {"ansible_psrp_auth": "bogus"},
        [
            "option 'auth' (variable ansible_psrp_auth)",
            "must be one of basic, certificate, negotiate, kerberos, ntlm, credssp, got 'bogus'",
            "set ansible_psrp_auth to one of these",
        ],
    ),
    "psrp_cert_validation": (
        {"ansible_psrp_cert_validation": "maybe"},
        [
            "option 'cert_validation' (variable ansible_psrp_cert_validation)",
            "must be one of validate, ignore, got 'maybe'",
        ],
    ),
    "psrp_port_range": (  # ansible-core takes any integer; the range is our own check
        {"ansible_psrp_port": 70000},
        ["option 'port' (variable ansible_psrp_port) must be between 1 and 65535, got 70000"],
    ),
    "winrm_choice": (  # the psrp variable would win: a winrm inventory does not set it
        {"ansible_psrp_protocol": None, "ansible_winrm_scheme": "ftp"},
        [
            "option 'protocol' (variable ansible_winrm_scheme) must be one of http, https, got 'ftp'",
            "set ansible_winrm_scheme to one of these",
        ],
    ),
    "winrm_type": (
        {"ansible_winrm_connection_timeout": [30]},
        [
            "option 'winrm_connection_timeout' (variable ansible_winrm_connection_timeout) must be an integer",
            "got a list [30]",
            "set ansible_winrm_connection_timeout to a whole number",
        ],
    ),
    "secret_type": (
        {"ansible_password": ["x", PASSWORD_IN_LIST]},
        [
            "option 'remote_password' (variable ansible_password) must be a string",
            "got a list (the value of a secret option is not shown)",
            "set ansible_password to",
        ],
    ),
    "key_secret_type": (
        {"ansible_psrp_certificate_key_password": {"k": KEY_PASSWORD}},
        [
            "option 'certificate_key_password' (variable ansible_psrp_certificate_key_password) must be a string",
            "got a mapping (the value of a secret option is not shown)",
        ],
    ),
    "vaulted": (  # its value is set in host_vars/vaulted.yml, encrypted
        {},
        [
            "option 'operation_timeout' (variable ansible_psrp_operation_timeout) must be an integer",
            "got a vaulted value (not shown)",
        ],
    ),
}


def _inventory(winhost: Any, tmp_path: Path) -> Path:
    hosts = {}
    for name, (overrides, _parts) in CASES.items():
        host = winhost.hostvars("dc01")
        host.update(overrides)
        hosts[name] = {k: v for k, v in host.items() if v is not None}
    path = tmp_path / "inventory.yml"
    group = {
        "hosts": hosts,
        "vars": {"ansible_connection": "psremoting.core.psrp", "ansible_shell_type": "powershell"},
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"bad": group}}}), encoding="utf-8")
    secret = VaultSecret(VAULT_PASSWORD.encode())
    ciphertext = VaultLib([("default", secret)]).encrypt(VAULTED, secret).decode()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "vaulted.yml").write_text(
        "ansible_psrp_operation_timeout: !vault |\n"
        + "".join(f"  {line}\n" for line in ciphertext.splitlines()),
        encoding="utf-8",
    )
    return path


def test_values_ansible_core_refuses_fail_with_our_message(winhost: Any, tmp_path: Path) -> None:
    inventory = _inventory(winhost, tmp_path)
    vault_file = tmp_path / "vault-password"
    vault_file.write_text(VAULT_PASSWORD, encoding="utf-8")
    playbook = tmp_path / "pb.yml"
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "one_to_many",
                    "psremoting.core.invoke_command": {
                        "script": "Write-Output 1",
                        "computer_name": "{{ groups['bad'] }}",
                        "fail_on": "never",
                    },
                }
            ],
        },
        {"hosts": "bad", "gather_facts": False, "tasks": [{"name": "per_host", "raw": "Write-Output 1"}]},
    ]
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    winhost.reset_stats("dc01")
    rc, data, out = run_playbook(
        inventory,
        playbook,
        "-vvvv",
        "--forks",
        "10",
        "--vault-password-file",
        str(vault_file),
        env=playbook_env(winhost.env),
        timeout=300,
    )
    assert rc != 0, out
    one_to_many = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    per_host = data["plays"][1]["tasks"][0]["hosts"]
    assert not one_to_many.get("failed"), one_to_many
    for name, (_overrides, parts) in CASES.items():
        result, target = per_host[name], one_to_many["hosts"][name]
        # failed (like the connection's own option checks), not unreachable
        assert result.get("failed") is True and not result.get("unreachable"), json.dumps(result)
        assert target["status"] == "failed", target
        for msg in (result["msg"], target["msg"]):
            assert "psrp connection to '127.0.0.2': " in msg, msg
            for part in parts:
                assert part in msg, f"{name}: {part!r} not in {msg!r}"
    for secret in (PASSWORD_IN_LIST, KEY_PASSWORD, VAULTED):
        assert secret not in out
    assert "Traceback" not in out and "Config '" not in out and "Invalid value" not in out
    assert winhost.stats("dc01")["http_requests"] == 0, json.dumps(winhost.stats("dc01"))
