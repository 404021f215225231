"""Every PowerShell script the collection sends or renders, in one registry (issue 23).

The scripts live in Python modules (constants, f-strings), Jinja templates and ``.ps1`` files.
``tools/check_ps1.py`` syntax-checks every entry's text with tree-sitter-powershell;
tests/integration/test_ps1_registry.py fails when a scan of plugins/, roles/ and playbooks/ finds
PowerShell that no entry covers, when an entry covers nothing, and when no test declares (with
``@pytest.mark.runs_ps1("<entry>")``) that it runs the entry end to end on winhost.

Entry kinds:

* ``constant``: a module-level string constant (``symbol``) of a Python file under plugins/.
* ``fstring``: the f-string(s) of a function (``symbol``, a qualified name) holding PowerShell,
  with each ``{expression}`` replaced by ``samples[expression]``.
* ``template``: a Jinja template rendered by the role's entry point with the variables of
  ``BOOTSTRAP_VARIANTS[variant]`` (ansible-playbook on the controller).
* ``file``: a ``.ps1``/``.psm1``/``.psd1`` file shipped as it is.

``covers`` names what the scan finds for an entry: ``<repo path>::<owner>``, where the owner is
the module-level name a string is assigned to (``_PRELUDE_BODY`` for a fragment), the function
holding an f-string, or ``<file>`` for a template or script file.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
COLLECTION_PACKAGE = "ansible_collections.psremoting.core"

HOSTILE = "x'; Remove-Item -Recurse -Force C:\\ ; 'y"
HOSTILE_TYPOGRAPHIC = "a\u2019; Stop-Computer -Force; \u2018b"

# Variable sets the bootstrap template is rendered with. The parse-only ones exercise template
# branches (certificate sources, quotas, hostile values in every string option); the registered
# ones (REGISTRY below) also run end to end on winhost.
BOOTSTRAP_VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "thumbprint_no_http_quotas": {
        "enable_psremoting_http_listener": False,
        "enable_psremoting_https_certificate_source": "thumbprint",
        "enable_psremoting_https_certificate_thumbprint": "ab" * 20,
        "enable_psremoting_max_envelope_size_kb": 8192,
        "enable_psremoting_idle_timeout_ms": 600000,
        "enable_psremoting_local_account_token_filter_policy": True,
        "enable_psremoting_firewall_profiles": ["domain"],
    },
    "pfx_basic_trusted_hosts": {
        "enable_psremoting_https_certificate_source": "pfx",
        "enable_psremoting_https_pfx_file": "/nonexistent.pfx",
        "enable_psremoting_auth_basic": True,
        "enable_psremoting_trusted_hosts": ["db01", HOSTILE],
        "enable_psremoting_trusted_hosts_mode": "replace",
    },
    "subject_hostile_values": {
        "enable_psremoting_https_certificate_source": "subject",
        "enable_psremoting_https_certificate_subject": HOSTILE,
        "enable_psremoting_https_certificate_issuer": HOSTILE_TYPOGRAPHIC,
        "enable_psremoting_self_signed_dns_names": [HOSTILE],
        "enable_psremoting_https_hostname": HOSTILE_TYPOGRAPHIC,
        "enable_psremoting_firewall_remote_address": [HOSTILE],
        "enable_psremoting_session_configurations": [{"name": HOSTILE, "enabled": False}],
        "enable_psremoting_trusted_hosts": [HOSTILE_TYPOGRAPHIC],
    },
    "self_signed_names_no_https": {
        "enable_psremoting_self_signed_dns_names": ["web01", "web01.contoso.test"],
        "enable_psremoting_https_listener": False,
        "enable_psremoting_firewall": False,
    },
    "like_enable_psremoting": {
        "enable_psremoting_all_session_configurations": True,
        "enable_psremoting_local_account_token_filter_policy": True,
    },
    # An existing certificate chosen by subject (and thumbprint, in a second run).
    "subject_run": {
        "enable_psremoting_https_certificate_source": "subject",
        "enable_psremoting_https_certificate_subject": "CN=web01.contoso.test",
        "enable_psremoting_firewall_profiles": ["domain", "private"],
    },
    # The certificate of tests/integration/files/bootstrap-https-listener.pfx, by thumbprint
    # (written as a user might copy it: lower case, spaces) and imported from the PFX.
    "thumbprint_run": {
        "enable_psremoting_https_certificate_source": "thumbprint",
        "enable_psremoting_https_certificate_thumbprint": (
            "83 11 69 d2 c6 bf a0 17 a3 95 10 05 df 24 41 0d 85 ab e1 39"
        ),
    },
    "pfx_run": {
        "enable_psremoting_https_certificate_source": "pfx",
        "enable_psremoting_https_pfx_file": "tests/integration/files/bootstrap-https-listener.pfx",
    },
    # Hostile values where the host accepts any text (so the script runs to its end on winhost).
    "hostile_values_run": {
        "enable_psremoting_self_signed_dns_names": ["web01", HOSTILE],
        "enable_psremoting_https_hostname": HOSTILE_TYPOGRAPHIC,
        "enable_psremoting_trusted_hosts": ["db01", HOSTILE_TYPOGRAPHIC],
    },
}

BOOTSTRAP_TEMPLATE = "roles/enable_psremoting/templates/Enable-PSRemoting.ps1.j2"
LATFP_SCRIPT = "roles/enable_psremoting/files/Set-LocalAccountTokenFilterPolicy.ps1"
TRANSFER = "plugins/plugin_utils/transfer/_scripts.py"
INVOKE_SESSION = "plugins/plugin_utils/invoke/_session.py"
CONNECTION = "plugins/plugin_utils/psrp/_command_line.py"
PAYLOAD = "plugins/plugin_utils/psrp/_payload.py"
RESTRICTED = "plugins/plugin_utils/psrp/_restricted.py"


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # constant | fstring | template | file
    source: str  # path relative to the repository root
    symbol: str = ""
    covers: tuple[str, ...] = ()
    samples: tuple[tuple[str, str], ...] = ()
    variant: str = ""


REGISTRY: tuple[Entry, ...] = (
    Entry("transfer.put_probe", "constant", TRANSFER, "PUT_PROBE_SCRIPT"),
    Entry("transfer.put_file", "constant", TRANSFER, "PUT_FILE_SCRIPT"),
    Entry("transfer.fetch_file", "constant", TRANSFER, "FETCH_FILE_SCRIPT"),
    Entry("transfer.session_state", "constant", TRANSFER, "SESSION_STATE_SCRIPT"),
    Entry(
        "invoke_command.prelude",
        "constant",
        INVOKE_SESSION,
        "PRELUDE",
        covers=(f"{INVOKE_SESSION}::_PRELUDE_PARAMS", f"{INVOKE_SESSION}::_PRELUDE_BODY"),
    ),
    Entry("invoke_command.prelude_piped", "constant", INVOKE_SESSION, "PRELUDE_PIPED"),
    Entry("invoke_command.postlude", "constant", INVOKE_SESSION, "POSTLUDE"),
    Entry(
        "invoke_command.session_runspace",
        "constant",
        INVOKE_SESSION,
        "SESSION_RUNSPACE_SCRIPT",
        covers=(f"{INVOKE_SESSION}::_SESSION_HEAD", f"{INVOKE_SESSION}::_SESSION_BODY"),
    ),
    # the script above wrapped as a function, with the prelude/postlude table (SESSION_PARTS)
    Entry(
        "invoke_command.session_function",
        "constant",
        INVOKE_SESSION,
        "SESSION_DEFINITION",
        covers=(f"{INVOKE_SESSION}::SESSION_PARTS",),
    ),
    Entry("connection.run_file", "constant", CONNECTION, "RUN_FILE_SCRIPT"),
    Entry("connection.payload_cache", "constant", PAYLOAD, "PAYLOAD_DEFINITION"),
    Entry("connection.language_probe", "constant", RESTRICTED, "LANGUAGE_PROBE"),
    Entry(
        "connection.raw_command",
        "fstring",
        CONNECTION,
        "parse_command",
        samples=(("cmd", "Get-Service -Name WinRM | Select-Object -ExpandProperty Status"),),
    ),
    Entry("role.local_account_token_filter_policy", "file", LATFP_SCRIPT),
    *(
        Entry(f"bootstrap.{variant}", "template", BOOTSTRAP_TEMPLATE, variant=variant)
        for variant in (
            "defaults",
            "like_enable_psremoting",
            "hostile_values_run",
            "subject_run",
            "thumbprint_run",
            "pfx_run",
        )
    ),
)


def entry(name: str) -> Entry:
    for item in REGISTRY:
        if item.name == name:
            return item
    raise KeyError(name)


def covered_keys(item: Entry) -> tuple[str, ...]:
    """The scan keys this entry accounts for."""
    if item.covers:
        return item.covers
    if item.kind in ("template", "file"):
        return (f"{item.source}::<file>",)
    return (f"{item.source}::{item.symbol}",)


# --- texts ---------------------------------------------------------------------------------


def _ensure_collection_importable() -> None:
    build = REPO / ".build"
    link = build / "ansible_collections" / "psremoting" / "core"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("..") / ".." / "..")
    if str(build) not in sys.path:
        sys.path.insert(0, str(build))


def _module(source: str) -> Any:
    _ensure_collection_importable()
    dotted = source.removesuffix(".py").replace("/", ".")
    return importlib.import_module(f"{COLLECTION_PACKAGE}.{dotted}")


def _fstring_text(item: Entry) -> str:
    samples = dict(item.samples)
    texts = []
    for node in _fstrings_of(REPO / item.source, item.symbol):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                assert isinstance(value, ast.FormattedValue)
                parts.append(samples[ast.unparse(value.value)])
        texts.append("".join(parts))
    if not texts:
        raise LookupError(f"{item.source}: no PowerShell f-string in {item.symbol}")
    return "\n".join(texts)


def _fstrings_of(path: Path, qualname: str) -> Iterator[ast.JoinedStr]:
    for owner, node in _string_nodes(path):
        if owner == qualname and isinstance(node, ast.JoinedStr) and is_powershell(_joined_text(node)):
            yield node


def render_bootstrap(variants: list[str]) -> dict[str, str]:
    """Render the bootstrap template for ``variants`` with the role's ``bootstrap`` entry point."""
    _ensure_collection_importable()
    with tempfile.TemporaryDirectory(prefix="ps1-registry-") as tmp:
        work = Path(tmp)
        hosts = {
            name: dict(
                BOOTSTRAP_VARIANTS[name],
                ansible_connection="local",
                ansible_python_interpreter=sys.executable,
                enable_psremoting_bootstrap_script_dest=str(work / f"{name}.ps1"),
            )
            for name in variants
        }
        (work / "inventory.json").write_text(json.dumps({"all": {"hosts": hosts}}))
        (work / "play.yml").write_text(
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            "    - ansible.builtin.include_role:\n        name: psremoting.core.enable_psremoting\n"
            "        tasks_from: bootstrap\n"
        )
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build"), ANSIBLE_NOCOLOR="1")
        playbook = Path(sys.executable).with_name("ansible-playbook")
        proc = subprocess.run(
            [str(playbook), "-i", str(work / "inventory.json"), str(work / "play.yml")],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"rendering {BOOTSTRAP_TEMPLATE} failed:\n{proc.stdout}{proc.stderr}")
        return {name: (work / f"{name}.ps1").read_text(encoding="utf-8") for name in variants}


def texts(items: tuple[Entry, ...] = REGISTRY) -> dict[str, str]:
    """The PowerShell text of every entry, by entry name."""
    out: dict[str, str] = {}
    variants = [item.variant for item in items if item.kind == "template"]
    rendered = render_bootstrap(variants) if variants else {}
    for item in items:
        if item.kind == "constant":
            out[item.name] = str(getattr(_module(item.source), item.symbol))
        elif item.kind == "fstring":
            out[item.name] = _fstring_text(item)
        elif item.kind == "template":
            out[item.name] = rendered[item.variant]
        else:
            out[item.name] = (REPO / item.source).read_text(encoding="utf-8-sig")
    return out


# --- the scan ---------------------------------------------------------------------------------

SCRIPT_SUFFIXES = (".ps1", ".psm1", ".psd1", ".ps1.j2", ".psm1.j2")
_VARIABLE = re.compile(r"(?<![\\\w$])\$(?:global:|script:|env:|using:)?[A-Za-z_]\w*")
_PS_SHAPE = re.compile(
    r"\n|\bparam\s*\(|\bexit\b|\b(?:Get|Set|New|Remove|Write|Select|Where|ForEach)-[A-Z][A-Za-z]+"
    # a whole string that is one member-access expression ($ExecutionContext.SessionState...),
    # as the language probe is; prose mentioning "$Ansible.Failed" is not
    r"|\A\s*\$[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\s*\Z",
    re.I,
)
_DOC_NAMES = {"DOCUMENTATION", "EXAMPLES", "RETURN"}
SCANNED_DIRS = ("plugins", "roles", "playbooks")


def is_powershell(text: str) -> bool:
    """A string that holds PowerShell code: a variable reference and a statement shape."""
    return bool(_VARIABLE.search(text)) and bool(_PS_SHAPE.search(text))


def _joined_text(node: ast.JoinedStr) -> str:
    return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _string_nodes(path: Path) -> Iterator[tuple[str, ast.Constant | ast.JoinedStr]]:
    """(owner, node) for every string literal of a Python file outside docstrings and the
    DOCUMENTATION/EXAMPLES/RETURN blocks; owner as described in the module docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstring_nodes(tree)

    def visit(node: ast.AST, owner: str) -> Iterator[tuple[str, ast.Constant | ast.JoinedStr]]:
        for child in ast.iter_child_nodes(node):
            child_owner = owner
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                child_owner = f"{owner}.{child.name}" if owner else child.name
            elif not owner and isinstance(child, (ast.Assign, ast.AnnAssign)):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if any(name in _DOC_NAMES for name in names):
                    continue
                if names:
                    child_owner = names[0]
            if isinstance(child, ast.JoinedStr):
                yield child_owner, child
                continue
            is_text = isinstance(child, ast.Constant) and isinstance(child.value, str)
            if is_text and id(child) not in docstrings:
                assert isinstance(child, ast.Constant)
                yield child_owner, child
            yield from visit(child, child_owner)

    yield from visit(tree, "")


def _yaml_scripts(path: Path) -> Iterator[str]:
    """Task names of YAML tasks that send script text (invoke_command script, win_powershell,
    win_shell, raw)."""
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError:
        return
    script_keys = {
        "psremoting.core.invoke_command": "script",
        "ansible.windows.win_powershell": "script",
        "ansible.windows.win_shell": "_raw_params",
        "ansible.builtin.raw": "_raw_params",
    }
    stack: list[Any] = documents
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for module, key in script_keys.items():
                args = node.get(module)
                text = args.get(key) if isinstance(args, dict) else args
                if isinstance(text, str) and is_powershell(text):
                    yield str(node.get("name", module))
            stack.extend(node.values())


def scan(root: Path = REPO) -> dict[str, str]:
    """Every place in plugins/, roles/ and playbooks/ holding PowerShell: key -> a short excerpt."""
    found: dict[str, str] = {}
    for top in SCANNED_DIRS:
        for path in sorted((root / top).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).as_posix()
            if path.name.endswith(SCRIPT_SUFFIXES):
                found[f"{rel}::<file>"] = path.name
            elif path.suffix == ".py":
                for owner, node in _string_nodes(path):
                    text = _joined_text(node) if isinstance(node, ast.JoinedStr) else str(node.value)
                    if is_powershell(text):
                        found.setdefault(f"{rel}::{owner or '<module>'}", text.strip().splitlines()[0][:60])
            elif path.suffix in (".yml", ".yaml"):
                for task in _yaml_scripts(path):
                    found[f"{rel}::{task}"] = task
    return found
