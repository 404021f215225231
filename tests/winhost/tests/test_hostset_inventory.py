"""winhost's inventory carries the example inventory's groups and the role's verify ports."""

from __future__ import annotations

from winhost.hostset import HostSet, inventory_groups


def test_groups_follow_the_example_inventory() -> None:
    assert inventory_groups(["dc01", "sql02", "web01", "web02", "host001", "webby"]) == {
        "domain_controllers": ["dc01"],
        "sql": ["sql02"],
        "web": ["web01", "web02"],
    }


def test_inventory_has_groups_and_verify_ports() -> None:
    with HostSet("dc01,web01") as hs:
        inventory = hs.inventory()
    windows = inventory["all"]["children"]["windows"]
    assert windows["children"] == {
        "domain_controllers": {"hosts": {"dc01": None}},
        "web": {"hosts": {"web01": None}},
    }
    web01 = windows["hosts"]["web01"]
    assert web01["enable_psremoting_verify_http_port"] == web01["winhost_http_port"]
    assert web01["enable_psremoting_verify_https_port"] == web01["winhost_https_port"]
    assert isinstance(web01["winhost_https_port"], int)
