# for internal use by psremoting.core only; not a public API
"""Pipeline API types shared by the connection plugin and action plugins.

See docs/dev/architecture.md ("Pipeline API"). Action plugins build a ``PipelineRequest`` and call
``Connection.invoke_pipeline``; it runs in the session broker when sessions persist, in-process
otherwise. This module is pure Python (no pypsrp import at module level) so the worker can
validate a request without loading pypsrp; ``to_pypsrp_value`` imports pypsrp (through ``_pypsrp``) lazily.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, TypedDict

TYPE_MARKER = "__psrp_type__"
TYPED_VALUES = ("SecureString", "PSCredential")


class PipelineCommand(TypedDict, total=False):
    name: str  # cmdlet name, or script text when is_script
    is_script: bool  # default False
    use_local_scope: bool  # default True for scripts (no state leaks between tasks)
    parameters: dict[str, Any]  # named, in order; a value may be a typed value
    arguments: list[Any]  # positional
    end_of_statement: bool  # start a new statement after this command


class PipelineRequest(TypedDict, total=False):
    commands: list[PipelineCommand]
    input: list[Any]  # pipeline input objects
    depth: int  # conversion depth for output (default 2, like ConvertTo-Json)
    host_input: list[str]  # answers for Read-Host style host calls (optional)


class PipelineResult(TypedDict):
    output: list[Any]
    error: list[dict[str, Any]]
    warning: list[str]
    verbose: list[str]
    debug: list[str]
    information: list[dict[str, Any]]
    host_out: str
    host_err: str
    had_errors: bool
    state: str  # Completed | Failed | Stopped
    rc: int | None
    # The id of the RunspacePool that ran the pipeline, a lowercase GUID string as PowerShell shows
    # it: Invoke-Command's RunspaceId note property (about_Remote_Output). None when unknown.
    runspace_id: str | None


class PipelineRequestError(ValueError):
    """The request is malformed (raised before anything is sent)."""


def secure_string(value: str) -> dict[str, Any]:
    return {TYPE_MARKER: "SecureString", "value": value}


def ps_credential(username: str, password: str) -> dict[str, Any]:
    return {TYPE_MARKER: "PSCredential", "username": username, "password": password}


def is_typed(value: Any) -> bool:
    return isinstance(value, dict) and TYPE_MARKER in value


def _check_value(value: Any, where: str) -> bool:
    """Validate typed values recursively; return True if a secret is inside."""
    if is_typed(value):
        kind = value[TYPE_MARKER]
        if kind == "SecureString":
            if not isinstance(value.get("value"), str):
                raise PipelineRequestError(f"{where}: SecureString needs a string 'value'")
            return True
        if kind == "PSCredential":
            if not isinstance(value.get("username"), str) or not isinstance(value.get("password"), str):
                raise PipelineRequestError(f"{where}: PSCredential needs string 'username' and 'password'")
            return True
        raise PipelineRequestError(
            f"{where}: unknown {TYPE_MARKER} {kind!r}; use one of {', '.join(TYPED_VALUES)}"
        )
    if isinstance(value, dict):
        return any([_check_value(v, f"{where}.{k}") for k, v in value.items()])  # noqa: C419 (check all)
    if isinstance(value, list | tuple):
        return any([_check_value(v, f"{where}[{i}]") for i, v in enumerate(value)])  # noqa: C419
    return False


def plain_request(request: PipelineRequest) -> PipelineRequest:
    """The request with JSON types only, as the broker receives it.

    ansible-core 2.19+ hands action plugins tagged subclasses of str/int/float (templated values);
    pypsrp's serializer picks the CLIXML type by exact class and fails on them
    (``'_AnsibleTaggedInt' object has no attribute 'decode'``). The broker path gets plain values from
    its JSON frame; the in-process path makes the same round trip so both run the same request.
    """
    plain: PipelineRequest = json.loads(json.dumps(request))
    return plain


def validate_request(request: PipelineRequest) -> bool:
    """Check a request's shape; return True when it carries secrets (typed values)."""
    if not isinstance(request, dict):
        raise PipelineRequestError("pipeline request must be a dict")
    commands = request.get("commands")
    if not isinstance(commands, list) or not commands:
        raise PipelineRequestError("pipeline request needs a non-empty 'commands' list")
    secret = False
    for i, cmd in enumerate(commands):
        where = f"commands[{i}]"
        if not isinstance(cmd, dict) or not isinstance(cmd.get("name"), str) or not cmd["name"]:
            raise PipelineRequestError(f"{where} needs a non-empty string 'name'")
        unknown = set(cmd) - set(PipelineCommand.__annotations__)
        if unknown:
            raise PipelineRequestError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        params = cmd.get("parameters", {})
        if not isinstance(params, dict):
            raise PipelineRequestError(f"{where}.parameters must be a dict")
        args = cmd.get("arguments", [])
        if not isinstance(args, list):
            raise PipelineRequestError(f"{where}.arguments must be a list")
        secret |= _check_value(params, f"{where}.parameters")
        secret |= _check_value(args, f"{where}.arguments")
    if "input" in request:
        if not isinstance(request["input"], list):
            raise PipelineRequestError("'input' must be a list")
        secret |= _check_value(request["input"], "input")
    depth = request.get("depth", 2)
    if not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= 100:
        raise PipelineRequestError("'depth' must be an integer between 0 and 100")
    host_input = request.get("host_input", [])
    if not isinstance(host_input, list) or not all(isinstance(x, str) for x in host_input):
        raise PipelineRequestError("'host_input' must be a list of strings")
    return secret


def to_pypsrp_value(value: Any) -> Any:
    """Decode typed values (recursively) into pypsrp's serializable types."""
    if is_typed(value):
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import (  # noqa: PLC0415
            PSCredential,
            TaggedValue,
        )

        if value[TYPE_MARKER] == "SecureString":
            return TaggedValue("SS", value["value"])
        return PSCredential(username=value["username"], password=value["password"])
    if isinstance(value, dict):
        return {k: to_pypsrp_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_pypsrp_value(v) for v in value]
    if isinstance(value, float) or (
        isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31
    ):
        # pypsrp tags float as Single and every int as Int32; keep precision / range.
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pypsrp import TaggedValue  # noqa: PLC0415

        return TaggedValue("Db" if isinstance(value, float) else "I64", value)
    return value


def empty_result() -> PipelineResult:
    return PipelineResult(
        output=[],
        error=[],
        warning=[],
        verbose=[],
        debug=[],
        information=[],
        host_out="",
        host_err="",
        had_errors=False,
        state="NotStarted",
        rc=None,
        runspace_id=None,
    )


def runspace_guid(pool_id: Any) -> str | None:
    """A RunspacePool id (pypsrp keeps it as an upper-case string) the way PowerShell prints a
    GUID (lower case, hyphenated); None when there is none or it is not a GUID."""
    if pool_id is None:
        return None
    try:
        return str(uuid.UUID(str(pool_id)))
    except ValueError:
        return None
