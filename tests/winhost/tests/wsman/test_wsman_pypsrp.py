"""pypsrp (a real client) against WSManService through a transport stub: protocol behaviour."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool, RunspacePoolState
from pypsrp.shell import SignalCode
from pypsrp.wsman import NAMESPACES, OptionSet, SelectorSet

from .conftest import USER, make_wsman

PS_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"


class RecordingUI(PSHostUserInterface):
    def __init__(self, answers: list[str] | None = None) -> None:
        super().__init__()
        self.answers = list(answers or [])
        self.lines: list[str] = []

    def WriteLine2(self, runspace, pipeline, value):
        self.lines.append(value)

    def ReadLine(self, runspace, pipeline):
        return self.answers.pop(0)


def make_host(ui: PSHostUserInterface) -> PSHost:
    return PSHost(None, None, False, "test-host", None, ui, "1.0")


def test_all_streams_arrive(wsman):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument("out").add_statement()
        ps.add_cmdlet("Write-Error").add_argument("bad").add_statement()
        ps.add_cmdlet("Write-Warning").add_argument("warn").add_statement()
        ps.add_cmdlet("Write-Verbose").add_argument("verb").add_statement()
        ps.add_cmdlet("Write-Debug").add_argument("dbg").add_statement()
        ps.add_cmdlet("Write-Information").add_argument("info").add_statement()
        ps.add_cmdlet("Write-Progress").add_argument("act").add_parameter("Status", "half").add_parameter(
            "PercentComplete", 50
        )
        out = ps.invoke()
    assert out == ["out"]
    assert not ps.had_errors  # pypsrp sets had_errors only for a Failed pipeline
    assert ps.state == PSInvocationState.COMPLETED
    assert [str(e) for e in ps.streams.error] == ["bad"]
    assert [w.message for w in ps.streams.warning] == ["warn"]
    assert [v.message for v in ps.streams.verbose] == ["verb"]
    assert [d.message for d in ps.streams.debug] == ["dbg"]
    assert [i.message_data for i in ps.streams.information] == ["info"]
    assert [(p.activity, p.description, p.percent_complete) for p in ps.streams.progress] == [
        ("act", "half", 50)
    ]


def test_script_text_reaches_engine_and_state_persists(wsman, runspaces):
    with RunspacePool(wsman) as pool:
        for expected in (1, 2, 3):
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-Invocations")
            assert ps.invoke() == [expected]
        ps = PowerShell(pool)
        ps.add_script("$a = 1; $a")
        assert ps.invoke() == ["$a = 1; $a"]
    assert len(runspaces) == 1
    assert runspaces[0].user == USER


def test_pipeline_input_streams_to_engine(wsman):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Echo-Input")
        assert ps.invoke(["a", 1, True]) == ["a", 1, True]


def test_engine_exception_fails_pipeline(wsman):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Throw").add_argument("boom")
        ps.invoke()
        assert ps.state == PSInvocationState.FAILED
        assert ps.had_errors


def test_write_host_and_exit_code_use_host_calls(wsman):
    ui = RecordingUI()
    host = make_host(ui)
    with RunspacePool(wsman, host=host) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Host").add_argument("to the console").add_statement()
        ps.add_cmdlet("Exit").add_argument(3)
        ps.invoke()
    assert ui.lines == ["to the console"]
    assert host.rc == 3
    # PowerShell 5.1 also records Write-Host in the information stream with the PSHOST tag.
    assert [(i.message_data, i.tags) for i in ps.streams.information] == [("to the console", ["PSHOST"])]


def test_no_host_means_no_host_calls(wsman):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Host").add_argument("quiet")
        ps.invoke()
        assert not ps.had_errors
        assert [i.message_data for i in ps.streams.information] == ["quiet"]


def test_read_host_round_trip(wsman):
    ui = RecordingUI(answers=["typed answer"])
    with RunspacePool(wsman, host=make_host(ui)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Read-Host")
        assert ps.invoke() == ["typed answer"]


def test_stop_running_pipeline(wsman, stats):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Start-Sleep").add_argument(30)
        ps.begin_invoke()
        start = time.monotonic()
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        assert time.monotonic() - start < 5
        # The pool keeps working after a stop.
        ps2 = PowerShell(pool)
        ps2.add_cmdlet("Write-Output").add_argument("after")
        assert ps2.invoke() == ["after"]


def test_stopped_pipeline_sends_pipeline_stopped_error(wsman):
    """Receive after ctrl_c carries PipelineState Stopped with the PipelineStoppedException record."""
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Start-Sleep").add_argument(30)
        ps.begin_invoke()
        pool.shell.signal(SignalCode.PS_CTRL_C, str(ps.id).upper())
        ps.end_invoke()
        assert ps.state == PSInvocationState.STOPPED
        assert len(ps.streams.error) == 1
        assert "The pipeline has been stopped." in str(ps.streams.error[0])


def test_ctrl_c_signal_answered_for_finished_pipeline(wsman):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument(1)
        ps.invoke()
        # ansible.builtin.psrp stops the previous pipeline before each new one: must not fault
        pool.shell.signal(SignalCode.PS_CTRL_C, str(ps.id).upper())
        ps.close()  # terminate
        pool.shell.signal(SignalCode.PS_CTRL_C, str(ps.id).upper())


def test_fast_command_needs_one_receive(wsman):
    """Output and the final state arrive in the Receive right after Command (linger)."""
    with RunspacePool(wsman) as pool:
        transport = wsman.transport
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument("x")
        before = len(transport.requests)
        ps.invoke()
        actions = [_action(r) for r in transport.requests[before:]]
        assert actions == ["Command", "Receive"]


def test_receive_timeout_fault_then_retry(service):
    wsman = make_wsman(service, operation_timeout=1)
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Start-Sleep").add_argument(1.6)
        ps.add_statement().add_cmdlet("Write-Output").add_argument("late")
        # pypsrp swallows 2150858793 and polls again, as against Windows
        assert ps.invoke() == ["late"]
        with pytest.raises(WSManFaultError) as err:
            pool.shell.receive("stdout", timeout=1)
        assert err.value.code == 2150858793
        assert "OperationTimeout" in err.value.reason


def test_unknown_shell_fault(wsman):
    selector = SelectorSet()
    selector.add_option("ShellId", "11111111-2222-3333-4444-555555555555")
    body = ET.Element(f"{{{NAMESPACES['rsp']}}}Receive")
    ET.SubElement(body, f"{{{NAMESPACES['rsp']}}}DesiredStream").text = "stdout"
    with pytest.raises(WSManFaultError) as err:
        wsman.receive(PS_URI, body, selector_set=selector)
    assert err.value.code == 2150858843
    assert "ShellId 11111111-2222-3333-4444-555555555555" in err.value.reason
    assert "the shell was not found on the server" in err.value.reason
    assert err.value.machine == "WINHOST"


def test_unknown_command_fault(wsman):
    with RunspacePool(wsman) as pool:
        with pytest.raises(WSManFaultError) as err:
            pool.shell.receive("stdout", command_id="11111111-2222-3333-4444-555555555555", timeout=1)
        assert err.value.code == 2150858843
        assert "command identifier that does not exist" in err.value.reason


def test_other_user_cannot_use_shell(service, wsman):
    with RunspacePool(wsman) as pool:
        other = make_wsman(service, user="WINHOST\\mallory")
        selector = SelectorSet()
        selector.add_option("ShellId", pool.shell.id)
        with pytest.raises(WSManFaultError) as err:
            other.delete(PS_URI, selector_set=selector)
        assert err.value.code == 5


def test_max_envelope_size_fault(service):
    status, body = service.handle(USER, b"<x>" + b"a" * 2000 + b"</x>", 1024)
    assert status == 500
    fault = ET.fromstring(body).find("s:Body/s:Fault/s:Detail/wsmanfault:WSManFault", NAMESPACES)
    assert fault is not None and fault.get("Code") == "2150858778"


def test_large_output_is_fragmented_within_envelope(service):
    wsman = make_wsman(service, max_envelope_size=20000)
    big = "x" * 100_000
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument(big).add_argument("tail")
        assert ps.invoke() == [big, "tail"]
    transport = wsman.transport
    assert isinstance(transport.requests, list)


def test_responses_respect_client_max_envelope(service):
    seen: list[int] = []
    wsman = make_wsman(service, max_envelope_size=20000)
    original = wsman.transport.send

    def spy(message, **kwargs):
        body = original(message, **kwargs)
        seen.append(len(body))
        return body

    wsman.transport.send = spy  # type: ignore[method-assign]
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument("y" * 60_000)
        ps.invoke()
    assert max(seen) <= 20000
    assert len(seen) > 5


def test_max_shells_per_user(service, machine):
    machine.wsman.service.max_shells_per_user = 2
    pools = [RunspacePool(make_wsman(service)) for _ in range(2)]
    for p in pools:
        p.open()
    with pytest.raises(WSManFaultError) as err:
        RunspacePool(make_wsman(service)).open()
    assert err.value.code == 2150859174
    assert "maximum number of 2 concurrent shells" in err.value.reason
    # another user has their own quota
    RunspacePool(make_wsman(service, user="WINHOST\\other")).open()
    pools[0].close()
    third = RunspacePool(make_wsman(service))
    third.open()
    third.close()


def test_max_concurrent_operations_per_user(wsman, machine, stats):
    machine.wsman.service.max_concurrent_operations_per_user = 2
    with RunspacePool(wsman) as pool:
        leaked = []
        for _ in range(2):
            ps = PowerShell(pool)
            ps.add_cmdlet("Write-Output").add_argument(1)
            ps.invoke()  # pypsrp's invoke does not signal terminate: the operation stays open
            leaked.append(ps)
        assert stats.snapshot()["operations_open"] == 2
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument(1)
        with pytest.raises(WSManFaultError) as err:
            ps.invoke()
        assert err.value.code == 2150859173
        assert "maximum number of 2 concurrent operations" in err.value.reason
        leaked[0].close()  # Signal terminate frees one operation
        assert stats.snapshot()["operations_open"] == 1
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument(1)
        assert ps.invoke() == [1]
    assert stats.snapshot()["operations_open"] == 0


def test_idle_timeout_deletes_shell(machine, stats, runspaces):
    from winhost.wsman.service import WSManService

    from .standin import StandInRunspace

    now = [1000.0]
    svc = WSManService(machine, stats, None, runspace_factory=StandInRunspace, clock=lambda: now[0])
    wsman = make_wsman(svc)
    pool = RunspacePool(wsman, idle_timeout=60)
    pool.open()
    shell_id = pool.shell.id
    assert stats.snapshot()["shells_open"] == 1
    now[0] += 59
    ps = PowerShell(pool)
    ps.add_cmdlet("Write-Output").add_argument(1)
    ps.invoke()  # activity resets the idle clock
    now[0] += 61
    assert svc.reap_idle() == 1
    assert stats.snapshot()["shells_open"] == 0
    ps = PowerShell(pool)
    ps.add_cmdlet("Write-Output").add_argument(1)
    with pytest.raises(WSManFaultError) as err:
        ps.invoke()
    assert err.value.code == 2150858843
    assert shell_id in err.value.reason


def test_create_response_shell_body(wsman):
    pool = RunspacePool(wsman, idle_timeout=90)
    pool.open()
    try:
        body = wsman.get(PS_URI, selector_set=pool.shell._selector_set)
        shell = body.find("rsp:Shell", NAMESPACES)
        assert shell is not None
        assert shell.find("rsp:ShellId", NAMESPACES).text == pool.shell.id
        assert shell.find("rsp:IdleTimeOut", NAMESPACES).text == "PT90.000S"
        assert shell.find("rsp:State", NAMESPACES).text == "Connected"
        assert shell.find("rsp:Owner", NAMESPACES).text == USER
    finally:
        pool.close()


def test_get_config_max_envelope(wsman, machine):
    machine.wsman.service.max_envelope_size_kb = 150
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 150 * 1024


def test_runspace_pool_messages(wsman):
    with RunspacePool(wsman, min_runspaces=1, max_runspaces=1) as pool:
        pool.max_runspaces = 4  # SetMaxRunspaces (pypsrp writes CI, not ci)
        assert pool.max_runspaces == 4
        pool.min_runspaces = 2
        assert pool.min_runspaces == 2
        assert pool.get_available_runspaces() == 4
        pool.exchange_keys()
        assert pool._serializer.cipher is not None
        pool.reset_runspace_state()  # raises if the server answers False


def test_reset_runspace_state_reaches_engine(wsman, runspaces):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument(1)
        ps.invoke()
        pool.reset_runspace_state()
    assert runspaces[0].resets == 1


def test_application_private_data(wsman):
    with RunspacePool(wsman) as pool:
        table = pool.application_private_data.data["PSVersionTable"]
        assert str(table["PSVersion"]).startswith("5.1")
        assert table["PSEdition"] == "Desktop"


def test_disconnect_reconnect_same_client(wsman):
    pool = RunspacePool(wsman)
    pool.open()
    pool.disconnect()
    assert pool.state == RunspacePoolState.DISCONNECTED
    pool.connect()
    assert pool.state == RunspacePoolState.OPENED
    ps = PowerShell(pool)
    ps.add_cmdlet("Write-Output").add_argument("back")
    assert ps.invoke() == ["back"]
    pool.close()


def test_connect_from_another_client(service):
    first = RunspacePool(make_wsman(service))
    first.open()
    first.disconnect()
    other = make_wsman(service)
    pools = RunspacePool.get_runspace_pools(other)
    assert [p.id.upper() for p in pools] == [first.id.upper()]
    pool = pools[0]
    pool.connect()
    assert pool.state == RunspacePoolState.OPENED
    ps = PowerShell(pool)
    ps.add_cmdlet("Write-Output").add_argument("new client")
    assert ps.invoke() == ["new client"]
    pool.close()


def test_disconnected_pipeline_keeps_running(service):
    wsman = make_wsman(service)
    pool = RunspacePool(wsman)
    pool.open()
    ps = PowerShell(pool)
    ps.add_cmdlet("Start-Sleep").add_argument(0.3).add_statement()
    ps.add_cmdlet("Write-Output").add_argument("while away")
    ps.begin_invoke()
    pool.disconnect()
    time.sleep(0.5)
    other = make_wsman(service)
    found = RunspacePool.get_runspace_pools(other)[0]
    found.connect()
    cmds = found.create_disconnected_power_shells()
    assert len(cmds) == 1
    assert cmds[0].connect() == ["while away"]
    found.close()


def test_enumerate_without_optimization_then_pull(wsman):
    pools = [RunspacePool(wsman) for _ in range(3)]
    for p in pools:
        p.open()
    enum = ET.Element(f"{{{NAMESPACES['wsen']}}}Enumerate")
    resp = wsman.enumerate("http://schemas.microsoft.com/wbem/wsman/1/windows/shell", enum)
    ctx = resp.find("wsen:EnumerateResponse/wsen:EnumerationContext", NAMESPACES).text
    ids = []
    while ctx:
        pull = ET.Element(f"{{{NAMESPACES['wsen']}}}Pull")
        ET.SubElement(pull, f"{{{NAMESPACES['wsen']}}}EnumerationContext").text = ctx
        ET.SubElement(pull, f"{{{NAMESPACES['wsen']}}}MaxElements").text = "2"
        resp = wsman.pull("http://schemas.microsoft.com/wbem/wsman/1/windows/shell", pull)
        ids += [
            e.text for e in resp.findall("wsen:PullResponse/wsen:Items/rsp:Shell/rsp:ShellId", NAMESPACES)
        ]
        ctx_el = resp.find("wsen:PullResponse/wsen:EnumerationContext", NAMESPACES)
        ctx = ctx_el.text if ctx_el is not None else None
    assert sorted(ids) == sorted(p.shell.id for p in pools)
    for p in pools:
        p.close()


def test_stats_counts_shells_and_operations(wsman, stats):
    with RunspacePool(wsman) as pool:
        assert stats.snapshot()["shells_open"] == 1
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument(1)
        ps.invoke()
        assert stats.snapshot()["operations_open"] == 1
        ps.close()
        assert stats.snapshot()["operations_open"] == 0
    snap = stats.snapshot()
    assert snap["shells_open"] == 0
    assert snap["shells_created"] == 1
    assert snap["operations_started"] == 1


def test_kill_shell(service, wsman, stats):
    pool = RunspacePool(wsman)
    pool.open()
    assert service.kill_shell() == 1
    ps = PowerShell(pool)
    ps.add_cmdlet("Write-Output").add_argument(1)
    with pytest.raises(WSManFaultError) as err:
        ps.invoke()
    assert err.value.code == 2150858843
    assert stats.snapshot()["shells_open"] == 0


def test_kill_shell_wakes_waiting_receive(service, wsman):
    pool = RunspacePool(wsman)
    pool.open()
    ps = PowerShell(pool)
    ps.add_cmdlet("Start-Sleep").add_argument(30)
    ps.begin_invoke()
    import threading

    threading.Timer(0.3, service.kill_shell).start()
    start = time.monotonic()
    with pytest.raises(WSManFaultError) as err:
        ps.end_invoke()
    assert err.value.code == 2150858843
    assert time.monotonic() - start < 5


def test_bad_xml_is_a_fault(service):
    status, body = service.handle(USER, b"<not-xml", 512000)
    assert status == 500
    assert b"WSManFault" in body


def test_invalid_timeout_header(wsman):
    options = OptionSet()
    body = ET.Element(f"{{{NAMESPACES['rsp']}}}Receive")
    with pytest.raises(WSManFaultError) as err:
        wsman.receive(PS_URI, body, option_set=options, timeout=-1)
    assert err.value.code == 2150858767


def _action(request: bytes) -> str:
    root = ET.fromstring(request)
    action = root.find("s:Header/wsa:Action", NAMESPACES)
    assert action is not None and action.text
    return action.text.rsplit("/", 1)[-1]
