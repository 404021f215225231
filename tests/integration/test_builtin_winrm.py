"""ansible.builtin.winrm (pywinrm over WinRS cmd shells) runs unchanged against winhost: raw,
win_ping, script, put_file (win_copy) and fetch_file (fetch), over HTTP with NTLM message
encryption and over HTTPS with the winhost CA validated. This is the second client of winhost
besides PSRP, and the anchor bench/ compares with. The same winrm inventory then runs on
psremoting.core.psrp with only ansible_connection changed."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_runner import playbook_env
from playbook_runner import run_playbook as run_ansible_playbook

pytest.importorskip("winrm", reason="pywinrm is in test-requirements.txt")

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01", preset="configured")]


def winrm_inventory(winhost: Any, path: Path, scheme: str) -> Path:
    hv = winhost.hostvars("dc01")
    host = {
        "ansible_connection": "winrm",
        "ansible_host": hv["ansible_host"],
        "ansible_user": hv["ansible_user"],
        "ansible_password": hv["ansible_password"],
        "ansible_winrm_transport": "ntlm",
        "ansible_winrm_scheme": scheme,
    }
    if scheme == "https":
        host.update(ansible_port=hv["winhost_https_port"], ansible_winrm_ca_trust_path=hv["winhost_ca_cert"])
    else:
        host.update(ansible_port=hv["winhost_http_port"], ansible_winrm_message_encryption="always")
    path.write_text(yaml.safe_dump({"all": {"hosts": {"dc01": host}}}), encoding="utf-8")
    return path


def run_playbook(
    winhost: Any,
    inventory: Path,
    tmp_path: Path,
    tasks: str,
    *,
    extra_env: dict[str, str] | None = None,
    verbosity: int = 0,
) -> tuple[int, dict[str, Any], str]:
    pb = tmp_path / "pb.yml"
    pb.write_text(
        "- hosts: dc01\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    "),
        encoding="utf-8",
    )
    verbose = ["-" + "v" * verbosity] if verbosity else []
    return run_ansible_playbook(
        inventory, pb, *verbose, env=playbook_env(winhost.env, **(extra_env or {})), timeout=300
    )


def results(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [task["hosts"]["dc01"] for play in data["plays"] for task in play["tasks"]]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_raw_ping_script_put_and_fetch(winhost: Any, tmp_path: Path, scheme: str) -> None:
    script = tmp_path / "greet.ps1"
    script.write_text('param($Name) Write-Output "hello $Name"; exit 3\n', encoding="utf-8")
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 3000)  # 768 000 bytes: several put_file stdin chunks
    fetched = tmp_path / "fetched.bin"
    winhost.reset_stats("dc01")
    rc, data, output = run_playbook(
        winhost,
        winrm_inventory(winhost, tmp_path / "inventory.yml", scheme),
        tmp_path,
        f"""
        - ansible.builtin.raw: Write-Output "raw on $env:COMPUTERNAME"; $host.UI.WriteErrorLine('to-stderr')
        - ansible.windows.win_ping:
        - ansible.builtin.script: {script} -Name winrm
          ignore_errors: true
        - ansible.windows.win_copy:
            src: {payload}
            dest: C:\\Windows\\Temp\\payload-{scheme}.bin
        - ansible.builtin.fetch:
            src: C:\\Windows\\Temp\\payload-{scheme}.bin
            dest: {fetched}
            flat: true
        """,
    )
    assert rc == 0, output
    raw, ping, script_result, copy, fetch = results(data)
    assert raw["stdout"] == "raw on DC01\r\n"
    assert "to-stderr" in raw["stderr"]
    assert raw["rc"] == 0
    assert ping["ping"] == "pong"
    assert script_result["rc"] == 3
    assert script_result["stdout"] == "hello winrm\r\n"
    assert copy["changed"] is True
    assert fetch["changed"] is True
    assert fetched.read_bytes() == payload.read_bytes()
    stats = winhost.stats("dc01")
    # ansible.builtin.winrm keeps one cmd shell per task connection and runs each step as a command.
    assert stats["shells_open"] == 0
    assert stats["wsman_requests"]["Command"] >= 5
    assert stats["wsman_requests"]["Send"] >= 3  # module payloads and the put_file chunks travel as stdin


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_same_inventory_on_psremoting_connection(winhost: Any, tmp_path: Path, scheme: str) -> None:
    """A winrm inventory moved over by changing only ansible_connection (docs/connection.md,
    "Moving from ansible.builtin.winrm"): the ansible_winrm_* variables configure the PSRP
    connection; the ones without a PSRP meaning are noted at -v."""
    inventory = winrm_inventory(winhost, tmp_path / "inventory.yml", scheme)
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    host = data["all"]["hosts"]["dc01"]
    host.update(ansible_connection="psremoting.core.psrp", ansible_winrm_kinit_mode="managed")
    inventory.write_text(yaml.safe_dump(data), encoding="utf-8")
    payload = tmp_path / "payload.txt"
    payload.write_text("moved over\n", encoding="utf-8")
    fetched = tmp_path / "fetched.txt"
    winhost.reset_stats("dc01")
    session_dir = tempfile.mkdtemp(prefix="winrmpsrp-", dir="/tmp")
    rc, data, output = run_playbook(
        winhost,
        inventory,
        tmp_path,
        f"""
        - ansible.builtin.raw: Write-Output "psrp on $env:COMPUTERNAME"
        - ansible.windows.win_ping:
        - ansible.windows.win_copy:
            src: {payload}
            dest: C:\\Windows\\Temp\\moved-{scheme}.txt
        - ansible.builtin.fetch:
            src: C:\\Windows\\Temp\\moved-{scheme}.txt
            dest: {fetched}
            flat: true
        """,
        extra_env={"ANSIBLE_PSRP_SESSION_DIR": session_dir},
        verbosity=1,
    )
    assert rc == 0, output
    raw, ping, copy, fetch = results(data)
    assert raw["stdout_lines"] == ["psrp on DC01"]
    assert ping["ping"] == "pong"
    assert copy["changed"] is True and fetch["changed"] is True
    assert fetched.read_text(encoding="utf-8") == "moved over\n"
    assert "ansible_winrm_kinit_mode is accepted and ignored" in output
    stats = winhost.stats("dc01")
    # PSRP: one PowerShell shell kept by the broker for the whole play, no WinRS cmd shell per task
    assert stats["shells_created"] == 1, stats
