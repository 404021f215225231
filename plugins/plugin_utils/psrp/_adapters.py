# for internal use by psremoting.core only; not a public API
"""Every behaviour of pypsrp this collection changes, each as a named adapter.

Nothing here runs at import. ``PSRPSession`` calls :func:`adapt_pool` on each ``RunspacePool``
it creates, before the pool sends or reads anything:

- :class:`PSRemotingSerializer` replaces the pool's serializer (``RunspacePool._serializer``,
  shared by its fragmenter and every pipeline of the pool; pypsrp 0.9 creates it in
  ``RunspacePool.__init__`` and never replaces it). Only our pools use it.

  * lone UTF-16 surrogates: PowerShell strings are UTF-16 and may hold an unpaired surrogate
    (``[char]0xD800``); the server escapes it as ``_xD800_`` (MS-PSRP 2.2.5.3.2) and pypsrp's
    decoder raises UnicodeDecodeError, which would turn one odd character into an unreachable
    host. The adapter decodes it to U+FFFD instead.
  * deferred element text: pypsrp's ``Serializer.deserialize`` renders every element it visits
    back to text (``ET.tostring``), at every level of nesting, only to keep it in
    ``ComplexObject._xml`` or to return it for a type it does not know; almost none of that text
    is ever read. Rendering costs about a tenth of the client CPU of opening a session and
    running one command (44 -> 40 ms measured), and half of it on large nested outputs (300
    objects: 0.54 -> 0.28 s). The adapter renders it only when somebody reads it
    (:class:`DeferredXml`).

  * byte arrays: a top-level ``<BA>`` (fetch_file's chunks, about 370 KB of base64 each) is
    decoded straight from the message text; pypsrp parses it into an XML tree first, a third of
    the cost of decoding it. So is fetch_file's compressed chunk, a hashtable ``@{ Deflate =
    byte[] }`` in exactly the form PowerShell serializes it (anything else takes pypsrp's path).

  * SecureString output is never decrypted: once the session key has been exchanged (any task
    that sent a SecureString/PSCredential) pypsrp would decrypt every ``<SS>`` the host sends into
    a plain ``str`` nothing could tell apart from ordinary text. The adapter returns
    ``"System.Security.SecureString"`` instead (what ``[string]$secureString`` gives in
    PowerShell); sending secrets (serialization) is unchanged.

  * CREATE_PIPELINE messages are serialized once per content while a one-to-many run is under
    way (``psrp/_message_cache.py``): the same pipeline sent to many hosts is built once and its
    bytes reused, byte for byte what pypsrp writes; the cache is emptied when the run ends, and
    messages holding a secret (SecureString, PSCredential) are always serialized afresh.

- Why the deferred text still needs one patch: pypsrp renders that text inside
  ``Serializer.deserialize`` through its module's own ``ET`` and ``to_string`` names, with no
  hook a subclass could override short of copying the whole method. :func:`install_deferred_text`
  therefore replaces those two module names, once, with stand-ins that defer **only while a
  ``PSRemotingSerializer`` is deserializing in the current thread** (a thread-local flag) and
  otherwise do exactly what the originals do; any other pypsrp user in the process (and our own
  code outside a pool) sees unchanged behaviour. It is installed on first use, not at import,
  and leaves pypsrp alone when it is not the 0.9 layout it was written for.

- :class:`RobustReceive` (installed on each session's ``WSMan`` by :func:`robust_receive`):
  Receive requests carry ``wsmv:OperationID`` so that an answer lost in a network cut can be
  asked for again (MS-WSMV 3.1.4.1.39); see the class.
- :func:`disconnect` sends WSMan ``Disconnect`` with the optional body elements pypsrp 0.9's
  ``RunspacePool.disconnect`` cannot send: ``rsp:IdleTimeOut`` (how long the host keeps the
  disconnected shell, overriding the Create's) and ``rsp:BufferMode`` (``Block`` / ``Drop``),
  [MS-PSRP] 3.1.5.3.16; what PowerShell sends from ``-IdleTimeoutSec`` / ``-OutputBufferingMode``
  (WSManDisconnectShellEx's WSMAN_SHELL_DISCONNECT_INFO and buffering-mode flags).
  :class:`ShellLimits` (installed on a ``WSMan`` by :func:`shell_limits`) keeps the
  ``rsp:MaxIdleTimeOut`` of the Create answer (the session configuration's MaxIdleTimeoutms),
  which pypsrp does not read: PowerShell checks an idle timeout against it before it
  disconnects (DisconnectPSSession.cs ``ValidateIdleTimeout``), and so does the collection.
- :func:`new_wsman` is how the collection constructs every ``WSMan``. pypsrp's ``WSMan.__init__``
  calls ``ET.register_namespace`` for each of its prefixes on every construction, and ElementTree's
  version first deletes the URI from its process-wide prefix map and then adds it back. A thread
  serializing a request in that window finds no prefix for the ``xml`` namespace, invents
  ``ns0`` and sends ``xmlns:ns0="http://www.w3.org/XML/1998/namespace"``, which Windows refuses
  ("prefix must not be bound to one of the reserved namespace names"): the broker's one-to-many
  fan-out lost 2 of 1,000 hosts that way. :func:`install_namespace_guard` therefore replaces the
  ``ET`` name of pypsrp's wsman module, once, with a stand-in whose ``register_namespace`` adds a
  mapping before removing any conflicting one, under a lock, and leaves a mapping that is already
  in place untouched; so after the first ``WSMan`` no construction touches the map at all. Every
  other ``ET`` function is ElementTree's own.

- :func:`new_wsman` also installs :func:`install_ntlm_key_cache`: every new NTLM context of
  pyspnego (one per HTTP connection, so one per host in a one-to-many run) derives the LM key of
  the password with a pure-Python DES (``lmowfv1``), about 8 ms of CPU each time on the test
  machine, a quarter of the broker's CPU per host; NTLMv2 never even sends it. The adapter
  computes it once per distinct password for the process: the result is kept under a salted
  SHA-256 of the password (never the password itself), at most ``NTLM_KEY_CACHE`` of them.

- :func:`adapt_pool` also installs :func:`install_single_command_copy_skip`: to build the
  CreatePipeline message pypsrp's ``Pipeline`` deep-copies every command (``_get_statements``),
  twice (once for ``Cmds``, once for ``ExtraCmds``, which it then drops when there is only one
  statement), so that a command serialized under two parents stays two objects. A pipeline of
  one command has no second parent, and a deep copy of one command keeps the sharing inside it
  (the serializer's ``<Ref>``s) exactly as the original has it, so the XML is the same byte for
  byte without the copy. For such pipelines the adapter hands the command itself to the
  serializer; any other pipeline goes through pypsrp's own method. The copies were about 15% of
  the broker's CPU for a warm invoke_command task (its one command carries every argument).

- :func:`fast_unwrap` (installed by ``_client._TransportGuard`` on each transport's message
  encryption once it exists): pypsrp's ``WinRMEncryption.unwrap_message`` finds the parts of an
  encrypted answer with two regular expressions run over the whole body and copies it three
  times before decrypting, about a tenth of the broker's CPU for a fetch (500 KB answers). The
  one-part layout every WinRM server sends ([MS-WSMV] 2.2.9.1) is cut out with ``bytes.find``
  and handed to the same ``unwrap_winrm`` with the same length check; any other layout
  (CredSSP's several parts, a non-compliant boundary) still takes pypsrp's code.
- :func:`fromstring_streams` (installed by :func:`new_wsman` as the ``fromstring`` of the stand-in
  ``ET`` of pypsrp's wsman module, :func:`install_stream_parse`): ``WSMan.invoke`` parses every
  answer with ElementTree, and for a 500 KB Receive answer expat spends 1.8 of 2 ms scanning the
  base64 of its ``rsp:Stream``. An answer of 64 KiB or more has those contents cut out with
  ``bytes.find`` before expat runs and set as the elements' text afterwards: the same element
  tree. A Stream whose content is not plain text up to its end tag (a child, a comment, CDATA,
  a reference, a carriage return), an encoding other than UTF-8, or any mismatch is parsed by
  ElementTree as it is.
- :class:`SendBehind` (put_file's input): pypsrp's ``begin_invoke(input)`` serializes input object
  N+1 only after the Send of object N has come back, so the controller and the host take turns and
  one of them always idles. Within ``with SendBehind(shell):`` the shell's ``send`` hands each
  fragment to one sender thread, in order, and returns at once, so the next object is read,
  hashed, compressed and serialized while the host handles the previous Send. The caller's
  thread also renders the whole WSMan Send (:func:`render_send`: base64 and envelope XML, byte
  for byte what ``WinRS.send`` builds); the sender thread only encrypts and posts it
  (:func:`post_send`, which checks the answer as ``WSMan.invoke`` does), so less of the
  controller's work sits between two Sends.
- :class:`ReceiveAhead` (fetch_file's output): pypsrp's ``poll_invoke`` sends the next Receive
  only after the previous answer has been decoded (and fetch_file has hashed and written it), so
  the host builds no answer while the controller decodes. With it, one receiver thread sends the
  next Receive as soon as the previous answer has arrived; the caller decodes that answer
  meanwhile.
"""

from __future__ import annotations

import binascii
import hashlib
import importlib
import os
import queue
import re
import sys
import threading
import types
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._message_cache import (
    caching_on,
    packing_accepts_bytes,
    serialized,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    CreatePipeline,
    MessageType,
    Pipeline,
    PSInvocationState,
    RunspacePoolState,
    SelectorSet,
    Serializer,
    WinRMError,
    WinRMTransportError,
    WSMan,
    WSManFaultError,
)

SECURE_STRING_TEXT = "System.Security.SecureString"
_ESCAPED_UNIT = re.compile(b"\\x00_\\x00x((?:\\x00[0-9A-Fa-f]){4})\\x00_")
_state = threading.local()  # .depth > 0 while a PSRemotingSerializer deserializes in this thread
_install_lock = threading.Lock()
_installed: list[bool] = []
_namespace_lock = threading.Lock()
_guarded: list[bool] = []
_ntlm_cached: list[bool] = []
_copy_skipped: list[bool] = []
NTLM_KEY_CACHE = 64  # distinct passwords whose LM key is kept (oldest dropped first)


class DeferredXml:
    """The XML text of one CLIXML element, rendered only if somebody asks for it (``str()``)."""

    __slots__ = ("element", "text")

    def __init__(self, element: Any) -> None:
        self.element: Any = element
        self.text: str | None = None

    def __str__(self) -> str:
        if self.text is None:
            self.text = ET.tostring(self.element, encoding="utf-8", method="xml").decode("utf-8")
            self.element = None
        return self.text


def _deferring() -> bool:
    return getattr(_state, "depth", 0) > 0


def install_deferred_text() -> bool:
    """Put the deferring stand-ins for ``ET``/``to_string`` into pypsrp's serializer module (once).

    Returns whether they are installed (False: not the pypsrp layout this was written for).
    """
    with _install_lock:
        if _installed:
            return _installed[0]
        module = sys.modules.get(getattr(Serializer, "__module__", "") or "")
        ok = (
            module is not None
            and getattr(module, "ET", None) is ET
            and callable(getattr(module, "to_string", None))
        )
        if ok and module is not None:
            to_string = module.to_string
            element_tree = types.SimpleNamespace(**vars(ET))

            def tostring(element: Any, *args: Any, **kwargs: Any) -> Any:
                if _deferring():
                    return DeferredXml(element)
                return ET.tostring(element, *args, **kwargs)

            def deferred_to_string(value: Any, *args: Any, **kwargs: Any) -> Any:
                return value if isinstance(value, DeferredXml) else to_string(value, *args, **kwargs)

            element_tree.tostring = tostring
            module.ET = element_tree  # type: ignore[attr-defined]
            module.to_string = deferred_to_string  # type: ignore[attr-defined]
        _installed.append(bool(ok))
        return bool(ok)


def _base64_text(text: str) -> bytes | None:
    """The bytes of the text of a ``<BA>`` element: None when it holds markup or a reference."""
    if "<" in text or "&" in text:
        return None
    try:
        return binascii.a2b_base64(text)
    except (ValueError, binascii.Error):
        return None


def _byte_array(clixml: str) -> bytes | None:
    """The bytes of a top-level ``<BA>base64</BA>`` (a ``byte[]`` output object, [MS-PSRP]
    2.2.5.1.17: fetch_file's chunks), decoded without building an XML tree for the one text node
    (what pypsrp's ``deserialize`` does, then ``base64.b64decode`` of its text: the same bytes);
    None for anything else, which takes pypsrp's path."""
    if not (clixml.startswith("<BA>") and clixml.endswith("</BA>")):
        return None
    return _base64_text(clixml[4:-5])


#: A top-level hashtable of one key ``Deflate`` holding a ``byte[]``, as PowerShell serializes
#: fetch_file's ``@{ Deflate = byte[] }`` ([MS-PSRP] 2.2.5.2.6 dictionary).
_DEFLATE_HEAD = re.compile(
    r'<Obj RefId="\d+"><TN RefId="\d+"><T>System\.Collections\.Hashtable</T><T>System\.Object</T></TN>'
    r'<DCT><En><S N="Key">Deflate</S><BA N="Value">'
)
_DEFLATE_TAIL = "</BA></En></DCT></Obj>"


def _deflate_chunk(clixml: str) -> dict[str, bytes] | None:
    """``{"Deflate": bytes}`` of fetch_file's compressed chunk, decoded without an XML tree (what
    pypsrp's ``deserialize`` gives for it); None for anything else."""
    head = _DEFLATE_HEAD.match(clixml) if clixml.endswith(_DEFLATE_TAIL) else None
    if head is None:
        return None
    data = _base64_text(clixml[head.end() : -len(_DEFLATE_TAIL)])
    return None if data is None else {"Deflate": data}


class PSRemotingSerializer(Serializer):
    """pypsrp's serializer with the adaptations described in the module docstring."""

    def serialize(self, value: Any, metadata: Any = None, parent: Any = None, clear: bool = True) -> Any:
        # A whole CREATE_PIPELINE message (Message.pack's call): its bytes, serialized once per
        # content while a one-to-many run is under way (psrp/_message_cache.py); Message.pack
        # sends bytes as they are.
        whole = clear and metadata is None and parent is None and type(value) is CreatePipeline
        if whole and caching_on() and packing_accepts_bytes():
            data = serialized(value, super().serialize)
            if data is not None:
                return data
        return super().serialize(value, metadata, parent, clear)

    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if isinstance(element, DeferredXml):  # pypsrp re-deserializes ComplexObject._xml in one path
            element = str(element)
        if metadata is None and isinstance(element, str):
            data: Any = _byte_array(element)
            if data is None and clear:
                data = _deflate_chunk(element)
            if data is not None:
                if clear:
                    self._clear()
                return data
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            value = super().deserialize(element, metadata, clear)
        finally:
            _state.depth -= 1
        return str(value) if isinstance(value, DeferredXml) else value

    def _deserialize_string(self, value: str | None) -> str:
        try:
            return str(super()._deserialize_string(value))
        except UnicodeDecodeError:
            raw = str(value or "").encode("utf-16-be", "surrogatepass")
            raw = _ESCAPED_UNIT.sub(lambda m: bytes.fromhex(m.group(1).decode("utf-16-be")), raw)
            return raw.decode("utf-16-be", "replace")

    def _deserialize_secure_string(self, value: ET.Element) -> str:
        del value  # never decrypted, whatever the cipher
        return SECURE_STRING_TEXT


def install_single_command_copy_skip() -> bool:
    """Let pypsrp's ``Pipeline`` serialize a one-command pipeline without deep-copying the
    command (once per process; see the module docstring). Returns whether it is installed
    (False: not the pypsrp layout this was written for)."""
    with _install_lock:
        if _copy_skipped:
            return _copy_skipped[0]
        pipeline: Any = Pipeline
        original: Any = getattr(pipeline, "_get_statements", None)
        ok = callable(original) and getattr(original, "__qualname__", "") == "Pipeline._get_statements"
        if ok:

            def get_statements(self: Any) -> list[list[Any]]:
                commands = self.commands
                if len(commands) != 1:
                    return list(original(self))
                commands[0].end_of_statement = True  # as pypsrp marks the last command
                return [[commands[0]]]

            pipeline._get_statements = get_statements
        _copy_skipped.append(bool(ok))
        return bool(ok)


def adapt_pool(pool: Any) -> None:
    """Give a new (not yet opened) ``RunspacePool`` our serializer; install the deferral and the
    one-command copy skip once."""
    install_deferred_text()
    install_single_command_copy_skip()
    serializer = PSRemotingSerializer()
    pool._serializer = serializer
    fragmenter = getattr(pool, "_fragmenter", None)
    if fragmenter is not None:
        fragmenter.serializer = serializer


# -- robust Receive --------------------------------------------------------------------------------
_RECEIVE_ACTION = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
_WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
_SOAP = "http://www.w3.org/2003/05/soap-envelope"


class RobustReceive:
    """Receive with ``wsmv:OperationID`` ([MS-WSMV] 3.1.4.1.39 Robust Connection Support), which
    pypsrp 0.9 does not send.

    Why: a Receive answer lost on the network (a cut while it travels) takes its output with it;
    a server keeps nothing for a client that did not ask for robust connections. Each Receive
    here carries a new OperationID; when its answer never arrives (a network error), the next
    Receive repeats that OperationID with ``mustUnderstand="true"`` (a retransmission) and a
    robust server answers with the same output again. A server that never echoed OperationID
    cannot do that: each such loss is counted in ``lost_answers`` so the session can say that
    output may be missing (never silently).

    pypsrp's own resend of a Receive after a read timeout (``retries_on_read_timeout=5``) would
    send the operation again *without* the retransmission mark, so it is turned off: the session
    reconnects and retransmits instead (``PSRPSession.wait``).
    """

    def __init__(self, wsman: Any) -> None:
        self.pending: str | None = None  # OperationID of a Receive whose answer never arrived
        self.server_robust = False  # the server echoed OperationID at least once
        self.retransmitted = 0
        self.lost_answers = 0
        self._current: tuple[str, bool] | None = None
        self._invoke = wsman.invoke
        self._create_header = wsman._create_header
        wsman.invoke = self.invoke
        wsman._create_header = self.create_header

    def create_header(self, *args: Any, **kwargs: Any) -> Any:
        message_id, header = self._create_header(*args, **kwargs)
        if self._current is not None:
            operation_id, retransmit = self._current
            element = ET.SubElement(header, f"{{{_WSMV}}}OperationID")
            element.set(f"{{{_SOAP}}}mustUnderstand", "true" if retransmit else "false")
            element.text = operation_id
        return message_id, header

    def invoke(self, action: str, *args: Any, **kwargs: Any) -> Any:
        if action != _RECEIVE_ACTION:
            return self._invoke(action, *args, **kwargs)
        retransmit = self.pending is not None
        operation_id = self.pending or f"uuid:{str(uuid.uuid4()).upper()}"
        self._current = (operation_id, retransmit)
        self.pending = operation_id  # until an answer arrives
        kwargs["retries_on_read_timeout"] = 0
        try:
            response = self._invoke(action, *args, **kwargs)
        except OSError:  # requests' network errors: the answer may be lost on the way
            raise
        except BaseException:  # the server answered (a fault): nothing was lost
            self.pending = None
            raise
        finally:
            self._current = None
        self.pending = None
        echoed = response.find(f"{{{_SOAP}}}Header/{{{_WSMV}}}OperationID") is not None
        self.server_robust = self.server_robust or echoed
        if retransmit:
            self.retransmitted += 1
            if not echoed:
                self.lost_answers += 1
        return response


def robust_receive(wsman: Any) -> RobustReceive:
    """Install :class:`RobustReceive` on a pypsrp ``WSMan`` (before its pool opens)."""
    return RobustReceive(wsman)


_RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
BUFFER_MODES = ("Block", "Drop")  # [MS-WSMV] 2.2.5.10 OutputBufferingModeEnumeration


def duration(seconds: float) -> str:
    """``seconds`` as the xs:duration Windows writes for IdleTimeOut (``PT7200.000S``)."""
    return f"PT{seconds:.3f}S"


def parse_duration(text: str | None) -> float | None:
    """Seconds of a ``PT<n>[.<ms>]S`` duration (the form Windows writes), None otherwise."""
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", (text or "").strip())
    return float(match.group(1)) if match else None


class ShellLimits:
    """Keeps ``rsp:MaxIdleTimeOut`` of the last Create answer on this ``WSMan`` (seconds; None
    when the server did not say)."""

    def __init__(self, wsman: Any) -> None:
        self.max_idle_timeout: float | None = None
        self._create = wsman.create
        wsman.create = self.create

    def create(self, *args: Any, **kwargs: Any) -> Any:
        body = self._create(*args, **kwargs)
        element = body.find(f".//{{{_RSP}}}MaxIdleTimeOut") if body is not None else None
        self.max_idle_timeout = parse_duration(element.text if element is not None else None)
        return body


def shell_limits(wsman: Any) -> ShellLimits:
    """Install :class:`ShellLimits` on a pypsrp ``WSMan`` (before its pool opens)."""
    return ShellLimits(wsman)


def disconnect(pool: Any, idle_timeout: int | None = None, buffer_mode: str | None = None) -> None:
    """``RunspacePool.disconnect`` with ``rsp:IdleTimeOut`` (seconds) and ``rsp:BufferMode`` in the
    Disconnect body when given ([MS-PSRP] 3.1.5.3.16); the pool and its pipelines become
    Disconnected, as pypsrp's own method leaves them."""
    if idle_timeout is None and buffer_mode is None:
        pool.disconnect()
        return
    if buffer_mode is not None and buffer_mode not in BUFFER_MODES:
        raise ValueError(f"BufferMode must be one of {BUFFER_MODES}, not {buffer_mode!r}")
    body = ET.Element(f"{{{_RSP}}}Disconnect")
    if idle_timeout is not None:
        ET.SubElement(body, f"{{{_RSP}}}IdleTimeOut").text = duration(idle_timeout)
    if buffer_mode is not None:
        ET.SubElement(body, f"{{{_RSP}}}BufferMode").text = buffer_mode
    selectors = SelectorSet()
    selectors.add_option("ShellId", pool.shell.id or "")
    pool.connection.disconnect(pool.shell.resource_uri, body, selector_set=selectors)
    pool.state = RunspacePoolState.DISCONNECTED
    for pipeline in pool.pipelines.values():
        pipeline.state = PSInvocationState.DISCONNECTED


def register_namespace_in_place(prefix: str, uri: str) -> None:
    """``ET.register_namespace`` without the moment where ``uri`` has no prefix at all.

    The result is the same map: ``uri`` maps to ``prefix`` and no other URI keeps ``prefix``. The
    new mapping is written first (a no-op when it is already there) and only then are other URIs
    that held ``prefix`` dropped, so a concurrent ``ET.tostring`` always finds a prefix.
    """
    if re.match(r"ns\d+$", prefix):
        raise ValueError("Prefix format reserved for internal use")
    namespace_map: dict[str, str] = ET._namespace_map  # type: ignore[attr-defined]
    with _namespace_lock:
        if namespace_map.get(uri) != prefix:
            namespace_map[uri] = prefix
        for other, held in list(namespace_map.items()):
            if held == prefix and other != uri:
                del namespace_map[other]


def install_namespace_guard() -> bool:
    """Give pypsrp's wsman module an ``ET`` whose ``register_namespace`` is race-free (once).

    Returns whether it is installed (False: not the pypsrp layout this was written for).
    """
    with _install_lock:
        if _guarded:
            return _guarded[0]
        module = sys.modules.get(getattr(WSMan, "__module__", "") or "")
        ok = (
            module is not None
            and getattr(module, "ET", None) is ET
            and isinstance(getattr(ET, "_namespace_map", None), dict)
        )
        if ok and module is not None:
            element_tree = types.SimpleNamespace(**vars(ET))
            element_tree.register_namespace = register_namespace_in_place
            module.ET = element_tree  # type: ignore[attr-defined]
        _guarded.append(bool(ok))
        return bool(ok)


class _KeyCache:
    """``lmowfv1(password)``, computed once per password (keyed by a salted digest)."""

    def __init__(self, derive: Any) -> None:
        self.derive = derive
        self.salt = os.urandom(16)
        self.keys: dict[bytes, Any] = {}
        self.lock = threading.Lock()
        self.__wrapped__ = derive

    def __call__(self, password: str) -> Any:
        digest = hashlib.sha256(self.salt + password.encode("utf-8", "surrogatepass")).digest()
        with self.lock:
            key = self.keys.get(digest)
        if key is None:
            key = self.derive(password)
            with self.lock:
                if len(self.keys) >= NTLM_KEY_CACHE:
                    self.keys.pop(next(iter(self.keys)))
                self.keys[digest] = key
        return key


def install_ntlm_key_cache() -> bool:
    """Give pyspnego's NTLM context a once-per-password LM key derivation (once per process).

    Returns whether it is installed (False: not the pyspnego layout this was written for).
    """
    with _install_lock:
        if _ntlm_cached:
            return _ntlm_cached[0]
        try:
            module: Any = importlib.import_module("spnego._ntlm")
        except ImportError:
            module = None
        derive = getattr(module, "lmowfv1", None)
        ok = callable(derive) and getattr(derive, "__module__", "") == "spnego._ntlm_raw.crypto"
        if ok:
            module.lmowfv1 = _KeyCache(derive)
        _ntlm_cached.append(bool(ok))
        return bool(ok)


# -- answers with large streams ---------------------------------------------------------------------
_SHELL_STREAM = f"{{{_RSP}}}Stream"
#: An rsp:Stream start tag (any prefix); its text is cut out before expat parses the answer.
_STREAM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Stream(?=[\s/>])[^<>]*>")
#: Answers shorter than this are parsed by ElementTree as they are.
STREAM_PARSE_MIN = 65536


def _stream_texts(text: bytes) -> tuple[bytes, list[memoryview | None]] | None:
    """``text`` without the content of its Stream elements, and those contents in order (None for
    an empty-element tag); None when a Stream's content is anything but plain characters up to
    its end tag (a child, a comment, CDATA, an entity or character reference, a carriage return
    expat would normalize)."""
    pieces: list[bytes] = []
    contents: list[memoryview | None] = []
    view = memoryview(text)
    position = 0
    while (match := _STREAM_START.search(text, position)) is not None:
        pieces.append(text[position : match.end()])
        position = match.end()
        if match.group().endswith(b"/>"):
            contents.append(None)
            continue
        end = text.find(b"<", position)
        if end < 0 or not text.startswith(b"</", end):
            return None
        if text.find(b"&", position, end) >= 0 or text.find(b"\r", position, end) >= 0:
            return None
        contents.append(view[position:end])
        position = end
    pieces.append(text[position:])
    return b"".join(pieces), contents


def _parse(text: bytes) -> Any:
    """What pypsrp's wsman module does with a WinRM answer (it parses the same bytes)."""
    return ET.fromstring(text)  # noqa: S314 - the answer pypsrp parses with ElementTree anyway


def fromstring_streams(text: Any, parser: Any = None) -> Any:
    """``ET.fromstring`` for pypsrp's wsman module: the same element tree, but a large answer's
    ``rsp:Stream`` contents (the base64 of a Receive answer, nearly all of its bytes) are cut out
    before expat runs and set as those elements' text afterwards, so expat parses only the
    envelope around them. Anything else, or anything unexpected, is parsed as it is."""
    if parser is not None or not isinstance(text, bytes) or len(text) < STREAM_PARSE_MIN:
        return ET.fromstring(text, parser)  # noqa: S314 - pypsrp's own call, unchanged
    if not text.startswith(b"<"):  # a byte order mark (UTF-16), leading white space
        return _parse(text)
    head = text[:200]
    if b"encoding=" in head and not re.search(rb"""encoding=["'](?i:utf-8|us-ascii)["']""", head):
        return _parse(text)
    cut = _stream_texts(text)
    if cut is None or not cut[1]:
        return _parse(text)
    skeleton, contents = cut
    try:
        root = _parse(skeleton)
    except ET.ParseError:
        return _parse(text)
    streams = [e for e in root.iter() if isinstance(e.tag, str) and e.tag.rpartition("}")[2] == "Stream"]
    if len(streams) != len(contents):
        return _parse(text)
    for element, content in zip(streams, contents, strict=True):
        if element.tag != _SHELL_STREAM or element.text is not None or len(element):
            return _parse(text)
        try:
            element.text = str(content, "ascii") if content else None
        except UnicodeDecodeError:
            return _parse(text)
    return root


def install_stream_parse() -> bool:
    """Give pypsrp's wsman module :func:`fromstring_streams` as its ``ET.fromstring`` (once; it
    goes into the stand-in ``ET`` of :func:`install_namespace_guard`). Returns whether it is
    installed."""
    if not install_namespace_guard():
        return False
    module = sys.modules[WSMan.__module__]
    module.ET.fromstring = fromstring_streams
    return True


def new_wsman(**kwargs: Any) -> WSMan:
    """A pypsrp ``WSMan`` built without disturbing ElementTree's map for other threads, whose
    NTLM contexts derive the password's LM key once per process, and which parses large Receive
    answers without running expat over their base64."""
    install_namespace_guard()
    install_stream_parse()
    install_ntlm_key_cache()
    return WSMan(**kwargs)


_SEND_ACTION = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send"
#: Stands for the base64 data while a Send envelope is serialized (render_send); the last
#: occurrence in the envelope is the stream's text (the header comes before the body).
_SEND_MARK = "psrp-send-data-0c5e1b7a"
_SEND_MARK_BYTES = _SEND_MARK.encode("ascii")
_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"


def _renders(shell: Any) -> bool:
    """Whether ``shell`` has pypsrp 0.9's WinRS/WSMan layout that :func:`render_send` and
    :func:`post_send` were written for."""
    wsman = getattr(shell, "wsman", None)
    return (
        wsman is not None
        and callable(getattr(wsman, "_create_header", None))
        and callable(getattr(wsman, "_parse_wsman_fault", None))
        and getattr(wsman, "transport", None) is not None
        and hasattr(shell, "resource_uri")
        and hasattr(shell, "_selector_set")
    )


def render_send(
    shell: Any, stream: str, data: bytes, command_id: str | None, end: bool | None
) -> tuple[str, bytes]:
    """(MessageID, envelope) of the WSMan Send that pypsrp's ``WinRS.send`` would send for
    ``data``: the same body ([MS-WSMV] 2.2.4.31 rsp:Send, the data base64-encoded) inside the
    same envelope ``WSMan.invoke`` builds (its own header, a new MessageID). The envelope is
    serialized around a short marker that the base64 bytes then replace (base64 needs no XML
    escaping), so the payload is encoded once and copied once, never decoded to text,
    escaped and encoded back (each a pass over hundreds of KB per Send of put_file)."""
    send = ET.Element(f"{{{_RSP}}}Send")
    element = ET.SubElement(send, f"{{{_RSP}}}Stream", Name=stream)
    if end is not None:
        element.attrib["End"] = str(end)
    if command_id is not None:
        element.attrib["CommandId"] = command_id
    element.text = _SEND_MARK
    wsman = shell.wsman
    envelope = ET.Element(f"{{{_SOAP}}}Envelope")
    message_id, header = wsman._create_header(
        _SEND_ACTION, shell.resource_uri, None, shell._selector_set, None
    )
    envelope.append(header)
    ET.SubElement(envelope, f"{{{_SOAP}}}Body").append(send)
    head, mark, tail = ET.tostring(envelope, encoding="utf-8", method="xml").rpartition(_SEND_MARK_BYTES)
    if not mark:  # cannot happen: the marker is the stream element's whole text
        raise RuntimeError("internal error: the Send envelope lost its data marker")
    return f"uuid:{message_id}", b"".join((head, binascii.b2a_base64(data, newline=False), tail))


def post_send(shell: Any, message_id: str, envelope: bytes) -> None:
    """Send a rendered envelope and check the answer as ``WSMan.invoke`` does: a WSMan fault is
    raised as pypsrp's ``WSManFaultError``, an answer to another message as ``WinRMError``."""
    wsman = shell.wsman
    try:
        response = wsman.transport.send(envelope, retries_on_read_timeout=0, timeout=None)
    except WinRMTransportError as exc:
        try:
            fault = wsman._parse_wsman_fault(exc.response_text)
        except ET.ParseError:
            raise exc from None
        raise fault from None
    # the host's answer, as pypsrp's WSMan.invoke parses every answer (the same parser)
    answer = ET.fromstring(response)  # noqa: S314
    relates_to = answer.find(f"{{{_SOAP}}}Header/{{{_WSA}}}RelatesTo")
    text = relates_to.text if relates_to is not None else ""
    if text != message_id:
        raise WinRMError(
            f"Received related id does not match related expected message id: Sent: {message_id}, "
            f"Received: {text}"
        )


class SendBehind:
    """Within the block, ``shell.send(stream, data, command_id=..., end=...)`` renders the whole
    WSMan Send for the fragment in the caller's thread (:func:`render_send`: base64, envelope
    XML) and queues it (at most ``AHEAD`` waiting, about one envelope each) for one sender thread
    that sends them in order (:func:`post_send`: encryption, HTTP, the answer's check); the
    caller goes on preparing the next one. So while the host handles Send N, the controller
    reads, hashes, serializes and renders N+1, and the sender's part between two Sends is only
    the encryption and the HTTP exchange. (A shell without pypsrp 0.9's layout is sent through
    its own ``send`` in the sender thread instead.) A failed Send stops the sending: its
    exception is raised by the next ``send`` call or when the block ends, and nothing queued
    after it goes out. pypsrp's input loop ignores ``send``'s answer."""

    AHEAD = 2

    def __init__(self, shell: Any) -> None:
        self._shell = shell
        self._send = shell.send
        self._render = _renders(shell)
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(self.AHEAD)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="psrp-send-behind", daemon=True)

    def __enter__(self) -> SendBehind:
        self._shell.send = self.send
        self._thread.start()
        return self

    def send(self, stream: str, data: bytes, command_id: str | None = None, end: bool | None = None) -> None:
        item = render_send(self._shell, stream, data, command_id, end) if self._render else None
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put((item, stream, data, command_id, end), timeout=0.05)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain: nothing after a failed Send
            rendered, stream, data, command_id, end = item
            try:
                if rendered is not None:
                    post_send(self._shell, *rendered)
                else:
                    self._send(stream, data, command_id=command_id, end=end)
            except BaseException as exc:  # handed to the caller's thread
                self._error = exc

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._shell.send = self._send
        if exc_type is not None:
            self._error = self._error or exc  # stop sending what is still queued
        self._queue.put(None)
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error


# -- receive ahead -----------------------------------------------------------------------------
_COMMAND_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
#: WSMan fault of a Receive that waited the whole OperationTimeout for output: receive again.
_OPERATION_TIMEOUT = 2150858793
_FRAGMENT_HEADER = 21  # [MS-PSRP] 2.2.4: ObjectId (8), FragmentId (8), flags (1), BlobLength (4)


def _hands_over(stream: bytes, pending: set[bytes] | None = None) -> bool:
    """Whether a Receive answer's PSRP fragments hold a message after which the receiver must
    stop: the pipeline's final state (nothing follows), or a host call (the caller may answer it
    with a Send on the same connection). Only a message's first fragment says its type: a
    hand-over message whose first fragment arrived without its last one is remembered in
    ``pending`` (by ObjectId), so the receiver also stops after the answer that ends it (the
    caller handles the message only once it is whole)."""
    found = False
    offset = 0
    while offset + _FRAGMENT_HEADER <= len(stream):
        object_id = stream[offset : offset + 8]
        flags = stream[offset + 16]
        length = int.from_bytes(stream[offset + 17 : offset + 21], "big")
        blob = offset + _FRAGMENT_HEADER
        if flags & 0x1:
            kind = int.from_bytes(stream[blob + 4 : blob + 8], "little") if length >= 8 else None
            if kind in (
                MessageType.PIPELINE_STATE,
                MessageType.PIPELINE_HOST_CALL,
                MessageType.RUNSPACEPOOL_HOST_CALL,
            ):
                found = True
                if not flags & 0x2 and pending is not None:
                    pending.add(object_id)
        elif pending is not None and object_id in pending:
            found = True
            if flags & 0x2:
                pending.discard(object_id)
        offset = blob + length
    return found


class ReceiveAhead:
    """Within the block, :meth:`poll` replaces ``ps.poll_invoke()``: one receiver thread sends
    each next Receive of ``ps``'s command as soon as the previous answer has arrived (and been
    decrypted), and hands the answer's PSRP stream to the caller, which decodes it (pypsrp's
    ``_parse_responses``: defragment, deserialize, pipeline state) while the host builds the next
    answer. Receives stay one at a time and in order, as pypsrp sends them.

    Bounded: at most ``DEPTH`` answers wait to be decoded (one envelope each). The receiver stops
    after an answer whose CommandState is Done, after one that carries (the first or last
    fragment of) the pipeline's state or a host call (the caller handles it; the next
    :meth:`poll` starts a new receiver once the old one has ended), and after a failure, which
    :meth:`poll` raises in the caller's thread (``PSRPSession.wait`` then reconnects as for
    ``poll_invoke``; RobustReceive retransmits the lost operation). Leaving the block stops the
    receiver and waits for its Receive in flight, so nothing else uses the connection meanwhile
    (a stopped pipeline, the next command)."""

    DEPTH = 2

    def __init__(self, ps: Any) -> None:
        self._ps = ps
        self._pool = ps.runspace_pool
        # (answer or failure, whether the receiver ends after it)
        self._queue: queue.Queue[tuple[bytes | BaseException, bool]] = queue.Queue(self.DEPTH)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: set[bytes] = set()  # hand-over messages begun, not ended (_hands_over)

    def __enter__(self) -> ReceiveAhead:
        return self

    def poll(self) -> None:
        """One Receive's worth of the pipeline's messages, as ``ps.poll_invoke()``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="psrp-receive-ahead", daemon=True)
            self._thread.start()
        item, last = self._queue.get()
        if last:  # the receiver ends after handing this over: the next poll starts a new one
            self._thread.join()
            self._thread = None
        if isinstance(item, BaseException):
            raise item
        for kind, message in self._pool._parse_responses(item, self._ps):
            if kind == MessageType.PIPELINE_OUTPUT:
                self._ps.output.append(message.data.data)

    def _receive(self) -> tuple[bytes | BaseException, bool]:
        try:
            state, _rc, streams = self._pool.shell.receive("stdout", command_id=self._ps._command_id)
        except WSManFaultError as exc:
            if exc.code == _OPERATION_TIMEOUT:  # no output within OperationTimeout, as poll_invoke
                return b"", False
            return exc, True
        except BaseException as exc:  # handed to the caller's thread
            return exc, True
        stream = streams["stdout"]
        handed_over = _hands_over(stream, self._pending)
        return stream, state == _COMMAND_DONE or handed_over

    def _run(self) -> None:
        last = False
        while not last and not self._stop.is_set():
            item, last = self._receive()
            while not self._stop.is_set():
                try:
                    self._queue.put((item, last), timeout=0.05)
                    break
                except queue.Full:
                    continue

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join()


# -- encrypted answers -----------------------------------------------------------------------------
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"


def _one_part(message: bytes, boundary: str) -> tuple[int, int, int] | None:
    """(declared length, start, end) of the wrapped data of a one-part encrypted body
    ``--B\r\n <headers> --B\r\n\tContent-Type: application/octet-stream\r\n <data> --B--\r\n``,
    else None."""
    mark = b"--" + boundary.encode("ascii", "replace") + b"\r\n"
    tail = mark[:-2] + b"--\r\n"
    if not (message.startswith(mark) and message.endswith(tail)):
        return None
    second = message.find(mark, len(mark))
    if second < 0 or message.find(mark, second + len(mark)) >= 0:
        return None
    header = message[len(mark) : second]
    found = header.rfind(b"Length=")
    start = second + len(mark)
    if found < 0 or not message.startswith(_OCTET_STREAM, start):
        return None
    try:
        length = int(header[found + 7 :].strip())
    except ValueError:
        return None
    return length, start + len(_OCTET_STREAM), len(message) - len(tail)


def fast_unwrap(encryption: Any) -> None:
    """Give one pypsrp ``WinRMEncryption`` the faster ``unwrap_message`` (see the module
    docstring); idempotent."""
    original = encryption.unwrap_message
    if getattr(original, "psremoting_fast", False):
        return

    def unwrap_message(message: bytes, boundary: str) -> bytes:
        part = _one_part(message, boundary)
        if part is None:
            return bytes(original(message, boundary))
        length, start, end = part
        size = int.from_bytes(message[start : start + 4], "little", signed=True)
        if size < 0 or start + 4 + size > end:
            return bytes(original(message, boundary))
        header = message[start + 4 : start + 4 + size]
        data = bytes(encryption.context.unwrap_winrm(header, message[start + 4 + size : end]))
        if len(data) != length:
            raise WinRMError(
                "The encrypted length from the server does not match the expected length, decryption "
                f"failed, actual: {len(data)} != expected: {length}"
            )
        return data

    unwrap_message.psremoting_fast = True  # type: ignore[attr-defined]
    encryption.unwrap_message = unwrap_message
