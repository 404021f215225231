"""Every plugin and role of the collection renders with ansible-doc (issue 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DOC = str(Path(sys.executable).with_name("ansible-doc"))


def _plugins() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for kind, folder in (("connection", "connection"), ("module", "modules")):
        for path in sorted((REPO / "plugins" / folder).glob("*.py")):
            if not path.name.startswith("_"):
                found.append((kind, path.stem))
    for path in sorted((REPO / "plugins" / "filter").glob("*.yml")):
        found.append(("filter", path.stem))
    for path in sorted((REPO / "roles").glob("*/meta/argument_specs.yml")):
        found.append(("role", path.parent.parent.name))
    return found


PLUGINS = _plugins()


def test_collection_has_plugins_to_document() -> None:
    kinds = {kind for kind, _ in PLUGINS}
    assert "connection" in kinds, PLUGINS


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_ansible_doc_renders(kind: str, name: str) -> None:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [ANSIBLE_DOC, "-t", kind, f"psremoting.core.{name}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[WARNING]" not in proc.stderr, proc.stderr
    assert f"psremoting.core.{name}" in proc.stdout
    # a rendered page has a description, not just the name
    assert len(proc.stdout.splitlines()) > 5
