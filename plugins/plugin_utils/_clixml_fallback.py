# for internal use by psremoting.core only; not a public API
"""Minimal stand-in for ``_clixml`` used only while that module is not importable.

``_clixml`` (owned elsewhere) is the real converter; this keeps the connection usable meanwhile.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any


def to_jsonable(
    value: Any, depth: int = 2, computer_name: str | None = None, runspace_id: str | None = None
) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        if depth < 0:
            return str(value)
        return {str(k): to_jsonable(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v, depth) for v in value]
    adapted = getattr(value, "adapted_properties", None)
    extended = getattr(value, "extended_properties", None)
    if adapted is not None or extended is not None:
        if depth <= 0:
            return str(value)
        out: dict[str, Any] = {}
        for props in (adapted or {}, extended or {}):
            for k, v in props.items():
                out[str(k)] = to_jsonable(v, depth - 1)
        return out
    return str(value)


def error_record_to_dict(record: Any) -> dict[str, Any]:
    return {
        "output": str(record),
        "fully_qualified_error_id": getattr(record, "fq_error", None),
        "category_info": {
            "category": getattr(record, "message", None),
            "reason": getattr(record, "reason", None),
            "target_name": getattr(record, "target_name", None),
            "target_type": getattr(record, "target_type", None),
        },
        "error_details": {"message": getattr(record, "details_message", None)},
        "script_stack_trace": getattr(record, "script_stacktrace", None),
        "target_object": to_jsonable(getattr(record, "target_object", None), depth=1),
    }
