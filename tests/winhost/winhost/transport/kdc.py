"""A private MIT Kerberos KDC for the simulated hosts (Debian's krb5-kdc).

Realm ``WINHOST.TEST``; every host ``<name>`` gets the service principals
``WSMAN/<name>.winhost.test`` (what ansible.builtin.psrp asks for) and
``host/<name>.winhost.test`` (pypsrp's default), exported to one keytab that the acceptor
reads through ``KRB5_KTNAME``. Accounts become ``<account>@WINHOST.TEST``.

The client side needs ``KRB5_CONFIG`` pointing at the generated ``krb5.conf``, which sets
``rdns = false`` and ``dns_canonicalize_hostname = false`` so that the SPN comes from the
name the client was given (``negotiate_hostname_override``), not from reverse DNS of the
loopback address. Passwords reach ``kadmin.local`` on its standard input, never on a
command line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

REALM = "WINHOST.TEST"
DNS_SUFFIX = "winhost.test"


class KerberosUnavailable(RuntimeError):
    """The MIT KDC binaries are not installed."""


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    return None


def kerberos_missing_reason() -> str | None:
    """Why a KDC cannot be started here, or None when it can."""
    missing = [b for b in ("krb5kdc", "kdb5_util", "kadmin.local") if not find_binary(b)]
    if missing:
        return f"MIT Kerberos KDC binaries not found ({', '.join(missing)}); install Debian's krb5-kdc and krb5-admin-server"
    if importlib.util.find_spec("gssapi") is None:
        return "python-gssapi is not installed (pip install 'pyspnego[kerberos]', needs libkrb5-dev)"
    return None


def _free_port(address: str) -> int:
    """A port free for both TCP and UDP on ``address``."""
    for _ in range(50):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind((address, 0))
        port = int(tcp.getsockname()[1])
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((address, port))
        except OSError:
            continue
        finally:
            udp.close()
            tcp.close()
        return port
    raise RuntimeError("no free port for the KDC")


class KDC:
    """Create, populate and run a KDC in ``directory``."""

    def __init__(self, directory: Path, address: str = "127.0.0.1", realm: str = REALM) -> None:
        reason = kerberos_missing_reason()
        if reason and not find_binary("krb5kdc"):
            raise KerberosUnavailable(reason)
        self.directory = Path(directory)
        self.address = address
        self.realm = realm
        self.port = 0
        self.krb5_conf = self.directory / "krb5.conf"
        self.kdc_conf = self.directory / "kdc.conf"
        self.keytab = self.directory / "winhost.keytab"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Variables a client (and the acceptor) needs."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KTNAME": f"FILE:{self.keytab}"}

    def _tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["KRB5_KDC_PROFILE"] = str(self.kdc_conf)
        return env

    def _write_configs(self) -> None:
        d = self.directory
        self.kdc_conf.write_text(
            "[kdcdefaults]\n"
            f"    kdc_listen = {self.address}:{self.port}\n"
            f"    kdc_tcp_listen = {self.address}:{self.port}\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        database_name = {d}/principal\n"
            f"        key_stash_file = {d}/stash\n"
            f"        acl_file = {d}/kadm5.acl\n"
            "        max_life = 24h 0m 0s\n"
            "        max_renewable_life = 7d 0h 0m 0s\n"
            "        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
            "    }\n"
            "[logging]\n"
            f"    kdc = FILE:{d}/kdc.log\n"
        )
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f"    default_realm = {self.realm}\n"
            "    dns_lookup_realm = false\n"
            "    dns_lookup_kdc = false\n"
            "    rdns = false\n"
            "    dns_canonicalize_hostname = false\n"
            "    ignore_acceptor_hostname = true\n"
            "    forwardable = true\n"
            "    udp_preference_limit = 1\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        kdc = {self.address}:{self.port}\n"
            "    }\n"
            "[domain_realm]\n"
            f"    .{DNS_SUFFIX} = {self.realm}\n"
            f"    {DNS_SUFFIX} = {self.realm}\n"
        )
        (d / "kadm5.acl").write_text(f"*/admin@{self.realm} *\n")

    def _kadmin(self, commands: Iterable[str]) -> None:
        script = "\n".join(commands) + "\nquit\n"
        kadmin = find_binary("kadmin.local") or "kadmin.local"
        result = subprocess.run(  # fixed binary, commands on stdin
            [kadmin, "-r", self.realm],
            input=script.encode(),
            env=self._tool_env(),
            capture_output=True,
            check=False,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kadmin.local failed with rc={result.returncode}")

    def setup(self, hosts: Iterable[str], accounts: dict[str, str]) -> None:
        """Create the database (once), add principals, export the keytab."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port(self.address)
        self._write_configs()
        if not (self.directory / "principal").exists():
            kdb5_util = find_binary("kdb5_util") or "kdb5_util"
            subprocess.run(
                [kdb5_util, "create", "-s", "-r", self.realm, "-P", secrets.token_urlsafe(24)],
                env=self._tool_env(),
                capture_output=True,
                check=True,
                timeout=120,
            )
        commands: list[str] = []
        for name, password in accounts.items():
            # change_password keeps an existing principal in sync with the model's password.
            commands.append(f"addprinc -pw {password} {name}")
            commands.append(f"cpw -pw {password} {name}")
        if self.keytab.exists():
            self.keytab.unlink()
        for host in hosts:
            fqdn = f"{host}.{DNS_SUFFIX}"
            for service in ("WSMAN", "host", "HTTP"):
                commands.append(f"addprinc -randkey {service}/{fqdn}")
                commands.append(f"ktadd -k {self.keytab} {service}/{fqdn}")
        self._kadmin(commands)

    def sync_accounts(self, accounts: dict[str, str]) -> None:
        """Add or re-key user principals after the model's accounts changed."""
        commands: list[str] = []
        for name, password in accounts.items():
            commands.append(f"addprinc -pw {password} {name}")
            commands.append(f"cpw -pw {password} {name}")
        if commands:
            self._kadmin(commands)

    def start(self) -> None:
        krb5kdc = find_binary("krb5kdc")
        if not krb5kdc:
            raise KerberosUnavailable("krb5kdc binary not found")
        self._process = subprocess.Popen(
            [krb5kdc, "-n", "-r", self.realm],
            env=self._tool_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60  # generous: a loaded CI machine starts processes slowly
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"krb5kdc exited with rc={self._process.returncode}; see {self.directory}/kdc.log"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.address, self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("krb5kdc did not start listening")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None
