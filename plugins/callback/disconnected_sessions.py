# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback psremoting.core.disconnected_sessions: the end-of-run list of the disconnected
sessions the run started (invoke_command disconnected=true) and did not receive."""

from __future__ import annotations

DOCUMENTATION = r"""
name: disconnected_sessions
type: aggregate
author: psremoting.core contributors (@psremoting-core)
version_added: "1.1.0"
short_description: List the disconnected sessions a run leaves running on its hosts
description:
  - At the end of the run, lists each session that M(psremoting.core.invoke_command) started with
    O(psremoting.core.invoke_command#module:disconnected=true) and that no later task of the run
    received or stopped with M(psremoting.core.pssession), with host, session id and pipeline id. Those
    sessions are the one exception to the rule that a run deletes every shell it opened; their
    commands keep running on the hosts.
  - Enable it with C(callbacks_enabled = psremoting.core.disconnected_sessions) in C(ansible.cfg) (or
    C(ANSIBLE_CALLBACKS_ENABLED)).
requirements:
  - enable in configuration
"""

from typing import Any  # noqa: E402

from ansible.plugins.callback import CallbackBase  # noqa: E402


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "psremoting.core.disconnected_sessions"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: dict[str, tuple[str, str]] = {}  # session id -> (host, pipeline id)

    def v2_runner_on_ok(self, result: Any) -> None:
        action = str(getattr(result._task, "action", "") or "")
        data = result._result
        session_id = data.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            return
        if action.endswith("invoke_command") and data.get("state") == "Disconnected":
            self.started[session_id.upper()] = (result._host.get_name(), str(data.get("pipeline_id") or ""))
        elif action.endswith("pssession") and not data.get("skipped"):
            self.started.pop(session_id.upper(), None)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if not self.started:
            return
        self._display.banner("DISCONNECTED SESSIONS LEFT RUNNING")
        for session_id, (host, pipeline_id) in sorted(self.started.items(), key=lambda item: item[1]):
            self._display.display(f"{host}: session {session_id} (pipeline {pipeline_id})")
        self._display.display(
            "Receive their output with psremoting.core.pssession (state: received, session_id) in a "
            "later run; the hosts delete a session nobody receives after its idle timeout."
        )
