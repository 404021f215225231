#!/usr/bin/env python3
"""Syntax check of every PowerShell script in the repository.

Parses with tree-sitter-powershell, and fails on any parse error (printing where it is):

* each tracked ``.ps1``/``.psm1``/``.psd1`` file;
* every entry of tools/ps1_registry.py: the scripts the collection sends that live in Python
  modules (transfer, invoke_command prelude/postlude, the connection's wrappers) and the role's
  bootstrap template rendered with its defaults and with hostile values.

Files given on the command line are checked instead of both (``--registry`` adds the registry).

Known gaps of the grammar (tree-sitter-powershell 0.26): a bareword list as a command argument
(``Select-Object Name, Status``) is reported as an error, so our scripts write
``-Property @('Name', 'Status')``; and a script that is only a ``param()`` block gets a MISSING
``;`` at its end, which is not an error in PowerShell and is ignored here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ps1_registry
import tree_sitter
import tree_sitter_powershell

SUFFIXES = (".ps1", ".psm1", ".psd1")


def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def errors(source: bytes, ps_parser: tree_sitter.Parser) -> Iterator[tuple[int, int, str]]:
    """Yield (line, column, kind) for every ERROR or MISSING node, 1-based."""
    tree = ps_parser.parse(source)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        trailing_empty_statement = (
            node.is_missing
            and node.type == ";"
            and node.parent is not None
            and node.parent.type == "empty_statement"
            and node.end_byte >= len(source.rstrip())
        )
        if trailing_empty_statement:
            continue  # after a lone param() block
        if node.is_error or node.is_missing:
            kind = "missing " + node.type if node.is_missing else "syntax error"
            yield node.start_point[0] + 1, node.start_point[1] + 1, kind
            continue
        if node.has_error:
            stack.extend(reversed(node.children))


def tracked_files(root: Path) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [root / name for name in out.splitlines() if name.endswith(SUFFIXES)]


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    with_registry = "--registry" in argv or not argv
    paths = [a for a in argv if a != "--registry"]
    files = [Path(a) for a in paths] if paths else ([] if argv else tracked_files(root))
    ps_parser = parser()
    failed = 0
    for path in files:
        if not path.exists():
            continue
        for line, col, kind in errors(path.read_bytes(), ps_parser):
            print(f"{path}:{line}:{col}: PowerShell {kind}", file=sys.stderr)
            failed += 1
    registered = ps1_registry.texts() if with_registry else {}
    for name, text in registered.items():
        where = ps1_registry.entry(name).source
        for line, col, kind in errors(text.encode("utf-8"), ps_parser):
            print(f"{where} [{name}]:{line}:{col}: PowerShell {kind}", file=sys.stderr)
            failed += 1
    print(
        f"check_ps1: {len(files)} PowerShell files and {len(registered)} registered scripts parsed, "
        f"{failed} errors"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
