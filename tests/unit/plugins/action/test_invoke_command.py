"""invoke_command action plugin against a fake connection that records the requests it gets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from unittest.mock import MagicMock

import pytest

from ansible_collections.psremoting.core.plugins.action import invoke_command as action_mod
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._command import (
    POSTLUDE,
    PRELUDE,
    STATE_TYPE_NAME,
    VERBATIM_ARGUMENT,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import HostOutcome
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import SESSION_RUNSPACE_SCRIPT
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    empty_result,
    validate_request,
)

Responder = Callable[[dict[str, Any]], dict[str, Any]]


def ok(output: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    result = dict(empty_result())
    result.update(output=output or [], state="Completed")
    result.update(extra)
    return result


def unwrap(request: dict[str, Any]) -> dict[str, Any]:
    """The pipeline a request runs in the session runspace (``session``: persistent/temporary),
    or the request itself when it runs in the pool's runspace (``session``: absent)."""
    commands = request["commands"]
    if len(commands) != 1 or commands[0]["name"] != SESSION_RUNSPACE_SCRIPT:
        return request
    params = commands[0]["parameters"]
    inner: dict[str, Any] = {k: v for k, v in request.items() if k != "commands"}
    inner["session"] = "temporary" if params.get("Temporary") else "persistent"
    inner["commands"] = []
    for cmd in params["Commands"]:
        # session_commands leaves out keys whose value is false or empty
        out: dict[str, Any] = {"name": cmd["Name"], "is_script": cmd.get("IsScript", False)}
        if cmd.get("IsScript"):
            out["use_local_scope"] = cmd.get("UseLocalScope", False)
        if cmd.get("Parameters"):
            out["parameters"] = {p["Name"]: p["Value"] for p in cmd["Parameters"]}
        if cmd.get("Arguments"):
            out["arguments"] = cmd["Arguments"]
        if cmd.get("EndOfStatement"):
            out["end_of_statement"] = True
        inner["commands"].append(out)
    if "InputObjects" in params:
        inner["input"] = params["InputObjects"]
    return inner


class FakeConnection:
    _load_name = "psremoting.core.psrp"

    def __init__(self, responder: Responder | None = None, name: str = "dc01") -> None:
        self.sent: list[dict[str, Any]] = []  # what the connection got
        self.requests: list[dict[str, Any]] = []  # the same, session pipelines unwrapped
        self.responder = responder or (lambda _req: ok(["done"]))
        self.name = name
        self.closed = False
        self._shell = MagicMock(tmpdir=None)

    def invoke_pipeline(self, request: dict[str, Any]) -> dict[str, Any]:
        validate_request(request)  # the connection's own check of the contract
        self.sent.append(json.loads(json.dumps(request)))
        inner = unwrap(self.sent[-1])
        self.requests.append(inner)
        return self.responder(inner)

    def close(self) -> None:
        self.closed = True


def run(
    args: dict[str, Any],
    connection: FakeConnection,
    check_mode: bool = False,
    task_vars: dict[str, Any] | None = None,
) -> dict[str, Any]:
    task = MagicMock()
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = False
    task.async_val = 0
    play_context = MagicMock()
    templar = MagicMock()
    templar.template.side_effect = lambda v: v
    action = action_mod.ActionModule(
        task, connection, play_context, loader=MagicMock(), templar=templar, shared_loader_obj=None
    )
    return action.run(task_vars=task_vars or {"inventory_hostname": getattr(connection, "name", "dc01")})  # type: ignore[no-any-return]


def test_runspace_id_reported_by_the_connection_tags_objects() -> None:
    conn = FakeConnection(
        lambda _r: ok([{"Name": "W32Time"}], runspace_id="3f1c0e0a-0000-4000-8000-000000000001")
    )
    result = run({"script": "Get-Service -Name W32time"}, conn)
    assert result["output"] == [
        {
            "Name": "W32Time",
            "PSComputerName": "dc01",
            "RunspaceId": "3f1c0e0a-0000-4000-8000-000000000001",
            "PSShowComputerName": True,
        }
    ]


def test_plain_script_is_one_request_with_output() -> None:
    conn = FakeConnection(lambda _r: ok([{"Name": "W32Time", "PSComputerName": "127.0.0.2"}, "text"]))
    result = run({"script": "Get-Service -Name W32time"}, conn)
    assert len(conn.requests) == 1
    assert conn.requests[0]["commands"] == [
        {"name": "Get-Service -Name W32time", "is_script": True, "use_local_scope": False}
    ]
    # One PSRP command: the session script, running the pipeline in the session runspace.
    assert [c["name"] for c in conn.sent[0]["commands"]] == [SESSION_RUNSPACE_SCRIPT]
    assert conn.requests[0]["session"] == "persistent"
    # Tagged like Invoke-Command's output: the inventory name, PSShowComputerName; strings untouched.
    assert result["output"] == [
        {"Name": "W32Time", "PSComputerName": "dc01", "PSShowComputerName": True},
        "text",
    ]
    assert result["changed"] is True
    assert not result.get("failed")


def test_using_and_arguments_are_parameters_not_text() -> None:
    conn = FakeConnection()
    script = 'param($a, $b) "$a $b $Using:Name"'
    run(
        {"script": script, "arguments": ["x", 2], "parameters": {"b": 3}, "using": {"Name": "O'Brien; rm"}},
        conn,
    )
    (cmd,) = conn.requests[0]["commands"]
    assert cmd["name"] == script
    assert cmd["arguments"] == ["x", 2]
    assert list(cmd["parameters"][VERBATIM_ARGUMENT].values()) == ["O'Brien; rm"]


def test_sensitive_parameters_are_typed_and_never_returned() -> None:
    conn = FakeConnection(lambda _r: ok(["echo s3cret-pw"]))
    result = run(
        {
            "script": "param($Cred, $Key) 'x'",
            "sensitive_parameters": [
                {"name": "Cred", "username": "admin", "password": "s3cret-pw"},
                {"name": "Key", "value": "k3y-value"},
            ],
        },
        conn,
    )
    params = conn.requests[0]["commands"][0]["parameters"]
    assert params["Cred"] == {"__psrp_type__": "PSCredential", "username": "admin", "password": "s3cret-pw"}
    assert params["Key"] == {"__psrp_type__": "SecureString", "value": "k3y-value"}
    text = json.dumps(result)
    assert "s3cret-pw" not in text and "k3y-value" not in text


def test_ansible_variable_round_trip() -> None:
    def responder(request: dict[str, Any]) -> dict[str, Any]:
        names = [c["name"] for c in request["commands"]]
        assert names[0] == PRELUDE and names[-1] == POSTLUDE
        marker = {"Changed": False, "Failed": False, "PSTypeNames": ["Deserialized." + STATE_TYPE_NAME]}
        return ok(["out", marker, {"answer": 42}, {}])

    conn = FakeConnection(responder)
    result = run({"script": "$Ansible.Changed = $false; $Ansible.Result = @{answer = 42}; 'out'"}, conn)
    assert result["changed"] is False
    assert result["result"] == {"answer": 42}
    assert result["output"] == ["out"]
    assert len(conn.requests) == 1


def test_terminating_error_restores_the_session() -> None:
    def responder(request: dict[str, Any]) -> dict[str, Any]:
        if request["commands"][0]["name"] == POSTLUDE:
            return ok([])
        err = {"exception": {"message": "boom"}, "error_details": None}
        return ok([], state="Failed", error=[err], had_errors=True)

    conn = FakeConnection(responder)
    result = run({"script": "throw 'boom'", "chdir": "C:\\temp"}, conn)
    assert result["failed"] is True
    assert result["msg"] == "boom"
    assert [r["commands"][0]["name"] for r in conn.requests] == [PRELUDE, POSTLUDE]


def test_check_mode_skips_scripts_without_should_process() -> None:
    conn = FakeConnection()
    result = run({"script": "Stop-Service W32Time"}, conn, check_mode=True)
    assert result["skipped"] is True
    assert conn.requests == []
    run(
        {"script": "[CmdletBinding(SupportsShouldProcess)] param() Stop-Service W32Time"},
        conn,
        check_mode=True,
    )
    assert conn.requests[0]["commands"][0]["parameters"]["WhatIf"] is True


def test_creates_skips_when_path_exists() -> None:
    conn = FakeConnection(lambda _r: ok([True]))
    result = run({"script": "New-Item C:\\x", "creates": "C:\\x"}, conn)
    assert result["skipped"] is True
    assert conn.requests[0]["commands"] == [
        {"name": "Test-Path", "parameters": {"LiteralPath": "C:\\x"}, "end_of_statement": True}
    ]


def test_remote_src_reads_the_script_on_the_target() -> None:
    def responder(request: dict[str, Any]) -> dict[str, Any]:
        if request["commands"][0]["name"] == "Get-Content":
            return ok(["'from file'"])
        return ok(["from file"])

    conn = FakeConnection(responder)
    result = run({"path": "C:\\scripts\\x.ps1", "remote_src": True}, conn)
    assert conn.requests[1]["commands"][0]["name"] == "'from file'"
    assert result["output"] == ["from file"]


def test_local_path_is_read_as_utf8_without_bom(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "s.ps1"
    script.write_bytes(b"\xef\xbb\xbf'caf\xc3\xa9'")
    monkeypatch.setattr(action_mod.ActionModule, "_find_needle", lambda self, kind, path: str(script))
    conn = FakeConnection()
    run({"path": "s.ps1"}, conn)
    assert conn.requests[0]["commands"][0]["name"] == "'café'"


def test_one_to_many_from_any_play_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """The play host's own connection does not matter (here 'local', which has no pipeline API):
    each target's settings are read from ITS host variables by the connection's option reader and
    handed to the brokers; a target with another connection and one missing from the inventory
    are reported in ``hosts``."""
    pools = {"web01": "3f1c0e0a-0000-4000-8000-0000000000eb", "sql02": "3f1c0e0a-0000-4000-8000-0000000000d2"}
    seen: dict[str, Any] = {}

    def fake_dispatch(targets: list[Any], job: Any, throttle: int, emit: Any) -> dict[str, HostOutcome]:
        seen.update(targets=dict(targets), job=job, throttle=throttle)
        out = {
            "web01": HostOutcome(
                "web01",
                "ok",
                {"changed": True, "output": [{"Name": "W32Time", "RunspaceId": pools["web01"]}]},
            ),
            "sql02": HostOutcome("sql02", "failed", {"error": [{"exception": {"message": "no"}}]}, "no"),
        }
        for name, outcome in out.items():
            emit({"type": "done", "host": name, "status": outcome.status, "objects": 1, "seconds": 0.25})
        return out

    shown: list[str] = []
    monkeypatch.setattr(action_mod, "dispatch", fake_dispatch)
    monkeypatch.setattr(action_mod.display, "display", lambda msg, *a, **k: shown.append(msg))
    account = {"ansible_user": "vagrant", "ansible_password": "pw", "ansible_psrp_auth": "ntlm"}
    hostvars = {
        "web01": {"ansible_connection": "psremoting.core.psrp", "ansible_host": "127.0.0.4",
                  "ansible_port": 40929, **account},
        "sql02": {"ansible_connection": "psremoting.core.psrp", "ansible_port": 5985, **account},
        "linux01": {"ansible_connection": "ssh", "ansible_host": "10.0.0.1"},
    }  # fmt: skip

    class LocalConnection:
        _load_name = "ansible.builtin.local"
        _shell = MagicMock(tmpdir=None)

    result = run(
        {
            "script": "Get-Service W32Time",
            "computer_name": ["web01", "sql02", "linux01", "nosuchhost"],
            "throttle_limit": 5,
            "fail_on": "all",
        },
        LocalConnection(),  # type: ignore[arg-type]
        task_vars={"inventory_hostname": "localhost", "hostvars": hostvars},
    )
    web, sql = seen["targets"]["web01"], seen["targets"]["sql02"]
    assert (web.host, web.port, web.protocol, web.user, web.auth) == (
        "127.0.0.4",
        40929,
        "https",
        "vagrant",
        "ntlm",
    )
    assert (sql.host, sql.port, sql.protocol) == ("sql02", 5985, "http")  # the inventory name is the address
    assert set(seen["targets"]) == {"web01", "sql02"} and seen["throttle"] == 5
    assert seen["job"].new_spec().script == "Get-Service W32Time"
    assert {h: v["status"] for h, v in result["hosts"].items()} == {
        "web01": "ok",
        "sql02": "failed",
        "linux01": "failed",
        "nosuchhost": "unreachable",
    }
    assert (
        "'ssh'" in result["hosts"]["linux01"]["msg"]
        and "ansible_connection" in result["hosts"]["linux01"]["msg"]
    )
    assert result["failed"] is False and result["changed"] is True  # fail_on=all and web01 is fine
    assert result["output"] == [
        {
            "Name": "W32Time",
            "RunspaceId": pools["web01"],
            "PSComputerName": "web01",
            "PSShowComputerName": True,
        }
    ]
    assert result["error"][0]["PSComputerName"] == "sql02"
    # Each host's completion is printed as it happens.
    assert "web01: ok, 1 object, 0.2 s" in shown and "sql02: failed, 1 object, 0.2 s" in shown
    assert any(line.startswith("linux01: failed, 0 objects") for line in shown)
    assert "pw" not in json.dumps(result)


def test_not_our_connection_plugin() -> None:
    class Other:
        _load_name = "ansible.builtin.psrp"
        _shell = MagicMock(tmpdir=None)

    result = run({"script": "1"}, Other())  # type: ignore[arg-type]
    assert result["failed"] and "psremoting.core.psrp" in result["msg"]


def test_temporary_session_state_and_no_cleanup_after_a_failure() -> None:
    """A temporary session is removed after the task: nothing to put back after a failure."""
    conn = FakeConnection(lambda _r: ok([], state="Failed", error=[{"exception": {"message": "boom"}}]))
    result = run({"script": "throw 'boom'", "chdir": "C:\\temp", "session_state": "temporary"}, conn)
    assert result["failed"] is True
    assert [r["session"] for r in conn.requests] == ["temporary"]


def test_helper_requests_run_in_the_pool_runspace() -> None:
    """creates/removes checks are Ansible's own work: not in the session runspace."""
    conn = FakeConnection(lambda r: ok([False]) if r["commands"][0]["name"] == "Test-Path" else ok(["ran"]))
    run({"script": "New-Item C:\\x", "creates": "C:\\x"}, conn)
    assert [r.get("session") for r in conn.requests] == [None, "persistent"]


def test_a_typo_in_an_option_names_it_and_never_shows_the_arguments() -> None:
    """A misspelt option holding a password: the task fails naming the host, the module, the
    option and the one it resembles, and the arguments (the password among them) are not in the
    error; ActionBase.validate_argument_spec attaches them to its error, which Ansible prints."""
    conn = FakeConnection()
    result = run(
        {
            "script": "param($Cred) 'x'",
            "sensitive_parameter": [{"name": "Cred", "username": "admin", "password": "typo-s3cret"}],
        },
        conn,
    )
    assert result["failed"] is True and conn.sent == []
    assert result["msg"] == (
        "dc01: psremoting.core.invoke_command has no option 'sensitive_parameter' "
        "(did you mean 'sensitive_parameters'?); nothing was sent (ansible-doc psremoting.core.invoke_command)"
    )


def test_a_typo_in_a_suboption_names_its_path() -> None:
    result = run(
        {
            "script": "'x'",
            "sensitive_parameters": [{"name": "Cred", "username": "a", "pasword": "sub-s3cret"}],
        },
        FakeConnection(),
    )
    assert "has no option 'sensitive_parameters.pasword' (did you mean 'password'?)" in result["msg"]
    assert "sub-s3cret" not in json.dumps(result)


def test_a_bad_value_fails_the_task_without_the_arguments() -> None:
    result = run(
        {"script": "'x'", "sensitive_parameters": ["Cred"], "parameters": {"Key": "in-parameters-s3cret"}},
        FakeConnection(),
    )
    assert result["failed"] is True
    assert result["msg"].startswith(
        "dc01: psremoting.core.invoke_command refuses the task, nothing was sent: "
    )
    assert "sensitive_parameters" in result["msg"] and "in-parameters-s3cret" not in json.dumps(result)


def test_a_misspelt_connection_variable_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ansible ignores an ansible_psrp_* variable no option declares; the module's task says so."""
    from ansible.utils.display import Display

    warnings: list[str] = []
    monkeypatch.setattr(Display, "warning", lambda self, msg, *a, **k: warnings.append(msg))
    run(
        {"script": "'x'"},
        FakeConnection(),
        task_vars={"inventory_hostname": "dc01", "ansible_psrp_oepration_timeout": 5},
    )
    assert warnings == [
        "dc01: ansible_psrp_oepration_timeout (did you mean ansible_psrp_operation_timeout?) is not a variable "
        "of the psremoting.core.psrp connection and is ignored (ansible-doc -t connection psremoting.core.psrp "
        "lists them)"
    ]
