"""Shell listing/selection/protection logic of pssession (plugins/plugin_utils/psrp/_shells.py).

Field names and xs:duration forms follow MS-WSMV 2.2.4.37 (Shell) as Windows writes them
(``P0DT0H5M3S`` for ShellRunTime/ShellInactivity, ``PT7200.000S`` for IdleTimeOut).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _shells as s

RSP = s.NS["rsp"]


def shell_xml(shell_id: str, *, owner: str = "DC01\\Administrator", state: str = "Connected",
              run: str = "P0DT0H0M5S", idle: str = "P0DT0H0M1S",
              uri: str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell") -> str:  # fmt: skip
    return (
        f'<rsp:Shell xmlns:rsp="{RSP}"><rsp:ShellId>{shell_id}</rsp:ShellId>'
        f"<rsp:ResourceUri>{uri}</rsp:ResourceUri><rsp:Owner>{owner}</rsp:Owner>"
        f"<rsp:ClientIP>10.0.0.5</rsp:ClientIP><rsp:ProcessId>42</rsp:ProcessId>"
        f"<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:State>{state}</rsp:State>"
        f"<rsp:ShellRunTime>{run}</rsp:ShellRunTime><rsp:ShellInactivity>{idle}</rsp:ShellInactivity></rsp:Shell>"
    )


def info(shell_id: str, **kw: Any) -> s.ShellInfo:
    return s.parse_shell(ET.fromstring(shell_xml(shell_id, **kw)))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("P0DT0H5M3S", 303.0), ("PT7200.000S", 7200.0), ("P1DT2H0M0S", 93600.0), ("PT0.5S", 0.5), ("", None),
     ("P", None), ("garbage", None)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert s.parse_duration(text) == seconds


def test_parse_shell_fields() -> None:
    row = info("ab-cd", run="P0DT1H0M0S").to_dict()
    assert row["ShellId"] == "AB-CD"
    assert row["ConfigurationName"] == "Microsoft.PowerShell"
    assert row["Owner"] == "DC01\\Administrator"
    assert row["ProcessId"] == 42
    assert row["ShellRunTimeSeconds"] == 3600.0
    assert row["Name"] is None


class FakeWSMan:
    """Answers Enumerate/Pull like winhost/Windows: optimized first batch, then Pull with context."""

    def __init__(self, shells: list[str], batch: int) -> None:
        self.shells, self.batch, self.calls, self.deleted = shells, batch, [], []

    def _resp(self, tag: str, items: list[str], rest: bool, optimized: bool) -> ET.Element:
        wsen, wsman = s.NS["wsen"], s.NS["wsman"]
        ns_items = wsman if optimized else wsen
        ctx = "<n:EnumerationContext>uuid:X</n:EnumerationContext>" if rest else ""
        end = "" if rest else f"<{'w' if optimized else 'n'}:EndOfSequence/>"
        return (
            ET.fromstring(
                f'<s:Body xmlns:s="x" xmlns:n="{wsen}" xmlns:w="{wsman}"><n:{tag}>{ctx}'
                f"<{'w' if optimized else 'n'}:Items>{''.join(items)}</{'w' if optimized else 'n'}:Items>{end}</n:{tag}></s:Body>"
            )
            if ns_items
            else ET.Element("x")
        )

    def enumerate(self, uri: str, resource: Any = None, **_: Any) -> ET.Element:
        self.calls.append(("enumerate", uri))
        first, self.rest = self.shells[: self.batch], self.shells[self.batch :]
        return self._resp("EnumerateResponse", first, bool(self.rest), True)

    def pull(self, uri: str, resource: Any = None, **_: Any) -> ET.Element:
        self.calls.append(("pull", uri))
        batch, self.rest = self.rest[: self.batch], self.rest[self.batch :]
        return self._resp("PullResponse", batch, bool(self.rest), False)

    def delete(self, uri: str, resource: Any = None, selector_set: Any = None, **_: Any) -> ET.Element:
        self.deleted.append((uri, str(selector_set)))
        return ET.Element("x")


def test_enumerate_follows_pull_until_end_of_sequence() -> None:
    fake = FakeWSMan([shell_xml(f"id{i}") for i in range(5)], batch=2)
    shells = s.enumerate_shells(fake)
    assert [x.shell_id for x in shells] == [f"ID{i}" for i in range(5)]
    assert fake.calls == [("enumerate", s.SHELL_RESOURCE_URI)] + [("pull", s.SHELL_RESOURCE_URI)] * 2


def test_delete_targets_the_shells_resource_uri_with_shellid_selector() -> None:
    fake = FakeWSMan([], batch=1)
    assert s.delete_shell(fake, info("abc")) is True
    uri, selectors = fake.deleted[0]
    assert uri == "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
    assert "ShellId" in selectors and "ABC" in selectors


def test_selection_filters() -> None:
    old_disc = info("a", state="Disconnected", run="P0DT2H0M0S", owner="CONTOSO\\bob")
    new_conn = info("b", run="P0DT0H0M10S")
    cmd = info("c", uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd")
    shells = [old_disc, new_conn, cmd]
    assert [x.shell_id for x in shells if s.Selection().matches(x)] == ["A", "B"]
    assert [x.shell_id for x in shells if s.Selection(include_non_powershell=True).matches(x)] == [
        "A",
        "B",
        "C",
    ]
    assert [x.shell_id for x in shells if s.Selection(older_than_minutes=60).matches(x)] == ["A"]
    assert [x.shell_id for x in shells if s.Selection(owners=("bob@CONTOSO.COM",)).matches(x)] == ["A"]
    assert [x.shell_id for x in shells if s.Selection(states=("disconnected",)).matches(x)] == ["A"]
    assert [x.shell_id for x in shells if s.Selection(configuration_names=("JEA",)).matches(x)] == []


def test_protection_by_shell_id_is_exact() -> None:
    remove, kept = s.plan([info("a"), info("b")], s.Selection(), s.Protection(shell_ids=frozenset({"B"})))
    assert [x.shell_id for x in remove] == ["A"] and [x.shell_id for x in kept] == ["B"]


def test_fallback_protects_own_connected_shells_created_in_this_run() -> None:
    now = 10_000.0
    prot = s.Protection(user="Administrator", run_started=now - 60)
    mine_new = info("new", run="P0DT0H0M30S")  # created 30 s ago, after the run started
    mine_old = info("old", run="P0DT0H5M0S")  # before the run
    mine_disc = info("disc", run="P0DT0H0M30S", state="Disconnected")  # never the play's own
    other = info("other", run="P0DT0H0M30S", owner="DC01\\alice")
    remove, kept = s.plan([mine_new, mine_old, mine_disc, other], s.Selection(), prot, now=now)
    assert [x.shell_id for x in kept] == ["NEW"]
    assert {x.shell_id for x in remove} == {"OLD", "DISC", "OTHER"}
    assert prot.method == "owner_and_run_start" and "does not expose" in prot.describe()


def test_own_shell_ids_from_broker_stats() -> None:
    stats = [
        {"host": "127.0.0.2", "port": 5985, "shell_id": "aa"},
        {"host": "127.0.0.3", "port": 5985, "shell_id": "bb"},
        {"host": "127.0.0.2", "port": 5985},  # a broker that does not report shell ids
    ]
    assert s.own_shell_ids(stats, {"host": "127.0.0.2", "port": 5985}) == {"AA"}
