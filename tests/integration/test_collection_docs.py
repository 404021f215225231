"""Every plugin and role of the collection renders with ansible-doc (issue 2)."""

from __future__ import annotations

import json
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
KINDS = sorted({kind for kind, _ in PLUGINS})


def test_collection_has_plugins_to_document() -> None:
    assert "connection" in KINDS, PLUGINS
    assert "module" in KINDS, PLUGINS


@pytest.mark.parametrize("kind", KINDS)
def test_ansible_doc_renders(kind: str) -> None:
    """One ansible-doc call per plugin type renders every plugin of that type as JSON."""
    names = [f"psremoting.core.{name}" for k, name in PLUGINS if k == kind]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [ANSIBLE_DOC, "-t", kind, "--json", *names],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[WARNING]" not in proc.stderr, proc.stderr
    assert "[ERROR]" not in proc.stderr, proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(docs) == sorted(names)
    for name in names:
        if kind == "role":  # roles document each entry point (main, disable, ...)
            entry_points = docs[name]["entry_points"]
            assert "main" in entry_points, name
            described = [doc.get("short_description") for doc in entry_points.values()]
        else:
            doc = docs[name]["doc"]
            described = [doc.get("short_description") or doc.get("description")]
        assert all(described), f"{name} lacks a description: {described}"
