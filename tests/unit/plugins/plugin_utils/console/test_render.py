"""Console rendering: default views, the table/list rule, errors, streams, colours, host UI."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.console._host import ConsoleUI, Terminal
from ansible_collections.psremoting.core.plugins.plugin_utils.console._prompt import is_exit
from ansible_collections.psremoting.core.plugins.plugin_utils.console._render import (
    colour,
    render_error,
    render_objects,
    stream_line,
)


def service(name: str, status: str, display: str) -> dict[str, Any]:
    return {
        "CanStop": True,
        "DisplayName": display,
        "ServiceName": name,
        "Status": {"Type": "System.ServiceProcess.ServiceControllerStatus", "String": status, "Value": 4},
        "Name": name,
        "PSTypeNames": ["Deserialized.System.ServiceProcess.ServiceController", "Deserialized.System.Object"],
    }


def test_service_view_columns() -> None:
    text = render_objects(
        [service("W32Time", "Running", "Windows Time"), service("WinRM", "Stopped", "WinRM")]
    )
    lines = text.strip("\n").splitlines()
    assert lines[0].split() == ["Status", "Name", "DisplayName"]
    assert lines[1].split() == ["------", "----", "-----------"]
    assert lines[2].split() == ["Running", "W32Time", "Windows", "Time"]
    assert lines[3].split() == ["Stopped", "WinRM", "WinRM"]
    assert "CanStop" not in text


def test_objects_without_view_table_up_to_four_properties_else_list() -> None:
    small = {"A": 1, "B": "x", "PSTypeNames": ["System.Management.Automation.PSCustomObject"]}
    table = render_objects([small, {**small, "A": 22}])
    assert table.strip("\n").splitlines()[0].split() == ["A", "B"]
    big = {k: i for i, k in enumerate("ABCDE")} | {
        "PSTypeNames": ["System.Management.Automation.PSCustomObject"]
    }
    listing = render_objects([big])
    assert "A : 0" in listing and "E : 4" in listing


def test_hashtable_is_name_value_table_and_scalars_are_lines() -> None:
    text = render_objects([{"a": 1}])
    assert text.strip("\n").splitlines()[0].split() == ["Name", "Value"]
    assert render_objects([5, "text", True, None]) == "5\ntext\nTrue\n"


def test_type_change_starts_a_new_table() -> None:
    other = {"Path": "C:\\", "PSTypeNames": ["System.Management.Automation.PathInfo"]}
    text = render_objects([service("a", "Running", "A"), other])
    assert text.count("Status") == 1 and "Path" in text and text.index("Status") < text.index("Path")


def test_directory_view_grouped_by_parent() -> None:
    item = {
        "Name": "Windows",
        "Mode": "d-----",
        "LastWriteTime": "2026-11-22T13:05:00Z",
        "Length": None,
        "PSParentPath": "Microsoft.PowerShell.Core\\FileSystem::C:\\",
        "PSTypeNames": ["System.IO.DirectoryInfo"],
    }
    text = render_objects([item])
    assert "    Directory: C:\\" in text
    assert "11/22/2026  1:05 PM" in text  # {0,10:d} {0,8:t}


def test_error_record_like_the_51_console() -> None:
    class Record(SimpleNamespace):
        def __str__(self) -> str:
            return "Cannot find any service with service name 'nope'."

    text = render_error(
        Record(
            command_name="Get-Service",
            invocation_position_message="At line:1 char:1\r\n+ Get-Service nope\r\n+ ~~~~~~~~~~~~~~~~",
            message="ObjectNotFound: (nope:String) [Get-Service], ServiceCommandException",
            fq_error="NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand",
        )
    )
    lines = text.splitlines()
    assert lines[0] == "Get-Service : Cannot find any service with service name 'nope'."
    assert lines[1] == "At line:1 char:1"
    assert lines[4].startswith("    + CategoryInfo          : ObjectNotFound")
    assert lines[5].startswith("    + FullyQualifiedErrorId : NoServiceFoundForGivenName")


def test_streams_and_colours() -> None:
    assert stream_line("warning", "careful") == "WARNING: careful\n"
    assert colour("x", 12) == "\x1b[91mx\x1b[0m"  # ConsoleColor.Red
    assert colour("x", 10, 0) == "\x1b[92;40mx\x1b[0m"
    assert colour("x", 12, enabled=False) == "x"
    out = io.StringIO()
    Terminal(out, use_colour=True).write("WARNING: a\n", 14)
    assert out.getvalue() == "\x1b[93mWARNING: a\x1b[0m\n"  # reset before the line break


def test_exit_commands() -> None:
    assert is_exit("exit") and is_exit(" Exit-PSSession ") and is_exit("EXIT;")
    assert not is_exit("exit 1 | Out-Null; Get-Date") and not is_exit("Get-Date")


class FakePool:
    _key_exchanged = True


def test_host_ui_answers_read_host_and_choice() -> None:
    out = io.StringIO()
    answers = iter(["typed", "n"])
    ui = ConsoleUI(Terminal(out), read_line=lambda: next(answers), read_secret=lambda: "s3cret")
    assert ui.ReadLine(FakePool(), None) == "typed"
    yes = SimpleNamespace(extended_properties={"label": "&Yes"}, adapted_properties={})
    no = SimpleNamespace(extended_properties={"label": "&No"}, adapted_properties={})
    assert ui.PromptForChoice(FakePool(), None, "Confirm", "Sure?", [yes, no], 0) == 1
    assert '[Y] Yes  [N] No (default is "Y"): ' in out.getvalue()
    secure = ui.ReadLineAsSecureString(FakePool(), None)
    assert secure.tag == "SS" and secure.value == "s3cret"
    assert "s3cret" not in out.getvalue()


def test_host_ui_credential_prompt_never_echoes_password() -> None:
    out = io.StringIO()
    ui = ConsoleUI(Terminal(out), read_line=lambda: "admin", read_secret=lambda: "pw")
    cred = ui.PromptForCredential1(FakePool(), None, "Windows PowerShell credential request", "", "", "")
    assert cred.username == "admin" and cred.password == "pw"
    assert "pw" not in out.getvalue().replace("Password", "")
