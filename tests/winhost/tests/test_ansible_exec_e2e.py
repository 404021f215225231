"""End to end: ansible-core's own ansible.builtin.psrp runs ansible.windows modules against winhost.

The whole stack is real on the client side (ansible-playbook, pypsrp, NTLM over HTTPS with the
winhost CA); winhost answers the exec wrapper, put_file and fetch_file from its machine model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.winhost(hosts="win01", preset="configured"),
]

PLAYBOOK = r"""
- hosts: windows
  gather_facts: true
  vars:
    ansible_connection: ansible.builtin.psrp
  tasks:
    - ansible.windows.win_file: {path: 'C:\Temp\dir with space', state: directory}
      register: f1
    - ansible.windows.win_copy: {content: "hello ünïcode\n", dest: 'C:\Temp\dir with space\f.txt'}
      register: c1
    - ansible.windows.win_copy: {content: "hello ünïcode\n", dest: 'C:\Temp\dir with space\f.txt'}
      register: c2
    - ansible.windows.win_stat: {path: 'C:\Temp\dir with space\f.txt'}
      register: s1
    - ansible.builtin.fetch: {src: 'C:\Temp\dir with space\f.txt', dest: "{{ out_dir }}/", flat: true}
    - ansible.windows.win_service: {name: Spooler, state: stopped}
      register: svc
    - ansible.windows.win_shell: "Write-Output 'from shell'"
      register: sh
    - ansible.windows.win_command: hostname.exe
      register: cmd
    - ansible.builtin.raw: Write-Output 'raw hi'
      register: raw
    - ansible.builtin.script: "{{ script_path }} a1"
      register: scr
    - ansible.builtin.debug: {var: results}
      vars:
        results:
          facts: [ "{{ ansible_hostname }}", "{{ ansible_os_family }}", "{{ ansible_powershell_version }}" ]
          changed: ["{{ f1.changed }}", "{{ c1.changed }}", "{{ c2.changed }}"]
          size: "{{ s1.stat.size }}"
          checksum: "{{ s1.stat.checksum }}"
          service: "{{ svc.state }}"
          shell: "{{ sh.stdout }}"
          command: "{{ cmd.stdout }}"
          raw: "{{ raw.stdout }}"
          script: "{{ scr.stdout }}"
"""


def _ansible(tool: str) -> str:
    path = Path(sys.executable).with_name(tool)
    found = str(path) if path.exists() else shutil.which(tool)
    if not found:
        pytest.skip(f"{tool} is not installed in this environment")
    return found


def test_win_ping_adhoc(winhost) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [_ansible("ansible"), "-i", str(winhost.inventory_path), "windows", "-m", "ansible.windows.win_ping",
         "-e", "ansible_connection=ansible.builtin.psrp"],
        env={**os.environ, **winhost.env}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"ping": "pong"' in result.stdout


def test_playbook_modules_and_transfers(winhost, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    playbook = tmp_path / "pb.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    script = tmp_path / "s.ps1"
    script.write_text('Write-Output "script $($args[0])"\n', encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = subprocess.run(
        [_ansible("ansible-playbook"), "-i", str(winhost.inventory_path), str(playbook),
         "-e", f"out_dir={out_dir}", "-e", f"script_path={script}"],
        env={**os.environ, **winhost.env, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    data = report["plays"][0]["tasks"][-1]["hosts"]["win01"]["results"]
    # ansible templates to native types: compare as strings to stay independent of that
    assert [str(v) for v in data["facts"]] == ["WIN01", "Windows", "5"]
    assert [str(v) for v in data["changed"]] == ["True", "True", "False"]
    assert str(data["size"]) == str(len("hello ünïcode\n".encode()))
    assert data["service"] == "stopped"
    assert data["shell"] == "from shell\r\n"
    assert data["command"] == "WIN01\r\n"
    assert data["raw"] == "raw hi"
    assert data["script"] == "script a1"
    assert (out_dir / "f.txt").read_text(encoding="utf-8") == "hello ünïcode\n"
    machine = winhost.machine("win01")
    assert machine.services["Spooler"].status == "Stopped"
