# for internal use by psremoting.core only; not a public API
"""The one place the collection imports pypsrp.

pypsrp (and what it brings: requests, pyspnego) is a controller requirement listed in
requirements.txt, not part of ansible-core. Importing it here, inside ``try``, lets every plugin
module load without it (``ansible-doc``, ``ansible-test sanity --test import``); code that needs
it calls :func:`require` first, which raises an error that says what to install.
"""

from __future__ import annotations

import typing as t

PYPSRP_IMPORT_ERROR: ImportError | None
try:
    from pypsrp.complex_objects import (
        ApartmentState,
        Command,
        CommandParameter,
        ComplexObject,
        ErrorRecord,
        GenericComplexObject,
        HostInfo,
        ObjectMeta,
        Pipeline,
        PipelineResultTypes,
        PSCredential,
        PSInvocationState,
        RemoteStreamOptions,
        RunspacePoolState,
    )
    from pypsrp.complex_objects import Enum as PSRPEnum
    from pypsrp.exceptions import WinRMError, WinRMTransportError, WSManFaultError
    from pypsrp.host import PSHost, PSHostUserInterface
    from pypsrp.messages import CreatePipeline, Destination, Message, MessageType
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.serializer import Serializer, TaggedValue
    from pypsrp.shell import SignalCode, WinRS
    from pypsrp.wsman import SelectorSet, WSMan

    PYPSRP_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import sanity
    PYPSRP_IMPORT_ERROR = exc
    if not t.TYPE_CHECKING:

        class _Missing:
            """Stands in for a pypsrp class so modules that subclass one still import."""

            def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
                require()

        ComplexObject = ErrorRecord = GenericComplexObject = PSCredential = Pipeline = _Missing
        ApartmentState = Command = CommandParameter = HostInfo = ObjectMeta = _Missing
        PipelineResultTypes = RemoteStreamOptions = CreatePipeline = Destination = Message = _Missing
        PSInvocationState = RunspacePoolState = PSRPEnum = _Missing
        PSHost = PSHostUserInterface = PowerShell = RunspacePool = _Missing
        Serializer = TaggedValue = WSMan = SelectorSet = SignalCode = WinRS = MessageType = _Missing

        class WinRMError(Exception):
            """Placeholder: never raised without pypsrp."""

        class WinRMTransportError(Exception):
            """Placeholder: never raised without pypsrp."""

        class WSManFaultError(Exception):
            """Placeholder: never raised without pypsrp."""


def require() -> None:
    """Raise ImportError with the fix when pypsrp is not installed on the controller."""
    if PYPSRP_IMPORT_ERROR is not None:
        raise ImportError(
            "psremoting.core needs the Python package pypsrp on the Ansible controller "
            f"({PYPSRP_IMPORT_ERROR}); install it with 'pip install -r requirements.txt' from the "
            "collection, or 'pip install \"pypsrp[kerberos,credssp]\"'"
        )


__all__ = [
    "PYPSRP_IMPORT_ERROR",
    "ApartmentState",
    "Command",
    "CommandParameter",
    "ComplexObject",
    "CreatePipeline",
    "Destination",
    "ErrorRecord",
    "GenericComplexObject",
    "HostInfo",
    "Message",
    "MessageType",
    "ObjectMeta",
    "PSCredential",
    "PSHost",
    "PSHostUserInterface",
    "PSInvocationState",
    "PSRPEnum",
    "Pipeline",
    "PipelineResultTypes",
    "PowerShell",
    "RemoteStreamOptions",
    "RunspacePool",
    "RunspacePoolState",
    "SelectorSet",
    "Serializer",
    "SignalCode",
    "TaggedValue",
    "WSMan",
    "WSManFaultError",
    "WinRMError",
    "WinRMTransportError",
    "WinRS",
    "require",
]
