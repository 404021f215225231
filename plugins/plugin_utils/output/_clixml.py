# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn what pypsrp deserializes from CLIXML into JSON-ready data.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

The rules (documented for users in docs/invoke_command.md) follow ansible.windows.win_powershell's
``Convert-OutputObject`` and ``ConvertTo-Json`` where they agree:

* ``None``, ``bool``, ``int``, ``str`` stay as they are; ``float`` stays unless it is NaN or
  infinite, which become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (JSON has no
  literal for them; .NET's ``Double.ToString()`` spells them like that).
* ``DateTime`` values arrive from pypsrp as their CLIXML text, which is already ISO 8601
  (``xs:dateTime``, [MS-PSRP] 2.2.5.1.4); a Python ``datetime`` is written with ``isoformat()``.
* ``Guid`` becomes its string form; ``byte[]`` (``<BA>``) becomes a list of integers, as
  ``ConvertTo-Json`` writes a byte array.
* enums become ``{"Type": ..., "String": ..., "Value": ...}`` like win_powershell.
* lists (arrays, ``List<T>``, queues, stacks) become lists, dictionaries become dictionaries with
  string keys, each entry one level deeper.
* other objects become a dictionary of their adapted properties then their extended (note)
  properties, each one level deeper. A value that is still an object below ``depth`` levels
  becomes its ``ToString()`` text, as ``ConvertTo-Json -Depth`` does.
* ``SecureString`` values are never revealed: they become the text
  ``"System.Security.SecureString"`` (what ``[string]$secureString`` gives in PowerShell).
  Once the session key has been exchanged (any task that sent a ``SecureString``/``PSCredential``)
  pypsrp would decrypt every ``<SS>`` the host sends into a plain ``str`` that nothing could tell
  apart from ordinary text; every pool therefore deserializes with
  ``psrp._adapters.PSRemotingSerializer``, which never decrypts a SecureString at all.
* the top-level object also gets ``PSTypeNames`` (the type names of the deserialized object with
  the ``Deserialized.`` prefix, as ``$obj.PSTypeNames`` shows after Invoke-Command: the CLIXML
  ``<TN>`` list carries the original .NET names and PowerShell's deserializer prefixes each one,
  as psrpcore's client does too), and, when those are given, ``PSComputerName``, ``RunspaceId``
  and ``PSShowComputerName`` (``true``: Invoke-Command without ``-HideComputerName``), the note
  properties Invoke-Command adds to every object it returns (``about_Remote_Output``).
"""

from __future__ import annotations

import datetime
import math
import queue
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._adapters import (
    SECURE_STRING_TEXT,
    PSRemotingSerializer,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (
    ComplexObject,
    ErrorRecord,
    GenericComplexObject,
    PSCredential,
    PSRPEnum,
)

_DESERIALIZED = "Deserialized."

# System.Management.Automation.ErrorCategory, in value order.
# https://learn.microsoft.com/dotnet/api/system.management.automation.errorcategory
ERROR_CATEGORIES: tuple[str, ...] = (
    "NotSpecified",
    "OpenError",
    "CloseError",
    "DeviceError",
    "DeadlockDetected",
    "InvalidArgument",
    "InvalidData",
    "InvalidOperation",
    "InvalidResult",
    "InvalidType",
    "MetadataError",
    "NotImplemented",
    "NotInstalled",
    "ObjectNotFound",
    "OperationStopped",
    "OperationTimeout",
    "SyntaxError",
    "ParserError",
    "PermissionDenied",
    "ResourceBusy",
    "ResourceExists",
    "ResourceUnavailable",
    "ReadError",
    "WriteError",
    "FromStdErr",
    "SecurityError",
    "ProtocolError",
    "ConnectionError",
    "AuthenticationError",
    "LimitsExceeded",
    "QuotaExceeded",
    "NotEnabled",
)

_COLLECTION_TAGS = ("LST", "IE", "QUE", "STK", "DCT")


def strip_deserialized(type_name: str) -> str:
    """``Deserialized.System.Foo`` -> ``System.Foo``."""
    return type_name[len(_DESERIALIZED) :] if type_name.startswith(_DESERIALIZED) else type_name


def to_jsonable(
    value: Any,
    depth: int = 2,
    computer_name: str | None = None,
    runspace_id: str | None = None,
) -> Any:
    """Convert one deserialized output object to JSON-ready data (see the module docstring).

    ``depth`` is the number of nested levels expanded below the object itself, like
    ``ConvertTo-Json -Depth``. ``computer_name``/``runspace_id`` are added to the top-level object
    as ``PSComputerName``/``RunspaceId`` when it becomes a dictionary.
    """
    converted = _convert(value, depth)
    if isinstance(converted, dict) and _is_object(value):
        type_names = _type_names(value)
        if type_names:
            converted["PSTypeNames"] = deserialized_type_names(type_names)
        if computer_name is not None:
            converted["PSComputerName"] = computer_name
        if runspace_id is not None:
            converted["RunspaceId"] = str(runspace_id)
        if computer_name is not None:
            converted["PSShowComputerName"] = True
    return converted


def deserialized_type_names(type_names: list[str]) -> list[str]:
    """``$obj.PSTypeNames`` of an object after deserialization: each name with the
    ``Deserialized.`` prefix (not doubled for an object that was already deserialized once)."""
    return [t if t.startswith(_DESERIALIZED) else _DESERIALIZED + t for t in type_names]


def _is_object(value: Any) -> bool:
    return isinstance(value, ComplexObject) and not _is_enum(value)


def _type_names(value: Any) -> list[str]:
    if isinstance(value, GenericComplexObject):
        return [str(t) for t in value.types]
    if isinstance(value, ComplexObject):
        return [str(t) for t in value._types]
    return []


def _is_enum(value: Any) -> bool:
    if isinstance(value, PSRPEnum):
        return True
    if isinstance(value, GenericComplexObject):
        return any(strip_deserialized(t) == "System.Enum" for t in value.types)
    return False


def _convert(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (bytes, bytearray)):
        return list(value) if depth >= 0 else " ".join(str(b) for b in value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return _convert_object(value, depth)


def _convert_object(value: Any, depth: int) -> Any:
    """An object pypsrp deserialized (or left as XML): its own conversion, else a collection's."""
    if isinstance(value, ET.Element):
        return _element(value, depth)
    if isinstance(value, PSCredential):
        return _credential(value, depth)
    if _is_enum(value):
        return _enum(value, depth)
    if isinstance(value, GenericComplexObject):
        return _generic(value, depth)
    if isinstance(value, ComplexObject):
        return _typed_complex(value, depth)
    return _convert_collection(value, depth)


def _convert_collection(value: Any, depth: int) -> Any:
    """Hashtables as dictionaries, lists as lists; past ``depth`` the text PowerShell shows."""
    if isinstance(value, queue.Queue):
        value = list(value.queue)
    if isinstance(value, Mapping):
        if depth < 0:
            return "System.Collections.Hashtable"
        return {_key(k): _convert(v, depth - 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        if depth < 0:
            return " ".join(_text(v) for v in value)
        return [_convert(v, depth - 1) for v in value]
    return str(value)


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _key(key: Any) -> str:
    converted = _convert(key, 0)
    if isinstance(converted, str):
        return converted
    if isinstance(converted, bool):
        return "True" if converted else "False"
    if isinstance(converted, dict) and "String" in converted:
        return str(converted["String"])
    return _text(key)


def _text(value: Any) -> str:
    """PowerShell-like string form of a value (what ``[string]$value`` gives)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        converted = _float(value)
        if isinstance(converted, str):
            return converted
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, ET.Element):
        return SECURE_STRING_TEXT if value.tag == "SS" else (value.text or "")
    if isinstance(value, PSCredential):
        return "System.Management.Automation.PSCredential"
    if isinstance(value, GenericComplexObject):
        return _generic_text(value)
    if isinstance(value, ComplexObject):
        try:
            return str(value)
        except KeyError:  # pypsrp enum with a value it does not know
            return str(getattr(value, "value", ""))
    return _plain_text(value)


def _generic_text(value: GenericComplexObject) -> str:
    if value.to_string:
        return str(value.to_string)
    properties = {**value.adapted_properties, **value.extended_properties}
    if properties:
        # PowerShell's string form of a property bag (what "$obj" gives a PSCustomObject,
        # whose ToString() is empty).
        return "@{" + "; ".join(f"{_property_name(k)}={_text(v)}" for k, v in properties.items()) + "}"
    if value.property_sets:
        return _text(value.property_sets[0])
    types = value.types
    return strip_deserialized(types[0]) if types else ""


def _plain_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return "System.Collections.Hashtable"
    if isinstance(value, (bytes, bytearray)):
        return " ".join(str(b) for b in value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _element(element: ET.Element, depth: int) -> Any:
    """Elements pypsrp left undeserialized: a SecureString without a session key, or a
    collection it could not type (it returns those as raw XML)."""
    if element.tag == "SS":
        return SECURE_STRING_TEXT
    return element.text or ""


def _credential(value: PSCredential, depth: int) -> Any:
    if depth < 0:
        return "System.Management.Automation.PSCredential"
    # The password is never revealed, whether or not pypsrp could decrypt it.
    return {"UserName": value.username, "Password": SECURE_STRING_TEXT}


def _enum(value: Any, depth: int) -> Any:
    if isinstance(value, GenericComplexObject):
        type_name = strip_deserialized(value.types[0]) if value.types else "System.Enum"
        raw = value.property_sets[0] if value.property_sets else None
        text = value.to_string if value.to_string is not None else _text(raw)
    else:
        type_name = value._types[0]
        raw = getattr(value, "value", None)
        text = _text(value)
    if depth < 0:
        return text
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else _int_or_none(raw)
    return {"Type": type_name, "String": text, "Value": number}


def _int_or_none(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _generic(value: GenericComplexObject, depth: int) -> Any:
    properties: dict[str, Any] = {}
    properties.update(value.adapted_properties)
    properties.update(value.extended_properties)

    if not properties:
        collection = _collection_in_property_sets(value)
        if collection is not None:
            return _convert(collection, depth)
        if value.property_sets:
            # A primitive wrapped in an object (for example a string with note properties):
            # like ``$obj.PSObject.BaseObject`` the value itself is what matters.
            return _convert(value.property_sets[0], depth)
        if value.to_string is not None:
            return value.to_string
        return {} if depth >= 0 else _text(value)

    if depth < 0:
        return _text(value)
    return {_property_name(name): _convert(prop, depth - 1) for name, prop in properties.items()}


def _property_name(name: Any) -> str:
    """Property names arrive as the ``N`` attribute, escaped like strings ([MS-PSRP] 2.2.5.3.2:
    ``_`` before ``x``/``X`` becomes ``_x005F_``, other characters ``_xHHHH_``); pypsrp decodes
    values but not names."""
    text = str(name)
    if "_x" not in text and "_X" not in text:
        return text
    try:
        return str(PSRemotingSerializer()._deserialize_string(text))
    except (UnicodeDecodeError, ValueError):
        return text


def _collection_in_property_sets(value: GenericComplexObject) -> Any:
    """pypsrp returns a collection it cannot type (``OrderedDictionary``, ``ArrayList`` subtypes)
    as the raw XML text of the ``<DCT>``/``<LST>`` element; parse that back here."""
    for entry in value.property_sets:
        if isinstance(entry, str) and entry.lstrip().startswith("<"):
            try:
                # Text pypsrp already parsed from this same message; expat expands no
                # external entities.
                element = ET.fromstring(entry)  # noqa: S314
            except ET.ParseError:
                continue
            if element.tag in _COLLECTION_TAGS:
                return _raw_collection(element)
    return None


def _raw_collection(element: ET.Element) -> Any:
    serializer = PSRemotingSerializer()

    def load(child: ET.Element) -> Any:
        try:
            return serializer.deserialize(child, clear=False)
        except (KeyError, ValueError):  # a <Ref> to an object outside this fragment
            return child.text or ""

    if element.tag == "DCT":
        result: dict[Any, Any] = {}
        for entry in element.findall("En"):
            key_el = entry.find("*[@N='Key']")
            value_el = entry.find("*[@N='Value']")
            key = load(key_el) if key_el is not None else ""
            result[key if isinstance(key, (str, int, float, bool)) else _text(key)] = (
                load(value_el) if value_el is not None else None
            )
        return result
    return [load(child) for child in element]


def _typed_complex(value: ComplexObject, depth: int) -> Any:
    """pypsrp's own message classes (ErrorRecord, InformationRecord, CultureInfo ...)."""
    if isinstance(value, ErrorRecord):
        return error_record_to_dict(value) if depth >= 0 else _text(value)
    if depth < 0:
        return _text(value)
    result: dict[str, Any] = {}
    for attr, meta in (*value._adapted_properties, *value._extended_properties):
        name = meta.name or attr
        result[str(name)] = _convert(getattr(value, attr, None), depth - 1)
    if not result:
        for attr, _meta in value._property_sets:
            return _convert(getattr(value, attr, None), depth)
        return _text(value)
    return result


# --------------------------------------------------------------------------------------------
# Error records and other stream records
# --------------------------------------------------------------------------------------------


def _get(record: Any, attr: str, ps_name: str) -> Any:
    """Read a field from a pypsrp ErrorRecord (attribute) or from a deserialized
    ``System.Management.Automation.ErrorRecord`` that came as an output object (property)."""
    if isinstance(record, GenericComplexObject):
        if ps_name in record.extended_properties:
            return record.extended_properties[ps_name]
        return record.adapted_properties.get(ps_name)
    return getattr(record, attr, None)


def _prop(obj: Any, name: str) -> Any:
    if isinstance(obj, GenericComplexObject):
        if name in obj.adapted_properties:
            return obj.adapted_properties[name]
        return obj.extended_properties.get(name)
    if isinstance(obj, Mapping):
        return obj.get(name)
    return None


def _exception_to_dict(exception: Any, depth: int = 8) -> dict[str, Any] | None:
    """win_powershell's ``Format-Exception`` shape for a deserialized exception."""
    if exception is None or depth < 0:
        return None
    if isinstance(exception, str):
        return {
            "message": exception,
            "type": "System.Exception",
            "help_link": None,
            "source": None,
            "hresult": None,
            "inner_exception": None,
        }
    types = _type_names(exception)
    message = _prop(exception, "Message")
    if message is None and isinstance(exception, GenericComplexObject):
        message = exception.to_string
    # A RemoteException wraps the original: report the original like win_powershell does.
    serialized = _prop(exception, "SerializedRemoteException")
    if serialized is not None:
        inner = _exception_to_dict(serialized, depth - 1)
        if inner is not None:
            return inner
    return {
        "message": None if message is None else str(message),
        "type": strip_deserialized(types[0]) if types else "System.Exception",
        "help_link": _prop(exception, "HelpLink"),
        "source": _prop(exception, "Source"),
        "hresult": _prop(exception, "HResult"),
        "inner_exception": _exception_to_dict(_prop(exception, "InnerException"), depth - 1),
    }


def _category_name(category: Any) -> str:
    if isinstance(category, int) and 0 <= category < len(ERROR_CATEGORIES):
        return ERROR_CATEGORIES[category]
    return _text(category)


def _format_error_output(fields: dict[str, Any], position: str | None, category_msg: str) -> str:
    """The text ``$err | Out-String`` gives on Windows PowerShell 5.1 for an error record."""
    details = fields["error_details"]
    exception = fields["exception"]
    message = (details or {}).get("message") or (exception or {}).get("message") or ""
    lines = [str(message)]
    if position:
        lines.append(str(position).rstrip("\r\n"))
    lines.append(f"    + CategoryInfo          : {category_msg}")
    lines.append(f"    + FullyQualifiedErrorId : {fields['fully_qualified_error_id']}")
    return "\n".join(lines) + "\n"


def error_record_to_dict(record: Any) -> dict[str, Any]:
    """Convert a deserialized ErrorRecord to win_powershell's ``error`` entry shape.

    Keys: ``output``, ``error_details``, ``exception``, ``target_object``, ``category_info``,
    ``fully_qualified_error_id``, ``script_stack_trace``, ``pipeline_iteration_info``.
    """
    category = _get(record, "category", "ErrorCategory_Category")
    category_id = _int_or_none(category)
    if category_id is None and _is_enum(category):
        category_id = _int_or_none(_convert(category, 0).get("Value"))
    category_info = {
        "category": _category_name(category_id if category_id is not None else category),
        "category_id": category_id if category_id is not None else 0,
        "activity": _get(record, "activity", "ErrorCategory_Activity"),
        "reason": _get(record, "reason", "ErrorCategory_Reason"),
        "target_name": _get(record, "target_name", "ErrorCategory_TargetName"),
        "target_type": _get(record, "target_type", "ErrorCategory_TargetType"),
    }
    details_message = _get(record, "details_message", "ErrorDetails_Message")
    details_action = _get(record, "action", "ErrorDetails_RecommendedAction")
    error_details = None
    if details_message is not None or details_action is not None:
        error_details = {"message": details_message, "recommended_action": details_action}

    pipeline_info = _get(record, "pipeline_iteration_info", "PipelineIterationInfo")
    fields: dict[str, Any] = {
        "error_details": error_details,
        "exception": _exception_to_dict(_get(record, "exception", "Exception")),
        "target_object": _convert(_get(record, "target_object", "TargetObject"), 1),
        "category_info": category_info,
        "fully_qualified_error_id": _get(record, "fq_error", "FullyQualifiedErrorId"),
        "script_stack_trace": _get(record, "script_stacktrace", "ErrorDetails_ScriptStackTrace"),
        "pipeline_iteration_info": [_convert(i, 0) for i in (pipeline_info or [])],
    }
    category_msg = _get(record, "message", "ErrorCategory_Message")
    if not category_msg:
        category_msg = (
            f"{category_info['category']}: ({category_info['target_name'] or ''}:"
            f"{category_info['target_type'] or ''}) [{category_info['activity'] or ''}], "
            f"{category_info['reason'] or ''}"
        )
    position = _get(record, "invocation_position_message", "InvocationInfo_PositionMessage")
    fields["output"] = _format_error_output(fields, position, str(category_msg))
    return {"output": fields.pop("output"), **fields}


def informational_message(record: Any) -> str:
    """Message text of a warning/verbose/debug record (pypsrp InformationalRecord)."""
    message = getattr(record, "message", None)
    if message is None and isinstance(record, GenericComplexObject):
        message = record.extended_properties.get("InformationalRecord_Message")
    return "" if message is None else str(message)


def information_record_to_dict(record: Any, depth: int = 2) -> dict[str, Any]:
    """win_powershell's ``information`` entry: message_data, source, time_generated, tags."""
    if isinstance(record, GenericComplexObject):
        message_data = _prop(record, "MessageData")
        source = _prop(record, "Source")
        time_generated = _prop(record, "TimeGenerated")
        tags = _prop(record, "Tags")
    else:
        message_data = getattr(record, "message_data", None)
        source = getattr(record, "source", None)
        time_generated = getattr(record, "time_generated", None)
        tags = getattr(record, "tags", None)
    return {
        "message_data": _convert(message_data, depth),
        "source": source,
        "time_generated": _convert(time_generated, 0),
        "tags": [str(t) for t in (tags or [])],
    }
