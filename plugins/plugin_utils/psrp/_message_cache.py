# for internal use by psremoting.core only; not a public API
"""CREATE_PIPELINE messages serialized once per content while a one-to-many task runs.

A one-to-many task sends the same pipeline to every host (invoke_command's session function and
its typed parameters); pypsrp builds
the CLIXML of each CREATE_PIPELINE message from scratch: the deep copies of the commands
(``Pipeline._get_statements``), an ElementTree of every property and parameter, the string
escaping of the script text (one Python callback per line break), then the text. That was about
a fifth of the session broker's CPU per host in a one-to-many run (6 ms of 29 ms, measured with
py-spy over 100 hosts).

The XML of a CREATE_PIPELINE message carries no identifier: the runspace pool and pipeline ids
are in the binary message header (``Message.pack``), and the serializer numbers RefIds from 0 in
every message. Its bytes are therefore a function of the message's content alone, and
:func:`message_key` computes that content as a hashable value: every attribute of every object in
the message (``vars()``, recursively: commands, parameters, values, pypsrp's property metadata,
the protocol version each command carries), with the type of each value (``1`` and ``True`` and
``1.0`` are different keys). The host information becomes what pypsrp serializes of it (whether
the host, its UI and its raw UI are null). Anything else stops caching for that message
(:class:`Uncacheable`): a type the key does not know, and by design every value that carries a
secret (``SecureString`` and ``PSCredential`` are encrypted with the session key and a fresh IV
each time) or a host with a raw UI (its current size and colours are serialized).

Only within :func:`caching` (the broker's one-to-many run, ``broker/_fanout.py``) are messages
cached, and the cache is emptied when the last such run ends: a pipeline carries the task's
arguments (no_log values among them), which must not stay in the broker's memory after the task
that sent them (issue 18: arguments and anything marked no_log are never cached).

The cache keeps at most :data:`MAX_ENTRIES` messages and :data:`MAX_BYTES` bytes (least recently
used first out) and never a message above :data:`MAX_ENTRY_BYTES`. ``PSRemotingSerializer``
(``_adapters``) uses it only after :func:`packing_accepts_bytes` has checked, once per process,
that pypsrp's ``Message.pack`` packs serialized bytes exactly as it packs the element they came
from (pypsrp 0.9's layout).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    ApartmentState,
    Command,
    CommandParameter,
    CreatePipeline,
    Destination,
    HostInfo,
    Message,
    ObjectMeta,
    Pipeline,
    PipelineResultTypes,
    RemoteStreamOptions,
    Serializer,
    TaggedValue,
)

MAX_ENTRIES = 64
MAX_BYTES = 16 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024

# Values whose type alone says how pypsrp serializes them.
_ATOMS: frozenset[type] = frozenset({str, int, bool, type(None), bytes, uuid.UUID})
# TaggedValue tags that carry no secret (all of pypsrp's primitive tags but SS, SecureString).
_PLAIN_TAGS = frozenset(
    {"S", "C", "B", "DT", "TS", "By", "SB", "U16", "I16", "U32", "I32", "U64", "I64", "Sg", "Db", "D", "BA",
     "G", "URI", "Version", "XD", "SBK"}
)  # fmt: skip


class Uncacheable(Exception):
    """The message holds something the key does not cover (or must never be cached)."""


def _objects() -> frozenset[type]:
    """The pypsrp classes of a CREATE_PIPELINE message whose state is all in ``vars()`` (with
    pypsrp's property metadata: ObjectMeta and its subclasses)."""
    extra_cmds = getattr(Pipeline, "_ExtraCmds", None)
    kinds = {CreatePipeline, Pipeline, Command, CommandParameter, PipelineResultTypes, ApartmentState}
    kinds.add(RemoteStreamOptions)
    if isinstance(extra_cmds, type):
        kinds.add(extra_cmds)
    return frozenset(kinds)


_OBJECTS: frozenset[type] = frozenset()


def _key(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return value
    if kind in _ATOMS:
        return (kind, value)
    if kind is float:
        return (kind, repr(value))  # -0.0 and 0.0 serialize differently
    if kind is list or kind is tuple:
        return (kind, tuple(_key(item) for item in value))
    if kind is dict:
        return (kind, tuple((_key(k), _key(v)) for k, v in value.items()))
    if kind is type:
        return (kind, value)  # ObjectMeta.object: a pypsrp class
    if kind is TaggedValue:
        if value.tag not in _PLAIN_TAGS:
            raise Uncacheable(value.tag)
        return (kind, value.tag, _key(value.value))
    if kind is HostInfo:
        return _host_key(value)
    if kind in _OBJECTS or (isinstance(value, ObjectMeta) and kind.__module__ == ObjectMeta.__module__):
        return (kind, tuple((name, _key(item)) for name, item in vars(value).items()))
    raise Uncacheable(kind.__name__)


def _host_key(info: Any) -> Any:
    """What pypsrp serializes of a HostInfo: its metadata and whether host, UI and raw UI are null."""
    host = info.host
    ui = getattr(host, "ui", None) if host is not None else None
    if ui is not None and getattr(ui, "raw_ui", None) is not None:
        raise Uncacheable("a host with a raw UI")  # its current state is serialized
    state = tuple((name, _key(item)) for name, item in vars(info).items() if name != "host")
    return (HostInfo, state, host is None, ui is None)


def message_key(message: Any) -> Any:
    """The content of a CREATE_PIPELINE message as a hashable value, or None when it must not or
    cannot be cached."""
    global _OBJECTS
    if not _OBJECTS:
        _OBJECTS = _objects()
    if type(message) is not CreatePipeline:
        return None
    try:
        return _key(message)
    except (Uncacheable, RecursionError, TypeError):
        return None


class MessageCache:
    """Serialized messages by content key; least recently used out first; thread-safe."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES, max_entry: int = MAX_ENTRY_BYTES
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self._entries: OrderedDict[Any, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> bytes | None:
        with self._lock:
            data = self._entries.get(key)
            if data is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return data

    def put(self, key: Any, data: bytes) -> None:
        if len(data) > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._entries[key] = data
            self._size += len(data)
            while self._entries and (len(self._entries) > self.max_entries or self._size > self.max_bytes):
                _key_out, out = self._entries.popitem(last=False)
                self._size -= len(out)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0


CACHE = MessageCache()

_runs = 0  # one-to-many runs under way in this process
_runs_lock = threading.Lock()


@contextlib.contextmanager
def caching() -> Iterator[None]:
    """Cache CREATE_PIPELINE messages for the block (a one-to-many run); when the last block of the
    process ends, empty the cache."""
    global _runs
    with _runs_lock:
        _runs += 1
    try:
        yield
    finally:
        with _runs_lock:
            _runs -= 1
            if _runs == 0:
                CACHE.clear()


def caching_on() -> bool:
    """Whether a one-to-many run is under way (``PSRemotingSerializer`` uses the cache then only)."""
    return _runs > 0


def serialized(message: Any, serialize: Callable[[Any], Any], cache: MessageCache = CACHE) -> bytes | None:
    """The XML bytes of ``message`` as ``Message.pack`` writes them, from ``cache`` when the same
    content was serialized before; None when the message is not cacheable (the caller serializes
    it as usual). ``serialize`` is pypsrp's ``Serializer.serialize`` of the caller."""
    key = message_key(message)
    if key is None:
        return None
    data = cache.get(key)
    if data is None:
        data = ET.tostring(serialize(message), encoding="utf-8", method="xml")
        cache.put(key, data)
    return data


class _BytesSerializer(Serializer):
    """pypsrp's serializer returning a whole message as bytes (as PSRemotingSerializer does)."""

    def serialize(self, value: Any, metadata: Any = None, parent: Any = None, clear: bool = True) -> Any:
        element: Any = super().serialize(value, metadata, parent, clear)
        if clear and metadata is None and parent is None:  # the message itself
            return ET.tostring(element, encoding="utf-8", method="xml")
        return element


_pack_checked: list[bool] = []
_pack_lock = threading.Lock()


def _sample_message() -> Any:
    command = Command(cmd="Get-Date", is_script=False, use_local_scope=None)
    command.args.append(CommandParameter(name="Format", value="o"))
    pipeline = Pipeline(is_nested=False, cmds=[command], history=None, redirect_err_to_out=False)
    return CreatePipeline(
        True,
        ApartmentState(value=ApartmentState.UNKNOWN),
        RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
        False,
        HostInfo(host=None),
        pipeline,
        False,
    )


def packing_accepts_bytes() -> bool:
    """Whether pypsrp's ``Message.pack`` packs the bytes a serializer returns exactly as it packs
    the element those bytes were made from (checked once per process on a sample message)."""
    with _pack_lock:
        if not _pack_checked:
            ok = False
            try:
                rpid, pid = str(uuid.uuid4()), str(uuid.uuid4())
                plain = Message(Destination.SERVER, rpid, pid, _sample_message(), Serializer()).pack()
                packed = Message(Destination.SERVER, rpid, pid, _sample_message(), _BytesSerializer()).pack()
                ok = packed == plain
            except Exception:  # not the pypsrp layout this was written for
                ok = False
            _pack_checked.append(ok)
        return _pack_checked[0]
