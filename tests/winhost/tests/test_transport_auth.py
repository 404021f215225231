"""Authentication of winhost's WinRM listeners, driven by pypsrp's real HTTP transport.

Defaults checked against "Installation and configuration for Windows Remote Management"
(learn.microsoft.com/windows/win32/winrm/installation-and-configuration-for-windows-remote-management):
Basic and CredSSP off, Negotiate and Kerberos on; Basic over HTTP needs AllowUnencrypted.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import types
from collections.abc import Iterator
from typing import Any

import pytest
import spnego
from pypsrp.exceptions import AuthenticationError
from spnego.exceptions import SpnegoError

from winhost.hostset import HostSet
from winhost.transport.auth import NtlmStore, _ntlm_file, _ntlm_hashes
from winhost.transport.kdc import kerberos_missing_reason
from winhost.transport.testing import RecordingService, configure, envelope, service_of, transport


def _post(
    hs: HostSet, name: str, headers: dict[str, str], body: bytes = b"", https: bool = True
) -> http.client.HTTPResponse:
    hostvars = hs.inventory()["all"]["children"]["windows"]["hosts"][name]
    if https:
        ctx = ssl.create_default_context(cafile=hostvars["winhost_ca_cert"])
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            hostvars["ansible_host"], hostvars["winhost_https_port"], context=ctx, timeout=10
        )
    else:
        conn = http.client.HTTPConnection(hostvars["ansible_host"], hostvars["winhost_http_port"], timeout=10)
    conn.request("POST", "/wsman", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_401_lists_the_enabled_methods_of_a_fresh_host(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_basic=False, auth_credssp=False)
    response = _post(hostset, "dc01", {"Content-Type": "application/soap+xml;charset=UTF-8"})
    assert response.status == 401
    assert response.headers.get_all("WWW-Authenticate") == ["Negotiate", "Kerberos"]


def test_401_lists_basic_and_credssp_once_enabled(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_basic=True, auth_credssp=True)
    response = _post(hostset, "dc01", {})
    assert response.headers.get_all("WWW-Authenticate") == [
        "Negotiate",
        "Kerberos",
        'Basic realm="WSMAN"',
        "CredSSP",
    ]


@pytest.mark.parametrize("https", [True, False], ids=["https", "http-encrypted"])
def test_ntlm_authenticates_and_reports_the_local_user(hostset: HostSet, https: bool) -> None:
    service = service_of(hostset, "dc01")
    before = len(service.calls)
    response = transport(hostset, https=https, auth="ntlm").send(envelope("Create"))
    assert b"<user>DC01\\vagrant</user>" in response
    user, body, limit = service.calls[before]
    assert user == "DC01\\vagrant"
    assert body == envelope("Create")  # decrypted before it reaches the WSMan layer
    assert limit == 500 * 1024


@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "credssp", "basic"])
def test_wrong_password_is_401(hostset: HostSet, restore: None, auth: str) -> None:
    configure(hostset, "dc01", auth_basic=True, auth_credssp=True)
    client = transport(hostset, auth=auth, password="not-the-password")
    failures = hostset.host("dc01").stats.snapshot()["auth_failures"]
    with pytest.raises(Exception) as info:
        client.send(envelope("Create"))
    # pypsrp maps a 401 to AuthenticationError; CredSSP reports the NTSTATUS the server sent.
    assert (
        isinstance(info.value, AuthenticationError)
        or "0x8009030c" in str(info.value)
        or "8009030c" in repr(info.value)
    )
    assert hostset.host("dc01").stats.snapshot()["auth_failures"] > failures


def test_unknown_user_is_401(hostset: HostSet) -> None:
    with pytest.raises(AuthenticationError):
        transport(hostset, auth="ntlm", user="nobody", password="vagrant").send(envelope("Create"))


def test_basic_disabled_is_401_then_enabled_works_over_https(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_basic=False)
    with pytest.raises(AuthenticationError):
        transport(hostset, auth="basic").send(envelope("Create"))
    configure(hostset, "dc01", auth_basic=True)
    assert b"<user>DC01\\vagrant</user>" in transport(hostset, auth="basic").send(envelope("Create"))


def test_basic_over_http_needs_allow_unencrypted(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_basic=True, allow_unencrypted=False)
    token = base64.b64encode(b"vagrant:vagrant").decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/soap+xml;charset=UTF-8"}
    assert _post(hostset, "dc01", headers, envelope("Create"), https=False).status == 401
    configure(hostset, "dc01", allow_unencrypted=True)
    assert _post(hostset, "dc01", headers, envelope("Create"), https=False).status == 200
    client = transport(hostset, https=False, auth="basic", encryption="never")
    assert b"DC01\\vagrant" in client.send(envelope("Create"))


@pytest.mark.parametrize("https", [True, False], ids=["https", "http-encrypted"])
def test_credssp(hostset: HostSet, restore: None, https: bool) -> None:
    configure(hostset, "dc01", auth_credssp=True)
    client = transport(hostset, https=https, auth="credssp")
    assert b"<user>DC01\\vagrant</user>" in client.send(envelope("Create"))
    assert b"<user>DC01\\vagrant</user>" in client.send(envelope("Command"))


def test_credssp_disabled_is_refused(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_credssp=False)
    from requests_credssp.exceptions import AuthenticationException

    with pytest.raises(AuthenticationException, match="CredSSP being an available authentication method"):
        transport(hostset, auth="credssp").send(envelope("Create"))


def test_negotiate_disabled_is_refused(hostset: HostSet, restore: None) -> None:
    configure(hostset, "dc01", auth_negotiate=False)
    # Only Kerberos is offered now; pypsrp refuses to send NTLM inside it.
    with pytest.raises(ValueError, match="incompatible with the specified auth_provider 'ntlm'"):
        transport(hostset, auth="ntlm").send(envelope("Create"))


def test_client_certificate_maps_to_the_account(hostset: HostSet, restore: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert hostset.ca is not None
    issued = hostset.ca.issue_client("vagrant")
    client = transport(
        hostset,
        auth="certificate",
        certificate_pem=str(issued.cert_path),
        certificate_key_pem=str(issued.key_path),
    )
    configure(hostset, "dc01", auth_certificate=False)
    with pytest.raises(AuthenticationError):
        client.send(envelope("Create"))
    configure(hostset, "dc01", auth_certificate=True)
    client = transport(
        hostset,
        auth="certificate",
        certificate_pem=str(issued.cert_path),
        certificate_key_pem=str(issued.key_path),
    )
    assert b"<user>DC01\\vagrant</user>" in client.send(envelope("Create"))
    stranger = hostset.ca.issue_client("stranger")
    client = transport(
        hostset,
        auth="certificate",
        certificate_pem=str(stranger.cert_path),
        certificate_key_pem=str(stranger.key_path),
    )
    with pytest.raises(AuthenticationError):
        client.send(envelope("Create"))


def test_removed_account_loses_its_authenticated_connection(hostset: HostSet) -> None:
    from winhost.engine.model import Account

    machine = hostset.host("sql02").machine
    with machine.lock:
        machine.accounts["temp"] = Account("temp", "Temp!Passw0rd1")
    machine.notify("accounts")
    client = transport(hostset, "sql02", auth="ntlm", user="temp", password="Temp!Passw0rd1")
    assert b"SQL02\\temp" in client.send(envelope("Create"))
    with machine.lock:
        del machine.accounts["temp"]
    machine.notify("accounts")
    with pytest.raises(AuthenticationError):
        client.send(envelope("Create"))


KERBEROS_SKIP = kerberos_missing_reason()


@pytest.fixture(scope="module")
def khs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostSet]:
    """One host with a private KDC (principals WSMAN/ and host/web01.winhost.test)."""
    directory = tmp_path_factory.mktemp("kerberos")
    hs = HostSet(
        "web01",
        state_dir=directory / "state",
        preset="configured",
        kerberos=True,
        handler_factory=RecordingService,
    )
    hs.start()
    hs.write_inventory(directory / "inv.yml")
    yield hs
    hs.close()


@pytest.mark.skipif(KERBEROS_SKIP is not None, reason=f"Kerberos unavailable: {KERBEROS_SKIP}")
class TestKerberos:
    @pytest.mark.parametrize("service", ["WSMAN", "host"])
    @pytest.mark.parametrize("https", [True, False], ids=["https", "http-encrypted"])
    def test_kerberos_with_both_spns(self, khs: HostSet, https: bool, service: str) -> None:
        fqdn = khs.host("web01").fqdn
        client = transport(
            khs,
            "web01",
            https=https,
            auth="kerberos",
            negotiate_hostname_override=fqdn,
            negotiate_service=service,
        )
        assert b"<user>WINHOST\\vagrant</user>" in client.send(envelope("Create"))
        assert b"<user>WINHOST\\vagrant</user>" in client.send(envelope("Command"))

    def test_negotiate_picks_kerberos(self, khs: HostSet) -> None:
        fqdn = khs.host("web01").fqdn
        client = transport(khs, "web01", auth="negotiate", negotiate_hostname_override=fqdn)
        assert b"<user>WINHOST\\vagrant</user>" in client.send(envelope("Create"))

    def test_kerberos_wrong_password(self, khs: HostSet) -> None:
        fqdn = khs.host("web01").fqdn
        client = transport(khs, "web01", auth="kerberos", password="wrong", negotiate_hostname_override=fqdn)
        with pytest.raises(Exception, match=r"(?i)preauth|password|integrity|decrypt"):
            client.send(envelope("Create"))

    def test_inventory_names_the_spn_host(self, khs: HostSet) -> None:
        hostvars = khs.inventory()["all"]["children"]["windows"]["hosts"]["web01"]
        assert hostvars["ansible_psrp_auth"] == "kerberos"
        assert hostvars["ansible_psrp_negotiate_hostname_override"] == "web01.winhost.test"
        assert hostvars["ansible_user"] == "vagrant@WINHOST.TEST"
        assert hostvars["winhost_krb5_config"].endswith("krb5.conf")


@pytest.mark.skipif(KERBEROS_SKIP is not None, reason=f"Kerberos unavailable: {KERBEROS_SKIP}")
def test_kerberos_follows_a_new_account(khs: HostSet) -> None:
    from winhost.engine.model import Account

    machine = khs.host("web01").machine
    with machine.lock:
        machine.accounts["kuser"] = Account("kuser", "Kuser!Passw0rd1")
    machine.notify("accounts")
    fqdn = khs.host("web01").fqdn
    client = transport(
        khs, "web01", auth="kerberos", user="kuser@WINHOST.TEST", password="Kuser!Passw0rd1",
        negotiate_hostname_override=fqdn,
    )  # fmt: skip
    assert b"<user>WINHOST\\kuser</user>" in client.send(envelope("Create"))


def test_ntlm_store_keeps_hashes_not_passwords(tmp_path: Any) -> None:
    """The per-host NTLM user file holds each account's LM/NT hashes (smbpasswd form, computed once
    per change), never the password; pyspnego's acceptor authenticates against it."""
    store = NtlmStore(tmp_path / "ntlm_users")
    config = types.SimpleNamespace(accounts={"vagrant": "Secr3t:pass"}, computer_name="DC01")
    store.update(config)  # type: ignore[arg-type]
    text = (tmp_path / "ntlm_users").read_text(encoding="utf-8")
    assert "Secr3t" not in text
    assert [line.split(":")[0] for line in text.splitlines()] == ["vagrant", ".\\vagrant", "DC01\\vagrant"]
    with _ntlm_file(store.path):
        for user in ("vagrant", "DC01\\vagrant"):
            client = spnego.client(user, "Secr3t:pass", protocol="ntlm")
            server = spnego.server(protocol="ntlm")
            server.step(client.step(server.step(client.step())))
            assert client.complete and server.complete
        wrong = spnego.client("vagrant", "nope", protocol="ntlm")
        server = spnego.server(protocol="ntlm")
        with pytest.raises(SpnegoError):
            server.step(wrong.step(server.step(wrong.step())))


def test_ntlm_store_derives_the_hashes_once_per_change(tmp_path: Any, monkeypatch: Any) -> None:
    """update() runs on every authentication leg; the LM hash (a pure-Python DES) is derived again
    only when the host's accounts change, and the file then holds the new hash."""
    derived: list[str] = []
    original = spnego._ntlm.lmowfv1

    def counting(password: str) -> bytes:
        derived.append(password)
        return original(password)

    monkeypatch.setattr(spnego._ntlm, "lmowfv1", counting)
    _ntlm_hashes.cache_clear()
    store = NtlmStore(tmp_path / "ntlm_users")
    config = types.SimpleNamespace(accounts={"vagrant": "Secr3t:pass"}, computer_name="DC01")
    for _leg in range(3):
        store.update(config)  # type: ignore[arg-type]
    assert len(derived) == 1
    # another host with the same account password: its own file, the same derivation
    other = NtlmStore(tmp_path / "ntlm_users_web01")
    other.update(types.SimpleNamespace(accounts={"vagrant": "Secr3t:pass"}, computer_name="WEB01"))  # type: ignore[arg-type]
    assert len(derived) == 1 and "WEB01\\vagrant" in (tmp_path / "ntlm_users_web01").read_text(
        encoding="utf-8"
    )
    before = (tmp_path / "ntlm_users").read_text(encoding="utf-8")
    config.accounts = {"vagrant": "0ther:pass"}
    store.update(config)  # type: ignore[arg-type]
    store.update(config)  # type: ignore[arg-type]
    assert len(derived) == 2
    assert (tmp_path / "ntlm_users").read_text(encoding="utf-8") != before
    (tmp_path / "ntlm_users").unlink()  # the file went: written again
    store.update(config)  # type: ignore[arg-type]
    assert (tmp_path / "ntlm_users").exists()
