"""Enter-PSSession console against winhost, driven through a pseudo-terminal (pexpect)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

pytestmark = pytest.mark.winhost(hosts="dc01,web01", preset="configured")

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "tools" / "enter-pssession"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PROMPT = r"\[dc01\]: PS [^\r\n]*> "


def start(
    winhost: Any, tmp_path: Path, *extra: str, host: str = "dc01", inventory: Path | None = None
) -> Any:
    child = pexpect.spawn(
        sys.executable,
        [str(LAUNCHER), "-i", str(inventory or winhost.inventory_path), host,
         "--history-file", str(tmp_path / "history"), *extra],
        env=winhost.env,
        encoding="utf-8",
        timeout=180,  # each prompt; generous for a loaded CI machine
        dimensions=(50, 200),
    )  # fmt: skip
    return child


def run(child: Any, line: str, prompt: str = PROMPT) -> str:
    """Type ``line``; return what was printed before the next prompt (ANSI removed)."""
    child.sendline(line)
    child.expect(prompt)
    text: str = ANSI.sub("", child.before)
    return text.replace("\r\n", "\n")


def wait_for_no_shells(winhost: Any, host: str = "dc01", timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while True:
        shells = int(winhost.stats(host)["shells_open"])
        if shells == 0 or time.monotonic() > deadline:
            return shells
        time.sleep(0.1)


def test_session_state_output_ctrl_c_and_exit(winhost: Any, tmp_path: Path) -> None:
    assert wait_for_no_shells(winhost) == 0
    winhost.reset_stats("dc01")
    child = start(winhost, tmp_path)
    child.expect(r"\[dc01\]: PS C:\\Users\\vagrant> ")
    assert int(winhost.stats("dc01")["shells_open"]) == 1

    table = run(child, "Get-Service W32time").splitlines()
    header = next(i for i, line in enumerate(table) if line.split() == ["Status", "Name", "DisplayName"])
    assert table[header + 1].split() == ["------", "----", "-----------"]
    assert table[header + 2].split()[:2] in (["Running", "W32time"], ["Stopped", "W32time"])

    run(child, "$x = 5")
    assert run(child, "$x").split("\n")[-2:] == ["5", ""]
    run(child, r"Set-Location C:\Windows", prompt=r"\[dc01\]: PS C:\\Windows> ")

    child.sendline("function Get-Twice {")
    child.expect(">> ")
    child.sendline("  param($n) $n * 2")
    child.expect(">> ")
    assert "12" in run(child, "}; Get-Twice 6")

    err = run(child, "Write-Warning 'careful'; Get-Service nope")
    assert "WARNING: careful" in err
    assert "Cannot find any service with service name 'nope'." in err
    assert "FullyQualifiedErrorId : NoServiceFoundForGivenName" in err

    commands = winhost.stats("dc01")["wsman_requests"].get("Command", 0)
    child.sendline("Start-Sleep -Seconds 600")
    deadline = time.monotonic() + 120
    while winhost.stats("dc01")["wsman_requests"].get("Command", 0) == commands:  # until it runs
        assert time.monotonic() < deadline, "Start-Sleep never reached the host"
        time.sleep(0.1)
    started = time.monotonic()
    child.sendintr()
    child.expect(r"\[dc01\]: PS C:\\Windows> ", timeout=300)
    stopped_after = time.monotonic() - started
    assert stopped_after < 300, stopped_after  # stopped: far below the 600 s it would sleep
    assert run(child, "$x + 1").split("\n")[-2:] == ["6", ""]  # same runspace after Ctrl-C

    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert wait_for_no_shells(winhost) == 0
    stats = winhost.stats("dc01")
    assert stats["wsman_requests"]["Delete"] == 1
    assert stats["wsman_requests"]["Signal"] >= 1  # the Ctrl-C

    history = [json.loads(line) for line in (tmp_path / "history").read_text().splitlines()]
    assert "Get-Service W32time" in history
    assert "function Get-Twice {\n  param($n) $n * 2\n}; Get-Twice 6" in history
    assert "exit" not in history


def test_ctrl_c_at_prompt_clears_line_and_ctrl_d_leaves(winhost: Any, tmp_path: Path) -> None:
    assert wait_for_no_shells(winhost) == 0
    child = start(winhost, tmp_path)
    child.expect(PROMPT)
    child.send("Get-Service W32ti")
    child.expect("W32ti")  # the line editor has echoed the text, as a person would see it
    child.sendintr()
    child.expect(PROMPT)
    assert "Get-Twice" not in run(child, "'after'")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert wait_for_no_shells(winhost) == 0


def test_read_host_answers_from_terminal_and_never_in_history(winhost: Any, tmp_path: Path) -> None:
    child = start(winhost, tmp_path)
    child.expect(PROMPT)
    child.sendline("$name = Read-Host -Prompt 'Your name'")
    child.expect("'Your name'\r\n")  # the echo of the typed line
    child.expect("Your name")  # the prompt (a Write host call)
    child.sendline("alice-answer")
    child.expect(PROMPT)
    assert "hello alice-answer" in run(child, '"hello $name"')
    child.sendline("$pw = Read-Host -Prompt 'Secret' -AsSecureString")
    child.expect("AsSecureString\r\n")
    child.expect("Secret")
    child.sendline("hunter2-typed")
    child.expect(PROMPT)
    assert "hunter2-typed" not in child.before  # no echo
    assert "True" in run(child, "$pw -is [securestring]")
    shown = run(child, "$pw")
    assert "System.Security.SecureString" in shown and "hunter2-typed" not in shown
    child.sendline("exit")
    child.expect(pexpect.EOF)
    text = (tmp_path / "history").read_text()
    assert "alice-answer" not in text and "hunter2-typed" not in text
    assert "Read-Host -Prompt 'Your name'" in text


def test_get_credential_prompts_through_host(winhost: Any, tmp_path: Path) -> None:
    child = start(winhost, tmp_path)
    child.expect(PROMPT)
    child.sendline("$c = Get-Credential -UserName admin")
    child.expect("Password for user admin", timeout=120)
    child.sendline("pw-typed")
    child.expect(PROMPT)
    assert "admin" in run(child, "$c.UserName")
    child.sendline("exit")
    child.expect(pexpect.EOF)


def test_vaulted_password_and_pattern_errors(winhost: Any, tmp_path: Path) -> None:
    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text("correct horse\n")
    vars_ = winhost.hostvars("dc01")
    encrypted = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-vault")), "encrypt_string", "--vault-password-file",
         str(vault_pass), str(vars_.pop("ansible_password")), "--name", "ansible_password"],
        capture_output=True, text=True, check=True, env=winhost.env,
    ).stdout  # fmt: skip
    lines = ["all:", "  hosts:", "    dc01:"]
    lines += [f"      {k}: {json.dumps(v)}" for k, v in vars_.items()]
    lines += ["      " + line for line in encrypted.strip().splitlines()]
    inventory = tmp_path / "vaulted.yml"
    inventory.write_text("\n".join(lines) + "\n")

    child = start(winhost, tmp_path, "--vault-password-file", str(vault_pass), inventory=inventory)
    child.expect(PROMPT)
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    no_vault = start(winhost, tmp_path, inventory=inventory)
    no_vault.expect(pexpect.EOF)
    no_vault.close()
    assert no_vault.exitstatus != 0

    several = start(winhost, tmp_path, host="windows")
    several.expect("matches 2 hosts")
    several.expect(pexpect.EOF)
    several.close()
    assert several.exitstatus == 2


def test_streams_print_in_the_order_the_pipeline_wrote_them(winhost: Any, tmp_path: Path) -> None:
    """Issue 23: host output, warnings, errors and output objects come out as written (they used
    to come out as a, c, out-d, out-f, WARNING: b, e)."""
    child = start(winhost, tmp_path)
    child.expect(PROMPT)
    text = run(child, "Write-Host a; Write-Warning b; Write-Host c; 'out-d'; Write-Error e; 'out-f'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    marks = [line for line in lines if line in ("a", "WARNING: b", "c", "out-d", "e", "out-f")]
    assert marks == ["a", "WARNING: b", "c", "out-d", "e", "out-f"], lines
    assert lines[lines.index("e") + 1].startswith("+ CategoryInfo"), lines
    table = run(child, "Get-Service W32Time, WinRM; Write-Warning between; Get-Service W32Time").splitlines()
    headers = [i for i, line in enumerate(table) if line.split() == ["Status", "Name", "DisplayName"]]
    warning = next(i for i, line in enumerate(table) if line.strip() == "WARNING: between")
    assert len(headers) == 2 and headers[0] < warning < headers[1], table
    child.sendline("exit")
    child.expect(pexpect.EOF)
