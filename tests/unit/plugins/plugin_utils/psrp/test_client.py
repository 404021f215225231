"""pypsrp wrapper: result parsing like ansible.builtin.psrp, chunk sizes, retry only before Command."""

from __future__ import annotations

import threading
import time
import types
import uuid
from typing import Any

import pytest
from pypsrp.complex_objects import GenericComplexObject, PSInvocationState
from pypsrp.host import PSHost, PSHostUserInterface

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _client
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (
    PSRPSession,
    SessionError,
    build_pipeline_result,
    parse_pipeline_result,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import ErrorInfo


def _host() -> PSHost:
    return PSHost(None, None, False, "h", None, PSHostUserInterface(), None)  # type: ignore[arg-type]


class _Err(types.SimpleNamespace):
    def __str__(self) -> str:
        return "boom"


def _error(**kw: Any) -> Any:
    base = {
        "fq_error": "X",
        "target_name": "",
        "command_name": None,
        "invocation_position_message": None,
        "message": "NotSpecified: (:) [], RuntimeException",
        "script_stacktrace": "at <ScriptBlock>",
    }
    base.update(kw)
    return _Err(**base)


def _pipeline(output: list[Any], errors: list[Any] | None = None, had_errors: bool = False) -> Any:
    return types.SimpleNamespace(
        output=output, had_errors=had_errors, streams=types.SimpleNamespace(error=errors or [])
    )


def test_rc_from_set_should_exit_wins() -> None:
    host = _host()
    host.rc = 3
    rc, out, err = parse_pipeline_result(_pipeline(["a", "b"], had_errors=True), host, 0)
    assert (rc, out, err) == (3, b"a\r\nb", b"")
    assert host.rc == 0  # reset for the next pipeline on the same pool


def test_rc_is_one_when_errors_and_no_exit_code() -> None:
    rc, _out, err = parse_pipeline_result(_pipeline([], [_error()], had_errors=True), _host(), 0)
    assert rc == 1
    assert err == (
        b"boom\r\n    + CategoryInfo          : NotSpecified: (:) [], RuntimeException\r\n"
        b"    + FullyQualifiedErrorId : X\r\n"
    )


def test_stack_trace_only_at_verbosity_3() -> None:
    _rc, _out, err = parse_pipeline_result(_pipeline([], [_error()], True), _host(), 3)
    assert b"StackTrace:\r\nat <ScriptBlock>" in err


def test_native_command_errors_are_raw() -> None:
    """NativeCommandError(Message) records are their text plus CRLF, but a NativeCommandErrorMessage
    without target_name (PS 5.1 on Server 2016: a raw stderr chunk) gets none: the rule of 2.16-2.21,
    kept on 2.22 although 2.22's builtin dropped it (_client.py's docstring says why)."""
    errs = [
        _error(fq_error="NativeCommandError", target_name="x"),
        _error(fq_error="NativeCommandErrorMessage"),
    ]
    _rc, _out, err = parse_pipeline_result(_pipeline([], errs, True), _host(), 0)
    assert err == b"boom\r\nboom"


def test_joined_stderr_is_ansible_core_2_16_to_2_18s_form() -> None:
    """Before 2.19 the builtin joins records with CRLF (none after the last) and formats native
    command errors like any other record; host stderr lines are joined the same way."""
    host = _host()
    assert host.ui is not None
    host.ui.stderr = ["host line"]
    errs = [_error(), _error(fq_error="NativeCommandError", target_name="x")]
    _rc, _out, err = parse_pipeline_result(_pipeline([], errs, True), host, 0, joined_stderr=True)
    record = "boom\r\n    + CategoryInfo          : NotSpecified: (:) [], RuntimeException\r\n"
    assert (
        err
        == (
            f"{record}    + FullyQualifiedErrorId : X\r\n"
            f"{record}    + FullyQualifiedErrorId : NativeCommandError\r\nhost line"
        ).encode()
    )
    _rc, _out, err = parse_pipeline_result(_pipeline([], [_error()], True), _host(), 3, joined_stderr=True)
    assert err.endswith(b"FullyQualifiedErrorId : X\r\nStackTrace:\r\nat <ScriptBlock>")


def test_host_output_and_complex_objects() -> None:
    host = _host()
    assert host.ui is not None
    host.ui.stdout = ["hello\r\n"]
    obj = GenericComplexObject()
    obj.adapted_properties = {"Name": "WinRM"}
    obj.extended_properties = {"Status": "Running"}
    _rc, out, _err = parse_pipeline_result(_pipeline([obj, 5]), host, 0)
    assert out == b"Name: WinRM\nStatus: Running\r\n5\r\nhello\r\n"
    assert host.ui.stdout == []


class _FakePool:
    def __init__(self) -> None:
        self.state = None


def _session(monkeypatch: pytest.MonkeyPatch) -> PSRPSession:
    s = PSRPSession({"server": "h", "port": 5985}, "Microsoft.PowerShell", 90, "h")

    def fake_open() -> None:
        if s.pool is None or s.broken:
            s.pool = _FakePool()  # type: ignore[assignment]
            s.broken = False
            s.opened += 1

    monkeypatch.setattr(s, "open", fake_open)
    return s


def test_stale_session_is_reopened_once_when_command_was_not_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = _session(monkeypatch)
    calls: list[Any] = []

    def fn(pool: Any) -> str:
        calls.append(pool)
        if len(calls) == 1:
            raise SessionError(ErrorInfo("unreachable", "shell gone", retry_safe=True), not_started=True)
        return "done"

    assert s.run(fn) == "done"
    assert s.opened == 2 and calls[0] is not calls[1]


def test_no_retry_once_the_command_was_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never run a task twice: a failure after the Command was accepted is reported, not retried."""
    s = _session(monkeypatch)
    calls: list[int] = []

    def fn(pool: Any) -> str:
        calls.append(1)
        raise SessionError(ErrorInfo("unreachable", "connection reset", retry_safe=True), not_started=False)

    with pytest.raises(SessionError):
        s.run(fn)
    assert calls == [1] and s.broken  # reopened on the next task


def test_no_second_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _session(monkeypatch)

    def fn(pool: Any) -> str:
        raise SessionError(ErrorInfo("unreachable", "gone", retry_safe=True), not_started=True)

    with pytest.raises(SessionError):
        s.run(fn)
    assert s.opened == 2


def test_start_marks_not_started_when_command_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    s = PSRPSession({"server": "h", "port": 5985}, "Microsoft.PowerShell", 90, "h")

    class PS:
        state = PSInvocationState.NOT_STARTED

        def begin_invoke(self, data: Any) -> None:
            raise ConnectionResetError(104, "Connection reset by peer")

    with pytest.raises(SessionError) as err:
        s.start(PS(), None)  # type: ignore[arg-type]
    assert err.value.not_started and err.value.info.retry_safe

    class Started(PS):
        def begin_invoke(self, data: Any) -> None:
            self.state = PSInvocationState.RUNNING
            raise ConnectionResetError(104, "Connection reset by peer")

    with pytest.raises(SessionError) as err:
        s.start(Started(), None)  # type: ignore[arg-type]
    assert not err.value.not_started


def test_pipeline_result_reports_the_runspace_pool_id() -> None:
    """RunspaceId of Invoke-Command's output: the id of the pool the pipeline ran in."""
    pool_id = str(uuid.uuid4()).upper()  # as pypsrp's RunspacePool keeps it
    no_streams: dict[str, list[Any]] = {
        n: [] for n in ("error", "warning", "verbose", "debug", "information")
    }
    pipeline = types.SimpleNamespace(
        output=["x"],
        streams=types.SimpleNamespace(**no_streams),
        had_errors=False,
        state=PSInvocationState.COMPLETED,
        runspace_pool=types.SimpleNamespace(id=pool_id),
    )
    host = _host()
    ui = _client._AnswerUI()
    result = build_pipeline_result(pipeline, host, ui, 2)  # type: ignore[arg-type]
    assert result["runspace_id"] == pool_id.lower() == str(uuid.UUID(pool_id))
    assert result["output"] == ["x"] and result["state"] == "Completed"


def test_client_module_is_private() -> None:
    assert _client.__doc__ and _client.__file__
    with open(_client.__file__, encoding="utf-8") as fh:
        assert "not a public API" in fh.readline()


@pytest.mark.parametrize("no_profile", [False, True])
def test_no_profile_reaches_the_runspace_pool(monkeypatch: pytest.MonkeyPatch, no_profile: bool) -> None:
    """ansible_psrp_no_profile (ansible-core 2.21's option) asks for WINRS_NOPROFILE like the builtin,
    which passes no_profile to RunspacePool only when it is set."""
    seen: dict[str, Any] = {}

    class Pool:
        def __init__(self, wsman: Any, **kwargs: Any) -> None:
            seen.update(kwargs)

        def open(self) -> None:
            pass

    monkeypatch.setattr(_client, "RunspacePool", Pool)
    monkeypatch.setattr(_client, "_TransportGuard", lambda *a, **k: None)
    session = PSRPSession(
        {"server": "h", "auth": "basic"}, "Microsoft.PowerShell", 90, "h", no_profile=no_profile
    )
    session._open_pool()
    assert seen.get("no_profile", False) is no_profile and seen["idle_timeout"] == 90


def test_end_never_waits_for_a_running_commands_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run is over while a command runs: its thread holds the session lock in a Receive
    long-poll. end() does not wait for it; it aborts over a second connection, and the session
    never opens a shell again."""
    s = PSRPSession({"server": "h", "port": 5985}, "Microsoft.PowerShell", 90, "h")
    aborted: list[bool] = []
    monkeypatch.setattr(s, "abort", lambda: aborted.append(True) or "aborted")
    holding, release = threading.Event(), threading.Event()

    def running_command() -> None:
        with s.lock:
            s.running = object()  # type: ignore[assignment]
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=running_command)
    worker.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        assert s.end(wait=0.2) == "aborted" and aborted == [True]
        assert time.monotonic() - started < 2
    finally:
        release.set()
        worker.join()
    s.terminated = True
    with pytest.raises(SessionError, match="the session was ended"):
        s.open()


def test_end_of_an_idle_session_is_a_normal_close(monkeypatch: pytest.MonkeyPatch) -> None:
    s = PSRPSession({"server": "h", "port": 5985}, "Microsoft.PowerShell", 90, "h")
    closed: list[bool] = []
    monkeypatch.setattr(s, "close", lambda: closed.append(True))
    monkeypatch.setattr(s, "abort", lambda: pytest.fail("an idle session is closed, not aborted"))
    assert s.end() == "closed" and closed == [True] and s.terminated


def test_abort_settings_use_short_timeouts() -> None:
    kwargs = _client._abort_kwargs(
        {"server": "h", "read_timeout": 60, "operation_timeout": 50, "password": "p"}
    )
    assert (
        kwargs["read_timeout"] <= _client.ABORT_TIMEOUT
        and kwargs["operation_timeout"] < kwargs["read_timeout"]
    )
    assert kwargs["password"] == "p" and kwargs["reconnection_retries"] == 0
