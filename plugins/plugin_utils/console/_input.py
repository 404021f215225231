# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a typed PowerShell input complete, or does the console need another line (``>> ``)?

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

The PowerShell console asks for more input when the parser reports an *incomplete* parse
(about_Parsing, about_Quoting_Rules, about_Special_Characters, about_Comments):

* an open ``{``, ``(`` or ``[`` (``$(`` and ``@(``/``@{`` included);
* an unterminated ``'...'`` (``''`` is a literal quote) or ``"..."`` (backtick escapes, ``""`` is a
  literal quote, ``$( ... )`` subexpressions nest code, which may hold strings of their own);
* a here-string ``@"`` / ``@'`` at the end of a line, closed only by ``"@`` / ``'@`` at the very
  start of a later line;
* an unterminated block comment ``<# ... #>``;
* a line ending in the escape character `````` (line continuation) or in a pipe ``|``.

Curly (typographic) quotes count as quotes, as they do for PowerShell. The scanner is not a
parser: anything it considers complete is sent, and the server reports real syntax errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_SINGLE = "'\u2018\u2019\u201a\u201b"
_DOUBLE = '"\u201c\u201d\u201e'
_OPEN = {"{": "}", "(": ")", "[": "]"}
_CLOSE = {v: k for k, v in _OPEN.items()}


@dataclass
class _Scan:
    # Each frame is a mode: "code:<closer>" for code inside a bracket, "dq", "sq", "here-dq",
    # "here-sq", "comment". The bottom frame is top-level code ("code:").
    stack: list[str] = field(default_factory=lambda: ["code:"])
    continuation: bool = False  # the last line ended in ` or |


def _scan(text: str) -> _Scan:
    state = _Scan()
    stack = state.stack
    lines = text.split("\n")
    for line_no, raw in enumerate(lines):
        line = raw.rstrip("\r")
        if stack[-1] in ("here-dq", "here-sq"):
            rest = _after_here_string(line, stack)
            if rest is None:
                continue
            line = rest
        i = 0
        while i < len(line):
            i = _STEPS.get(stack[-1], _step_code)(line, i, stack)
        if line_no == len(lines) - 1:
            state.continuation = _continues(line, stack)
    return state


def _after_here_string(line: str, stack: list[str]) -> str | None:
    """Here-strings end only with the closer at the very start of a line: the rest of that line,
    or None while the here-string goes on."""
    quotes = _DOUBLE if stack[-1] == "here-dq" else _SINGLE
    if line[:1] and line[0] in quotes and line[1:2] == "@":
        stack.pop()
        return line[2:]
    return None


# Each step reads the character at ``i`` in the mode on top of ``stack`` and returns where to go on.
def _step_comment(line: str, i: int, stack: list[str]) -> int:
    if line.startswith("#>", i):
        stack.pop()
        return i + 2
    return i + 1


def _step_single(line: str, i: int, stack: list[str]) -> int:
    if line[i] in _SINGLE:
        if i + 1 < len(line) and line[i + 1] in _SINGLE:
            return i + 2  # '' is a literal quote
        stack.pop()
    return i + 1


def _step_double(line: str, i: int, stack: list[str]) -> int:
    ch = line[i]
    if ch == "`":
        return i + 2
    if ch in _DOUBLE:
        if i + 1 < len(line) and line[i + 1] in _DOUBLE:
            return i + 2  # "" is a literal quote
        stack.pop()
        return i + 1
    if ch == "$" and line[i + 1 : i + 2] == "(":
        stack.append("code:)")
        return i + 2
    return i + 1


def _step_code(line: str, i: int, stack: list[str]) -> int:
    ch = line[i]
    n = len(line)
    if ch == "`":
        return i + 2
    if ch == "#":
        return n  # line comment
    if line.startswith("<#", i):
        stack.append("comment")
        return i + 2
    if ch == "@" and i + 1 < n and (line[i + 1] in _DOUBLE or line[i + 1] in _SINGLE):
        if not line[i + 2 :].strip():  # a here-string opener must end its line
            stack.append("here-dq" if line[i + 1] in _DOUBLE else "here-sq")
            return n
        return i + 1  # '@' then an ordinary string
    if ch in _SINGLE:
        stack.append("sq")
    elif ch in _DOUBLE:
        stack.append("dq")
    elif ch in _OPEN:
        stack.append("code:" + _OPEN[ch])
    elif ch in _CLOSE and stack[-1] == "code:" + ch:
        stack.pop()
    return i + 1


_STEPS = {"comment": _step_comment, "sq": _step_single, "dq": _step_double}


def _continues(line: str, stack: list[str]) -> bool:
    """The last line asks for more: it ends (in code) with a pipe or the escape character."""
    if line.rstrip() != line and line.rstrip().endswith("`"):
        return False  # PowerShell: the backtick must be the last character
    stripped = _strip_line_comment(line).rstrip()
    return stack[-1].startswith("code:") and (
        (stripped.endswith("|") and not stripped.endswith("||"))
        or (stripped.endswith("`") and not stripped.endswith("``"))
    )


def _strip_line_comment(line: str) -> str:
    # Good enough for the "ends in a pipe" test: drop a trailing "# comment" outside quotes.
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;|"):
            return line[:i]
    return line


def is_incomplete(text: str) -> bool:
    """True when PowerShell would ask for another line (``>> ``) after ``text``."""
    state = _scan(text)
    return len(state.stack) > 1 or state.continuation


def open_construct(text: str) -> str | None:
    """What keeps ``text`` open (for messages and tests): ``{``, ``"``, ``@"``, ``<#``, `````... or None."""
    state = _scan(text)
    top = state.stack[-1]
    names = {"dq": '"', "sq": "'", "here-dq": '@"', "here-sq": "@'", "comment": "<#"}
    if top in names:
        return names[top]
    if top.startswith("code:") and top != "code:":
        return _CLOSE[top[5:]]
    if state.continuation:
        return "|" if _strip_line_comment(text.rsplit("\n", 1)[-1]).rstrip().endswith("|") else "`"
    return None


def in_literal(text: str) -> bool:
    """True when the input stops inside a string, here-string or block comment: an empty line
    there is content, not the end of input."""
    return _scan(text).stack[-1] in ("dq", "sq", "here-dq", "here-sq", "comment")
