# for internal use by psremoting.core only; not a public API
"""Restricted endpoints (JEA): what the collection may send to a session that refuses script text.

A JEA endpoint (``SessionType = 'RestrictedRemoteServer'``) runs in NoLanguage mode
(about_Language_Modes; PowerShell-Docs jea/session-configurations.md): only command pipelines of
visible commands run; any script text fails with ParseException ``ScriptsNotAllowed`` ("The syntax
is not supported by this runspace. This can occur if the runspace is in no-language mode.").

What works there, and what this module refuses before anything is sent:

- works: ``invoke_command`` with ``command:`` + ``parameters:`` (one cmdlet, typed parameters),
  and any PipelineRequest whose commands are all cmdlets;
- refused up front: ``raw``, ``script``, modules (the exec wrapper is script text), put/fetch
  (transfer scripts), ``invoke_command`` with ``script:``/``path:`` or the options that need its
  prelude (``chdir``, ``error_action`` other than continue), and any other request with a script.

The fact "this endpoint is restricted" is ``PSRPSession.language_mode`` / ``PSRPSession.restricted``
(psrp/_client.py): learnt once per session, by :data:`LANGUAGE_PROBE` on a non-default
configuration before the first script would be sent, or from the first ``ScriptsNotAllowed``
answer. Anything else that sends script text (payload caches, session-state helpers) checks it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._session import SESSION_MARKER
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
)

#: The session's language mode; on NoLanguage / RestrictedLanguage it fails (ScriptsNotAllowed /
#: a restricted-language parse error) and that failure is the answer.
LANGUAGE_PROBE = "$ExecutionContext.SessionState.LanguageMode"
SCRIPTS_NOT_ALLOWED = "ScriptsNotAllowed"
RESTRICTED_MODES = frozenset({"NoLanguage", "RestrictedLanguage"})


def is_default_configuration(name: str | None) -> bool:
    """Endpoints Windows/PowerShell register themselves (FullLanguage unless an admin changed them)."""
    low = (name or "").rsplit("/", 1)[-1].lower()
    return not low or low.startswith(("microsoft.", "powershell."))


def mode_from_probe(output: list[Any], error_ids: list[str]) -> str:
    """The language mode the probe's answer shows."""
    if output and str(output[0]) in ("FullLanguage", "ConstrainedLanguage", *RESTRICTED_MODES):
        return str(output[0])
    if any(SCRIPTS_NOT_ALLOWED in i for i in error_ids):
        return "NoLanguage"
    if error_ids:
        return "RestrictedLanguage"
    return "FullLanguage"


def refusal(host: str, configuration: str, mode: str, what: str) -> str:
    """The message of a task refused on a restricted endpoint: endpoint, mode, why, the fix."""
    name = configuration.rsplit("/", 1)[-1] or "?"
    return (
        f"psrp connection to {host}: the endpoint '{name}' runs in {mode} mode (a JEA / restricted "
        f"endpoint), which refuses PowerShell script text; {what} needs script text, so nothing was sent. "
        "On this endpoint use psremoting.core.invoke_command with command: <a visible cmdlet> and "
        "parameters: {...} (typed, no script), and list what you may run with psremoting.core.winrm_info "
        "(jea_capabilities) from an administrator's connection; or connect to another endpoint "
        "(ansible_psrp_configuration_name)."
    )


def has_script(request: PipelineRequest) -> bool:
    return any(bool(c.get("is_script")) for c in request.get("commands") or [])


def _inner_commands(request: PipelineRequest) -> list[PipelineCommand] | None:
    """The pipeline an invoke_command session wrapper (invoke/_session.in_session) carries."""
    commands = request.get("commands") or []
    if len(commands) != 1 or not str(commands[0].get("name", "")).startswith(SESSION_MARKER):
        return None
    parameters = commands[0].get("parameters") or {}
    inner: list[PipelineCommand] = []
    for cmd in parameters.get("Commands") or []:
        entry = PipelineCommand(
            name=str(cmd["Name"]),
            is_script=bool(cmd.get("IsScript")),
            use_local_scope=bool(cmd.get("UseLocalScope")),
            end_of_statement=bool(cmd.get("EndOfStatement")),
        )
        if cmd.get("Parameters"):
            entry["parameters"] = {str(p["Name"]): p["Value"] for p in cmd["Parameters"]}
        if cmd.get("Arguments"):
            entry["arguments"] = list(cmd["Arguments"])
        inner.append(entry)
    return inner


def for_restricted(request: PipelineRequest) -> PipelineRequest | None:
    """``request`` as a restricted endpoint can run it, or None when it needs script text.

    invoke_command's session runspace wrapper (a script) is dropped: a JEA session has no second
    runspace to keep state in, and the command pipeline it carries runs as it is."""
    inner = _inner_commands(request)
    if inner is not None:
        parameters = request["commands"][0].get("parameters") or {}
        unwrapped: dict[str, Any] = {k: v for k, v in request.items() if k != "commands"}
        unwrapped["commands"] = inner
        if parameters.get("InputObjects"):
            unwrapped["input"] = list(parameters["InputObjects"])
        request = PipelineRequest(**unwrapped)  # type: ignore[typeddict-item]
    return None if has_script(request) else request


def what_needs_scripts(request: PipelineRequest) -> str:
    """How a refused request is named in the message."""
    if _inner_commands(request) is not None:
        return (
            "invoke_command with script:/path: (or chdir:/error_action:, which wrap the command in a "
            "script prelude)"
        )
    return "this pipeline (it contains a script command)"
