# for internal use by psremoting.core only; not a public API
"""pypsrp wrapper: one ``PSRPSession`` = one WSMan connection + one RunspacePool (one shell).

Used by the session broker (persistent sessions) and in-process by the connection plugin when
``ansible_psrp_session_persist`` is false. It has no Ansible import: results are plain tuples /
dicts and errors are ``SessionError`` carrying an ``ErrorInfo`` from ``_errors.classify``.

Script execution mirrors ansible.builtin.psrp's ``_exec_psrp_script`` and
``_parse_pipeline_result`` (ansible-core 2.16-2.22): the same rc/stdout/stderr rules, with one
deliberate exception on 2.22: 2.22 dropped the Windows Server 2016 rule (a
``NativeCommandErrorMessage`` record without ``target_name`` is a raw stderr chunk, kept without
an added CRLF); :func:`parse_pipeline_result` keeps it, so Server 2016's stderr is not broken into
lines, as on 2.16-2.21.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
    cached_form,
    function_missing,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.output._clixml import (
    error_record_to_dict,
    to_jsonable,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.output._stdout import StdoutBuffer
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._adapters import (
    ReceiveAhead,
    RobustReceive,
    SendBehind,
    adapt_pool,
    fast_unwrap,
    new_wsman,
    robust_receive,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import (
    ERROR,
    UNREACHABLE,
    ErrorInfo,
    classify,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._payload import (
    Payload,
    PayloadState,
    is_full,
    missed,
    payload_commands,
    plan_payload,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
    PipelineResult,
    empty_result,
    runspace_guid,
    to_pypsrp_value,
    validate_request,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    GenericComplexObject,
    PowerShell,
    PSHost,
    PSHostUserInterface,
    PSInvocationState,
    RunspacePool,
    RunspacePoolState,
    SelectorSet,
    SignalCode,
    WinRMTransportError,
    WinRS,
    require,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._restricted import (
    LANGUAGE_PROBE,
    RESTRICTED_MODES,
    SCRIPTS_NOT_ALLOWED,
    for_restricted,
    has_script,
    is_default_configuration,
    mode_from_probe,
    refusal,
    what_needs_scripts,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    FAILED,
    GONE,
    KEPT,
    REMOVED,
    SKIPPED,
    Removal,
    ShellInfo,
    delete_shell,
    enumerate_shells,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._scripts import SESSION_STATE_SCRIPT

T = TypeVar("T")
log = logging.getLogger(__name__)

for _name, _level in (
    ("pypsrp", logging.WARNING),
    ("requests_credssp", logging.INFO),
    ("urllib3", logging.INFO),
):
    logging.getLogger(_name).setLevel(_level)

# HTTP statuses that mean "not processed, try again later" (RFC 9110 15.6.4, RFC 6585 4, RFC 8470
# 5.2). pypsrp's urllib3 Retry lists them but never applies them: urllib3 does not retry POST.
RETRY_STATUSES = frozenset({425, 429, 503})
# Longest single backoff sleep, whatever reconnection_backoff * 2**n says.
MAX_BACKOFF = 30.0
# Bytes of WSMan responses one pipeline may return before it is stopped (controller memory bound).
MAX_OUTPUT_BYTES = 512 * 1024 * 1024
# Seconds the second connection of PSRPSession.abort waits for connect / each response.
ABORT_TIMEOUT = 4
# Module tasks one shell runs before it is replaced (after the reply; the next task opens a new
# one). ansible-core's Add-CSharpType compiles a module's C# utils into a new assembly on every
# run and a .NET assembly cannot be unloaded, so a shell's process grows by one assembly per
# module task (winhost counts them: csharp_compiles, assemblies_per_process_peak). Windows
# creates a shell in about 0.5-1.5 s: replacing it every 100 module tasks costs about 1% of
# them and keeps at most 100 such assemblies in one process (docs/connection.md).
MODULE_TASKS_PER_SHELL = 100
# How an exec (raw, script, module) task is named when a restricted endpoint refuses it.
EXEC_NEEDS = (
    "this task (raw, script and modules send PowerShell script text; modules run in Ansible's exec wrapper)"
)
# Smallest cap on one HTTP response body (see _TransportGuard._cap_response).
MIN_RESPONSE_LIMIT = 16 * 1024 * 1024


class _TransportGuard:
    """Wraps a pypsrp transport's ``send``: retries 503/429/425 with exponential backoff
    (``reconnection_retries`` times, ``reconnection_backoff`` * 2**n seconds) and counts the
    response bytes so a pipeline's output can be capped.

    A retried request is re-wrapped by pypsrp (new message-encryption sequence number), and the
    statuses retried mean the server did not process it, so nothing runs twice.
    """

    def __init__(self, transport: Any, retries: int, backoff: float, host_label: str) -> None:
        self._send = transport.send
        self._transport = transport
        # A legitimate response is at most one envelope (plus encryption framing); anything far
        # larger is refused before it is read into memory.
        self.max_response = max(
            MIN_RESPONSE_LIMIT, 2 * int(getattr(transport, "max_envelope_size", 0) or 0) + 65536
        )
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.host_label = host_label
        self.received = 0
        self.retried = 0
        transport.send = self.send

    def send(self, message: bytes, **kwargs: Any) -> bytes:
        if self._transport.session is None:
            session = self._transport._build_session()
            session.hooks["response"].insert(0, self._cap_response)
            # pypsrp has just resolved the environment's proxy settings for this one endpoint
            # (requests' merge_environment_settings, honouring NO_PROXY and ignore_proxy) into
            # session.proxies. With trust_env left on, requests would scan os.environ again on
            # every request (resolve_proxies in Session.send) only to reach the same answer.
            session.trust_env = False
            self._transport.session = session
        attempt = 0
        while True:
            try:
                response = self._send(message, **kwargs)
            except WinRMTransportError as exc:
                if exc.code not in RETRY_STATUSES or attempt >= self.retries:
                    raise
                delay = min(MAX_BACKOFF, self.backoff * (2**attempt))
                attempt += 1
                self.retried += 1
                log.info(
                    "%s answered HTTP %s; retry %d/%d in %.1fs",
                    self.host_label, exc.code, attempt, self.retries, delay,
                )  # fmt: skip
                time.sleep(delay)
                continue
            self.received += len(response or b"")
            encryption = getattr(self._transport, "encryption", None)
            if encryption is not None:
                fast_unwrap(encryption)
            return response

    def _cap_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """requests response hook (runs before the body is read): refuse oversized bodies."""
        limit = self.max_response
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            response.close()
            raise ResponseTooLarge(f"the server sent a response of {length} bytes (limit {limit})")
        data = response.raw.read(limit + 1, decode_content=True) if response.raw is not None else b""
        if len(data) > limit:
            response.close()
            raise ResponseTooLarge(f"the server sent a response larger than {limit} bytes")
        response._content = data
        response._content_consumed = True
        return response


class ResponseTooLarge(Exception):
    """An HTTP response body is far larger than any WSMan envelope may be."""


class _CallerFailed(Exception):
    """Carries what ``PSRPSession.wait``'s ``on_poll`` raised past the connection's error handling."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class OutputLimitExceeded(Exception):
    """A pipeline returned more than ``max_output_bytes``; it was stopped."""


_progress = threading.local()


@contextlib.contextmanager
def reporting_start(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` (in this thread) once a command of the session has been accepted by the
    host: the broker tells the waiting worker, so a broker that dies later can be reported as
    "the command had started" rather than "nothing ran"."""
    _progress.callback = callback
    try:
        yield
    finally:
        _progress.callback = None


def _command_started() -> None:
    callback = getattr(_progress, "callback", None)
    if callback is not None:
        with contextlib.suppress(Exception):
            callback()


class SessionError(Exception):
    """A failure with an ``ErrorInfo`` (kind + user message) attached."""

    def __init__(self, info: ErrorInfo, *, not_started: bool = False, dropped: OSError | None = None) -> None:
        super().__init__(info.message)
        self.info = info
        self.not_started = not_started  # the Command was never accepted by the server
        self.dropped = dropped  # the network error, when the connection dropped while sending input


class TransferError(Exception):
    """put/fetch failed on the remote side (task failure, not unreachable)."""


class _AnswerUI(PSHostUserInterface):
    """Host UI capturing Write-Host output and answering Read-Host from a queue."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[str] = []

    def ReadLine(self, runspace: Any, pipeline: Any) -> str:
        if not self.answers:
            raise NotImplementedError("no host_input left for Read-Host")
        return self.answers.pop(0)


class PSRPSession:
    """A RunspacePool with the bookkeeping the broker needs (thread-safe via ``lock``)."""

    def __init__(
        self,
        wsman_kwargs: dict[str, Any],
        configuration_name: str,
        shell_idle_timeout: int | None,
        host_label: str,
        *,
        max_output_bytes: int = MAX_OUTPUT_BYTES,
        no_profile: bool = False,
        shell_name: str | None = None,
    ) -> None:
        self._wsman_kwargs = dict(wsman_kwargs)
        self.no_profile = no_profile
        self.max_output_bytes = max_output_bytes
        self.guard: _TransportGuard | None = None
        self.robust: RobustReceive | None = None
        # Output that may be missing (a Receive answer lost in a network cut, from a server
        # without robust connections): shown as a warning; consumed by take_warnings().
        self.warnings: list[str] = []
        self._control: Any = None  # WSMan for shell listing/removal while no pool is open
        # Why the last pool was replaced (shown to the user at -v); consumed by take_notices().
        self.notices: list[str] = []
        self.configuration_name = configuration_name
        self.shell_idle_timeout = shell_idle_timeout
        self.host_label = host_label
        self.port = int(wsman_kwargs.get("port") or 0)
        self.lock = threading.RLock()
        self.pool: RunspacePool | None = None
        self.host: PSHost | None = None
        self.ui: _AnswerUI | None = None
        self.pending: list[PowerShell] = []  # finished pipelines waiting for Signal terminate
        self.running: PowerShell | None = None  # the pipeline started and not yet finished
        self.terminated = False  # abort() ran: never open a shell again
        self.shell_name = shell_name  # rsp:Name of the shells this session creates
        # called (with the lock held) each time a pool has opened: the broker records the shell
        self.on_open: Callable[[PSRPSession], None] | None = None
        self.last_used = time.monotonic()
        self.opened = 0  # how many times a pool was opened (1 + reconnects)
        self.broken = False
        self.baseline_taken = False  # SESSION_STATE_SCRIPT ran once in this pool
        self.needs_reset = False  # a task may have changed env vars / location
        # The endpoint's language mode once known (psrp/_restricted.py); None: not learnt yet.
        self.language_mode: str | None = None
        # Module payload cache (``_payload``): allowed at all, and what this pool's runspace holds.
        self.payload_cache = True
        self.payload_state = PayloadState()
        # Exec-wrapper (module) tasks run in this pool: each leaves a compiled C# assembly in the
        # session's process (see MODULE_TASKS_PER_SHELL); recycled marks a pool closed for that.
        self.module_tasks = 0
        self.recycled = False

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            if self.terminated:
                raise SessionError(
                    ErrorInfo(UNREACHABLE, f"psrp connection to {self.host_label}: the session was ended"),
                )
            if self.pool is not None and self.pool.state == RunspacePoolState.OPENED and not self.broken:
                return
            self._discard()
            retries = int(self._wsman_kwargs.get("reconnection_retries") or 0)
            backoff = float(self._wsman_kwargs.get("reconnection_backoff") or 0)
            attempt = 0
            while True:
                try:
                    pool = self._open_pool()
                    break
                except Exception as exc:
                    info = classify(exc, self.host_label, self.port, stage="open")
                    # Opening a shell runs no user work, so a server error (HTTP 500 without
                    # a WSMan fault) is retried like a 503, within reconnection_retries.
                    if not _is_http_status(exc, 500) or attempt >= retries:
                        raise SessionError(info) from None
                    delay = min(MAX_BACKOFF, backoff * (2**attempt))
                    attempt += 1
                    log.info("opening a shell on %s failed (%s); retry %d/%d", self.host_label,
                             info.message, attempt, retries)  # fmt: skip
                    time.sleep(delay)
            self.pool = pool
            self._close_control()  # the pool's connection serves shell listing from now on
            self.broken = False
            self.baseline_taken = False
            self.needs_reset = False
            self.payload_state.reset()
            self.module_tasks = 0
            self.recycled = False
            self.opened += 1
            self.last_used = time.monotonic()
            if self.on_open is not None:
                try:
                    self.on_open(self)
                except Exception:
                    log.warning("after opening a shell on %s", self.host_label, exc_info=True)

    def _open_pool(self) -> RunspacePool:
        require()
        wsman = new_wsman(**self._wsman_kwargs)
        self.guard = _TransportGuard(
            wsman.transport,
            int(self._wsman_kwargs.get("reconnection_retries") or 0),
            float(self._wsman_kwargs.get("reconnection_backoff") or 0),
            self.host_label,
        )
        self.robust = robust_receive(wsman)
        self.ui = _AnswerUI()
        self.host = PSHost(None, None, False, "Ansible PSRP Host", None, self.ui, None)  # type: ignore[arg-type]
        pool = RunspacePool(
            wsman,
            host=self.host,
            configuration_name=self.configuration_name,
            idle_timeout=self.shell_idle_timeout,
            **({"no_profile": True} if self.no_profile else {}),  # WINRS_NOPROFILE, as the builtin
        )
        adapt_pool(pool)
        if self.shell_name:
            pool.shell.name = self.shell_name  # rsp:Name at Create, shown by Enumerate
        try:
            pool.open()
        except BaseException:
            with contextlib.suppress(Exception):
                wsman.transport.close()
            raise
        return pool

    def around(self, pool: RunspacePool, guard: _TransportGuard, robust: RobustReceive) -> PSRPSession:
        """A session with this one's settings around ``pool``, a disconnected session's pool that
        psrp/_disconnected connected again: its :meth:`wait` is the same robust, reconnecting
        Receive loop (OperationID retransmission, ``reconnection_retries`` / ``_backoff``). Its
        notices and warnings are passed on to this session by the caller."""
        other = PSRPSession(
            self._wsman_kwargs, self.configuration_name, None, self.host_label,
            max_output_bytes=self.max_output_bytes,
        )  # fmt: skip
        other.pool, other.guard, other.robust = pool, guard, robust
        return other

    def take_notices(self) -> list[str]:
        notices, self.notices = self.notices, []
        return notices

    def take_warnings(self) -> list[str]:
        warnings, self.warnings = self.warnings, []
        return warnings

    def _discard(self) -> None:
        """Forget a pool that failed; try to delete its shell in case the server still has it."""
        pool, self.pool = self.pool, None
        self.pending = []
        if pool is not None:
            with contextlib.suppress(Exception):
                if pool.state == RunspacePoolState.OPENED:
                    pool.close()
            with contextlib.suppress(Exception):
                pool.connection.close()

    def close(self) -> None:
        """Delete the server shell (WSMan Delete) and drop the HTTP connection(s)."""
        with self.lock:
            self._close_control()
            pool, self.pool = self.pool, None
            self.pending = []
            if pool is None:
                return
            try:
                if pool.state == RunspacePoolState.OPENED and not self.broken:
                    pool.close()
            except Exception as exc:
                log.debug("closing pool for %s failed: %s", self.host_label, type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    pool.connection.close()

    # -- other shells of the user: list, remove by id (Get-/Remove-PSSession) ----------------------
    def _shell_connection(self) -> Any:
        """The WSMan connection for shell listing/removal: the pool's while it is open, otherwise
        one kept for that alone until a pool opens. Listing creates no shell (Get-PSSession
        -ComputerName creates none either), so it neither opens this session nor records one."""
        if self.pool is not None and not self.broken:
            return self.pool.connection
        if self._control is None:
            require()
            wsman = new_wsman(**self._wsman_kwargs)
            retries = int(self._wsman_kwargs.get("reconnection_retries") or 0)
            backoff = float(self._wsman_kwargs.get("reconnection_backoff") or 0)
            _TransportGuard(wsman.transport, retries, backoff, self.host_label)
            self._control = wsman
        return self._control

    def _close_control(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(Exception):
                control.transport.close()

    def own_shell_ids(self) -> set[str]:
        """The ShellId of this session's shell, when one is open."""
        pool = self.pool
        return {str(pool.id).upper()} if pool is not None and getattr(pool, "id", None) else set()

    def delete_shell(self, shell_id: str, resource_uri: str) -> bool:
        """WSMan Delete of another shell of this user on the same endpoint; False when the host
        no longer has it. Raises what pypsrp raises."""
        shell = ShellInfo(shell_id.upper(), None, resource_uri, None, None, None, None, None, None, None)
        with self.lock:
            self.last_used = time.monotonic()
            return delete_shell(self._shell_connection(), shell)

    def list_shells(self) -> list[ShellInfo]:
        """WSMan Enumerate of this user's shells on the host. Raises what pypsrp raises."""
        with self.lock:
            self.last_used = time.monotonic()
            return enumerate_shells(self._shell_connection())

    def shells(self) -> list[ShellInfo]:
        """:meth:`list_shells` with failures as ``SessionError``."""
        try:
            return self.list_shells()
        except Exception as exc:
            info = classify(exc, self.host_label, self.port, stage="open")
            message = f"listing sessions on {self.host_label}: {info.message}"
            raise SessionError(ErrorInfo(info.kind, message)) from None

    def remove_shells(self, targets: list[dict[str, Any]], keep: set[str]) -> list[Removal]:
        """WSMan Delete of each ``{"shell_id", "resource_uri"}`` in turn, never one in ``keep``.
        After a Delete finds the host unreachable (or refuses the credentials) the rest are
        skipped: every one would fail the same way."""
        out: list[Removal] = []
        stop: ErrorInfo | None = None
        for target in targets:
            shell_id = str(target.get("shell_id") or "").upper()
            if shell_id in keep:
                out.append(Removal(shell_id, KEPT))
                continue
            if stop is not None:
                out.append(Removal(shell_id, SKIPPED, stop.kind, stop.message))
                continue
            try:
                gone = self.delete_shell(shell_id, str(target.get("resource_uri") or ""))
            except Exception as exc:
                info = classify(exc, self.host_label, self.port)
                out.append(Removal(shell_id, FAILED, info.kind, info.message))
                if info.kind != ERROR:
                    stop = info
                continue
            out.append(Removal(shell_id, REMOVED if gone else GONE))
        return out

    def end(self, wait: float = 0.5) -> str:
        """End the session for good (the run is over): a normal close when the session is idle,
        otherwise :meth:`abort`. Never waits longer than ``wait`` for a running command's lock."""
        if self.lock.acquire(timeout=wait):
            try:
                self.terminated = True
                if self.running is None:
                    self.close()
                    return "closed"
            finally:
                self.lock.release()
        return self.abort()

    def abort(self) -> str:
        """Stop the running pipeline (PSRP stop: WSMan Signal ``powershell/signal/ctrl_c``, as
        Enter-PSSession sends on Ctrl-C) and delete the shell, over a second connection.

        Runs without the session lock: the thread that holds it may be waiting in a Receive
        long-poll (up to ``operation_timeout``) that the first connection cannot interrupt. The
        second connection authenticates on its own and is closed at once. Returns what it did.
        """
        self.terminated = True
        self.broken = True
        pool, running = self.pool, self.running
        if pool is None or getattr(pool, "id", None) is None:
            return "no shell"
        shell = WinRS(
            new_wsman(**_abort_kwargs(self._wsman_kwargs)), resource_uri=pool.shell.resource_uri, id=pool.id
        )
        selectors = SelectorSet()
        selectors.add_option("ShellId", str(pool.id).upper())
        shell._selector_set = selectors  # pypsrp keeps the Create response's selectors here
        shell.opened = True
        done = []
        try:
            if running is not None and getattr(running, "id", None):
                with contextlib.suppress(Exception):  # the command may have just ended
                    shell.signal(SignalCode.PS_CTRL_C, str(running.id).upper())
                    done.append("stopped the running command")
            shell.close()  # WSMan Delete
            done.append("deleted the shell")
        except Exception as exc:
            info = classify(exc, self.host_label, self.port, stage="abort")
            log.info("aborting the session to %s: %s", self.host_label, info.message)
            done.append(f"delete failed: {info.message}")
        finally:
            with contextlib.suppress(Exception):
                shell.wsman.transport.close()
        return "; ".join(done)

    def _run_state_script(self, pool: RunspacePool) -> None:
        """Take the baseline (first run) or restore it; best effort, never fails a task."""
        ps = self.new_pipeline(pool)
        ps.add_script(SESSION_STATE_SCRIPT, use_local_scope=True)
        try:
            ps.invoke()
        except Exception as exc:
            log.debug("session state script failed on %s: %s", self.host_label, type(exc).__name__)
        self.pending.append(ps)

    def close_pending(self) -> None:
        """After a reply: restore session state if a task may have changed it, then Signal
        terminate for finished pipelines (frees the server's operation quota)."""
        with self.lock:
            if self.needs_reset and self.baseline_taken and self.pool is not None and not self.broken:
                self.needs_reset = False
                self._run_state_script(self.pool)
            pipelines, self.pending = self.pending, []
            for ps in pipelines:
                try:
                    ps.close()
                except Exception as exc:
                    info = classify(exc, self.host_label, self.port)
                    if info.retry_safe:
                        self.broken = True  # the server dropped the shell: reopen on next use
                    log.debug("closing pipeline failed: %s", info.message)
                    break
            if self.module_tasks >= MODULE_TASKS_PER_SHELL and self.pool is not None and not self.broken:
                log.debug(
                    "recycling the shell of %s after %d module tasks", self.host_label, self.module_tasks
                )
                self.close()
                self.recycled = True

    def is_open(self) -> bool:
        return self.pool is not None and not self.broken

    # -- running work with one transparent reconnect -----------------------------------------
    def run(self, fn: Callable[[RunspacePool], T], *, defer_close: bool = True) -> T:
        """Run ``fn(pool)``; reopen the pool and retry once if the failure happened before the
        server accepted the Command (so no task ever runs twice)."""
        with self.lock:
            self.last_used = time.monotonic()
            if not defer_close:
                self.close_pending()
            for attempt in (0, 1):
                if attempt == 0 and self.opened and (self.pool is None or self.broken) and not self.recycled:
                    self.notices.append(
                        f"psrp: the previous session to {self.host_label} failed; opening a new one"
                    )
                self.open()
                if self.pool is None:
                    raise RuntimeError("internal error: self.pool not set")
                try:
                    return fn(self.pool)
                except SessionError as exc:
                    if attempt == 0 and exc.not_started and exc.info.retry_safe:
                        log.debug(
                            "session for %s is stale (%s); reopening", self.host_label, exc.info.message
                        )
                        self.broken = True
                        self.notices.append(
                            f"psrp: the session to {self.host_label} was lost ({exc.info.message}); "
                            "opened a new one and sent the task (it had not started)"
                        )
                        continue
                    if exc.info.retry_safe:
                        self.broken = True
                    raise
                finally:
                    self.last_used = time.monotonic()
            raise AssertionError("unreachable")  # pragma: no cover

    def new_pipeline(self, pool: RunspacePool) -> PowerShell:
        """A pipeline in ``pool`` (every pipeline of the session is created here)."""
        return PowerShell(pool)

    def start(self, ps: PowerShell, input_data: Any, *, send_behind: bool = False) -> None:
        """Start ``ps`` with ``input_data``; ``send_behind``: prepare each input Send while the
        previous one is in flight (``_adapters.SendBehind``, put_file)."""
        self.running = ps
        try:
            if send_behind and input_data is not None:
                with SendBehind(ps.runspace_pool.shell):
                    ps.begin_invoke(input_data)
            else:
                ps.begin_invoke(input_data)
            _command_started()
        except Exception as exc:
            not_started = ps.state == PSInvocationState.NOT_STARTED
            if not not_started:
                _command_started()
            raise SessionError(
                classify(exc, self.host_label, self.port, stage="command"),
                not_started=not_started,
                dropped=exc if isinstance(exc, OSError) and not not_started else None,
            ) from None

    def wait(
        self,
        ps: PowerShell,
        on_poll: Callable[[PowerShell], None] | None = None,
        *,
        capped: bool = True,
        ahead: bool = False,
    ) -> None:
        """Poll until the pipeline ends; stop it if its output exceeds ``max_output_bytes``
        (unless not ``capped``: fetch_file streams its output to a file; a disconnected session's
        receive returns what the host kept, as Receive-PSSession).
        ``on_poll(ps)`` runs after each Receive (live output: ``invoke._live``; exec takes the
        output objects out as they come); what it raises is the caller's own failure (fetch_file
        cannot write its local file) and is raised as it is, never taken for a dropped
        connection. ``ahead`` (fetch_file, not ``capped``): the next Receive is in flight while
        ``on_poll`` handles the previous answer (``_adapters.ReceiveAhead``)."""
        if ahead and capped:
            raise ValueError("internal error: a capped wait cannot receive ahead")
        with ReceiveAhead(ps) if ahead else contextlib.nullcontext() as receiver:
            self._wait(ps, receiver.poll if receiver is not None else ps.poll_invoke, on_poll, capped)

    def _wait(
        self,
        ps: PowerShell,
        poll: Callable[[], None],
        on_poll: Callable[[PowerShell], None] | None,
        capped: bool,
    ) -> None:
        start = self.guard.received if self.guard is not None else 0
        lost_before = self.robust.lost_answers if self.robust is not None else 0
        failures = 0
        try:
            while ps.state == PSInvocationState.RUNNING:
                try:
                    poll()
                except OSError as exc:  # the network dropped: same shell, same pipeline
                    failures = self.reconnect(exc, failures)
                    continue
                if failures:
                    self.notices.append(
                        f"psrp: reconnected to {self.host_label} after {failures} attempt(s); the "
                        "command kept running on the host and its output continued"
                    )
                    failures = 0
                if on_poll is not None:
                    try:
                        on_poll(ps)
                    except Exception as exc:  # the caller's own failure, never the connection's
                        raise _CallerFailed(exc) from exc
                if capped and self.guard is not None and self.guard.received - start > self.max_output_bytes:
                    self._stop(ps)
                    raise OutputLimitExceeded()
        except _CallerFailed as failed:
            raise failed.error from None
        except OutputLimitExceeded:
            raise SessionError(
                ErrorInfo(
                    ERROR,
                    f"psrp connection to {self.host_label}: the command returned more than "
                    f"{_size_text(self.max_output_bytes)} of output and was stopped on the host to "
                    "protect the controller's memory (limit: option max_output_size, variable "
                    "ansible_psrp_max_output_size); return less (Select-Object -First, Out-File on "
                    "the host and fetch the file) or raise ansible_psrp_max_output_size",
                )
            ) from None
        except Exception as exc:
            info = classify(exc, self.host_label, self.port, stage="receive")
            if info.retry_safe:
                # The command was accepted: its outcome is unknown and it is not sent again.
                info = ErrorInfo(
                    info.kind,
                    f"{info.message}; the command had started on the host, so it was not sent again "
                    "(its outcome is unknown)",
                    retry_safe=True,
                )
            raise SessionError(info) from None
        finally:
            lost = (self.robust.lost_answers if self.robust is not None else 0) - lost_before
            if lost:
                self.warnings.append(
                    f"psrp: {lost} answer(s) of {self.host_label} to a Receive were lost in a network "
                    "cut and the host does not keep them (no robust connection support, MS-WSMV "
                    "3.1.4.1.39): the output of this task may be incomplete"
                )

    def reconnect(self, exc: OSError, failures: int, notice: str | None = None) -> int:
        """A Receive failed on the network while the command runs on the host: wait (capped,
        jittered exponential backoff: ``reconnection_backoff`` * 2**n, at most MAX_BACKOFF, times
        0.5-1.0), then continue on a new HTTP connection to the same shell and pipeline. The
        command is never sent again; the Receive whose answer was lost is retransmitted
        (``RobustReceive``). Raises ``exc`` once ``reconnection_retries`` are used up. (put_file
        also reconnects this way when a Send of its input dropped, then resumes in a new
        pipeline.)"""
        retries = int(self._wsman_kwargs.get("reconnection_retries") or 0)
        if failures >= retries:
            raise exc
        backoff = float(self._wsman_kwargs.get("reconnection_backoff") or 0)
        delay = min(MAX_BACKOFF, backoff * (2**failures)) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
        reason = classify(exc, self.host_label, self.port, stage="receive").message
        if failures == 0:
            self.notices.append(
                f"psrp: the connection to {self.host_label} dropped while {notice or 'a command ran'} "
                f"({reason}); reconnecting to the same shell"
                + ("" if notice else " (the command is not sent again)")
            )
        log.info("%s; reconnect %d/%d in %.1fs", reason, failures + 1, retries, delay)
        time.sleep(delay)
        self._new_http_connection()
        return failures + 1

    def _new_http_connection(self) -> None:
        """Drop the pool's HTTP connection; pypsrp opens (and authenticates) a new one on the next
        request. Message encryption restarts with the new security context."""
        transport = getattr(getattr(self.pool, "connection", None), "transport", None)
        if transport is None:
            return
        session, transport.session = transport.session, None
        transport.encryption = None
        if session is not None:
            with contextlib.suppress(Exception):
                session.close()

    def _stop(self, ps: PowerShell) -> None:
        with contextlib.suppress(Exception):
            ps.stop()
        self.broken = True  # the pool may still be receiving: start fresh next time

    def finish(self, ps: PowerShell) -> None:
        self.running = None
        self.pending.append(ps)

    def reset_host(self) -> None:
        if self.host is None or self.ui is None:
            raise RuntimeError("internal error: self.host, self.ui not set")
        self.host.rc = None
        self.ui.stdout = []
        self.ui.stderr = []
        self.ui.answers = []

    # -- restricted endpoints (JEA) ----------------------------------------------------------
    @property
    def restricted(self) -> bool:
        """The endpoint refuses script text (NoLanguage / RestrictedLanguage: JEA). The one fact
        every sender of script text checks (see :meth:`require_script_text`)."""
        return self.language_mode in RESTRICTED_MODES

    def require_script_text(self, pool: RunspacePool, what: str) -> None:
        """Before script text is sent: learn a custom endpoint's language mode (once per session)
        and refuse, naming ``what``, when it is restricted. Nothing of the task is sent."""
        if self.language_mode is None and not is_default_configuration(self.configuration_name):
            self.language_mode = self._probe_language(pool)
        if self.restricted:
            raise SessionError(
                ErrorInfo(
                    ERROR, refusal(self.host_label, self.configuration_name, str(self.language_mode), what)
                )
            )

    def _probe_language(self, pool: RunspacePool) -> str:
        ps = self.new_pipeline(pool)
        ps.add_script(LANGUAGE_PROBE)
        try:
            ps.invoke()
        except Exception as exc:
            raise SessionError(
                classify(exc, self.host_label, self.port, stage="command"), not_started=True
            ) from None
        self.pending.append(ps)
        return mode_from_probe(list(ps.output), [str(e.fq_error) for e in ps.streams.error])

    def _refused_scripts(self, errors: list[str]) -> bool:
        """A script came back ScriptsNotAllowed (nothing ran): the endpoint is NoLanguage."""
        if any(SCRIPTS_NOT_ALLOWED in str(e) for e in errors):
            self.language_mode = "NoLanguage"
            return True
        return False

    # -- operations ------------------------------------------------------------------------
    def exec_script(
        self,
        script: str,
        input_data: Any = None,
        arguments: list[str] | None = None,
        *,
        use_local_scope: bool = True,
        verbosity: int = 0,
        may_change_state: bool = False,
        joined_stderr: bool = False,
    ) -> tuple[int, bytes, bytes]:
        """Same semantics as ansible.builtin.psrp ``_exec_psrp_script``.

        ``may_change_state``: the task may set environment variables or the location; take a
        baseline first (once per pool) and restore it after the reply (``close_pending``).
        ``joined_stderr``: stderr as ansible-core 2.16-2.18 build it (see parse_pipeline_result).
        """

        what = EXEC_NEEDS
        # an exec-wrapper payload (module task); a command with arguments is sent as it is
        module = None if arguments else plan_payload(script, input_data)
        payload = module if self.payload_cache_allowed() else None

        def build(ps: PowerShell) -> None:
            ps.add_script(script, use_local_scope=use_local_scope)
            for arg in arguments or ():
                ps.add_argument(arg)

        def work(pool: RunspacePool) -> tuple[int, bytes, bytes]:
            self.require_script_text(pool, what)
            if may_change_state and not self.baseline_taken:
                self._run_state_script(pool)
                self.baseline_taken = True
            if payload is not None:
                result, errors = self._exec_payload(pool, payload, verbosity, joined_stderr)
            else:
                result, errors = self._exec_pipeline(pool, build, input_data, verbosity, joined_stderr)
            if result[0] != 0 and self._refused_scripts([str(e.fq_error) for e in errors]):
                self.require_script_text(pool, what)  # refused by the endpoint: say why and how
            self.needs_reset = self.needs_reset or may_change_state
            self.module_tasks += module is not None
            return result

        return self.run(work)

    def payload_cache_allowed(self) -> bool:
        """Whether module payloads may be cached in this session's runspace (``_payload``): the
        one switch for it (an endpoint that refuses script text cannot define the function)."""
        return self.payload_cache and not self.restricted

    def _exec_pipeline(
        self,
        pool: RunspacePool,
        build: Callable[[PowerShell], None],
        input_data: Any,
        verbosity: int,
        joined_stderr: bool,
    ) -> tuple[tuple[int, bytes, bytes], list[Any]]:
        """Run one exec pipeline; its rc/stdout/stderr and its error records."""
        self.reset_host()
        ps = self.new_pipeline(pool)
        build(ps)
        self.start(ps, input_data)
        stdout = StdoutBuffer(output_text)
        self.wait(ps, lambda running: stdout.drain(running.output))
        result = parse_pipeline_result(ps, self.host, verbosity, joined_stderr=joined_stderr, stdout=stdout)
        self.finish(ps)
        return result, list(ps.streams.error)

    def _exec_payload(
        self, pool: RunspacePool, payload: Payload, verbosity: int, joined_stderr: bool
    ) -> tuple[tuple[int, bytes, bytes], list[Any]]:
        """An exec-wrapper command through the payload cache; a miss sends everything again."""
        while True:
            full = is_full(payload, self.payload_state)
            commands = t.cast(list[PipelineCommand], payload_commands(payload, self.payload_state))
            result, errors = self._exec_pipeline(
                pool, functools.partial(add_commands, commands=commands), None, verbosity, joined_stderr
            )
            if not full and missed(result[1], errors):
                self.payload_state.misses += 1
                self.payload_state.reset()
                continue
            self.payload_state.remember(payload)
            return result, errors

    def invoke_pipeline(
        self, request: PipelineRequest, on_poll: Callable[[PowerShell], None] | None = None
    ) -> PipelineResult:
        needs_keys = validate_request(request)

        def work(pool: RunspacePool) -> PipelineResult:
            sent = self._restricted_form(pool, request)
            result = self._invoke_session_cached(pool, sent, needs_keys, on_poll)
            if result is None:
                result = self._invoke_once(pool, sent, needs_keys, on_poll)
            if has_script(sent) and self._refused_scripts(
                [str(e.get("fully_qualified_error_id")) for e in result["error"]]
            ):
                # Refused before it ran (a parse error): send it again in the form the endpoint runs.
                result = self._invoke_once(pool, self._restricted_form(pool, request), needs_keys, on_poll)
            return result

        return self.run(work)

    def _invoke_session_cached(
        self,
        pool: RunspacePool,
        request: PipelineRequest,
        needs_keys: bool,
        on_poll: Callable[[PowerShell], None] | None,
    ) -> PipelineResult | None:
        """An invoke_command session wrapper (invoke/_session.py) as a call of the function the
        runspace already holds (defined by the first one); None when ``request`` is not one or
        code may not be cached here. A missing function costs one resend, never a failed task."""
        if not self.payload_cache_allowed():
            return None
        state = self.payload_state
        sent = cached_form(request, defined=state.session_defined)
        if sent is None:
            return None
        result = self._invoke_once(pool, sent, needs_keys, on_poll)
        if state.session_defined and function_missing(result):
            state.misses += 1
            state.session_defined = False
            sent = t.cast(PipelineRequest, cached_form(request, defined=False))
            result = self._invoke_once(pool, sent, needs_keys, on_poll)
        # After a run that defined it, the function exists unless the pipeline failed to start.
        state.session_defined = not function_missing(result)
        return result

    def _restricted_form(self, pool: RunspacePool, request: PipelineRequest) -> PipelineRequest:
        """``request`` as this endpoint can run it: unchanged, or (restricted endpoint) without the
        session wrapper; refused, naming endpoint and fix, when it needs script text."""
        if not has_script(request):
            return request
        if self.language_mode is None and not is_default_configuration(self.configuration_name):
            self.language_mode = self._probe_language(pool)
        if not self.restricted:
            return request
        converted = for_restricted(request)
        if converted is None:
            raise SessionError(
                ErrorInfo(
                    ERROR,
                    refusal(
                        self.host_label,
                        self.configuration_name,
                        str(self.language_mode),
                        what_needs_scripts(request),
                    ),
                )
            )
        return converted

    def _invoke_once(
        self,
        pool: RunspacePool,
        request: PipelineRequest,
        needs_keys: bool,
        on_poll: Callable[[PowerShell], None] | None,
    ) -> PipelineResult:
        self.reset_host()
        if self.ui is None:
            raise RuntimeError("internal error: self.ui not set")
        if needs_keys and not getattr(pool, "_key_exchanged", False):
            try:
                pool.exchange_keys()
            except Exception as exc:
                raise SessionError(
                    classify(exc, self.host_label, self.port, stage="key exchange"), not_started=True
                ) from None
        self.ui.answers = list(request.get("host_input", []))
        ps = self.new_pipeline(pool)
        add_commands(ps, request["commands"])
        raw_input = request.get("input")
        input_data = [to_pypsrp_value(v) for v in raw_input] if raw_input else None
        self.start(ps, input_data)
        self.wait(ps, on_poll)
        result = build_pipeline_result(ps, self.host, self.ui, int(request.get("depth", 2)))
        self.finish(ps)
        return result


def _abort_kwargs(wsman_kwargs: dict[str, Any]) -> dict[str, Any]:
    """WSMan settings of the second connection :meth:`PSRPSession.abort` uses: same endpoint
    and credentials, short timeouts (the whole stop + delete must end within seconds)."""
    kwargs = dict(wsman_kwargs)
    kwargs["connection_timeout"] = min(int(kwargs.get("connection_timeout") or 30), ABORT_TIMEOUT)
    kwargs["read_timeout"] = min(int(kwargs.get("read_timeout") or 30), ABORT_TIMEOUT)
    kwargs["operation_timeout"] = max(1, min(int(kwargs.get("operation_timeout") or 20), ABORT_TIMEOUT - 1))
    kwargs["reconnection_retries"] = 0
    return kwargs


def add_commands(ps: PowerShell, commands: list[PipelineCommand]) -> None:
    """Add the typed commands of a pipeline request to ``ps`` (typed values decoded for pypsrp)."""
    for cmd in commands:
        if cmd.get("is_script", False):
            ps.add_script(cmd["name"], use_local_scope=cmd.get("use_local_scope", True))
        else:
            ps.add_cmdlet(cmd["name"], use_local_scope=cmd.get("use_local_scope"))
        for pname, pvalue in cmd.get("parameters", {}).items():
            ps.add_parameter(pname, to_pypsrp_value(pvalue))
        for arg in cmd.get("arguments", []):
            ps.add_argument(to_pypsrp_value(arg))
        if cmd.get("end_of_statement"):
            ps.add_statement()


def _is_http_status(exc: BaseException, status: int) -> bool:
    return isinstance(exc, WinRMTransportError) and exc.code == status


def _size_text(size: int) -> str:
    """``512 MiB`` for whole MiB, else the number of bytes."""
    return f"{size // (1024 * 1024)} MiB" if size % (1024 * 1024) == 0 else f"{size} bytes"


def output_text(output: Any) -> str:
    """One output object as ansible.builtin.psrp's ``_parse_pipeline_result`` writes it."""
    if isinstance(output, GenericComplexObject) and output.to_string is None:
        obj_lines = list(output.property_sets)
        obj_lines.extend(f"{k}: {v}" for k, v in output.adapted_properties.items())
        obj_lines.extend(f"{k}: {v}" for k, v in output.extended_properties.items())
        return "\n".join(obj_lines)
    return _simple_text(output)


def parse_pipeline_result(
    pipeline: PowerShell,
    host: PSHost | None,
    verbosity: int,
    *,
    joined_stderr: bool = False,
    stdout: StdoutBuffer | None = None,
) -> tuple[int, bytes, bytes]:
    """rc/stdout/stderr exactly like ansible.builtin.psrp's ``_parse_pipeline_result``.

    ansible-core 2.19 changed stderr: each error record ends with CRLF and native command errors
    (stderr of an executable) are kept as they are. ``joined_stderr`` gives 2.16-2.18's form
    instead: every record formatted in full, host stderr lines appended, all joined with CRLF.
    """
    if host is None:
        raise RuntimeError("internal error: host not set")
    rc = host.rc or (1 if pipeline.had_errors else 0)
    # stdout: the output objects' text, then the host's stdout lines, joined with CRLF; built in
    # one buffer (``stdout`` may already hold the objects taken out while the pipeline ran).
    if stdout is None:  # the pipeline's output list stays as it is (put/fetch read it after)
        stdout = StdoutBuffer(output_text)
        for output in pipeline.output:
            stdout.add(output_text(output))
    else:
        stdout.drain(pipeline.output)
    ui = host.ui
    if ui is None:
        raise RuntimeError("internal error: ui not set")
    for line in ui.stdout or ():
        stdout.add(str(line))

    stderr_list: list[str] = []
    for error in pipeline.streams.error:
        if joined_stderr:
            stderr_list.append(_error_text(error, verbosity))
            continue
        if error.fq_error == "NativeCommandErrorMessage" and not error.target_name:
            stderr_list.append(str(error))
            continue
        if error.fq_error in ("NativeCommandError", "NativeCommandErrorMessage"):
            stderr_list.append(f"{error}\r\n")
            continue
        stderr_list.append(f"{_error_text(error, verbosity)}\r\n")
    if ui.stderr:
        stderr_list += ui.stderr
    stderr = ("\r\n" if joined_stderr else "").join(str(o) for o in stderr_list)
    host.rc = 0
    ui.stdout = []
    ui.stderr = []
    return rc, stdout.value(), stderr.encode("utf-8", "surrogateescape")


def _error_text(error: Any, verbosity: int) -> str:
    """An error record as ansible.builtin.psrp writes it to stderr (no trailing newline)."""
    command_name = f"{error.command_name} : " if error.command_name else ""
    position = f"{error.invocation_position_message}\r\n" if error.invocation_position_message else ""
    msg = (
        f"{command_name}{error}\r\n{position}"
        f"    + CategoryInfo          : {error.message}\r\n"
        f"    + FullyQualifiedErrorId : {error.fq_error}"
    )
    stacktrace = getattr(error, "script_stacktrace", None)
    if verbosity >= 3 and stacktrace is not None:
        msg += f"\r\nStackTrace:\r\n{stacktrace}"
    return msg


def _simple_text(value: Any) -> str:
    # ansible's to_text(nonstring='simplerepr'): str(), falling back to repr()
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<{type(value).__name__} that cannot be shown as text>"


def build_pipeline_result(
    pipeline: PowerShell, host: PSHost | None, ui: _AnswerUI, depth: int
) -> PipelineResult:
    if host is None:
        raise RuntimeError("internal error: host not set")
    result = empty_result()
    computer = None
    result["output"] = [to_jsonable(o, depth=depth, computer_name=computer) for o in pipeline.output]
    result["error"] = [error_record_to_dict(e) for e in pipeline.streams.error]
    result["warning"] = [str(getattr(w, "message", w)) for w in pipeline.streams.warning]
    result["verbose"] = [str(getattr(v, "message", v)) for v in pipeline.streams.verbose]
    result["debug"] = [str(getattr(d, "message", d)) for d in pipeline.streams.debug]
    info: list[dict[str, Any]] = []
    for rec in pipeline.streams.information:
        info.append(
            {
                "message_data": to_jsonable(getattr(rec, "message_data", None), depth=depth),
                "source": getattr(rec, "source", None),
                "time_generated": to_jsonable(getattr(rec, "time_generated", None), depth=1),
                "tags": list(getattr(rec, "tags", None) or []),
            }
        )
    result["information"] = info
    result["host_out"] = "".join(ui.stdout)
    result["host_err"] = "".join(ui.stderr)
    result["had_errors"] = bool(pipeline.had_errors)
    state = pipeline.state
    result["state"] = {
        PSInvocationState.COMPLETED: "Completed",
        PSInvocationState.FAILED: "Failed",
        PSInvocationState.STOPPED: "Stopped",
    }.get(state, str(state))
    result["rc"] = host.rc
    host.rc = None
    # Invoke-Command tags each output object with RunspaceId; the action plugin does it from this.
    result["runspace_id"] = runspace_guid(getattr(getattr(pipeline, "runspace_pool", None), "id", None))
    return result
