"""Transport security against winhost: TLS certificates are validated by default, a wrong CA fails,
and Basic auth over plain HTTP is refused before anything is sent unless explicitly allowed.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_runner import playbook_env, run_playbook

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="tls01", preset="configured")]

HOST = "tls01"


def _other_ca(path: Path) -> Path:
    """A self-signed CA that did not issue the host's certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not The Winhost CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _run(winhost: Any, tmp_path: Path, hostvars: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    inventory = yaml.safe_load(Path(winhost.inventory_path).read_text(encoding="utf-8"))
    hosts = inventory["all"]["children"]["windows"]["hosts"]
    base = {k: v for k, v in hosts[HOST].items() if v is not None}
    base.update(hostvars)
    for key in [k for k, v in base.items() if v is None]:
        del base[key]
    hosts[HOST] = base
    inv = tmp_path / "inv.yml"
    inv.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    pb = tmp_path / "pb.yml"
    pb.write_text(
        f"- hosts: {HOST}\n  gather_facts: false\n  tasks:\n    - raw: Write-Output reached\n",
        encoding="utf-8",
    )
    # no system CA bundle knows the winhost CA either: the default trust store must refuse it
    return run_playbook(inv, pb, env=playbook_env(winhost.env, REQUESTS_CA_BUNDLE=""), timeout=300)


def _result(data: dict[str, Any]) -> dict[str, Any]:
    return dict(data["plays"][0]["tasks"][0]["hosts"][HOST])


def _quiet(winhost: Any) -> None:
    """Wait until earlier runs' brokers have deleted their shells, then zero the counters."""
    deadline = time.monotonic() + 120
    while int(winhost.stats(HOST)["shells_open"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    winhost.reset_stats(HOST)


def _https(winhost: Any) -> dict[str, Any]:
    hv = winhost.hostvars(HOST)
    assert hv["ansible_psrp_protocol"] == "https", "the configured preset should serve HTTPS"
    return hv


def test_https_with_the_right_ca_works(winhost: Any, tmp_path: Path) -> None:
    _https(winhost)
    rc, data, out = _run(winhost, tmp_path, {})
    assert rc == 0, out
    assert _result(data)["stdout_lines"] == ["reached"]


def test_validation_is_on_by_default(winhost: Any, tmp_path: Path) -> None:
    """No ca_cert and no cert_validation variable: the default trust store refuses the test CA."""
    _https(winhost)
    _quiet(winhost)
    rc, data, out = _run(
        winhost, tmp_path, {"ansible_psrp_ca_cert": None, "ansible_psrp_cert_validation": None}
    )
    assert rc == 4, out
    assert "not trusted" in _result(data)["msg"]
    assert winhost.stats(HOST)["wsman_requests_total"] == 0  # nothing was sent over the bad channel


def test_a_wrong_ca_fails(winhost: Any, tmp_path: Path) -> None:
    _https(winhost)
    other = _other_ca(tmp_path / "other-ca.pem")
    _quiet(winhost)
    rc, data, out = _run(winhost, tmp_path, {"ansible_psrp_ca_cert": str(other)})
    assert rc == 4, out
    msg = _result(data)["msg"]
    assert "not trusted" in msg and "ansible_psrp_ca_cert" in msg
    assert winhost.stats(HOST)["wsman_requests_total"] == 0


def test_basic_over_http_is_refused_before_connecting(winhost: Any, tmp_path: Path) -> None:
    hv = winhost.hostvars(HOST)
    _quiet(winhost)
    rc, data, out = _run(
        winhost,
        tmp_path,
        {
            "ansible_psrp_protocol": "http",
            "ansible_port": hv["winhost_http_port"],
            "ansible_psrp_auth": "basic",
        },
    )
    assert rc != 0, out
    msg = _result(data)["msg"]
    assert "cannot encrypt messages over http" in msg and "message_encryption=never" in msg
    assert winhost.stats(HOST)["http_requests"] == 0
