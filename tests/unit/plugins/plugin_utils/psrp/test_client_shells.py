"""PSRPSession's shell operations (list, remove by id) that the connection's backends serve to
pssession / pssession_info, and the wire forms they travel in through the session broker."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _client
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import ERROR, UNREACHABLE
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    FAILED,
    GONE,
    KEPT,
    REMOVED,
    SKIPPED,
    Removal,
    ShellInfo,
    ShellListing,
)

A, B, C, D = (f"0000000{n}-0000-4000-8000-000000000000" for n in range(1, 5))


def _shell(shell_id: str) -> ShellInfo:
    uri = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
    return ShellInfo(shell_id, "n", uri, "DOM\\u", "10.0.0.1", 42, "Connected", "PT7200S", "PT5S", "PT1S")


def _session(
    monkeypatch: pytest.MonkeyPatch, outcomes: dict[str, Any]
) -> tuple[_client.PSRPSession, list[str]]:
    session = _client.PSRPSession({"server": "web01", "port": 5986}, "Microsoft.PowerShell", None, "web01")
    deleted: list[str] = []

    def delete(shell_id: str, resource_uri: str) -> bool:
        deleted.append(shell_id)
        outcome = outcomes[shell_id]
        if isinstance(outcome, BaseException):
            raise outcome
        return bool(outcome)

    monkeypatch.setattr(session, "delete_shell", delete)
    return session, deleted


def test_remove_keeps_own_shells_and_reports_each_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    session, deleted = _session(monkeypatch, {A: True, C: False, D: ValueError("bad response")})
    targets = [{"shell_id": i.lower(), "resource_uri": "u"} for i in (A, B, C, D)]
    result = session.remove_shells(targets, keep={B})
    assert [(r.shell_id, r.outcome) for r in result] == [(A, REMOVED), (B, KEPT), (C, GONE), (D, FAILED)]
    assert deleted == [A, C, D]  # never a Delete for the kept one
    assert result[3].kind == ERROR and result[3].message


def test_remove_stops_once_the_host_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    session, deleted = _session(monkeypatch, {A: ConnectionRefusedError(111, "Connection refused")})
    result = session.remove_shells(
        [{"shell_id": A, "resource_uri": "u"}, {"shell_id": B, "resource_uri": "u"}], set()
    )
    assert [(r.shell_id, r.outcome, r.kind) for r in result] == [
        (A, FAILED, UNREACHABLE),
        (B, SKIPPED, UNREACHABLE),
    ]
    assert deleted == [A]


def test_listing_failure_is_a_session_error(monkeypatch: pytest.MonkeyPatch) -> None:
    session = _client.PSRPSession({"server": "web01", "port": 5986}, "Microsoft.PowerShell", None, "web01")

    def refuse() -> list[ShellInfo]:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(session, "list_shells", refuse)
    with pytest.raises(_client.SessionError) as exc:
        session.shells()
    assert exc.value.info.kind == UNREACHABLE
    assert exc.value.info.message.startswith("listing sessions on web01: ")


def test_own_shell_ids_without_a_pool() -> None:
    session = _client.PSRPSession({"server": "web01", "port": 5986}, "Microsoft.PowerShell", None, "web01")
    assert session.own_shell_ids() == set()


def test_wire_forms_round_trip() -> None:
    listing = ShellListing((_shell(A), _shell(B)), frozenset({B}))
    assert ShellListing.from_wire(listing.to_wire()) == listing
    removal = Removal(A, FAILED, UNREACHABLE, "refused")
    assert Removal.from_wire(removal.to_wire()) == removal
