# for internal use by psremoting.core only; not a public API
"""Exec-wrapper payload cache: a warm module task sends content hashes plus its arguments.

ansible-core runs a PowerShell module by sending ``bootstrap_wrapper.ps1`` as the pipeline's
script and, as its input, the bootstrap JSON (holding ``exec_wrapper.ps1``), a line of four NULs
and the exec manifest (every script the task needs, base64, plus the actions and their
parameters: the module arguments). ansible.builtin.psrp sends all of it with every task (about
240 KB on the wire for ``win_ping``). A persistent session can keep the code:

* :func:`plan_payload` splits the input, exactly, into literal text and *pieces*: the JSON text
  of the exec wrapper script and of each entry of the manifest's ``scripts`` (executor scripts,
  module_utils, the module itself), each keyed by the SHA-256 of its text. The module arguments,
  the actions' ``params``/``secure_params``, the environment and the script of a ``script`` task
  (its command line may hold values) are never pieces: they travel with every task.
* :func:`payload_commands` makes the pipeline: the first time in a runspace, a constant script
  (:data:`PAYLOAD_DEFINITION`) defines :data:`PAYLOAD_FUNCTION` in the runspace's global scope;
  then that function is called with typed parameters: ``Hashes`` (the pieces in use), ``Lines``
  (each input line as a string, or as a list of strings and integers, an integer ``k`` standing
  for the piece ``Hashes[k]``), ``Script`` (the piece holding the bootstrap wrapper itself) and
  ``Add`` (hash -> text, only for pieces the host does not hold yet). Nothing is spliced into
  script text.
* On the host the function keeps the pieces in ``$global:PSRemotingCorePayloadCache``, rebuilds
  the exact input lines and pipes them into the bootstrap wrapper, so the exec wrapper runs as it
  would under ansible.builtin.psrp. When a piece is missing (the runspace was reset, the cache was
  trimmed) it runs nothing and answers :data:`MISS_MARKER`; when the function itself is missing
  the command fails with CommandNotFoundException before anything ran. In both cases the caller
  sends the task again with every piece (:meth:`PayloadState.reset`), so a miss costs one round
  trip, never a failed task.

:class:`PayloadState` is the controller's belief about one runspace (reset when a pool opens).
The module has no Ansible import (the session broker uses it).
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import typing as t
import zlib

NUL_LINE = "\0\0\0\0"
PAYLOAD_FUNCTION = "Invoke-PSRemotingCorePayload"
MISS_MARKER = "psremoting.core payload miss"
# Pieces shorter than this stay literal (a 64-character reference would save little).
MIN_PIECE = 512
# The host drops its whole cache before it would hold more than this many characters.
HOST_CACHE_LIMIT = 64 * 1024 * 1024

# Defines the function in the runspace's global scope; values only ever arrive as parameters.
PAYLOAD_DEFINITION = r"""# psremoting.core exec payload v1
function global:Invoke-PSRemotingCorePayload {
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)] [string[]] $Hashes,
        [Parameter(Mandatory = $true)] [object[]] $Lines,
        [Parameter(Mandatory = $true)] [int] $Script,
        [hashtable] $Add
    )
    $cache = $global:PSRemotingCorePayloadCache
    if ($null -eq $cache) {
        $cache = @{ Pieces = @{}; Size = [long]0 }
        $global:PSRemotingCorePayloadCache = $cache
    }
    if ($null -ne $Add) {
        $incoming = [long]0
        foreach ($key in $Add.Keys) {
            $incoming += ([string]$Add[$key]).Length
        }
        if ($cache.Size + $incoming -gt 67108864) {
            $cache.Pieces.Clear()
            $cache.Size = [long]0
        }
        foreach ($key in $Add.Keys) {
            if (-not $cache.Pieces.ContainsKey($key)) {
                $cache.Pieces[$key] = [string]$Add[$key]
                $cache.Size += ([string]$Add[$key]).Length
            }
        }
    }
    $missing = @(foreach ($hash in $Hashes) {
        if (-not $cache.Pieces.ContainsKey($hash)) {
            $hash
        }
    })
    if ($missing.Count -gt 0) {
        # Nothing has run: the controller sends the task again with every piece.
        'psremoting.core payload miss: ' + ($missing -join ',')
        return
    }
    $text = @(foreach ($line in $Lines) {
        if ($line -is [string]) {
            $line
        }
        else {
            -join @(foreach ($part in $line) {
                if ($part -is [int]) {
                    $cache.Pieces[$Hashes[$part]]
                }
                else {
                    [string]$part
                }
            })
        }
    })
    $bootstrap = [ScriptBlock]::Create($cache.Pieces[$Hashes[$Script]])
    $text | & $bootstrap
}
"""


@dataclasses.dataclass(frozen=True)
class Piece:
    """Cacheable text (code), keyed by the SHA-256 of its UTF-8 bytes."""

    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


Segment = t.Union[str, Piece]


@dataclasses.dataclass(frozen=True)
class Payload:
    """One exec-wrapper command, split into literal text and pieces."""

    hashes: list[str]  # index -> hash (the ``Hashes`` parameter)
    texts: dict[str, str]  # hash -> text
    lines: list[t.Any]  # the ``Lines`` parameter: str, or list of str / int (index into hashes)
    script: int  # index of the bootstrap wrapper's piece

    @property
    def piece_bytes(self) -> int:
        return sum(len(text) for text in self.texts.values())


@dataclasses.dataclass
class PayloadState:
    """What the controller believes one runspace holds."""

    defined: bool = False  # PAYLOAD_FUNCTION is defined
    known: set[str] = dataclasses.field(default_factory=set)
    misses: int = 0  # how many times the host did not have what we believed (for tests / -vvv)
    # invoke/_session.SESSION_FUNCTION (invoke_command's session script) is defined
    session_defined: bool = False

    def reset(self) -> None:
        self.defined = False
        self.known = set()
        self.session_defined = False

    def remember(self, payload: Payload) -> None:
        self.defined = True
        self.known.update(payload.hashes)


def _dumps(value: t.Any) -> str:
    # ansible-core writes both JSON lines with json.dumps' defaults (ensure_ascii, ', ' and ': ').
    return json.dumps(value)


def _dict_segments(
    obj: dict[str, t.Any], custom: t.Callable[[str, t.Any], list[Segment] | None]
) -> list[Segment]:
    """``json.dumps(obj)`` as segments; ``custom(key, value)`` may give a value's own segments."""
    segments: list[Segment] = ["{"]
    for index, (key, value) in enumerate(obj.items()):
        if index:
            segments.append(", ")
        segments.append(_dumps(key) + ": ")
        own = custom(key, value)
        segments.extend(own if own is not None else [_dumps(value)])
    segments.append("}")
    return segments


def _piece_or_text(text: str) -> Segment:
    return Piece(text) if len(text) >= MIN_PIECE else text


def _uncacheable_scripts(manifest: dict[str, t.Any]) -> set[str]:
    """Scripts run by a ``script`` task (module_wrapper.ps1 without ForModule): their text is the
    task's command line, which may hold values, so it is never cached."""
    names: set[str] = set()
    for action in manifest.get("actions") or []:
        params = action.get("params") if isinstance(action, dict) else None
        if isinstance(params, dict) and "Script" in params and not params.get("ForModule"):
            names.add(str(params["Script"]))
    return names


def _bootstrap_segments(line: str) -> list[Segment] | None:
    try:
        code = json.loads(line)
    except ValueError:
        return None
    if not isinstance(code, dict) or code.get("name") != "exec_wrapper":
        return None
    if not isinstance(code.get("script"), str):
        return None
    return _dict_segments(
        code, lambda key, value: [_piece_or_text(_dumps(value))] if key == "script" else None
    )


def _manifest_segments(line: str) -> list[Segment] | None:
    try:
        manifest = json.loads(line)
    except ValueError:
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("scripts"), dict):
        return None
    private = _uncacheable_scripts(manifest)

    def scripts(key: str, value: t.Any) -> list[Segment] | None:
        if key != "scripts":
            return None
        out: list[Segment] = ["{"]
        for index, (name, info) in enumerate(value.items()):
            if index:
                out.append(", ")
            entry = f"{_dumps(name)}: {_dumps(info)}"
            out.append(entry if name in private else _piece_or_text(entry))
        out.append("}")
        return out

    return _dict_segments(manifest, scripts)


def _joined(segments: list[Segment]) -> str:
    return "".join(s.text if isinstance(s, Piece) else s for s in segments)


# ansible-core 2.16-2.18: manifest keys holding (base64) executor scripts.
_V1_EXEC_SCRIPTS = frozenset(
    {
        "module_wrapper",
        "module_powershell_wrapper",
        "module_script_wrapper",
        "bootstrap_wrapper",
        "exec_wrapper",
        "become_wrapper",
        "async_wrapper",
        "async_watchdog",
        "coverage_wrapper",
    }
)


def _v1_manifest_segments(body: str) -> list[Segment] | None:
    """2.16-2.18's manifest: ``module_entry`` (the module, or a ``script`` task's command line),
    ``powershell_modules`` and ``csharp_utils`` (name -> base64), executor scripts under their
    names, and values (``module_args``, ``environment``, ``become_password``...)."""
    try:
        manifest = json.loads(body)
    except ValueError:
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("actions"), list):
        return None
    module_is_code = "module_powershell_wrapper" in manifest["actions"]

    def pieces(key: str, value: t.Any) -> list[Segment] | None:
        if key in ("powershell_modules", "csharp_utils") and isinstance(value, dict):
            out: list[Segment] = ["{"]
            for index, (name, data) in enumerate(value.items()):
                if index:
                    out.append(", ")
                out.append(_piece_or_text(f"{_dumps(name)}: {_dumps(data)}"))
            out.append("}")
            return out
        if key in _V1_EXEC_SCRIPTS or (key == "module_entry" and module_is_code):
            return [_piece_or_text(_dumps(value))]
        return None

    return _dict_segments(manifest, pieces)


def _segments_of(input_data: t.Any) -> list[tuple[str, list[Segment] | None]] | None:
    """Each input line with its segments (``None``: sent as it is), by ansible-core family."""
    if isinstance(input_data, str):  # 2.16-2.18: exec_wrapper + NULs + manifest, one string
        head, sep, body = input_data.partition(NUL_LINE)
        manifest = _v1_manifest_segments(body) if sep and head else None
        if manifest is None:
            return None
        return [(input_data, [_piece_or_text(head), NUL_LINE, *manifest])]
    if not isinstance(input_data, list) or len(input_data) < 3 or input_data[1] != NUL_LINE:
        return None
    if not all(isinstance(line, str) for line in input_data):
        return None
    first = _bootstrap_segments(input_data[0])
    manifest = _manifest_segments(input_data[2])
    if first is None or manifest is None:
        return None
    rest: list[tuple[str, list[Segment] | None]] = [(line, None) for line in input_data[3:]]
    return [(input_data[0], first), (NUL_LINE, None), (input_data[2], manifest), *rest]


def _decompressed(input_data: t.Any) -> t.Any:
    """ansible-core 2.22+ input with its manifest expanded, as ansible-core itself sends it when
    compression would not make it shorter (module_manifest.py ``_get_bootstrap_input``).

    2.22 gzips the exec manifest JSON and sends it base64-encoded as one line, with the bootstrap
    param ``DecompressInput`` true; exec_wrapper.ps1 then decodes and gunzips each line before
    ConvertFrom-Json. Compressed bytes change with any argument, so nothing in them can be cached:
    the cache sends the same manifest JSON uncompressed with ``DecompressInput`` false, the other
    branch of the same exec_wrapper.ps1, which parses the same JSON text. Anything that does not
    decode exactly is returned unchanged (and then sent as it is).
    """
    if not isinstance(input_data, list) or len(input_data) < 3 or not isinstance(input_data[0], str):
        return input_data
    try:
        code = json.loads(input_data[0])
    except ValueError:
        return input_data
    params = code.get("params") if isinstance(code, dict) else None
    if not isinstance(params, dict) or params.get("DecompressInput") is not True:
        return input_data
    if _dumps(code) != input_data[0] or not isinstance(input_data[2], str):
        return input_data
    try:
        manifest = gzip.decompress(base64.b64decode(input_data[2], validate=True)).decode("utf-8")
    except (ValueError, OSError, EOFError, zlib.error):
        return input_data
    params["DecompressInput"] = False
    return [_dumps(code), input_data[1], manifest, *input_data[3:]]


def plan_payload(script: str, input_data: t.Any) -> Payload | None:
    """The cacheable form of an exec command; ``None`` when ``input_data`` is not an exec-wrapper
    payload, or when the split would not rebuild it exactly.

    ansible-core 2.19+: the input is a list of lines (bootstrap JSON, NULs, exec manifest [, NULs,
    action input...]; 2.22+ compressed manifests are expanded first, see :func:`_decompressed`);
    2.16-2.18: one string (exec_wrapper.ps1, NULs, manifest JSON).
    """
    lines_segments = _segments_of(_decompressed(input_data))
    if lines_segments is None:
        return None
    if any(segments is not None and _joined(segments) != line for line, segments in lines_segments):
        return None  # not json.dumps' own text: send it as it is
    hashes: list[str] = []
    texts: dict[str, str] = {}

    def index_of(piece: Piece) -> int:
        digest = piece.digest
        if digest not in texts:
            texts[digest] = piece.text
            hashes.append(digest)
        return hashes.index(digest)

    script_index = index_of(Piece(script))
    lines: list[t.Any] = []
    for line, segments in lines_segments:
        if segments is None or not any(isinstance(s, Piece) for s in segments):
            lines.append(line)
            continue
        parts: list[t.Any] = []
        for segment in segments:
            if isinstance(segment, Piece):
                parts.append(index_of(segment))
            elif parts and isinstance(parts[-1], str):
                parts[-1] += segment
            else:
                parts.append(segment)
        lines.append(parts)
    return Payload(hashes=hashes, texts=texts, lines=lines, script=script_index)


def payload_commands(payload: Payload, state: PayloadState) -> list[dict[str, t.Any]]:
    """The pipeline (PipelineCommand dicts) that runs ``payload`` given what the host holds."""
    commands: list[dict[str, t.Any]] = []
    if not state.defined:
        commands.append(
            {"name": PAYLOAD_DEFINITION, "is_script": True, "use_local_scope": True, "end_of_statement": True}
        )
    parameters: dict[str, t.Any] = {
        "Hashes": list(payload.hashes),
        "Lines": payload.lines,
        "Script": payload.script,
    }
    missing = {h: payload.texts[h] for h in payload.hashes if h not in state.known}
    if missing:
        parameters["Add"] = missing
    commands.append({"name": PAYLOAD_FUNCTION, "is_script": False, "parameters": parameters})
    return commands


def is_full(payload: Payload, state: PayloadState) -> bool:
    """Whether :func:`payload_commands` sends every piece and the definition (nothing assumed)."""
    return not state.defined and not any(h in state.known for h in payload.hashes)


def missed(stdout: bytes, errors: list[t.Any]) -> bool:
    """Whether the host lacked a piece or the function (from the pipeline's stdout text and its
    error records): nothing ran, and the task must be sent again with every piece."""
    if stdout.startswith(MISS_MARKER.encode() + b": ") and b"\n" not in stdout:
        return True
    return not stdout and any(
        str(getattr(e, "fq_error", "")).startswith("CommandNotFoundException")
        and PAYLOAD_FUNCTION.lower() in str(e).lower()
        for e in errors
    )
