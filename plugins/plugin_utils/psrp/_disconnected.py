# for internal use by psremoting.core only; not a public API
"""Commands in disconnected sessions: ``Invoke-Command -InDisconnectedSession`` and
``Receive-PSSession`` / stop, over pypsrp's disconnect/connect support.

- :func:`start` opens a **new** shell on the host (never the run's session: its state is not
  shared, as with ``-InDisconnectedSession``), starts the pipeline, sends WSMan ``Disconnect``
  (MS-PSRP 3.1.5.3.16, with the ``IdleTimeOut`` and ``BufferMode`` asked for; by default the
  host's: ``Block``, the host pauses the command rather than drop output when nobody receives
  it) and drops the HTTP connection. The command keeps running on the host; the shell outlives
  this run and is deleted by the host after its idle timeout (the one asked for, else the
  session configuration's, two hours by default) if nobody receives it.
- :func:`receive` finds that shell again by id from any later task, play or run (WSMan
  Enumerate, only the user's own shells), connects as a new client (WSMan ``Connect`` with the
  PSRP connect sequence, MS-PSRP 3.1.4.11), connects to its command, waits for it to end and
  returns its output, then deletes the shell (received sessions are removed, as
  ``Receive-PSSession`` of a ``-InDisconnectedSession`` job leaves nothing to reuse here). With
  ``stop`` it stops the command first (WSMan Signal ``powershell/signal/ctrl_c``). The wait is
  the session's own Receive loop (``PSRPSession.wait``): a network cut part-way reconnects to
  the same shell and command with capped, jittered backoff (``reconnection_retries`` /
  ``reconnection_backoff``) and retransmits the Receive whose answer was lost
  (``wsmv:OperationID``), so the output arrives whole and once.

Both use their own WSMan connection with the session's settings; the session's own shell is
never touched.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._adapters import (
    RobustReceive,
    ShellLimits,
    adapt_pool,
    disconnect,
    new_wsman,
    robust_receive,
    shell_limits,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (
    PSRPSession,
    SessionError,
    _AnswerUI,
    _TransportGuard,
    add_commands,
    build_pipeline_result,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import ERROR, ErrorInfo, classify
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineRequest,
    PipelineResult,
    to_pypsrp_value,
    validate_request,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    PowerShell,
    PSHost,
    PSInvocationState,
    RunspacePool,
    require,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import enumerate_shells

#: rsp:Name of the shells started here (pssession_info shows it).
SHELL_NAME = "psremoting.core disconnected"


class _Connection:
    """A WSMan connection of its own with the session's settings: 503/429 retries and the
    response cap (``_TransportGuard``), Receive with ``wsmv:OperationID`` (``RobustReceive``)."""

    def __init__(self, session: PSRPSession) -> None:
        require()
        self.wsman = new_wsman(**session._wsman_kwargs)
        retries = int(session._wsman_kwargs.get("reconnection_retries") or 0)
        backoff = float(session._wsman_kwargs.get("reconnection_backoff") or 0)
        self.guard = _TransportGuard(self.wsman.transport, retries, backoff, session.host_label)
        self.robust: RobustReceive = robust_receive(self.wsman)
        self.limits: ShellLimits = shell_limits(self.wsman)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.wsman.transport.close()


def start(
    session: PSRPSession,
    request: PipelineRequest,
    *,
    idle_timeout: int | None = None,
    buffer_mode: str | None = None,
) -> dict[str, Any]:
    """Start ``request`` in a new shell and disconnect from it; returns its ids.

    ``idle_timeout`` (seconds) and ``buffer_mode`` (``Block`` / ``Drop``) go in the Disconnect
    body (``-IdleTimeoutSec`` / ``-OutputBufferingMode``); None leaves the host's default. An
    idle timeout above the session configuration's maximum (``rsp:MaxIdleTimeOut`` of the Create
    answer) is refused before the command starts, as PowerShell refuses it before it disconnects.
    """
    needs_keys = validate_request(request)
    connection = _Connection(session)
    pool = RunspacePool(connection.wsman, configuration_name=session.configuration_name)
    adapt_pool(pool)
    pool.shell.name = SHELL_NAME
    started = False
    try:
        pool.open()
        _check_idle_timeout(session, connection, idle_timeout)
        if needs_keys:
            pool.exchange_keys()
        ps = PowerShell(pool)
        add_commands(ps, request["commands"])
        raw_input = request.get("input")
        ps.begin_invoke([to_pypsrp_value(v) for v in raw_input] if raw_input else None)  # type: ignore[arg-type]
        started = True
        disconnect(pool, idle_timeout, buffer_mode)
    except SessionError:
        with contextlib.suppress(Exception):
            pool.close()  # refused before the command: do not leave the shell behind
        raise
    except Exception as exc:
        info = classify(exc, session.host_label, session.port, stage="disconnected command")
        if not started:
            with contextlib.suppress(Exception):
                pool.close()  # nothing runs in it: do not leave the shell behind
            raise SessionError(info) from None
        raise SessionError(
            ErrorInfo(
                info.kind,
                f"{info.message}; the command had started in session {str(pool.id).upper()} on the host "
                "and was not sent again (receive or stop it with psremoting.core.pssession)",
            )
        ) from None
    finally:
        connection.close()
    return {
        "session_id": str(pool.id).upper(),
        "pipeline_id": str(ps.id).upper(),
        "configuration_name": session.configuration_name,
        "state": "Disconnected",
    }


def _check_idle_timeout(session: PSRPSession, connection: _Connection, idle_timeout: int | None) -> None:
    """PowerShell's check before a Disconnect (DisconnectPSSession.cs ``ValidateIdleTimeout``):
    the idle timeout may not exceed the server's maximum, the session configuration's
    MaxIdleTimeoutms that the Create answer reported."""
    limit = connection.limits.max_idle_timeout
    if idle_timeout is None or limit is None or idle_timeout <= limit:
        return
    raise SessionError(
        ErrorInfo(
            ERROR,
            f"{session.host_label}: option 'disconnected_idle_timeout' = {idle_timeout} is greater than "
            f"the server maximum allowed {int(limit)} (seconds; MaxIdleTimeoutms of session configuration "
            f"{session.configuration_name}); nothing was started. Choose a value from 60 to {int(limit)}, "
            "or raise the configuration's maximum (Set-PSSessionConfiguration -TransportOption "
            "(New-PSTransportOption -MaxIdleTimeoutSec N))",
        )
    )


def receive(session: PSRPSession, session_id: str, *, stop: bool = False, depth: int = 2) -> PipelineResult:
    """Connect to the disconnected session ``session_id``, receive (or stop) its command, wait
    for it to end, delete the shell; the command's output and state."""
    wanted = session_id.strip().upper()
    connection = _Connection(session)
    try:
        return _receive(session, connection, wanted, stop, depth)
    except SessionError:
        raise
    except Exception as exc:
        info = classify(exc, session.host_label, session.port, stage="receive session")
        raise SessionError(ErrorInfo(info.kind, f"session {wanted}: {info.message}")) from None
    finally:
        connection.close()


def _receive(
    session: PSRPSession, connection: _Connection, wanted: str, stop: bool, depth: int
) -> PipelineResult:
    wsman = connection.wsman
    shell = next((s for s in enumerate_shells(wsman) if s.shell_id == wanted), None)
    if shell is None:
        raise SessionError(
            ErrorInfo(
                ERROR,
                f"{session.host_label} has no session {wanted} of this user: it was received or removed "
                "already, or the host deleted it after its idle timeout",
            )
        )
    if (shell.state or "").lower() != "disconnected":
        raise SessionError(
            ErrorInfo(
                ERROR,
                f"session {wanted} on {session.host_label} is {shell.state or 'not disconnected'}: a client "
                "is connected to it; only disconnected sessions are received here",
            )
        )
    pool = next(p for p in RunspacePool.get_runspace_pools(wsman) if str(p.id).upper() == wanted)
    adapt_pool(pool)
    ui = _AnswerUI()
    host = PSHost(None, None, False, "Ansible PSRP Host", None, ui, None)  # type: ignore[arg-type]
    pool.connect()
    commands = pool.create_disconnected_power_shells()
    if not commands:
        raise SessionError(ErrorInfo(ERROR, f"session {wanted} on {session.host_label} has no command"))
    ps = commands[0]
    ps.connect_async()
    if stop:
        ps.stop()
    else:
        _wait(session, session.around(pool, connection.guard, connection.robust), ps)
    result = build_pipeline_result(ps, host, ui, depth)
    if stop:
        result["state"] = "Stopped"
    elif ps.state == PSInvocationState.RUNNING:  # pragma: no cover - end_invoke returns at the end
        result["state"] = "Running"
    with contextlib.suppress(Exception):
        pool.close()  # received: the session is removed
    return result


def _wait(session: PSRPSession, receiver: PSRPSession, ps: PowerShell) -> None:
    """Receive until the command ends through the session's robust, reconnecting loop: a
    network cut part-way reconnects to the same shell and command and retransmits the Receive
    whose answer was lost (nothing lost, nothing twice); what it did is told at -v. Not capped
    by ``max_output_size``, as Receive-PSSession: the output the host kept is returned whole
    (the cap would stop the command and leave the session, its output lost, on the host)."""
    try:
        receiver.wait(ps, capped=False)
    finally:
        session.notices.extend(receiver.take_notices())
        session.warnings.extend(receiver.take_warnings())


def disconnected_op(op: str, session: PSRPSession, args: dict[str, Any]) -> Any:
    """The broker's ``start_disconnected`` / ``receive_disconnected`` ops."""
    if op == "start_disconnected":
        idle = args.get("idle_timeout")
        return start(
            session,
            args["request"],
            idle_timeout=int(idle) if idle is not None else None,
            buffer_mode=args.get("buffer_mode") or None,
        )
    return receive(
        session,
        str(args.get("session_id") or ""),
        stop=bool(args.get("stop")),
        depth=int(args.get("depth", 2)),
    )
