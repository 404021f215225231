"""PowerShell-style errors: ErrorRecord construction, terminating errors, flow-control signals.

ErrorRecord shape follows System.Management.Automation.ErrorRecord
(https://learn.microsoft.com/en-us/dotnet/api/system.management.automation.errorrecord): an
Exception, a CategoryInfo (ErrorCategory + activity/reason/target), a FullyQualifiedErrorId of the
form ``<ErrorId>,<Namespace.CommandType>`` for cmdlet errors, and the TargetObject.
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import ErrorCategory, ErrorCategoryInfo, ErrorRecord, NETException

#: ErrorCategoryStrings.resx templates that differ from "<Category>: ({1}:{2}) [{0}], {3}".
_CATEGORY_TEMPLATES = {ErrorCategory.DeadlockDetected: "Deadlock detected: ({1}:{2}) [{0}], {3}"}


def _ellipsize(text: str) -> str:
    """ErrorCategoryInfo.Ellipsize: longer than 40 characters -> first 19 + U+2026 + last 19."""
    return text if len(text) <= 40 else f"{text[:19]}\u2026{text[-19:]}"


def category_message(info: ErrorCategoryInfo) -> str:
    """PowerShell's ErrorCategoryInfo.GetMessage: the category's ErrorCategoryStrings template
    "<Category>: (<TargetName>:<TargetType>) [<Activity>], <Reason>" with activity and target
    ellipsized; the reason, an exception type name, is kept whole
    (PowerShell/PowerShell src/System.Management.Automation/engine/ErrorPackage.cs,
    resources/ErrorCategoryStrings.resx, resources/ErrorPackage.resx Ellipsize)."""
    category = info.Category if isinstance(info.Category, ErrorCategory) else ErrorCategory.NotSpecified
    template = _CATEGORY_TEMPLATES.get(category, category.name + ": ({1}:{2}) [{0}], {3}")
    return template.format(
        _ellipsize(info.Activity or ""),
        _ellipsize(info.TargetName or ""),
        _ellipsize(info.TargetType or ""),
        info.Reason or "",
    )


class CategoryInfo(ErrorCategoryInfo):
    """An ErrorCategoryInfo whose text (serialized as ErrorCategory_Message, shown as the
    ``+ CategoryInfo`` line) is :func:`category_message`."""

    def __str__(self) -> str:
        return category_message(self)


def make_exception(
    message: str, type_name: str = "System.Management.Automation.RuntimeException"
) -> NETException:
    exc = NETException(Message=message, HResult=-2146233087)
    if type_name != "System.Exception":
        exc.PSObject.type_names = [type_name, "System.SystemException", "System.Exception", "System.Object"]
    return exc


#: .NET exception types a script may construct (``[ArgumentException]::new("text")``), with the
#: message of their parameterless constructor (.NET Framework, as Windows PowerShell 5.1 runs it).
_EXCEPTION_TYPES = {
    "System.Exception": "Exception of type 'System.Exception' was thrown.",
    "System.SystemException": "System error.",
    "System.ApplicationException": "Error in the application.",
    "System.ArgumentException": "Value does not fall within the expected range.",
    "System.ArgumentNullException": "Value cannot be null.",
    "System.ArgumentOutOfRangeException": "Specified argument was out of the range of valid values.",
    "System.InvalidOperationException": "Operation is not valid due to the current state of the object.",
    "System.NotSupportedException": "Specified method is not supported.",
    "System.NotImplementedException": "The method or operation is not implemented.",
    "System.TimeoutException": "The operation has timed out.",
    "System.UnauthorizedAccessException": "Attempted to perform an unauthorized operation.",
    "System.FormatException": "One of the identified items was in an invalid format.",
    "System.IO.IOException": "I/O error occurred.",
    "System.IO.FileNotFoundException": "Unable to find the specified file.",
    "System.Management.Automation.RuntimeException": (
        "Exception of type 'System.Management.Automation.RuntimeException' was thrown."
    ),
}
#: Exceptions whose one-string constructor takes the parameter name, not the message.
_PARAM_NAME_FIRST = {"System.ArgumentNullException", "System.ArgumentOutOfRangeException"}


def exception_type_name(name: str) -> str | None:
    """The full name of a constructible exception type named ``name`` (``ArgumentException``,
    ``System.ArgumentException``, any case), or None."""
    low = name.lower()
    for full in _EXCEPTION_TYPES:
        if low in (full.lower(), full.lower().removeprefix("system.")):
            return full
    return None


def new_exception(type_name: str, args: list[Any]) -> NETException:
    """``[<exception type>]::new(...)``: (), (message), (message, innerException) and, for
    ArgumentException, (message, paramName); the message of .NET Framework's constructors
    ("<message>\\r\\nParameter name: <name>" for a parameter name)."""
    text = [a for a in args if isinstance(a, str)]
    inner = next((a for a in args if isinstance(a, NETException)), None)
    if type_name in _PARAM_NAME_FIRST and len(text) == 1:
        message = f"{_EXCEPTION_TYPES[type_name]}\r\nParameter name: {text[0]}"
    elif type_name in _PARAM_NAME_FIRST and len(text) >= 2:
        message = f"{text[1]}\r\nParameter name: {text[0]}"
    elif type_name == "System.ArgumentException" and len(text) >= 2:
        message = f"{text[0]}\r\nParameter name: {text[1]}"
    else:
        message = text[0] if text else _EXCEPTION_TYPES[type_name]
    exc = make_exception(message, type_name)
    if inner is not None:
        exc.InnerException = inner
    return exc


def make_error_record(
    message: str,
    error_id: str,
    category: ErrorCategory = ErrorCategory.NotSpecified,
    *,
    target: Any = None,
    exception_type: str = "System.Management.Automation.RuntimeException",
    command: str | None = None,
    reason: str | None = None,
    activity: str | None = None,
) -> ErrorRecord:
    """Build an ErrorRecord; ``command`` (e.g. ``Microsoft.PowerShell.Commands.GetServiceCommand``)
    is appended to the id as PowerShell does for cmdlet errors."""
    fqid = f"{error_id},{command}" if command else error_id
    if activity is None:
        activity = _activity(command)
    target_name = "" if target is None else str(target)
    info = CategoryInfo(
        Category=category,
        Activity=activity,
        Reason=reason or exception_type.rsplit(".", 1)[-1],
        TargetName=target_name,
        TargetType="" if target is None else _type_name(target),
    )
    record = ErrorRecord(
        Exception=make_exception(message, exception_type),
        CategoryInfo=info,
        TargetObject=target,
        FullyQualifiedErrorId=fqid,
    )
    return record


def _activity(command: str | None) -> str:
    """``Get-Service`` for ``Microsoft.PowerShell.Commands.GetServiceCommand``."""
    activity = command.rsplit(".", 1)[-1].removesuffix("Command") if command else ""
    if command and activity:
        # GetServiceCommand -> Get-Service
        for i in range(1, len(activity)):
            if activity[i].isupper():
                activity = f"{activity[:i]}-{activity[i:]}"
                break
    return activity


def _type_name(value: Any) -> str:
    names = getattr(getattr(value, "PSObject", None), "type_names", None)
    if names:
        return str(names[0]).rsplit(".", 1)[-1]
    return {str: "String", int: "Int32", bool: "Boolean", float: "Double"}.get(
        type(value), type(value).__name__
    )


class PSRuntimeError(Exception):
    """A terminating error carrying its ErrorRecord."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(str(record.Exception.Message))
        self.record = record

    @property
    def error_record(self) -> ErrorRecord:
        """The record the WSMan layer reports in PipelineState(Failed)."""
        return self.record


def terminating(
    message: str, error_id: str, category: ErrorCategory = ErrorCategory.NotSpecified, **kwargs: Any
) -> PSRuntimeError:
    return PSRuntimeError(make_error_record(message, error_id, category, **kwargs))


def not_emulated(construct: str, target: Any = None) -> PSRuntimeError:
    """The error for anything outside the documented script subset (tests/winhost/SCRIPT_SUBSET.md)."""
    return PSRuntimeError(
        make_error_record(
            f"winhost does not emulate {construct}",
            "WinhostNotEmulated",
            ErrorCategory.NotImplemented,
            target=target,
            exception_type="System.NotImplementedException",
        )
    )


def dotnet_error(
    message: str,
    exception_type: str,
    *,
    wrapper: str = "System.Management.Automation.MethodInvocationException",
    method: str = "",
    argc: int = 0,
) -> PSRuntimeError:
    """The record PowerShell makes when a .NET member it calls throws: the .NET exception is the
    InnerException of a MethodInvocationException (``Exception calling "CopyTo" with "1"
    argument(s): "<message>"``; ``method`` ``.ctor`` for a constructor) or, for a property, of a
    GetValueInvocationException / SetValueInvocationException (``Exception getting "Length":
    "<message>"``); the FullyQualifiedErrorId is the .NET exception's short type name for a
    method and ExceptionWhenGetting / ExceptionWhenSetting for a property, category NotSpecified
    (https://learn.microsoft.com/en-us/dotnet/api/system.management.automation.methodinvocationexception,
    https://learn.microsoft.com/en-us/dotnet/api/system.management.automation.getvalueinvocationexception)."""
    short = exception_type.rsplit(".", 1)[-1]
    if wrapper.endswith("GetValueInvocationException"):
        text, error_id = f'Exception getting "{method}": "{message}"', "ExceptionWhenGetting"
    elif wrapper.endswith("SetValueInvocationException"):
        text, error_id = f'Exception setting "{method}": "{message}"', "ExceptionWhenSetting"
    else:
        text, error_id = f'Exception calling "{method}" with "{argc}" argument(s): "{message}"', short
    record = make_error_record(text, error_id, ErrorCategory.NotSpecified, exception_type=wrapper)
    record.Exception.InnerException = make_exception(message, exception_type)
    return PSRuntimeError(record)


def command_not_found(name: str) -> PSRuntimeError:
    """PowerShell's CommandNotFoundException text."""
    return PSRuntimeError(
        make_error_record(
            f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
            "operable program. Check the spelling of the name, or if a path was included, verify that "
            "the path is correct and try again.",
            "CommandNotFoundException",
            ErrorCategory.ObjectNotFound,
            target=name,
            exception_type="System.Management.Automation.CommandNotFoundException",
        )
    )


class PipelineStopped(Exception):
    """Raised when the client stopped the pipeline (host.stop_requested set)."""


class FlowControl(Exception):
    """break / continue / return / exit."""


class BreakSignal(FlowControl):
    pass


class ContinueSignal(FlowControl):
    pass


class ReturnSignal(FlowControl):
    pass


class ExitSignal(FlowControl):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code
