"""console/_arrivals.py: the messages of a Receive response in their order, released up to each
host call (issue 23: the console printed a, c, out-d, out-f, WARNING: b, e)."""

from __future__ import annotations

import types
from typing import Any

from pypsrp.messages import MessageType

from ansible_collections.psremoting.core.plugins.plugin_utils.console._arrivals import Arrivals


def _msg(kind: int, data: Any) -> Any:
    return types.SimpleNamespace(message_type=kind, data=data)


def test_order_is_kept_and_host_calls_release_what_came_before() -> None:
    response = [
        _msg(MessageType.PIPELINE_HOST_CALL, "Write-Host a"),
        _msg(MessageType.WARNING_RECORD, "b"),
        _msg(MessageType.PIPELINE_HOST_CALL, "Write-Host c"),
        _msg(MessageType.PIPELINE_OUTPUT, types.SimpleNamespace(data="out-d")),
        _msg(MessageType.ERROR_RECORD, "e"),
        _msg(MessageType.PIPELINE_OUTPUT, types.SimpleNamespace(data="out-f")),
        _msg(MessageType.PIPELINE_STATE, types.SimpleNamespace(state=4, error_record=None)),
    ]
    fragmenter = types.SimpleNamespace(defragment=lambda data: list(response))
    answered: list[tuple[str, list[tuple[str, Any]]]] = []
    arrivals = Arrivals()
    ps = types.SimpleNamespace()
    ps._process_pipeline_host_call = lambda message: answered.append((message.data, arrivals.released()))
    original_host_call = ps._process_pipeline_host_call
    stop = arrivals.watch(types.SimpleNamespace(_fragmenter=fragmenter), ps)

    # what pypsrp's _parse_responses does: decode the response, then process message by message
    for message in fragmenter.defragment(b""):
        if message.message_type == MessageType.PIPELINE_HOST_CALL:
            ps._process_pipeline_host_call(message)
    assert answered == [("Write-Host a", []), ("Write-Host c", [("warning", "b")])]
    assert arrivals.take() == [("output", "out-d"), ("error", "e"), ("output", "out-f")]
    assert arrivals.take() == []

    stop()
    assert ps._process_pipeline_host_call is original_host_call
    fragmenter.defragment(b"")
    assert arrivals.take() == []  # no longer recording


def test_a_terminating_error_in_the_pipeline_state_is_an_error_item() -> None:
    record = object()
    response = [_msg(MessageType.PIPELINE_STATE, types.SimpleNamespace(state=5, error_record=record))]
    fragmenter = types.SimpleNamespace(defragment=lambda data: list(response))
    arrivals = Arrivals()
    arrivals.watch(
        types.SimpleNamespace(_fragmenter=fragmenter), types.SimpleNamespace(_process_pipeline_host_call=None)
    )
    fragmenter.defragment(b"")
    assert arrivals.take() == [("error", record)]
