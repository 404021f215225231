# for internal use by psremoting.core only; not a public API
"""Where a connection's work runs: the ``Backend`` interface and the in-process backend.

The connection plugin picks one backend per connection object and delegates every operation to
it:

- ``broker._backend.BrokerBackend`` (``session_persist``, the default): the session lives in the
  session broker process and is reused by later tasks; requests travel over the broker protocol;
- :class:`LocalBackend` (``session_persist: false``): a ``PSRPSession`` in the worker itself,
  opened for the task and deleted when the connection closes, like ansible.builtin.psrp. Its
  arguments reach pypsrp as they are (no broker encoding).

Both raise Ansible exceptions (``_errors.raise_ansible``) for failures a user must see.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleError
from ansible.utils.display import Display

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import raise_ansible
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import ConnectionSettings
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineRequest,
    PipelineResult,
    plain_request,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import (
    Removal,
    ShellInfo,
    ShellListing,
    shell_targets,
)

ExecResult = tuple[int, bytes, bytes]
display = Display()
T = t.TypeVar("T")


class Backend(t.Protocol):
    def exec(
        self,
        script: str,
        input_data: t.Any,
        arguments: list[str] | None,
        *,
        verbosity: int,
        may_change_state: bool,
        joined_stderr: bool,
    ) -> ExecResult: ...
    def put(self, in_path: str, out_path: str) -> dict[str, t.Any]: ...
    def fetch(self, in_path: str, out_path: str) -> dict[str, t.Any]: ...
    def pipeline(self, request: PipelineRequest) -> PipelineResult: ...
    def list_shells(self) -> ShellListing: ...
    def remove_shells(self, shells: t.Sequence[ShellInfo]) -> list[Removal]: ...

    def start_disconnected(
        self, request: PipelineRequest, idle_timeout: int | None, buffer_mode: str | None
    ) -> dict[str, t.Any]: ...

    def receive_disconnected(self, session_id: str, stop: bool, depth: int) -> PipelineResult: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


class LocalBackend:
    """In-process session, opened per connection object (session_persist=false)."""

    def __init__(self, settings: ConnectionSettings) -> None:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession  # noqa: PLC0415

        self._session = PSRPSession(
            dict(settings.wsman_kwargs),
            settings.configuration_name,
            None,
            settings.host,
            no_profile=settings.no_profile,
            max_output_bytes=settings.max_output_size,
        )

    def _guard(self, fn: t.Callable[[], T]) -> T:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (  # noqa: PLC0415 - pypsrp loads on first use
            SessionError,
            TransferError,
        )

        try:
            return fn()
        except SessionError as exc:
            raise_ansible(exc.info)
        except TransferError as exc:
            raise AnsibleError(str(exc)) from None
        finally:
            for notice in self._session.take_notices():
                display.v(notice, host=self._session.host_label)
            for warning in self._session.take_warnings():
                display.warning(warning)

    def exec(
        self,
        script: str,
        input_data: t.Any,
        arguments: list[str] | None,
        *,
        verbosity: int,
        may_change_state: bool,
        joined_stderr: bool,
    ) -> ExecResult:
        return self._guard(
            lambda: self._session.exec_script(
                script,
                input_data,
                arguments,
                verbosity=verbosity,
                may_change_state=may_change_state,
                joined_stderr=joined_stderr,
            )
        )

    def put(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._files import put_file  # noqa: PLC0415

        return self._guard(lambda: put_file(self._session, in_path, out_path))

    def fetch(self, in_path: str, out_path: str) -> dict[str, t.Any]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._files import fetch_file  # noqa: PLC0415

        return self._guard(lambda: fetch_file(self._session, in_path, out_path))

    def pipeline(self, request: PipelineRequest) -> PipelineResult:
        plain = plain_request(request)  # tagged 2.19 values become what pypsrp serializes
        return self._guard(lambda: self._session.invoke_pipeline(plain))

    def list_shells(self) -> ShellListing:
        shells = self._guard(self._session.shells)
        return ShellListing(tuple(shells), frozenset(self._session.own_shell_ids()))

    def remove_shells(self, shells: t.Sequence[ShellInfo]) -> list[Removal]:
        keep = self._session.own_shell_ids()
        return self._guard(lambda: self._session.remove_shells(shell_targets(shells), keep))

    def start_disconnected(
        self, request: PipelineRequest, idle_timeout: int | None, buffer_mode: str | None
    ) -> dict[str, t.Any]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _disconnected  # noqa: PLC0415

        plain, session = plain_request(request), self._session
        return self._guard(
            lambda: _disconnected.start(session, plain, idle_timeout=idle_timeout, buffer_mode=buffer_mode)
        )

    def receive_disconnected(self, session_id: str, stop: bool, depth: int) -> PipelineResult:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _disconnected  # noqa: PLC0415

        return self._guard(lambda: _disconnected.receive(self._session, session_id, stop=stop, depth=depth))

    def reset(self) -> None:
        self._session.close()

    def close(self) -> None:
        self._session.close_pending()
        self._session.close()
