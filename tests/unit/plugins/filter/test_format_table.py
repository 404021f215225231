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
