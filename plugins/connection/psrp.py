# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection plugin psremoting.core.psrp: ansible.builtin.psrp with persistent sessions."""

from __future__ import annotations

DOCUMENTATION = r"""
name: psrp
author: psremoting.core contributors (@psremoting-core)
short_description: PowerShell Remoting (PSRP) with sessions that persist across tasks
description:
  - Drop-in replacement for P(ansible.builtin.psrp#connection). It accepts the same options and
    variables with the same defaults, runs modules, raw commands and scripts the same way, so an
    inventory switches by setting C(ansible_connection=psremoting.core.psrp).
  - The first task for a host opens a PowerShell runspace pool (one WSMan shell); later tasks and
    plays of the same run reuse it from any fork. The pools live in a session broker process that
    the first worker starts; it closes idle sessions and deletes every shell when the
    ansible-playbook run ends or is interrupted.
  - Action plugins of this collection run typed PSRP command pipelines through the same session.
  - See docs/connection.md in the collection for sizing and troubleshooting.
version_added: "1.0.0"
requirements:
  - pypsrp>=0.9.0,<1.0.0 (Python library)
extends_documentation_fragment:
  - connection_pipelining
  - psremoting.core.psrp_connection
"""

import base64
import binascii
import os
import re
import shlex
import typing as t
import xml.etree.ElementTree as ET

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.plugins.shell.powershell import _common_args
from ansible.release import __version__ as _ansible_version
from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import raise_ansible
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    ConnectionSettings,
    OptionError,
    read_plugin_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineRequest,
    PipelineRequestError,
    PipelineResult,
    validate_request,
)

try:  # ansible-core >= 2.19 feeds the exec manifest as lines; older versions as one string
    from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script  # noqa: F401

    _MANIFEST_AS_LINES = True
except ImportError:  # pragma: no cover - ansible-core < 2.19
    _MANIFEST_AS_LINES = False

try:  # ansible-core >= 2.19
    from ansible.executor.powershell.module_manifest import _get_powershell_script

    _BOOTSTRAP_WRAPPER: str | None = _get_powershell_script("bootstrap_wrapper.ps1").decode("utf-8")
except Exception:  # pragma: no cover - ansible-core < 2.19 (build_module_command tells it there)
    _BOOTSTRAP_WRAPPER = None

# ansible-core >= 2.21 writes encoded commands as ``powershell -NoProfile ... -EncodedCommand '<b64>'
# [-EncodedArguments '<b64 CLIXML>']`` and its psrp plugin decodes any command line holding
# -EncodedCommand; 2.16-2.20 write ``PowerShell -NoProfile ... -EncodedCommand <b64>`` (or ``-File``)
# and the plugin only decodes commands that start with that prefix.
_CORE_VERSION = tuple(int(x) for x in re.findall(r"\d+", _ansible_version)[:2])
_ENCODED_ANYWHERE = _CORE_VERSION >= (2, 21)
# ansible-core < 2.19 joins stderr's error records with CRLF (no CRLF after the last one, native
# command errors formatted like any other record); 2.19 ends each record with CRLF.
_JOINED_STDERR = _CORE_VERSION < (2, 19)

display = Display()

# ansible.builtin.psrp's wrapper for "-File" commands (ansible-core >= 2.19 runs scripts in-process)
RUN_FILE_SCRIPT = (
    "param([string]$Path, [Parameter(ValueFromRemainingArguments)][string[]]$ScriptArgs) & $Path @ScriptArgs"
)

InputSpec = dict[str, t.Any] | None
ExecResult = tuple[int, bytes, bytes]


class _Backend(t.Protocol):
    def exec(
        self,
        script: str,
        input_spec: InputSpec,
        arguments: list[str] | None,
        verbosity: int,
        state: bool = False,
        *,
        joined_stderr: bool = False,
    ) -> ExecResult: ...
    def put(self, in_path: str, out_path: str) -> dict[str, t.Any]: ...
    def fetch(self, in_path: str, out_path: str) -> dict[str, t.Any]: ...
    def pipeline(self, request: PipelineRequest) -> PipelineResult: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


class _BrokerBackend:
    """Runs everything in the session broker (persistent sessions)."""

    def __init__(self, settings: ConnectionSettings, become: t.Any) -> None:
        from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (  # noqa: PLC0415
            BrokerClient,
            shard_for,
        )

        self._client = BrokerClient(settings.session.directory, shard=shard_for(settings.host))
        self._conn = {
            "host": settings.host,
            "identity": settings.identity(),
            "wsman": dict(settings.wsman_kwargs),
            "configuration_name": settings.configuration_name,
            "no_profile": settings.no_profile,
            "become": become,
            "idle_timeout": settings.session.idle_timeout,
            "shell_idle_timeout": settings.session.shell_idle_timeout,
        }

    def _call(self, op: str, args: dict[str, t.Any] | None = None) -> t.Any:
        reply = self._client.request({"op": op, "conn": self._conn, "args": args or {}})
        for notice in reply.get("notices") or ():
            display.v(str(notice), host=str(self._conn.get("host") or ""))
        if not reply.get("ok"):
            raise_ansible(reply.get("error") or {})
        return reply.get("result")

    def exec(
        self,
        script: str,
        input_spec: InputSpec,
        arguments: list[str] | None,
        verbosity: int,
        state: bool = False,
        *,
        joined_stderr: bool = False,
    ) -> ExecResult:
        res = self._call(
            "exec",
            {
                "script": script,
                "input": input_spec,
                "arguments": arguments,
                "verbosity": verbosity,
                "may_change_state": state,
                "joined_stderr": joined_stderr,
            },
        )
        return int(res["rc"]), base64.b64decode(res["stdout"]), base64.b64decode(res["stderr"])

    def put(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self._call("put", {"in_path": in_path, "out_path": out_path}))

    def fetch(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self._call("fetch", {"in_path": in_path, "out_path": out_path}))

    def pipeline(self, request: PipelineRequest) -> PipelineResult:
        return t.cast(PipelineResult, self._call("pipeline", {"request": request}))

    def reset(self) -> None:
        if self._client.ping():  # never start a broker only to reset nothing
            self._call("reset")

    def close(self) -> None:
        pass  # the session stays in the broker for the next task


class _LocalBackend:
    """In-process session, opened per connection object (session_persist=false)."""

    def __init__(self, settings: ConnectionSettings) -> None:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession  # noqa: PLC0415

        self._session = PSRPSession(
            dict(settings.wsman_kwargs),
            settings.configuration_name,
            None,
            settings.host,
            no_profile=settings.no_profile,
        )

    def _guard(self, fn: t.Callable[[], t.Any]) -> t.Any:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (  # noqa: PLC0415 - deferred on purpose
            SessionError,
            TransferError,
        )

        try:
            return fn()
        except SessionError as exc:
            raise_ansible(exc.info)
        except TransferError as exc:
            raise AnsibleError(str(exc)) from None

    def exec(
        self,
        script: str,
        input_spec: InputSpec,
        arguments: list[str] | None,
        verbosity: int,
        state: bool = False,
        *,
        joined_stderr: bool = False,
    ) -> ExecResult:
        from ansible_collections.psremoting.core.plugins.plugin_utils.broker._server import decode_input  # noqa: PLC0415

        data = decode_input(input_spec)
        return t.cast(
            ExecResult,
            self._guard(
                lambda: self._session.exec_script(
                    script,
                    data,
                    arguments,
                    verbosity=verbosity,
                    may_change_state=state,
                    joined_stderr=joined_stderr,
                )
            ),
        )

    def put(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self._guard(lambda: self._session.put_file(in_path, out_path)))

    def fetch(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self._guard(lambda: self._session.fetch_file(in_path, out_path)))

    def pipeline(self, request: PipelineRequest) -> PipelineResult:
        return t.cast(PipelineResult, self._guard(lambda: self._session.invoke_pipeline(request)))

    def reset(self) -> None:
        self._session.close()

    def close(self) -> None:
        self._session.close_pending()
        self._session.close()


def _input_spec(data: t.Any) -> InputSpec:
    """Encode pipeline input for the broker (JSON-safe, same objects pypsrp would get)."""
    if data is None or (isinstance(data, str | bytes) and not data):
        return None
    if isinstance(data, str):
        return {"text": data}
    if isinstance(data, bytes):
        return {"b64": base64.b64encode(data).decode("ascii")}
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return {"lines": data}
    if isinstance(data, list):
        return {"b64lines": [base64.b64encode(bytes(x)).decode("ascii") for x in data]}
    raise AnsibleError(f"psrp: unsupported pipeline input type {type(data).__name__}")


# A raw command that may change process environment variables or the runspace location.
_STATE_CHANGE = re.compile(
    r"(?i)\$env:|env:\\|environment\]::set|currentdirectory|\b(set-location|push-location|pop-location|"
    r"cd|sl|chdir|pushd|popd)\b"
)
# A module manifest whose task sets ``environment:`` (module_wrapper.ps1 applies it process-wide).
_MANIFEST_ENV = re.compile(r'"[Ee]nvironment"\s*:\s*\{\s*"')


# CLIXML escapes control characters and surrogate pairs as _xHHHH_ (UTF-16 code units)
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _clixml_strings(clixml: str) -> list[str]:
    """The <S> values of the CLIXML ArrayList that -EncodedArguments carries."""
    root = ET.fromstring(clixml)  # noqa: S314 - built by ansible-core on this controller
    values = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "S":
            units = _CLIXML_ESCAPE.sub(
                lambda m: bytes.fromhex(m.group(1)).decode("utf-16-be", "surrogatepass"), element.text or ""
            )
            values.append(units.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass"))
    return values


def parse_encoded_cmdline(cmd: str) -> tuple[str, list[str]] | None:
    """Script and arguments of a ``... -EncodedCommand <b64> [-EncodedArguments <b64>]`` command
    line, as ansible-core 2.21's ``_powershell._script.parse_encoded_cmdline`` reads it; ``None``
    when ``cmd`` is not one (or cannot be split: it is then run as a raw command)."""
    try:
        parts = shlex.split(cmd)
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


# How exec_command runs a command: a decoded -EncodedCommand script, a -File script or raw text.
# (One name per assignment: ansible-doc's AST reader warns about tuple targets.)
ENCODED = "encoded"
FILE = "file"
RAW = "raw"


def split_command(
    cmd: str, encoded_anywhere: bool = _ENCODED_ANYWHERE
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


def may_change_state(cmd: str, input_data: t.Any, encoded_anywhere: bool = _ENCODED_ANYWHERE) -> bool:
    """Whether a task may leave env vars / location behind in a persistent session.

    Modules (and, on ansible-core 2.21+, scripts) run in their own runspace (module_wrapper.ps1),
    so only a task ``environment:`` leaks from them; raw commands run in the pool's runspace;
    ``-File`` script files are opaque.
    """
    kind = split_command(cmd, encoded_anywhere)[0]
    if kind == FILE:
        return True
    if kind == ENCODED:
        if isinstance(input_data, list):
            return any(isinstance(x, str) and _MANIFEST_ENV.search(x) for x in input_data)
        return isinstance(input_data, str | bytes) and bool(_MANIFEST_ENV.search(to_text(input_data)))
    return bool(_STATE_CHANGE.search(cmd))


class Connection(ConnectionBase):
    """PSRP connection with persistent sessions held by a session broker."""

    transport = "psremoting.core.psrp"
    module_implementation_preferences = (".ps1", ".exe", "")
    allow_executable = False
    has_pipelining = True
    # ansible_winrm_* variables without an option reach the plugin as ``_extras`` so that the
    # ignored ones can be reported at -v (plugin_utils/psrp/_winrm_vars.py).
    allow_extras = True
    _extras_prefix = "winrm"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self.always_pipeline_modules = True
        self.has_native_async = True
        self._shell_type = "powershell"
        self._backend: _Backend | None = None
        self._settings: ConnectionSettings | None = None
        super().__init__(*args, **kwargs)

    # -- options ------------------------------------------------------------------------------
    def _read_settings(self) -> ConnectionSettings:
        host_hint = getattr(self._play_context, "remote_addr", "") or ""
        try:
            settings = read_plugin_settings(self, str(host_hint))
        except OptionError as exc:
            raise AnsibleError(str(exc)) from None
        for warning in settings.warnings:
            display.warning(warning)
        for note in settings.notes:
            display.v(note, host=settings.host)
        return settings

    def _become_key(self) -> t.Any:
        become = getattr(self, "become", None)
        if become is None:
            return None
        try:
            user = become.get_option("become_user")
        except Exception:
            user = None
        return [getattr(become, "name", None), user]

    def _make_backend(self, settings: ConnectionSettings) -> _Backend:
        if settings.session.persist:
            from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (  # noqa: PLC0415
                BrokerUnavailable,
            )

            try:
                return _BrokerBackend(settings, self._become_key())
            except BrokerUnavailable as exc:
                display.warning(f"psrp: persistent sessions unavailable ({exc}); using a per-task session")
        return _LocalBackend(settings)

    # -- ConnectionBase -------------------------------------------------------------------------
    def _connect(self) -> Connection:
        if self._backend is None:
            settings = self._read_settings()
            self._settings = settings
            display.vvv(
                f"ESTABLISH PSRP CONNECTION FOR USER: {settings.user} ON PORT {settings.port} "
                f"TO {settings.host} (persist={settings.session.persist})",
                host=settings.host,
            )
            self._backend = self._make_backend(settings)
        self._connected = True
        return self

    def _run(self, fn: t.Callable[[_Backend], t.Any]) -> t.Any:
        self._connect()
        if self._backend is None:
            raise RuntimeError("internal error: self._backend not set")
        try:
            return fn(self._backend)
        except AnsibleError:
            raise
        except Exception as exc:
            from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (  # noqa: PLC0415
                BrokerUnavailable,
            )

            host = self._settings.host if self._settings else "?"
            if isinstance(exc, BrokerUnavailable):
                raise AnsibleConnectionFailure(f"psrp connection to {host}: {exc}") from None
            raise AnsibleConnectionFailure(
                f"psrp connection to {host}: unexpected {type(exc).__name__}: {exc}"
            ) from None

    def reset(self) -> None:
        display.vvvvv("PSRP: Reset Connection")
        backend = self._backend
        if backend is None:
            try:
                backend = self._make_backend(self._read_settings())
            except AnsibleError as exc:
                display.debug(f"PSRP reset: {exc}")
                return
        try:
            backend.reset()
        except Exception as exc:  # the session may already be gone
            display.debug(f"PSRP reset: failed to close the session: {to_text(exc)}")
        self._backend = backend

    def close(self) -> None:
        if self._backend is not None:
            try:
                self._backend.close()
            finally:
                self._backend = None
        self._connected = False

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> ExecResult:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        script, input_data, arguments = self._script_for(cmd, in_data)
        verbosity = display.verbosity
        spec = _input_spec(input_data)
        state = may_change_state(cmd, input_data)
        joined = _JOINED_STDERR
        return t.cast(
            ExecResult,
            self._run(lambda b: b.exec(script, spec, arguments, verbosity, state, joined_stderr=joined)),
        )

    def _script_for(self, cmd: str, in_data: bytes | None) -> tuple[str, t.Any, list[str] | None]:
        """Same decisions as ansible.builtin.psrp's exec_command (ansible-core 2.16-2.21)."""
        kind, script, arguments = split_command(cmd)
        if kind == ENCODED:
            if script is None:
                raise AssertionError("internal error: an encoded command without its script")
            text_in = to_text(in_data, errors="surrogate_or_strict", nonstring="passthru")
            if text_in and isinstance(text_in, str) and text_in.startswith("#!"):
                interpreter = to_native(text_in.splitlines()[0][2:])
                raise AnsibleError(
                    f"cannot run the interpreter '{interpreter}' on the psrp connection plugin"
                )
            if self._is_bootstrap_wrapper(cmd, script):
                display.vvv("PSRP: EXEC (via pipeline wrapper)")
            else:
                display.vvv(f"PSRP: EXEC {script}", host=self._host_label())
            if _MANIFEST_AS_LINES:
                return script, (text_in.splitlines() if text_in else None), arguments
            return script, text_in or None, arguments
        if kind == FILE:
            display.vvv(f"PSRP: EXEC {cmd[len(' '.join(_common_args)) + 7 :]}")
            return RUN_FILE_SCRIPT, None, arguments
        script = f"{cmd}\nexit $LASTEXITCODE"
        display.vvv(f"PSRP: EXEC {script}", host=self._host_label())
        if _MANIFEST_AS_LINES:
            return script, (in_data.splitlines() if in_data else None), None
        return script, in_data or None, None

    def _is_bootstrap_wrapper(self, cmd: str, script: str) -> bool:
        """Whether ``cmd`` runs the module bootstrap wrapper (not shown at -vvv, like the builtin)."""
        try:
            return bool(self._shell.build_module_command("", "", "") == cmd)
        except Exception:  # ansible-core 2.21+: it needs a command; compare the decoded script
            return _BOOTSTRAP_WRAPPER is not None and script == _BOOTSTRAP_WRAPPER

    def _unquote(self, path: str) -> str:
        """Remote path as ansible.builtin.psrp uses it: up to ansible-core 2.19 it strips one pair of
        quotes with ``ShellModule._unquote``; 2.20 removed that method (paths are no longer quoted)."""
        unquote = getattr(self._shell, "_unquote", None)
        return str(unquote(path)) if unquote is not None else path

    def _host_label(self) -> str:
        return self._settings.host if self._settings else ""

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        out_path = self._unquote(out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._host_label())
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound(f'file or module does not exist: "{to_native(in_path)}"')
        local = os.path.abspath(in_path)
        self._run(lambda b: b.put(local, out_path))

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._host_label())
        in_path = self._unquote(in_path)
        local = os.path.abspath(out_path.replace("\\", "/"))
        self._run(lambda b: b.fetch(in_path, local))

    # -- Pipeline API for action plugins ------------------------------------------------------------
    def invoke_pipeline(self, request: PipelineRequest) -> PipelineResult:
        """Run a typed PSRP command pipeline in this host's session (see architecture.md)."""
        try:
            validate_request(request)
        except PipelineRequestError as exc:
            raise AnsibleError(f"psrp invoke_pipeline: {exc}") from None
        return t.cast(PipelineResult, self._run(lambda b: b.pipeline(request)))
