"""The enable_psremoting role on the Windows hosts: check mode changes nothing (always runs);
applying it and applying it again (no change the second time) runs only with
PSREMOTING_WINDOWS_ALLOW_CHANGES=1, because it changes the WinRM configuration: HTTPS listener
with a self-signed certificate, firewall rules, auth settings (Basic and CredSSP off)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.windows, pytest.mark.integration]


def _role_play(tmp_path: Path) -> dict[str, Any]:
    return {
        "gather_facts": False,
        "tasks": [
            {
                "name": "Run the role",
                "ansible.builtin.include_role": {"name": "psremoting.core.enable_psremoting"},
                "vars": {
                    "enable_psremoting_certificate_dest": f"{tmp_path}/{{{{ inventory_hostname }}}}.pem",
                    # simulated hosts map the Windows ports to loopback ports; real hosts use 5985/5986
                    "enable_psremoting_verify_https_port": "{{ winhost_https_port | default(5986) }}",
                    "enable_psremoting_verify_http_port": "{{ winhost_http_port | default(5985) }}",
                },
            }
        ],
    }


def _winrm_state(windows_target: Any, tmp_path: Path) -> dict[str, Any]:
    run = windows_target.playbook(
        tmp_path,
        [{"gather_facts": False, "tasks": [{"name": "Read WinRM", "psremoting.core.winrm_info": {}}]}],
    )
    assert run.ok, run.output()
    return {host: result["winrm"] for host, result in run.task("Read WinRM").items()}


def test_role_in_check_mode_changes_nothing(windows_target: Any, tmp_path: Path) -> None:
    before = _winrm_state(windows_target, tmp_path)
    checked = windows_target.playbook(tmp_path, [_role_play(tmp_path)], "--check", "--diff")
    assert checked.ok, checked.output()
    assert _winrm_state(windows_target, tmp_path) == before
    assert not list(tmp_path.glob("*.pem"))


@pytest.mark.usefixtures("changes_allowed")
def test_role_applies_then_changes_nothing(windows_target: Any, tmp_path: Path) -> None:
    applied = windows_target.playbook(tmp_path, [_role_play(tmp_path)])
    assert applied.ok, applied.output()
    for host in windows_target.hosts:
        assert (tmp_path / f"{host}.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    again = windows_target.playbook(tmp_path, [_role_play(tmp_path)])
    assert again.ok, again.output()
    assert {host: again.changed_tasks(host) for host in windows_target.hosts} == {
        host: [] for host in windows_target.hosts
    }
