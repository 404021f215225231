"""`ansible-galaxy collection build` ships the collection without development-only content,
and the built tarball installs and loads (issue 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert proc.returncode == 0, f"{argv}: {proc.stdout}\n{proc.stderr}"
    return proc


def test_build_excludes_dev_content_and_installs(tmp_path: Path) -> None:
    _run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), cwd=REPO)
    tarballs = list(tmp_path.glob("psremoting-core-*.tar.gz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as tar:
        names = tar.getnames()
    assert "plugins/connection/psrp.py" in names
    assert "meta/runtime.yml" in names
    forbidden = ("tests/winhost", "bench/", ".venv", ".build", ".ci/", "tools/")
    leaked = [n for n in names if n.startswith(forbidden)]
    assert not leaked, leaked

    install_root = tmp_path / "installed"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(install_root), ANSIBLE_NOCOLOR="1")
    _run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "install",
        "--no-deps",
        "-p",
        str(install_root),
        str(tarballs[0]),
        cwd=tmp_path,
        env=env,
    )
    assert (install_root / "ansible_collections" / "psremoting" / "core" / "MANIFEST.json").is_file()
    listing = _run(
        str(BIN / "ansible-doc"), "-t", "connection", "-l", "psremoting.core", cwd=tmp_path, env=env
    )
    assert "psremoting.core.psrp" in listing.stdout
    doc = _run(str(BIN / "ansible-doc"), "-t", "connection", "psremoting.core.psrp", cwd=tmp_path, env=env)
    assert "ansible_psrp_session_persist" in doc.stdout or "session_persist" in doc.stdout
