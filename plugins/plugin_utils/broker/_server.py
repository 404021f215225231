# for internal use by psremoting.core only; not a public API
"""Session broker: a process that holds PSRP RunspacePools for one ansible-playbook run.

Started on demand by the first worker that needs it (``broker._client.ensure_broker``) as
``python -c 'from ...plugins.plugin_utils.broker import _server; _server.main()'`` in a new session, so a
Ctrl-C on ansible-playbook does not kill it before it cleans up. It listens on a Unix socket in
the session directory (0700; socket 0600) and serves each worker connection in its own thread.

Life cycle:
- sessions are keyed by an HMAC (random in-memory salt) of every connection setting including
  the credentials (``_options.session_key``); different credentials never share a session;
- after each reply the finished pipeline is closed (WSMan Signal terminate) in the handler thread,
  i.e. after the worker already has its result; so is the once-per-host check for shells idle
  brokers left (``_sweep_idle``: a WSMan Enumerate), which never delays a session's first command;
- a reaper thread closes sessions idle longer than their ``session_idle_timeout`` and watches
  the controller process: when it is gone (normal end, Ctrl-C, SIGTERM, kill -9) the broker
  deletes every shell (RunspacePool.close -> WSMan Delete) and exits;
- SIGTERM/SIGINT/SIGHUP to the broker itself do the same cleanup.
Nothing secret is written to disk; the log file holds life-cycle events only.

The wire protocol (framing, codec, peer check, liveness) is ``_protocol.py``, shared with the
worker side ``_client.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.broker._client import remove_run_files
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._orphans import (
    IDENTITY,
    RecordWriter,
    record_path,
    shell_name,
    stale_shells,
    take_orphans,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.broker._protocol import (
    PROTOCOL_VERSION,
    decode_input,
    encode_exec_result,
    peer_allowed,
    peer_uid,
    pid_alive,
    process_start_time,
    recv_frame,
    send_frame,
    send_reply,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._live import live_output
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._errors import (
    ERROR,
    FILE_NOT_FOUND,
    ErrorInfo,
    classify,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import session_key
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._shells import ShellListing

log = logging.getLogger("psremoting.broker")
# Seconds the broker gives its sessions to end when the run is over (each one: stop + delete).
END_TIMEOUT = 8.0
# Seconds an idle-orphan check already under way (one Enumerate, a Delete per orphan) may delay that.
SWEEP_GRACE = 2.0


# -- the broker ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Entry:
    session: Any  # _client.PSRPSession
    identity: dict[str, Any]
    idle_timeout: int
    created: float = dataclasses.field(default_factory=time.monotonic)
    requests: int = 0
    orphan_idle: int = 0  # seconds; 0: no idle-orphan check (_sweep_idle)
    shell_idle_timeout: int = 0
    sweep_due: bool = False  # a shell opened: check for idle orphans once the reply is sent


class Broker:
    def __init__(self, sock_path: str, controller_pid: int, controller_start: str | None) -> None:
        self.sock_path = sock_path
        self.controller_pid = controller_pid
        self.controller_start = controller_start
        self._salt = os.urandom(32)
        self._lock = threading.Lock()
        self._sessions: dict[str, Entry] = {}
        self._stopping = threading.Event()
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self.started = time.time()
        self.directory = os.path.dirname(sock_path)
        self.record_path = record_path(sock_path)
        self.start_time = process_start_time(os.getpid())
        self.shell_name = shell_name(os.getpid(), self.start_time)
        self._swept: set[tuple[str, ...]] = set()  # (host, port, user) checked for idle orphans
        self._sweeps = 0  # idle-orphan checks running (close_all lets them finish)
        self._sweeps_done = threading.Condition(self._lock)
        self._record = RecordWriter(self.record_path, os.getpid(), self.start_time, self._record_shells)

    # session table
    def _entry(self, conn: dict[str, Any]) -> tuple[str, Entry]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (  # noqa: PLC0415
            PSRPSession,  # pypsrp is imported in the broker only
        )

        wsman = conn["wsman"]
        no_profile = bool(conn.get("no_profile"))
        key = session_key(
            self._salt,
            wsman,
            conn["configuration_name"],
            conn.get("become"),
            int(conn["idle_timeout"]),
            no_profile=no_profile,
        )
        with self._lock:
            entry = self._sessions.get(key)
            if entry is None:
                session = PSRPSession(
                    wsman,
                    conn["configuration_name"],
                    conn.get("shell_idle_timeout"),
                    str(conn.get("host") or wsman.get("server")),
                    no_profile=no_profile,
                    shell_name=self.shell_name,
                )
                identity = {k: conn.get("identity", {}).get(k) for k in ("host", "port", "user", "auth")}
                identity["configuration_name"] = conn["configuration_name"]
                identity["become"] = conn.get("become")
                entry = Entry(session, identity, int(conn["idle_timeout"]))
                entry.orphan_idle = max(0, int(conn.get("orphan_idle") or 0))
                entry.shell_idle_timeout = int(conn.get("shell_idle_timeout") or 0)
                session.on_open = lambda opened, entry=entry: self._opened(entry)
                self._sessions[key] = entry
            entry.requests += 1
            if conn.get("max_output_size"):  # a task's own setting (not part of the session key)
                entry.session.max_output_bytes = int(conn["max_output_size"])
            return key, entry

    def handle(
        self, request: dict[str, Any], emit: Callable[[dict[str, Any]], None] | None = None
    ) -> tuple[dict[str, Any], Any]:
        """Return (reply, after) where ``after`` is run once the reply is sent. ``emit`` sends a
        frame before the reply (live output, ``broker._fanout``)."""
        op = request.get("op")
        if op == "fanout":
            from ansible_collections.psremoting.core.plugins.plugin_utils.broker._fanout import (  # noqa: PLC0415
                serve_fanout,
            )

            return serve_fanout(self, request, emit or (lambda _frame: None))
        if op == "ping":
            return {"ok": True, "pid": os.getpid(), "version": PROTOCOL_VERSION}, None
        if op == "stats":
            return {"ok": True, "result": self.stats()}, None
        if op == "shutdown":
            threading.Thread(target=self.shutdown, daemon=True).start()
            return {"ok": True}, None
        conn = request.get("conn")
        if not isinstance(conn, dict):
            return {"ok": False, "error": {"kind": ERROR, "message": "broker: request without conn"}}, None
        host = str(conn.get("host") or "")
        key, entry = self._entry(conn)
        session = entry.session
        reply, after = self._dispatch(op, request, key, session, host, emit=emit)
        after = self.then_sweep(entry, after)
        notices = session.take_notices() if hasattr(session, "take_notices") else []
        if notices:
            reply["notices"] = notices  # shown at -v by the worker
        warnings = session.take_warnings() if hasattr(session, "take_warnings") else []
        if warnings:
            reply["warnings"] = warnings  # shown as warnings by the worker
        return reply, after

    def _dispatch(
        self,
        op: Any,
        request: dict[str, Any],
        key: str,
        session: Any,
        host: str,
        *,
        emit: Callable[[dict[str, Any]], None] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (  # noqa: PLC0415
            SessionError,
            TransferError,
        )
        from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._files import (  # noqa: PLC0415
            fetch_file,
            put_file,
        )

        args = request.get("args") or {}
        try:
            if op == "reset":
                session.close()
                with self._lock:
                    self._sessions.pop(key, None)
                self._write_record()
                return {"ok": True}, None
            if op == "connect":
                session.run(lambda pool: None)
                return {"ok": True}, None
            if op == "exec":
                rc, out, err = session.exec_script(
                    args["script"],
                    decode_input(args.get("input")),
                    args.get("arguments"),
                    use_local_scope=bool(args.get("use_local_scope", True)),
                    verbosity=int(args.get("verbosity", 0)),
                    may_change_state=bool(args.get("may_change_state", False)),
                    joined_stderr=bool(args.get("joined_stderr", False)),
                )
                result, raw = encode_exec_result(rc, out, err)
                return {"ok": True, "result": result, "raw": raw}, session.close_pending
            if op == "put":
                res = put_file(session, args["in_path"], args["out_path"])
                return {"ok": True, "result": res}, session.close_pending
            if op == "fetch":
                mode = args.get("mode")
                res = fetch_file(
                    session, args["in_path"], args["out_path"], mode if isinstance(mode, int) else None
                )
                return {"ok": True, "result": res}, session.close_pending
            if op == "pipeline":
                res = session.invoke_pipeline(args["request"], **live_output(args, host, emit))
                return {"ok": True, "result": res}, session.close_pending
            if op in ("list_shells", "remove_shells", "start_disconnected", "receive_disconnected"):
                return {"ok": True, "result": self._shells(op, session, args)}, None
            return {"ok": False, "error": {"kind": ERROR, "message": f"broker: unknown op {op!r}"}}, None
        except SessionError as exc:
            return {"ok": False, "error": exc.info.to_dict()}, None
        except TransferError as exc:
            return {"ok": False, "error": {"kind": ERROR, "message": str(exc)}}, session.close_pending
        except FileNotFoundError as exc:
            return {"ok": False, "error": {"kind": FILE_NOT_FOUND, "message": str(exc)}}, None
        except Exception as exc:
            info: ErrorInfo = classify(exc, host)
            log.debug("request %s failed: %s", op, info.message)
            return {"ok": False, "error": info.to_dict()}, None

    # shells left by dead brokers, and the record of ours (_orphans)
    def _opened(self, entry: Entry) -> None:
        """A shell has just opened for ``entry``: remove what dead brokers left on the same
        endpoint for the same user, then record the new shell (session lock held)."""
        for orphan in take_orphans(self.directory, entry.identity):
            try:
                gone = entry.session.delete_shell(
                    str(orphan.get("shell_id")), str(orphan.get("resource_uri"))
                )
                log.info("removed shell %s left by a dead broker on %s (%s)", orphan.get("shell_id"),
                         entry.identity.get("host"), "deleted" if gone else "already gone")  # fmt: skip
            except Exception as exc:
                log.info("could not remove shell %s left on %s: %s", orphan.get("shell_id"),
                         entry.identity.get("host"), type(exc).__name__)  # fmt: skip
        entry.sweep_due = entry.orphan_idle > 0  # after the reply (then_sweep)
        self._write_record(wait=False)  # a burst of opens (one-to-many) shares the writes

    def then_sweep(self, entry: Entry, after: Callable[[], None] | None) -> Callable[[], None] | None:
        """``after`` (what runs once the reply is sent), followed by the idle-orphan check when a
        shell of ``entry`` has opened since the last one."""
        if not entry.sweep_due:
            return after

        def run() -> None:
            try:
                if after is not None:
                    after()
            finally:
                self._sweep_idle(entry)

        return run

    def _sweep_idle(self, entry: Entry) -> None:
        """Once per host and user per broker, after the reply to the request that opened the
        host's shell: remove our named shells that have been idle longer than ``orphan_idle``
        (never below this run's shell idle timeout) and that this broker does not hold; their
        broker is gone (``_orphans.stale_shells``). One WSMan Enumerate, plus one Delete per shell
        found; works without the session directory of the broker that left them."""
        key = tuple(str(entry.identity.get(k) or "").lower() for k in ("host", "port", "user"))
        with self._lock:
            if not entry.sweep_due:
                return
            entry.sweep_due = False
            if key in self._swept or self._stopping.is_set():
                return
            self._swept.add(key)
            self._sweeps += 1
            own = [
                str(e.session.pool.id) for e in self._sessions.values() if getattr(e.session.pool, "id", None)
            ]
        try:
            self._remove_stale(entry, own)
        finally:
            with self._lock:
                self._sweeps -= 1
                self._sweeps_done.notify_all()

    def _remove_stale(self, entry: Entry, own: list[str]) -> None:
        threshold = max(entry.orphan_idle, entry.shell_idle_timeout)
        try:
            for shell in stale_shells(entry.session.list_shells(), own, threshold):
                gone = entry.session.delete_shell(shell.shell_id, shell.resource_uri)
                log.info("removed shell %s (%s) idle %ss on %s: its broker is gone (%s)", shell.shell_id,
                         shell.name, shell.idle_seconds, entry.identity.get("host"),
                         "deleted" if gone else "already gone")  # fmt: skip
        except Exception as exc:
            log.info(
                "could not check %s for orphaned shells: %s", entry.identity.get("host"), type(exc).__name__
            )

    def _write_record(self, wait: bool = True) -> None:
        self._record.changed(wait=wait)

    def _record_shells(self) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._sessions.values())
        shells = []
        for e in entries:
            pool = e.session.pool
            if pool is not None and e.session.is_open() and getattr(pool, "id", None):
                shells.append(
                    {
                        **{k: e.identity.get(k) for k in IDENTITY},
                        "shell_id": str(pool.id).upper(),
                        "resource_uri": str(getattr(getattr(pool, "shell", None), "resource_uri", "")),
                    }
                )
        return shells

    def _shells(self, op: str, session: Any, args: dict[str, Any]) -> Any:
        """Get-PSSession (list_shells: the user's shells, and the ones this broker holds) and
        Remove-PSSession by id (remove_shells: never a shell this broker holds); commands in
        disconnected sessions of their own (start_/receive_disconnected, psrp/_disconnected.py)."""
        if op.endswith("_disconnected"):
            from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._disconnected import (  # noqa: PLC0415
                disconnected_op,
            )

            return disconnected_op(op, session, args)
        if op == "list_shells":
            return ShellListing(tuple(session.shells()), frozenset(self.own_shell_ids())).to_wire()
        removals = session.remove_shells(list(args.get("shells") or ()), self.own_shell_ids())
        return [r.to_wire() for r in removals]

    def own_shell_ids(self) -> set[str]:
        """The ShellIds of every shell this broker holds (never removed by ``remove_shells``)."""
        with self._lock:
            entries = list(self._sessions.values())
        return {i for e in entries for i in e.session.own_shell_ids()}

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            entries = list(self._sessions.values())
        return {
            "pid": os.getpid(),
            "controller_pid": self.controller_pid,
            "sessions": [
                {
                    **e.identity,
                    "open": e.session.is_open(),
                    "opened": e.session.opened,
                    "requests": e.requests,
                    "idle_seconds": round(now - e.session.last_used, 3),
                }
                for e in entries
            ],
        }

    # maintenance
    def reap_once(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [
                (k, e)
                for k, e in self._sessions.items()
                if e.session.is_open() and now - e.session.last_used > e.idle_timeout
            ]
        for key, entry in idle:
            # skip a session that is busy right now; the next pass gets it
            if entry.session.lock.acquire(blocking=False):
                try:
                    if time.monotonic() - entry.session.last_used > entry.idle_timeout:
                        log.info("closing idle session %s", entry.identity.get("host"))
                        entry.session.close()
                        with self._lock:
                            if self._sessions.get(key) is entry:
                                del self._sessions[key]
                        self._write_record()
                finally:
                    entry.session.lock.release()

    def reaper(self) -> None:
        while not self._stopping.wait(0.5):
            if not pid_alive(self.controller_pid, self.controller_start):
                log.info("controller %s is gone; cleaning up", self.controller_pid)
                self.shutdown()
                return
            try:
                self.reap_once()
            except Exception:
                log.exception("reaper pass failed")

    def close_all(self, timeout: float = END_TIMEOUT) -> None:
        """End every session at once, in parallel: an idle one is closed (WSMan Delete), one with a
        command running is aborted over a second connection (Signal stop, then Delete) without
        waiting for the lock or the Receive that command's thread holds. An idle-orphan check
        that has started (after a reply) is given up to ``SWEEP_GRACE`` seconds to finish first."""
        with self._lock:
            self._sweeps_done.wait_for(lambda: self._sweeps == 0, timeout=SWEEP_GRACE)
            entries = list(self._sessions.values())
            self._sessions.clear()

        def end(entry: Entry) -> None:
            try:
                outcome = entry.session.end()
            except Exception as exc:  # never let one host keep the others open
                outcome = f"failed: {type(exc).__name__}"
            log.info("session %s ended: %s", entry.identity.get("host"), outcome)

        threads = [threading.Thread(target=end, args=(e,), daemon=True) for e in entries]
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._write_record()  # every session ended: the record goes

    def shutdown(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.unlink(self.sock_path)
        self.close_all()
        if self._server is not None:
            threading.Thread(target=self._server.shutdown, daemon=True).start()

    def serve(self) -> None:
        broker = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                if not peer_allowed(sock):
                    # Defence in depth behind the 0700 directory and 0600 socket: another local
                    # user (or a process whose uid cannot be read) gets nothing, not even a reply.
                    log.warning("refused a connection from uid %s", peer_uid(sock))
                    return
                try:
                    request = recv_frame(sock)
                except (OSError, ValueError, ConnectionError):
                    return
                if broker._stopping.is_set():
                    reply: dict[str, Any] = {
                        "ok": False,
                        "error": {"kind": "retry", "message": "broker is shutting down"},
                    }
                    after = None
                else:
                    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import (  # noqa: PLC0415
                        reporting_start,
                    )

                    def started() -> None:  # an interim frame: the host accepted the command
                        send_frame(sock, {"progress": "started"})

                    with reporting_start(started):
                        reply, after = broker.handle(request, lambda frame: send_frame(sock, frame))
                raw = reply.pop("raw", None)
                with contextlib.suppress(OSError):
                    send_reply(sock, reply, raw)
                    sock.shutdown(socket.SHUT_WR)
                del raw, reply  # an exec's stdout: not kept while the pipeline is released
                if after is not None:
                    try:
                        after()  # Signal terminate of the finished pipeline, off the critical path
                    except Exception:
                        log.debug("post-reply cleanup failed", exc_info=True)

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True
            request_queue_size = 256

        old_umask = os.umask(0o077)
        try:
            self._server = Server(self.sock_path, Handler)
        finally:
            os.umask(old_umask)
        os.chmod(self.sock_path, 0o600)
        threading.Thread(target=self.reaper, name="reaper", daemon=True).start()
        log.info("broker %s serving %s for controller %s", os.getpid(), self.sock_path, self.controller_pid)
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self._stopping.set()
            self.close_all()
            with contextlib.suppress(OSError):
                os.unlink(self.sock_path)
            log.info("broker %s exited", os.getpid())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="psremoting-broker")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--controller-pid", type=int, required=True)
    parser.add_argument("--log", default="")
    ns = parser.parse_args(argv)

    os.umask(0o077)
    if ns.log:
        # stderr is the log file, opened by the spawning worker without following links (0600)
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s"
        )
    broker = Broker(ns.socket, ns.controller_pid, process_start_time(ns.controller_pid))

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %s", signum)
        threading.Thread(target=broker.shutdown, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        broker.serve()
    except OSError as exc:  # another broker won the race for the socket
        log.info("broker could not serve %s: %s", ns.socket, exc)
        return 1
    if not pid_alive(broker.controller_pid, broker.controller_start):  # the run is over
        remove_run_files(ns.socket)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
