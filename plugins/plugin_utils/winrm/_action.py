# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the WinRM module actions: cmdlet commands with named parameters, statements.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Every remote step is one ``PipelineRequest`` (docs/dev/architecture.md, "Pipeline API") made of
documented cmdlets with named, typed parameters: no script text is ever built from user values.
The action (``action._base.ModuleAction.manage``) reads the current state, decides in Python what
must change (the functions in the other ``winrm`` helpers, which are unit-tested without a
connection), and only then sends the commands that apply the change, unless the task runs in
check mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import TaskError


class WinRMConfigError(TaskError):
    """A desired state that cannot be reached (or may not be, for safety); message is user-facing."""


def command(name: str, /, *args: Any, **parameters: Any) -> dict[str, Any]:
    """One cmdlet with named parameters (in the given order) and optional positional arguments.

    A parameter whose value is ``True`` is still sent as a typed boolean; switch parameters take a
    boolean in PSRP (``-Force:$true``), so this is also how switches are sent.
    """
    cmd: dict[str, Any] = {"name": name, "is_script": False, "parameters": dict(parameters)}
    if args:
        cmd["arguments"] = list(args)
    return cmd


def statements(*groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join several pipelines into one request: each group becomes its own statement."""
    out: list[dict[str, Any]] = []
    for group in groups:
        for index, cmd in enumerate(group):
            entry = dict(cmd)
            if index == len(group) - 1:
                entry["end_of_statement"] = True
            out.append(entry)
    return out
