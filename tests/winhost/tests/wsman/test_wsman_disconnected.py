"""Disconnected shells and robust Receive: pypsrp (a real client) against WSManService.

References: [MS-WSMV] 3.1.4.15-3.1.4.17 (Disconnect / Reconnect / Connect), 2.2.5.10
(OutputBufferingModeEnumeration: Block, Drop), 3.1.4.1.39 (Robust Connection Support:
wsmv:OperationID, a retransmission has mustUnderstand="true"); [MS-PSRP] 3.1.5.3.16 (the
Disconnect body's IdleTimeout and BufferMode).
"""

from __future__ import annotations

import base64
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool, RunspacePoolState
from pypsrp.wsman import NAMESPACES, SelectorSet

from winhost.engine.model import CIDict, SessionConfiguration
from winhost.wsman import psrp as wsman_psrp
from winhost.wsman.psrp import message_types

from .conftest import USER, make_wsman

PS_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
SOAP = "http://www.w3.org/2003/05/soap-envelope"


def _disconnect(pool: RunspacePool, *, buffer_mode: str | None = None, idle: str | None = None) -> None:
    """pypsrp's RunspacePool.disconnect with the optional body elements it cannot send."""
    body = ET.Element(f"{{{NAMESPACES['rsp']}}}Disconnect")
    if idle is not None:
        ET.SubElement(body, f"{{{NAMESPACES['rsp']}}}IdleTimeOut").text = idle
    if buffer_mode is not None:
        ET.SubElement(body, f"{{{NAMESPACES['rsp']}}}BufferMode").text = buffer_mode
    selectors = SelectorSet()
    selectors.add_option("ShellId", pool.shell.id or "")
    pool.connection.disconnect(pool.shell.resource_uri, body, selector_set=selectors)
    pool.state = RunspacePoolState.DISCONNECTED
    for pipeline in pool.pipelines.values():
        pipeline.state = PSInvocationState.DISCONNECTED


def _reconnect_elsewhere(service) -> list:
    """A new client connects to the (only) disconnected pool and receives its pipeline's output."""
    found = RunspacePool.get_runspace_pools(make_wsman(service))
    assert len(found) == 1
    pool = found[0]
    pool.connect()
    commands = pool.create_disconnected_power_shells()
    assert len(commands) == 1
    output = commands[0].connect()
    pool.close()
    return output


def _runner(service, pool: RunspacePool):
    shell = service.shells.get(pool.shell.id)
    assert shell is not None and shell.psrp is not None
    (runner,) = shell.psrp.commands.values()
    return shell.psrp, runner


def _start_hundred_lines(service):
    """A pool running a command that sleeps 0.3 s, then writes 100 lines of ~90 characters."""
    pool = RunspacePool(make_wsman(service))
    pool.open()
    values = [f"line {i:03d} " + "x" * 80 for i in range(100)]
    ps = PowerShell(pool)
    ps.add_cmdlet("Start-Sleep").add_argument(0.3).add_statement()
    ps.add_cmdlet("Write-Output")
    for value in values:
        ps.add_argument(value)
    ps.begin_invoke()
    return pool, values


def test_block_mode_pauses_the_pipeline_until_a_client_connects(service, monkeypatch):
    monkeypatch.setattr(wsman_psrp, "DISCONNECTED_BUFFER_BYTES", 4000)
    pool, values = _start_hundred_lines(service)
    _disconnect(pool)  # Block is the default
    psrp, runner = _runner(service, pool)
    deadline = time.monotonic() + 30
    while psrp._queued(runner) < 4000 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert not runner.finished.is_set()  # blocked on the full buffer, not dropping
    assert psrp._queued(runner) < 4000 + 200
    assert _reconnect_elsewhere(service) == values
    assert psrp.dropped == 0


def test_drop_mode_keeps_running_and_discards_the_oldest_output(service, monkeypatch):
    monkeypatch.setattr(wsman_psrp, "DISCONNECTED_BUFFER_BYTES", 4000)
    pool, values = _start_hundred_lines(service)
    _disconnect(pool, buffer_mode="Drop")
    psrp, runner = _runner(service, pool)
    assert runner.finished.wait(30)  # never blocked
    assert psrp.dropped > 0
    output = _reconnect_elsewhere(service)
    assert 0 < len(output) < len(values)
    assert output == values[-len(output) :]  # FIFO: the newest output is what is left


def test_unknown_buffer_mode_is_refused(service):
    pool = RunspacePool(make_wsman(service))
    pool.open()
    with pytest.raises(WSManFaultError) as err:
        _disconnect(pool, buffer_mode="Keep")
    assert err.value.code == 87
    pool.state = RunspacePoolState.OPENED
    pool.close()


def test_idle_timeout_above_the_configuration_maximum_is_refused(service, machine):
    """The session configuration's Quotas\\MaxIdleTimeoutms bounds the idle timeout a Disconnect
    may ask for (Disconnect-PSSession, example 4: a 48-hour idle timeout against the 12-hour
    maximum cannot disconnect; PowerShell checks it before sending, against the rsp:MaxIdleTimeOut
    the server reports). The server reports that maximum; a Disconnect above it is refused and the
    shell stays connected; one within it sets the shell's idle timeout."""
    machine.lock = threading.RLock()
    machine.accounts = {}
    machine.session_configurations = CIDict()
    machine.session_configurations["Microsoft.PowerShell"] = SessionConfiguration(
        "Microsoft.PowerShell", max_idle_timeout_ms=43_200_000
    )
    pool = RunspacePool(make_wsman(service))
    pool.open()
    shell = service.shells.get(pool.shell.id)
    assert "<rsp:MaxIdleTimeOut>PT43200.000S</rsp:MaxIdleTimeOut>" in service._shell_xml(shell)
    with pytest.raises(WSManFaultError) as err:
        _disconnect(pool, idle="PT172800.000S")
    assert err.value.code == 87 and shell.state == "Connected"
    _disconnect(pool, idle="PT43200.000S", buffer_mode="Drop")
    assert shell.state == "Disconnected" and shell.idle_timeout == 43200.0
    assert shell.psrp is not None and shell.psrp.buffer_mode == "Drop"


def test_disconnected_shell_is_deleted_after_its_idle_timeout(machine, stats):
    from winhost.wsman.service import WSManService

    from .standin import StandInRunspace

    now = [1000.0]
    svc = WSManService(machine, stats, None, runspace_factory=StandInRunspace, clock=lambda: now[0])
    pool = RunspacePool(make_wsman(svc), idle_timeout=600)
    pool.open()
    _disconnect(pool, idle="PT30.000S")  # the Disconnect body overrides the Create's 600 s
    shell = svc.shells.get(pool.shell.id)
    assert shell is not None and shell.state == "Disconnected"
    now[0] += 29
    assert svc.reap_idle() == 0
    now[0] += 2
    assert svc.reap_idle() == 1
    assert RunspacePool.get_runspace_pools(make_wsman(svc)) == []


def test_only_the_owner_sees_and_connects_to_a_disconnected_shell(service):
    pool = RunspacePool(make_wsman(service))
    pool.open()
    _disconnect(pool)
    stranger = make_wsman(service, user="WINHOST\\eve")
    assert RunspacePool.get_runspace_pools(stranger) == []
    intruder = RunspacePool(stranger)
    intruder.id = pool.id
    intruder.shell.id = pool.shell.id
    intruder.shell.opened = True
    intruder._new_client = True
    intruder.state = RunspacePoolState.DISCONNECTED
    with pytest.raises(WSManFaultError) as err:
        intruder.connect()
    assert err.value.code == 5  # Access is denied.
    found = RunspacePool.get_runspace_pools(make_wsman(service, user=USER.upper()))
    assert [p.id.upper() for p in found] == [pool.id.upper()]


# -- robust Receive ----------------------------------------------------------------------------
def _receive(
    service, wsman, pool: RunspacePool, command_id: str, operation_id: str | None, *, retransmit: bool
):
    """One raw Receive for ``command_id`` (optionally with wsmv:OperationID); returns the
    response root and the PSRP messages in it."""
    selectors = SelectorSet()
    selectors.add_option("ShellId", pool.shell.id or "")
    _, header = wsman._create_header(
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive", PS_URI, None, selectors, 5
    )
    if operation_id is not None:
        op = ET.SubElement(header, f"{{{WSMV}}}OperationID")
        op.set(f"{{{SOAP}}}mustUnderstand", "true" if retransmit else "false")
        op.text = operation_id
    envelope = ET.Element(f"{{{SOAP}}}Envelope")
    envelope.append(header)
    body = ET.SubElement(envelope, f"{{{SOAP}}}Body")
    receive = ET.SubElement(body, f"{{{NAMESPACES['rsp']}}}Receive")
    ET.SubElement(receive, f"{{{NAMESPACES['rsp']}}}DesiredStream", CommandId=command_id).text = "stdout"
    status, data = service.handle(USER, ET.tostring(envelope), 512000)
    assert status == 200, data
    root = ET.fromstring(data)
    streams = root.findall("s:Body/rsp:ReceiveResponse/rsp:Stream", NAMESPACES)
    raw = b"".join(base64.b64decode(s.text or "") for s in streams)
    return root, message_types(raw)


def _started(service):
    wsman = make_wsman(service)
    pool = RunspacePool(wsman)
    pool.open()
    ps = PowerShell(pool)
    ps.add_cmdlet("Write-Output").add_argument("one").add_argument("two")
    ps.begin_invoke()
    return wsman, pool, ps.id.upper()


def test_robust_receive_retransmission_gets_the_lost_answer_again(service):
    wsman, pool, command_id = _started(service)
    root, first = _receive(service, wsman, pool, command_id, "uuid:OP-1", retransmit=False)
    assert root.findtext("s:Header/wsmv:OperationID", namespaces=NAMESPACES) == "uuid:OP-1"
    assert root.findtext("s:Header/wsmv:SequenceID", namespaces=NAMESPACES) == "1"
    assert [m[0].name for m in first].count("PipelineOutput") == 2
    # The answer was lost on the network: the client sends the same operation again.
    _, again = _receive(service, wsman, pool, command_id, "uuid:OP-1", retransmit=True)
    assert again == first
    assert service.stats.snapshot()["receive_retransmissions"] == 1  # counted (observability)
    # The next operation acknowledges it: nothing is sent twice.
    root, after = _receive(service, wsman, pool, command_id, "uuid:OP-2", retransmit=False)
    assert [m for m in after if m[0].name == "PipelineOutput"] == []
    done = root.find("s:Body/rsp:ReceiveResponse/rsp:CommandState", NAMESPACES)
    assert done is not None and done.get("State", "").endswith("/Done")


def test_receive_without_operation_id_keeps_nothing(service):
    """A client without robust connections (pypsrp) gets no OperationID back, and the output of
    an answer it never read is gone: a second Receive does not return it."""
    wsman, pool, command_id = _started(service)
    root, first = _receive(service, wsman, pool, command_id, None, retransmit=False)
    assert root.find("s:Header/wsmv:OperationID", NAMESPACES) is None
    assert [m[0].name for m in first].count("PipelineOutput") == 2
    _, second = _receive(service, wsman, pool, command_id, None, retransmit=False)
    assert [m for m in second if m[0].name == "PipelineOutput"] == []


def test_retransmission_of_an_unknown_operation_is_a_new_receive(service):
    wsman, pool, command_id = _started(service)
    _, first = _receive(service, wsman, pool, command_id, "uuid:NEVER-ANSWERED", retransmit=True)
    assert [m[0].name for m in first].count("PipelineOutput") == 2
