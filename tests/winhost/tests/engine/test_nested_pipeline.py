"""Nested pipelines (MS-PSRP 2.2.3.11 IsNested) run in the running pipeline's thread between its
statements, so they see the state it has made (pypsrp's test_psrp_nested_command recording:
``$i = 0; while ($true) { $i++ }`` then a nested ``Get-Variable -Name i`` returns the variable)."""

from __future__ import annotations

import threading

from psrpcore import Command

from winhost.engine.errors import PipelineStopped

from .helpers import Engine, RecordingHost


def test_nested_pipeline_sees_the_running_pipelines_variables(engine: Engine) -> None:
    runspace = engine.runspace
    parent_host = RecordingHost()
    started = threading.Event()
    outcome: list[BaseException | None] = []

    def parent() -> None:
        try:
            runspace.invoke([Command("$i = 0; while ($true) { $i++ }", is_script=True)], None, parent_host)
            outcome.append(None)
        except BaseException as exc:  # stopped below
            outcome.append(exc)

    thread = threading.Thread(target=parent, daemon=True)
    # wait until the parent pipeline is registered as running
    thread.start()
    for _ in range(200):
        if runspace._running:
            started.set()
            break
        threading.Event().wait(0.01)
    assert started.is_set()
    nested_host = RecordingHost()
    runspace.invoke_nested([Command("Get-Variable").add_parameter("Name", "i")], None, nested_host)
    assert nested_host.errors == []
    [variable] = nested_host.output
    assert variable.Name == "i"
    assert nested_host.output and isinstance(variable.Value, int)
    parent_host.stop_requested.set()
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(outcome[0], PipelineStopped)


def test_nested_pipeline_without_a_running_pipeline_runs_at_once(engine: Engine) -> None:
    host = RecordingHost()
    engine.runspace.invoke_nested([Command("Write-Output").add_argument("x")], None, host)
    assert host.output == ["x"]


def test_host_call_wait_runs_nested_pipelines() -> None:
    """While a pipeline waits for a host call's answer, nested pipelines the client starts run
    (a client may run one before it answers the prompt)."""
    import queue
    from types import SimpleNamespace

    from winhost.wsman.psrp import PipelineRunner

    waiter: queue.Queue[object] = queue.Queue()
    ran: list[str] = []

    def run_nested() -> None:
        ran.append("nested")
        waiter.put(("answer", None))  # the client answers after its nested pipeline ran

    runner = SimpleNamespace(
        shell=SimpleNamespace(runspace=lambda: SimpleNamespace(_run_nested_jobs=run_nested))
    )
    assert PipelineRunner._wait_response(runner, waiter) == ("answer", None)  # type: ignore[arg-type]
    assert ran == ["nested"]
