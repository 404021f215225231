"""The HTTP(S) listeners of simulated hosts.

One :class:`Acceptor` thread watches every listening socket of the process (a selector), and
each accepted connection gets its own thread (a WinRM client keeps very few connections, and
Receive long-polls block). A :class:`HostTransport` owns one host's listeners: it maps the
Windows ports of the model's listeners (5985/5986/...) to real loopback ports, opens and closes
them as the model changes (listener enabled, WinRM service running), drops connections the
firewall blocks, authenticates, decrypts, enforces AllowUnencrypted, counts, injects faults and
hands the SOAP envelope to the host's WSMan service.
"""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import ssl
import struct
import threading
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from spnego.channel_bindings import GssChannelBindings

from winhost.faults import HostFaults
from winhost.stats import HostStats, action_name
from winhost.transport import encryption
from winhost.transport.auth import Authenticated, Challenge, ConnectionAuth, NtlmStore
from winhost.transport.config import HostConfig, ListenerSpec
from winhost.transport.http import HTTPError, Request, build_response, read_request
from winhost.transport.tls.ca import tls_server_end_point

log = logging.getLogger(__name__)

#: Close a connection idle for this long (HTTP.sys' default idle connection timeout is 120 s).
IDLE_TIMEOUT_S = 120.0
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_ACTION_RE = re.compile(rb"<(?:[A-Za-z0-9_]+:)?Action\b[^>]*>\s*([^<\s]+)\s*</", re.S)
_THREAD_STACK = 512 * 1024


class WSManHandler(Protocol):
    """What the transport needs of ``winhost.wsman.service.WSManService``."""

    def handle(self, user: str, body: bytes, max_envelope_bytes: int) -> tuple[int, bytes]: ...


def wsman_action(body: bytes) -> str | None:
    """The short WS-Addressing action name of a SOAP envelope (``Create``, ``Receive``...)."""
    head = body[:8192]
    match = _ACTION_RE.search(head)
    if not match:
        return None
    return action_name(match.group(1).decode("utf-8", "replace"))


class Acceptor:
    """A single thread accepting connections on every registered listening socket."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._pending: list[
            tuple[str, socket.socket, Callable[[socket.socket, tuple[str, int]], None] | None]
        ] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="winhost-acceptor", daemon=True)
        self._thread.start()

    def register(
        self, sock: socket.socket, on_accept: Callable[[socket.socket, tuple[str, int]], None]
    ) -> None:
        with self._lock:
            self._pending.append(("add", sock, on_accept))
        self._wake()

    def unregister(self, sock: socket.socket) -> None:
        """Stop accepting on ``sock`` and close it; returns once it is closed, however long a
        loaded machine keeps the acceptor thread waiting for a CPU. A restarted WinRM service
        binds the same port again right after (``HostTransport.apply_config``): with the old
        socket still listening that bind fails (EADDRINUSE) and the host stays unreachable."""
        done = threading.Event()
        with self._lock:
            self._pending.append(("remove", sock, None))
            self._pending.append(("event", sock, lambda s, a: done.set()))
        self._wake()
        if threading.current_thread() is self._thread:
            return
        while not done.wait(1.0):
            if not self._thread.is_alive():  # closed: nothing accepts on it any more
                with contextlib.suppress(OSError):
                    sock.close()
                return

    def close(self) -> None:
        self._stopped = True
        self._wake()
        self._thread.join(5)
        with contextlib.suppress(OSError):
            self._wake_r.close()
            self._wake_w.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for op, sock, callback in pending:
            if op == "add" and callback is not None:
                sock.setblocking(False)
                self._selector.register(sock, selectors.EVENT_READ, callback)
            elif op == "remove":
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                with contextlib.suppress(OSError):
                    sock.close()
            elif op == "event" and callback is not None:
                callback(sock, ("", 0))

    def _run(self) -> None:
        while not self._stopped:
            self._apply_pending()
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                listener = key.fileobj
                assert isinstance(listener, socket.socket)
                try:
                    conn, addr = listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    continue
                conn.setblocking(True)
                try:
                    key.data(conn, addr)
                except Exception:  # never let one host kill the acceptor
                    log.exception("accept handler failed")
                    with contextlib.suppress(OSError):
                        conn.close()
        self._apply_pending()
        for key in list(self._selector.get_map().values()):
            fileobj = key.fileobj
            if isinstance(fileobj, socket.socket) and fileobj is not self._wake_r:
                with contextlib.suppress(OSError):
                    fileobj.close()
        self._selector.close()


class _BoundListener:
    def __init__(self, spec: ListenerSpec, sock: socket.socket, real_port: int) -> None:
        self.spec = spec
        self.sock = sock
        self.real_port = real_port


class HostTransport:
    """The network face of one simulated host."""

    def __init__(
        self,
        name: str,
        address: str,
        *,
        acceptor: Acceptor,
        handler: WSManHandler,
        stats: HostStats,
        faults: HostFaults,
        config: HostConfig,
        state_dir: Path,
        ca_cert_path: Path | None = None,
        default_certificate: tuple[bytes, bytes] | None = None,
        fixed_ports: dict[int, int] | None = None,
        kerberos_realm: str | None = None,
        fqdn: str | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.acceptor = acceptor
        self.handler = handler
        self.stats = stats
        self.faults = faults
        self.state_dir = Path(state_dir)
        self.ca_cert_path = ca_cert_path
        self.default_certificate = default_certificate
        self.kerberos_realm = kerberos_realm
        self.fqdn = fqdn or name
        self._config = config
        self._lock = threading.RLock()
        self._ports: dict[int, int] = dict(fixed_ports or {})
        self._bound: dict[int, _BoundListener] = {}
        # Reserved ports stay bound (not listening) until their listener starts: a probe that
        # closed its socket let another winhost in a parallel test take the port in between.
        self._reserved: dict[int, socket.socket] = {}
        self._connections: set[socket.socket] = set()
        # Separate from _lock: the acceptor thread adds connections while apply_config (holding
        # _lock) may be waiting for that same thread to drop a listening socket.
        self._conn_lock = threading.Lock()
        self._ssl_cache: dict[tuple[str, str], tuple[ssl.SSLContext, GssChannelBindings]] = {}
        self.ntlm_store = NtlmStore(self.state_dir / "ntlm_users")
        self.ntlm_store.update(config)
        self._closed = False

    # -- configuration --------------------------------------------------------------------------
    @property
    def config(self) -> HostConfig:
        return self._config

    def real_port(self, model_port: int) -> int | None:
        with self._lock:
            return self._ports.get(model_port)

    def port_map(self) -> dict[int, int]:
        with self._lock:
            return dict(self._ports)

    def reserve_port(self, model_port: int) -> int:
        """Pick (and remember) the real port for ``model_port`` without listening on it yet."""
        with self._lock:
            if model_port in self._ports:
                return self._ports[model_port]
            # Held while bound: the kernel's port choice for bind(0) skips bound ports whatever
            # their SO_REUSEADDR (set so a restarted listener can rebind over TIME_WAIT).
            holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                holder.bind((self.address, 0))
            except OSError:
                holder.close()
                raise
            port = int(holder.getsockname()[1])
            self._reserved[model_port] = holder
            self._ports[model_port] = port
            return port

    def apply_config(self, config: HostConfig) -> None:
        """Adopt a new configuration snapshot: open/close listeners, refresh NTLM users."""
        with self._lock:
            if self._closed:
                return
            previous = self._config
            self._config = config
            self.ntlm_store.update(config)
            if previous.certificates != config.certificates:
                self._ssl_cache.clear()
            wanted: dict[int, ListenerSpec] = {}
            if config.service_running:
                for spec in config.listeners:
                    if spec.enabled:
                        wanted[spec.port] = spec
            for port, bound in list(self._bound.items()):
                if port not in wanted or wanted[port] != bound.spec:
                    self.acceptor.unregister(bound.sock)
                    del self._bound[port]
            for port, spec in wanted.items():
                if port not in self._bound:
                    self._listen(spec)
            stopped = previous.service_running and not config.service_running
        if stopped:
            self.reset_connections()

    def _listen(self, spec: ListenerSpec) -> None:
        real = self._ports.get(spec.port, 0)
        sock = self._reserved.pop(spec.port, None)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.address, real))
            except OSError:
                sock.close()
                raise
        sock.listen(64)
        real = int(sock.getsockname()[1])
        self._ports[spec.port] = real
        bound = _BoundListener(spec, sock, real)
        self._bound[spec.port] = bound

        def on_accept(conn: socket.socket, addr: tuple[str, int]) -> None:
            self._on_accept(conn, addr, bound)

        self.acceptor.register(sock, on_accept)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for bound in self._bound.values():
                self.acceptor.unregister(bound.sock)
            self._bound.clear()
            for holder in self._reserved.values():
                holder.close()
            self._reserved.clear()
        self.reset_connections()

    def reset_connections(self) -> int:
        """Abort every open client connection (host restart, service stop)."""
        with self._conn_lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            _abort(conn)
        return len(conns)

    # -- connections ----------------------------------------------------------------------------
    def _on_accept(self, conn: socket.socket, addr: tuple[str, int], bound: _BoundListener) -> None:
        with self._conn_lock:
            self._connections.add(conn)
        old_size = threading.stack_size()
        try:
            threading.stack_size(_THREAD_STACK)
            thread = threading.Thread(
                target=self._serve_connection,
                args=(conn, addr, bound.spec),
                name=f"winhost-{self.name}-{addr[1]}",
                daemon=True,
            )
        finally:
            threading.stack_size(old_size)
        thread.start()

    def _ssl_context(self, spec: ListenerSpec) -> tuple[ssl.SSLContext, GssChannelBindings]:
        config = self._config
        key = (spec.certificate_thumbprint, str(config.auth_certificate))
        cached = self._ssl_cache.get(key)
        if cached:
            return cached
        pair = config.certificates.get(spec.certificate_thumbprint) if spec.certificate_thumbprint else None
        if pair and pair[1]:
            cert_pem, key_pem = pair[0].encode(), pair[1].encode()
        elif self.default_certificate:
            cert_pem, key_pem = self.default_certificate
        else:
            raise ssl.SSLError("no certificate for the HTTPS listener")
        tls_dir = self.state_dir / "tls"
        tls_dir.mkdir(parents=True, exist_ok=True)
        cert_file = tls_dir / f"listener-{spec.port}.pem"
        key_file = tls_dir / f"listener-{spec.port}.key"
        cert_file.write_bytes(cert_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(cert_file), str(key_file))
        if config.auth_certificate and self.ca_cert_path:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(str(self.ca_cert_path))
            # Client certificates are requested in the initial handshake (TLS 1.2 renegotiation
            # is how IIS does it; requests cannot renegotiate).
        der = ssl.PEM_cert_to_DER_cert(cert_pem.decode())
        bindings = GssChannelBindings(application_data=tls_server_end_point(der))
        self._ssl_cache[key] = (ctx, bindings)
        return ctx, bindings

    def _serve_connection(self, conn: socket.socket, addr: tuple[str, int], spec: ListenerSpec) -> None:
        stats = self.stats
        sock: socket.socket = conn
        # Checked here, not in the acceptor thread: the firewall reads the model under its lock.
        if not self._config.firewall_allows(spec.port, addr[0]):
            # A blocking Windows firewall drops the SYN; a reset is the fast, testable equivalent.
            with self._conn_lock:
                self._connections.discard(conn)
            _abort(conn)
            return
        stats.record_connection()
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(IDLE_TIMEOUT_S)
            bindings: GssChannelBindings | None = None
            peer_cert: bytes | None = None
            tls = spec.transport == "HTTPS"
            if tls:
                ctx, bindings = self._ssl_context(spec)
                tls_sock = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
                with self._conn_lock:
                    self._connections.discard(conn)
                    self._connections.add(tls_sock)
                sock = tls_sock
                tls_sock.do_handshake()
                stats.record_tls_handshake()
                peer_cert = tls_sock.getpeercert(binary_form=True)
            auth = ConnectionAuth(
                tls=tls,
                ntlm_store=self.ntlm_store,
                channel_bindings=bindings,
                peer_certificate=peer_cert,
                kerberos_realm=self.kerberos_realm,
                service_hostname=self.fqdn,
            )
            reader = typing.cast(BinaryIO, sock.makefile("rb", buffering=65536))
            try:
                while True:
                    try:
                        request = read_request(reader)
                    except HTTPError as err:
                        stats.record_http_request()
                        self._send(sock, build_response(err.status, keep_alive=False), err.status)
                        break
                    if request is None:
                        break
                    stats.record_http_request()
                    stats.add_bytes_in(request.wire_bytes)
                    keep = self._handle(sock, request, auth, spec, tls)
                    if not keep:
                        break
            finally:
                reader.close()
        except (OSError, ssl.SSLError, ValueError) as err:
            log.debug("connection %s closed: %s", addr, err)
        finally:
            with self._conn_lock:
                self._connections.discard(sock)
                self._connections.discard(conn)
            with contextlib.suppress(OSError):
                sock.close()

    def _send(self, sock: socket.socket, data: bytes, status: int) -> None:
        self.stats.record_http_status(status)
        self.stats.add_bytes_out(len(data))
        sock.sendall(data)

    def _handle(
        self, sock: socket.socket, request: Request, auth: ConnectionAuth, spec: ListenerSpec, tls: bool
    ) -> bool:
        """Answer one request; False closes the connection."""
        try:
            return self._answer(sock, request, auth, spec, tls)
        except _Reply as reply:
            response = build_response(reply.status, headers=reply.headers, keep_alive=reply.keep_alive)
            self._send(sock, response, reply.status)
            return reply.keep_alive

    def _answer(
        self, sock: socket.socket, request: Request, auth: ConnectionAuth, spec: ListenerSpec, tls: bool
    ) -> bool:
        keep = request.keep_alive
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000.0)
        _check_route(request, spec)
        self.faults.count_traffic(len(request.body))
        outcome = self._authenticate(request, auth)
        auth_headers = [("WWW-Authenticate", value) for value in outcome.www_authenticate]
        content_type = request.header("Content-Type")
        encrypted = encryption.is_encrypted(content_type)
        body = self._plain_body(request, auth, encrypted, tls, auth_headers)
        if not body:
            # The empty POST that completes the handshake before encryption: 200, empty.
            raise _Reply(200, auth_headers, keep)
        action = wsman_action(body)
        if action:
            self.stats.record_wsman_action(action)
        if not self._faults_allow(sock, action, keep):
            return False
        try:
            status, response = self.handler.handle(outcome.user, body, self._config.max_envelope_bytes)
        except Exception:  # a crash in the WSMan layer is an HTTP 500
            log.exception("%s: WSMan handler failed", self.name)
            raise _Reply(500, auth_headers, keep) from None
        if action == "Receive" and status == 200 and b"<rsp:Stream" in response:
            self.faults.take_cut_on_output()
        self.faults.count_traffic(len(response))
        if self.faults.network_cut():
            _abort(sock)  # the answer is lost on the way: the client never sees it
            return False
        headers = list(auth_headers)
        if encrypted and response:
            protocol = auth.encryption_protocol or encryption.content_protocol(content_type or "") or ""
            resp_type, payload = encryption.wrap_body(auth.context, protocol, response)
            headers.append(("Content-Type", resp_type))
        else:
            payload = response
            if response:
                headers.append(("Content-Type", SOAP_CONTENT_TYPE))
        self._send(sock, build_response(status, payload, headers=headers, keep_alive=keep), status)
        return keep

    def _authenticate(self, request: Request, auth: ConnectionAuth) -> Authenticated:
        """The authenticated user, or a 401 with the challenge (a failed attempt is counted)."""
        outcome = auth.authenticate(request.header("Authorization"), self._config)
        if isinstance(outcome, Challenge):
            if outcome.failed:
                self.stats.record_auth_failure()
            headers = [("WWW-Authenticate", value) for value in outcome.www_authenticate]
            raise _Reply(401, headers, request.keep_alive)
        assert isinstance(outcome, Authenticated)
        return outcome

    def _plain_body(
        self,
        request: Request,
        auth: ConnectionAuth,
        encrypted: bool,
        tls: bool,
        auth_headers: list[tuple[str, str]],
    ) -> bytes:
        """The SOAP body, decrypted when the message is encrypted (a bad one is a 400 that closes
        the connection)."""
        body = request.body
        if encrypted:
            context = auth.context if auth.user is not None else None
            if context is None or auth.encryption_protocol is None:
                raise _Reply(400, [], keep_alive=False)
            try:
                return encryption.unwrap_body(context, request.header("Content-Type") or "", body)
            except encryption.EncryptionError as err:
                log.info("%s: %s", self.name, err)
                raise _Reply(400, [], keep_alive=False) from None
        if body and not tls and not self._config.allow_unencrypted:
            # An unencrypted SOAP body over HTTP with AllowUnencrypted=false: Windows logs
            # "unencrypted message ... forbidden" and answers HTTP 500 with no body
            # (pywinrm issues #129 and #208 report exactly this).
            raise _Reply(500, auth_headers, request.keep_alive)
        return body

    def _faults_allow(self, sock: socket.socket, action: str | None, keep: bool) -> bool:
        """Injected faults (winhost/faults.py): a network cut or a dropped Receive (False: the
        connection is gone), an HTTP error, a slow shell Create."""
        if self.faults.network_cut():
            _abort(sock)
            return False
        error_status = self.faults.take_http_error()
        if error_status is not None:
            raise _Reply(error_status, [], keep)
        if action == "Receive" and self.faults.take_drop_receive():
            _abort(sock)
            return False
        if action == "Create" and self.faults.shell_create_ms:
            time.sleep(self.faults.shell_create_ms / 1000.0)
        return True


class _Reply(Exception):
    """An answer without a WSMan body (404, 405, 401, 400, 500, injected errors)."""

    def __init__(self, status: int, headers: list[tuple[str, str]], keep_alive: bool) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers
        self.keep_alive = keep_alive


def _check_route(request: Request, spec: ListenerSpec) -> None:
    """Only POST to the listener's URL prefix (/wsman) is served."""
    path = request.path.split("?", 1)[0].strip("/").lower()
    if path != spec.url_prefix.strip("/").lower():
        raise _Reply(404, [], request.keep_alive)
    if request.method != "POST":
        raise _Reply(405, [("Allow", "POST")], request.keep_alive)


def _abort(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), like a dropped connection."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
