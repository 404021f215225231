"""hostset.host_address: one loopback address per simulated host, skipping .0 and .255."""

from __future__ import annotations

import ipaddress

import pytest

from winhost.hostset import host_address


def test_first_addresses_count_up_from_base() -> None:
    assert [host_address(i) for i in range(3)] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def test_moves_to_next_slash24_instead_of_x_255() -> None:
    # base .2: index 252 is .254, the next one is the next /24's .1
    assert host_address(252) == "127.0.0.254"
    assert host_address(253) == "127.0.1.1"
    assert host_address(253 + 253) == "127.0.1.254"
    assert host_address(253 + 254) == "127.0.2.1"


@pytest.mark.parametrize("count", [500, 2000])
def test_many_hosts_get_distinct_usable_loopback_addresses(count: int) -> None:
    addresses = [host_address(i) for i in range(count)]
    assert len(set(addresses)) == count
    for text in addresses:
        address = ipaddress.IPv4Address(text)
        assert address in ipaddress.ip_network("127.0.0.0/8")
        assert text.rsplit(".", 1)[1] not in ("0", "255")
    # increasing: hosts are numbered in address order
    assert [int(ipaddress.IPv4Address(a)) for a in addresses] == sorted(
        int(ipaddress.IPv4Address(a)) for a in addresses
    )


def test_base_on_a_block_boundary_starts_at_the_next_usable_address() -> None:
    assert host_address(0, "127.0.3.0") == "127.0.3.1"
    assert host_address(0, "127.0.3.255") == "127.0.4.1"
    assert host_address(1, "127.0.0.254") == "127.0.1.1"


def test_end_of_loopback_range_raises() -> None:
    assert host_address(0, "127.255.255.254") == "127.255.255.254"
    with pytest.raises(ValueError, match="out of loopback addresses"):
        host_address(1, "127.255.255.254")
    with pytest.raises(ValueError):
        host_address(-1)
