"""Keep-alive, exact counters, injected faults and live configuration of the listeners."""

from __future__ import annotations

import base64
import socket
import ssl
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from pypsrp.exceptions import WinRMTransportError

from winhost.hostset import HostSet
from winhost.transport.http import build_response
from winhost.transport.testing import configure, envelope, service_of, transport


def _hostvars(hs: HostSet, name: str = "dc01") -> dict[str, Any]:
    return dict(hs.inventory()["all"]["children"]["windows"]["hosts"][name])


def _raw_https(hs: HostSet, name: str = "dc01") -> ssl.SSLSocket:
    hv = _hostvars(hs, name)
    ctx = ssl.create_default_context(cafile=hv["winhost_ca_cert"])
    raw = socket.create_connection((hv["ansible_host"], hv["winhost_https_port"]), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=hv["winhost_fqdn"])


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_keep_alive_one_connection_one_handshake_exact_counts(hostset: HostSet) -> None:
    stats = hostset.host("sql02").stats
    stats.reset()
    client = transport(hostset, "sql02", auth="ntlm")
    for _ in range(10):
        client.send(envelope("Command"))
    snap = stats.snapshot()
    assert snap["connections"] == 1
    assert snap["tls_handshakes"] == 1
    # anonymous 401 + NTLM challenge 401 + final leg carrying the first message, then 9 more.
    assert snap["http_requests"] == 12
    assert snap["http_status"] == {"401": 2, "200": 10}
    assert snap["wsman_requests"]["Command"] == 10
    assert snap["wsman_requests_total"] == 10
    assert snap["auth_failures"] == 0


def test_encrypted_http_counts_the_empty_handshake_post(hostset: HostSet) -> None:
    stats = hostset.host("sql02").stats
    stats.reset()
    client = transport(hostset, "sql02", https=False, auth="ntlm")
    for action in ("Create", "Receive", "Delete"):
        client.send(envelope(action))
    snap = stats.snapshot()
    assert snap["http_requests"] == 6  # 401, 401, empty 200, three WSMan requests
    assert snap["tls_handshakes"] == 0
    assert {k: v for k, v in snap["wsman_requests"].items() if v} == {"Create": 1, "Receive": 1, "Delete": 1}


def test_bytes_in_and_out_are_exact(hostset: HostSet, restore: None) -> None:
    configure(hostset, "sql02", auth_basic=True)
    stats = hostset.host("sql02").stats
    stats.reset()
    body = envelope("Get")
    token = base64.b64encode(b"vagrant:vagrant").decode()
    request = (
        "POST /wsman HTTP/1.1\r\nHost: sql02\r\n"
        f"Authorization: Basic {token}\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with _raw_https(hostset, "sql02") as sock:
        sock.sendall(request)
        response = _read_response(sock)
        sock.sendall(request)
        response2 = _read_response(sock)
    time.sleep(0.05)
    snap = stats.snapshot()
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert snap["bytes_in"] == 2 * len(request)
    assert snap["bytes_out"] == len(response) + len(response2)
    assert snap["wsman_requests"]["Get"] == 2


def test_responses_are_fast_with_nodelay(hostset: HostSet) -> None:
    """A Nagle/delayed-ACK stall costs ~40 ms on every request; the median shows it even on a
    busy machine, where the mean can be skewed by scheduling delays."""
    client = transport(hostset, "sql02", auth="ntlm")
    client.send(envelope("Command"))
    timings = []
    for _ in range(21):
        start = time.monotonic()
        client.send(envelope("Command"))
        timings.append(time.monotonic() - start)
    median = statistics.median(timings)
    assert median < 0.03, f"median {median * 1000:.1f} ms per request: Nagle/delayed-ACK stall?"


def test_single_send_response_framing() -> None:
    data = build_response(200, b"abc", headers=[("Content-Type", "x")])
    assert data.endswith(b"\r\n\r\nabc")
    assert b"Content-Length: 3\r\n" in data
    assert b"Server: Microsoft-HTTPAPI/2.0\r\n" in data


def test_latency_fault(hostset: HostSet, restore: None) -> None:
    client = transport(hostset, "sql02", auth="ntlm")
    client.send(envelope("Command"))
    hostset.fault("sql02", "latency", 400)
    start = time.monotonic()
    client.send(envelope("Command"))
    assert time.monotonic() - start >= 0.4
    hostset.fault("sql02", "clear")
    start = time.monotonic()
    client.send(envelope("Command"))
    assert time.monotonic() - start < 0.3


def test_shell_create_delay_applies_to_create_only(hostset: HostSet, restore: None) -> None:
    client = transport(hostset, "sql02", auth="ntlm")
    client.send(envelope("Command"))
    hostset.fault("sql02", "shell-create", 400)
    start = time.monotonic()
    client.send(envelope("Command"))
    assert time.monotonic() - start < 0.3
    start = time.monotonic()
    client.send(envelope("Create"))
    assert time.monotonic() - start >= 0.4


def test_http_error_burst(hostset: HostSet, restore: None) -> None:
    client = transport(hostset, "sql02", auth="ntlm")
    client.send(envelope("Command"))
    stats = hostset.host("sql02").stats
    stats.reset()
    hostset.fault("sql02", "http-error", 503, count=2)
    for _ in range(2):
        with pytest.raises(WinRMTransportError) as info:
            client.send(envelope("Command"))
        assert info.value.code == 503
    client.send(envelope("Command"))
    snap = stats.snapshot()
    assert snap["http_status"] == {"503": 2, "200": 1}
    assert snap["wsman_requests"]["Command"] == 3


def test_drop_next_receive(hostset: HostSet, restore: None) -> None:
    service = service_of(hostset, "sql02")
    client = transport(hostset, "sql02", auth="ntlm")
    client.send(envelope("Command"))
    hostset.fault("sql02", "drop-next-receive")
    calls = len(service.calls)
    client.send(envelope("Command"))  # only Receive is dropped
    with pytest.raises(requests.exceptions.ConnectionError):
        client.send(envelope("Receive"))
    assert len(service.calls) == calls + 1  # the dropped Receive never reached the WSMan layer
    fresh = transport(hostset, "sql02", auth="ntlm")
    assert b"SQL02\\vagrant" in fresh.send(envelope("Receive"))


def test_cut_network_loses_requests_until_it_ends(hostset: HostSet, restore: None) -> None:
    service = service_of(hostset, "sql02")
    client = transport(hostset, "sql02", auth="ntlm")
    client.send(envelope("Command"))
    hostset.fault("sql02", "cut-network", 600)
    assert hostset.host("sql02").faults.snapshot()["network_cut_ms"] > 0
    calls = len(service.calls)
    with pytest.raises(requests.exceptions.ConnectionError):  # the kept-alive connection
        client.send(envelope("Receive"))
    with pytest.raises(requests.exceptions.ConnectionError):  # a new connection
        transport(hostset, "sql02", auth="ntlm").send(envelope("Command"))
    assert len(service.calls) == calls  # nothing reached the WSMan layer during the cut
    deadline = time.monotonic() + 30
    while hostset.host("sql02").faults.network_cut() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"SQL02\\vagrant" in transport(hostset, "sql02", auth="ntlm").send(envelope("Receive"))


def test_cut_after_bytes_loses_the_request_that_crosses_the_mark(hostset: HostSet, restore: None) -> None:
    """``cut-after-bytes``: requests pass until the armed byte count is used up; the one that
    crosses it never reaches the WSMan layer and the network stays cut for the given time."""
    service = service_of(hostset, "sql02")
    client = transport(hostset, "sql02", auth="ntlm")
    client.send(envelope("Command"))
    hostset.fault("sql02", "cut-after-bytes", 600, count=200_000)
    assert hostset.host("sql02").faults.snapshot()["cut_after_bytes"] == 200_000
    calls = len(service.calls)
    client.send(envelope("Command"))  # far fewer than 200,000 bytes (request and answer)
    assert len(service.calls) == calls + 1
    assert 0 < hostset.host("sql02").faults.snapshot()["cut_after_bytes"] < 200_000
    big = envelope("Command").replace(b"</s:Body>", b"<x>" + b"a" * 250_000 + b"</x></s:Body>")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.send(big)
    assert len(service.calls) == calls + 1  # the crossing request was lost unhandled
    assert hostset.host("sql02").faults.snapshot()["network_cut_ms"] > 0
    deadline = time.monotonic() + 30
    while hostset.host("sql02").faults.network_cut() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"SQL02\\vagrant" in transport(hostset, "sql02", auth="ntlm").send(envelope("Receive"))


def test_kill_shells_and_restart(hostset: HostSet) -> None:
    service = service_of(hostset, "sql02")
    assert hostset.fault("sql02", "kill-shells")["killed"] == 3
    assert service.killed >= 1
    with _raw_https(hostset, "sql02") as sock:
        closed_before = service.closed
        time.sleep(0.05)
        result = hostset.fault("sql02", "restart")
        assert result["connections_reset"] >= 1
        assert service.closed == closed_before + 1
        sock.settimeout(5)
        with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
            sock.sendall(b"POST /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            if not sock.recv(1):
                raise ConnectionResetError("closed")
    # the machine survives: the same account still authenticates on a new connection
    assert b"SQL02\\vagrant" in transport(hostset, "sql02", auth="ntlm").send(envelope("Create"))


def test_wrong_path_and_method(hostset: HostSet) -> None:
    hv = _hostvars(hostset)
    session = requests.Session()
    session.trust_env = False
    base = f"https://{hv['ansible_host']}:{hv['winhost_https_port']}"
    assert session.post(base + "/other", verify=hv["winhost_ca_cert"]).status_code == 404
    assert session.get(base + "/wsman", verify=hv["winhost_ca_cert"]).status_code == 405


def test_certificate_names_validate(hostset: HostSet) -> None:
    hv = _hostvars(hostset)
    for server_name in (hv["ansible_host"], "dc01", hv["winhost_fqdn"]):
        ctx = ssl.create_default_context(cafile=hv["winhost_ca_cert"])
        raw = socket.create_connection((hv["ansible_host"], hv["winhost_https_port"]), timeout=5)
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    ctx = ssl.create_default_context(cafile=hv["winhost_ca_cert"])
    raw = socket.create_connection((hv["ansible_host"], hv["winhost_https_port"]), timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(raw, server_hostname="sql02.winhost.test")


# -- live configuration ------------------------------------------------------------------------


def _refused(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2) as sock:
            sock.sendall(b"POST /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            return sock.recv(1) == b""
    except (ConnectionRefusedError, ConnectionResetError):
        return True


def test_listener_disable_and_service_stop_close_the_port(hostset: HostSet) -> None:
    host = hostset.host("sql02")
    machine = host.machine
    port = host.transport.real_port(5985)
    assert port is not None and not _refused(host.address, port)
    with machine.lock:
        listener = machine.wsman.find_listener("*", "HTTP")
        assert listener is not None
        listener.enabled = False
    machine.notify("listeners")
    assert _refused(host.address, port)
    with machine.lock:
        listener.enabled = True
    machine.notify("listeners")
    assert not _refused(host.address, port)
    assert host.transport.real_port(5985) == port  # the real port is stable

    machine.set_service_status("WinRM", "Stopped")
    try:
        assert _refused(host.address, port)
        assert _refused(host.address, host.transport.real_port(5986) or 0)
    finally:
        machine.set_service_status("WinRM", "Running")
    assert b"SQL02\\vagrant" in transport(hostset, "sql02", auth="ntlm").send(envelope("Create"))


def test_service_restart_listens_again_when_the_acceptor_thread_is_starved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Restart-Service WinRM (stop, then start at once) on a loaded machine: the acceptor thread
    that closes the old listening socket runs 6 s late, longer than the 5 s winhost once waited
    for it. The start must bind the port only once the old socket is closed, or the bind fails
    (EADDRINUSE) and the host stays unreachable: the likely cause of a CI run whose third JEA
    playbook (after the first one's Restart WinRM handler) found web01 unreachable.
    A fresh host: its one listener (HTTP) is the only socket the stop closes."""
    from winhost.engine.cmdlets.services import start_service, stop_service
    from winhost.transport.server import Acceptor

    apply_pending = Acceptor._apply_pending
    starved = {"once": True}

    def late(self: Acceptor) -> None:
        if starved["once"] and any(op == "remove" for op, _, _ in self._pending):
            starved["once"] = False
            time.sleep(6)
        apply_pending(self)

    with HostSet("web07", state_dir=tmp_path / "state", preset="fresh") as hs:
        host = hs.host("web07")
        port = host.transport.real_port(5985)
        assert port is not None and not _refused(host.address, port)
        monkeypatch.setattr(Acceptor, "_apply_pending", late)
        stop_service(host.machine, "WinRM")
        start_service(host.machine, "WinRM")
        assert not starved["once"]  # the acceptor was late
        assert not _refused(host.address, port)  # answers HTTP on the same port again


def test_firewall_block_rule_resets_connections(hostset: HostSet) -> None:
    from winhost.engine.model import FirewallRule

    host = hostset.host("sql02")
    machine = host.machine
    with machine.lock:
        machine.firewall.rules.append(
            FirewallRule("block-https", "Block HTTPS", action="Block", profiles=["Any"], local_ports=["5986"])
        )
    machine.notify("firewall")
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            transport(hostset, "sql02", auth="ntlm").send(envelope("Create"))
    finally:
        with machine.lock:
            machine.firewall.rules = [r for r in machine.firewall.rules if r.name != "block-https"]
        machine.notify("firewall")
    assert b"SQL02\\vagrant" in transport(hostset, "sql02", auth="ntlm").send(envelope("Create"))


def test_new_https_listener_serves_the_stored_certificate(hostset: HostSet) -> None:
    from winhost.engine.model import FirewallRule, Listener

    host = hostset.host("sql02")
    machine = host.machine
    with machine.lock:
        # Without an allow rule the default inbound action (Block) applies to port 8443.
        machine.firewall.rules.append(
            FirewallRule("https-8443", "HTTPS 8443", profiles=["Any"], local_ports=["8443"])
        )
        machine.wsman.listeners.append(
            Listener(
                address="127.0.0.3",
                transport="HTTPS",
                port=8443,
                certificate_thumbprint=host.certificate.thumbprint,
            )
        )
    machine.notify("listeners")
    try:
        port = host.transport.real_port(8443)
        assert port is not None
        hv = _hostvars(hostset, "sql02")
        ctx = ssl.create_default_context(cafile=hv["winhost_ca_cert"])
        with ctx.wrap_socket(
            socket.create_connection((host.address, port), timeout=5), server_hostname="sql02"
        ) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der == ssl.PEM_cert_to_DER_cert(host.certificate.cert_pem.decode())
    finally:
        with machine.lock:
            machine.wsman.listeners = [x for x in machine.wsman.listeners if x.port != 8443]
            machine.firewall.rules = [r for r in machine.firewall.rules if r.name != "https-8443"]
        machine.notify("listeners")


def test_max_envelope_size_is_passed_to_the_wsman_layer(hostset: HostSet, restore: None) -> None:
    configure(hostset, "sql02", max_envelope_size_kb=150)
    transport(hostset, "sql02", auth="ntlm").send(envelope("Command"))
    assert service_of(hostset, "sql02").calls[-1][2] == 150 * 1024


def test_malformed_request_is_400_and_counted(hostset: HostSet) -> None:
    stats = hostset.host("sql02").stats
    stats.reset()
    with _raw_https(hostset, "sql02") as sock:
        sock.sendall(b"POST /wsman HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        response = _read_response(sock)
    time.sleep(0.05)
    assert response.startswith(b"HTTP/1.1 400 ")
    snap = stats.snapshot()
    assert snap["http_requests"] == 1
    assert snap["http_status"] == {"400": 1}
    assert snap["bytes_out"] == len(response)


def test_https_listener_switches_to_a_self_signed_certificate_from_the_store(hostset: HostSet) -> None:
    from winhost.engine.certs import new_self_signed_certificate

    host = hostset.host("sql02")
    machine = host.machine
    stored = new_self_signed_certificate(machine, ["sql02"])
    listener = machine.wsman.find_listener("*", "HTTPS")
    assert listener is not None
    previous = listener.certificate_thumbprint
    with machine.lock:
        listener.certificate_thumbprint = stored.thumbprint
    machine.notify("listeners")
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        port = host.transport.real_port(5986)
        assert port is not None
        with ctx.wrap_socket(socket.create_connection((host.address, port), timeout=5)) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der == ssl.PEM_cert_to_DER_cert(stored.cert_pem)
        # ...and a client validating against winhost's CA now refuses it, as it would on Windows.
        with pytest.raises(requests.exceptions.SSLError):
            transport(hostset, "sql02", auth="ntlm").send(envelope("Create"))
    finally:
        with machine.lock:
            listener.certificate_thumbprint = previous
        machine.notify("listeners")
    assert b"SQL02\\vagrant" in transport(hostset, "sql02", auth="ntlm").send(envelope("Create"))
