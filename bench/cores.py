# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Other ansible-core versions for scenario 1: the version matrix's virtual environments.

``bench/run`` runs on the repository's ``.venv`` (one ansible-core). Issue 18 anchors the per-task
figures on the newest release as well, so scenario 1 can run ansible-playbook from the venvs that
``tools/version-matrix.sh`` builds (``.build/matrix/ansible-core-<line>-py<X.Y>``, or
``$PSREMOTING_MATRIX_DIR``): both psrp plugins per extra version, against the same winhost.

* no ``--core``: every matrix venv that already exists (nothing is built: CI's quick run stays
  as it is on a fresh clone);
* ``--core 2.21`` (repeatable): that line, built first with ``tools/version-matrix.sh
  --build-only`` when its venv is missing;
* ``--core none``: the main venv only.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MATRIX_SCRIPT = REPO / "tools" / "version-matrix.sh"


@dataclass(frozen=True)
class Core:
    """One ansible-core of the version matrix: its line, Python and venv."""

    line: str  # as the matrix names it: "2.21", "2.22.0rc1"
    python: str  # "3.13"
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def exists(self) -> bool:
        return (self.bin / "ansible-playbook").exists() and (self.venv / ".stamp").exists()

    def version(self) -> str:
        """The installed ansible-core version (the venv's own Python reads it)."""
        out = subprocess.run(
            [str(self.bin / "python"), "-c", "from ansible.release import __version__; print(__version__)"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return out.stdout.strip()

    def env(self) -> dict[str, str]:
        """What makes ansible-playbook, its workers and the session broker use this venv."""
        return {
            "PATH": str(self.bin) + os.pathsep + os.environ.get("PATH", ""),
            "ANSIBLE_PYTHON_INTERPRETER": str(self.bin / "python"),
        }


def matrix_dir() -> Path:
    return Path(os.environ.get("PSREMOTING_MATRIX_DIR") or REPO / ".build" / "matrix")


def matrix_entries() -> list[tuple[str, str]]:
    """(line, python) of tools/version-matrix.sh's default MATRIX."""
    text = MATRIX_SCRIPT.read_text(encoding="utf-8")
    found = re.search(r'^MATRIX=\$\{PSREMOTING_MATRIX:-"([^"]+)"\}', text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no default MATRIX in {MATRIX_SCRIPT}")
    return [tuple(entry.split(":", 1)) for entry in found.group(1).split()]  # type: ignore[misc]


def core_for(line: str) -> Core:
    """The matrix entry of ``line`` ("2.21" or "2.22" matches "2.22.0rc1")."""
    for entry, python in matrix_entries():
        if entry == line or entry.startswith(line + "."):
            return Core(entry, python, matrix_dir() / f"ansible-core-{entry}-py{python}")
    known = ", ".join(entry for entry, _ in matrix_entries())
    raise SystemExit(f"bench/run: --core {line}: not in tools/version-matrix.sh's MATRIX ({known})")


def build(core: Core) -> None:
    """Build (or reuse) the venv with the version matrix's own recipe, running no test."""
    env = dict(os.environ, PSREMOTING_MATRIX=f"{core.line}:{core.python}")
    env["PSREMOTING_MATRIX_DIR"] = str(matrix_dir())
    subprocess.run([str(MATRIX_SCRIPT), "--build-only"], check=True, env=env, cwd=REPO, timeout=3600)


def select(requested: list[str] | None, main_version: str) -> list[Core]:
    """The extra cores of this run (see the module docstring); never the main venv's own line."""
    if requested == ["none"]:
        return []
    if requested:
        cores = [core_for(line) for line in requested]
        for core in cores:
            if not core.exists():
                print(f"bench: building the ansible-core {core.line} venv ({core.venv}) ...", flush=True)
                build(core)
    else:
        cores = [core_for(entry) for entry, _ in matrix_entries()]
        cores = [core for core in cores if core.exists()]
    main_line = ".".join(main_version.split(".")[:2])
    return [core for core in cores if not main_version.startswith(core.line) and core.line != main_line]


def not_run(selected: tuple[Core, ...], main_version: str) -> list[str]:
    """Matrix lines that this run did not measure (no venv), for the report's note."""
    done = {core.line for core in selected}
    main_line = ".".join(main_version.split(".")[:2])
    return [entry for entry, _ in matrix_entries() if entry not in done and entry != main_line]
