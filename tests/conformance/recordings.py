"""Read pypsrp's recorded real-Windows WSMan exchanges and decode the PSRP messages in them.

The recordings are YAML files in pypsrp's source distribution (tests/tests_pypsrp/responses):
``messages: [{request: <SOAP>, response: <SOAP>, transport_error?, http_error?, ...}]``, the SOAP
already decrypted. Nothing here is copied into this repository; the sdist is downloaded into a
cache directory by ``conftest.py``.
"""

from __future__ import annotations

import base64
import struct
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from psrpcore._payload import unpack_message
from psrpcore.types import PSRPMessageType

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "wsen": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
}


POWERSHELL_URI = "http://schemas.microsoft.com/powershell/"
#: Data-stream message types left out of the comparison. Windows sends a ProgressRecord
#: "Preparing modules for first use." when a pipeline triggers module auto-loading for the first
#: time in a process; that depends on the host's module cache, not on the protocol.
IGNORED = {PSRPMessageType.ProgressRecord}
_MODULE_AUTOLOAD = b"Preparing modules for first use."


def is_ignored(message: Message) -> bool:
    """Left out of the comparison: progress records, and the WriteProgress host call that carries
    the same module auto-loading progress record to a client with a host UI."""
    if message.type in IGNORED:
        return True
    return (
        message.type == PSRPMessageType.PipelineHostCall
        and b"WriteProgress" in message.data
        and _MODULE_AUTOLOAD in message.data
    )


@dataclass
class Message:
    """One PSRP message at protocol level."""

    type: PSRPMessageType
    pipeline_id: uuid.UUID | None
    data: bytes

    def summary(self) -> str:
        """Type plus the state for state messages (what conformance compares)."""
        name = self.type.name
        if self.type in (PSRPMessageType.RunspacePoolState, PSRPMessageType.PipelineState):
            root = ET.fromstring(self.data)
            for el in root.iter("I32"):
                if el.get("N") in ("RunspaceState", "PipelineState"):
                    return f"{name}={el.text}"
        if self.type == PSRPMessageType.RunspaceAvailability:
            root = ET.fromstring(self.data)
            for el in root.iter():
                if el.get("N") == "SetMinMaxRunspacesResponse":
                    return f"{name}:{el.tag}"
        return name


@dataclass
class Exchange:
    index: int
    request: str
    response: str
    error: str | None  # transport_error / http_error / auth_error marker
    action: str = ""
    resource_uri: str = ""
    shell_id: str | None = None
    command_id: str | None = None
    request_payload: bytes = b""
    response_payload: bytes = b""
    request_messages: list[Message] = field(default_factory=list)
    response_messages: list[Message] = field(default_factory=list)
    fault_code: int | None = None
    command_done: bool = False


class FragmentDecoder:
    """Reassembles PSRP messages whose fragments may span several WSMan responses."""

    def __init__(self) -> None:
        self.pending: dict[int, bytearray] = {}

    def feed(self, data: bytes) -> list[Message]:
        return decode_fragments(data, self.pending)


def decode_fragments(data: bytes, pending: dict[int, bytearray] | None = None) -> list[Message]:
    messages: list[Message] = []
    pending = {} if pending is None else pending
    offset = 0
    while offset + 21 <= len(data):
        object_id = struct.unpack(">Q", data[offset : offset + 8])[0]
        flags = data[offset + 16]
        length = struct.unpack(">I", data[offset + 17 : offset + 21])[0]
        buf = pending.setdefault(object_id, bytearray())
        buf += data[offset + 21 : offset + 21 + length]
        if flags & 0x2:
            raw = unpack_message(bytearray(pending.pop(object_id)))
            messages.append(Message(raw.message_type, raw.pid, bytes(raw.data)))
        offset += 21 + length
    return messages


def psrp_payload(root: ET.Element) -> bytes:
    """All PSRP bytes carried by a request or response envelope, in document order."""
    chunks: list[bytes] = []
    body = root.find("s:Body", NS)
    if body is None:
        return b""
    for el in body.iter():
        tag = el.tag.split("}")[-1]
        if tag in ("creationXml", "connectXml", "connectResponseXml", "Arguments", "Stream") and el.text:
            chunks.append(base64.b64decode(el.text))
    return b"".join(chunks)


def parse_exchange(index: int, raw: dict[str, Any]) -> Exchange:
    request = raw["request"]
    response = raw.get("response") or ""
    error = None
    for key in ("transport_error", "http_error", "auth_error"):
        if raw.get(key):
            error = key
    ex = Exchange(index, request, response, error)
    req = ET.fromstring(request)
    ex.action = (req.findtext("s:Header/wsa:Action", "", NS) or "").rsplit("/", 1)[-1]
    ex.resource_uri = req.findtext("s:Header/wsman:ResourceURI", "", NS) or ""
    for sel in req.findall("s:Header/wsman:SelectorSet/wsman:Selector", NS):
        if sel.get("Name") == "ShellId":
            ex.shell_id = (sel.text or "").upper()
    body = req.find("s:Body", NS)
    if body is not None:
        for el in body.iter():
            if el.get("CommandId"):
                ex.command_id = el.get("CommandId", "").upper()
            if el.tag.endswith("}Shell") and el.get("ShellId"):
                ex.shell_id = el.get("ShellId", "").upper()
    psrp = ex.resource_uri.startswith(POWERSHELL_URI)
    ex.request_payload = psrp_payload(req) if psrp else b""
    if response:
        resp = ET.fromstring(response)
        fault = resp.find("s:Body/s:Fault/s:Detail/f:WSManFault", NS)
        if fault is not None:
            ex.fault_code = int(fault.get("Code", "0"))
        elif psrp:
            ex.response_payload = psrp_payload(resp)
            state = resp.find("s:Body/rsp:ReceiveResponse/rsp:CommandState", NS)
            ex.command_done = state is not None and state.get("State", "").endswith("/Done")
    return ex


def load(path: Path) -> list[Exchange]:
    data = yaml.safe_load(path.read_text())
    exchanges = [parse_exchange(i, raw) for i, raw in enumerate(data.get("messages") or [])]
    incoming: dict[str, FragmentDecoder] = {}
    outgoing: dict[str, FragmentDecoder] = {}
    for ex in exchanges:
        key = f"{ex.shell_id}/{ex.command_id}"
        ex.request_messages = incoming.setdefault(key, FragmentDecoder()).feed(ex.request_payload)
        ex.response_messages = outgoing.setdefault(key, FragmentDecoder()).feed(ex.response_payload)
    return exchanges


def uses_powershell(exchanges: list[Exchange]) -> bool:
    return any(e.resource_uri.startswith(POWERSHELL_URI) for e in exchanges)
