"""Unit tests of the hardening in _client: HTTP retry with backoff, response size cap, odd text."""

from __future__ import annotations

import types
from typing import Any

import pytest
from pypsrp.exceptions import WinRMTransportError

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _client
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (
    ResponseTooLarge,
    _simple_text,
    _TransportGuard,
)


class _Transport:
    def __init__(self, failures: list[int]) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.session = object()  # already built: no hook installation in these tests
        self.max_envelope_size = 153600

    def send(self, message: bytes, **kwargs: Any) -> bytes:
        self.calls += 1
        if self.failures:
            raise WinRMTransportError("http", self.failures.pop(0), "")
        return b"<ok/>"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(_client.time, "sleep", recorded.append)
    return recorded


def test_503_burst_is_retried_with_exponential_backoff(sleeps: list[float]) -> None:
    transport = _Transport([503, 503, 429])
    guard = _TransportGuard(transport, retries=3, backoff=2.0, host_label="h")
    assert transport.send(b"x") == b"<ok/>"  # type: ignore[misc]
    assert sleeps == [2.0, 4.0, 8.0] and guard.retried == 3 and guard.received == len(b"<ok/>")


def test_retries_are_bounded(sleeps: list[float]) -> None:
    transport = _Transport([503, 503, 503])
    _TransportGuard(transport, retries=2, backoff=1.0, host_label="h")
    with pytest.raises(WinRMTransportError):
        transport.send(b"x")
    assert transport.calls == 3 and sleeps == [1.0, 2.0]


def test_backoff_is_capped(sleeps: list[float]) -> None:
    transport = _Transport([503] * 8)
    _TransportGuard(transport, retries=8, backoff=10.0, host_label="h")
    transport.send(b"x")
    assert max(sleeps) == _client.MAX_BACKOFF


@pytest.mark.parametrize("status", [500, 400, 401, 413])
def test_other_statuses_are_not_retried(sleeps: list[float], status: int) -> None:
    transport = _Transport([status])
    _TransportGuard(transport, retries=5, backoff=1.0, host_label="h")
    with pytest.raises(WinRMTransportError):
        transport.send(b"x")
    assert transport.calls == 1 and sleeps == []


def _response(length: str | None, body: bytes) -> Any:
    raw = types.SimpleNamespace(read=lambda amt, decode_content=True: body[:amt])
    headers = {"Content-Length": length} if length is not None else {}
    return types.SimpleNamespace(headers=headers, raw=raw, close=lambda: None)


def test_response_cap(sleeps: list[float]) -> None:
    guard = _TransportGuard(_Transport([]), retries=0, backoff=0, host_label="h")
    limit = guard.max_response
    assert limit >= _client.MIN_RESPONSE_LIMIT
    ok = guard._cap_response(_response("5", b"hello"))
    assert ok._content == b"hello"
    with pytest.raises(ResponseTooLarge, match="bytes"):
        guard._cap_response(_response(str(limit + 1), b""))
    with pytest.raises(ResponseTooLarge, match="larger than"):
        guard._cap_response(_response(None, b"x" * (limit + 10)))


def test_text_of_objects_whose_str_and_repr_raise() -> None:
    class Bad:
        def __str__(self) -> str:
            raise RuntimeError("ToString threw")

        def __repr__(self) -> str:
            raise RuntimeError("repr threw")

    class HalfBad:
        def __str__(self) -> str:
            raise RuntimeError("ToString threw")

        def __repr__(self) -> str:
            return "<HalfBad>"

    assert _simple_text(Bad()) == "<Bad that cannot be shown as text>"
    assert _simple_text(HalfBad()) == "<HalfBad>"


# -- reconnect to the same pipeline after a network error -------------------------------------------
def _reconnecting_session(monkeypatch: pytest.MonkeyPatch, retries: int, backoff: int) -> Any:
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession

    session = PSRPSession(
        {"server": "h", "reconnection_retries": retries, "reconnection_backoff": backoff},
        "Microsoft.PowerShell",
        None,
        "h",
    )
    closed: list[bool] = []
    transport = types.SimpleNamespace(
        session=types.SimpleNamespace(close=lambda: closed.append(True)), encryption="ctx"
    )
    session.pool = types.SimpleNamespace(connection=types.SimpleNamespace(transport=transport))  # type: ignore[assignment]
    session.transport_closed = closed  # type: ignore[attr-defined]
    return session


class _Pipeline:
    """A running pipeline whose Receives fail ``failures`` times on the network, then finish."""

    def __init__(self, failures: int, session: Any = None) -> None:
        self.failures = failures
        self.polls = 0
        self.new_connections = 0
        self.state = _client.PSInvocationState.RUNNING
        self.transport = None if session is None else session.pool.connection.transport

    def poll_invoke(self) -> None:
        self.polls += 1
        if self.transport is not None and self.transport.session is None:  # as pypsrp: connect again
            assert self.transport.encryption is None  # a new security context for the new connection
            self.new_connections += 1
            self.transport.session = types.SimpleNamespace(close=lambda: None)
            self.transport.encryption = "ctx"
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("connection reset by peer")
        self.state = _client.PSInvocationState.COMPLETED


def test_network_error_while_running_reconnects_with_capped_jittered_backoff(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    monkeypatch.setattr(_client.random, "uniform", lambda low, high: high)  # no jitter: the cap shows
    session = _reconnecting_session(monkeypatch, retries=8, backoff=4)
    ps = _Pipeline(failures=5, session=session)
    session.wait(ps)
    assert ps.polls == 6 and ps.state == _client.PSInvocationState.COMPLETED
    assert sleeps == [4.0, 8.0, 16.0, 30.0, 30.0]  # 4 * 2**n, capped at MAX_BACKOFF
    assert ps.new_connections == 5 and len(session.transport_closed) == 1  # a new HTTP connection each time
    notices = " ".join(session.take_notices())
    assert "dropped while a command ran" in notices and "after 5 attempt(s)" in notices


def test_backoff_is_jittered(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    monkeypatch.setattr(_client.random, "uniform", lambda low, high: low)
    session = _reconnecting_session(monkeypatch, retries=2, backoff=2)
    session.wait(_Pipeline(failures=2))
    assert sleeps == [1.0, 2.0]  # half of 2 and 4


def test_reconnect_gives_up_after_the_retries_and_says_the_command_is_not_sent_again(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    session = _reconnecting_session(monkeypatch, retries=2, backoff=0)
    ps = _Pipeline(failures=3)
    with pytest.raises(_client.SessionError) as err:
        session.wait(ps)
    assert ps.polls == 3
    assert "not sent again" in err.value.info.message


def test_no_reconnect_by_default(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    """reconnection_retries defaults to 0, as in ansible.builtin.psrp: the first error is final."""
    session = _reconnecting_session(monkeypatch, retries=0, backoff=2)
    ps = _Pipeline(failures=1)
    with pytest.raises(_client.SessionError):
        session.wait(ps)
    assert (ps.polls, sleeps) == (1, [])


def test_output_lost_by_a_server_without_robust_connections_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    session = _reconnecting_session(monkeypatch, retries=3, backoff=0)
    session.robust = types.SimpleNamespace(lost_answers=0)
    ps = _Pipeline(failures=1)
    real_poll = ps.poll_invoke

    def poll() -> None:
        if ps.polls == 1:  # the retransmitted Receive came back without OperationID
            session.robust.lost_answers += 1
        real_poll()

    ps.poll_invoke = poll  # type: ignore[method-assign]
    session.wait(ps)
    (warning,) = session.take_warnings()
    assert "1 answer(s) of h" in warning and "may be incomplete" in warning
    assert session.take_warnings() == []
