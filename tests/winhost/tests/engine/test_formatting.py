"""winhost/engine/formatting.py: .NET composite formatting ("Composite formatting", learn.microsoft.com
/dotnet/standard/base-types/composite-formatting), date format strings and the table/list views."""

from __future__ import annotations

import datetime

from winhost.engine.formatting import (
    columns,
    composite_format,
    format_date,
    format_objects,
    list_lines,
    table_view,
)
from winhost.engine.values import custom_object


def test_composite_format() -> None:
    assert composite_format("{0}-{1}", ["a", 2]) == "a-2"
    assert composite_format("[{0,5}][{0,-5}]", ["ab"]) == "[   ab][ab   ]"
    assert composite_format("{0:N2} {1:D4} {2:X} {2:x4}", [1234.5, 7, 255]) == "1,234.50 0007 FF 00ff"
    assert composite_format("{{{0}}}", [1]) == "{1}"


def test_format_date() -> None:
    d = datetime.datetime(2024, 3, 5, 7, 8, 9)
    assert format_date(d, "yyyy-MM-dd HH:mm:ss") == "2024-03-05 07:08:09"
    assert format_date(d, "s") == "2024-03-05T07:08:09"
    assert format_date(d, "o") == d.isoformat()


def test_table_and_list_views() -> None:
    rows = [custom_object({"Name": "a", "Value": 1}), custom_object({"Name": "bb", "Value": 22})]
    assert table_view(rows) == ["", "Name Value", "---- -----", "a    1", "bb   22", "", ""]
    assert table_view(rows, headers=False) == ["", "a    1", "bb   22", "", ""]
    assert table_view([1, "x"]) == ["1", "x"]
    assert list_lines(rows[1], columns(rows[1], ["*"])) == ["", "Name  : bb", "Value : 22"]


def test_console_view_switches_to_a_list_above_four_properties() -> None:
    wide = custom_object({f"P{i}": i for i in range(5)})
    text = format_objects([wide])
    assert text.startswith("\r\nP0 : 0\r\n")
    narrow = custom_object({"A": 1})
    assert format_objects([narrow]) == "\r\nA\r\n-\r\n1\r\n\r\n\r\n"
