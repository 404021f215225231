"""docs/dev/architecture.md names every plugin module, so the map of the house stays whole."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "dev" / "architecture.md"


def test_every_plugin_module_is_named() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        rel = path.relative_to(ROOT)
        family = rel.parts[1]
        if family == "modules":  # documentation only: named as plugins/modules/*.py
            continue
        short = "/".join(rel.parts[-2:])  # e.g. broker/_server.py or action/pssession.py
        if str(rel) not in text and short not in text:
            missing.append(str(rel))
    assert missing == [], "docs/dev/architecture.md does not name: " + ", ".join(missing)
