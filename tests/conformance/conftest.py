"""Conformance fixtures: pypsrp's recorded real-Windows exchanges, downloaded on first use.

The recordings ship in pypsrp's source distribution (tests/tests_pypsrp/responses/*.yml). They
are fetched with ``pip download --no-binary :all: --no-deps pypsrp==0.9.1`` into
``<repo>/.cache/pypsrp-sdist`` (git-ignored) and never committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

PYPSRP_VERSION = "0.9.1"
REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PSREMOTING_PYPSRP_SDIST", REPO / ".cache" / "pypsrp-sdist"))
RESPONSES = CACHE / f"pypsrp-{PYPSRP_VERSION}" / "tests" / "tests_pypsrp" / "responses"


def ensure_recordings() -> Path | None:
    """The responses directory, downloading and extracting the sdist if needed (None if offline)."""
    if RESPONSES.is_dir():
        return RESPONSES
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"pypsrp-{PYPSRP_VERSION}.tar.gz"
    if not archive.exists():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"pypsrp=={PYPSRP_VERSION}",
            "-d",
            str(CACHE),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0 or not archive.exists():
            return None
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/tests_pypsrp/responses/" in m.name and m.isfile()]
        tar.extractall(CACHE, members=members, filter="data")
    return RESPONSES if RESPONSES.is_dir() else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "recording" not in metafunc.fixturenames:
        return
    directory = ensure_recordings()
    if directory is None:
        metafunc.parametrize(
            "recording",
            [
                pytest.param(
                    None, marks=pytest.mark.skip(reason="pypsrp sdist could not be downloaded (offline?)")
                )
            ],
        )
        return
    files = sorted(p for p in directory.glob("*.yml") if not p.name.startswith("_"))
    metafunc.parametrize("recording", files, ids=[p.stem for p in files])


@pytest.fixture(scope="session")
def recordings_dir() -> Path | None:
    """pypsrp's responses directory (downloaded on first use), or None when offline."""
    return ensure_recordings()
