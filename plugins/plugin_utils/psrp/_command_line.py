# for internal use by psremoting.core only; not a public API
"""How ``exec_command``'s command line becomes a PSRP script: parsed once per command.

ansible-core hands the connection a command line written for ``powershell.exe`` (an
``-EncodedCommand`` with optional ``-EncodedArguments``, a ``-File`` script, or raw text) plus
optional stdin. ansible.builtin.psrp never starts powershell.exe for those: it decodes the
command and runs the script in the runspace pool. :func:`parse_command` makes the same decisions
as the builtin of the installed ansible-core (2.16-2.22) and returns everything the backends need
in one :class:`ParsedCommand`, so the command line is split exactly once.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import shlex
import typing as t
import xml.etree.ElementTree as ET

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.shell.powershell import _common_args
from ansible.release import __version__ as _ansible_version

try:  # ansible-core >= 2.19 feeds the exec manifest as lines; older versions as one string
    from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script  # noqa: F401

    MANIFEST_AS_LINES = True
except ImportError:  # pragma: no cover - ansible-core < 2.19
    MANIFEST_AS_LINES = False


@functools.cache
def bootstrap_wrapper() -> str | None:
    """ansible-core's bootstrap_wrapper.ps1 (2.19+; None before, where build_module_command tells
    it). Read on first use: a worker runs one command, and only 2.21+ needs it to recognise one."""
    try:
        from ansible.executor.powershell.module_manifest import _get_powershell_script  # noqa: PLC0415

        return str(_get_powershell_script("bootstrap_wrapper.ps1").decode("utf-8"))
    except Exception:  # pragma: no cover - ansible-core < 2.19
        return None


# ansible-core >= 2.21 writes encoded commands as ``powershell -NoProfile ... -EncodedCommand '<b64>'
# [-EncodedArguments '<b64 CLIXML>']`` and its psrp plugin decodes any command line holding
# -EncodedCommand; 2.16-2.20 write ``PowerShell -NoProfile ... -EncodedCommand <b64>`` (or ``-File``)
# and the plugin only decodes commands that start with that prefix.
CORE_VERSION = tuple(int(x) for x in re.findall(r"\d+", _ansible_version)[:2])
ENCODED_ANYWHERE = CORE_VERSION >= (2, 21)
# ansible-core < 2.19 joins stderr's error records with CRLF (no CRLF after the last one, native
# command errors formatted like any other record); 2.19 ends each record with CRLF.
JOINED_STDERR = CORE_VERSION < (2, 19)

# ansible.builtin.psrp's wrapper for "-File" commands (ansible-core >= 2.19 runs scripts in-process)
RUN_FILE_SCRIPT = (
    "param([string]$Path, [Parameter(ValueFromRemainingArguments)][string[]]$ScriptArgs) & $Path @ScriptArgs"
)

# How exec_command runs a command: a decoded -EncodedCommand script, a -File script or raw text.
# (One name per assignment: ansible-doc's AST reader warns about tuple targets.)
ENCODED = "encoded"
FILE = "file"
RAW = "raw"

# The patterns are compiled on first use (``re``'s cache): a forked worker runs one command and
# needs at most one of them.
# A raw command that may change process environment variables or the runspace location.
_STATE_CHANGE = (
    r"(?i)\$env:|env:\\|environment\]::set|currentdirectory|\b(set-location|push-location|pop-location|"
    r"cd|sl|chdir|pushd|popd)\b"
)
# A module manifest whose task sets ``environment:`` (module_wrapper.ps1 applies it process-wide).
_MANIFEST_ENV = r'"[Ee]nvironment"\s*:\s*\{\s*"'
# CLIXML escapes control characters and surrogate pairs as _xHHHH_ (UTF-16 code units)
_CLIXML_ESCAPE = r"_x([0-9A-Fa-f]{4})_"


class ParsedCommand(t.NamedTuple):
    """One exec_command, ready for a backend (a NamedTuple: cheaper to define than a dataclass in
    every forked worker)."""

    kind: str  # ENCODED, FILE or RAW
    script: str
    input_data: t.Any  # None, str, bytes or list[str] (manifest lines), as pypsrp takes it
    arguments: list[str] | None
    may_change_state: bool  # may leave env vars / location behind in a persistent session
    log_line: str  # what -vvv shows ("PSRP: EXEC ..."), as the builtin does
    log_with_host: bool = True  # the builtin names the host on that line, except for two forms


def _clixml_strings(clixml: str) -> list[str]:
    """The <S> values of the CLIXML ArrayList that -EncodedArguments carries."""
    root = ET.fromstring(clixml)  # noqa: S314 - built by ansible-core on this controller
    values = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "S":
            units = re.sub(
                _CLIXML_ESCAPE,
                lambda m: bytes.fromhex(m.group(1)).decode("utf-16-be", "surrogatepass"),
                element.text or "",
            )
            values.append(units.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass"))
    return values


# A command line of blank-separated words, each plain (no quote, backslash or blank) or wholly in
# single quotes: what ansible-core 2.21+ builds (its arguments quoted with single quotes).
_SIMPLE_LINE = r"(?:[^ \t\r\n'\"\\]+|'[^']*')(?:[ \t\r\n]+(?:[^ \t\r\n'\"\\]+|'[^']*'))*"
_SIMPLE_WORD = r"[^ \t\r\n']+|'[^']*'"


def split_words(cmd: str) -> list[str]:
    """``shlex.split(cmd)``: the same words (POSIX rules), found by regular expressions when ``cmd``
    is a simple line (:data:`_SIMPLE_LINE`). shlex reads a line character by character in Python:
    about 3 ms of CPU per task for the base64 bootstrap command of 2.21+, in every worker."""
    line = cmd.strip(" \t\r\n")
    if re.fullmatch(_SIMPLE_LINE, line):
        return [word[1:-1] if word.startswith("'") else word for word in re.findall(_SIMPLE_WORD, line)]
    return shlex.split(cmd)


def parse_encoded_cmdline(cmd: str) -> tuple[str, list[str]] | None:
    """Script and arguments of a ``... -EncodedCommand <b64> [-EncodedArguments <b64>]`` command
    line, as ansible-core 2.21+'s ``_powershell._script.parse_encoded_cmdline`` reads it; ``None``
    when ``cmd`` is not one (or cannot be split: it is then run as a raw command)."""
    try:
        parts = split_words(cmd)
    except ValueError:
        return None
    if "-EncodedCommand" not in parts:
        return None
    idx = parts.index("-EncodedCommand")
    if len(parts) <= idx + 1:
        return None
    try:
        script = base64.b64decode(parts[idx + 1]).decode("utf-16-le")
        if "-EncodedArguments" not in parts:
            return script, []
        arg_idx = parts.index("-EncodedArguments")
        if len(parts) <= arg_idx + 1:
            return None
        clixml = base64.b64decode(parts[arg_idx + 1]).decode("utf-16-le")
        return script, _clixml_strings(clixml)
    except (binascii.Error, UnicodeDecodeError, ET.ParseError):
        return None


def split_command(
    cmd: str, encoded_anywhere: bool = ENCODED_ANYWHERE
) -> tuple[str, str | None, list[str] | None]:
    """``(kind, script, arguments)`` for ``cmd``, decided like ansible.builtin.psrp's exec_command
    of the installed ansible-core (``encoded_anywhere``: 2.21 and later)."""
    if encoded_anywhere:
        parsed = parse_encoded_cmdline(cmd)
        if parsed is not None:
            return ENCODED, parsed[0], parsed[1] or None
        return RAW, None, None
    prefix = " ".join(_common_args)
    if cmd.startswith(f"{prefix} -EncodedCommand"):
        return ENCODED, to_text(base64.b64decode(cmd.rsplit(" ", maxsplit=1)[-1]), "utf-16-le"), None
    if cmd.startswith(f"{prefix} -File "):
        return FILE, None, shlex.split(cmd[len(prefix) + 7 :])
    return RAW, None, None


def may_change_state(kind: str, cmd: str, input_data: t.Any) -> bool:
    """Whether a task may leave env vars / location behind in a persistent session.

    Modules (and, on ansible-core 2.21+, scripts) run in their own runspace (module_wrapper.ps1),
    so only a task ``environment:`` leaks from them; raw commands run in the pool's runspace;
    ``-File`` script files are opaque.
    """
    if kind == FILE:
        return True
    if kind == ENCODED:
        if isinstance(input_data, list):
            pattern = re.compile(_MANIFEST_ENV)
            return any(isinstance(x, str) and pattern.search(x) for x in input_data)
        return isinstance(input_data, str | bytes) and bool(re.search(_MANIFEST_ENV, to_text(input_data)))
    return bool(re.search(_STATE_CHANGE, cmd))


def is_bootstrap_wrapper(shell: t.Any, cmd: str, script: str) -> bool:
    """Whether ``cmd`` runs the module bootstrap wrapper (not shown at -vvv, like the builtin)."""
    try:
        return bool(shell.build_module_command("", "", "") == cmd)
    except Exception:  # ansible-core 2.21+: it needs a command; compare the decoded script
        wrapper = bootstrap_wrapper()
        return wrapper is not None and script == wrapper


def _encoded(
    cmd: str, script: str, arguments: list[str] | None, in_data: bytes | None, shell: t.Any
) -> ParsedCommand:
    text_in = to_text(in_data, errors="surrogate_or_strict", nonstring="passthru")
    if text_in and isinstance(text_in, str) and text_in.startswith("#!"):
        interpreter = to_native(text_in.splitlines()[0][2:])
        raise AnsibleError(f"cannot run the interpreter '{interpreter}' on the psrp connection plugin")
    bootstrap = is_bootstrap_wrapper(shell, cmd, script)
    log_line = "PSRP: EXEC (via pipeline wrapper)" if bootstrap else f"PSRP: EXEC {script}"
    data: t.Any = (text_in.splitlines() if text_in else None) if MANIFEST_AS_LINES else (text_in or None)
    state = may_change_state(ENCODED, cmd, data)
    return ParsedCommand(ENCODED, script, data, arguments, state, log_line, log_with_host=not bootstrap)


def parse_command(cmd: str, in_data: bytes | None, shell: t.Any) -> ParsedCommand:
    """Same decisions as ansible.builtin.psrp's exec_command (ansible-core 2.16-2.22).

    ``shell`` is the connection's PowerShell shell plugin (to recognise the bootstrap wrapper).
    """
    kind, script, arguments = split_command(cmd)
    if kind == ENCODED:
        if script is None:
            raise AssertionError("internal error: an encoded command without its script")
        return _encoded(cmd, script, arguments, in_data, shell)
    if kind == FILE:
        log_line = f"PSRP: EXEC {cmd[len(' '.join(_common_args)) + 7 :]}"
        return ParsedCommand(FILE, RUN_FILE_SCRIPT, None, arguments, True, log_line, log_with_host=False)
    script = f"{cmd}\nexit $LASTEXITCODE"
    data: t.Any = (in_data.splitlines() if in_data else None) if MANIFEST_AS_LINES else (in_data or None)
    return ParsedCommand(RAW, script, data, None, may_change_state(RAW, cmd, data), f"PSRP: EXEC {script}")
