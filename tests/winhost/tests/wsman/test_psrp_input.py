"""winhost.wsman.psrp: a pipeline input message (what put_file sends: a byte[] or a hashtable
holding one, hundreds of KB of base64 inside the CLIXML) becomes the same PipelineInput event as
psrpcore makes of it, through the parse that lifts the long base64 text out of expat's way
(soap.parse_lifting_base64); other messages, and inputs that parse cannot take, go to psrpcore's
own parse."""

from __future__ import annotations

import os
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import psrpcore
import pytest
from psrpcore._payload import PSRPMessage
from psrpcore.types import PSRPMessageType, serialize

from winhost.wsman import psrp


def _message(value: Any, kind: PSRPMessageType = PSRPMessageType.PipelineInput) -> PSRPMessage:
    data = ET.tostring(serialize(value, None))
    return PSRPMessage(kind, data, uuid.uuid4(), uuid.uuid4(), 1)


@pytest.fixture
def lifted(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each parse of a pipeline input took the lifted path."""
    taken: list[bool] = []
    real = psrp.parse_lifting_base64

    def spy(data: bytes) -> Any:
        root = real(data)
        taken.append(root is not None)
        return root

    monkeypatch.setattr(psrp, "parse_lifting_base64", spy)
    return taken


@pytest.mark.parametrize(
    ("value", "lift"),
    [
        (os.urandom(300_000), True),
        ({"Deflate": os.urandom(200_000)}, True),
        (b"short", False),
        ("a string & more", False),
    ],
)
def test_pipeline_input_event_equals_psrpcore(value: Any, lift: bool, lifted: list[bool]) -> None:
    message = _message(value)
    ours = psrp._ServerPool()._process_message(message)
    theirs = psrpcore.ServerRunspacePool()._process_message(message)
    assert type(ours) is type(theirs) is psrpcore.PipelineInputEvent
    assert ours.pipeline_id == theirs.pipeline_id == message.pipeline_id
    if isinstance(value, dict):
        assert dict(ours.data) == dict(theirs.data) == value
    else:
        assert ours.data == theirs.data == value
    assert lifted == [lift]


def test_a_big_base64_text_in_other_messages_is_left_to_psrpcore(lifted: list[bool]) -> None:
    """Only pipeline input takes the lifted parse (pipeline output, host responses... do not)."""
    message = _message(os.urandom(100_000), PSRPMessageType.PipelineOutput)
    event = psrp._ServerPool()._process_message(message)
    assert isinstance(event, psrpcore.PipelineOutputEvent)
    assert lifted == []
