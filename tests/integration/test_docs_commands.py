"""Every shell command in README.md and docs/*.md runs as written (issue 22).

The commands are taken from the ```bash/```sh/```shell/```console blocks. Each one is:
* run here: ``ansible-playbook``/``ansible-doc`` commands against simulated hosts (winhost writes
  ``inventory.yml`` with the example inventory's groups and the ports the role verifies), the
  install commands (``ansible-galaxy collection build/install``, ``pip install -r``,
  ``ansible-builder create``) in a copy of the checkout;
* or proven by the named test that runs the same thing (``make demo`` -> test_demo.py ...), after
  checking that what it names exists;
* or in a block whose first line is ``# Example for a real fleet...``: it needs a real fleet, a
  container runtime or a registry; only its shell syntax is checked.
A command that fits none of these fails the test: document how it is verified, or mark the block.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
REAL_FLEET = "# Example for a real fleet"
# Commands that another test runs as they are written (Makefile targets run the same tools).
PROVEN_BY = {
    "make demo": "tests/integration/test_demo.py",
    "make test": ".ci/run",
    "make build": "tests/integration/test_collection_build.py",
    "tools/enter-pssession": "tests/integration/test_enter_pssession.py",
    "_enter_pssession": "tests/integration/test_enter_pssession.py",
}
RUN_AGAINST_HOSTS = ("ansible-playbook ", "ansible-doc ")
# hosts named like the example inventory; fresh: WinRM over HTTP only, as before enable_psremoting
pytestmark = pytest.mark.winhost(hosts="dc01,sql02,web01", preset="fresh")
RUN_IN_CHECKOUT = ("ansible-galaxy collection ", "pip install -r ", "ansible-builder create ")


@dataclass(frozen=True)
class Command:
    doc: str
    line: str
    real_fleet: bool

    def __str__(self) -> str:
        return f"{self.doc}: {self.line}"


def _commands(text: str) -> list[tuple[str, bool]]:
    found = []
    for match in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.M | re.S):
        if match.group(1) not in SHELL_BLOCKS:
            continue
        body = match.group(2)
        real_fleet = body.lstrip().startswith(REAL_FLEET)
        joined = re.sub(r"\\\n\s*", "", body)
        for raw in joined.splitlines():
            line = raw.strip()
            if match.group(1) == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if line and not line.startswith("#"):
                found.append((line, real_fleet))
    return found


COMMANDS = [Command(doc.relative_to(REPO).as_posix(), line, fleet)
            for doc in DOCS for line, fleet in _commands(doc.read_text(encoding="utf-8"))]  # fmt: skip


def _strip_comment(line: str) -> str:
    return shlex.join(shlex.split(line, comments=True))


def _kind(command: Command) -> str:
    line = _strip_comment(command.line)
    if command.real_fleet:
        return "real_fleet"
    if any(key in line for key in PROVEN_BY):
        return "proven"
    if line.startswith(RUN_AGAINST_HOSTS):
        return "hosts"
    if line.startswith(RUN_IN_CHECKOUT):
        return "checkout"
    if re.match(r"^(\w+=\S+ )*\.venv/bin/pytest ", line):
        return "pytest"
    return "unknown"


def test_docs_have_commands() -> None:
    kinds = {_kind(c) for c in COMMANDS}
    assert {"hosts", "checkout", "proven"} <= kinds, COMMANDS


def test_every_command_is_run_proven_or_marked() -> None:
    unknown = [str(c) for c in COMMANDS if _kind(c) == "unknown"]
    assert not unknown, (
        f"commands nobody runs: run them here, name the test that does, or mark the block: {unknown}"
    )


def test_real_fleet_examples_are_valid_shell() -> None:
    for command in (c for c in COMMANDS if c.real_fleet):
        proc = subprocess.run(["bash", "-n", "-c", command.line], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{command}: {proc.stderr}"


def test_proven_commands_name_what_exists() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for command in (c for c in COMMANDS if _kind(c) == "proven"):
        line = _strip_comment(command.line)
        proof = next(test for key, test in PROVEN_BY.items() if key in line)
        assert (REPO / proof).exists(), f"{command}: {proof} does not exist"
        target = re.match(r"make (\S+)", line)
        if target:
            assert re.search(rf"^{re.escape(target.group(1))}:", makefile, re.M), f"{command}: no such target"
        inventory = re.search(r"-i (\S+) (\S+)", line)
        if inventory and (REPO / inventory.group(1)).is_file():
            # an inventory of this repository: the host must be in it
            assert f"{inventory.group(2)}:" in (REPO / inventory.group(1)).read_text(encoding="utf-8"), (
                command
            )


def test_test_commands_name_existing_tests() -> None:
    for command in (c for c in COMMANDS if _kind(c) == "pytest"):
        for arg in shlex.split(_strip_comment(command.line)):
            if arg.startswith("tests/"):
                assert list(REPO.glob(arg)), f"{command}: {arg} matches no file"


def _env(winhost: Any, tmp_path: Path) -> dict[str, str]:
    env = dict(winhost.env)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build"),
        # short: the broker's Unix socket path must fit in 108 bytes
        ANSIBLE_PSRP_SESSION_DIR=tempfile.mkdtemp(prefix="psrp-", dir="/tmp"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _run(command: Command, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["bash", "-c", command.line], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "[WARNING]" not in proc.stderr, f"{command}\n{proc.stderr}"
    return proc


def test_commands_against_simulated_hosts(winhost: Any, tmp_path: Path) -> None:
    """The documented playbook runs, in the order written, with winhost's inventory as inventory.yml."""
    shutil.copy(winhost.inventory_path, tmp_path / "inventory.yml")
    groups = yaml.safe_load((tmp_path / "inventory.yml").read_text(encoding="utf-8"))
    assert {"domain_controllers", "sql", "web"} <= set(groups["all"]["children"]["windows"]["children"])
    env = _env(winhost, tmp_path)
    ran = []
    for command in (c for c in COMMANDS if _kind(c) == "hosts"):
        proc = _run(command, tmp_path, env)
        if command.line.startswith("ansible-playbook "):
            recap = proc.stdout[proc.stdout.rindex("PLAY RECAP") :]
            assert "ok=" in recap and not re.search(r"(unreachable|failed)=[1-9]", recap), (
                f"{command}\n{recap}"
            )
            assert "no hosts matched" not in proc.stdout + proc.stderr, command
        if "psremoting.core.invoke_command" in command.line and "Get-Service" in command.line:
            # Ansible's default output: the table one line per item, PowerShell's view of a service
            assert re.search(r'^ +"Status +Name +DisplayName +PSComputerName",$', proc.stdout, re.M), (
                proc.stdout
            )
            assert re.search(r'^ +"Running W32Time +Windows Time +web01"', proc.stdout, re.M), proc.stdout
        ran.append(command.line)
    assert any("psremoting.core.enable_psremoting" in line for line in ran), ran


def _copy_checkout(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)


@pytest.mark.parametrize("doc", sorted({c.doc for c in COMMANDS if _kind(c) == "checkout"}))
def test_install_commands_in_a_copy_of_the_checkout(doc: str, tmp_path: Path) -> None:
    """A document's install and build commands, in order, in a fresh copy of the checkout. pip must
    find everything installed already (no index); Ansible must then find the collection."""
    checkout = tmp_path / "checkout"
    _copy_checkout(checkout)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), PIP_NO_INDEX="1",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1")  # fmt: skip
    env.pop("PIP_FIND_LINKS", None)
    installed = False
    for command in (c for c in COMMANDS if c.doc == doc):
        if _kind(command) == "proven" and _strip_comment(command.line) == "make build":
            # what `make build` runs (test_collection_build.py checks the tarball itself)
            build = f"ansible-galaxy collection build --force --output-path {checkout / '.build' / 'dist'}"
            _run(Command(doc, build, False), checkout, env)
        elif _kind(command) == "checkout":
            _run(command, checkout, env)
            installed = installed or command.line.startswith("ansible-galaxy collection install")
    if installed:
        doc_text = _run(Command(doc, "ansible-doc psremoting.core.invoke_command", False), tmp_path, env)
        assert "Invoke-Command" in doc_text.stdout
