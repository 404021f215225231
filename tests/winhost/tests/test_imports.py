"""winhost's modules import each other without a circle.

The graph counts every ``import`` statement in the package, the ones inside functions too (a
deferred import hides a circle from Python, not from the reader), and the parent packages each
import runs (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``), except the importing
module's own parents, which already ran. Imports under ``if TYPE_CHECKING:`` are left out: they
never run, and annotations may name a type from anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import winhost

PACKAGE_DIR = Path(winhost.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, outside ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """module -> the winhost modules importing it runs."""
    modules = {_module_name(p): p for p in PACKAGE_DIR.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        own_parents = set(_parents(name)) | {name}
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # ``from pkg import mod`` imports the submodule when there is one
                wanted = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for imported in wanted:
                if imported.split(".")[0] != "winhost":
                    continue
                target = imported
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                targets.update(p for p in [*_parents(target), target] if p not in own_parents)
        graph[name] = targets
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_deferred_imports() -> None:
    """A function-level import is an edge (the test would be blind to hidden circles otherwise)."""
    tree = ast.parse("def f():\n    from winhost.engine import values\n")
    assert [type(n).__name__ for n in _imports(tree)] == ["ImportFrom"]
    typing_only = ast.parse("if TYPE_CHECKING:\n    from winhost.engine import values\n")
    assert _imports(typing_only) == []


def test_find_cycles_reports_a_circle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_winhost_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "winhost.engine.evaluator" in graph
    cycles = find_cycles(graph)
    assert cycles == [], "import cycles in winhost:\n" + "\n".join(" <-> ".join(c) for c in cycles)
