"""pywinrm (the library behind ansible.builtin.winrm), an independent WinRM client, against winhost's
WinRS cmd shells over real HTTP(S): NTLM with message encryption over HTTP, NTLM over HTTPS with the
winhost CA validated. What Windows does is in [MS-WSMV] 3.1.4.1 and 3.1.4.11-3.1.4.14 and in the
recorded exchanges pypsrp ships (tests/tests_pypsrp/responses/test_winrs_*.yml; replayed by
tests/conformance)."""

from __future__ import annotations

import time
from typing import Any

import pytest

winrm = pytest.importorskip("winrm", reason="pywinrm is in test-requirements.txt")
from winrm.exceptions import WSManFaultError  # noqa: E402
from winrm.protocol import Protocol  # noqa: E402

xmltodict = pytest.importorskip("xmltodict", reason="pywinrm depends on it")

pytestmark = pytest.mark.winhost(hosts="win01", preset="configured", mode="thread")


def protocol(winhost: Any, scheme: str = "http", **kwargs: Any) -> Protocol:
    hv = winhost.hostvars("win01")
    port = hv["winhost_http_port"] if scheme == "http" else hv["winhost_https_port"]
    options: dict[str, Any] = {"transport": "ntlm", "message_encryption": "auto"}
    if scheme == "https":
        options.update(server_cert_validation="validate", ca_trust_path=hv["winhost_ca_cert"])
    options.update(kwargs)
    return Protocol(
        f"{scheme}://{hv['ansible_host']}:{port}/wsman",
        username=hv["ansible_user"],
        password=hv["ansible_password"],
        **options,
    )


def run(p: Protocol, command: str, args: list[str] | None = None, **shell: Any) -> tuple[bytes, bytes, int]:
    shell_id = p.open_shell(**shell)
    try:
        command_id = p.run_command(shell_id, command, args or [])
        try:
            return p.get_command_output(shell_id, command_id)
        finally:
            p.cleanup_command(shell_id, command_id)
    finally:
        p.close_shell(shell_id)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_command_stdout_and_exit_code(winhost: Any, scheme: str) -> None:
    out, err, rc = run(protocol(winhost, scheme), "echo", ["hello", "world"])
    assert (out, err, rc) == (b"hello world\r\n", b"", 0)


def test_http_requests_are_encrypted(winhost: Any) -> None:
    """pywinrm's NTLM over HTTP wraps every envelope (multipart/encrypted); winhost decrypts it."""
    p = protocol(winhost, message_encryption="always")
    out, _, rc = run(p, "hostname")
    assert (out, rc) == (b"WIN01\r\n", 0)


def test_stderr_and_exit_code_of_cmd_operators(winhost: Any) -> None:
    """cmd.exe /c runs ``&&`` chains and ``>&2``; the recorded Windows answer is out/err with the
    spaces before ``&&`` kept and exit code 1 (test_winrs_stderr_rc.yml), here with 3."""
    out, err, rc = run(protocol(winhost), "cmd.exe", ["/c echo out && echo err>&2 && exit 3"])
    assert (out, err, rc) == (b"out \r\n", b"err \r\n", 3)


def test_unknown_program_is_not_recognized(winhost: Any) -> None:
    out, err, rc = run(protocol(winhost), "nosuchprogram.exe")
    assert out == b""
    assert err.startswith(b"'nosuchprogram.exe' is not recognized as an internal or external command")
    assert rc == 9009


def test_powershell_encoded_command_errors_as_clixml(winhost: Any) -> None:
    """run_ps sends ``powershell -encodedcommand``: errors come back as CLIXML on stderr, which
    pywinrm turns into text, and the exit code is 1."""
    session = winrm.Session(
        f"http://{winhost.hostvars('win01')['ansible_host']}:{winhost.hostvars('win01')['winhost_http_port']}/wsman",
        auth=(winhost.hostvars("win01")["ansible_user"], winhost.hostvars("win01")["ansible_password"]),
        transport="ntlm",
    )
    result = session.run_ps("Write-Output 'to stdout'; Write-Error 'went wrong'")
    assert result.std_out == b"to stdout\r\n"
    assert b"went wrong" in result.std_err
    assert not result.std_err.startswith(b"#< CLIXML")
    assert result.status_code == 1


def test_stdin_is_sent_to_the_process(winhost: Any) -> None:
    p = protocol(winhost)
    shell_id = p.open_shell()
    try:
        command_id = p.run_command(
            shell_id, "powershell.exe", ["-NoProfile", "-Command", "-"], console_mode_stdin=False
        )
        p.send_command_input(shell_id, command_id, b"Write-Output 'first';")
        p.send_command_input(shell_id, command_id, b"Write-Output 'second'", end=True)
        out, err, rc = p.get_command_output(shell_id, command_id)
        p.cleanup_command(shell_id, command_id)
    finally:
        p.close_shell(shell_id)
    assert (out, err, rc) == (b"first\r\nsecond\r\n", b"", 0)


def test_environment_working_directory_and_noprofile(winhost: Any) -> None:
    p = protocol(winhost)
    out, _, rc = run(p, "set", ["PROBE"], env_vars={"PROBE_VAR": "probe value"})
    assert (out, rc) == (b"PROBE_VAR=probe value\r\n", 0)
    out, _, _ = run(p, "cd", working_directory="C:\\Windows")
    assert out == b"C:\\Windows\r\n"
    out, _, _ = run(p, "set", ["USERPROFILE"], noprofile=True)
    assert out == b"USERPROFILE=C:\\Users\\Default\r\n"


def test_codepage_65001_gives_utf8(winhost: Any) -> None:
    out, _, rc = run(protocol(winhost), "powershell.exe", ["Write-Host", "こんにちは"], codepage=65001)
    assert (out, rc) == ("こんにちは\n".encode(), 0)


def test_codepage_437_replaces_what_it_cannot_encode(winhost: Any) -> None:
    out, _, _ = run(protocol(winhost), "echo", ["こんにちは"])
    assert out == b"?????\r\n"


def test_skip_cmd_shell_needs_a_full_path(winhost: Any) -> None:
    """Without cmd.exe, CreateProcess gets the name as its application name: no PATH search
    (test_winrs_no_cmd_shell.yml: fault 0x80070002 for ``powershell.exe``)."""
    p = protocol(winhost)
    shell_id = p.open_shell()
    try:
        with pytest.raises(WSManFaultError) as failure:
            p.run_command(shell_id, "powershell.exe", ["Write-Host", "hi"], skip_cmd_shell=True)
        assert failure.value.wsman_fault_code == 2147942402
        command_id = p.run_command(
            shell_id,
            r"C:\Windows\system32\WindowsPowerShell\v1.0\powershell.exe",
            ["Write-Host", "hi"],
            skip_cmd_shell=True,
        )
        assert p.get_command_output(shell_id, command_id) == (b"hi\n", b"", 0)
    finally:
        p.close_shell(shell_id)


def test_ctrl_c_stops_a_running_command(winhost: Any) -> None:
    p = protocol(winhost)
    shell_id = p.open_shell()
    try:
        command_id = p.run_command(shell_id, "powershell.exe", ["Start-Sleep -Seconds 60; 'not reached'"])
        time.sleep(0.3)
        started = time.monotonic()
        # pywinrm has no call for ctrl_c: build the Signal with its own header helper
        request = {
            "env:Envelope": p.build_wsman_header(
                resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
                action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal",
                shell_id=shell_id,
            )
        }
        signal = request["env:Envelope"].setdefault("env:Body", {}).setdefault("rsp:Signal", {})
        signal["@CommandId"] = command_id
        signal["rsp:Code"] = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c"
        p.send_message(xmltodict.unparse(request))
        out, _, _ = p.get_command_output(shell_id, command_id)
        assert b"not reached" not in out
        assert time.monotonic() - started < 30
    finally:
        p.close_shell(shell_id)


def test_counters_count_winrs_shells_and_commands(winhost: Any) -> None:
    winhost.reset_stats("win01")
    run(protocol(winhost), "echo", ["counted"])
    stats = winhost.stats("win01")
    assert stats["shells_created"] == 1
    assert stats["shells_open"] == 0
    assert stats["operations_started"] == 1
    assert stats["operations_open"] == 0
    requests = stats["wsman_requests"]
    assert (
        requests["Create"],
        requests["Command"],
        requests["Receive"],
        requests["Signal"],
        requests["Delete"],
    ) == (
        1,
        1,
        1,
        1,
        1,
    )


def test_receive_without_command_id_is_refused(winhost: Any) -> None:
    """The cmd plugin refuses a Receive without CommandId with error 87
    (test_winrs_fail_poll_process.yml)."""
    p = protocol(winhost)
    shell_id = p.open_shell()
    try:
        request = {
            "env:Envelope": p.build_wsman_header(
                resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
                action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
                shell_id=shell_id,
            )
        }
        request["env:Envelope"].setdefault("env:Body", {})["rsp:Receive"] = {
            "rsp:DesiredStream": "stdout stderr"
        }
        with pytest.raises(WSManFaultError) as failure:
            p.send_message(xmltodict.unparse(request))
        assert failure.value.wsman_fault_code == 87
    finally:
        p.close_shell(shell_id)
