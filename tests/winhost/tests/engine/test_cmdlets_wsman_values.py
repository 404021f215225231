"""winhost refuses the WSMan configuration values the WinRM service refuses, and nothing changes.

Sources (winhost/engine/cmdlets/wsman_values.py has the details):

* [MS-WSMV] 2.2.4.10 ConfigType, 2.2.4.36 ServiceType, 2.2.4.42 WinrsType: the schema types of the
  settings and the documented ranges (MaxEnvelopeSizekb 32-4294967295, MaxTimeoutms from 500).
* A value not of its schema type: ERROR_WSMAN_SCHEMA_VALIDATION_ERROR (0x80338041). Its text is
  VERIFIED: it is the text a Windows server returned for that code (diyan/pywinrm issue 377).
* A value of the right type outside the documented range: ERROR_WSMAN_INVALID_XML_VALUES
  (0x80338056), text from the Windows SDK header wsmerror.h. The WORDING IS UNVERIFIED for this
  case: no source shows which code and text Windows returns for an out-of-range setting.
* Group Policy "Specify idle Timeout": IdleTimeout values 0-0x7FFFFFFF can be set; "A minimum of
  60000 milliseconds (1 minute) is used for smaller values".
* PowerShell src/Microsoft.WSMan.Management/ConfigProvider.cs (``SetItem``): a failed Put becomes a
  terminating System.InvalidOperationException with error id ``WsManError``.
"""

from __future__ import annotations

import pytest
from psrpcore.types import ErrorCategory

from winhost.engine.cmdlets.wsman_values import INVALID_XML_VALUES_TEXT, SCHEMA_VALIDATION_TEXT
from winhost.engine.model import Machine
from winhost.wsman.shells import idle_timeout_ms

from .helpers import Engine

SCHEMA = SCHEMA_VALIDATION_TEXT
RANGE = INVALID_XML_VALUES_TEXT  # wording unverified (see the module docstring)


@pytest.mark.parametrize(
    ("leaf", "value", "message"),
    [
        ("Shell\\IdleTimeout", "-1", SCHEMA),
        ("Shell\\IdleTimeout", "abc", SCHEMA),
        ("Shell\\IdleTimeout", "2147483648", RANGE),  # above 0x7FFFFFFF (Group Policy range)
        ("MaxEnvelopeSizekb", "0", RANGE),
        ("MaxEnvelopeSizekb", "31", RANGE),
        ("MaxEnvelopeSizekb", "4294967296", SCHEMA),  # beyond xs:unsignedInt
        ("MaxEnvelopeSizekb", "-5", SCHEMA),
        ("MaxTimeoutms", "499", RANGE),
        ("MaxTimeoutms", "0", RANGE),
        ("Shell\\MaxShellsPerUser", "-1", SCHEMA),
        ("Shell\\MaxShellsPerUser", "1.5", SCHEMA),
        ("Service\\MaxConcurrentOperationsPerUser", "-3", SCHEMA),
        ("Shell\\MaxConcurrentUsers", "65536", SCHEMA),  # xs:unsignedShort
    ],
)
def test_set_item_refuses_with_the_services_error(
    engine: Engine, leaf: str, value: str, message: str
) -> None:
    path = f"WSMan:\\localhost\\{leaf}"
    (before,) = engine.ok(f"(Get-Item '{path}').Value")
    result = engine.script(f"Set-Item -Path '{path}' -Value '{value}'")
    record = result.failure
    assert record is not None, f"{leaf} = {value} was accepted"
    assert str(record.Exception.Message) == message
    assert record.FullyQualifiedErrorId.startswith("WsManError")
    assert record.CategoryInfo.Category == ErrorCategory.InvalidOperation
    assert engine.ok(f"(Get-Item '{path}').Value") == [before]  # nothing changed


@pytest.mark.parametrize(
    ("leaf", "value"),
    [
        ("MaxEnvelopeSizekb", "32"),
        ("MaxEnvelopeSizekb", "4294967295"),
        ("MaxTimeoutms", "500"),
        ("Shell\\IdleTimeout", "2147483647"),
        ("Shell\\MaxShellsPerUser", "1"),
    ],
)
def test_bounds_are_accepted(engine: Engine, leaf: str, value: str) -> None:
    path = f"WSMan:\\localhost\\{leaf}"
    engine.ok(f"Set-Item -Path '{path}' -Value '{value}'")
    assert engine.ok(f"(Get-Item '{path}').Value") == [value]


def test_a_small_idle_timeout_is_kept_and_the_service_uses_one_minute(
    engine: Engine, machine: Machine
) -> None:
    """Group Policy "Specify idle Timeout": 0 can be set, 60000 ms is used; a shell is never
    dropped at once because of it (the host stays reachable)."""
    engine.ok("Set-Item -Path WSMan:\\localhost\\Shell\\IdleTimeout -Value 0")
    assert engine.ok("(Get-Item WSMan:\\localhost\\Shell\\IdleTimeout).Value") == ["0"]
    assert idle_timeout_ms(machine) == 60000


def test_set_wsman_instance_changes_nothing_when_one_value_is_bad(engine: Engine, machine: Machine) -> None:
    """One Put on Windows: MaxTimeoutms stays as it was although it comes first and is valid."""
    result = engine.script(
        "Set-WSManInstance -ResourceURI winrm/config -ValueSet @{MaxTimeoutms='90000'; MaxEnvelopeSizekb='8'}"
    )
    assert result.failure is not None
    assert str(result.failure.Exception.Message) == RANGE
    assert machine.wsman.max_timeout_ms == 60000
    assert machine.wsman.max_envelope_size_kb == 500
