# for internal use by psremoting.core only; not a public API
"""The connection's persistent-session backend: every operation is one request to the broker.

Implements ``psrp._backend.Backend`` on top of ``_client.BrokerClient``: the connection settings
travel with each request (the broker keys its sessions on them, see ``_options.session_key``),
pipeline input and exec results through the codec of ``_protocol``, and a failed reply becomes
the Ansible exception ``_errors.raise_ansible`` picks. Notices the broker attaches (a session was
replaced, and why) are shown at -v.
"""

from __future__ import annotations

import typing as t

from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (
    BrokerClient,
    conn_message,
    shard_for,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import (
    decode_exec_result,
    encode_input,
)

# A worker imports this module for every task (see connection/psrp.py): what only some operations
# need (errors, pipelines, shell listings, fetch) loads when they run.
if t.TYPE_CHECKING:
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import ConnectionSettings
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
        PipelineRequest,
        PipelineResult,
    )
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
        Removal,
        ShellInfo,
        ShellListing,
    )

display = Display()


class BrokerBackend:
    """Runs everything in the session broker (persistent sessions)."""

    def __init__(self, settings: ConnectionSettings, become: t.Any) -> None:
        self._client = BrokerClient(settings.session.directory, shard=shard_for(settings.host))
        self._conn = conn_message(settings, become)

    def _reply(
        self, op: str, args: dict[str, t.Any] | None = None, on_event: t.Any = None
    ) -> dict[str, t.Any]:
        reply = self._client.request({"op": op, "conn": self._conn, "args": args or {}}, on_event=on_event)
        for notice in reply.get("notices") or ():
            display.v(str(notice), host=str(self._conn.get("host") or ""))
        for warning in reply.get("warnings") or ():
            display.warning(str(warning))
        if not reply.get("ok"):
            from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import (  # noqa: PLC0415
                raise_ansible,
            )

            raise_ansible(reply.get("error") or {})
        return reply

    def _call(self, op: str, args: dict[str, t.Any] | None = None, on_event: t.Any = None) -> t.Any:
        return self._reply(op, args, on_event).get("result")

    def exec(
        self,
        script: str,
        input_data: t.Any,
        arguments: list[str] | None,
        *,
        verbosity: int,
        may_change_state: bool,
        joined_stderr: bool,
    ) -> tuple[int, bytes, bytes]:
        args = {
            "script": script,
            "input": encode_input(input_data),
            "arguments": arguments,
            "verbosity": verbosity,
            "may_change_state": may_change_state,
            "joined_stderr": joined_stderr,
        }
        reply = self._reply("exec", args)
        return decode_exec_result(reply["result"], reply.get("raw"))

    def put(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self._call("put", {"in_path": in_path, "out_path": out_path}))

    def fetch(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._mode import (  # noqa: PLC0415
            fetched_file_mode,
        )

        args = {"in_path": in_path, "out_path": out_path, "mode": fetched_file_mode(out_path)}
        return t.cast(dict[str, t.Any], self._call("fetch", args))

    def pipeline(self, request: PipelineRequest) -> PipelineResult:
        from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._live import (  # noqa: PLC0415
            show_event,
        )

        # Live output (progress, information at -v) is printed while the pipeline runs.
        args = {"request": request, "live": display.verbosity}
        result = self._call("pipeline", args, lambda event: show_event(event, display))
        return t.cast("PipelineResult", result)

    def list_shells(self) -> ShellListing:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (  # noqa: PLC0415
            ShellListing,
        )

        return ShellListing.from_wire(self._call("list_shells"))

    def remove_shells(self, shells: t.Sequence[ShellInfo]) -> list[Removal]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (  # noqa: PLC0415
            Removal,
            shell_targets,
        )

        result = self._call("remove_shells", {"shells": shell_targets(shells)})
        return [Removal.from_wire(r) for r in result or ()]

    def start_disconnected(
        self, request: PipelineRequest, idle_timeout: int | None, buffer_mode: str | None
    ) -> dict[str, t.Any]:
        args = {"request": request, "idle_timeout": idle_timeout, "buffer_mode": buffer_mode}
        return t.cast(dict[str, t.Any], self._call("start_disconnected", args))

    def receive_disconnected(self, session_id: str, stop: bool, depth: int) -> PipelineResult:
        args = {"session_id": session_id, "stop": stop, "depth": depth}
        return t.cast("PipelineResult", self._call("receive_disconnected", args))

    def reset(self) -> None:
        if self._client.ping():  # never start a broker only to reset nothing
            self._call("reset")

    def close(self) -> None:
        pass  # the session stays in the broker for the next task
