"""WSMan requests for WinRS cmd shells: Create, Command, Send, Receive, Signal (Delete and Get
are shared with PowerShell shells in service.py). The shell state is winhost.wsman.winrs; the
references are listed there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from winhost.wsman import faults as wsfaults
from winhost.wsman import namespaces as ns
from winhost.wsman.psrp import b64
from winhost.wsman.shells import (
    DEFAULT_MAX_SHELLS_PER_USER,
    MAX_IDLE_TIMEOUT_S,
    Shell,
    idle_timeout_ms,
)
from winhost.wsman.soap import (
    Request,
    command_response,
    el,
    envelope,
    format_duration,
    format_elapsed,
    new_uuid,
    parse_duration,
    q,
    send_response,
    shell_body,
    stream_bytes,
)
from winhost.wsman.winrs import DEFAULT_CODEPAGE, WinRSShell, option_flag, receive_needs_command

if TYPE_CHECKING:
    from winhost.wsman.service import WSManService

#: Bytes reserved for the SOAP envelope around Receive data (as for PowerShell shells).
ENVELOPE_OVERHEAD = 2048


class CmdShellRequests:
    """The cmd-shell half of a host's WSManService."""

    def __init__(self, service: WSManService) -> None:
        self.service = service

    def dispatch(self, user: str, req: Request) -> bytes:
        handler = {
            ns.A_CREATE: self._create,
            ns.A_COMMAND: self._command,
            ns.A_SEND: self._send,
            ns.A_RECEIVE: self._receive,
            ns.A_SIGNAL: self._signal,
        }.get(req.action)
        if handler is not None:
            return handler(user, req)
        if req.action == ns.A_DELETE:
            return self.service._delete(user, req)
        if req.action == ns.A_GET:
            return self.service._get_shell(user, req)
        raise wsfaults.action_not_supported(req.action)

    def _winrs_shell(self, user: str, req: Request) -> tuple[Shell, WinRSShell]:
        shell = self.service._shell_for(user, req)
        if shell.winrs is None:
            raise wsfaults.shell_not_found(shell.shell_id)
        return shell, shell.winrs

    # ----------------------------------------------------------------------------- Create
    def _create(self, user: str, req: Request) -> bytes:
        service = self.service
        shell_el = shell_body(req, "Shell", "Create")

        def text(name: str) -> str:
            child = shell_el.find(q(ns.NS_SHELL, name))
            return (child.text or "").strip() if child is not None else ""

        environment = {
            var.get("Name", ""): var.text or ""
            for var in shell_el.findall(f"{q(ns.NS_SHELL, 'Environment')}/{q(ns.NS_SHELL, 'Variable')}")
        }
        idle = idle_timeout_ms(service.machine) / 1000.0
        if text("IdleTimeOut"):
            try:
                idle = min(parse_duration(text("IdleTimeOut")), MAX_IDLE_TIMEOUT_S)
            except ValueError:
                raise wsfaults.invalid_parameter(f"Invalid IdleTimeOut {text('IdleTimeOut')}.") from None
        codepage_text = req.options.get("WINRS_CODEPAGE", str(DEFAULT_CODEPAGE))
        if not codepage_text.isdigit():
            raise wsfaults.invalid_parameter(f"WINRS_CODEPAGE {codepage_text} is not a number.")
        winrs = WinRSShell(
            service.machine,
            user,
            environment=environment,
            working_directory=text("WorkingDirectory") or None,
            codepage=int(codepage_text),
            no_profile=option_flag(req.options, "WINRS_NOPROFILE"),
        )
        limit = service._setting("max_shells_per_user", DEFAULT_MAX_SHELLS_PER_USER)
        with service.shells.lock:
            if limit > 0 and len(service.shells.owned_by(user)) >= limit:
                raise wsfaults.max_shells_per_user(limit)
            shell_id = (shell_el.get("ShellId") or new_uuid()).upper()
            if service.shells.get(shell_id) is not None:
                raise wsfaults.invalid_parameter(f"A shell with ShellId {shell_id} already exists.")
            shell = Shell(
                shell_id=shell_id,
                owner=user,
                resource_uri=ns.R_CMD,
                configuration_name="",
                idle_timeout=idle,
                input_streams=text("InputStreams") or "stdin",
                output_streams=text("OutputStreams") or "stdout stderr",
                locale=req.locale,
                data_locale=req.locale,
                winrs=winrs,
                clock=service.clock,
            )
            service.shells.add(shell)
        service.stats.shell_opened()
        service._ensure_reaper()
        created = (
            "<x:ResourceCreated>"
            f"{el('a:Address', req.to or 'http://localhost/wsman')}"
            "<a:ReferenceParameters>"
            f"{el('w:ResourceURI', ns.R_CMD)}"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters></x:ResourceCreated>"
        )
        return envelope(f"{ns.A_CREATE}Response", req.message_id, created + self.shell_xml(shell, winrs))

    def shell_xml(self, shell: Shell, winrs: WinRSShell) -> str:
        """A cmd shell as Windows describes it after Create (fewer properties than PowerShell's)."""
        now = self.service.clock()
        parts = [
            f'<rsp:Shell xmlns:rsp="{ns.NS_SHELL}">',
            el("rsp:ShellId", shell.shell_id),
            el("rsp:ResourceUri", shell.resource_uri),
            el("rsp:Owner", shell.owner),
            el("rsp:ClientIP", shell.client_ip),
        ]
        if winrs.environment:
            variables = "".join(el("rsp:Variable", v, Name=k) for k, v in winrs.environment.items())
            parts.append(f"<rsp:Environment>{variables}</rsp:Environment>")
        if winrs.working_directory_given:
            parts.append(el("rsp:WorkingDirectory", winrs.working_directory))
        parts += [
            el("rsp:IdleTimeOut", format_duration(shell.idle_timeout)),
            el("rsp:InputStreams", shell.input_streams),
            el("rsp:OutputStreams", shell.output_streams),
            el("rsp:ShellRunTime", format_elapsed(now - shell.created)),
            el("rsp:ShellInactivity", format_elapsed(shell.idle_for(now))),
            "</rsp:Shell>",
        ]
        return "".join(parts)

    # ---------------------------------------------------------------------------- Command
    def _command(self, user: str, req: Request) -> bytes:
        _shell, winrs = self._winrs_shell(user, req)
        line = shell_body(req, "CommandLine", "Command")
        command = line.findtext(q(ns.NS_SHELL, "Command")) or ""
        arguments = [a.text or "" for a in line.findall(q(ns.NS_SHELL, "Arguments"))]
        with self.service.command_slot(user, line, winrs.commands) as command_id:
            winrs.start_command(
                command_id,
                command.strip(),
                arguments,
                skip_cmd_shell=option_flag(req.options, "WINRS_SKIP_CMD_SHELL"),
                console_stdin=option_flag(req.options, "WINRS_CONSOLEMODE_STDIN"),
            )
        return command_response(req, command_id)

    # ------------------------------------------------------------------------------- Send
    def _send(self, user: str, req: Request) -> bytes:
        _, winrs = self._winrs_shell(user, req)
        send = shell_body(req, "Send", "Send")
        for stream in send.findall(q(ns.NS_SHELL, "Stream")):
            command_id = (stream.get("CommandId") or "").upper()
            end = (stream.get("End") or "").strip().lower() == "true"
            winrs.feed(command_id, stream_bytes(stream.text), end)
        return send_response(req)

    # ---------------------------------------------------------------------------- Receive
    def _receive(self, user: str, req: Request) -> bytes:
        service = self.service
        shell, winrs = self._winrs_shell(user, req)
        recv = req.body.find(q(ns.NS_SHELL, "Receive")) if req.body is not None else None
        desired = recv.find(q(ns.NS_SHELL, "DesiredStream")) if recv is not None else None
        command_id = (desired.get("CommandId") or "").upper() if desired is not None else ""
        if not command_id:
            raise receive_needs_command()
        streams = (desired.text or "").split() if desired is not None else []
        streams = streams or shell.output_streams.split()
        budget = max((service._max_envelope(req) - ENVELOPE_OVERHEAD) * 3 // 4, 1024)
        shell.receivers += 1
        try:
            chunks, done, exit_code = winrs.receive(
                command_id,
                streams,
                budget=budget,
                timeout=service._timeout(req),
                alive=lambda: service._check_alive(shell, None),
                clock=service.clock,
            )
        finally:
            shell.receivers -= 1
            shell.touch()
        cid = f' CommandId="{command_id}"'
        parts = [f'<rsp:Stream Name="{name}"{cid}>{b64(data)}</rsp:Stream>' for name, data in chunks]
        if done:
            parts += [f'<rsp:Stream Name="{name}"{cid} End="true"></rsp:Stream>' for name in streams]
            parts.append(
                f'<rsp:CommandState{cid} State="{ns.COMMAND_STATE_DONE}">'
                f"<rsp:ExitCode>{exit_code if exit_code is not None else 0}</rsp:ExitCode></rsp:CommandState>"
            )
        else:
            parts.append(f'<rsp:CommandState{cid} State="{ns.COMMAND_STATE_RUNNING}"></rsp:CommandState>')
        return envelope(
            f"{ns.A_RECEIVE}Response",
            req.message_id,
            f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>",
        )

    # ----------------------------------------------------------------------------- Signal
    def _signal(self, user: str, req: Request) -> bytes:
        shell, winrs = self._winrs_shell(user, req)
        sig = shell_body(req, "Signal", "Signal")
        command_id = (sig.get("CommandId") or "").upper()
        code = (sig.findtext(q(ns.NS_SHELL, "Code")) or "").strip()
        now = self.service.clock()
        if code.lower() == ns.SIGNAL_TERMINATE.lower():
            if winrs.terminate(command_id):
                shell.recent_commands[command_id] = now
                self.service.stats.operation_finished()
            elif command_id not in shell.recent_commands:
                raise wsfaults.command_not_found()
        elif code.lower() == ns.SIGNAL_CTRL_C.lower():
            if command_id in winrs.commands:
                winrs.ctrl_c(command_id)
            elif command_id not in shell.recent_commands:
                raise wsfaults.command_not_found()
        else:
            raise wsfaults.invalid_parameter(f"Unknown signal code {code}.")
        return envelope(f"{ns.A_SIGNAL}Response", req.message_id, "<rsp:SignalResponse/>")
