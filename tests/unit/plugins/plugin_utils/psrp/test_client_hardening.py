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
