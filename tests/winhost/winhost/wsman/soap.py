"""Parse WS-Management request envelopes and build responses the way Windows writes them.

Requests are parsed with ElementTree (namespace-aware, prefixes do not matter). Responses are
written as text with the prefixes a Windows WinRM service uses, so clients that are sloppy about
namespaces see what they would see from Windows.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from winhost.wsman import namespaces as ns
from winhost.wsman.faults import WSManFault, invalid_header, invalid_parameter, malformed_request

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>-?\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> float:
    """Seconds of an xs:duration as WSMan uses it (``PT20S``, ``PT7200.000S``, ``P0DT0H0M2S``)."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"invalid duration {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def format_duration(seconds: float) -> str:
    """``PT7200.000S`` as Windows writes IdleTimeOut."""
    return f"PT{seconds:.3f}S"


def format_elapsed(seconds: float) -> str:
    """``P0DT0H0M2S`` as Windows writes ShellRunTime / ShellInactivity."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"P{days}DT{hours}H{minutes}M{secs}S"


def q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass
class Request:
    """The parts of a WSMan request that the service acts on."""

    action: str
    resource_uri: str
    message_id: str
    to: str
    max_envelope_size: int | None
    operation_timeout: float | None
    locale: str
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None
    session_id: str = ""
    #: wsmv:OperationID ([MS-WSMV] 3.1.4.1.39 Robust Connection Support): "" when the client
    #: does not ask for robust connections; ``retransmission`` is its mustUnderstand="true".
    operation_id: str = ""
    retransmission: bool = False

    @property
    def shell_id(self) -> str | None:
        value = self.selectors.get("ShellId")
        return value.upper() if value else None


def _operation_timeout(timeout_text: str | None) -> float | None:
    """wsman:OperationTimeout in seconds; a malformed or negative one is Windows' fault."""
    if not timeout_text:
        return None
    try:
        timeout = parse_duration(timeout_text)
    except ValueError:
        timeout = -1.0
    if timeout < 0:
        # Wording as Windows answers it (pypsrp recording test_winrs_operation_timeout.yml).
        raise invalid_header(
            "The WS-Management service cannot process the request. The XML contains an invalid "
            f"timeout field in the SOAP header: {timeout_text}. "
        )
    return timeout


def _named_values(header: ET.Element, set_name: str, item: str) -> dict[str, str]:
    """The ``Name`` -> text pairs of a wsman:SelectorSet or wsman:OptionSet."""
    container = header.find(q(ns.NS_WSMAN, set_name))
    if container is None:
        return {}
    return {el.get("Name", ""): (el.text or "").strip() for el in container.findall(q(ns.NS_WSMAN, item))}


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


#: The base64 alphabet (RFC 4648 section 4) with its pad character.
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
#: Element texts at least this long are lifted out before parsing (see parse_lifting_base64).
_LIFT_MIN_TEXT = 4096
_LIFT_MARKER = b"winhost-lifted-text-"


def _lift_long_base64(data: bytes) -> tuple[bytes, dict[str, str]]:
    """``data`` with each long base64 run that is a whole text (between ``>`` and ``</``)
    replaced by a placeholder, and the placeholder -> original text map."""
    pieces = data.split(b"<")
    runs: dict[str, str] = {}
    for index in range(len(pieces) - 1):
        piece = pieces[index]
        if len(piece) < _LIFT_MIN_TEXT or not pieces[index + 1].startswith(b"/"):
            continue
        end = piece.find(b">")
        text = piece[end + 1 :]
        if end < 0 or len(text) < _LIFT_MIN_TEXT or text.translate(None, _BASE64_ALPHABET):
            continue
        key = _LIFT_MARKER + str(len(runs)).encode()
        runs[key.decode()] = text.decode("ascii")
        pieces[index] = piece[: end + 1] + key
    return (b"<".join(pieces) if runs else data), runs


def parse_lifting_base64(data: bytes) -> ET.Element | None:
    """Parse ``data`` with its long base64 texts lifted out before expat sees them.

    expat tokenizes and tracks line/column positions over every character of a text, which for
    the ~360 KB of base64 in a Send of a file transfer costs more than the rest of the
    envelope. Each long run of base64 characters that forms a whole element text or tail is
    replaced by a short placeholder, the smaller document is parsed, and the original text is
    put back. The tree is then the one ``ET.fromstring(data)`` builds (base64 characters need
    no unescaping or newline normalisation). Returns None when that cannot be shown for this
    document (no long run; a DTD, comment or CDATA; a character reference; a placeholder not
    found as a whole text or tail; any parse error): the caller then parses ``data`` itself, so
    refusals and their messages are unchanged.
    """
    if len(data) < 4 * _LIFT_MIN_TEXT:
        return None
    lifted, runs = _lift_long_base64(data)
    # Without "<!" (DTD, comment, CDATA) and "&#" (character reference) a placeholder in the
    # tree can only come from the placeholder itself, at most once. The lifted runs hold only
    # base64 characters, so checking the (much smaller) lifted document checks all of ``data``.
    if not runs or b"<!" in lifted or b"&#" in lifted or lifted.count(_LIFT_MARKER) != len(runs):
        return None
    try:
        root = ET.fromstring(lifted)
    except ET.ParseError:
        return None
    restored = 0
    for element in root.iter():
        if element.text in runs:
            element.text = runs[element.text]
            restored += 1
        if element.tail in runs:
            element.tail = runs[element.tail]
            restored += 1
    return root if restored == len(runs) else None


def _envelope(data: bytes) -> tuple[ET.Element, ET.Element | None]:
    """The envelope's Header and Body (a missing Header, bad XML: malformed request)."""
    root = parse_lifting_base64(data)
    if root is None:
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            raise malformed_request(str(exc)) from None
    if root.tag != q(ns.NS_SOAP, "Envelope"):
        raise malformed_request("the root element is not a SOAP 1.2 Envelope")
    header = root.find(q(ns.NS_SOAP, "Header"))
    if header is None:
        raise malformed_request("the SOAP Header is missing")
    return header, root.find(q(ns.NS_SOAP, "Body"))


def parse_request(data: bytes) -> Request:
    """Parse a SOAP envelope; malformed XML or missing headers raise a WSMan fault."""
    header, body = _envelope(data)

    def text(namespace: str, name: str) -> str | None:
        el = header.find(q(namespace, name))
        return None if el is None or el.text is None else el.text.strip()

    action = text(ns.NS_ADDRESSING, "Action")
    if not action:
        raise invalid_header("The wsa:Action header is missing.")
    message_id = text(ns.NS_ADDRESSING, "MessageID") or ""
    resource_uri = text(ns.NS_WSMAN, "ResourceURI") or ""
    timeout = _operation_timeout(text(ns.NS_WSMAN, "OperationTimeout"))
    locale_el = header.find(q(ns.NS_WSMAN, "Locale"))
    locale = "en-US" if locale_el is None else locale_el.get(q(ns.NS_XML, "lang"), "en-US")
    selectors = _named_values(header, "SelectorSet", "Selector")
    options = _named_values(header, "OptionSet", "Option")
    max_envelope_size = _int_or_none(text(ns.NS_WSMAN, "MaxEnvelopeSize"))
    operation_el = header.find(q(ns.NS_WSMV, "OperationID"))
    must_understand = "" if operation_el is None else operation_el.get(q(ns.NS_SOAP, "mustUnderstand"), "")
    return Request(
        action=action,
        resource_uri=resource_uri,
        message_id=message_id,
        to=text(ns.NS_ADDRESSING, "To") or "",
        max_envelope_size=max_envelope_size,
        operation_timeout=timeout,
        locale=locale,
        selectors=selectors,
        options=options,
        body=body,
        session_id=text(ns.NS_WSMV, "SessionId") or "",
        operation_id=text(ns.NS_WSMV, "OperationID") or "",
        retransmission=must_understand.strip().lower() in ("true", "1"),
    )


def new_uuid() -> str:
    return str(uuid.uuid4()).upper()


def envelope(
    action: str, relates_to: str, body: str, activity_id: str | None = None, extra_headers: str = ""
) -> bytes:
    """A response envelope with the header layout of a Windows WinRM service (``extra_headers``:
    serialized header elements added after RelatesTo, e.g. wsmv:OperationID)."""
    activity = activity_id or new_uuid()
    return (
        f"<s:Envelope {ns.RESPONSE_NAMESPACES}><s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{new_uuid()}</a:MessageID>"
        f"<p:ActivityId>{activity}</p:ActivityId>"
        f"<a:To>{ns.ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>{extra_headers}"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault_envelope(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    return envelope(ns.A_FAULT, relates_to, fault.to_xml(machine))


def el(tag: str, text: str | None = None, **attrs: str) -> str:
    """Serialize one element with escaped text and attributes (``el("rsp:ShellId", sid)``)."""
    attr_text = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    if text is None:
        return f"<{tag}{attr_text}/>"
    return f"<{tag}{attr_text}>{escape(text)}</{tag}>"


__all__ = [
    "Request",
    "WSManFault",
    "el",
    "envelope",
    "fault_envelope",
    "format_duration",
    "format_elapsed",
    "new_uuid",
    "parse_duration",
    "parse_lifting_base64",
    "parse_request",
    "q",
]


def stream_bytes(text: str | None) -> bytes:
    """The bytes of a base64 ``<rsp:Stream>`` / ``<rsp:Arguments>`` element (empty for none)."""
    if not text:
        return b""
    try:
        # Canonical base64 (what clients send) takes binascii's strict path, several times
        # faster than the lenient one; anything else is decoded (or refused) as before.
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.b64decode(text.strip())
    except (binascii.Error, ValueError):
        raise invalid_parameter("The stream data is not valid base64.") from None


def shell_body(req: Request, name: str, operation: str) -> ET.Element:
    """The ``rsp:<name>`` element of a shell operation's body; a fault naming it when absent."""
    found = req.body.find(q(ns.NS_SHELL, name)) if req.body is not None else None
    if found is None:
        raise invalid_parameter(f"The {operation} body must contain rsp:{name}.")
    return found


def command_response(req: Request, command_id: str) -> bytes:
    return envelope(
        f"{ns.A_COMMAND}Response",
        req.message_id,
        f"<rsp:CommandResponse>{el('rsp:CommandId', command_id)}</rsp:CommandResponse>",
    )


def send_response(req: Request) -> bytes:
    return envelope(f"{ns.A_SEND}Response", req.message_id, "<rsp:SendResponse/>")
