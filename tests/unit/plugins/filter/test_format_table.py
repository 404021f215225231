"""The filters through Ansible's filter loader, as a playbook uses them."""

from __future__ import annotations

from ansible.plugins.loader import filter_loader


def test_filters_are_found_by_fqcn() -> None:
    rows = [
        {
            "Name": "W32Time",
            "Status": {"Type": "T", "String": "Running", "Value": 4},
            "PSComputerName": "dc01",
        }
    ]
    table = filter_loader.get("psremoting.core.format_table")
    assert table is not None
    assert "W32Time Running dc01" in table.j2_function(rows)
    csv = filter_loader.get("psremoting.core.to_csv")
    assert csv.j2_function(rows, ["Name", "Status"]) == '"Name","Status"\n"W32Time","Running"\n'
    listing = filter_loader.get("psremoting.core.format_list")
    assert "Name           : W32Time" in listing.j2_function(rows)


def test_lines_and_width_options() -> None:
    rows = [{"Name": "W32Time", "Description": "x" * 200}]
    table = filter_loader.get("psremoting.core.format_table")
    assert table is not None
    out = table.j2_function(rows, lines=True)
    assert isinstance(out, list) and out[0].startswith("Name") and all(len(line) <= 120 for line in out)
    assert max(len(line) for line in table.j2_function(rows, width=0, lines=True)) == 208
    listing = filter_loader.get("psremoting.core.format_list")
    assert listing.j2_function(rows[:1], ["Name"], lines="yes") == ["Name : W32Time"]


def test_bad_width_is_a_clear_error() -> None:
    import pytest
    from ansible.errors import AnsibleFilterError

    table = filter_loader.get("psremoting.core.format_table")
    with pytest.raises(AnsibleFilterError, match="width must be a number of characters"):
        table.j2_function([{"A": 1}], width="wide")
