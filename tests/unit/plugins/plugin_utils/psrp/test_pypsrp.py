"""pypsrp is imported only through plugin_utils/psrp/_pypsrp.py (one place says what to install)."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[5] / "plugins"
ALLOWED = PLUGINS / "plugin_utils" / "psrp" / "_pypsrp.py"


def _pypsrp_imports(path: Path) -> list[str]:
    """Every ``import pypsrp...`` / ``from pypsrp... import`` in ``path``, and dynamic imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{path}:{node.lineno}" for alias in node.names if alias.name.split(".")[0] == "pypsrp"]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "pypsrp"
        ):
            found.append(f"{path}:{node.lineno}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("pypsrp.")
        ):
            found.append(f"{path}:{node.lineno} (string {node.value!r})")
    return found


def test_pypsrp_is_imported_only_through_the_one_module() -> None:
    files = sorted(PLUGINS.rglob("*.py"))
    assert ALLOWED in files and len(files) > 50
    offenders = [hit for path in files if path != ALLOWED for hit in _pypsrp_imports(path)]
    assert offenders == [], "import pypsrp through plugin_utils/psrp/_pypsrp.py: " + ", ".join(offenders)


def test_the_guard_sees_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from pypsrp.wsman import WSMan\n    import pypsrp.client\n")
    assert len(_pypsrp_imports(sample)) == 2
    assert _pypsrp_imports(ALLOWED), "the allowed module itself imports pypsrp"
