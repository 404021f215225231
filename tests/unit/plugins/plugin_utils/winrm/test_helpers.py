"""Pure decision logic of the WinRM modules (no connection)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ConnectionFacts
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._firewall import (
    desired_rules,
    parse_profiles,
    rule_changes,
    rule_state_from_ps,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._listener import (
    Certificate,
    certificate_problems,
    listener_from_ps,
    normalize_address,
    parse_datetime,
    self_signed_names,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._safety import service_change_problems
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._session_config import (
    build_sddl,
    dacl_aces,
    plan_session,
    same_access,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    SERVICE_SETTINGS,
    LeafValue,
    leaves_by_setting,
    normalize,
    plan_settings,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._trusted_hosts import merge_trusted_hosts

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("bool", "true", True),
        ("bool", "False", False),
        ("int", " 500 ", 500),
        ("list", "a, b,,a", ["a", "b"]),
        ("str", "relaxed", "Relaxed"),
        ("str", "*", "*"),
    ],
)
def test_normalize(kind: str, raw: str, expected: object) -> None:
    assert normalize(kind, raw) == expected  # type: ignore[arg-type]


def test_leaves_matched_by_name_when_one_is_missing() -> None:
    settings = SERVICE_SETTINGS[:3]  # Basic, Kerberos, Negotiate
    output = [{"Name": "Basic", "Value": "true"}, {"Name": "Negotiate", "Value": "false"}]
    leaves = leaves_by_setting(settings, output)
    assert leaves["auth_basic"].value == "true"
    assert "auth_kerberos" not in leaves
    assert leaves["auth_negotiate"].value == "false"


def test_plan_settings_policy_lock_names_gpo_and_key() -> None:
    current = {"auth_credssp": LeafValue("false")}
    policies = {"HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service": {"allowcredssp": 0}}
    plan = plan_settings(
        [s for s in SERVICE_SETTINGS if s.option == "auth_credssp"],
        {"auth_credssp": True},
        current,
        policies,
        host="h1",
        module="winrm_service",
    )
    assert plan.changes == []
    (msg,) = plan.locked
    assert msg.startswith("h1: winrm_service option 'auth_credssp' wants true")
    assert "Allow CredSSP authentication" in msg and "WinRM Service" in msg


def test_listener_parsing_defaults_and_lists() -> None:
    lst = listener_from_ps(
        {
            "Address": "*",
            "Transport": "https",
            "Port": "",
            "Enabled": "false",
            "CertificateThumbprint": "ab" * 20,
            "ListeningOn": "127.0.0.1, ::1",
        }
    )
    assert (lst.transport, lst.port, lst.enabled) == ("HTTPS", 5986, False)
    assert lst.certificate_thumbprint == "AB" * 20
    assert lst.listening_on == ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("*", "*"),
        ("ip:10.0.0.1", "IP:10.0.0.1"),
        ("IP:[::1]", "IP:::1"),
        ("mac:aa:bb:cc:dd:ee:ff", "MAC:AA-BB-CC-DD-EE-FF"),
    ],
)
def test_addresses(raw: str, expected: str) -> None:
    assert normalize_address(raw) == expected


def test_dotnet_datetime_with_seven_fraction_digits() -> None:
    parsed = parse_datetime("2027-03-04T05:06:07.1234567+00:00")
    assert parsed == datetime.datetime(2027, 3, 4, 5, 6, 7, 123456, tzinfo=datetime.timezone.utc)


def _cert(**kw: object) -> Certificate:
    base: dict = {
        "thumbprint": "A" * 40,
        "subject": "CN=web01",
        "issuer": "CN=web01",
        "not_before": NOW - datetime.timedelta(days=1),
        "not_after": NOW + datetime.timedelta(days=90),
        "has_private_key": True,
        "dns_names": ("web01", "web01.contoso.test"),
        "ekus": ("1.3.6.1.5.5.7.3.1",),
    }
    base.update(kw)
    return Certificate(**base)


def test_certificate_problems() -> None:
    assert certificate_problems(_cert(), NOW, ["WEB01.contoso.test"]) == []
    assert "no private key" in certificate_problems(_cert(has_private_key=False), NOW)[0]
    assert "expired" in certificate_problems(_cert(not_after=NOW), NOW)[0]
    assert "within 120 days" in certificate_problems(_cert(), NOW, renew_days=120)[0]
    assert "Server Authentication" in certificate_problems(_cert(ekus=("1.3.6.1.5.5.7.3.2",)), NOW)[0]
    assert "does not cover web02" in certificate_problems(_cert(), NOW, ["web02"])[0]
    assert certificate_problems(_cert(dns_names=("*.contoso.test",)), NOW, ["web01.contoso.test"]) == []


def test_self_signed_names() -> None:
    assert self_signed_names("web01", "contoso.test", ["web01", "alias"]) == [
        "web01",
        "web01.contoso.test",
        "alias",
    ]
    assert self_signed_names("web01", "WORKGROUP") == ["web01"]


@given(
    current=st.lists(st.sampled_from(["a", "B", "c", "*.x", "10.0.0.1"]), unique_by=str.lower),
    wanted=st.lists(st.sampled_from(["A", "b", "d", "*.X"])),
)
def test_trusted_hosts_merge_properties(current: list[str], wanted: list[str]) -> None:
    added = merge_trusted_hosts(current, wanted, "add")
    assert added[: len(current)] == current  # others kept, order kept
    assert {w.lower() for w in wanted} <= {a.lower() for a in added}
    assert merge_trusted_hosts(added, wanted, "add") == added  # idempotent
    removed = merge_trusted_hosts(current, wanted, "remove")
    assert not {r.lower() for r in removed} & {w.lower() for w in wanted}
    assert [r for r in current if r in removed] == removed


def test_profiles_parsing() -> None:
    assert parse_profiles({"String": "Domain, Private", "Value": 3}) == {"Domain", "Private"}
    assert parse_profiles(4) == {"Public"}
    assert parse_profiles(0) == {"Domain", "Private", "Public"}
    assert parse_profiles("Any") == {"Domain", "Private", "Public"}


def test_rule_changes_ignore_address_case_and_order() -> None:
    (spec,) = desired_rules(
        "http", 5985, profiles=["public"], remote_address=[], public_remote_address=["localsubnet"]
    )
    state = rule_state_from_ps(
        [
            {"Name": spec.name, "Enabled": {"String": "True"}, "Profile": 4},
            {"LocalPort": "5985"},
            {"RemoteAddress": "LocalSubnet"},
        ]
    )
    assert state is not None
    assert rule_changes(state, spec) == {}


def test_sddl_helpers() -> None:
    sddl = build_sddl(["S-1-5-32-544"], ["S-1-5-2"])
    assert sddl.startswith("O:NSG:BAD:P(D;;GA;;;S-1-5-2)(A;;GA;;;S-1-5-32-544)S:P")
    assert same_access(sddl, "O:NSG:BAD:P(A;;GA;;;BA)(D;;GA;;;NU)(D;;GA;;;WD)")
    assert not same_access(sddl, "O:NSG:BAD:P(A;;GA;;;BA)")
    assert ("A", "GA", "S-1-5-32-580") in dacl_aces("O:NSG:BAD:P(A;;GA;;;RM)S:P(AU;FA;GA;;;WD)")
    assert plan_session(None, state="present", enabled=False, sddl=None, file_changed=False) == [
        "register",
        "disable",
    ]


def test_service_safety() -> None:
    https_kerb = ConnectionFacts("https", 5986, "kerberos")
    assert service_change_problems(https_kerb, {"auth_kerberos": False, "auth_negotiate": True}) == []
    assert service_change_problems(https_kerb, {"auth_kerberos": False, "auth_negotiate": False})
    cert = ConnectionFacts("https", 5986, "certificate")
    assert service_change_problems(cert, {"auth_certificate": False})
    assert service_change_problems(ConnectionFacts(None, None, None), {"auth_basic": False}) == []


def test_listener_in_use_behind_port_mapping() -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import WinRMConfigError
    from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._listener import (
        Listener,
        check_connection_safety,
    )

    http = Listener("*", "HTTP", 5985)
    other_http = Listener("IP:10.0.0.1", "HTTP", 8080)
    listeners = [http, other_http]
    # The play reaches port 35035 (NAT / winhost mapping): every HTTP listener may be the one in use.
    mapped = ConnectionFacts("http", 35035, "ntlm")
    with pytest.raises(WinRMConfigError, match="refusing to remove the HTTP listener on \\* port 5985"):
        check_connection_safety(
            mapped, http, removing=True, new_values={}, allow_disconnect=False, host="h", listeners=listeners
        )
    # The play's port names a listener: the other one is free to go.
    direct = ConnectionFacts("http", 5985, "ntlm")
    check_connection_safety(
        direct,
        other_http,
        removing=True,
        new_values={},
        allow_disconnect=False,
        host="h",
        listeners=listeners,
    )
    with pytest.raises(WinRMConfigError, match="disable"):
        check_connection_safety(
            direct,
            http,
            removing=False,
            new_values={"Enabled": False},
            allow_disconnect=False,
            host="h",
            listeners=listeners,
        )
    check_connection_safety(
        ConnectionFacts("https", 5986, "ntlm"),
        http,
        removing=True,
        new_values={},
        allow_disconnect=False,
        host="h",
        listeners=listeners,
    )


def test_sddl_from_permission_text() -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._session_config import (
        sddl_from_permission,
        session_from_ps,
    )

    text = "NT AUTHORITY\\NETWORK AccessDenied, BUILTIN\\Administrators AccessAllowed, CONTOSO\\ops AccessAllowed"
    sddl = sddl_from_permission(text)
    assert dacl_aces(sddl) == {
        ("D", "GA", "S-1-5-2"),
        ("A", "GA", "S-1-5-32-544"),
        ("A", "GA", "CONTOSO\\OPS"),
    }
    assert sddl_from_permission("O:NSG:BAD:P(A;;GA;;;BA)") == "O:NSG:BAD:P(A;;GA;;;BA)"
    real = session_from_ps(
        {"Name": "x", "SecurityDescriptorSddl": "O:NSG:BAD:P(A;;GA;;;RM)", "Permission": text}
    )
    assert real["sddl"] == "O:NSG:BAD:P(A;;GA;;;RM)"  # Windows' own SDDL wins over the text


def test_write_controller_file(tmp_path: Any) -> None:
    from ansible_collections.psremoting.core.plugins.action.winrm_listener import write_controller_file

    dest = tmp_path / "certs" / "web01.pem"
    assert write_controller_file(str(dest), "PEM", check_mode=True) is True
    assert not dest.exists()
    assert write_controller_file(str(dest), "PEM", check_mode=False) is True
    assert dest.read_text() == "PEM" and oct(dest.stat().st_mode & 0o777) == "0o644"
    assert write_controller_file(str(dest), "PEM", check_mode=False) is False
    assert [p.name for p in dest.parent.iterdir()] == ["web01.pem"]  # no temp files left
