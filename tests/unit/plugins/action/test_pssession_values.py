"""pssession_info / pssession: bad selection values are refused before any WS-Management request
(the connection's shell operations are never called), and the connection's options are read by
the same reader as the WinRM modules'."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.action import pssession, pssession_info
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)


@pytest.mark.parametrize(
    ("action", "args", "named"),
    [
        (pssession_info, {"shell_id": ["not-a-guid"]}, "option 'shell_id[0]' = 'not-a-guid'"),
        (pssession_info, {"older_than_minutes": -1.0}, "option 'older_than_minutes' = -1.0"),
        (pssession_info, {"idle_minutes": float("nan")}, "option 'idle_minutes' = nan"),
        (pssession, {"state": "absent", "owner": ["a\nb"]}, "option 'owner[0]'"),
        (pssession, {"state": "absent", "configuration_name": [" "]}, "option 'configuration_name[0]' = ' '"),
        (pssession, {"state": "received", "session_id": "nope"}, "option 'session_id' = 'nope'"),
        (pssession, {"state": "stopped", "session_id": "{1234}"}, "option 'session_id' = '{1234}'"),
    ],
)
def test_bad_selection_refused_before_any_request(action: Any, args: dict[str, Any], named: str) -> None:
    host = FakeWindows()
    result = run_action(action.ActionModule, args, host)
    assert result["failed"] is True and result["changed"] is False
    assert host.shell_requests == [] and host.requests == []
    message = result["msg"]
    assert message.startswith(f"web01: {action.__name__.rsplit('.', 1)[-1]} refuses the task"), message
    assert named in message


@pytest.mark.parametrize("state", ["received", "stopped"])
def test_receive_and_stop_need_a_session_id(state: str) -> None:
    host = FakeWindows()
    result = run_action(pssession.ActionModule, {"state": state}, host)
    assert result["failed"] is True
    assert f"state is {state} but all of the following are missing: session_id" in result["msg"]
    assert host.shell_requests == [] and host.requests == []
