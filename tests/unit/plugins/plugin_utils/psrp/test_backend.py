"""The in-process backend hands pypsrp the same plain request the broker receives."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._backend import LocalBackend
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    PYPSRP_IMPORT_ERROR,
    Serializer,
)


class TaggedInt(int):
    """Stands in for ansible-core 2.19's _AnsibleTaggedInt (a templated int)."""


class TaggedStr(str):
    """Stands in for ansible-core 2.19's _AnsibleTaggedStr."""


class RecordingSession:
    def __init__(self) -> None:
        self.requests: list[Any] = []

        self.host_label = "h"
        self.notices = ["psrp: reconnected to h"]
        self.warnings = ["psrp: output may be incomplete"]

    def invoke_pipeline(self, request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {"output": [], "streams": {}, "had_errors": False}

    def take_notices(self) -> list[str]:
        notices, self.notices = self.notices, []
        return notices

    def take_warnings(self) -> list[str]:
        warnings, self.warnings = self.warnings, []
        return warnings


def _backend() -> tuple[LocalBackend, RecordingSession]:
    backend = LocalBackend.__new__(LocalBackend)  # no WSMan connection: only the hand-over is tested
    session = RecordingSession()
    backend._session = session  # type: ignore[assignment]
    return backend, session


def test_tagged_values_reach_the_session_as_plain_types() -> None:
    backend, session = _backend()
    request = {
        "commands": [
            {"name": TaggedStr("New-WSManInstance"), "parameters": {"Port": TaggedInt(5986)}},
        ]
    }
    backend.pipeline(request)  # type: ignore[arg-type]
    sent = session.requests[0]
    assert type(sent["commands"][0]["name"]) is str
    assert type(sent["commands"][0]["parameters"]["Port"]) is int
    assert sent["commands"][0]["parameters"]["Port"] == 5986


@pytest.mark.skipif(PYPSRP_IMPORT_ERROR is not None, reason="pypsrp is not installed")
def test_pypsrp_serializer_refuses_int_subclasses() -> None:
    """Why the round trip exists: pypsrp picks the CLIXML type by exact class."""
    with pytest.raises(AttributeError, match="decode"):
        Serializer().serialize(TaggedInt(5))
    assert Serializer().serialize(int(TaggedInt(5))) is not None


def test_notices_and_warnings_of_the_session_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _backend as backend_module

    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(backend_module.display, "v", lambda msg, host=None: shown.append(("v", msg)))
    monkeypatch.setattr(backend_module.display, "warning", lambda msg: shown.append(("warning", msg)))
    backend, session = _backend()
    backend.pipeline({"commands": [{"name": "Get-Date"}]})
    assert shown == [("v", "psrp: reconnected to h"), ("warning", "psrp: output may be incomplete")]
    assert session.notices == [] and session.warnings == []
