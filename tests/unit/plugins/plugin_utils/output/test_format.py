"""_format: PowerShell-style Format-Table/Format-List/Export-Csv text."""

from __future__ import annotations

import csv
import io

from ansible_collections.psremoting.core.plugins.plugin_utils.output._format import (
    format_list,
    format_table,
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
