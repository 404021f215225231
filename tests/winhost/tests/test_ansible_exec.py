"""winhost answers the payloads the installed ansible-core builds for ansible.builtin.psrp.

The payloads are made by ansible-core itself: the module manifest by
``ansible.executor.powershell.module_manifest._create_powershell_wrapper`` (what ``modify_module``
calls for a ``.ps1`` module), the script from the command line ansible-core builds for a pipelined
module, decoded the way that release's ``psrp.py`` ``exec_command`` decodes it (see
:func:`bootstrap_script`), and the input passed as that ``exec_command`` passes it: split into
lines on 2.19+ (``pwsh_in_data.splitlines()``), one string on 2.16-2.18.

The module tests run on every supported ansible-core (the version matrix runs this file); tests of
the 2.19+ helper scripts (``psrp_put_file.ps1``, ``psrp_fetch_file.ps1``, mkdtemp/expand_user
through ``_bootstrap_powershell_script``) skip before 2.19, whose shapes the ``v1`` tests cover.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest
from psrpcore import Command

pytest.importorskip("ansible", reason="ansible-core builds the payloads under test")

from ansible.executor.powershell import module_manifest
from ansible.plugins.loader import become_loader, shell_loader

try:  # ansible-core 2.21+: module_common builds the command line, psrp.py parses it
    from ansible._internal._powershell import _script as pwsh_script
except ImportError:  # 2.16-2.20: the shell plugin's build_module_command('', '', '')
    pwsh_script = None

from winhost.engine import ansible_exec
from winhost.engine.hosts import RecordingHost
from winhost.engine.model import fresh
from winhost.engine.runspace import Runspace

WINDOWS_MODULES = "ansible_collections.ansible.windows.plugins.modules"


class FakeHost(RecordingHost):
    """Records what the pipeline produced; ``result()`` is the module's JSON."""

    def result(self) -> dict[str, Any]:
        assert len(self.output) == 1, self.output
        return dict(json.loads(self.output[0]))


@pytest.fixture
def runspace(tmp_path: Path) -> Runspace:
    machine = fresh("WIN01")
    machine.sandbox_dir = str(tmp_path / "C")
    return Runspace(machine, "Administrator", "Microsoft.PowerShell")


V2_PAYLOAD = hasattr(module_manifest, "_bootstrap_powershell_script")  # 2.19+
needs_v2 = pytest.mark.skipif(
    not V2_PAYLOAD, reason="2.16-2.18 have no _bootstrap_powershell_script (the v1 tests cover them)"
)
async_v2 = pytest.mark.skipif(
    not V2_PAYLOAD, reason="winhost emulates the async_wrapper.ps1 of 2.19+ only (engine/ansible_async.py)"
)


def bootstrap_script() -> str:
    """The script psrp.py runs for a pipelined module, from the command line ansible-core builds.

    2.21+: ``module_common`` builds the arguments with ``_script.get_pwsh_encoded_cmdline(
    bootstrap_wrapper.ps1, override_execution_policy=True)``, the action plugin joins them with the
    shell plugin's ``join`` and ``psrp.py`` takes the script back with
    ``_script.parse_encoded_cmdline`` (``build_module_command('', '', '')`` no longer has a
    pipelining case and raises IndexError). 2.16-2.20: ``build_module_command('', '', '')`` is the
    command and ``psrp.py`` decodes its last word as UTF-16-LE base64.
    """
    shell = shell_loader.get("powershell")
    if pwsh_script is not None:
        wrapper = module_manifest._get_powershell_script("bootstrap_wrapper.ps1").decode()
        cmd = shell.join(pwsh_script.get_pwsh_encoded_cmdline(wrapper, override_execution_policy=True))
        parsed = pwsh_script.parse_encoded_cmdline(cmd)
        assert parsed is not None, cmd
        script, script_args = parsed
        assert not script_args
        return str(script)
    cmd = shell.build_module_command("", "", "")
    return base64.b64decode(cmd.split(" ")[-1]).decode("utf-16-le")


def module_payload(
    leaf: str,
    args: dict[str, Any],
    environment: dict[str, str] | None = None,
    become: Any = None,
    async_timeout: int = 0,
) -> list[str]:
    """The pipeline input psrp.py sends for the module: lines (2.19+) or one string (2.16-2.18)."""
    source = importlib.resources.files(WINDOWS_MODULES).joinpath(f"{leaf}.ps1")
    data = source.read_bytes()
    module_args = {"_ansible_module_name": f"ansible.windows.{leaf}", **args}
    if not V2_PAYLOAD:
        return [
            _v1_wrapper(
                leaf,
                data,
                str(source),
                module_args=module_args,
                environment=environment or {},
                become=become,
                async_timeout=async_timeout,
            )
        ]
    payload = module_manifest._create_powershell_wrapper(
        name=f"{WINDOWS_MODULES}.{leaf}",
        module_data=data,
        module_path=str(source),
        module_args=module_args,
        environment=environment or {},
        async_timeout=async_timeout,
        become_plugin=become,
        substyle="powershell",
        task_vars={},
        profile="legacy",
    )
    return payload.decode().splitlines()


def _v1_wrapper(
    leaf: str,
    data: bytes,
    path: str,
    *,
    module_args: dict[str, Any],
    environment: dict[str, str],
    become: Any,
    async_timeout: int,
) -> str:
    """2.16-2.18 module_common: positional become fields from the play context, one input string."""
    become_fields: list[Any] = [False, None, None, None, None]
    if become is not None:
        become_fields = [True, "runas"] + [
            become.get_option(name) for name in ("become_user", "become_pass", "become_flags")
        ]
    payload = module_manifest._create_powershell_wrapper(
        data,
        path,
        module_args,
        environment,
        async_timeout,
        *become_fields,
        "powershell",
        {},
        f"{WINDOWS_MODULES}.{leaf}",
    )
    return str(payload.decode())


def run_module(
    runspace: Runspace, leaf: str, become: Any = None, **args: Any
) -> tuple[dict[str, Any], FakeHost]:
    host = FakeHost()
    payload = module_payload(leaf, args, become=become)
    runspace.invoke([Command(bootstrap_script(), is_script=True)], iter(payload), host)
    return host.result(), host


def runas(user: str, password: str | None = None) -> Any:
    """ansible-core's runas become plugin with its options set (as a task's become_user/pass)."""
    plugin = become_loader.get("runas")
    plugin.set_options(direct={"become_user": user, "become_pass": password})
    return plugin


def win(runspace: Runspace, path: str) -> Path:
    """Real sandbox path of a C:\\ path (test helper, case as given)."""
    assert path.upper().startswith("C:\\")
    return runspace.machine.sandbox().joinpath(*[p for p in path[3:].split("\\") if p])


# -- win_ping -----------------------------------------------------------------------------------


def test_win_ping_through_runspace_invoke(runspace: Runspace) -> None:
    result, host = run_module(runspace, "win_ping")
    assert result["ping"] == "pong"
    assert result["changed"] is False
    assert result["invocation"] == {"module_args": {"data": "pong"}}
    assert host.exit_code == 0


def test_win_ping_data_and_crash(runspace: Runspace) -> None:
    result, _ = run_module(runspace, "win_ping", data="hello")
    assert result["ping"] == "hello"
    result, host = run_module(runspace, "win_ping", data="crash")
    assert result["failed"] is True
    assert result["msg"] == "Unhandled exception while executing module: boom"
    assert host.exit_code == 1


def test_unsupported_option_fails_like_ansible_basic(runspace: Runspace) -> None:
    result, host = run_module(runspace, "win_ping", bogus=1)
    assert result["failed"] is True
    assert result["msg"].startswith("Unsupported parameters for (ansible.windows.win_ping) module: bogus")
    assert host.exit_code == 1


def test_unknown_module_reports_not_emulated(runspace: Runspace) -> None:
    result, host = run_module(runspace, "win_hostname", name="x")
    assert result == {
        "failed": True,
        "changed": False,
        "msg": "winhost does not emulate module ansible.windows.win_hostname",
    }
    assert host.exit_code == 1


# -- win_stat / win_file / win_copy ---------------------------------------------------------------


def test_win_stat_file_directory_missing(runspace: Runspace) -> None:
    target = win(runspace, "C:\\Data\\report.txt")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"hello world")
    result, _ = run_module(runspace, "win_stat", path="c:\\data\\REPORT.txt")
    stat = result["stat"]
    assert stat["exists"] is True
    assert stat["isdir"] is False and stat["isreg"] is True
    assert stat["size"] == 11
    assert stat["checksum"] == hashlib.sha1(b"hello world").hexdigest()
    assert stat["path"] == "C:\\Data\\report.txt"  # on-disk spelling, like FullName
    assert stat["extension"] == ".txt"

    result, _ = run_module(runspace, "win_stat", path="C:\\Data")
    assert result["stat"]["isdir"] is True
    assert result["stat"]["size"] == 11

    result, _ = run_module(runspace, "win_stat", path="C:\\nope")
    assert result["stat"] == {"exists": False}


def test_win_file_states_and_check_mode(runspace: Runspace) -> None:
    result, _ = run_module(
        runspace, "win_file", path="C:\\Temp\\new dir\\ünï", state="directory", _ansible_check_mode=True
    )
    assert result == {"changed": True}
    assert not win(runspace, "C:\\Temp").exists()

    result, _ = run_module(runspace, "win_file", path="C:\\Temp\\new dir\\ünï", state="directory")
    assert result == {"changed": True}
    assert win(runspace, "C:\\Temp\\new dir\\ünï").is_dir()
    result, _ = run_module(runspace, "win_file", path="C:\\Temp\\new dir\\ünï", state="directory")
    assert result == {"changed": False}

    result, _ = run_module(runspace, "win_file", path="C:\\Temp\\a.txt", state="touch")
    assert result["changed"] is True and win(runspace, "C:\\Temp\\a.txt").is_file()
    result, host = run_module(runspace, "win_file", path="C:\\Temp\\a.txt", state="directory")
    assert result == {"changed": False, "failed": True, "msg": "path C:\\Temp\\a.txt is not a directory"}
    assert host.exit_code == 1
    result, _ = run_module(runspace, "win_file", path="C:\\Temp\\b.txt", state="file")
    assert result["msg"] == "path C:\\Temp\\b.txt will not be created"

    result, _ = run_module(runspace, "win_file", path="C:\\Temp", state="absent")
    assert result == {"changed": True}
    assert not win(runspace, "C:\\Temp").exists()


def test_win_copy_query_and_single(runspace: Runspace) -> None:
    upload = win(runspace, "C:\\Users\\Administrator\\AppData\\Local\\Temp\\ansible-tmp-1\\source")
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"content\n")
    checksum = hashlib.sha1(b"content\n").hexdigest()

    files = [{"src": "/ctl/app.conf", "dest": "app.conf", "checksum": checksum, "size": 8}]
    result, _ = run_module(
        runspace, "win_copy", _copy_mode="query", dest="C:\\App", files=files, directories=[]
    )
    assert result["files"] == files and result["directories"] == [] and result["changed"] is False

    result, _ = run_module(
        runspace,
        "win_copy",
        _copy_mode="single",
        src=str(upload_path(upload, runspace)),
        dest="C:\\App\\",
        _original_basename="app.conf",
    )
    assert result == {"changed": True}
    assert win(runspace, "C:\\App\\app.conf").read_bytes() == b"content\n"

    result, _ = run_module(
        runspace, "win_copy", _copy_mode="query", dest="C:\\App", files=files, directories=[]
    )
    assert result["files"] == []


def upload_path(real: Path, runspace: Runspace) -> str:
    return "C:\\" + "\\".join(real.relative_to(runspace.machine.sandbox()).parts)


# -- win_service ---------------------------------------------------------------------------------


def test_win_service_stop_start_check_mode(runspace: Runspace) -> None:
    machine = runspace.machine
    result, _ = run_module(runspace, "win_service", name="spooler", state="stopped", _ansible_check_mode=True)
    assert result["changed"] is True and result["state"] == "stopped"
    assert machine.services["Spooler"].status == "Running"

    result, _ = run_module(runspace, "win_service", name="spooler", state="stopped")
    assert result["changed"] is True
    assert machine.services["Spooler"].status == "Stopped"
    for key in (
        "exists",
        "name",
        "display_name",
        "state",
        "start_mode",
        "path",
        "can_pause_and_continue",
        "description",
        "username",
        "desktop_interact",
        "dependencies",
        "depended_by",
    ):
        assert key in result
    assert (result["name"], result["display_name"], result["state"]) == (
        "Spooler",
        "Print Spooler",
        "stopped",
    )

    result, _ = run_module(runspace, "win_service", name="Spooler", state="stopped")
    assert result["changed"] is False

    result, _ = run_module(runspace, "win_service", name="Spooler", state="started", start_mode="manual")
    assert result["changed"] is True and result["state"] == "running" and result["start_mode"] == "manual"


def test_win_service_missing_and_dependents(runspace: Runspace) -> None:
    result, _ = run_module(runspace, "win_service", name="nosuch")
    assert result["exists"] is False and result["changed"] is False
    result, _ = run_module(runspace, "win_service", name="nosuch", state="started")
    assert result["msg"] == "Service 'nosuch' is not installed, need to set 'path' to create a new service"
    # WinRM depends on HTTP: stopping HTTP needs force_dependent_services
    result, _ = run_module(runspace, "win_service", name="HTTP", state="stopped")
    assert result["failed"] is True and "dependent services" in result["msg"]
    assert runspace.machine.services["WinRM"].status == "Running"


# -- setup ---------------------------------------------------------------------------------------


def test_setup_facts(runspace: Runspace) -> None:
    result, _ = run_module(runspace, "setup")
    facts = result["ansible_facts"]
    assert facts["ansible_hostname"] == "WIN01"
    assert facts["ansible_os_family"] == "Windows"
    assert facts["ansible_distribution"] == "Microsoft Windows Server 2022 Datacenter"
    assert facts["ansible_powershell_version"] == 5
    assert isinstance(facts["ansible_ip_addresses"], list)
    assert facts["ansible_env"]["USERPROFILE"] == "C:\\Users\\Administrator"
    assert facts["ansible_user_id"] == "Administrator"

    result, _ = run_module(runspace, "setup", gather_subset=["!all"])
    assert "ansible_processor" not in result["ansible_facts"]
    assert "ansible_hostname" in result["ansible_facts"]


# -- win_command / win_shell ---------------------------------------------------------------------


def test_win_command_builtin_executables(runspace: Runspace) -> None:
    result, _ = run_module(runspace, "win_command", _raw_params="hostname.exe")
    assert result["stdout"] == "WIN01\r\n" and result["rc"] == 0 and result["changed"] is True
    result, _ = run_module(runspace, "win_command", argv=["cmd.exe", "/c", "echo", "hi there"])
    assert result["stdout"] == '"hi there"\r\n'
    result, host = run_module(runspace, "win_command", _raw_params="nosuch.exe /x")
    assert result["failed"] is True and result["rc"] == 2 and "Could not find file" in result["msg"]
    assert host.exit_code == 1


def test_win_command_creates_skips(runspace: Runspace) -> None:
    win(runspace, "C:\\marker").write_text("x")
    result, _ = run_module(runspace, "win_command", _raw_params="hostname", creates="C:\\marker")
    assert result["skipped"] is True and result["msg"] == "skipped, since C:\\marker exists"


def test_win_shell_runs_script_in_engine(runspace: Runspace) -> None:
    result, host = run_module(runspace, "win_shell", _raw_params="Write-Output 'hello'; exit 3")
    assert result["stdout"] == "hello\r\n"
    assert result["rc"] == 3
    assert result["failed"] is True and result["msg"] == "non-zero return code"
    result, host = run_module(runspace, "win_shell", _raw_params="'a'; 'b'")
    assert result["stdout"] == "a\r\nb\r\n" and result["rc"] == 0 and host.exit_code == 0


def test_win_command_powershell_with_execution_policy_and_write_host(runspace: Runspace) -> None:
    """ansible-core's connection_psrp target ("Output unicode characters from Powershell using
    PSRP"): ``-ExecutionPolicy ByPass`` takes a value (about_PowerShell_exe); Write-Host to a
    redirected stdout ends the line with LF."""
    line = "powershell.exe -ExecutionPolicy ByPass -Command \"Write-Host '\U0001f4a9'\""
    result, _ = run_module(runspace, "win_command", _raw_params=line)
    assert (result["rc"], result["stdout"], result["stderr"]) == (0, "\U0001f4a9\n", "")
    result, _ = run_module(runspace, "win_shell", _raw_params="Write-Host '\U0001f4a9'")
    assert (result["rc"], result["stdout"], result["stderr"]) == (0, "\U0001f4a9\n", "")


def test_win_shell_stderr_is_format_stderr_of_the_clixml(runspace: Runspace) -> None:
    """win_shell runs powershell.exe -EncodedCommand, whose errors reach stderr as CLIXML; the
    module's Format-Stderr keeps the Error strings (ansible.windows win_shell.ps1)."""
    result, _ = run_module(runspace, "win_shell", _raw_params="$host.UI.WriteErrorLine('bad thing'); exit 4")
    assert (result["rc"], result["stderr"]) == (4, "bad thing")


def test_win_shell_cmd_unknown_command_is_errorlevel_9009(runspace: Runspace) -> None:
    """cmd.exe: a command that is no built-in and no program prints "is not recognized as an
    internal or external command" and sets errorlevel 9009 (one cmd.exe emulation for WinRS,
    win_shell and pipelines)."""
    result, _ = run_module(runspace, "win_shell", _raw_params="nosuch arg", executable="cmd")
    assert result["rc"] == 9009
    assert result["stderr"] == (
        "'nosuch' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    )


# -- become (runas) and win_whoami ---------------------------------------------------------------


def test_win_whoami_as_the_connection_user(runspace: Runspace) -> None:
    """win_whoami.ps1 (Ansible.SessionInfo) over a network logon of the local Administrator."""
    result, _ = run_module(runspace, "win_whoami")
    assert result["account"] == {
        "sid": "S-1-5-21-1004336348-1177238915-682003330-500",
        "account_name": "Administrator",
        "domain_name": "WIN01",
        "type": "User",
    }
    assert result["logon_type"] == "Network"
    assert result["label"]["sid"] == "S-1-16-12288"  # High Mandatory Level: an elevated admin
    assert {g["account_name"] for g in result["groups"]} >= {"Everyone", "Administrators", "NETWORK"}


def test_become_system_runs_the_module_as_system(runspace: Runspace) -> None:
    """ansible-core's connection_psrp target ("test out become with psrp"): become_user SYSTEM
    (become_wrapper.ps1, Ansible.Become) makes win_whoami report S-1-5-18."""
    result, _ = run_module(runspace, "win_whoami", become=runas("SYSTEM"))
    assert result["account"] == {
        "sid": "S-1-5-18",
        "account_name": "SYSTEM",
        "domain_name": "NT AUTHORITY",
        "type": "WellKnownGroup",
    }
    assert (result["logon_type"], result["label"]["sid"]) == ("System", "S-1-16-16384")


def test_become_refuses_an_unknown_user_and_a_wrong_password(runspace: Runspace) -> None:
    """Ansible.Become: NTAccount.Translate fails for an unknown name, LogonUser for a wrong
    password (Win32 error 1326); the exec wrapper reports the CreateProcessAsUser exception."""
    result, _ = run_module(runspace, "win_whoami", become=runas("nosuchuser"))
    assert result["failed"] is True
    assert result["msg"] == (
        'failure during exec_wrapper: Exception calling "CreateProcessAsUser" with "9" argument(s): '
        '"Some or all identity references could not be translated."'
    )
    result, _ = run_module(runspace, "win_whoami", become=runas("Administrator", "wrong"))
    assert result["failed"] is True
    assert (
        "Failed to logon WIN01\\Administrator (The user name or password is incorrect, Win32ErrorCode 1326"
        in (result["msg"])
    )
    password = runspace.machine.accounts["Administrator"].password
    result, _ = run_module(runspace, "win_whoami", become=runas(".\\Administrator", password))
    assert result["account"]["account_name"] == "Administrator"


# -- async (async_wrapper.ps1, async_watchdog.ps1) and async_status ------------------------------


def _async(runspace: Runspace, leaf: str, timeout: int, **args: Any) -> dict[str, Any]:
    host = FakeHost()
    env = {"ANSIBLE_ASYNC_DIR": "%USERPROFILE%\\.ansible_async"}
    payload = module_payload(leaf, args, environment=env, async_timeout=timeout)
    runspace.invoke([Command(bootstrap_script(), is_script=True)], iter(payload), host)
    return host.result()


def _wait_finished(runspace: Runspace, jid: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 60
    while True:
        status, _ = run_module(runspace, "async_status", jid=jid, _async_dir="%USERPROFILE%\\.ansible_async")
        if status.get("finished") or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


@async_v2
def test_async_task_runs_as_a_job_that_async_status_reports(runspace: Runspace) -> None:
    """ansible-core's connection_psrp target ("test out async with psrp"): the wrapper returns
    at once with the job id and results file (async_wrapper.ps1); the job's module result lands
    in the file, which ansible.windows.async_status reads."""
    started = _async(runspace, "win_shell", 10, _raw_params="Start-Sleep -Seconds 1; Write-Output abc")
    assert (started["started"], started["finished"]) == (True, False)
    jid = started["ansible_job_id"]
    assert started["results_file"] == f"C:\\Users\\Administrator\\.ansible_async\\{jid}"
    status = _wait_finished(runspace, jid)
    assert status["finished"] is True and status["stdout"] == "abc\r\n" and status["rc"] == 0
    assert status["ansible_job_id"] == jid
    # the results file is written as Set-Content -Encoding UTF8 does in Windows PowerShell: a BOM
    assert win(runspace, started["results_file"]).read_bytes().startswith(b"\xef\xbb\xbf")
    erased, _ = run_module(
        runspace, "async_status", jid=jid, mode="cleanup", _async_dir="%USERPROFILE%\\.ansible_async"
    )
    # _async_dir is a "path" option: Get-AnsibleParam expands its environment variables
    assert erased["erased"] == f"C:\\Users\\Administrator\\.ansible_async\\{jid}"
    missing, _ = run_module(runspace, "async_status", jid=jid, _async_dir="%USERPROFILE%\\.ansible_async")
    assert (
        missing["failed"] is True
        and missing["msg"] == "could not find job at 'C:\\Users\\Administrator\\.ansible_async'"
    )


@async_v2
def test_async_task_past_its_timeout_fails_in_the_watchdog(runspace: Runspace) -> None:
    started = _async(runspace, "win_shell", 1, _raw_params="Start-Sleep -Seconds 5; 'late'")
    status = _wait_finished(runspace, started["ansible_job_id"])
    assert status["failed"] is True
    assert status["msg"] == "failure during async watchdog: timed out waiting for module completion"


# -- put_file / fetch_file -----------------------------------------------------------------------


def put(runspace: Runspace, path: str, data: bytes, chunk: int = 5) -> FakeHost:
    script, in_data = module_manifest._bootstrap_powershell_script(
        "psrp_put_file.ps1", {"Path": path}, has_input=True
    )

    def gen() -> Any:
        yield from in_data.decode().splitlines()
        for i in range(0, len(data), chunk):
            yield [base64.b64encode(data[i : i + chunk]).decode()]
        if not data:
            yield [""]

    host = FakeHost()
    runspace.invoke([Command(script, is_script=True)], gen(), host)
    return host


@needs_v2
@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 40])
def test_put_file_v2_hash_and_content(runspace: Runspace, data: bytes) -> None:
    path = "C:\\Users\\Administrator\\dir with spaces\\fïle ü.bin"
    win(runspace, path).parent.mkdir(parents=True)
    host = put(runspace, path, data)
    assert json.loads(host.output[0]) == {"sha1": hashlib.sha1(data).hexdigest()}
    assert win(runspace, path).read_bytes() == data
    assert host.exit_code in (None, 0)


@needs_v2
def test_put_file_v2_long_path_and_missing_parent(runspace: Runspace) -> None:
    long_dir = "C:\\" + "\\".join(["d" * 50] * 6)
    win(runspace, long_dir).mkdir(parents=True)
    host = put(runspace, "\\\\?\\" + long_dir + "\\f.txt", b"abc")
    assert json.loads(host.output[0])["sha1"] == hashlib.sha1(b"abc").hexdigest()
    host = put(runspace, "C:\\missing\\f.txt", b"abc")
    result = json.loads(host.output[0])
    assert result["failed"] is True and "Could not find a part of the path" in result["msg"]
    assert host.exit_code == 1


def fetch(runspace: Runspace, path: str, buffer_size: int = 4) -> FakeHost:
    script, in_data = module_manifest._bootstrap_powershell_script(
        "psrp_fetch_file.ps1", {"Path": path, "BufferSize": buffer_size}
    )
    host = FakeHost()
    runspace.invoke([Command(script, is_script=True)], iter(in_data.decode().splitlines()), host)
    return host


@needs_v2
def test_fetch_file_v2(runspace: Runspace) -> None:
    win(runspace, "C:\\f.txt").write_bytes(b"0123456789")
    host = fetch(runspace, "C:\\F.TXT")
    assert host.output[0] == "[FILE]"
    assert b"".join(base64.b64decode(o) for o in host.output[1:]) == b"0123456789"
    assert len(host.output) == 4  # 4 + 4 + 2 bytes
    assert fetch(runspace, "C:\\").output == ["[DIR]"]
    host = fetch(runspace, "C:\\none.txt")
    assert host.output == [] and len(host.errors) == 1
    assert str(host.errors[0].Exception.Message) == "C:\\none.txt does not exist"


@needs_v2
def test_mkdtemp_and_expand_user_v2(runspace: Runspace) -> None:
    shell = shell_loader.get("powershell")
    cmd = shell._mkdtemp2("ansible-tmp-123", tmpdir="%TEMP%")
    script = base64.b64decode(cmd.command.split(" ")[-1]).decode("utf-16-le")
    host = FakeHost()
    runspace.invoke([Command(script, is_script=True)], iter(cmd.input_data.decode().splitlines()), host)
    assert host.output == ["C:\\Users\\Administrator\\AppData\\Local\\Temp\\ansible-tmp-123"]
    assert win(runspace, host.output[0]).is_dir()

    cmd = shell._expand_user2("~\\foo")
    script = base64.b64decode(cmd.command.split(" ")[-1]).decode("utf-16-le")
    host = FakeHost()
    runspace.invoke([Command(script, is_script=True)], iter(cmd.input_data.decode().splitlines()), host)
    assert host.output == ["C:\\Users\\Administrator\\foo"]


# -- 2.16-2.18 shapes (reconstructed from those releases' psrp.py / module_manifest.py) -----------


def test_v1_bootstrap_manifest_identifies_module_by_source(runspace: Runspace) -> None:
    """2.16-2.18: exec_wrapper text + NULs + {"module_entry": b64 source, "module_args": ...}."""
    source = importlib.resources.files(WINDOWS_MODULES).joinpath("win_ping.ps1").read_bytes()
    manifest = {
        "module_entry": base64.b64encode(source).decode(),
        "powershell_modules": {},
        "csharp_utils": {},
        "csharp_utils_module": [],
        "module_args": {"data": "old", "_ansible_module_name": "win_ping"},
        "actions": ["module_powershell_wrapper"],
        "environment": {},
        "encoded_output": False,
    }
    script = (
        "&chcp.com 65001 > $null\n$exec_wrapper_str = $input | Out-String\n"
        '$split_parts = $exec_wrapper_str.Split(@("`0`0`0`0"), 2, [StringSplitOptions]::RemoveEmptyEntries)\n'
        'If (-not $split_parts.Length -eq 2) { throw "invalid payload" }\n'
        "Set-Variable -Name json_raw -Value $split_parts[1]\n$exec_wrapper = [ScriptBlock]::Create($split_parts[0])\n"
        "&$exec_wrapper"
    )
    payload = "begin { } process { } end { }\n\n" + "\0\0\0\0" + json.dumps(manifest)
    host = FakeHost()
    runspace.invoke([Command(script, is_script=True)], iter([payload]), host)
    assert host.result()["ping"] == "old"


def test_v1_put_and_fetch_scripts(runspace: Runspace) -> None:
    put_script = (
        "begin {\n    $path = $MyInvocation.UnboundArguments[0]\n    $fd = [System.IO.File]::Create($path)\n}\n"
        "process {\n    $bytes = [System.Convert]::FromBase64String($input)\n}\nend { }"
    )
    command = Command(put_script, is_script=True)
    command.add_argument("C:\\v1.bin")
    host = FakeHost()
    runspace.invoke([command], iter([[base64.b64encode(b"abcdef").decode()]]), host)
    assert json.loads(host.output[0]) == {"sha1": hashlib.sha1(b"abcdef").hexdigest()}

    setup = Command(
        "param([string]$Path)\n$fs = New-Object -TypeName System.IO.FileStream\n"
        'Write-Output -InputObject "[DIR]"',
        is_script=True,
        use_local_scope=False,
    )
    setup.add_argument("C:\\v1.bin")
    host = FakeHost()
    runspace.invoke([setup], None, host)
    assert host.output == [] and host.exit_code is None
    read = Command(
        "param([int64]$Offset, [int]$BufferSize)\n$fs.Seek($Offset, [System.IO.SeekOrigin]::Begin)",
        is_script=True,
    )
    read.add_argument(2)
    read.add_argument(3)
    host = FakeHost()
    runspace.invoke([read], None, host)
    assert base64.b64decode(host.output[0]) == b"cde"
    host = FakeHost()
    runspace.invoke([Command("$fs.Close()", is_script=True)], None, host)
    assert host.output == []


def test_raw_command_is_left_to_the_engine(runspace: Runspace) -> None:
    """psrp.py sends raw commands as '<cmd>\\nexit $LASTEXITCODE': plain script, not handled here."""
    host = FakeHost()
    handled = ansible_exec.try_invoke(
        runspace, [Command("Get-Service\nexit $LASTEXITCODE", is_script=True)], None, host
    )
    assert handled is False and host.output == []


def test_each_module_run_compiles_its_csharp_utils_into_another_assembly(runspace: Runspace) -> None:
    """Add-CSharpType (Ansible.ModuleUtils.AddType.psm1) compiles on every call and a loaded
    assembly stays: win_ping (Ansible.Basic.cs) run three times in one runspace leaves three
    assemblies in its process; the host's counters see every compile."""
    seen: list[int] = []
    runspace.on_compile = seen.append
    for _ in range(3):
        result, _host = run_module(runspace, "win_ping")
        assert result["ping"] == "pong"
    assert runspace.assemblies == 3 and seen == [1, 2, 3]
    other = Runspace(runspace.machine, "Administrator", "Microsoft.PowerShell")
    run_module(other, "win_ping")
    assert other.assemblies == 1  # another process (shell) starts with none


def test_host_counters_report_compiles_and_the_peak_per_process() -> None:
    from winhost.stats import HostStats

    stats = HostStats()
    for loaded in (1, 2, 1, 3):
        stats.csharp_compiled(loaded)
    snap = stats.snapshot()
    assert (snap["csharp_compiles"], snap["assemblies_per_process_peak"]) == (4, 3)
    stats.reset()
    assert stats.snapshot()["csharp_compiles"] == 0
