"""Replay pypsrp's recorded WinRS cmd-shell and WSMan-configuration exchanges against winhost.

Every recorded request is sent, in order, to a fresh :class:`winhost.wsman.WSManService` backed by
the real engine (recorded ShellIds and CommandIds are mapped to winhost's). Compared:

* which requests fault, and with which WSMan code (an OperationTimeout on a Receive is timing, not
  protocol: winhost may deliver sooner);
* the properties of the shell that Create returns (names in order, IdleTimeOut, WorkingDirectory);
* per command: everything it wrote on stdout and stderr, and its exit code, from all its Receives
  up to CommandState Done (how Windows split the bytes over Receives is not compared);
* for a Get of ``winrm/config``: the element tree (names and order) and MaxEnvelopeSizekb.

Where the output is the recorded host's own state (its environment block, its profile folder),
HOST_SPECIFIC names the lines compared; see test_replay.py.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from recordings import NS
from replay import recorded_user

CFG = "{http://schemas.microsoft.com/wbem/wsman/1/config}"
TIMEOUT_FAULT = 2150858793
RECEIVE_TIMEOUT = "PT3S"
#: Receives winhost may need to reach Done (a command that sleeps 30 s needs 10 of PT3S).
MAX_RECEIVES = 30


def _env_names(exchanges: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for raw in exchanges:
        root = ET.fromstring(raw["request"])
        for var in root.iter("{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}Variable"):
            names.add(var.get("Name", "").lower())
    return names


def _lines_named(
    names: Callable[[list[dict[str, Any]]], set[str]],
) -> Callable[[list[dict[str, Any]], str], list[str]]:
    """A filter keeping the ``NAME=value`` lines (cmd's ``set``) whose name is in ``names``."""

    def keep(exchanges: list[dict[str, Any]], text: str) -> list[str]:
        wanted = names(exchanges)
        return sorted(line for line in text.splitlines() if line.partition("=")[0].lower() in wanted)

    return keep


def _dir_lines(exchanges: list[dict[str, Any]], text: str) -> list[str]:
    """``dir`` of the profile: which folder, the ``.``/``..`` entries and the header shape; the
    files, dates, serial number, volume label and free space are the recorded machine's."""
    keep = []
    for line in text.splitlines():
        if line.startswith((" Directory of ", " Volume Serial Number is ")):
            keep.append(re.sub(r"[0-9A-F]{4}-[0-9A-F]{4}$", "XXXX-XXXX", line))
        elif re.search(r"<DIR>\s+\.{1,2}$", line):
            keep.append(re.sub(r"^.*<DIR>", "<DIR>", line))
        elif re.search(r"File\(s\)|Dir\(s\)", line):
            keep.append(re.sub(r"\d[\d,]*", "N", line.strip()))
    return keep


#: recording -> the part of the command output that does not depend on the recorded machine.
HOST_SPECIFIC: dict[str, Callable[[list[dict[str, Any]], str], list[str]]] = {
    # ``cmd /c set`` prints the whole environment block; the variables the shell was created
    # with (rsp:Environment) are the part that is the protocol's.
    "test_winrs_environment": _lines_named(_env_names),
    "test_client_execute_cmd_environment": _lines_named(_env_names),
    # WINRS_NOPROFILE: the Default profile and no AppData variables.
    "test_winrs_noprofile": _lines_named(lambda _: {"userprofile", "username", "appdata", "localappdata"}),
    "test_client_execute_cmd": _dir_lines,
}


@dataclass
class Output:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int | None = None

    def add(self, root: ET.Element) -> bool:
        """Add one ReceiveResponse; True when it carries CommandState Done."""
        for stream in root.iter(f"{{{NS['rsp']}}}Stream"):
            data = base64.b64decode(stream.text or "")
            if stream.get("Name") == "stdout":
                self.stdout += data
            elif stream.get("Name") == "stderr":
                self.stderr += data
        state = root.find("s:Body/rsp:ReceiveResponse/rsp:CommandState", NS)
        if state is not None and state.get("State", "").endswith("/Done"):
            self.exit_code = int(state.findtext("rsp:ExitCode", "0", NS) or 0)
            return True
        return False


@dataclass
class WinRSResult:
    name: str
    mismatches: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.mismatches

    def describe(self) -> str:
        return "\n".join(self.mismatches)


def _fault(root: ET.Element) -> int | None:
    fault = root.find("s:Body/s:Fault/s:Detail/f:WSManFault", NS)
    return int(fault.get("Code", "0")) if fault is not None else None


def _action(request: str) -> str:
    match = re.search(r"<wsa:Action[^>]*>([^<]*)<", request)
    return match.group(1).rsplit("/", 1)[-1] if match else ""


def _command_id(request: str) -> str | None:
    match = re.search(r'CommandId="([^"]+)"', request)
    return match.group(1).upper() if match else None


def _shell_properties(root: ET.Element) -> list[str]:
    shell = root.find("s:Body/rsp:Shell", NS)
    if shell is None:
        return []
    props = []
    for child in shell:
        tag = child.tag.split("}")[1]
        if tag in ("IdleTimeOut", "WorkingDirectory"):
            tag = f"{tag}={child.text}"
        props.append(tag)
    return props


def _config_tree(root: ET.Element) -> list[str]:
    config = root.find(f"s:Body/{CFG}Config", NS)
    if config is None:
        return []
    return [el.tag.replace(CFG, "") for el in config.iter()]


class WinRSReplayer:
    def __init__(self, path: Path) -> None:
        from winhost.engine.model import configured
        from winhost.stats import HostStats
        from winhost.wsman.service import WSManService

        self.path = path
        self.name = path.stem
        self.messages: list[dict[str, Any]] = yaml.safe_load(path.read_text())["messages"]
        self.user = recorded_user(path)
        self.service = WSManService(configured(), HostStats(), None)
        self.result = WinRSResult(self.name)
        self.ids: dict[str, str] = {}
        self.expected: dict[str, Output] = {}
        self.actual: dict[str, Output] = {}
        self._seed_config()

    def _seed_config(self) -> None:
        """The recorded host's MaxEnvelopeSizekb (pypsrp's test set it before recording)."""
        for raw in self.messages:
            match = re.search(r"<cfg:MaxEnvelopeSizekb>(\d+)<", raw.get("response") or "")
            if match:
                self.service.machine.wsman.service.max_envelope_size_kb = int(match.group(1))

    def _send(self, request: str, timeout: str | None = None) -> ET.Element:
        for recorded, ours in self.ids.items():
            request = re.sub(re.escape(recorded), ours, request, flags=re.IGNORECASE)
        if timeout:
            request = re.sub(r"(<wsman:OperationTimeout>)[^<]*(<)", rf"\g<1>{timeout}\g<2>", request)
        _, body = self.service.handle(self.user, request.encode(), 10 * 1024 * 1024)
        return ET.fromstring(body)

    def _mismatch(self, index: int, what: str, windows: Any, winhost: Any) -> None:
        if windows != winhost:
            self.result.mismatches.append(f"exchange {index} {what}: windows={windows!r} winhost={winhost!r}")

    def _learn(self, recorded: ET.Element, ours: ET.Element) -> None:
        for path in (
            "s:Body/{http://schemas.xmlsoap.org/ws/2004/09/transfer}ResourceCreated/wsa:ReferenceParameters/"
            "wsman:SelectorSet/wsman:Selector",
            "s:Body/rsp:CommandResponse/rsp:CommandId",
        ):
            theirs, mine = recorded.findtext(path, "", NS), ours.findtext(path, "", NS)
            if theirs and mine:
                self.ids[theirs.upper()] = mine

    def _receive(self, index: int, raw: dict[str, Any], recorded: ET.Element | None) -> None:
        command = _command_id(raw["request"]) or ""
        windows_fault = _fault(recorded) if recorded is not None else None
        if windows_fault not in (None, TIMEOUT_FAULT):
            self._mismatch(
                index, "Receive fault", windows_fault, _fault(self._send(raw["request"], RECEIVE_TIMEOUT))
            )
            return
        if recorded is not None and windows_fault is None:
            self.expected.setdefault(command, Output()).add(recorded)
        ours = self.actual.setdefault(command, Output())
        windows_done = self.expected.get(command, Output()).exit_code is not None
        for _ in range(MAX_RECEIVES if windows_done else 1):
            if ours.exit_code is not None:
                return
            root = self._send(raw["request"], RECEIVE_TIMEOUT)
            code = _fault(root)
            if code is None:
                ours.add(root)
            elif code != TIMEOUT_FAULT:
                self._mismatch(index, "Receive fault", windows_fault, code)
                return

    def run(self) -> WinRSResult:
        try:
            for index, raw in enumerate(self.messages):
                if raw.get("http_error") or raw.get("auth_error"):
                    continue
                recorded = ET.fromstring(raw["response"]) if raw.get("response") else None
                action = _action(raw["request"])
                if action == "Receive":
                    self._receive(index, raw, recorded)
                    continue
                ours = self._send(raw["request"])
                windows_fault = _fault(recorded) if recorded is not None else None
                self._mismatch(index, f"{action} fault", windows_fault, _fault(ours))
                if recorded is None or windows_fault is not None:
                    continue
                self._learn(recorded, ours)
                if action == "Create":
                    self._mismatch(
                        index, "Create shell", _shell_properties(recorded), _shell_properties(ours)
                    )
                if action == "Get":
                    self._mismatch(index, "config tree", _config_tree(recorded), _config_tree(ours))
            self._compare_outputs()
        finally:
            self.service.close_all()
        return self.result

    def _compare_outputs(self) -> None:
        keep = HOST_SPECIFIC.get(self.name)
        for command, expected in self.expected.items():
            actual = self.actual.get(command, Output())
            for stream in ("stdout", "stderr"):
                theirs = getattr(expected, stream).decode("utf-8", "replace")
                mine = getattr(actual, stream).decode("utf-8", "replace")
                if keep is not None and stream == "stdout":
                    theirs, mine = keep(self.messages, theirs), keep(self.messages, mine)  # type: ignore[assignment]
                self._mismatch(-1, f"command {command} {stream}", theirs, mine)
            self._mismatch(-1, f"command {command} exit code", expected.exit_code, actual.exit_code)


def replay_winrs(path: Path) -> WinRSResult:
    return WinRSReplayer(path).run()
