"""pypsrp adapters: each changed behaviour is scoped to the pools we create (no global patching)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import spnego
from pypsrp import wsman as pypsrp_wsman
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.encryption import WinRMEncryption
from pypsrp.exceptions import WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan
from spnego import _ntlm as spnego_ntlm
from spnego._ntlm_raw.crypto import lmowfv1

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _adapters
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._adapters import (
    DeferredXml,
    PSRemotingSerializer,
    ReceiveAhead,
    SendBehind,
    _byte_array,
    _hands_over,
    adapt_pool,
    fast_unwrap,
    install_deferred_text,
    install_namespace_guard,
    install_ntlm_key_cache,
    new_wsman,
    post_send,
    register_namespace_in_place,
    render_send,
)

# pypsrp renders every deserialized element back to text; our serializer defers that until it is read.
NESTED_CLIXML = (
    '<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>'
    '<MS><I32 N="Id">7</I32><S N="Name">svc</S>'
    '<Obj N="Tags" RefId="1"><TN RefId="1"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN>'
    "<LST><S>a</S><S>b</S></LST></Obj>"
    '<Obj N="Inner" RefId="2"><TNRef RefId="0" /><MS><I32 N="X">1</I32>'
    '<Obj N="Unknown" RefId="3"><TN RefId="2"><T>Contoso.Widget</T></TN><ToString>w</ToString></Obj>'
    "</MS></Obj></MS></Obj>"
)


def test_deserializer_renders_element_text_only_when_read() -> None:
    assert install_deferred_text(), "the deferral is installed for this pypsrp"
    obj = PSRemotingSerializer().deserialize(NESTED_CLIXML)
    assert isinstance(obj, GenericComplexObject)
    assert obj.extended_properties["Id"] == 7 and obj.extended_properties["Name"] == "svc"
    assert obj.extended_properties["Tags"] == ["a", "b"]
    inner = obj.extended_properties["Inner"]
    assert inner.extended_properties["X"] == 1
    # A type pypsrp does not know comes back as its XML text, a real str, as without the deferral.
    unknown = inner.extended_properties["Unknown"]
    assert type(unknown) is str
    assert unknown.startswith('<Obj N="Unknown" RefId="3">') and "<T>Contoso.Widget</T>" in unknown
    # ComplexObject._xml still gives the element's XML on demand...
    assert str(inner._xml).startswith('<Obj N="Inner" RefId="2">') and "Contoso.Widget" in str(inner._xml)
    # ...and pypsrp can deserialize it again (it does for command metadata).
    again = PSRemotingSerializer().deserialize(obj._xml)
    assert again.extended_properties["Inner"].extended_properties["X"] == 1


def test_deferred_text_keeps_output_identical_on_a_large_object() -> None:
    # The same document deserialized twice gives equal data: nothing depends on the text.
    items = "".join(f"<S>item{i}</S>" for i in range(200))
    doc = NESTED_CLIXML.replace("<LST><S>a</S><S>b</S></LST>", f"<LST>{items}</LST>")
    first, second = PSRemotingSerializer().deserialize(doc), PSRemotingSerializer().deserialize(doc)
    assert first.extended_properties["Tags"] == [f"item{i}" for i in range(200)]
    assert first.extended_properties["Tags"] == second.extended_properties["Tags"]


def test_lone_surrogates_decode_to_replacement_characters() -> None:
    serializer = PSRemotingSerializer()
    assert serializer._deserialize_string("a_xD800_b") == "a\ufffdb"
    assert serializer._deserialize_string("ok_x000A_") == "ok\n"  # normal escapes unchanged
    assert serializer._deserialize_string("_xD83D__xDE00_") == "\U0001f600"  # a real pair still works


def test_other_pypsrp_users_see_pypsrp_unchanged() -> None:
    """Nothing is patched for code outside our pools: a plain Serializer still renders element text
    eagerly and still refuses a lone surrogate, even after the deferral is installed."""
    install_deferred_text()
    plain = Serializer()
    with pytest.raises(UnicodeDecodeError):
        plain._deserialize_string("a_xD800_b")
    obj = plain.deserialize(NESTED_CLIXML)
    assert type(obj.extended_properties["Inner"]._xml) is str
    ours = PSRemotingSerializer().deserialize(NESTED_CLIXML)
    assert isinstance(ours.extended_properties["Inner"]._xml, DeferredXml)
    assert str(ours.extended_properties["Inner"]._xml) == obj.extended_properties["Inner"]._xml


def test_importing_the_client_patches_nothing() -> None:
    """No pypsrp class or module attribute changes at import (the adapters run per pool): checked
    in a fresh interpreter, where nothing has opened a pool yet."""
    code = (
        "import pypsrp.serializer as m, pypsrp.wsman as w, spnego._ntlm as n, pypsrp.complex_objects as c\n"
        "before = (m.ET, m.to_string, m.Serializer.deserialize, m.Serializer._deserialize_string, w.ET, n.lmowfv1,\n"
        "          c.Pipeline._get_statements)\n"
        "from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _client, _adapters\n"
        "from ansible_collections.psremoting.core.plugins.plugin_utils.transfer import _files\n"
        "after = (m.ET, m.to_string, m.Serializer.deserialize, m.Serializer._deserialize_string, w.ET, n.lmowfv1,\n"
        "         c.Pipeline._get_statements)\n"
        "assert before == after, 'pypsrp was patched at import'\n"
    )
    root = str(Path(_adapters.__file__).absolute().parents[6])
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": root})


def test_adapt_pool_gives_the_pool_and_its_fragmenter_one_serializer() -> None:
    fragmenter = types.SimpleNamespace(serializer=Serializer())
    pool: Any = types.SimpleNamespace(_serializer=fragmenter.serializer, _fragmenter=fragmenter)
    adapt_pool(pool)
    assert isinstance(pool._serializer, PSRemotingSerializer)
    assert pool._fragmenter.serializer is pool._serializer


# -- one-command pipelines serialized without pypsrp's deep copy ----------------------------------
# Prints the CreatePipeline XML of several pipelines, as pypsrp builds them from our typed requests
# (psrp._client.add_commands): one command with nested arguments (invoke_command's function call),
# a two-command statement, two statements. argv[1] == "skip": with the adapter installed first.
_PIPELINES_SCRIPT = """
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from pypsrp.messages import CreatePipeline
from pypsrp.powershell import PowerShell
from pypsrp.serializer import Serializer
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _adapters
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import add_commands

if sys.argv[1] == "skip":
    assert _adapters.install_single_command_copy_skip()
pool = SimpleNamespace(protocol_version="2.3", shell=None, pipelines={}, id="p")
call = {"name": "Invoke-X", "parameters": {
    "Commands": [{"Name": "Get-Service", "IsScript": False, "Parameters": [{"Name": "Name", "Value": "W*"}],
                  "Arguments": [1, 2.5, 2**40, None, True], "EndOfStatement": True}],
    "InputObjects": [{"a": [1, {"b": "x"}]}, "text"], "Temporary": True}}
requests = [
    [call],
    [{"name": "Get-Process", "parameters": {"Name": "a"}}, {"name": "Select-Object", "arguments": [1, 1]}],
    [dict(call, end_of_statement=True), {"name": "$a = 1; $a", "is_script": True, "use_local_scope": False}],
]
for commands in requests:
    for _again in range(2):  # a second serialization of the same pipeline (a resend) is the same too
        ps = PowerShell.__new__(PowerShell)
        ps.commands = []
        ps.runspace_pool = pool
        add_commands(ps, commands)
        pipeline = ps.commands and __import__("pypsrp.complex_objects", fromlist=["Pipeline"]).Pipeline(
            is_nested=False, cmds=ps.commands, history=None, redirect_err_to_out=False)
        message = CreatePipeline(pipeline=pipeline)
        print(ET.tostring(Serializer().serialize(message)).decode())
"""


def _pipelines_xml(mode: str) -> str:
    root = str(Path(_adapters.__file__).absolute().parents[6])
    run = subprocess.run(
        [sys.executable, "-c", _PIPELINES_SCRIPT, mode],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
    )
    return run.stdout


def test_one_command_pipelines_serialize_byte_for_byte_as_pypsrp_without_the_copy() -> None:
    plain, skipped = _pipelines_xml("plain"), _pipelines_xml("skip")
    assert plain.count("<Obj") > 30 and plain.count("\n") == 6
    assert 'N="Cmd">Invoke-X<' in plain and "<I64>1099511627776</I64>" in plain
    assert skipped == plain


def test_the_copy_skip_leaves_multi_command_pipelines_to_pypsrp(monkeypatch: pytest.MonkeyPatch) -> None:
    from pypsrp.complex_objects import Command, Pipeline

    assert _adapters.install_single_command_copy_skip()
    one = Command(cmd="Get-Date")
    assert Pipeline(cmds=[one])._get_statements() == [[one]] and one.end_of_statement
    two = [Command(cmd="a"), Command(cmd="b")]
    statements = Pipeline(cmds=two)._get_statements()
    assert len(statements) == 1 and len(statements[0]) == 2
    assert statements[0][0] is not two[0] and statements[0][0].cmd == "a"  # pypsrp's copies


# -- RobustReceive (MS-WSMV 3.1.4.1.39) ------------------------------------------------------------
RECEIVE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
SOAP = "http://www.w3.org/2003/05/soap-envelope"


class _FakeWSMan:
    """pypsrp's WSMan.invoke/_create_header shape: invoke builds the header, then 'sends' it."""

    def __init__(self, answers: list[Any], echo: bool) -> None:
        self.answers = answers  # each: an exception to raise, or None for an answer
        self.echo = echo
        self.sent: list[tuple[str | None, str | None, int | None]] = []

    def _create_header(self, action: str, *args: Any) -> tuple[str, Any]:
        import xml.etree.ElementTree as ET

        return "MSG", ET.Element(f"{{{SOAP}}}Header")

    def invoke(self, action: str, *args: Any, retries_on_read_timeout: int = 0) -> Any:
        import xml.etree.ElementTree as ET

        _, header = self._create_header(action)
        op = header.find(f"{{{WSMV}}}OperationID")
        self.sent.append(
            (
                None if op is None else op.text,
                None if op is None else op.get(f"{{{SOAP}}}mustUnderstand"),
                retries_on_read_timeout,
            )
        )
        outcome = self.answers.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        root = ET.Element(f"{{{SOAP}}}Envelope")
        head = ET.SubElement(root, f"{{{SOAP}}}Header")
        if self.echo and op is not None:
            ET.SubElement(head, f"{{{WSMV}}}OperationID").text = op.text
        return root


def test_robust_receive_retransmits_the_operation_whose_answer_was_lost() -> None:
    wsman = _FakeWSMan([None, ConnectionResetError("cut"), None, None], echo=True)
    robust = _adapters.robust_receive(wsman)
    wsman.invoke(RECEIVE)
    with pytest.raises(OSError):
        wsman.invoke(RECEIVE)
    wsman.invoke(RECEIVE)
    wsman.invoke(RECEIVE)
    (op1, mu1, r1), (op2, mu2, _), (op3, mu3, _), (op4, mu4, _) = wsman.sent
    assert r1 == 0  # pypsrp's own resend (without the retransmission mark) is off
    assert (mu1, mu2, mu3, mu4) == ("false", "false", "true", "false")
    assert op3 == op2 and len({op1, op2, op4}) == 3  # the lost operation, asked for again
    assert (robust.retransmitted, robust.lost_answers, robust.server_robust) == (1, 0, True)


def test_robust_receive_counts_a_loss_when_the_server_keeps_nothing() -> None:
    """A server that never echoes OperationID (no robust connections) cannot answer a lost
    Receive again: the loss is counted, never silent."""
    wsman = _FakeWSMan([ConnectionResetError("cut"), None], echo=False)
    robust = _adapters.robust_receive(wsman)
    with pytest.raises(OSError):
        wsman.invoke(RECEIVE)
    wsman.invoke(RECEIVE)
    assert (robust.retransmitted, robust.lost_answers, robust.server_robust) == (1, 1, False)


def test_robust_receive_a_fault_answer_loses_nothing_and_other_actions_are_untouched() -> None:
    wsman = _FakeWSMan([RuntimeError("WSMan fault"), None, None], echo=True)
    robust = _adapters.robust_receive(wsman)
    with pytest.raises(RuntimeError):
        wsman.invoke(RECEIVE)
    wsman.invoke("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command")
    wsman.invoke(RECEIVE)
    assert [mu for _, mu, _ in wsman.sent] == ["false", None, "false"]
    assert robust.retransmitted == 0


# --- Disconnect with IdleTimeOut / BufferMode; the Create answer's MaxIdleTimeOut ---

RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"


class _DisconnectingWSMan:
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def disconnect(self, resource_uri: str, body: Any, selector_set: Any = None) -> None:
        self.bodies.append((resource_uri, body, selector_set))


def _pool(wsman: Any) -> Any:
    pipeline = types.SimpleNamespace(state=None)
    shell = types.SimpleNamespace(id="ABC", resource_uri="http://schemas.microsoft.com/powershell/x")
    return types.SimpleNamespace(connection=wsman, shell=shell, pipelines={"P": pipeline}, state=None)


def test_disconnect_sends_idle_timeout_and_buffer_mode_in_the_body() -> None:
    """[MS-PSRP] 3.1.5.3.16: the Disconnect body's IdleTimeout and BufferMode (Drop / Block)."""
    from pypsrp.powershell import PSInvocationState, RunspacePoolState

    wsman = _DisconnectingWSMan()
    pool = _pool(wsman)
    _adapters.disconnect(pool, 3600, "Drop")
    ((uri, body, selectors),) = wsman.bodies
    assert uri == pool.shell.resource_uri and body.tag == f"{{{RSP}}}Disconnect"
    assert [(c.tag, c.text) for c in body] == [
        (f"{{{RSP}}}IdleTimeOut", "PT3600.000S"),
        (f"{{{RSP}}}BufferMode", "Drop"),
    ]
    assert "ABC" in ET.tostring(selectors.pack()).decode()
    assert pool.state == RunspacePoolState.DISCONNECTED
    assert pool.pipelines["P"].state == PSInvocationState.DISCONNECTED
    with pytest.raises(ValueError):
        _adapters.disconnect(_pool(wsman), None, "Keep")


def test_shell_limits_keeps_the_create_answer_s_max_idle_timeout() -> None:
    body = ET.fromstring(
        f'<s:Body xmlns:s="{SOAP}" xmlns:rsp="{RSP}"><rsp:Shell><rsp:ShellId>X</rsp:ShellId>'
        "<rsp:MaxIdleTimeOut>PT43200.000S</rsp:MaxIdleTimeOut></rsp:Shell></s:Body>"
    )
    wsman = types.SimpleNamespace(create=lambda *a, **k: body)
    limits = _adapters.shell_limits(wsman)
    assert limits.max_idle_timeout is None
    assert wsman.create("uri", None) is body
    assert limits.max_idle_timeout == 43200.0
    assert _adapters.parse_duration("PT2147483.647S") == 2147483.647
    assert _adapters.parse_duration("P1D") is None and _adapters.duration(60) == "PT60.000S"


# --- WSMan construction vs. ElementTree's process-wide prefix map (broker fan-out threads) ---

XML_URI = "http://www.w3.org/XML/1998/namespace"
WSMAN_KWARGS: dict[str, Any] = {"server": "h", "auth": "basic", "username": "u", "password": "p"}


def _request_xml(wsman: Any) -> str:
    """A real pypsrp request envelope (its header carries xml:lang), rendered as pypsrp sends it."""
    _, header = wsman._create_header("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", "wmi/x")
    envelope = ET.Element("{http://www.w3.org/2003/05/soap-envelope}Envelope")
    envelope.append(header)
    return ET.tostring(envelope, encoding="utf-8", method="xml").decode("utf-8")


class _SerializeOnEveryChange(dict):  # type: ignore[type-arg]
    """ElementTree's prefix map that renders a request at each moment an entry is removed: what
    another thread sending at that instant would send. Deterministic stand-in for the race."""

    def __init__(self, source: dict[str, str], wsman: Any) -> None:
        super().__init__(source)
        self.wsman = wsman
        self.sent: list[str] = []

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.sent.append(_request_xml(self.wsman))


def _watch_namespace_map(monkeypatch: pytest.MonkeyPatch) -> _SerializeOnEveryChange:
    sender = WSMan(**WSMAN_KWARGS)  # registers pypsrp's prefixes (whatever else ran before)
    watching = _SerializeOnEveryChange(ET._namespace_map, sender)  # type: ignore[attr-defined]
    monkeypatch.setattr(ET, "_namespace_map", watching)
    return watching


def test_elementtree_register_namespace_has_the_window_windows_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The premise: ElementTree's own register_namespace (what pypsrp's WSMan() calls for each of
    its prefixes) drops the mapping before adding it again; a request rendered then binds the xml
    namespace to an invented prefix, which Windows refuses ("prefix must not be bound to one of the
    reserved namespace names"; XML Namespaces 1.0 section 3, reserved prefixes)."""
    watching = _watch_namespace_map(monkeypatch)
    ET.register_namespace("xml", XML_URI)
    assert watching.sent, "ElementTree removed the mapping before re-adding it"
    assert any(f'="{XML_URI}"' in sent and "xmlns:ns" in sent for sent in watching.sent)
    assert watching.get(XML_URI) == "xml"


def test_new_wsman_never_leaves_a_namespace_without_its_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a WSMan while others send: with the guard, no mapping pypsrp uses ever disappears,
    so every request rendered meanwhile keeps xml:lang and pypsrp's short prefixes."""
    assert install_namespace_guard(), "the guard is installed for this pypsrp"
    watching = _watch_namespace_map(monkeypatch)
    wsman = new_wsman(**WSMAN_KWARGS)
    assert watching.sent == [], "no mapping was removed while building a WSMan"
    sent = _request_xml(wsman)
    assert "xml:lang=" in sent and "xmlns:ns" not in sent and sent.startswith("<s:Envelope")


def test_register_namespace_in_place_gives_elementtree_s_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same map as ET.register_namespace: the URI takes the prefix, whoever held it loses it; bad
    prefixes are refused the same way."""
    monkeypatch.setattr(ET, "_namespace_map", {"urn:a": "p", "urn:b": "q"})
    register_namespace_in_place("p", "urn:c")
    assert ET._namespace_map == {"urn:c": "p", "urn:b": "q"}  # type: ignore[attr-defined]
    register_namespace_in_place("r", "urn:b")
    assert ET._namespace_map == {"urn:c": "p", "urn:b": "r"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="reserved"):
        register_namespace_in_place("ns3", "urn:d")


def test_threads_building_wsman_while_others_send_keep_every_request_valid() -> None:
    """The broker's situation with real threads: sessions being opened (WSMan built) while other
    sessions render requests. Every rendered request must keep the xml prefix."""
    install_namespace_guard()
    sender = new_wsman(**WSMAN_KWARGS)
    stop = threading.Event()
    bad: list[str] = []

    def build() -> None:
        for _ in range(150):
            new_wsman(**WSMAN_KWARGS)

    def send() -> None:
        while not stop.is_set():
            sent = _request_xml(sender)
            if "xmlns:ns" in sent:
                bad.append(sent)

    senders = [threading.Thread(target=send) for _ in range(3)]
    builders = [threading.Thread(target=build) for _ in range(3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can: widens the race
    try:
        for thread in senders + builders:
            thread.start()
        for thread in builders:
            thread.join()
    finally:
        stop.set()
        sys.setswitchinterval(interval)
        for thread in senders:
            thread.join()
    assert bad == []


# --- NTLM: the password's LM key, derived once per process ---


def test_lm_key_is_derived_once_per_password_and_equals_pyspnego_s() -> None:
    calls: list[str] = []

    def derive(password: str) -> bytes:
        calls.append("x")
        return lmowfv1(password)

    cache = _adapters._KeyCache(derive)
    assert cache("Secr3t!") == lmowfv1("Secr3t!") and cache("Secr3t!") == lmowfv1("Secr3t!")
    assert cache("other") == lmowfv1("other")
    assert len(calls) == 2, "one derivation per distinct password"
    # Kept under a salted digest: the password itself is nowhere in the cache.
    assert all(b"Secr3t!" not in key and len(key) == 32 for key in cache.keys)


def test_lm_key_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_adapters, "NTLM_KEY_CACHE", 3)
    cache = _adapters._KeyCache(lmowfv1)
    for index in range(10):
        cache(f"pw{index}")
    assert len(cache.keys) == 3


def test_ntlm_authentication_still_completes_with_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full NTLM exchange (pyspnego client against pyspnego server) after the cache is in place,
    twice with the same password: what every new broker connection does."""
    assert install_ntlm_key_cache(), "the cache is installed for this pyspnego"
    assert isinstance(spnego_ntlm.lmowfv1, _adapters._KeyCache)
    users = tmp_path / "ntlm-users"
    users.write_text("WINHOST:vagrant:Vagrant!1\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    for _ in range(2):
        client = spnego.client("WINHOST\\vagrant", "Vagrant!1", protocol="ntlm")
        server = spnego.server(protocol="ntlm")
        challenge = server.step(client.step())
        server.step(client.step(challenge))
        assert client.complete and server.complete
        assert server.unwrap(client.wrap(b"ping").data).data == b"ping"


class _HostShell:
    """A shell whose ``send`` waits for ``gate`` (the host handling a Send) and records what it
    sent; ``fail_at``: that send raises a dropped connection."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.sent: list[tuple[str, bytes, str | None, bool | None]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_at = fail_at

    def send(self, stream: str, data: bytes, command_id: str | None = None, end: bool | None = None) -> None:
        assert self.gate.wait(30)
        if self.fail_at is not None and len(self.sent) == self.fail_at:
            raise ConnectionResetError(104, "Connection reset by peer")
        self.sent.append((stream, data, command_id, end))


def test_send_behind_returns_before_the_host_answered_and_sends_in_order() -> None:
    """With the host still busy with the first Send, the caller hands over the next fragments
    (``AHEAD`` of them) and goes on; when the host answers, all of them go out in order."""
    shell = _HostShell()
    original = shell.send
    shell.gate.clear()
    fragments = [bytes([i]) * 10 for i in range(1 + SendBehind.AHEAD)]
    with SendBehind(shell):
        assert shell.send != original
        for fragment in fragments:
            shell.send("stdin", fragment, command_id="C1")
        assert shell.sent == []  # every call returned while the first Send was in flight
        shell.gate.set()
    assert shell.send == original
    assert [item[1] for item in shell.sent] == fragments and {item[2] for item in shell.sent} == {"C1"}


def test_send_behind_keeps_the_order_of_many_fragments() -> None:
    shell = _HostShell()
    fragments = [bytes([i]) * 1000 for i in range(200)]
    with SendBehind(shell):
        for i, fragment in enumerate(fragments):
            shell.send("stdin", fragment, command_id="C1", end=i == len(fragments) - 1)
    assert [item[1] for item in shell.sent] == fragments and shell.sent[-1][3] is True


def test_send_behind_raises_the_failed_send_and_sends_nothing_after_it() -> None:
    shell = _HostShell(fail_at=3)
    with pytest.raises(ConnectionResetError), SendBehind(shell):
        for i in range(20):
            shell.send("stdin", bytes([i]), command_id="C1")
    assert [item[1] for item in shell.sent] == [b"\x00", b"\x01", b"\x02"]


def test_send_behind_stops_sending_when_the_caller_fails() -> None:
    """The caller fails (reading the file) while the host still handles the first Send: the
    fragment queued behind it is never sent."""
    shell = _HostShell()
    shell.gate.clear()
    behind = SendBehind(shell)

    def release_once_stopped() -> None:  # the host answers only after the failure is known
        while behind._error is None:
            threading.Event().wait(0.01)
        shell.gate.set()

    releaser = threading.Thread(target=release_once_stopped)
    releaser.start()
    with pytest.raises(ValueError, match="reading the file failed"), behind:
        shell.send("stdin", b"first", command_id="C1")
        shell.send("stdin", b"second", command_id="C1")
        raise ValueError("reading the file failed")
    releaser.join()
    assert [item[1] for item in shell.sent] in ([], [b"first"])


# -- ReceiveAhead ----------------------------------------------------------------------------------
_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
_OUTPUT, _STATE, _HOST_CALL = 0x00041004, 0x00041006, 0x00041100


def _fragment(
    object_id: int, kind: int | None, data: bytes, *, start: bool = True, end: bool = True
) -> bytes:
    """One PSRP fragment ([MS-PSRP] 2.2.4) holding a message ([MS-PSRP] 2.2.1: destination,
    message type, RPID, PID, data) when ``kind`` is given, else ``data`` as the blob."""
    blob = data if kind is None else (2).to_bytes(4, "little") + kind.to_bytes(4, "little") + bytes(32) + data
    flags = (0x1 if start else 0) | (0x2 if end else 0)
    header = object_id.to_bytes(8, "big") + (0 if start else 1).to_bytes(8, "big") + bytes([flags])
    return header + len(blob).to_bytes(4, "big") + blob


def test_the_receiver_stops_at_the_pipelines_state_or_a_host_call_not_at_output() -> None:
    output = _fragment(1, _OUTPUT, b"<BA>AAAA</BA>")
    assert not _hands_over(output + _fragment(2, _OUTPUT, b"<S>x</S>"))
    assert _hands_over(output + _fragment(3, _STATE, b"<Obj/>"))
    assert _hands_over(_fragment(4, _HOST_CALL, b"<Obj/>") + output)
    # a later fragment's blob that happens to hold a state's type at the same place is data
    looks_like_state = (2).to_bytes(4, "little") + _STATE.to_bytes(4, "little") + bytes(40)
    assert not _hands_over(output + _fragment(5, None, looks_like_state, start=False))
    assert not _hands_over(b"")


class _AnswersPool:
    """A pool whose shell answers Receives from ``answers`` (a stream, or an exception to raise)
    and counts them; ``_parse_responses`` turns a stream into one output per byte."""

    def __init__(self, answers: list[tuple[str, bytes] | BaseException]) -> None:
        self.answers = list(answers)
        self.receives = 0
        self.gate = threading.Event()
        self.gate.set()
        self.shell = types.SimpleNamespace(receive=self._receive)

    def _receive(self, stream: str, command_id: str | None = None) -> tuple[str, None, dict[str, bytes]]:
        assert stream == "stdout" and command_id == "CMD"
        self.gate.wait(10)
        self.receives += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer[0], None, {"stdout": answer[1]}

    def _parse_responses(self, data: bytes, pipeline: Any) -> list[tuple[int, Any]]:
        return [(_OUTPUT, types.SimpleNamespace(data=types.SimpleNamespace(data=b))) for b in data]


def _pipeline(pool: _AnswersPool) -> Any:
    return types.SimpleNamespace(runspace_pool=pool, _command_id="CMD", output=[])


def test_receive_ahead_hands_over_every_answer_in_order_and_stops_after_done() -> None:
    pool = _AnswersPool([(_RUNNING, b"ab"), (_RUNNING, b"c"), (_DONE, b"d")])
    ps = _pipeline(pool)
    with ReceiveAhead(ps) as ahead:
        for _ in range(3):
            ahead.poll()
    assert ps.output == [97, 98, 99, 100]
    assert pool.receives == 3  # nothing is received after the command is done


def test_receive_ahead_keeps_at_most_depth_answers_waiting() -> None:
    pool = _AnswersPool([(_RUNNING, b"x")] * 20 + [(_DONE, b"y")])
    ps = _pipeline(pool)
    with ReceiveAhead(ps) as ahead:
        ahead.poll()
        threading.Event().wait(0.3)  # the caller is slow: the receiver runs ahead, then waits
        # the answers queued, plus one taken by poll and one held by the receiver
        assert pool.receives <= ReceiveAhead.DEPTH + 2
        for _ in range(20):
            ahead.poll()
    assert len(ps.output) == 21 and pool.receives == 21


def test_receive_ahead_raises_a_failed_receive_in_the_caller_and_goes_on_after_it() -> None:
    """A network error reaches the caller (PSRPSession.wait reconnects); the next poll starts a
    new receiver, which receives again."""
    pool = _AnswersPool([(_RUNNING, b"a"), ConnectionResetError(104, "reset"), (_DONE, b"b")])
    ps = _pipeline(pool)
    with ReceiveAhead(ps) as ahead:
        ahead.poll()
        with pytest.raises(ConnectionResetError):
            ahead.poll()
        ahead.poll()
    assert ps.output == [97, 98] and pool.receives == 3


def test_receive_ahead_receives_again_after_an_operation_timeout() -> None:
    pool = _AnswersPool([WSManFaultError(2150858793, "", "timed out", "", "", ""), (_DONE, b"z")])
    ps = _pipeline(pool)
    with ReceiveAhead(ps) as ahead:
        ahead.poll()  # the empty answer of the timed-out Receive
        ahead.poll()
    assert ps.output == [122] and pool.receives == 2


def test_leaving_receive_ahead_waits_for_the_receive_in_flight() -> None:
    """The caller fails while a Receive is in flight: leaving the block returns only once that
    Receive came back (nothing else may use the connection meanwhile), and sends no other."""
    pool = _AnswersPool([(_RUNNING, b"a")] * 5)
    ps = _pipeline(pool)
    ahead = ReceiveAhead(ps)
    with pytest.raises(RuntimeError), ahead:
        ahead.poll()
        pool.gate.clear()  # the host holds the next answer
        threading.Timer(0.2, pool.gate.set).start()
        raise RuntimeError("the caller failed")
    assert ahead._thread is not None and not ahead._thread.is_alive()
    assert pool.receives <= 1 + ReceiveAhead.DEPTH + 1


def test_the_receiver_also_stops_after_the_answer_that_ends_a_split_host_call() -> None:
    """A host call whose fragments straddle two answers: only the first says its type. The
    caller answers the call (a Send on the same connection) once it is whole, after the second
    answer, so the receiver must not send a Receive after that answer either."""
    call = (2).to_bytes(4, "little") + _HOST_CALL.to_bytes(4, "little") + bytes(32) + b"<Obj/>" * 10
    first = _fragment(7, None, call[:30], end=False)
    second = _fragment(7, None, call[30:], start=False)
    pending: set[bytes] = set()
    assert _hands_over(first, pending) and pending
    assert _hands_over(_fragment(8, _OUTPUT, b"<S>x</S>") + second, pending) and not pending
    assert not _hands_over(_fragment(9, _OUTPUT, b"<S>y</S>"), pending)

    pool = _AnswersPool([(_RUNNING, first), (_RUNNING, second), (_RUNNING, b"o"), (_DONE, b"d")])
    ps = _pipeline(pool)
    with ReceiveAhead(ps) as ahead:
        ahead.poll()
        threading.Event().wait(0.3)
        assert pool.receives == 1
        ahead.poll()  # the caller would answer the host call now
        threading.Event().wait(0.3)
        assert pool.receives == 2
        ahead.poll()
        ahead.poll()
    assert pool.receives == 4


def test_the_next_poll_after_a_hand_over_never_waits_on_the_ended_receiver() -> None:
    """The receiver that handed over its last answer may still be running (ending) when the
    caller polls again: the poll waits for it to end and starts a new one."""

    class LingeringReceiver(ReceiveAhead):
        def _run(self) -> None:
            super()._run()
            threading.Event().wait(0.2)  # still alive after its last answer was taken

    state = (2).to_bytes(4, "little") + _HOST_CALL.to_bytes(4, "little") + bytes(32)
    pool = _AnswersPool([(_RUNNING, _fragment(1, None, state)), (_DONE, b"d")])
    ps = _pipeline(pool)
    ahead = LingeringReceiver(ps)

    def polls() -> None:
        with ahead:
            ahead.poll()
            ahead.poll()

    runner = threading.Thread(target=polls, daemon=True)
    runner.start()
    runner.join(10)
    assert not runner.is_alive() and pool.receives == 2


# -- byte arrays and encrypted answers -------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 2, 3, 1000, 300_000])
def test_a_byte_array_output_decodes_to_the_bytes_pypsrp_gives(size: int) -> None:
    raw = os.urandom(size)
    clixml = "<BA>" + base64.b64encode(raw).decode() + "</BA>"
    ours = PSRemotingSerializer().deserialize(clixml)
    assert ours == raw and type(ours) is bytes
    if size:  # pypsrp fails on an empty <BA></BA> (no text); a byte[0] is b"" here
        assert Serializer().deserialize(clixml) == raw


@pytest.mark.parametrize(
    "clixml",
    [
        '<Obj RefId="0"><MS><BA N="Data">AAEC</BA></MS></Obj>',
        "<S>&lt;BA&gt;AAEC&lt;/BA&gt;</S>",
        "<BA>AA&#x45;C</BA>",
        "<S>AAEC</S>",
    ],
)
def test_anything_but_a_plain_byte_array_takes_pypsrps_path(clixml: str) -> None:
    assert _byte_array(clixml) is None
    ours = PSRemotingSerializer().deserialize(clixml)
    theirs = Serializer().deserialize(clixml)
    assert type(ours) is type(theirs) and str(ours) == str(theirs)


class _XorContext:
    """A message-encryption context: 16-byte signature, data xor 0x5A (pypsrp's framing is
    what is tested, not the cipher)."""

    def __init__(self) -> None:
        self.unwrapped = 0

    def wrap_winrm(self, data: bytes) -> tuple[bytes, bytes, int]:
        return b"S" * 16, bytes(b ^ 0x5A for b in data), 0

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
        assert header == b"S" * 16
        self.unwrapped += 1
        return bytes(b ^ 0x5A for b in data)


@pytest.mark.parametrize("size", [0, 10, 70_000])
def test_fast_unwrap_gives_what_pypsrps_unwrap_gives(size: int) -> None:
    message = os.urandom(size) + b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n"
    ours, theirs = WinRMEncryption(_XorContext(), WinRMEncryption.SPNEGO), WinRMEncryption(_XorContext(), "x")
    _content_type, body = theirs.wrap_message(message)
    expected = theirs.unwrap_message(body, "Encrypted Boundary")
    fast_unwrap(ours)
    fast_unwrap(ours)  # idempotent
    assert ours.unwrap_message(body, "Encrypted Boundary") == expected == message
    # a body whose declared length is not what decrypts is refused, as by pypsrp
    bad = body.replace(b"Length=%d" % len(message), b"Length=%d" % (len(message) + 1))
    with pytest.raises(WinRMError, match="does not match the expected length"):
        ours.unwrap_message(bad, "Encrypted Boundary")


def test_fast_unwrap_leaves_other_layouts_to_pypsrp() -> None:
    """CredSSP's several parts and an answer with a space after ``--`` (Exchange) are parsed
    by pypsrp's own code."""
    message = os.urandom(40_000)
    credssp = WinRMEncryption(_XorContext(), WinRMEncryption.CREDSSP)
    _content_type, parts = credssp.wrap_message(message)
    assert parts.count(b"--Encrypted Boundary\r\n") > 2
    fast_unwrap(credssp)
    assert credssp.unwrap_message(parts, "Encrypted Boundary") == message
    spaced = WinRMEncryption(_XorContext(), WinRMEncryption.SPNEGO)
    _content_type, body = spaced.wrap_message(message)
    body = body.replace(b"--Encrypted Boundary", b"-- Encrypted Boundary")
    fast_unwrap(spaced)
    assert spaced.unwrap_message(body, "Encrypted Boundary") == message


# -- rendered Sends --------------------------------------------------------------------------------
_ANSWER = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>'
    "<a:RelatesTo>{relates}</a:RelatesTo></s:Header><s:Body><SendResponse/></s:Body></s:Envelope>"
)


class _Wire:
    """A transport: records each envelope sent and answers with RelatesTo the MessageID it
    carried (or ``relates``), or raises ``error``."""

    endpoint = "http://host.example:5985/wsman"

    def __init__(self, relates: str | None = None, error: BaseException | None = None) -> None:
        self.sent: list[bytes] = []
        self.relates = relates
        self.error = error

    def send(self, message: bytes, **kwargs: Any) -> bytes:
        assert kwargs == {"retries_on_read_timeout": 0, "timeout": None}
        self.sent.append(message)
        if self.error is not None:
            raise self.error
        found = ET.fromstring(message).find(
            "{http://www.w3.org/2003/05/soap-envelope}Header/{http://schemas.xmlsoap.org/ws/2004/08/addressing}MessageID"
        )
        assert found is not None
        return _ANSWER.format(relates=self.relates or found.text).encode()


def _winrs(wire: _Wire) -> Any:
    from pypsrp.shell import WinRS
    from pypsrp.wsman import SelectorSet

    wsman = new_wsman(server="host.example", username="u", password="p", ssl=False, auth="ntlm")
    wsman.transport = wire
    shell = WinRS(wsman, resource_uri="http://schemas.microsoft.com/powershell/Microsoft.PowerShell")
    shell._selector_set = SelectorSet()
    shell._selector_set.add_option("ShellId", "9A1D3F9B-5C5E-4C1E-8A59-0D5B6C4F2E11")
    return shell


@pytest.mark.parametrize("end", [None, True, False])
def test_a_rendered_send_is_byte_for_byte_what_pypsrp_sends(
    monkeypatch: pytest.MonkeyPatch, end: Any
) -> None:
    import uuid

    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=1))  # the same MessageID for both
    data = os.urandom(70_000)
    theirs = _winrs(_Wire())
    theirs.send("stdin", data, command_id="C1", end=end)
    ours = _winrs(_Wire())
    message_id, envelope = render_send(ours, "stdin", data, "C1", end)
    assert envelope == theirs.wsman.transport.sent[0]
    assert message_id == "uuid:00000000-0000-0000-0000-000000000001"
    post_send(ours, message_id, envelope)
    assert ours.wsman.transport.sent == [envelope]


def test_a_rendered_send_is_pypsrps_even_with_its_data_marker_in_the_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """render_send serializes the envelope around a marker that the base64 data replaces: a
    header that holds the same text (here the endpoint's name) is left as it is."""
    import uuid

    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _adapters

    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=2))
    data = os.urandom(5000)
    shells = [_winrs(_Wire()), _winrs(_Wire())]
    for shell in shells:
        shell.resource_uri += "/" + _adapters._SEND_MARK
    shells[0].send("stdin", data, command_id="C1")
    _message_id, envelope = render_send(shells[1], "stdin", data, "C1", None)
    assert envelope == shells[0].wsman.transport.sent[0]
    assert envelope.count(_adapters._SEND_MARK_BYTES) == 1


def test_post_send_checks_the_answer_as_pypsrp_does() -> None:
    shell = _winrs(_Wire(relates="uuid:SOMETHING-ELSE"))
    with pytest.raises(WinRMError, match="does not match"):
        post_send(shell, *render_send(shell, "stdin", b"x", "C1", None))
    fault = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Body><s:Fault><s:Code>'
        "<s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>"
        '<s:Reason><s:Text xml:lang="en-US">The request was refused</s:Text></s:Reason>'
        "</s:Fault></s:Body></s:Envelope>"
    )
    shell = _winrs(_Wire(error=WinRMTransportError("http", 500, fault)))
    with pytest.raises(WSManFaultError, match="The request was refused"):
        post_send(shell, *render_send(shell, "stdin", b"x", "C1", None))
    shell = _winrs(_Wire(error=WinRMTransportError("http", 503, "busy")))
    with pytest.raises(WinRMTransportError):
        post_send(shell, *render_send(shell, "stdin", b"x", "C1", None))


def test_send_behind_renders_in_the_callers_thread_and_posts_in_order() -> None:
    """With a pypsrp shell, the caller's thread renders each Send and the sender thread only
    posts it: the envelopes go out in order, each with the fragment it was given."""
    shell = _winrs(_Wire())
    fragments = [bytes([i]) * 3000 for i in range(12)]
    rendered_in: set[str] = set()
    with SendBehind(shell):
        for i, fragment in enumerate(fragments):
            shell.send("stdin", fragment, command_id="C1", end=i == len(fragments) - 1)
            rendered_in.add(threading.current_thread().name)
    bodies = [
        ET.fromstring(m).find(".//{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}Stream")
        for m in shell.wsman.transport.sent
    ]
    assert [base64.b64decode(b.text or "") for b in bodies if b is not None] == fragments
    assert bodies[-1] is not None and bodies[-1].get("End") == "True"
    assert rendered_in == {threading.current_thread().name}


# -- answers with large streams ----------------------------------------------------------------------
_ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header><a:RelatesTo>uuid:1</a:RelatesTo>'
    "</s:Header><s:Body><rsp:ReceiveResponse>{streams}"
    '<rsp:CommandState CommandId="C1" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/'
    'CommandState/Running"/></rsp:ReceiveResponse></s:Body></s:Envelope>'
)


def _answer(*contents: str, prefix: str = "rsp") -> bytes:
    streams = "".join(
        f'<{prefix}:Stream Name="stdout" CommandId="C1">{content}</{prefix}:Stream>' for content in contents
    )
    return _ENVELOPE.format(streams=streams).encode()


def _same_tree(text: bytes) -> None:
    ours, theirs = _adapters.fromstring_streams(text), ET.fromstring(text)
    assert ET.tostring(ours) == ET.tostring(theirs)
    assert [(e.tag, e.attrib, e.text, e.tail) for e in ours.iter()] == [
        (e.tag, e.attrib, e.text, e.tail) for e in theirs.iter()
    ]


def test_a_large_receive_answer_parses_to_elementtree_s_tree_without_expat_reading_the_base64(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two streams of 300 KB base64 and an empty one: the same element tree as ET.fromstring, and
    expat only ever sees the envelope around the streams."""
    big = [base64.b64encode(os.urandom(225_000)).decode() for _ in range(2)]
    text = _answer(big[0], "", big[1])
    _same_tree(text)
    parsed: list[int] = []
    real = _adapters._parse
    monkeypatch.setattr(_adapters, "_parse", lambda data: parsed.append(len(data)) or real(data))
    root = _adapters.fromstring_streams(text)
    assert parsed and max(parsed) < 2000
    streams = root.findall(".//{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}Stream")
    assert [s.text for s in streams] == [big[0], None, big[1]]


@pytest.mark.parametrize(
    "text",
    [
        _answer("A" * 70_000 + "&#x41;"),  # a character reference: expat resolves it
        _answer("A" * 70_000 + "\r\nB"),  # expat turns CR LF into LF
        _answer("A" * 70_000 + "<![CDATA[x]]>"),
        _answer("A" * 70_000 + "<!-- c -->B"),
        _answer("A" * 70_000, prefix="s"),  # a Stream of another namespace
        _answer("A" * 70_000).replace(
            b"<rsp:ReceiveResponse>", b"<rsp:ReceiveResponse><!-- <rsp:Stream> -->"
        ),
        _answer("A" * 70_000).replace(b'Name="stdout"', b'Name="a>b"'),
        _answer("A" * 70_000).replace(
            b"</rsp:ReceiveResponse>", b'<rsp:Stream Name="stderr"/></rsp:ReceiveResponse>'
        ),
        b'<?xml version="1.0" encoding="utf-8"?>' + _answer("A" * 70_000),
        b"<r>" + b"x" * 70_000 + b"</r>",  # no Stream at all
    ],
)
def test_anything_unusual_in_a_large_answer_still_parses_as_elementtree_parses_it(text: bytes) -> None:
    _same_tree(text)


def test_a_utf16_or_small_answer_is_parsed_by_elementtree_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    utf16 = ('<?xml version="1.0" encoding="utf-16"?>' + _answer("A" * 70_000).decode()).encode("utf-16")
    _same_tree(utf16)
    cut: list[bytes] = []
    monkeypatch.setattr(_adapters, "_stream_texts", cut.append)
    _adapters.fromstring_streams(utf16)
    _adapters.fromstring_streams(_answer("QUJD"))
    assert cut == []


def test_new_wsman_gives_pypsrp_the_stream_parse() -> None:
    new_wsman(server="h", auth="basic", username="u", password="p")
    assert pypsrp_wsman.ET.fromstring is _adapters.fromstring_streams
    assert pypsrp_wsman.ET.ParseError is ET.ParseError


def _hashtable(key: str, value_xml: str, ref: int = 0) -> str:
    return (
        f'<Obj RefId="{ref}"><TN RefId="{ref}"><T>System.Collections.Hashtable</T><T>System.Object</T></TN>'
        f'<DCT><En><S N="Key">{key}</S>{value_xml}</En></DCT></Obj>'
    )


@pytest.mark.parametrize("size", [1, 1000, 300_000])
def test_a_compressed_fetch_chunk_decodes_to_what_pypsrp_gives(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fetch_file's ``@{ Deflate = byte[] }`` as PowerShell serializes it: pypsrp's dict, without
    an XML tree being built."""
    raw = os.urandom(size)
    clixml = _hashtable("Deflate", '<BA N="Value">' + base64.b64encode(raw).decode() + "</BA>", ref=3)
    theirs = Serializer().deserialize(clixml)
    monkeypatch.setattr(ET, "fromstring", lambda *_a, **_k: pytest.fail("an XML tree was built"))
    ours = PSRemotingSerializer().deserialize(clixml)
    assert ours == theirs == {"Deflate": raw} and type(ours) is dict


@pytest.mark.parametrize(
    "clixml",
    [
        _hashtable("Other", '<BA N="Value">AAEC</BA>'),
        _hashtable("Deflate", '<S N="Value">AAEC</S>'),
        _hashtable("Deflate", '<BA N="Value">AA&#x45;C</BA>'),
        _hashtable("Deflate", '<BA N="Value">AAEC</BA></En><En><S N="Key">More</S><I32 N="Value">1</I32>'),
    ],
)
def test_any_other_hashtable_takes_pypsrps_path(clixml: str) -> None:
    assert _adapters._deflate_chunk(clixml) is None
    assert PSRemotingSerializer().deserialize(clixml) == Serializer().deserialize(clixml)
