"""meta/execution-environment.yml builds an AWX/AAP execution environment context with ansible-builder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("ansible-builder", path=str(Path(sys.executable).parent)) is None,
                    reason="ansible-builder is not installed in this venv")  # fmt: skip
def test_builder_context_lists_python_and_system_dependencies(tmp_path: Path) -> None:
    work = tmp_path / "ee"
    # The collection's meta/execution-environment.yml names its files relative to the collection
    # root (as ansible-builder's collection introspection reads them), so build from the root.
    work.mkdir()
    shutil.copy(REPO / "meta" / "execution-environment.yml", work / "execution-environment.yml")
    for name in ("requirements.txt", "bindep.txt"):
        shutil.copy(REPO / name, work / name)
    builder = str(Path(sys.executable).parent / "ansible-builder")
    proc = subprocess.run([builder, "create", "-f", str(work / "execution-environment.yml"),
                           "-c", str(tmp_path / "context")], capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = {p.name: p.read_text() for p in (tmp_path / "context").rglob("*") if p.is_file()}
    python = "".join(v for k, v in files.items() if "requirements" in k)
    system = "".join(v for k, v in files.items() if "bindep" in k)
    for req in ("pypsrp", "pyspnego", "requests", "cryptography"):
        assert req in python, sorted(files)
    for pkg in ("libkrb5-dev", "krb5-user", "gcc"):
        assert pkg in system
    assert "Containerfile" in files or "Dockerfile" in files
