"""ansible-builder turns our EE definitions into an AWX/AAP execution environment build context.

Two files (https://docs.ansible.com/projects/builder/en/latest/definition/):
- ``meta/execution-environment.yml``: the collection's dependency declaration, which ansible-builder
  reads from each installed collection (its introspection step in the builder stage);
- ``execution-environment.yml`` at the root: a top-level EE definition that installs this collection
  from the ``make build`` tarball on top of AWX's EE.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
needs_builder = pytest.mark.skipif(
    shutil.which("ansible-builder", path=str(BIN)) is None,
    reason="ansible-builder is not installed in this venv",
)
PYTHON_DEPS = ("pypsrp", "pyspnego", "requests", "cryptography")


def bindep_packages() -> list[str]:
    """Package names of bindep.txt that the EE needs (the test profile is only for our test suite)."""
    lines = [line.split("#", 1)[0].strip() for line in (REPO / "bindep.txt").read_text().splitlines()]
    return [line.split()[0] for line in lines if line and "test" not in line.partition("[")[2]]


@needs_builder
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


@needs_builder
def test_top_level_ee_definition_builds_context_with_collection_tarball(tmp_path: Path) -> None:
    """``ansible-builder create -f execution-environment.yml``: the context carries our Python and
    system requirements, the galaxy requirements, and the collection tarball that the galaxy stage
    installs (paths in the definition are relative to it, so the files keep their layout)."""
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(REPO / name, work / name)
    dist = work / ".build" / "dist"
    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(dist), str(REPO)],
                           capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = dist.glob("psremoting-core-*.tar.gz")

    context = tmp_path / "context"
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c",
                           str(context)], cwd=work, capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No matches" not in proc.stdout + proc.stderr

    build_dir = context / "_build"
    python = (build_dir / "requirements.txt").read_text()
    for req in PYTHON_DEPS:
        assert req in python
    system = (build_dir / "bindep.txt").read_text()
    packages = bindep_packages()
    assert {"gcc", "libkrb5-dev", "krb5-devel", "krb5-user"} <= set(packages)
    for pkg in packages:
        assert pkg in system
    galaxy = yaml.safe_load((build_dir / "requirements.yml").read_text())
    assert {"name": "ansible.windows", "version": "3.3.0"} in galaxy["collections"]  # pinned (issue 22)
    assert (build_dir / "psremoting" / tarball.name).read_bytes() == tarball.read_bytes()
    (recipe,) = [p for p in context.iterdir() if p.name in ("Containerfile", "Dockerfile")]
    install = [
        line for line in recipe.read_text().splitlines() if "/build/psremoting/psremoting-core-" in line
    ]
    assert install and install[0].startswith("RUN ansible-galaxy collection install")
    assert "/usr/share/ansible/collections" in install[0]
    # the pinned ansible-core and ansible-runner are what the recipe installs
    text = recipe.read_text()
    assert "ansible-core==" in text and "ansible-runner==" in text, text


def test_top_level_ee_pins_base_image_and_ansible_versions() -> None:
    """A rebuild gives the same EE: the base image by tag (not latest), ansible-core, ansible-runner
    and ansible.windows by exact version, and that ansible-core meets meta/runtime.yml."""
    from ansible.module_utils.compat.version import LooseVersion

    ee = yaml.safe_load((REPO / "execution-environment.yml").read_text(encoding="utf-8"))
    image = ee["images"]["base_image"]["name"]
    repo, _, tag = image.rpartition(":")
    assert repo and tag and tag != "latest" and "@" not in repo, image
    core = ee["dependencies"]["ansible_core"]["package_pip"]
    name, _, version = core.partition("==")
    assert name == "ansible-core" and version, core
    assert "==" in ee["dependencies"]["ansible_runner"]["package_pip"]
    assert all(c.get("version") for c in ee["dependencies"]["galaxy"]["collections"])
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    minimum = runtime["requires_ansible"].removeprefix(">=")
    assert LooseVersion(version) >= LooseVersion(minimum), (version, runtime["requires_ansible"])
    # the support matrix the README states (2.16 to 2.22) contains it
    assert LooseVersion(version) < LooseVersion("2.23"), version


@needs_builder
def test_builder_introspection_reads_the_collection_meta_file(tmp_path: Path) -> None:
    """The builder stage runs introspect.py over the installed collections: it must find
    psremoting.core and merge its meta/execution-environment.yml dependencies. ``.build`` holds the
    collection in the same ``ansible_collections/<ns>/<name>`` layout as an installed one."""
    context = tmp_path / "context"
    work = tmp_path / "ee"
    work.mkdir()
    (work / "execution-environment.yml").write_text(yaml.safe_dump({"version": 3, "dependencies": {}}))
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(work / "execution-environment.yml"),
                           "-c", str(context)], capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out_pip, out_bindep = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    introspect = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                                 str(REPO / ".build"), f"--write-pip={out_pip}", f"--write-bindep={out_bindep}"],
                                capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    assert introspect.returncode == 0, introspect.stdout + introspect.stderr
    pip_lines = out_pip.read_text().splitlines()
    for req in PYTHON_DEPS:
        assert any(
            line.startswith(req) and line.endswith("# from collection psremoting.core") for line in pip_lines
        )
    bindep_lines = out_bindep.read_text().splitlines()
    for pkg in ("gcc", "libkrb5-dev", "krb5-devel"):
        assert any(line.startswith(pkg + " ") and "psremoting.core" in line for line in bindep_lines)
