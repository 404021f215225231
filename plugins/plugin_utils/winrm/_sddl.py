# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A parser for SDDL security descriptor strings, to refuse malformed ones before they reach Windows.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Grammar: [MS-DTYP] 2.5.1 "Security Descriptor Description Language" (``O:`` owner SID, ``G:``
group SID, ``D:`` DACL flags and ACEs, ``S:`` SACL flags and ACEs, each at most once) and 2.5.1.1
"Syntax" (SID strings ``S-1-<authority>-<subauthority>...`` with at most 15 sub-authorities, and the
two-letter SID aliases). ACE fields, in order: type; flags; rights; object GUID; inherited object
GUID; account SID (conditional ACEs add a condition, resource attribute ACEs an attribute), as in
"ACE Strings" (Win32 security documentation). Rights are two-letter codes or a number (hex ``0x``,
octal ``0``, decimal) that fits 32 bits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._validate import Invalid

ACE_TYPES = frozenset(
    {"A", "D", "OA", "OD", "AU", "AL", "OU", "OL", "ML", "SP", "XA", "XD", "ZA", "XU", "RA", "SD", "CA"}
)
_CONDITIONAL = frozenset({"XA", "XD", "ZA", "XU"})
ACE_FLAGS = ("CI", "OI", "NP", "IO", "ID", "SA", "FA", "TP", "CR")
ACL_FLAGS = ("NO_ACCESS_CONTROL", "AI", "AR", "P")
RIGHTS = frozenset(
    {
        "GA", "GR", "GW", "GX", "RC", "SD", "WD", "WO", "RP", "WP", "CC", "DC", "LC", "SW", "LO", "DT",
        "CR", "FA", "FR", "FW", "FX", "KA", "KR", "KW", "KX", "NR", "NW", "NX",
    }
)  # fmt: skip
SID_ALIASES = frozenset(
    {
        "AA", "AC", "AN", "AO", "AP", "AS", "AU", "BA", "BG", "BO", "BU", "CA", "CD", "CG", "CN", "CO",
        "CY", "DA", "DC", "DD", "DG", "DU", "EA", "ED", "EK", "ER", "ES", "HA", "HI", "IS", "IU", "KA",
        "LA", "LG", "LS", "LU", "LW", "ME", "MP", "MU", "NO", "NS", "NU", "OW", "PA", "PO", "PS", "PU",
        "RA", "RC", "RD", "RE", "RM", "RO", "RS", "RU", "SA", "SI", "SO", "SS", "SU", "SY", "UD", "WD",
        "WR",
    }
)  # fmt: skip
_SID = re.compile(r"^S-1-(\d{1,15}|0x[0-9A-Fa-f]{12})(-\d{1,10}){0,15}$", re.IGNORECASE)
_GUID = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")
ALLOWED = (
    "an SDDL string ([MS-DTYP] 2.5.1): O:<sid> G:<sid> D:<flags>(<ace>)... S:<flags>(<ace>)..., "
    "each ACE 'type;flags;rights;object_guid;inherit_guid;sid' such as (A;;GA;;;BA)"
)


@dataclass(frozen=True)
class Ace:
    type: str
    flags: str
    rights: str
    sid: str


@dataclass(frozen=True)
class SecurityDescriptor:
    owner: str | None
    group: str | None
    dacl: tuple[Ace, ...] | None
    sacl: tuple[Ace, ...] | None


def _fail(detail: str) -> Invalid:
    return Invalid(f"{ALLOWED}; here {detail}")


def check_sid(text: str) -> str:
    if text.upper() in SID_ALIASES:
        return text.upper()
    match = _SID.match(text)
    if not match or any(int(part) > 0xFFFFFFFF for part in text.split("-")[3:]):
        raise _fail(f"{text!r} is neither a SID (S-1-5-32-544) nor a two-letter SID alias (BA)")
    return text.upper()


def _codes(text: str, allowed: tuple[str, ...] | frozenset[str], what: str, width: int = 2) -> None:
    rest = text
    while rest:
        code = next((c for c in sorted(allowed, key=len, reverse=True) if rest.startswith(c)), None)
        if code is None and len(rest) >= width and rest[:width] in allowed:
            code = rest[:width]
        if code is None:
            raise _fail(f"{what} {text!r} holds an unknown code at {rest!r}")
        rest = rest[len(code) :]


def _rights(text: str) -> None:
    if re.fullmatch(r"0[xX][0-9A-Fa-f]{1,8}|0[0-7]{1,11}|[1-9]\d{0,9}|0", text):
        value = int(text, 0) if not re.fullmatch(r"0[0-7]+", text) else int(text, 8)
        if value > 0xFFFFFFFF:
            raise _fail(f"the access mask {text!r} does not fit 32 bits")
        return
    if not text:
        raise _fail("an ACE has no rights")
    if len(text) % 2 or any(text[i : i + 2] not in RIGHTS for i in range(0, len(text), 2)):
        raise _fail(f"the rights {text!r} are not two-letter codes (GA, GR, GW, GX, ...)")


def parse_ace(body: str) -> Ace:
    fields = body.split(";")
    kind = fields[0].upper() if fields else ""
    if kind not in ACE_TYPES:
        raise _fail(f"the ACE type {fields[0]!r} is unknown")
    extra = kind in _CONDITIONAL or kind == "RA"
    if len(fields) != 6 and not (extra and len(fields) >= 7):
        raise _fail(f"the ACE ({body}) has {len(fields)} fields instead of 6")
    flags, rights, guid, inherit, sid = (f.strip() for f in fields[1:6])
    _codes(flags.upper(), ACE_FLAGS, "the ACE flags")
    _rights(rights.upper())
    for value in (guid, inherit):
        if value and not _GUID.match(value):
            raise _fail(f"{value!r} is not a GUID")
    return Ace(kind, flags.upper(), rights.upper(), check_sid(sid))


def _acl(text: str) -> tuple[Ace, ...]:
    start = text.find("(")
    flags = text if start < 0 else text[:start]
    _codes(flags.upper(), ACL_FLAGS, "the ACL flags")
    aces: list[Ace] = []
    rest = "" if start < 0 else text[start:]
    while rest:
        if not rest.startswith("("):
            raise _fail(f"{rest[:20]!r} is outside any ACE parentheses")
        end, depth = 0, 0
        for index, char in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                end = index
                break
        if depth:
            raise _fail("an ACE is not closed with ')'")
        aces.append(parse_ace(rest[1:end]))
        rest = rest[end + 1 :]
    return tuple(aces)


def parse_sddl(value: object) -> SecurityDescriptor:
    """Parse ``value`` or raise ``Invalid`` saying what is wrong and what is allowed."""
    text = str(value).strip()
    if not text or re.search(r"[\x00-\x1f\s]", text):
        raise _fail("it is empty or holds whitespace or control characters")
    parts: dict[str, str] = {}
    for match in re.finditer(r"([OGDS]):((?:\([^()]*(?:\([^()]*\))*[^()]*\)|[^():])*?)(?=[OGDS]:|$)", text):
        if match.group(1) in parts:
            raise _fail(f"'{match.group(1)}:' appears twice")
        parts[match.group(1)] = match.group(2)
    rebuilt = "".join(f"{k}:{v}" for k, v in parts.items())
    if not parts or len(rebuilt) != len(text):
        raise _fail("it does not split into O:, G:, D: and S: parts")
    owner = check_sid(parts["O"]) if "O" in parts else None
    group = check_sid(parts["G"]) if "G" in parts else None
    dacl = _acl(parts["D"]) if "D" in parts else None
    sacl = _acl(parts["S"]) if "S" in parts else None
    return SecurityDescriptor(owner, group, dacl, sacl)


def sddl(value: object) -> str:
    """A checker for ``Problems.check``: the SDDL as given, once it parses."""
    parse_sddl(value)
    return str(value).strip()
