"""PowerShell source as syntax trees: parsing (tree-sitter-powershell), node helpers and the
literal forms (numbers, bare words, escapes, here-strings) the evaluator reads from the tree."""

from __future__ import annotations

import re
from typing import Any

import tree_sitter
import tree_sitter_powershell
from psrpcore.types import ErrorCategory

from winhost.engine.context import CommandPosition
from winhost.engine.errors import PSRuntimeError, make_error_record

_LANGUAGE = tree_sitter.Language(tree_sitter_powershell.language())

PASS_THROUGH = {
    "logical_expression",
    "bitwise_expression",
    "comparison_expression",
    "additive_expression",
    "multiplicative_expression",
    "format_expression",
    "range_expression",
    "array_literal_expression",
    "unary_expression",
    "key_expression",
    "argument_expression",
    "logical_argument_expression",
    "bitwise_argument_expression",
    "comparison_argument_expression",
    "additive_argument_expression",
    "multiplicative_argument_expression",
    "format_argument_expression",
    "range_argument_expression",
    "left_assignment_expression",
    "expression_with_unary_operator",
    "pipeline_chain",
}


class Node:
    """A node of a parsed script: the tree-sitter node's fields the evaluator reads, kept as plain
    attributes. A tree-sitter ``Node`` makes a new Python object (and a new list of them) at each
    ``children`` access; the evaluator walks the same trees once per task, so the syntax tree of a
    script is read from tree-sitter once, one level at a time as it is first visited, and kept
    with the script text in the parse cache."""

    __slots__ = (
        "_children",
        "_descent",
        "_named",
        "_named_children",
        "_source",
        "_str",
        "_text",
        "_ts",
        "end_byte",
        "is_named",
        "parent",
        "start_byte",
        "type",
    )

    def __init__(self, ts: tree_sitter.Node, parent: Node | None, source: bytes) -> None:
        self.type: str = ts.type
        self.is_named: bool = ts.is_named
        self.start_byte: int = ts.start_byte
        self.end_byte: int = ts.end_byte
        self.parent = parent
        self._ts = ts
        self._source = source
        self._children: list[Node] | None = None
        self._named_children: list[Node] | None = None
        self._named: list[Node] | None = None
        self._text: bytes | None = None
        self._str: str | None = None
        self._descent: Node | None = None

    def __repr__(self) -> str:
        return f"<Node {self.type} {self.start_byte}-{self.end_byte}>"

    @property
    def children(self) -> list[Node]:
        kids = self._children
        if kids is None:
            kids = self._children = [Node(child, self, self._source) for child in self._ts.children]
        return kids

    @property
    def named_children(self) -> list[Node]:
        kids = self._named_children
        if kids is None:
            kids = self._named_children = [child for child in self.children if child.is_named]
        return kids

    @property
    def child_count(self) -> int:
        return len(self.children)

    @property
    def named_child_count(self) -> int:
        return len(self.named_children)

    def child(self, index: int) -> Node | None:
        kids = self.children
        return kids[index] if 0 <= index < len(kids) else None

    @property
    def text(self) -> bytes:
        text = self._text
        if text is None:
            text = self._text = self._source[self.start_byte : self.end_byte]
        return text

    @property
    def start_point(self) -> tuple[int, int]:
        row, column = self._ts.start_point
        return row, column

    @property
    def has_error(self) -> bool:
        return bool(self._ts.has_error)

    @property
    def is_missing(self) -> bool:
        return bool(self._ts.is_missing)


_PARSE_CACHE: dict[str, Node] = {}


def parse(text: str) -> Node:
    """Parse script text; syntax errors become a ParserError record."""
    root = _PARSE_CACHE.get(text)
    if root is not None:
        return root
    source = text.encode("utf-8")
    tree = tree_sitter.Parser(_LANGUAGE).parse(source)
    ts_root = tree.root_node
    if ts_root.has_error:
        repaired = _repair(text)
        if repaired != text:
            repaired_source = repaired.encode("utf-8")
            retry = tree_sitter.Parser(_LANGUAGE).parse(repaired_source).root_node
            if not retry.has_error:
                return _cached(text, Node(retry, None, repaired_source))
        bad = _first_error(ts_root)
        where = "" if bad is None else f" at line {bad.start_point[0] + 1}, column {bad.start_point[1] + 1}"
        raise PSRuntimeError(
            make_error_record(
                f"winhost could not parse the script{where} (the tree-sitter PowerShell grammar rejected it; "
                "on a single line, put a newline after param(...) and around switch clauses)",
                "ParseException",
                ErrorCategory.ParserError,
                exception_type="System.Management.Automation.ParseException",
            )
        )
    return _cached(text, Node(ts_root, None, source))


def _cached(text: str, root: Node) -> Node:
    if len(_PARSE_CACHE) > 256:
        _PARSE_CACHE.clear()
    _PARSE_CACHE[text] = root
    return root


_ITEM = (
    r"""(?:'[^'\n]*'|"[^"\n]*"|\$[\w:.]+|\d+(?:\.\d+)?|[A-Za-z_*][\w.*\-]*"""
    r"""|@\{[^{}\n]*(?:\{[^{}\n]*\}[^{}\n]*)*\})"""
)
_ARG_LIST = re.compile(r"(?<=[\s:])(" + _ITEM + r"(?:[ \t]*,[ \t]*" + _ITEM + r")+)(?=[\s;|)}]|$)")


def _repair(text: str) -> str:
    """Work around two tree-sitter-powershell gaps, only when the first parse failed:
    comma-separated command arguments (``Select-Object Name, Id``) become ``@('Name', 'Id')``,
    and code after ``param(...)`` on the same line moves to the next line."""

    def as_array(match: re.Match[str]) -> str:
        items = re.findall(_ITEM, match.group(1))
        quoted = [i if i[0] in "'\"$@" or i[0].isdigit() else "'" + i + "'" for i in items]
        return "@(" + ", ".join(quoted) + ")"

    repaired = _ARG_LIST.sub(as_array, text)
    out: list[str] = []
    i = 0
    lower = repaired.lower()
    while i < len(repaired):
        j = lower.find("param", i)
        if j < 0:
            out.append(repaired[i:])
            break
        k = j + 5
        while k < len(repaired) and repaired[k] in " \t":
            k += 1
        if (
            k >= len(repaired)
            or repaired[k] != "("
            or (j > 0 and (repaired[j - 1].isalnum() or repaired[j - 1] in "-$"))
        ):
            out.append(repaired[i : j + 5])
            i = j + 5
            continue
        depth = 0
        m = k
        while m < len(repaired):
            if repaired[m] == "(":
                depth += 1
            elif repaired[m] == ")":
                depth -= 1
                if depth == 0:
                    break
            m += 1
        out.append(repaired[i : m + 1])
        rest = repaired[m + 1 :]
        if rest.lstrip(" \t") and not rest.lstrip(" \t").startswith(("\n", "\r")):
            out.append("\n")
        i = m + 1
    return "".join(out)


def _first_error(node: tree_sitter.Node) -> tree_sitter.Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        found = _first_error(child)
        if found is not None:
            return found
    return None


def parse_expression(text: str) -> Node:
    """The expression ``text`` (parsed as the right-hand side of an assignment)."""
    statement = parse(f"$__expression = {text}")
    assignment = statement
    while assignment.type != "assignment_expression":
        child = assignment.named_children[0] if assignment.named_children else None
        if child is None:
            raise ValueError(f"not an expression: {text}")
        assignment = child
    return assignment.named_children[-1]


def text_of(node: Node) -> str:
    text = node._str
    if text is None:
        text = node._str = node.text.decode("utf-8")
    return text


def named(node: Node) -> list[Node]:
    """The named children but comments (a list kept by the node: callers must not change it)."""
    kids = node._named
    if kids is None:
        kids = node._named = [c for c in node.named_children if c.type != "comment"]
    return kids


def command_position(node: Node, name: str, where: tuple[int, int]) -> CommandPosition:
    """InvocationInfo position data of a command node (1-based line and column, as PowerShell)."""
    root = node
    while root.parent is not None:
        root = root.parent
    source = (root.text or b"").decode("utf-8", errors="replace")
    row, column = node.start_point
    lines = source.split("\n")
    line = lines[row].rstrip("\r") if row < len(lines) else ""
    # start_point counts bytes; convert to characters for the column
    prefix = line.encode("utf-8")[:column].decode("utf-8", errors="replace")
    extent = text_of(node).split("\n", 1)[0].rstrip()
    return CommandPosition(
        line=line,
        line_number=row + 1,
        offset=len(prefix) + 1,
        extent=extent,
        invocation_name=name,
        pipeline_position=where[0],
        pipeline_length=where[1],
    )


_NUMBER_SUFFIX = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def parse_number(text: str) -> int | float:
    low = text.lower()
    mult = 1
    for suffix, factor in _NUMBER_SUFFIX.items():
        if low.endswith(suffix):
            mult = factor
            low = low[: -len(suffix)]
            break
    if low.endswith("l") and not low.startswith("0x"):
        low = low[:-1]
    if low.endswith("d") and not low.startswith("0x"):
        low = low[:-1]
    if low.startswith("0x"):
        return int(low, 16) * mult
    if any(ch in low for ch in ".e"):
        value = float(low) * mult
        return value
    return int(low) * mult


def looks_like_expression(text: str) -> bool:
    """The grammar reads ``1..3`` (no spaces) as a command name; ``1 .. 3`` parses as a range."""
    return re.fullmatch(r"-?\d+\.\.\S+", text) is not None


def generic_token(text: str) -> Any:
    """A bare word argument: a string (numbers stay strings unless they look numeric)."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return unescape(text, False)


_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "e": "\x1b",
}


def unescape(text: str, here: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "`" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def here_body(raw: str) -> str:
    start = raw.index("\n") + 1
    end = raw.rindex("\n")
    body = raw[start:end] if end >= start else ""
    return body[:-1] if body.endswith("\r") else body


def unwrap(node: Node) -> Node:
    """The node under single-child pass-through wrappers (``(1)`` parses as several levels):
    a node whose type is not one of them, or one with several children (an operator)."""
    found = node._descent
    if found is None:
        found = node
        while found.type in PASS_THROUGH:
            kids = found.children
            if len(kids) != 1:
                break
            found = kids[0]
        node._descent = found
    return found


_BLOCK_NAMES = ("begin", "process", "end", "dynamicparam")


def _single_command(statement: Node) -> Node | None:
    """The command of a statement that is one command (``begin { ... }``), else None."""
    command = named(statement)[0] if statement.type == "pipeline" and len(named(statement)) == 1 else None
    while command is not None and command.type == "pipeline_chain" and len(named(command)) == 1:
        command = named(command)[0]
    return command if command is not None and command.type == "command" else None


def _command_blocks(command: Node, blocks: dict[str, Node]) -> bool:
    """Add the named blocks one ``begin { } [process { } ...]`` command holds to ``blocks``;
    False when the command is something else. On one line it reads as one command ``begin``
    whose arguments alternate script block, block name (generic_token), script block."""
    parts = named(command)
    if len(parts) != 2 or parts[0].type != "command_name":
        return False
    pending: str | None = text_of(parts[0]).lower()
    for arg in (a for a in named(parts[1]) if a.type != "command_argument_sep"):
        if pending is None:
            if arg.type != "generic_token":
                return False
            pending = text_of(arg).lower()
            continue
        block = unwrap(arg)
        if pending not in _BLOCK_NAMES or block.type != "script_block_expression" or pending in blocks:
            return False
        inner = [c for c in named(block) if c.type == "script_block"]
        blocks[pending] = inner[0] if inner else block
        pending = None
    return pending is None


def _toplevel_named_blocks(body: list[Node]) -> dict[str, Node] | None:
    """The grammar reads a script's top-level ``begin { } process { } end { }`` as commands named
    begin/process/end with a script block argument; they are named blocks."""
    statements = [s for stmt in body for s in (named(stmt) if stmt.type == "statement_list" else [stmt])]
    blocks: dict[str, Node] = {}
    for statement in statements:
        if statement.type == "empty_statement":
            continue
        command = _single_command(statement)
        if command is None or not _command_blocks(command, blocks):
            return None
    return blocks or None


def find_named_blocks(body: list[Node]) -> dict[str, Node] | None:
    """The ``begin``/``process``/``end`` blocks of a script block body (lower-case names), or
    None when the body is plain statements (about_Functions_Advanced_Methods)."""
    top = _toplevel_named_blocks(body)
    if top is not None:
        return top
    for stmt in body:
        if stmt.type != "script_block_body":
            continue
        for sub in named(stmt):
            if sub.type == "named_block_list":
                return {text_of(named(nb)[0]).lower(): named(nb)[1] for nb in named(sub)}
    return None
