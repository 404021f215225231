"""_format: PowerShell-style Format-Table/Format-List/Export-Csv text."""

from __future__ import annotations

import csv
import io

from ansible_collections.psremoting.core.plugins.plugin_utils.output._format import (
    format_list,
    format_table,
    lines,
    to_csv,
)

RUNNING = {"Type": "System.ServiceProcess.ServiceControllerStatus", "String": "Running", "Value": 4}
STOPPED = {"Type": "System.ServiceProcess.ServiceControllerStatus", "String": "Stopped", "Value": 1}
ROWS = [
    {"Name": "W32Time", "Status": RUNNING, "Id": 7, "PSComputerName": "dc01", "PSTypeNames": ["x"]},
    {"Name": "Spooler", "Status": STOPPED, "Id": 123, "PSComputerName": "web01", "RunspaceId": "r"},
]


def test_format_table_layout() -> None:
    text = format_table(ROWS)
    lines = text.split("\n")
    assert lines[0] == "" and lines[-2:] == ["", ""]
    assert lines[1] == "Name    Status   Id PSComputerName"
    assert lines[2] == "----    ------   -- --------------"
    assert lines[3] == "W32Time Running   7 dc01"
    assert lines[4] == "Spooler Stopped 123 web01"
    assert "PSTypeNames" not in text and "RunspaceId" not in text


def test_format_table_chosen_properties_without_computer() -> None:
    text = format_table(ROWS, ["Status", "Name"], computer_name=False)
    assert text.split("\n")[1] == "Status  Name"
    assert "dc01" not in text


def test_format_list() -> None:
    text = format_list(ROWS[0], ["Name", "Status"])
    assert text == "\nName           : W32Time\nStatus         : Running\nPSComputerName : dc01\n\n"


def test_values_text() -> None:
    text = format_table([{"L": [1, 2], "D": {"a": 1}, "N": None, "B": True}])
    assert text.split("\n")[3] == "{1, 2} @{a=1}   True"


def test_to_csv_like_export_csv() -> None:
    text = to_csv([*ROWS, {"Name": 'say "hi"', "Extra": 1}], ["Name", "Status", "PSComputerName"])
    lines = text.splitlines()
    assert lines[0] == '"Name","Status","PSComputerName"'
    assert lines[1] == '"W32Time","Running","dc01"'
    assert lines[3] == '"say ""hi""","",""'
    assert list(csv.reader(io.StringIO(text)))[3] == ['say "hi"', "", ""]
    assert (
        to_csv([{"A": [1], "B": {"x": 1}}]).splitlines()[1]
        == '"System.Object[]","System.Collections.Hashtable"'
    )
    assert to_csv([{"A": 1}], newline="\r\n") == '"A"\r\n"1"\r\n'


SERVICE = {
    "PSTypeNames": ["Deserialized.System.ServiceProcess.ServiceController", "Deserialized.System.Object"],
    "Name": "W32Time",
    "DisplayName": "Windows Time",
    "Status": RUNNING,
    "StartType": {"Type": "System.ServiceProcess.ServiceStartMode", "String": "Manual", "Value": 3},
    "CanStop": True,
    "ServiceName": "W32Time",
    "PSComputerName": "dc01",
    "RunspaceId": "r",
}


def test_format_table_uses_the_service_view_like_invoke_command_output() -> None:
    """Invoke-Command -ComputerName dc01 { Get-Service W32Time } prints the ServiceController view
    (DotNetTypes.format.ps1xml: Status, Name, DisplayName) plus PSComputerName."""
    lines = format_table([SERVICE]).strip("\n").split("\n")
    assert lines == [
        "Status  Name    DisplayName  PSComputerName",
        "------  ----    -----------  --------------",
        "Running W32Time Windows Time dc01",
    ]


def test_format_table_uses_the_process_view() -> None:
    process = {
        "PSTypeNames": ["Deserialized.System.Diagnostics.Process"],
        "HandleCount": 171, "NonpagedSystemMemorySize64": 10240, "PagedMemorySize64": 2048000,
        "WorkingSet64": 4096000, "CPU": 0.5, "Id": 4242, "SessionId": 0, "ProcessName": "svchost",
        "Path": "C:\\Windows\\System32\\svchost.exe",
    }  # fmt: skip
    lines = format_table([process], computer_name=False).strip("\n").split("\n")
    assert lines[0].split() == ["Handles", "NPM(K)", "PM(K)", "WS(K)", "CPU(s)", "Id", "SI", "ProcessName"]
    assert lines[2].split() == ["171", "10", "2000", "4000", "0.50", "4242", "0", "svchost"]


def test_explicit_properties_win_over_the_view() -> None:
    assert format_table([SERVICE], ["Name", "StartType"], False).split("\n")[1] == "Name    StartType"


def test_objects_without_a_view_show_their_first_ten_properties() -> None:
    """TableViewGenerator.FilterActiveAssociationList keeps ten properties of a view-less object."""
    row = {f"P{i:02}": i for i in range(15)}
    header = format_table([row]).split("\n")[1].split()
    assert header == [f"P{i:02}" for i in range(10)]


def test_a_wide_table_drops_and_shortens_columns_from_the_right() -> None:
    """ColumnWidthManager.TrimToFit: shorten the last column, hide it when nothing of it fits."""
    row = {"A": "a" * 30, "B": "b" * 30, "C": "c" * 30}
    lines = format_table([row], width=70).strip("\n").split("\n")
    assert all(len(line) <= 70 for line in lines)
    assert lines[0].split() == ["A", "B", "C"]
    assert lines[2] == "a" * 30 + " " + "b" * 30 + " " + "ccccc..."
    lines = format_table([row], width=40).strip("\n").split("\n")
    assert lines[0].split() == ["A", "B"] and lines[2].endswith("bbbbb...")
    assert len(format_table([row], width=0).split("\n")[3]) == 92


def test_format_list_uses_the_file_list_view() -> None:
    """FileSystem.format.ps1xml's list view of FileInfo: Name, Length, CreationTime, ..."""
    item = {"PSTypeNames": ["Deserialized.System.IO.FileInfo"], "Name": "a.txt", "Length": 3,
            "Mode": "-a----", "Attributes": "Archive", "Extension": ".txt"}  # fmt: skip
    names = [line.split(" : ")[0].strip() for line in format_list(item).strip("\n").split("\n")]
    assert names == ["Name", "Length", "CreationTime", "LastWriteTime", "LastAccessTime", "Mode",
                     "LinkType", "Target", "VersionInfo"]  # fmt: skip


def test_lines_for_debug_output() -> None:
    assert lines(format_table([SERVICE], computer_name=False)) == [
        "Status  Name    DisplayName",
        "------  ----    -----------",
        "Running W32Time Windows Time",
    ]
    assert lines(format_table([])) == []


def test_calculated_properties_rename_columns() -> None:
    """Format-Table @{Name='Idle(s)'; Expression='IdleTimeSeconds'}."""
    rows = [{"ShellId": "A", "IdleTimeSeconds": 42, "PSComputerName": "dc01"}]
    out = lines(format_table(rows, ["ShellId", {"Name": "Idle(s)", "Expression": "IdleTimeSeconds"}]))
    assert out == ["ShellId Idle(s) PSComputerName", "------- ------- --------------", "A            42 dc01"]
    out = lines(format_list(rows, [{"Label": "Idle", "Expression": "IdleTimeSeconds"}], False))
    assert out == ["Idle : 42"]


def test_a_calculated_property_without_expression_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="needs Name \\(or Label\\) and Expression"):
        format_table([{"A": 1}], [{"Name": "x"}])
