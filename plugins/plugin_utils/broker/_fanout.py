# for internal use by psremoting.core only; not a public API
"""One-to-many in the session broker: the ``fanout`` operation (both ends).

Worker side, ``dispatch``: the targets (inventory name + settings read from that host's own
variables, ``invoke._targets``) are grouped by the broker that holds or will hold each host's
session: ``(session_dir, shard_for(settings.host))``, exactly the broker a per-host task of the
same host uses (``broker._backend.BrokerBackend``). Each group goes to its broker as ONE request
``{"op": "fanout", "args": {"job", "targets", "throttle_limit"}}`` (``throttle_limit`` shared
among the groups in proportion to their sizes, ``invoke._fanout.split_throttle``); the groups run
at the same time. Hosts with ``session_persist: false`` (or when no broker can be started) run
in the worker on sessions closed at the end.

Broker side, ``serve_fanout`` (hooked into ``Broker.handle``): each target's session comes from
the broker's session table (``Broker._entry``, keyed on every setting including credentials), so
a later per-host task on that host reuses it, and a session opened earlier by a per-host task is
used here. At most ``throttle_limit`` hosts run at once, in threads. While they run the broker
sends event frames (``{"event": {...}}``, ``invoke._live``) before the final reply, which holds
every host's outcome in target order. The finished pipelines are released (Signal terminate)
after that reply has been sent, as after a per-host task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import (
    BrokerClient,
    BrokerUnavailable,
    conn_message,
    shard_for,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import (
    DEFAULT_THROTTLE_LIMIT,
    HostOutcome,
    Job,
    run_target,
    run_throttled,
    split_throttle,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._live import Emit, LockedEmit
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import ConnectionSettings

log = logging.getLogger("psremoting.broker")

OP = "fanout"
LOCAL = ("", -1)  # the group of hosts that run in the worker


# -- broker side ------------------------------------------------------------------------------
def serve_fanout(
    broker: Any, request: Mapping[str, Any], emit: Callable[[dict[str, Any]], None]
) -> tuple[dict[str, Any], Callable[[], None] | None]:
    """Run a ``fanout`` request in ``broker`` (a ``_server.Broker``); return the final reply and
    what to do once it has been sent: release every host's finished pipelines (Signal terminate,
    and the session-state reset when a host needs one) and check each newly opened host for idle
    orphans (``Broker.then_sweep``), as a per-host task does after its reply, so none of it delays
    the task's result."""
    args = request.get("args") or {}
    try:
        job = Job.from_dict(args["job"])
        conns = {str(t["name"]): dict(t["conn"]) for t in args["targets"]}
        throttle = max(1, int(args.get("throttle_limit") or DEFAULT_THROTTLE_LIMIT))
    except (KeyError, TypeError, ValueError) as exc:
        return {
            "ok": False,
            "error": {"kind": "error", "message": f"broker: bad fanout request ({exc})"},
        }, None
    send = LockedEmit(lambda event: emit({"event": event}))
    used: list[Any] = []  # broker entries

    def work(name: str) -> HostOutcome:
        _key, entry = broker._entry(conns[name])
        used.append(entry)
        return run_target(entry.session, name, job, send)

    # The broker's side only (the worker imports this module too and must not load pypsrp).
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._message_cache import (  # noqa: PLC0415
        caching,
    )

    with caching():  # one serialization of the pipeline for every host, forgotten after the run
        outcomes = run_throttled(list(conns), work, throttle)

    def release() -> None:
        def one(entry: Any) -> None:
            # the pipeline's release, then the host's idle-orphan check when its shell just opened
            after = broker.then_sweep(entry, entry.session.close_pending)
            try:
                after()
            except Exception:
                log.debug("post-run cleanup failed for %s", entry.session.host_label, exc_info=True)

        with ThreadPoolExecutor(
            max_workers=max(1, min(throttle, len(used))), thread_name_prefix="psremoting-release"
        ) as pool:
            list(pool.map(one, used))

    return {"ok": True, "result": {"outcomes": [o.to_dict() for o in outcomes]}}, (release if used else None)


# -- worker side ------------------------------------------------------------------------------
def group_targets(
    targets: list[tuple[str, ConnectionSettings]],
) -> dict[tuple[str, int], list[tuple[str, ConnectionSettings]]]:
    """Targets by the broker that holds their session: (session_dir, shard); LOCAL for hosts
    whose sessions do not persist."""
    groups: dict[tuple[str, int], list[tuple[str, ConnectionSettings]]] = {}
    for name, settings in targets:
        key = (settings.session.directory, shard_for(settings.host)) if settings.session.persist else LOCAL
        groups.setdefault(key, []).append((name, settings))
    return groups


def run_local(
    group: list[tuple[str, ConnectionSettings]], job: Job, throttle: int, emit: Emit
) -> list[HostOutcome]:
    """Hosts run in this process on sessions of their own, deleted at the end."""
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession  # noqa: PLC0415

    settings_of = dict(group)
    send = LockedEmit(emit)

    def work(name: str) -> HostOutcome:
        settings = settings_of[name]
        session = PSRPSession(
            dict(settings.wsman_kwargs),
            settings.configuration_name,
            None,
            settings.host,
            no_profile=settings.no_profile,
        )
        try:
            return run_target(session, name, job, send)
        finally:
            try:
                session.close_pending()
            finally:
                session.close()

    return run_throttled(list(settings_of), work, throttle)


def run_in_broker(
    key: tuple[str, int], group: list[tuple[str, ConnectionSettings]], job: Job, throttle: int, emit: Emit
) -> list[HostOutcome]:
    directory, shard = key
    message = {
        "op": OP,
        "args": {
            "job": job.to_dict(),
            "throttle_limit": throttle,
            "targets": [{"name": name, "conn": conn_message(settings)} for name, settings in group],
        },
    }
    try:
        reply = BrokerClient(directory, shard=shard).request(message, on_event=emit)
    except BrokerUnavailable as exc:
        log.info("session broker unavailable (%s); running %d hosts in the worker", exc, len(group))
        return run_local(group, job, throttle, emit)
    if not reply.get("ok"):
        error = reply.get("error") or {}
        text = str(error.get("message") or "the session broker refused the request")
        return [HostOutcome(name, "failed", msg=text) for name, _settings in group]
    return [HostOutcome.from_dict(o) for o in reply["result"]["outcomes"]]


def dispatch(
    targets: list[tuple[str, ConnectionSettings]], job: Job, throttle_limit: int, emit: Emit
) -> dict[str, HostOutcome]:
    """Run ``job`` on every target, each through the broker of its session; outcomes by name."""
    groups = list(group_targets(targets).items())
    if not groups:
        return {}
    shares = split_throttle(throttle_limit, [len(group) for _key, group in groups])

    def run_group(index: int) -> list[HostOutcome]:
        key, group = groups[index]
        try:
            if key == LOCAL:
                return run_local(group, job, shares[index], emit)
            return run_in_broker(key, group, job, shares[index], emit)
        except Exception as exc:  # every host gets an outcome, whatever happened to its group
            return [HostOutcome(name, "failed", msg=f"{type(exc).__name__}: {exc}") for name, _s in group]

    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="psremoting-fanout-group") as pool:
        results = list(pool.map(run_group, range(len(groups))))
    return {outcome.name: outcome for outcomes in results for outcome in outcomes}
