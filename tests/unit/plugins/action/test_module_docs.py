"""Every module's DOCUMENTATION options equal its action plugin's argument spec.

ansible-test's validate-modules cannot compare them: the modules are documentation-only files and
the argument specs live in the action plugins. Compared per option, recursively for suboptions:
type, elements, choices, default, required and the option names themselves (``no_log`` is not a
key of module documentation, so it is not compared).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

ROOT = Path(__file__).resolve().parents[4]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
PACKAGE = "ansible_collections.psremoting.core.plugins.action."


def action_spec(name: str) -> dict[str, Any]:
    module = importlib.import_module(PACKAGE + name)
    for owner, attr in (
        (module.ActionModule, "ARGUMENT_SPEC"),
        (module, "ARGUMENT_SPEC"),
        (module, "SELECTION_SPEC"),
    ):
        spec = getattr(owner, attr, None)
        if spec:
            return dict(spec)
    raise AssertionError(f"plugins/action/{name}.py has no argument spec")


def documented(name: str) -> dict[str, Any]:
    doc, _, _, _ = get_docstring(str(ROOT / "plugins" / "modules" / f"{name}.py"), fragment_loader)
    return dict(doc.get("options") or {})


def _norm(entry: dict[str, Any]) -> dict[str, Any]:
    out = {
        "type": entry.get("type", "str"),
        "elements": entry.get("elements"),
        "choices": list(entry["choices"]) if entry.get("choices") is not None else None,
        "default": entry.get("default"),
        "required": bool(entry.get("required", False)),
    }
    if out["type"] == "list" and out["default"] is not None:
        out["default"] = list(out["default"])
    return out


def compare(doc: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if set(doc) != set(spec):
        problems.append(f"{where}: documented only {sorted(set(doc) - set(spec))}, "
                        f"in the spec only {sorted(set(spec) - set(doc))}")  # fmt: skip
    for option in sorted(set(doc) & set(spec)):
        a, b = _norm(doc[option]), _norm(spec[option])
        for key in a:
            if a[key] != b[key]:
                problems.append(f"{where}.{option}: {key} documented {a[key]!r}, spec {b[key]!r}")
        sub_doc = doc[option].get("suboptions") or {}
        sub_spec = spec[option].get("options") or {}
        if sub_doc or sub_spec:
            problems.extend(compare(sub_doc, sub_spec, f"{where}.{option}"))
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_documentation_equals_argument_spec(name: str) -> None:
    assert compare(documented(name), action_spec(name), name) == []


def test_every_module_is_covered() -> None:
    assert len(MODULES) >= 10
    assert {"winrm_service", "winrm_client", "invoke_command", "pssession_info"} <= set(MODULES)
