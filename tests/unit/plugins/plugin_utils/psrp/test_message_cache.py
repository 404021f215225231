"""CREATE_PIPELINE messages serialized once per content (psrp/_message_cache.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pypsrp.complex_objects import (
    ApartmentState,
    HostInfo,
    Pipeline,
    PSCredential,
    RemoteStreamOptions,
)
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.messages import CreatePipeline, Destination, Message
from pypsrp.powershell import PowerShell
from pypsrp.serializer import Serializer, TaggedValue

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _message_cache
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._adapters import PSRemotingSerializer
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import add_commands
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._message_cache import (
    MessageCache,
    message_key,
    packing_accepts_bytes,
    serialized,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import to_pypsrp_value

# The pipelines of the comparison, as the collection sends them (typed requests, psrp._client.add_commands):
# invoke_command's first task on a host (the session function's definition, then its call), a warm
# call, a cmdlet with every kind of value pypsrp tags (text with line breaks, control characters,
# "_x" sequences and an astral character; Int32, Int64, Double, bool, null, lists and hashtables),
# a pipeline of two commands, two statements, and a script with use_local_scope false.
CASES_SCRIPT = r"""
import json, sys
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import cached_form, in_session

task = in_session({"commands": [{"name": "Get-Service", "parameters": {"Name": "W32time"}}]})
odd = "line1\nline2\r\n\ttab \x00\x07 _x0041_ _X1_ \U0001F600 \u00e9\u20ac end"
values = {
    "Text": odd, "Small": 7, "Big": 2**40, "Neg": -(2**31), "Float": 2.5, "Zero": -0.0, "Yes": True,
    "No": False, "Null": None, "List": [1, "a", [2, {"k": "v"}]], "Table": {"b": 1, "a": [None, 1.5]},
}
cases = [
    cached_form(task, defined=False)["commands"],
    cached_form(task, defined=True)["commands"],
    [{"name": "Invoke-Thing", "parameters": values, "arguments": [1, "two", 3.0]}],
    [{"name": "Get-Process", "parameters": {"Name": "a"}}, {"name": "Select-Object", "arguments": [1, 1]}],
    [{"name": "$a = 1; $a", "is_script": True, "end_of_statement": True},
     {"name": "Get-Date", "use_local_scope": False}],
    [{"name": "param($x) $x", "is_script": True, "use_local_scope": False, "arguments": [odd]}],
]
json.dump(cases, sys.stdout)
"""

# Packs every case's CREATE_PIPELINE message (no input, then with input) and prints each as hex.
# argv[1] "pypsrp": pypsrp's own Serializer, nothing of the collection installed. "cached": our
# serializer, each message packed twice (the second from the cache), then the cache's counters.
PACK_SCRIPT = r"""
import json, sys, uuid
from types import SimpleNamespace
from pypsrp.complex_objects import ApartmentState, HostInfo, Pipeline, RemoteStreamOptions
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.messages import CreatePipeline, Destination, Message
from pypsrp.powershell import PowerShell
from pypsrp.serializer import Serializer
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import add_commands

cases = json.loads(sys.stdin.read())
mode = sys.argv[1]
if mode == "cached":
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _adapters, _message_cache
    serializer = _adapters.PSRemotingSerializer()
else:
    serializer = Serializer()
host = PSHost(None, None, False, "Ansible PSRP Host", None, PSHostUserInterface(), None)
pool = SimpleNamespace(protocol_version="2.3", shell=None, pipelines={}, id="p", host=host)
rpid, pid = "5b7a2d3e-0000-4000-8000-000000000001", "5b7a2d3e-0000-4000-8000-000000000002"

def message(commands, no_input):
    ps = PowerShell.__new__(PowerShell)
    ps.commands = []
    ps.runspace_pool = pool
    add_commands(ps, commands)
    pipeline = Pipeline(is_nested=False, cmds=ps.commands, history=None, redirect_err_to_out=False)
    return CreatePipeline(no_input, ApartmentState(value=ApartmentState.UNKNOWN),
                          RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO), False,
                          HostInfo(host=host), pipeline, False)

out = []
import contextlib
with (_message_cache.caching() if mode == "cached" else contextlib.nullcontext()):
    for commands in cases:
        for no_input in (True, False):
            for _time in range(2 if mode == "cached" else 1):
                out.append(Message(Destination.SERVER, rpid, pid, message(commands, no_input), serializer).pack().hex())
    if mode == "cached":
        out.append([_message_cache.CACHE.hits, _message_cache.CACHE.misses])
json.dump(out, sys.stdout)
"""


def _run(script: str, *args: str, stdin: str = "") -> Any:
    root = str(Path(_message_cache.__file__).absolute().parents[6])
    run = subprocess.run(
        [sys.executable, "-c", script, *args],
        input=stdin,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
    )
    return json.loads(run.stdout)


def test_cached_messages_are_byte_for_byte_what_pypsrp_packs() -> None:
    """Each case packed by pypsrp alone (a fresh interpreter, no adapter installed) and by our
    serializer twice, the second time from the cache: the same bytes every time."""
    cases = _run(CASES_SCRIPT)
    plain = _run(PACK_SCRIPT, "pypsrp", stdin=json.dumps(cases))
    cached = _run(PACK_SCRIPT, "cached", stdin=json.dumps(cases))
    hits, misses = cached.pop()
    assert len(plain) == 2 * len(cases) == 12 and len(cached) == 2 * len(plain)
    assert cached[0::2] == plain  # first packing of each message (a miss)
    assert cached[1::2] == plain  # second packing (from the cache)
    assert (hits, misses) == (len(plain), len(plain))
    definition = bytes.fromhex(plain[0])
    assert b"Invoke-PSRemotingCoreSession_" in definition and definition.count(b"_x000A_") > 100
    assert b'<I64 N="V">1099511627776</I64>' in bytes.fromhex(plain[4])


# -- in this process: keys, secrets, bounds, ids -----------------------------------------------------
HOST = PSHost(None, None, False, "Ansible PSRP Host", None, PSHostUserInterface(), None)


def _message(
    commands: list[dict[str, Any]],
    no_input: bool = True,
    protocol: str = "2.3",
    host: Any = HOST,
) -> Any:
    pool = SimpleNamespace(protocol_version=protocol, shell=None, pipelines={}, id="p", host=host)
    ps: Any = PowerShell.__new__(PowerShell)
    ps.commands = []
    ps.runspace_pool = pool
    add_commands(ps, commands)
    pipeline = Pipeline(is_nested=False, cmds=ps.commands, history=None, redirect_err_to_out=False)
    return CreatePipeline(
        no_input,
        ApartmentState(value=ApartmentState.UNKNOWN),
        RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
        False,
        HostInfo(host=host),
        pipeline,
        False,
    )


def _call(value: Any) -> list[dict[str, Any]]:
    return [{"name": "Set-Thing", "parameters": {"Value": value}}]


def test_the_same_content_built_twice_has_one_key() -> None:
    commands = [{"name": "Get-Service", "parameters": {"Name": ["a", "b"], "Depth": 2}}]
    first, second = message_key(_message(commands)), message_key(_message(commands))
    assert first is not None and first == second and hash(first) == hash(second)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (_call(1), _call(True)),  # equal in Python, I32 and B on the wire
        (_call(1), _call(1.0)),
        (_call(1), _call("1")),
        (_call(0.0), _call(-0.0)),
        (_call(2**31 - 1), _call(2**31)),  # I32, then I64
        (_call([1, 2]), _call({"1": 2})),
        (_call({"a": 1, "b": 2}), _call({"b": 2, "a": 1})),  # hashtable order is sent as given
        (_call("x"), [{"name": "Set-Thing", "parameters": {"Other": "x"}}]),
        (_call("x"), [{"name": "Set-Thing", "arguments": ["x"]}]),
        (_call("x"), [{"name": "Set-Thing", "parameters": {"Value": "x"}, "use_local_scope": True}]),
        (_call("x"), [{"name": "Set-Thing", "parameters": {"Value": "x"}, "is_script": True}]),
        (_call("x"), [*_call("x"), {"name": "Out-Null"}]),
    ],
)
def test_any_difference_in_content_gives_another_key(one: Any, other: Any) -> None:
    first, second = message_key(_message(one)), message_key(_message(other))
    assert first is not None and second is not None and first != second


def test_input_protocol_version_and_host_are_part_of_the_key() -> None:
    commands = _call("x")
    base = message_key(_message(commands))
    assert base != message_key(_message(commands, no_input=False))
    assert base != message_key(_message(commands, protocol="2.2"))  # no MergeInformation then
    assert base != message_key(_message(commands, host=None))


def test_secrets_and_raw_ui_hosts_are_never_cached() -> None:
    secure = [{"name": "Set-Secret", "parameters": {"Value": TaggedValue("SS", "hunter2")}}]
    credential = [{"name": "Set-Secret", "parameters": {"Value": PSCredential(username="u", password="p")}}]
    nested = _call([1, {"inner": TaggedValue("SS", "hunter2")}])
    typed = _call(to_pypsrp_value({"__psrp_type__": "SecureString", "value": "hunter2"}))
    raw_host = PSHost(None, None, False, "h", None, PSHostUserInterface(SimpleNamespace()), None)  # a raw UI
    for message in (_message(secure), _message(credential), _message(nested), _message(typed)):
        assert message_key(message) is None
    assert message_key(_message(_call("x"), host=raw_host)) is None
    cache = MessageCache()
    calls: list[Any] = []
    assert serialized(_message(secure), calls.append, cache) is None
    assert len(cache) == 0 and not calls


def test_a_secret_is_serialized_afresh_each_time_by_our_serializer() -> None:
    """Through the pool's serializer a SecureString message is encrypted anew (fresh IV) and never
    kept: two packings differ and the cache holds nothing more."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    serializer = PSRemotingSerializer()
    serializer.cipher = Cipher(algorithms.AES(os.urandom(32)), modes.CBC(os.urandom(16)))
    before = len(_message_cache.CACHE)
    secure = [{"name": "Set-Secret", "parameters": {"Value": TaggedValue("SS", "hunter2")}}]
    element = serializer.serialize(_message(secure))
    assert isinstance(element, ET.Element)
    assert b"hunter2" not in ET.tostring(element)
    assert len(_message_cache.CACHE) == before


def test_ids_stay_unique_per_message() -> None:
    """The cache holds the XML only: each packed message carries its own pool and pipeline ids
    (MS-PSRP 2.2.1: RPID and PID in the header, little-endian GUIDs)."""
    serializer = PSRemotingSerializer()
    commands = _call("same content")
    packed = []
    for _ in range(3):
        rpid, pid = uuid.uuid4(), uuid.uuid4()
        data = Message(Destination.SERVER, str(rpid), str(pid), _message(commands), serializer).pack()
        assert data[8:24] == rpid.bytes_le and data[24:40] == pid.bytes_le
        packed.append(data)
    assert packed[0][40:] == packed[1][40:] == packed[2][40:]
    assert len({p[:40] for p in packed}) == 3


def test_the_cache_stays_within_its_bounds() -> None:
    cache = MessageCache(max_entries=3, max_bytes=100, max_entry=60)
    for index in range(5):
        cache.put(index, b"x" * 10)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4) == b"x" * 10
    cache.put("big", b"y" * 61)  # above max_entry: never kept
    assert cache.get("big") is None
    cache.put("a", b"a" * 50)
    cache.put("b", b"b" * 50)  # 10 + 50 + 50 > 100: the least recently used go first
    assert cache.get("b") == b"b" * 50 and cache.get("a") == b"a" * 50 and cache.get(4) is None
    assert cache._size <= 100


def test_a_hit_moves_an_entry_to_the_end_of_the_eviction_order() -> None:
    cache = MessageCache(max_entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"
    cache.put("c", b"3")  # evicts b, the least recently used
    assert cache.get("b") is None and cache.get("a") == b"1" and cache.get("c") == b"3"


def test_without_the_packing_layout_the_serializer_does_what_pypsrp_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_message_cache, "_pack_checked", [False])
    assert not packing_accepts_bytes()
    element = PSRemotingSerializer().serialize(_message(_call("x")))
    assert isinstance(element, ET.Element)
    assert ET.tostring(element) == ET.tostring(Serializer().serialize(_message(_call("x"))))


def test_pypsrp_0_9_packs_bytes_as_it_packs_elements() -> None:
    assert packing_accepts_bytes()


def test_only_a_one_to_many_run_caches_and_its_end_empties_the_cache() -> None:
    """A pipeline carries the task's arguments (no_log values among them): outside a one-to-many
    run nothing is cached, and when the last run of the process ends nothing stays cached."""
    serializer = PSRemotingSerializer()
    commands = _call("no_log value 5f3c")
    _message_cache.CACHE.clear()
    assert isinstance(serializer.serialize(_message(commands)), ET.Element)  # no run: pypsrp's path
    assert len(_message_cache.CACHE) == 0
    with _message_cache.caching():
        with _message_cache.caching():  # two runs at once in one broker
            first = serializer.serialize(_message(commands))
            assert serializer.serialize(_message(commands)) == first and isinstance(first, bytes)
            assert len(_message_cache.CACHE) == 1
        assert len(_message_cache.CACHE) == 1  # the other run still uses it
    assert len(_message_cache.CACHE) == 0 and not _message_cache.caching_on()
    assert first == ET.tostring(Serializer().serialize(_message(commands)), encoding="utf-8", method="xml")
