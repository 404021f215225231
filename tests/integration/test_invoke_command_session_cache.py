"""invoke_command's session script sent once per runspace (plugins/plugin_utils/invoke/_session.py
SESSION_DEFINITION / cached_form, issue 18) end to end on winhost.

The first invoke_command task of a runspace defines the session function; a warm task calls it by
name with its typed parameters instead of sending the ~8.7 KB script again. Costs are winhost's
exact counters, read around one warm task, with the cache on and (``payload_cache`` off, the old
form) off in the same run.
"""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import (
    SESSION_FUNCTION,
    SESSION_RUNSPACE_SCRIPT,
    in_session,
)

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01")]


def _request(script: str) -> Any:
    return in_session({"commands": [{"name": script, "is_script": True, "use_local_scope": False}]})


def _critical(requests: dict[str, int]) -> int:
    """Requests a task waits for: Command, Send and Receive."""
    return sum(int(requests.get(k, 0)) for k in ("Command", "Send", "Receive"))


def _warm_cost(winhost: Any, cache: bool) -> tuple[int, int, list[Any]]:
    """Bytes sent to the host and waited-for requests of one warm invoke_command task."""
    from winhost_session import winhost_session

    session = winhost_session(winhost, "dc01")
    session.payload_cache = cache
    try:
        assert session.invoke_pipeline(_request("$suite = 41"))["error"] == []
        before = winhost.stats("dc01")
        result = session.invoke_pipeline(_request("$suite + 1"))
        after = winhost.stats("dc01")
        assert result["error"] == [] and result["state"] == "Completed"
        assert session.payload_state.session_defined is cache
        sent = int(after["bytes_in"]) - int(before["bytes_in"])
        waited = _critical(after["wsman_requests"]) - _critical(before["wsman_requests"])
        return sent, waited, result["output"]
    finally:
        session.close()


@pytest.mark.runs_ps1("invoke_command.session_function")
def test_warm_task_calls_the_defined_function_instead_of_sending_the_script(winhost: Any) -> None:
    """Same state, same requests, the script's size less on the wire (measured: see the report
    in docs/invoke_command.md "Session state")."""
    cached_bytes, cached_requests, cached_output = _warm_cost(winhost, cache=True)
    plain_bytes, plain_requests, plain_output = _warm_cost(winhost, cache=False)
    print(
        f"warm invoke_command: cached {cached_bytes} B / {cached_requests} requests, "
        f"uncached {plain_bytes} B / {plain_requests} requests"
    )
    assert cached_output == plain_output == [42]
    assert cached_requests == plain_requests == 2  # Command + Receive
    # the script (UTF-8, before CLIXML/base64/encryption, which only add) is no longer sent
    assert plain_bytes - cached_bytes >= len(SESSION_RUNSPACE_SCRIPT.encode("utf-8")), (
        plain_bytes,
        cached_bytes,
    )


@pytest.mark.runs_ps1("invoke_command.session_function")
def test_missing_function_is_defined_again_without_a_failed_task(winhost: Any) -> None:
    """ResetRunspaceState forgets the function (and the session runspace it held): the call is not
    found, nothing ran, and the task is sent again with the definition; a new shell starts with
    nothing assumed."""
    from winhost_session import winhost_session

    session = winhost_session(winhost, "dc01")
    try:
        assert session.invoke_pipeline(_request("$suite = 1"))["error"] == []
        assert session.invoke_pipeline(_request("$suite + 1"))["output"] == [2]
        assert session.payload_state.misses == 0
        session.pool.reset_runspace_state()
        result = session.invoke_pipeline(_request("$suite = 5; $suite"))
        assert (result["error"], result["output"]) == ([], [5])
        assert session.payload_state.misses == 1 and session.payload_state.session_defined
        assert session.invoke_pipeline(_request("$suite * 2"))["output"] == [10]  # state kept
        assert winhost.kill_shells("dc01") == 1
        result = session.invoke_pipeline(_request("'after a new shell'"))
        assert (result["error"], result["output"]) == ([], ["after a new shell"])
        assert session.payload_state.misses == 1  # the new pool assumed nothing
        # the function lives in the pool's runspace, named by the script's content hash
        probe = session.invoke_pipeline(
            {"commands": [{"name": "Get-Command", "parameters": {"Name": SESSION_FUNCTION}}]}
        )
        assert probe["error"] == [] and len(probe["output"]) == 1
    finally:
        session.close()


def _warm_state_task(winhost: Any, parts: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, Any]:
    """Bytes sent and waited-for requests of one warm invoke_command task that needs the $Ansible
    prelude and postlude (chdir + $Ansible); ``parts`` off sends their text as before issue 18's
    second step (the function form is the same)."""
    from winhost_session import winhost_session

    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke import _session
    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
        InvokeSpec,
        build_plan,
        read_result,
    )

    if not parts:
        monkeypatch.setattr(_session, "_as_part", lambda entry: entry)
    spec = InvokeSpec(
        script="$Ansible.Changed = $false; $Ansible.Result = @{ where = (Get-Location).Path }; 'ran'",
        chdir="C:\\Windows",
    )
    session = winhost_session(winhost, "dc01")
    try:
        plan = build_plan(spec)
        assert read_result(plan, session.invoke_pipeline(plan.wire_request()), "continue")["output"] == [
            "ran"
        ]
        before = winhost.stats("dc01")
        plan = build_plan(spec)
        fields = read_result(plan, session.invoke_pipeline(plan.wire_request()), "continue")
        after = winhost.stats("dc01")
        sent = int(after["bytes_in"]) - int(before["bytes_in"])
        waited = _critical(after["wsman_requests"]) - _critical(before["wsman_requests"])
        return sent, waited, fields
    finally:
        session.close()
        monkeypatch.undo()


@pytest.mark.runs_ps1("invoke_command.session_function")
def test_warm_task_names_the_prelude_and_postlude(winhost: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The function form holds the $Ansible prelude/postlude: a warm task with chdir and $Ansible
    names them (Part) and gets the same result with the same requests, their text less on the wire."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import POSTLUDE, PRELUDE

    named_bytes, named_requests, named = _warm_state_task(winhost, True, monkeypatch)
    sent_bytes, sent_requests, sent = _warm_state_task(winhost, False, monkeypatch)
    print(f"warm invoke_command with chdir + $Ansible: parts named {named_bytes} B, sent {sent_bytes} B")
    for fields in (named, sent):
        assert (fields["failed"], fields["changed"], fields["output"]) == (False, False, ["ran"])
        assert fields["result"] == {"where": "C:\\Windows"} and fields["error"] == []
    assert named_requests == sent_requests == 2  # Command + Receive
    assert sent_bytes - named_bytes >= len((PRELUDE + POSTLUDE).encode("utf-8")), (sent_bytes, named_bytes)


@pytest.mark.runs_ps1("invoke_command.session_function")
def test_a_task_naming_the_prelude_survives_a_reset_runspace(winhost: Any) -> None:
    """The parts live in the function: when a reset runspace lost it, the task that names the
    prelude/postlude is sent again with the definition (one miss) and runs as the plain form."""
    from winhost_session import winhost_session

    from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
        InvokeSpec,
        build_plan,
        read_result,
    )

    spec = InvokeSpec(script="$Ansible.Result = @{ where = (Get-Location).Path }; 'ran'", chdir="C:\\Windows")
    session = winhost_session(winhost, "dc01")
    try:
        for _ in range(2):
            plan = build_plan(spec)
            fields = read_result(plan, session.invoke_pipeline(plan.wire_request()), "continue")
            assert (fields["output"], fields["result"]) == (["ran"], {"where": "C:\\Windows"})
        session.pool.reset_runspace_state()
        plan = build_plan(spec)
        fields = read_result(plan, session.invoke_pipeline(plan.wire_request()), "continue")
        assert (fields["failed"], fields["output"], fields["result"]) == (
            False,
            ["ran"],
            {"where": "C:\\Windows"},
        )
        assert session.payload_state.misses == 1 and session.payload_state.session_defined
    finally:
        session.close()
