"""winrm_service against the fake host: four-step idempotency, GPO locks, connection safety."""

from __future__ import annotations

import pytest

from ansible_collections.psremoting.core.plugins.action import winrm_service
from ansible_collections.psremoting.core.plugins.action.winrm_service import ActionModule
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)

BASIC = "WSMan:\\localhost\\Service\\Auth\\Basic"
UNENC = "WSMan:\\localhost\\Service\\AllowUnencrypted"
POLICY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service"


def test_check_apply_verify_idempotent() -> None:
    host = FakeWindows()
    args = {"auth_basic": True, "max_envelope_size_kb": 8192, "cbt_hardening_level": "Strict"}
    checked = run_action(ActionModule, args, host, check_mode=True)
    assert checked["changed"] is True
    assert host.changes() == []
    assert checked["diff"]["before"]["auth_basic"] is False
    assert checked["diff"]["after"]["auth_basic"] is True
    assert checked["diff"]["after"]["cbt_hardening_level"] == "Strict"

    applied = run_action(ActionModule, args, host)
    assert applied["changed"] is True
    assert sorted(applied["changes"]) == ["auth_basic", "cbt_hardening_level", "max_envelope_size_kb"]
    assert host.wsman[BASIC] == "true"
    assert host.wsman["WSMan:\\localhost\\MaxEnvelopeSizekb"] == "8192"
    assert host.wsman["WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel"] == "Strict"

    host.log.clear()
    again = run_action(ActionModule, args, host)
    assert again["changed"] is False
    assert host.changes() == []


def test_set_item_is_typed_and_forced() -> None:
    host = FakeWindows()
    run_action(ActionModule, {"auth_basic": True}, host)
    (change,) = host.changes()
    assert change == {"name": "Set-Item", "parameters": {"Path": BASIC, "Value": True, "Force": True}}


def test_gpo_registry_value_blocks_change_with_clear_message() -> None:
    host = FakeWindows(policies={POLICY: {"AllowUnencryptedTraffic": 0}})
    result = run_action(ActionModule, {"allow_unencrypted": True}, host, options={"protocol": "https"})
    assert result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("web01: winrm_service option 'allow_unencrypted'")
    assert "AllowUnencryptedTraffic = 0" in msg
    assert "Allow unencrypted traffic" in msg
    assert host.changes() == []


def test_gpo_source_of_value_blocks_change() -> None:
    host = FakeWindows(gpo_paths={BASIC})
    result = run_action(ActionModule, {"auth_basic": True}, host)
    assert result["failed"] is True
    assert "SourceOfValue is GPO" in result["msg"]


def test_gpo_locked_setting_already_as_desired_is_fine() -> None:
    host = FakeWindows(policies={POLICY: {"AllowBasic": 0}}, gpo_paths={BASIC})
    result = run_action(ActionModule, {"auth_basic": False}, host)
    assert result.get("failed") is not True
    assert result["changed"] is False


def test_refuses_disabling_auth_in_use() -> None:
    host = FakeWindows()
    result = run_action(
        ActionModule, {"auth_negotiate": False, "auth_kerberos": False}, host, options={"auth": "ntlm"}
    )
    assert result["failed"] is True
    assert "authenticates with ntlm" in result["msg"]
    assert "allow_disconnect=true" in result["msg"]
    assert host.changes() == []


def test_disabling_kerberos_only_is_fine_while_negotiate_remains() -> None:
    host = FakeWindows()
    result = run_action(ActionModule, {"auth_kerberos": False}, host, options={"auth": "kerberos"})
    assert result.get("failed") is not True
    assert host.wsman["WSMan:\\localhost\\Service\\Auth\\Kerberos"] == "false"


def test_basic_over_http_needs_allow_unencrypted() -> None:
    host = FakeWindows()
    host.wsman[BASIC] = "true"
    host.wsman[UNENC] = "true"
    result = run_action(
        ActionModule,
        {"allow_unencrypted": False},
        host,
        options={"auth": "basic", "protocol": "http", "port": 5985, "message_encryption": "never"},
    )
    assert result["failed"] is True
    assert "Basic over HTTP" in result["msg"]
    forced = run_action(
        ActionModule,
        {"allow_unencrypted": False, "allow_disconnect": True},
        host,
        options={"auth": "basic", "protocol": "http", "port": 5985, "message_encryption": "never"},
    )
    assert forced["changed"] is True
    assert host.wsman[UNENC] == "false"


def test_service_start_mode_and_state() -> None:
    host = FakeWindows(service={"Status": "Stopped", "StartType": "Manual"})
    args = {"start_mode": "automatic", "state": "started"}
    checked = run_action(ActionModule, args, host, check_mode=True)
    assert checked["changed"] is True and host.changes() == []
    applied = run_action(ActionModule, args, host)
    assert applied["changed"] is True
    assert host.service == {"Status": "Running", "StartType": "Automatic"}
    assert run_action(ActionModule, args, host)["changed"] is False


def test_stopping_service_refused() -> None:
    host = FakeWindows()
    result = run_action(ActionModule, {"state": "stopped"}, host)
    assert result["failed"] is True
    assert "stopping WinRM" in result["msg"]
    assert host.service["Status"] == "Running"


def test_restart_survives_lost_connection() -> None:
    host = FakeWindows()
    real = host.invoke_pipeline

    def dropping(request: dict) -> dict:
        if request["commands"][0]["name"] == "Restart-Service":
            raise ConnectionResetError("connection reset by peer")
        return real(request)

    host.invoke_pipeline = dropping  # type: ignore[method-assign]
    result = run_action(ActionModule, {"state": "restarted"}, host)
    assert result["changed"] is True
    assert result["connection_lost"] is True


def _restarting_host(answers_after: int) -> tuple[FakeWindows, list[str]]:
    """A host whose Restart-Service WinRM cuts the session off and whose WinRM then refuses
    `answers_after` connections before it answers again; the list records each request."""
    host = FakeWindows()
    real = host.invoke_pipeline
    sent: list[str] = []

    def restarting(request: dict) -> dict:
        name = request["commands"][0]["name"]
        sent.append(name)
        if name == "Restart-Service":
            raise ConnectionResetError("connection reset by peer")
        tries = len(sent) - sent.index("Restart-Service") - 1 if "Restart-Service" in sent else 0
        if name == "Get-Service" and 0 < tries <= answers_after:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return real(request)

    host.invoke_pipeline = restarting  # type: ignore[method-assign]
    return host, sent


def test_restart_waits_until_winrm_answers_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """WinRM stops at once and starts later (on a slow host, seconds later): the task returns
    only once a new session answers, so the next task does not find the host unreachable."""
    monkeypatch.setattr(winrm_service, "RESTART_POLL", 0.0)
    host, sent = _restarting_host(answers_after=3)
    result = run_action(ActionModule, {"state": "restarted"}, host)
    assert result["changed"] is True and result["connection_lost"] is True, result
    assert sent[sent.index("Restart-Service") :] == ["Restart-Service"] + ["Get-Service"] * 4


def test_restart_fails_clearly_when_winrm_does_not_answer_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winrm_service, "RESTART_POLL", 0.0)
    monkeypatch.setattr(winrm_service, "RESTART_WAIT", 0)
    host, _sent = _restarting_host(answers_after=1000)
    result = run_action(ActionModule, {"state": "restarted"}, host)
    assert result["failed"] is True
    assert "restarted WinRM, which did not answer again within 0 s" in result["msg"], result
    assert "ConnectionRefusedError" in result["msg"]


def test_missing_setting_is_reported() -> None:
    host = FakeWindows()
    del host.wsman["WSMan:\\localhost\\Service\\Auth\\CredSSP"]
    result = run_action(ActionModule, {"auth_credssp": False}, host)
    assert result["failed"] is True
    assert "does not exist on this host" in result["msg"]


def test_refuses_an_ip_filter_that_leaves_out_the_address_in_use() -> None:
    """Windows accepts any IPv4Filter; one without the address the play connects to cuts the play off."""
    host = FakeWindows()
    options = {"remote_addr": "10.1.2.3"}
    refused = run_action(ActionModule, {"ipv4_filter": "10.9.0.1-10.9.0.9"}, host, options=options)
    assert refused["failed"] is True and "10.1.2.3" in refused["msg"] and "allow_disconnect" in refused["msg"]
    assert host.changes() == []
    ok = run_action(ActionModule, {"ipv4_filter": "10.1.0.1-10.1.9.9"}, host, options=options)
    assert (
        ok["changed"] is True and host.wsman["WSMan:\\localhost\\Service\\IPv4Filter"] == "10.1.0.1-10.1.9.9"
    )
    by_name = run_action(ActionModule, {"ipv4_filter": "10.9.0.1"}, host, options={"remote_addr": "web01"})
    assert by_name["changed"] is True  # a host name cannot be checked from the controller


def test_settings_dictionary_is_the_same_as_the_options() -> None:
    """`settings` (a dictionary, e.g. from a group variable or the role) gets the options' type
    conversion and checks; a null value leaves the setting alone."""
    by_option, by_dict = FakeWindows(), FakeWindows()
    run_action(ActionModule, {"auth_basic": True, "max_envelope_size_kb": 8192}, by_option)
    result = run_action(
        ActionModule,
        {"settings": {"auth_basic": "yes", "max_envelope_size_kb": "8192", "idle_timeout_ms": None}},
        by_dict,
    )
    assert result["changed"] is True and sorted(result["changes"]) == ["auth_basic", "max_envelope_size_kb"]
    assert by_dict.changes() == by_option.changes()


def test_settings_dictionary_refusals_change_nothing() -> None:
    cases = {
        "unknown": (
            {"settings": {"auth_basik": True}},
            "unknown setting(s) auth_basik; allowed: auth_basic,",
        ),
        "twice": ({"auth_basic": True, "settings": {"auth_basic": False}}, "auth_basic also given as option"),
        "not a dict": ({"settings": "auth_basic=true"}, "expected a dictionary"),
        "bad value": ({"settings": {"max_envelope_size_kb": 0}}, "max_envelope_size_kb"),
    }
    for name, (args, text) in cases.items():
        host = FakeWindows()
        result = run_action(ActionModule, args, host)
        assert result["failed"] is True, name
        assert result["msg"].startswith("web01: winrm_service") and text in result["msg"], (
            name,
            result["msg"],
        )
        assert host.changes() == [], name
