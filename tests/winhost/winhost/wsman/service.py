"""WSManService: the sans-IO WS-Management service of one simulated host.

The transport authenticates and decrypts, then calls :meth:`WSManService.handle` with the SOAP
envelope (docs/dev/architecture.md, "transport -> wsman"). Supported for the PowerShell resource
URIs (``http://schemas.microsoft.com/powershell/<configuration>``): Create, Command, Send,
Receive, Signal, Delete, Disconnect, Reconnect, Connect; for the shell resource: Get (liveness),
Enumerate (+ Pull) of shells and commands; for ``.../wsman/1/config``: Get of the configuration
as read from the machine model.

References: [MS-WSMV] 3.1.4.1 (Create), 3.1.4.11-3.1.4.16 (Command, Signal, Send, Receive,
Disconnect/Reconnect/Connect), [MS-PSRP] 3.1.5.3 (PSRP over WSMan), and the real Windows
exchanges recorded in pypsrp's source distribution (tests/tests_pypsrp/responses).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Container, Iterator
from typing import Any, Protocol
from xml.sax.saxutils import escape

from winhost.wsman import faults as wsfaults
from winhost.wsman import namespaces as ns
from winhost.wsman.cmdshell import CmdShellRequests
from winhost.wsman.endpoints import addressed_host, check_endpoint
from winhost.wsman.faults import WSManFault
from winhost.wsman.psrp import (
    BUFFER_MODES,
    LINGER_SECONDS,
    PSRPShell,
    RunspaceFactory,
    RunspaceLike,
    b64,
    default_private_data,
)
from winhost.wsman.shells import (
    DEFAULT_MAX_ENVELOPE_SIZE_KB,
    DEFAULT_MAX_OPERATIONS_PER_USER,
    DEFAULT_MAX_SHELLS_PER_USER,
    DEFAULT_MAX_TIMEOUT_MS,
    MAX_IDLE_TIMEOUT_S,
    Shell,
    ShellRegistry,
    idle_timeout_ms,
    setting,
)
from winhost.wsman.soap import (
    Request,
    command_response,
    el,
    envelope,
    fault_envelope,
    format_duration,
    format_elapsed,
    new_uuid,
    parse_duration,
    parse_request,
    q,
    send_response,
    shell_body,
    stream_bytes,
)
from winhost.wsman.winrs import shell_resource as winrs_resource

log = logging.getLogger(__name__)

#: Bytes reserved for the SOAP envelope around Receive data (headers, stream elements).
ENVELOPE_OVERHEAD = 2048
#: How long Signal ctrl_c for a command that is already gone is still answered.
RECENT_COMMAND_SECONDS = 300.0

_MESSAGE_ID = re.compile(rb"<(?:\w+:)?MessageID[^>]*>\s*([^<\s]+)\s*<")


class StatsLike(Protocol):
    def shell_opened(self) -> None: ...
    def shell_closed(self, count: int = 1) -> None: ...
    def operation_started(self) -> None: ...
    def operation_finished(self, count: int = 1) -> None: ...
    def receive_retransmitted(self) -> None: ...


class _NullStats:
    def shell_opened(self) -> None:
        pass

    def shell_closed(self, count: int = 1) -> None:
        pass

    def operation_started(self) -> None:
        pass

    def operation_finished(self, count: int = 1) -> None:
        pass

    def receive_retransmitted(self) -> None:
        pass


class _EngineMissingRunspace:
    """Stand-in used only when ``winhost.engine`` cannot be imported: every pipeline fails."""

    def invoke(self, commands: list[Any], input: Any, host: Any) -> None:
        raise RuntimeError("winhost.engine is not available: this host cannot run commands")

    def reset(self) -> None:
        pass


def _default_runspace_factory(machine: Any, stats: Any = None) -> RunspaceFactory:
    def factory(user: str, configuration_name: str) -> RunspaceLike:
        try:
            from winhost.engine.runspace import Runspace
        except ImportError:
            return _EngineMissingRunspace()
        runspace = Runspace(machine, user, configuration_name)
        runspace.on_compile = getattr(stats, "csharp_compiled", None)  # C# compiles are counted
        return runspace

    return factory


class WSManService:
    """WS-Management + PSRP service of one host; thread-safe, one call per HTTP request."""

    def __init__(
        self,
        machine: Any,
        stats: StatsLike | None = None,
        faults: Any = None,
        *,
        runspace_factory: RunspaceFactory | None = None,
        computer_name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.machine = machine
        self.stats: StatsLike = stats if stats is not None else _NullStats()
        self.faults = faults
        self.runspace_factory = runspace_factory or _default_runspace_factory(machine, self.stats)
        self.computer_name = computer_name or str(
            getattr(machine, "computer_name", None) or getattr(machine, "hostname", None) or "WINHOST"
        )
        self.clock = clock
        self.shells = ShellRegistry()
        self._cmd_shells = CmdShellRequests(self)
        self._enumerations: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._reaper_stop = threading.Event()
        self._reaper: threading.Thread | None = None

    # ------------------------------------------------------------------------ public API
    def handle(self, user: str, body: bytes, max_envelope_bytes: int) -> tuple[int, bytes]:
        """Blocking (Receive long-polls). Returns ``(http_status, soap_response_bytes)``."""
        relates_to = ""
        match = _MESSAGE_ID.search(body[:4096])
        if match:
            relates_to = match.group(1).decode("utf-8", "replace")
        try:
            if max_envelope_bytes and len(body) > max_envelope_bytes:
                raise wsfaults.envelope_too_large(max_envelope_bytes)
            request = parse_request(body)
            relates_to = request.message_id
            self.reap_idle()
            response = self._dispatch(user, request)
            return 200, response
        except WSManFault as fault:
            return 500, fault_envelope(fault, relates_to, self.computer_name)

    def close_all(self) -> None:
        """Host restart / shutdown: every shell and pipeline goes away."""
        self._reaper_stop.set()
        for shell in self.shells.all():
            self._delete_shell(shell)

    def kill_shell(self, shell_id: str | None = None) -> int:
        """Delete one shell (or all) server-side, as if wsmprovhost died. Returns the count."""
        targets = self.shells.all() if shell_id is None else [s for s in [self.shells.get(shell_id)] if s]
        for shell in targets:
            self._delete_shell(shell)
        return len(targets)

    def reap_idle(self) -> int:
        expired = self.shells.expired(self.clock())
        for shell in expired:
            log.debug("shell %s idle for its IdleTimeOut, deleting", shell.shell_id)
            self._delete_shell(shell)
        return len(expired)

    # --------------------------------------------------------------------------- settings
    def _setting(self, name: str, default: int) -> int:
        return setting(self.machine, name, default)

    def _max_envelope(self, request: Request) -> int:
        configured = self._setting("max_envelope_size_kb", DEFAULT_MAX_ENVELOPE_SIZE_KB) * 1024
        asked = request.max_envelope_size or configured
        return min(asked, configured) if configured > 0 else asked

    def _timeout(self, request: Request) -> float:
        max_timeout = self._setting("max_timeout_ms", DEFAULT_MAX_TIMEOUT_MS) / 1000.0
        if request.operation_timeout is None:
            return max_timeout
        return min(request.operation_timeout, max_timeout)

    # --------------------------------------------------------------------------- dispatch
    def _dispatch(self, user: str, req: Request) -> bytes:
        action = req.action
        uri = req.resource_uri
        if uri.startswith(ns.R_POWERSHELL_PREFIX):
            handler = {
                ns.A_CREATE: self._create,
                ns.A_COMMAND: self._command,
                ns.A_SEND: self._send,
                ns.A_RECEIVE: self._receive,
                ns.A_SIGNAL: self._signal,
                ns.A_DELETE: self._delete,
                ns.A_DISCONNECT: self._disconnect,
                ns.A_RECONNECT: self._reconnect,
                ns.A_CONNECT: self._connect,
                ns.A_GET: self._get_shell,
            }.get(action)
            if handler is None:
                raise wsfaults.action_not_supported(action)
            return handler(user, req)
        if winrs_resource(uri):
            return self._cmd_shells.dispatch(user, req)
        if uri in (ns.R_SHELL, f"{ns.R_SHELL}/Command"):
            if action == ns.A_ENUMERATE:
                return self._enumerate(user, req)
            if action == ns.A_PULL:
                return self._pull(user, req)
            if action == ns.A_GET:
                return self._get_shell(user, req)
            if action == ns.A_DELETE:
                return self._delete(user, req)
            raise wsfaults.action_not_supported(action)
        if uri.rstrip("/").startswith(ns.R_CONFIG):
            if action == ns.A_GET:
                return self._get_config(req)
            raise wsfaults.action_not_supported(action)
        raise wsfaults.resource_not_found(uri)

    def _shell_for(self, user: str, req: Request) -> Shell:
        shell_id = req.shell_id
        if not shell_id:
            raise wsfaults.invalid_selectors()
        shell = self.shells.get(shell_id)
        if shell is None:
            raise wsfaults.shell_not_found(shell_id)
        if shell.owner.lower() != user.lower():
            raise wsfaults.access_denied()
        shell.touch()
        return shell

    def _ps_shell_for(self, user: str, req: Request) -> tuple[Shell, PSRPShell]:
        """The PowerShell shell a PSRP request names (a WinRS cmd shell's id is not one)."""
        shell = self._shell_for(user, req)
        if shell.psrp is None:
            raise wsfaults.shell_not_found(shell.shell_id)
        return shell, shell.psrp

    # ----------------------------------------------------------------------------- Create
    def _create(self, user: str, req: Request) -> bytes:
        shell_el = shell_body(req, "Shell", "Create")
        limit = self._setting("max_shells_per_user", DEFAULT_MAX_SHELLS_PER_USER)
        with self.shells.lock:
            if limit > 0 and len(self.shells.owned_by(user)) >= limit:
                raise wsfaults.max_shells_per_user(limit)
            shell_id = (shell_el.get("ShellId") or new_uuid()).upper()
            if self.shells.get(shell_id) is not None:
                raise wsfaults.invalid_parameter(f"A shell with ShellId {shell_id} already exists.")

            def text(name: str, default: str) -> str:
                child = shell_el.find(q(ns.NS_SHELL, name))
                return (child.text or "").strip() if child is not None and child.text else default

            idle = idle_timeout_ms(self.machine) / 1000.0
            idle_text = text("IdleTimeOut", "")
            if idle_text:
                try:
                    idle = min(parse_duration(idle_text), MAX_IDLE_TIMEOUT_S)
                except ValueError:
                    raise wsfaults.invalid_parameter(f"Invalid IdleTimeOut {idle_text}.") from None
            configuration = req.resource_uri[len(ns.R_POWERSHELL_PREFIX) :] or ns.DEFAULT_CONFIGURATION
            check_endpoint(self.machine, user, configuration, addressed_host(req.to) or self.computer_name)
            psrp = PSRPShell(
                shell_id,
                user,
                configuration,
                self.runspace_factory,
                computer_name=self.computer_name,
                application_private_data=self._private_data(),
            )
            shell = Shell(
                shell_id=shell_id,
                owner=user,
                resource_uri=req.resource_uri,
                configuration_name=configuration,
                idle_timeout=idle,
                input_streams=text("InputStreams", "stdin pr"),
                output_streams=text("OutputStreams", "stdout"),
                locale=req.locale,
                data_locale=req.locale,
                name=text("Name", "") or None,
                psrp=psrp,
                clock=self.clock,
            )
            creation = shell_el.find(q(ns.NS_POWERSHELL, "creationXml"))
            if creation is not None and creation.text:
                try:
                    psrp.feed_pool(base64.b64decode(creation.text))
                except Exception as exc:
                    raise wsfaults.invalid_parameter(f"creationXml: {exc}") from None
            self.shells.add(shell)
        self.stats.shell_opened()
        self._ensure_reaper()
        created = (
            "<x:ResourceCreated>"
            f"{el('a:Address', req.to or 'http://localhost/wsman')}"
            "<a:ReferenceParameters>"
            f"{el('w:ResourceURI', req.resource_uri)}"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters></x:ResourceCreated>"
        )
        return envelope(f"{ns.A_CREATE}Response", req.message_id, created + self._shell_xml(shell))

    def _private_data(self) -> dict[str, Any] | None:
        data = getattr(self.machine, "application_private_data", None)
        if callable(data):
            data = data()
        if isinstance(data, dict):
            return data
        ps_version = getattr(self.machine, "ps_version", None)
        if isinstance(ps_version, str) and ps_version.count(".") >= 1:
            build = getattr(self.machine, "os_version", "10.0.17763")
            build_version = f"{build}.{ps_version.rsplit('.', 1)[-1]}" if build.count(".") == 2 else build
            return default_private_data(ps_version, build_version)
        return None

    def _shell_xml(self, shell: Shell, extended: bool = False) -> str:
        now = self.clock()
        parts = [
            f'<rsp:Shell xmlns:rsp="{ns.NS_SHELL}">',
            el("rsp:ShellId", shell.shell_id),
            *([el("rsp:Name", shell.name)] if shell.name else []),
            el("rsp:ResourceUri", shell.resource_uri),
            el("rsp:Owner", shell.owner),
            el("rsp:ClientIP", shell.client_ip),
            el("rsp:ProcessId", str(shell.process_id)),
            el("rsp:IdleTimeOut", format_duration(shell.idle_timeout)),
            el("rsp:InputStreams", shell.input_streams),
            el("rsp:OutputStreams", shell.output_streams),
            el("rsp:MaxIdleTimeOut", format_duration(self._max_idle_timeout(shell.configuration_name))),
            el("rsp:Locale", shell.locale),
            el("rsp:DataLocale", shell.data_locale),
            el("rsp:CompressionMode", "NoCompression"),
            el("rsp:ProfileLoaded", "Yes"),
            el("rsp:Encoding", "UTF8"),
            el("rsp:BufferMode", shell.psrp.buffer_mode if shell.psrp is not None else "Block"),
            el("rsp:State", shell.state),
            el("rsp:ShellRunTime", format_elapsed(now - shell.created)),
            el("rsp:ShellInactivity", format_elapsed(shell.idle_for(now))),
        ]
        if extended:
            parts.append(el("rsp:MemoryUsed", "46MB"))
            parts.append(el("rsp:ChildProcesses", "0"))
        parts.append("</rsp:Shell>")
        return "".join(parts)

    # ---------------------------------------------------------------------------- Command
    @contextlib.contextmanager
    def command_slot(self, user: str, line: ET.Element, existing: Container[str]) -> Iterator[str]:
        """A new command's id (the client's CommandId or a new one), under the shells lock while
        the caller starts it: MaxConcurrentOperationsPerUser and duplicate ids are refused first
        (PowerShell and WinRS commands alike)."""
        limit = self._setting("max_concurrent_operations_per_user", DEFAULT_MAX_OPERATIONS_PER_USER)
        with self.shells.lock:
            if limit > 0 and self.shells.operations_of(user) >= limit:
                raise wsfaults.max_operations_per_user(limit)
            command_id = (line.get("CommandId") or new_uuid()).upper()
            if command_id in existing:
                raise wsfaults.invalid_parameter(f"A command with CommandId {command_id} already exists.")
            yield command_id
        self.stats.operation_started()

    def _command(self, user: str, req: Request) -> bytes:
        _shell, psrp = self._ps_shell_for(user, req)
        cmd_el = shell_body(req, "CommandLine", "Command")
        with self.command_slot(user, cmd_el, psrp.commands) as command_id:
            data = b"".join(stream_bytes(a.text) for a in cmd_el.findall(q(ns.NS_SHELL, "Arguments")))
            try:
                psrp.create_command(command_id, data)
            except Exception as exc:
                raise wsfaults.invalid_parameter(f"Arguments: {exc}") from None
        return command_response(req, command_id)

    # ------------------------------------------------------------------------------- Send
    def _send(self, user: str, req: Request) -> bytes:
        _shell, psrp = self._ps_shell_for(user, req)
        send_el = shell_body(req, "Send", "Send")
        for stream in send_el.findall(q(ns.NS_SHELL, "Stream")):
            command_id = stream.get("CommandId")
            data = stream_bytes(stream.text)
            try:
                if command_id:
                    command_id = command_id.upper()
                    if command_id not in psrp.commands:
                        raise wsfaults.command_not_found()
                    psrp.feed_command(command_id, data)
                else:
                    psrp.feed_pool(data)
            except WSManFault:
                raise
            except Exception as exc:
                raise wsfaults.invalid_parameter(f"Send: {exc}") from None
        return send_response(req)

    # ---------------------------------------------------------------------------- Receive
    def _receive(self, user: str, req: Request) -> bytes:
        """Receive; with wsmv:OperationID the answer is kept until the next Receive of the same
        command, and a retransmission (OperationID mustUnderstand="true") of that operation gets
        it again ([MS-WSMV] 3.1.4.1.39 Robust Connection Support). Without OperationID nothing is
        kept: the output of a response lost on the network is gone, as on Windows."""
        shell, psrp = self._ps_shell_for(user, req)
        body = req.body
        recv = body.find(q(ns.NS_SHELL, "Receive")) if body is not None else None
        desired = recv.find(q(ns.NS_SHELL, "DesiredStream")) if recv is not None else None
        command_id = desired.get("CommandId") if desired is not None else None
        command_id = command_id.upper() if command_id else None
        stream_name = ((desired.text or "").split() or ["stdout"])[0] if desired is not None else "stdout"
        robust = ""
        if req.operation_id:
            robust = f"{el('p:OperationID', req.operation_id)}{el('p:SequenceID', '1')}"
            cached = shell.receive_cache.get(command_id or "")
            if req.retransmission and cached is not None and cached[0] == req.operation_id:
                self.stats.receive_retransmitted()
                return envelope(f"{ns.A_RECEIVE}Response", req.message_id, cached[1], extra_headers=robust)
        inner = self._receive_response(shell, psrp, req, command_id, stream_name)
        if req.operation_id:
            shell.receive_cache[command_id or ""] = (req.operation_id, inner)
        return envelope(f"{ns.A_RECEIVE}Response", req.message_id, inner, extra_headers=robust)

    def _receive_response(
        self, shell: Shell, psrp: PSRPShell, req: Request, command_id: str | None, stream_name: str
    ) -> str:
        if command_id is not None and command_id not in psrp.commands:
            raise wsfaults.command_not_found()
        budget = max((self._max_envelope(req) - ENVELOPE_OVERHEAD) * 3 // 4, 1024)
        deadline = self.clock() + self._timeout(req)
        with psrp.cond:
            shell.receivers += 1
            try:
                while not (psrp.has_output(command_id) or (command_id and psrp.command_done(command_id))):
                    self._check_alive(shell, command_id)
                    remaining = deadline - self.clock()
                    if remaining <= 0:
                        raise wsfaults.operation_timeout()
                    psrp.cond.wait(min(remaining, 1.0))
                self._check_alive(shell, command_id)
                if command_id is not None:
                    runner = psrp.commands[command_id]
                    linger_end = self.clock() + LINGER_SECONDS
                    while not runner.finished.is_set():
                        remaining = linger_end - self.clock()
                        if remaining <= 0 or _queued_bytes(psrp, runner.pipeline_id) >= budget:
                            break
                        psrp.cond.wait(remaining)
                        self._check_alive(shell, command_id)
                chunks = psrp.take(command_id, budget)
                done = command_id is not None and psrp.command_done(command_id)
            finally:
                shell.receivers -= 1
                shell.touch()
        cid_attr = f' CommandId="{command_id}"' if command_id else ""
        parts = [f'<rsp:Stream Name="{escape(stream_name)}"{cid_attr}>{b64(c)}</rsp:Stream>' for c in chunks]
        if done:
            parts.append(
                f'<rsp:CommandState CommandId="{command_id}" State="{ns.COMMAND_STATE_DONE}">'
                "<rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>"
            )
        return f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"

    def _check_alive(self, shell: Shell, command_id: str | None) -> None:
        if self.shells.get(shell.shell_id) is not shell or shell.backend.closed:
            raise wsfaults.shell_not_found(shell.shell_id)
        if command_id is not None and command_id not in shell.backend.commands:
            raise wsfaults.command_not_found()

    # ----------------------------------------------------------------------------- Signal
    def _signal(self, user: str, req: Request) -> bytes:
        shell, psrp = self._ps_shell_for(user, req)
        sig = shell_body(req, "Signal", "Signal")
        command_id = (sig.get("CommandId") or "").upper()
        code_el = sig.find(q(ns.NS_SHELL, "Code"))
        code = (code_el.text or "").strip() if code_el is not None else ""
        now = self.clock()
        shell.recent_commands = {
            k: v for k, v in shell.recent_commands.items() if now - v < RECENT_COMMAND_SECONDS
        }
        if code in (ns.SIGNAL_PS_CTRL_C, ns.SIGNAL_PS_CTRL_C_ALT, ns.SIGNAL_CTRL_C):
            if command_id in psrp.commands:
                psrp.stop_command(command_id)
            elif command_id not in shell.recent_commands:
                raise wsfaults.command_not_found()
        elif code == ns.SIGNAL_TERMINATE:
            if psrp.terminate_command(command_id):
                shell.recent_commands[command_id] = now
                self.stats.operation_finished()
            elif command_id not in shell.recent_commands:
                raise wsfaults.command_not_found()
        else:
            raise wsfaults.invalid_parameter(f"Unknown signal code {code}.")
        return envelope(f"{ns.A_SIGNAL}Response", req.message_id, "<rsp:SignalResponse/>")

    # ----------------------------------------------------------------------------- Delete
    def _delete(self, user: str, req: Request) -> bytes:
        shell = self._shell_for(user, req)
        self._delete_shell(shell)
        return envelope(f"{ns.A_DELETE}Response", req.message_id, "")

    def _delete_shell(self, shell: Shell) -> None:
        if self.shells.remove(shell.shell_id) is None:
            return
        operations = shell.backend.open_operations()
        shell.backend.close()
        self.stats.shell_closed()
        if operations:
            self.stats.operation_finished(operations)

    # ------------------------------------------------------------ Disconnect / Reconnect / Connect
    def _disconnect(self, user: str, req: Request) -> bytes:
        shell, psrp = self._ps_shell_for(user, req)
        body = req.body
        disc = body.find(q(ns.NS_SHELL, "Disconnect")) if body is not None else None
        if disc is not None:
            idle_el = disc.find(q(ns.NS_SHELL, "IdleTimeOut"))
            if idle_el is not None and idle_el.text:
                try:
                    idle = parse_duration(idle_el.text)
                except ValueError:
                    raise wsfaults.invalid_parameter(f"Invalid IdleTimeOut {idle_el.text}.") from None
                limit = self._max_idle_timeout(shell.configuration_name)
                if idle > limit:
                    # above the configuration's MaxIdleTimeoutms quota (about_Remote_Disconnected_
                    # Sessions, Disconnect-PSSession example 4: the session cannot be disconnected)
                    raise wsfaults.invalid_parameter(
                        f"The IdleTimeOut {idle_el.text} is greater than the maximum allowed "
                        f"{format_duration(limit)} of the session configuration."
                    )
                shell.idle_timeout = idle
            mode_el = disc.find(q(ns.NS_SHELL, "BufferMode"))
            if mode_el is not None and mode_el.text:
                mode = mode_el.text.strip()
                if mode not in BUFFER_MODES:
                    raise wsfaults.invalid_parameter(f"Invalid BufferMode {mode}.")
                psrp.buffer_mode = mode
        psrp.disconnect()
        shell.state = "Disconnected"
        return envelope(f"{ns.A_DISCONNECT}Response", req.message_id, "")

    def _max_idle_timeout(self, configuration: str) -> float:
        """Seconds: the session configuration's Quotas\\MaxIdleTimeoutms (MAX_IDLE_TIMEOUT_S when
        the machine does not model it)."""
        configs = getattr(self.machine, "session_configurations", None)
        sc = configs.get(configuration) if configs is not None else None
        limit = getattr(sc, "max_idle_timeout_ms", None)
        return min(MAX_IDLE_TIMEOUT_S, limit / 1000.0) if isinstance(limit, int) else MAX_IDLE_TIMEOUT_S

    def _reconnect(self, user: str, req: Request) -> bytes:
        shell, psrp = self._ps_shell_for(user, req)
        psrp.reconnect()
        shell.state = "Connected"
        return envelope(f"{ns.A_RECONNECT}Response", req.message_id, "")

    def _connect(self, user: str, req: Request) -> bytes:
        shell, psrp = self._ps_shell_for(user, req)
        conn = shell_body(req, "Connect", "Connect")
        command_id = conn.get("CommandId")
        if command_id:
            if command_id.upper() not in psrp.commands:
                raise wsfaults.command_not_found()
            shell.state = "Connected"
            return envelope(f"{ns.A_CONNECT}Response", req.message_id, "<rsp:ConnectResponse/>")
        xml = conn.find(q(ns.NS_POWERSHELL, "connectXml"))
        data = stream_bytes(xml.text if xml is not None else None)
        try:
            chunks = psrp.connect(data)
        except Exception as exc:
            raise wsfaults.invalid_parameter(f"connectXml: {exc}") from None
        shell.state = "Connected"
        payload = b64(b"".join(chunks))
        return envelope(
            f"{ns.A_CONNECT}Response",
            req.message_id,
            "<rsp:ConnectResponse>"
            f"{el('rsp:InputStreams', shell.input_streams)}{el('rsp:OutputStreams', shell.output_streams)}"
            f'<connectResponseXml xmlns="{ns.NS_POWERSHELL}">{payload}</connectResponseXml>'
            "</rsp:ConnectResponse>",
        )

    # -------------------------------------------------------------------------- Get shell
    def _get_shell(self, user: str, req: Request) -> bytes:
        shell = self._shell_for(user, req)
        return envelope(f"{ns.A_GET}Response", req.message_id, self._shell_xml(shell, extended=True))

    # ------------------------------------------------------------------- Enumerate / Pull
    def _enumerate(self, user: str, req: Request) -> bytes:
        body = req.body
        enum_el = body.find(q(ns.NS_ENUMERATION, "Enumerate")) if body is not None else None
        if enum_el is None:
            raise wsfaults.invalid_parameter("The Enumerate body must contain wsen:Enumerate.")
        items = self._enumeration_items(user, req, enum_el)
        optimized = enum_el.find(q(ns.NS_WSMAN, "OptimizeEnumeration")) is not None
        max_el = enum_el.find(q(ns.NS_WSMAN, "MaxElements"))
        max_items = int(max_el.text) if max_el is not None and max_el.text else 1
        context = new_uuid()
        if optimized:
            batch, rest = items[:max_items], items[max_items:]
            if rest:
                with self._lock:
                    self._enumerations[context] = rest
                ctx = f"<n:EnumerationContext>uuid:{context}</n:EnumerationContext>"
                tail = ""
            else:
                ctx = "<n:EnumerationContext></n:EnumerationContext>"
                tail = "<w:EndOfSequence/>"
            inner = f"{ctx}<w:Items>{''.join(batch)}</w:Items>{tail}"
        else:
            with self._lock:
                self._enumerations[context] = items
            inner = f"<n:EnumerationContext>uuid:{context}</n:EnumerationContext>"
        return envelope(
            f"{ns.A_ENUMERATE}Response", req.message_id, f"<n:EnumerateResponse>{inner}</n:EnumerateResponse>"
        )

    def _enumeration_items(self, user: str, req: Request, enum_el: Any) -> list[str]:
        if req.resource_uri.endswith("/Command"):
            shell_id = None
            filt = enum_el.find(q(ns.NS_WSMAN, "Filter"))
            if filt is not None:
                for sel in filt.iter(q(ns.NS_WSMAN, "Selector")):
                    if sel.get("Name") == "ShellId":
                        shell_id = (sel.text or "").strip().upper()
            shells = [s for s in self.shells.owned_by(user) if shell_id is None or s.shell_id == shell_id]
            items = []
            for shell in shells:
                for command_id in list(shell.backend.commands):
                    items.append(
                        f'<rsp:Command xmlns:rsp="{ns.NS_SHELL}">{el("rsp:ShellId", shell.shell_id)}'
                        f"{el('rsp:CommandId', command_id)}</rsp:Command>"
                    )
            return items
        return [self._shell_xml(s, extended=True) for s in self.shells.owned_by(user)]

    def _pull(self, user: str, req: Request) -> bytes:
        body = req.body
        pull = body.find(q(ns.NS_ENUMERATION, "Pull")) if body is not None else None
        ctx_el = pull.find(q(ns.NS_ENUMERATION, "EnumerationContext")) if pull is not None else None
        context = (ctx_el.text or "").strip().removeprefix("uuid:").upper() if ctx_el is not None else ""
        max_el = pull.find(q(ns.NS_ENUMERATION, "MaxElements")) if pull is not None else None
        max_items = int(max_el.text) if max_el is not None and max_el.text else 1
        with self._lock:
            items = self._enumerations.pop(context, None)
            if items is None:
                raise wsfaults.invalid_enumeration_context()
            batch, rest = items[:max_items], items[max_items:]
            if rest:
                self._enumerations[context] = rest
        inner = f"<n:Items>{''.join(batch)}</n:Items>"
        inner = (
            (f"<n:EnumerationContext>uuid:{context}</n:EnumerationContext>" + inner)
            if rest
            else (inner + "<n:EndOfSequence/>")
        )
        return envelope(f"{ns.A_PULL}Response", req.message_id, f"<n:PullResponse>{inner}</n:PullResponse>")

    # ------------------------------------------------------------------------- Get config
    def _get_config(self, req: Request) -> bytes:
        from winhost.wsman.config import config_xml

        return envelope(f"{ns.A_GET}Response", req.message_id, config_xml(self.machine, req.resource_uri))

    # --------------------------------------------------------------------------- reaper
    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._reaper_stop.clear()
            self._reaper = threading.Thread(target=self._reap_loop, name="winhost-wsman-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        while not self._reaper_stop.wait(1.0):
            try:
                self.reap_idle()
            except Exception:
                log.exception("idle shell reaper failed")
            if not self.shells.all():
                with self._lock:
                    self._reaper = None
                return


def _queued_bytes(psrp: PSRPShell, pipeline_id: uuid.UUID) -> int:
    return sum(len(m) for m in psrp.pipe_out.get(pipeline_id, ()))
