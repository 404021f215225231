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

import os
import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._worker_gc import freeze_inherited_objects

# A forked worker loads this plugin before its task's own work. Before anything else is imported
# (compiling the modules below allocates enough to start a full collection), the cyclic garbage
# collector is told to leave the heap inherited from ansible-playbook shared (see _worker_gc).
freeze_inherited_objects()

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._command_line import (
    JOINED_STDERR,
    parse_command,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    ConnectionSettings,
    OptionError,
    read_plugin_settings,
)

# Only what a task through the session broker needs is imported here: every forked worker imports
# (and Ansible's collection loader compiles, without a bytecode cache) this plugin's modules again
# for each task, so the in-process backend, pipelines and shell listings load on first use.
if t.TYPE_CHECKING:
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._backend import Backend, ExecResult
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
        PipelineRequest,
        PipelineResult,
    )
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
        Removal,
        ShellInfo,
        ShellListing,
    )

display = Display()


class Connection(ConnectionBase):
    """PSRP connection with persistent sessions held by a session broker.

    The adapter Ansible sees: it reads the options (``_options.read_settings``), picks a backend
    (the session broker, or an in-process session when ``session_persist`` is false) and
    delegates each operation to it. Command lines are parsed in ``_command_line``, files are
    moved by ``transfer._files``; see docs/dev/architecture.md for the flow of one task.
    """

    transport = "psremoting.core.psrp"
    module_implementation_preferences = (".ps1", ".exe", "")
    allow_executable = False
    has_pipelining = True
    # ansible_winrm_* variables without an option reach the plugin as ``_extras`` so that the
    # ignored ones can be reported at -v (plugin_utils/psrp/_winrm_vars.py).
    allow_extras = True
    _extras_prefix = "winrm"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # a worker that inherited this module from ansible-playbook (vars plugin psrp_preload) did
        # not run the call at import above
        freeze_inherited_objects()
        self.always_pipeline_modules = True
        self.has_native_async = True
        self._shell_type = "powershell"
        self._backend: Backend | None = None
        self._settings: ConnectionSettings | None = None
        self._option_inputs: tuple[t.Any, ...] | None = None
        super().__init__(*args, **kwargs)

    # -- options and backend --------------------------------------------------------------------
    def set_options(
        self,
        task_keys: dict[str, t.Any] | None = None,
        var_options: dict[str, t.Any] | None = None,
        direct: dict[str, t.Any] | None = None,
    ) -> None:
        # ansible-core converts each option to its type and checks its choices here; its errors name
        # no host, variable or fix (and quote passwords): say it as our own checks do (psrp/_rejected.py)
        try:
            super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        except Exception as exc:
            from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _rejected  # noqa: PLC0415

            host = str(getattr(self._play_context, "remote_addr", "") or "")
            msg = _rejected.explain(
                self._load_name, host, exc, variables=var_options, keys=task_keys, direct=direct
            )
            raise AnsibleError(msg) from None
        # where each option was set, which ansible-core 2.16 does not record (_options.read_plugin_settings)
        self._option_inputs = (task_keys, var_options, direct)

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

    def _make_backend(self, settings: ConnectionSettings) -> Backend:
        if settings.session.persist:
            from ansible_collections.psremoting.core.plugins.plugin_utils.broker._backend import (  # noqa: PLC0415
                BrokerBackend,
            )
            from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (  # noqa: PLC0415
                BrokerUnavailable,
                SessionDirUnsafe,
            )

            try:
                return BrokerBackend(settings, self._become_key())
            except SessionDirUnsafe as exc:  # refused, never worked around
                raise AnsibleError(f"psrp connection to {settings.host}: {exc}") from None
            except BrokerUnavailable as exc:
                display.warning(f"psrp: persistent sessions unavailable ({exc}); using a per-task session")
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._backend import (  # noqa: PLC0415
            LocalBackend,
        )

        return LocalBackend(settings)

    def _host_label(self) -> str:
        return self._settings.host if self._settings else ""

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

    def _run(self, fn: t.Callable[[Backend], t.Any]) -> t.Any:
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
                SessionDirUnsafe,
            )

            host = self._host_label() or "?"
            if isinstance(exc, SessionDirUnsafe):
                raise AnsibleError(f"psrp connection to {host}: {exc}") from None
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
        command = parse_command(cmd, in_data, self._shell)
        self._connect()  # the host label of the log line
        display.vvv(command.log_line, host=self._host_label() if command.log_with_host else None)
        verbosity = display.verbosity
        return t.cast(
            "ExecResult",
            self._run(
                lambda b: b.exec(
                    command.script,
                    command.input_data,
                    command.arguments,
                    verbosity=verbosity,
                    may_change_state=command.may_change_state,
                    joined_stderr=JOINED_STDERR,
                )
            ),
        )

    def _unquote(self, path: str) -> str:
        """Remote path as ansible.builtin.psrp uses it: up to ansible-core 2.19 it strips one pair of
        quotes with ``ShellModule._unquote``; 2.20 removed that method (paths are no longer quoted)."""
        unquote = getattr(self._shell, "_unquote", None)
        return str(unquote(path)) if unquote is not None else path

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        out_path = self._unquote(out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._host_label())
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound(f'file or module does not exist: "{to_native(in_path)}"')
        local = os.path.abspath(in_path)
        self._said_resumed("PUT", out_path, self._run(lambda b: b.put(local, out_path)))

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._host_label())
        in_path = self._unquote(in_path)
        local = os.path.abspath(out_path.replace("\\", "/"))
        self._said_resumed("FETCH", local, self._run(lambda b: b.fetch(in_path, local)))

    def _said_resumed(self, what: str, dest: str, result: t.Any) -> None:
        """Say at -vv when a transfer continued from the partial file of an interrupted one."""
        offset = result.get("resumed_from") if isinstance(result, dict) else None
        if offset:
            display.vv(
                f"{what} {dest}: resumed after the {offset} bytes an interrupted transfer left in "
                "its .psrp-partial file (verified by hash)",
                host=self._host_label(),
            )

    # -- Pipeline API for action plugins ------------------------------------------------------------
    def invoke_pipeline(self, request: PipelineRequest) -> PipelineResult:
        """Run a typed PSRP command pipeline in this host's session (see architecture.md)."""
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (  # noqa: PLC0415
            PipelineRequestError,
            validate_request,
        )

        try:
            validate_request(request)
        except PipelineRequestError as exc:
            raise AnsibleError(f"psrp invoke_pipeline: {exc}") from None
        return t.cast("PipelineResult", self._run(lambda b: b.pipeline(request)))

    # -- shells of the user on the host (pssession / pssession_info) --------------------------------
    def list_shells(self) -> ShellListing:
        """The user's WSMan shells on the host (Get-PSSession), and the ones this connection's
        backend holds itself, listed over the backend's session connection."""
        return t.cast("ShellListing", self._run(lambda b: b.list_shells()))

    def remove_shells(self, shells: t.Sequence[ShellInfo]) -> list[Removal]:
        """Remove shells by id (Remove-PSSession); never one the backend holds itself."""
        return t.cast("list[Removal]", self._run(lambda b: b.remove_shells(shells)))

    # -- disconnected sessions (invoke_command disconnected=true, pssession received/stopped) ------
    def start_disconnected(
        self, request: PipelineRequest, idle_timeout: int | None = None, buffer_mode: str | None = None
    ) -> dict[str, t.Any]:
        """Invoke-Command -InDisconnectedSession: start ``request`` in a new shell, disconnect (with
        the IdleTimeOut seconds / BufferMode Block|Drop given, else the host's defaults), and
        return its ``session_id`` / ``pipeline_id`` (psrp/_disconnected.py)."""
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (  # noqa: PLC0415
            PipelineRequestError,
            validate_request,
        )

        try:
            validate_request(request)
        except PipelineRequestError as exc:
            raise AnsibleError(f"psrp start_disconnected: {exc}") from None
        return t.cast(
            dict[str, t.Any], self._run(lambda b: b.start_disconnected(request, idle_timeout, buffer_mode))
        )

    def receive_disconnected(self, session_id: str, stop: bool = False, depth: int = 2) -> PipelineResult:
        """Receive-PSSession (or stop) of a disconnected session's command, then remove the session."""
        return t.cast("PipelineResult", self._run(lambda b: b.receive_disconnected(session_id, stop, depth)))
