"""Error records as Windows PowerShell shows them: the CategoryInfo text (ErrorCategoryInfo.GetMessage,
PowerShell/PowerShell src/System.Management.Automation/engine/ErrorPackage.cs with the templates of
resources/ErrorCategoryStrings.resx), Write-Error (WriteErrorCommand.ProcessRecord) and
constructed .NET exceptions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from psrpcore.types import ErrorCategory
from psrpcore.types._serializer import serialize_clixml

from winhost.engine.ansible_modules._capture import render_error
from winhost.engine.errors import CategoryInfo, make_error_record

from .helpers import Engine


def _serialized_category_message(record: Any) -> list[str]:
    return re.findall(r'N="ErrorCategory_Message">([^<]*)<', serialize_clixml(record, None))


def test_get_item_error_shows_the_windows_category_line(engine: Engine) -> None:
    """`Get-Item C:\\nope` on Windows: "ObjectNotFound: (C:\\nope:String) [Get-Item],
    ItemNotFoundException" and "PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand"."""
    [record] = engine.script("Get-Item C:\\nope").errors
    expected = "ObjectNotFound: (C:\\nope:String) [Get-Item], ItemNotFoundException"
    assert str(record.CategoryInfo) == expected
    assert _serialized_category_message(record) == [expected]  # what a PSRP client shows
    assert record.FullyQualifiedErrorId == "PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand"
    assert render_error(record).splitlines()[1] == f"    + CategoryInfo          : {expected}"


def test_category_templates_and_ellipsis() -> None:
    """Activity and target longer than 40 characters keep their first and last 19 around U+2026;
    the reason (an exception type name) stays whole; DeadlockDetected has its own template."""
    long_target = "C:\\a-very-long-directory-name\\and-a-long-file-name.txt"
    info = CategoryInfo(
        Category=ErrorCategory.InvalidArgument,
        Activity="Set-Item",
        Reason="AVeryLongExceptionTypeNameThatIsLongerThanFortyCharsException",
        TargetName=long_target,
        TargetType="String",
    )
    assert str(info) == (
        "InvalidArgument: (C:\\a-very-long-dire\u2026-long-file-name.txt:String) [Set-Item], "
        "AVeryLongExceptionTypeNameThatIsLongerThanFortyCharsException"
    )
    deadlock = make_error_record("x", "Id", ErrorCategory.DeadlockDetected)
    assert str(deadlock.CategoryInfo) == "Deadlock detected: (:) [], RuntimeException"


def test_write_error_message_and_exception(engine: Engine) -> None:
    """ansible-core's connection_psrp target ("test error record stderr")."""
    result = engine.script(
        "Write-Error -Message error1 -ErrorId MyId1\n"
        '$exp = [ArgumentException]::new("error exception")\n'
        "Write-Error -Exception $exp -Message 'error details' -ErrorId MyId2"
    )
    first, second = result.errors
    assert str(first.Exception.Message) == "error1" and first.ErrorDetails is None
    assert str(first.CategoryInfo) == "NotSpecified: (:) [Write-Error], WriteErrorException"
    assert first.FullyQualifiedErrorId == "MyId1"
    # the exception is the one given; -Message becomes ErrorDetails, shown instead of it
    assert str(second.Exception.Message) == "error exception"
    assert second.ErrorDetails.Message == "error details"
    assert str(second.CategoryInfo) == "NotSpecified: (:) [Write-Error], ArgumentException"
    assert render_error(second).startswith("error details\r\n    + CategoryInfo          : NotSpecified: (:)")


def test_write_error_defaults_and_category_overrides(engine: Engine) -> None:
    """No -ErrorId: the exception's type name; Category* parameters set CategoryInfo."""
    [record] = engine.script(
        "Write-Error -Message m -Category InvalidData -CategoryActivity Act -CategoryTargetName T "
        "-CategoryTargetType Thing -CategoryReason Why"
    ).errors
    assert record.FullyQualifiedErrorId == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert str(record.CategoryInfo) == "InvalidData: (T:Thing) [Act], Why"


def test_exception_constructors(run: Callable[[str], list[Any]]) -> None:
    """.NET Framework's constructors: (), (message), ArgumentException(message, paramName),
    ArgumentNullException(paramName), (message, innerException)."""
    assert run("[ArgumentException]::new().Message") == ["Value does not fall within the expected range."]
    assert run("[System.InvalidOperationException]::new('bad').GetType().FullName") == [
        "System.InvalidOperationException"
    ]
    assert run("[ArgumentException]::new('bad', 'Path').Message") == ["bad\r\nParameter name: Path"]
    assert run("[ArgumentNullException]::new('Path').Message") == [
        "Value cannot be null.\r\nParameter name: Path"
    ]
    assert run("[Exception]::new('outer', [Exception]::new('inner')).InnerException.Message") == ["inner"]
