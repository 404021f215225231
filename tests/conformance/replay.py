"""Replay a recorded real-Windows exchange against winhost and compare at the protocol level.

Every recorded request is fed, in order, to a fresh :class:`winhost.wsman.service.WSManService` backed by
the real engine. The comparison is per PSRP target (the runspace pool, or one pipeline): the
sequence of PSRP message types, with runspace-pool and pipeline states, that the server sends.
How Windows split those messages over Receive responses is not compared (winhost may deliver in
fewer Receives, thanks to its linger), nor bytes, ids or object contents. WSMan-level facts are
compared too: which requests fault (and with which code) and that each command reaches
CommandState Done.
"""

from __future__ import annotations

import base64
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psrpcore.types import PSRPMessageType
from recordings import NS, POWERSHELL_URI, Exchange, FragmentDecoder, Message, is_ignored, load, psrp_payload

USER = "WINHOST\\vagrant"
_PROFILE = re.compile(r"C:\\{1,2}Users\\{1,2}([A-Za-z0-9._-]+)")


def recorded_user(path: Path) -> str:
    """The account a recording was made with, as its profile paths show (C:\\Users\\<name>), so
    that paths under the recorded profile exist in winhost's model; else USER."""
    for name in _PROFILE.findall(path.read_text(errors="replace")):
        if name.lower() not in ("public", "default"):
            return f"WINHOST\\{name}"
    return USER


#: Files that existed on the recorded host before the recording (pypsrp's tests created them
#: first). The replay seeds them with the content Windows sent back (the first output object of
#: the fetch, base64), so that the same script finds the same file in winhost's model.
SEEDED_FILES = {
    "test_client_fetch_file": "C:\\temp\\file.txt",
    "test_client_fetch_file_hash_mismatch": "C:\\temp\\file.txt",
    "test_client_fetch_file_expand_vars": "C:\\Users\\vagrant\\AppData\\Local\\Temp\\file.txt",
}
#: Configuration the recorded host had before the recording, made here with winhost's own cmdlets.
#: pypsrp's JEA test connects to a "JEARole" endpoint: RestrictedRemoteServer (NoLanguage) where
#: Get-Item works on WSMan: and the FileSystem provider is not visible (the recording's error:
#: "Cannot find a provider with the name 'FileSystem'.").
SETUP_SCRIPTS = {
    "test_psrp_with_jea_configuration": (
        "New-PSSessionConfigurationFile -Path C:\\ProgramData\\JEARole.pssc -SessionType RestrictedRemoteServer "
        "-VisibleCmdlets Get-Item -VisibleProviders WSMan\n"
        "Register-PSSessionConfiguration -Name JEARole -Path C:\\ProgramData\\JEARole.pssc -Force"
    ),
}
RECEIVE_TIMEOUT = "PT3S"
MAX_CATCH_UP = 6


@dataclass
class Result:
    name: str
    expected: dict[str, list[str]] = field(default_factory=dict)
    actual: dict[str, list[str]] = field(default_factory=dict)
    fault_mismatches: list[str] = field(default_factory=list)
    done_missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # winhost's error texts, to explain a diff

    @property
    def matches(self) -> bool:
        return self.expected == self.actual and not self.fault_mismatches and not self.done_missing

    def describe(self) -> str:
        lines = []
        for key in sorted(set(self.expected) | set(self.actual)):
            exp, act = self.expected.get(key, []), self.actual.get(key, [])
            if exp != act:
                lines.append(f"{key}: windows={exp} winhost={act}")
        lines += self.fault_mismatches
        lines += [f"no CommandState Done for {c}" for c in self.done_missing]
        lines += [f"winhost error: {e}" for e in self.errors[:3]]
        return "\n".join(lines)


_ERROR_SUMMARIES = {"ErrorRecord", "PipelineState=5"}


def _error_text(message: Message) -> str:
    root = ET.fromstring(message.data)
    for el in root.iter():
        if el.get("N") in ("ErrorRecord", "Message") and el.text:
            return el.text[:200]
    for el in root.iter("ToString"):
        if el.text:
            return el.text[:200]
    return "?"


def _target(exchange: Exchange) -> str:
    return f"command {exchange.command_id}" if exchange.command_id else "pool"


def _set_timeout(request: str, timeout: str) -> str:
    return re.sub(
        r"(<wsman:OperationTimeout>)[^<]*(</wsman:OperationTimeout>)", rf"\g<1>{timeout}\g<2>", request
    )


class Replayer:
    def __init__(self, path: Path) -> None:
        from winhost.engine.model import configured
        from winhost.stats import HostStats
        from winhost.wsman.service import WSManService

        self.path = path
        self.user = recorded_user(path)
        self.exchanges = load(path)
        self.service = WSManService(configured(), HostStats(), None)
        self.result = Result(path.stem)
        self._seed(path.stem)
        self._setup(path.stem)
        self.last_receive: dict[str, str] = {}
        self.decoders: dict[str, FragmentDecoder] = {}
        self.shell_ids: dict[str, str] = {}  # recorded ShellId/CommandId -> winhost's
        self.failures: list[str] = []

    def _setup(self, name: str) -> None:
        script = SETUP_SCRIPTS.get(name)
        if script is None:
            return
        from psrpcore import Command

        from winhost.engine.runspace import Runspace

        class _Host:
            stop_requested = threading.Event()

            def __getattr__(self, name: str) -> Any:
                return lambda *args, **kwargs: None

        Runspace(self.service.machine, self.user, "Microsoft.PowerShell").invoke(
            [Command(script, is_script=True)], None, _Host()
        )

    def _seed(self, name: str) -> None:
        windows_path = SEEDED_FILES.get(name)
        if windows_path is None:
            return
        content = b""
        for ex in self.exchanges:
            for message in ex.response_messages:
                if message.type == PSRPMessageType.PipelineOutput:
                    text = ET.fromstring(message.data).text or ""
                    content = base64.b64decode(text)
                    break
            if content:
                break
        machine = self.service.machine
        target = machine.sandbox().joinpath(*windows_path[3:].split("\\"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    def _map_ids(self, request: str) -> str:
        for recorded, ours in self.shell_ids.items():
            request = re.sub(re.escape(recorded), ours, request, flags=re.IGNORECASE)
        return request

    def _decode(self, target: str, root: ET.Element) -> list[Message]:
        return self.decoders.setdefault(target, FragmentDecoder()).feed(psrp_payload(root))

    def close(self) -> None:
        self.service.close_all()

    # ---------------------------------------------------------------------------------------
    def _send(self, request: str) -> tuple[int, ET.Element]:
        status, body = self.service.handle(self.user, self._map_ids(request).encode(), 10 * 1024 * 1024)
        return status, ET.fromstring(body)

    def _record(self, target: str, messages: list[Message], into: dict[str, list[str]]) -> None:
        if into is self.result.actual:
            self.result.errors += [_error_text(m) for m in messages if m.summary() in _ERROR_SUMMARIES]
        kept = [m.summary() for m in messages if not is_ignored(m)]
        if kept:
            into.setdefault(target, []).extend(kept)

    def _receive(
        self, target: str, request: str, timeout: str | None = RECEIVE_TIMEOUT
    ) -> tuple[int | None, bool]:
        status, root = self._send(_set_timeout(request, timeout) if timeout else request)
        if status != 200:
            fault = root.find("s:Body/s:Fault/s:Detail/f:WSManFault", NS)
            return (int(fault.get("Code", "0")) if fault is not None else -1), False
        self._record(target, self._decode(target, root), self.result.actual)
        state = root.find("s:Body/rsp:ReceiveResponse/rsp:CommandState", NS)
        return None, state is not None and state.get("State", "").endswith("/Done")

    def _catch_up(self, done: set[str]) -> None:
        """Receive on every target where winhost is behind what Windows had sent by now."""
        for target, request in list(self.last_receive.items()):
            for _ in range(MAX_CATCH_UP):
                if len(self.result.actual.get(target, [])) >= len(self.result.expected.get(target, [])):
                    break
                if target in done:
                    break
                code, finished = self._receive(target, request)
                if finished:
                    done.add(target)
                if code is not None and code != 2150858793:
                    break

    def _learn_shell_id(self, recorded_response: str, ours: ET.Element) -> None:
        path = "s:Body/wsman:ResourceCreated/wsa:ReferenceParameters/wsman:SelectorSet/wsman:Selector"
        path = path.replace(
            "wsman:ResourceCreated", "{http://schemas.xmlsoap.org/ws/2004/09/transfer}ResourceCreated"
        )
        recorded = ET.fromstring(recorded_response).findtext(path, "", NS)
        mine = ours.findtext(path, "", NS)
        if recorded and mine and recorded.upper() != mine.upper():
            self.shell_ids[recorded.upper()] = mine

    def run(self) -> Result:
        done_expected: set[str] = set()
        done_actual: set[str] = set()
        try:
            for ex in self.exchanges:
                if ex.error in ("http_error", "auth_error"):
                    continue
                if not (ex.resource_uri.startswith(POWERSHELL_URI) or ex.action in ("Enumerate", "Pull")):
                    continue  # WinRS cmd shells (client.execute_cmd) are not PSRP
                if ex.action == "Receive":
                    self._replay_receive(ex, done_expected, done_actual)
                else:
                    self._replay_other(ex, done_actual)
            self._catch_up(done_actual)
        finally:
            self.close()
        self.result.done_missing = sorted(done_expected - done_actual)
        return self.result

    def _replay_receive(self, ex: Exchange, done_expected: set[str], done_actual: set[str]) -> None:
        target = _target(ex)
        self.last_receive[target] = ex.request
        self._record(target, ex.response_messages, self.result.expected)
        if ex.command_done:
            done_expected.add(target)
        behind = len(self.result.actual.get(target, [])) < len(self.result.expected.get(target, []))
        if ex.fault_code is None and not behind and not (ex.command_done and target not in done_actual):
            return  # winhost already delivered this in an earlier Receive
        code, finished = self._receive(target, ex.request, timeout=None)
        if finished:
            done_actual.add(target)
        if code != ex.fault_code and not (code is None and ex.fault_code == 2150858793):
            self.result.fault_mismatches.append(
                f"exchange {ex.index} Receive: windows fault {ex.fault_code}, winhost {code}"
            )

    def _replay_other(self, ex: Exchange, done_actual: set[str]) -> None:
        target = _target(ex)
        if ex.action in ("Signal", "Delete", "Disconnect"):
            self._catch_up(done_actual)
        self._record(target, ex.response_messages, self.result.expected)
        status, root = self._send(ex.request)
        code = None
        if status != 200:
            fault = root.find("s:Body/s:Fault/s:Detail/f:WSManFault", NS)
            code = int(fault.get("Code", "0")) if fault is not None else -1
        else:
            self._record(target, self._decode(target, root), self.result.actual)
            self._learn_ids(ex, root)
        if code != ex.fault_code:
            self.result.fault_mismatches.append(
                f"exchange {ex.index} {ex.action}: windows fault {ex.fault_code}, winhost {code}"
            )

    def _learn_ids(self, ex: Exchange, root: ET.Element) -> None:
        """Map the recorded ShellId/CommandId to winhost's, for the requests that name them."""
        if ex.action == "Create" and ex.response:
            self._learn_shell_id(ex.response, root)
        if ex.action == "Command" and ex.response:
            recorded = ET.fromstring(ex.response).findtext("s:Body/rsp:CommandResponse/rsp:CommandId", "", NS)
            mine = root.findtext("s:Body/rsp:CommandResponse/rsp:CommandId", "", NS)
            if recorded and mine and recorded.upper() != mine.upper():
                self.shell_ids[recorded.upper()] = mine


def replay(path: Path) -> Result:
    return Replayer(path).run()
