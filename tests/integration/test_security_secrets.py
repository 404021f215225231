"""Secrets never leak: not in output, logs, the broker's session directory, temp files or errors.

The test plants unique secrets (the connection password of a fresh account, a wrong password, a
SecureString value and a PSCredential password sent through ``invoke_command``), runs playbooks
at ``-vvvvvv`` with ``ANSIBLE_LOG_PATH`` set and ``HOME``/``TMPDIR`` pointing into a scratch
directory, then searches every byte the run produced for each secret in UTF-8, UTF-16-LE and
base64 form. The secrets themselves are only given in a vars file outside the searched tree.

It runs once per auth method: NTLM; Kerberos with ``ansible_password`` (the plugin gets the
ticket from winhost's private KDC itself, so the connection password is a Kerberos password;
``KRB5CCNAME`` points into the searched tree and must stay unwritten, and no file anywhere in it
may be a ticket cache or keytab); CredSSP (the password itself goes to the host inside CredSSP's
TLS channel; Negotiate and Kerberos are switched off on the host for that run).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from winhost.transport.kdc import REALM, kerberos_missing_reason

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01")]


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode("utf-8")
    return [
        raw,
        secret.encode("utf-16-le"),
        base64.b64encode(raw),
        base64.b64encode(secret.encode("utf-16-le")),
    ]


def _scan(blobs: dict[str, bytes], secrets: dict[str, str]) -> list[str]:
    leaks = []
    for where, data in blobs.items():
        for label, secret in secrets.items():
            for form in _forms(secret):
                if form in data:
                    leaks.append(f"{label} found in {where}")
                    break
    return leaks


def _tree(root: Path) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                blobs[str(path)] = path.read_bytes()
            except OSError:
                continue
    return blobs


# The connection password under each auth method: NTLM proves it with a hash; with Kerberos the
# plugin (pyspnego) gets a TGT from the KDC with it (kinit by password, no ticket cache given);
# CredSSP sends the password itself to the server, inside its TLS channel.
PASSWORD_LABELS = {
    "ntlm": "NTLM password",
    "kerberos": "Kerberos password",
    "credssp": "CredSSP (delegated) password",
    "negotiate": "Negotiate password",
    "basic": "Basic password",
}
# How the host with the wrong password fails, per auth method: unreachable, except Kerberos, where
# the ticket request fails before any WinRM traffic and ansible.builtin.psrp fails the task (FAILED,
# caught by ignore_errors); this plugin does the same (issue 15).
WRONG_PASSWORD_MESSAGES = {
    "ntlm": "authentication failed (HTTP 401)",
    "kerberos": "authentication failed: Kerberos could not get a ticket",
    "credssp": "authentication negotiation failed",
    "negotiate": "authentication failed (HTTP 401)",
    "basic": "authentication failed (HTTP 401)",
}
# First bytes of MIT/Heimdal credential caches (file format versions 1-4) and keytabs (0x0501,
# 0x0502): a file that starts so is a ticket cache or a keytab, whatever its name.
_KRB5_MAGIC = tuple(bytes([5, version]) for version in (1, 2, 3, 4))


def _krb5_files(blobs: dict[str, bytes]) -> list[str]:
    found = []
    for where, data in blobs.items():
        name = Path(where).name.lower()
        if data[:2] in _KRB5_MAGIC or any(word in name for word in ("krb5cc", "ccache", "keytab")):
            found.append(where)
    return found


def _set_auth(hosts: Any, name: str, **schemes: bool) -> dict[str, bool]:
    """Switch WinRM auth schemes of ``name`` on/off; returns the previous values."""
    machine = hosts.machine(name)
    with machine.lock:
        auth = machine.wsman.service.auth
        previous = {key: bool(getattr(auth, key)) for key in schemes}
        for key, value in schemes.items():
            setattr(auth, key, value)
    machine.notify("wsman")
    return previous


@pytest.fixture(params=list(PASSWORD_LABELS))
def auth_hosts(
    request: pytest.FixtureRequest, winhost: Any, winhost_factory: Any
) -> Iterator[tuple[str, Any]]:
    """(auth method, running hosts): NTLM, Negotiate and CredSSP on the module's host, Kerberos
    and Basic (HTTPS) on their own."""
    auth = str(request.param)
    if auth == "kerberos":
        reason = kerberos_missing_reason()
        if reason is not None:
            pytest.skip(f"Kerberos unavailable: {reason}")
        hosts = winhost_factory.start(hosts="dc01", kerberos=True, mode="thread")
        try:
            yield auth, hosts
        finally:
            hosts.close()  # the KDC goes too, and KRB5_CONFIG leaves this process's environment
    elif auth == "credssp":
        # CredSSP on, Negotiate and Kerberos off: the run can only authenticate with CredSSP.
        previous = _set_auth(winhost, "dc01", credssp=True, negotiate=False, kerberos=False)
        try:
            yield auth, winhost
        finally:
            _set_auth(winhost, "dc01", **previous)
    elif auth == "basic":
        # A host with an HTTPS listener (the configured preset), Basic on, Negotiate and Kerberos
        # off: the password itself is in every request's Authorization header, inside TLS.
        hosts = winhost_factory.start(hosts="dc01", preset="configured", mode="thread")
        try:
            _set_auth(hosts, "dc01", basic=True, negotiate=False, kerberos=False)
            yield auth, hosts
        finally:
            hosts.close()
    else:
        yield auth, winhost


def test_secrets_never_leak_at_maximum_verbosity(auth_hosts: tuple[str, Any], tmp_path: Path) -> None:
    auth, winhost = auth_hosts
    secrets = {
        PASSWORD_LABELS[auth]: f"PwConn-{uuid.uuid4().hex}",
        "wrong password": f"PwWrong-{uuid.uuid4().hex}",
        "SecureString value": f"PwSecure-{uuid.uuid4().hex}",
        "PSCredential password": f"PwCred-{uuid.uuid4().hex}",
    }
    # A fresh administrator whose password is the planted secret (with Kerberos, winhost adds
    # the principal sec-user@WINHOST.TEST with this password to its KDC).
    from winhost.engine.model import Account

    machine = winhost.machine("dc01")
    machine.accounts["sec-user"] = Account(
        name="sec-user", password=secrets[PASSWORD_LABELS[auth]], groups=["Administrators"]
    )
    machine.notify("accounts")

    scratch = tmp_path / "scratch"  # everything the run writes lands here and is searched
    for sub in ("home", "tmp"):
        (scratch / sub).mkdir(parents=True)
    sessions = Path(tempfile.mkdtemp(prefix="psrpsec-", dir="/tmp"))  # short: Unix socket path limit
    private = tmp_path / "private"  # user input holding the secrets (not searched)
    private.mkdir()
    # The default ticket cache of this run: anything that stored a ticket (or the password)
    # in "the" ccache would create this file.
    ccache = scratch / "krb5cc_default"

    inventory = yaml.safe_load(Path(winhost.inventory_path).read_text(encoding="utf-8"))
    hosts = inventory["all"]["children"]["windows"]["hosts"]
    base = dict(hosts["dc01"])
    base.pop("ansible_password")
    base["ansible_psrp_auth"] = auth
    if auth == "basic":  # only over TLS (message encryption needs a negotiated key)
        assert base["ansible_psrp_protocol"] == "https", "the configured preset should serve HTTPS"
    user = f"sec-user@{REALM}" if auth == "kerberos" else "sec-user"
    hosts.clear()
    hosts["good"] = dict(base, ansible_user=user)
    hosts["bad"] = dict(base, ansible_user=user)
    inv_path = private / "inventory.yml"
    inv_path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    (private / "host_vars").mkdir()
    (private / "host_vars" / "good.yml").write_text(
        yaml.safe_dump({"ansible_password": secrets[PASSWORD_LABELS[auth]]}), encoding="utf-8"
    )
    (private / "host_vars" / "bad.yml").write_text(
        yaml.safe_dump({"ansible_password": secrets["wrong password"]}), encoding="utf-8"
    )
    vars_path = private / "secrets.yml"
    vars_path.write_text(
        yaml.safe_dump(
            {"secure_value": secrets["SecureString value"], "cred_password": secrets["PSCredential password"]}
        ),
        encoding="utf-8",
    )
    playbook = private / "pb.yml"
    playbook.write_text(
        """
- hosts: good
  gather_facts: false
  tasks:
    - raw: Write-Output raw-ok
    - ansible.windows.win_ping:
    - psremoting.core.invoke_command:
        script: |
          param($Token, $Cred)
          Write-Output ("user=" + $Cred.UserName)
        sensitive_parameters:
          - name: Token
            value: "{{ secure_value }}"
          - name: Cred
            username: svc-account
            password: "{{ cred_password }}"
      register: sensitive
    - psremoting.core.invoke_command:
        command: Get-Service
        parameters: {Name: NoSuchService}
        sensitive_parameters:
          - name: Credential
            username: svc-account
            password: "{{ cred_password }}"
      ignore_errors: true
- hosts: bad
  gather_facts: false
  tasks:
    - raw: Write-Output never
      ignore_unreachable: true
      ignore_errors: true
""",
        encoding="utf-8",
    )
    log_path = scratch / "ansible.log"
    env = dict(winhost.env)
    env.update(
        {
            "HOME": str(scratch / "home"),
            "TMPDIR": str(scratch / "tmp"),
            "ANSIBLE_LOCAL_TEMP": str(scratch / "tmp"),
            "ANSIBLE_LOG_PATH": str(log_path),
            "ANSIBLE_PSRP_SESSION_DIR": str(sessions),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "KRB5CCNAME": f"FILE:{ccache}",
        }
    )
    proc = subprocess.run(
        ["ansible-playbook", "-vvvvvv", "-i", str(inv_path), str(playbook), "-e", f"@{vars_path}"],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
        cwd=str(scratch),
    )
    out = proc.stdout.decode("utf-8", "replace")
    # The run did what it should: the good host worked, the bad one was unreachable.
    assert "raw-ok" in out and "user=svc-account" in out, out[-4000:]
    bad_status = "FAILED!" if auth == "kerberos" else "UNREACHABLE!"
    assert WRONG_PASSWORD_MESSAGES[auth] in out and f"[bad]: {bad_status}" in out, out[-4000:]
    assert log_path.exists() and log_path.stat().st_size > 0
    assert "persistent sessions unavailable" not in out
    assert list(sessions.glob("broker-*.log")), "the broker did not run"
    if auth == "kerberos":
        # The plugin got a TGT with the password (AS-REQ; KRB5CCNAME named no existing cache) and
        # then the WSMAN service ticket: it was Kerberos, kinit by password, that authenticated.
        kdc_log = (Path(winhost.control["state_dir"]) / "kdc" / "kdc.log").read_text(errors="replace")
        assert f"sec-user@{REALM} for krbtgt/{REALM}@{REALM}" in kdc_log, kdc_log[-2000:]
        assert f"sec-user@{REALM} for WSMAN/dc01.winhost.test@{REALM}" in kdc_log, kdc_log[-2000:]

    blobs = {"stdout": proc.stdout, "stderr": proc.stderr}
    blobs.update(_tree(scratch))
    blobs.update(_tree(sessions))
    leaks = _scan(blobs, secrets)
    assert not leaks, leaks
    # No ticket cache or keytab was written anywhere the run could write: the TGT obtained from
    # the password stays in a MEMORY ccache of the broker process.
    assert not ccache.exists(), "a Kerberos ticket cache was written to KRB5CCNAME"
    assert not _krb5_files(blobs), _krb5_files(blobs)
    # the check can fail: the vars file we wrote does contain them
    assert _scan(_tree(private), secrets)
    json.dumps(leaks)  # keep the list serialisable for the report


def test_session_directory_and_socket_permissions(winhost: Any, tmp_path: Path) -> None:
    """Session dir 0700, socket and log 0600, even with a permissive umask."""
    sessions = Path(tempfile.mkdtemp(prefix="psrpsec-", dir="/tmp")) / "s"
    pb = tmp_path / "pb.yml"
    pb.write_text(
        "- hosts: dc01\n  gather_facts: false\n  tasks:\n    - raw: Write-Output x\n", encoding="utf-8"
    )
    env = dict(winhost.env, ANSIBLE_PSRP_SESSION_DIR=str(sessions))
    code = (
        "import os, subprocess, sys; os.umask(0); "
        "sys.exit(subprocess.run(sys.argv[1:], env=os.environ).returncode)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "ansible-playbook", "-i", str(winhost.inventory_path), str(pb)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen: dict[str, int] = {}
    try:
        while proc.poll() is None:
            for path in sessions.glob("broker-*") if sessions.exists() else []:
                try:
                    seen[path.suffix] = path.stat().st_mode & 0o777
                except FileNotFoundError:
                    continue
        out = proc.communicate(timeout=120)[0]
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert sessions.stat().st_mode & 0o777 == 0o700
    assert seen.get(".sock") == 0o600, seen
    assert seen.get(".log") == 0o600, seen
    assert seen.get(".lock") == 0o600, seen
