"""``winhost`` command line: serve simulated hosts, read their counters, inject faults.

winhost serve --hosts dc01,sql02,web01 --inventory inv.yml [--state-dir DIR]
              [--preset fresh|configured] [--kerberos] [--latency-ms N] [--shell-create-ms N]
winhost stats --inventory inv.yml [--host dc01] [--reset]
winhost fault --inventory inv.yml --host dc01 latency 200
winhost fault --inventory inv.yml --host dc01 http-error 503 --count 3
winhost fault --inventory inv.yml --host dc01 cut-network 60000   # network cut for 60 s
winhost fault --inventory inv.yml --host dc01 drop-next-receive|kill-shells|restart|clear
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from winhost.hostset import HostSet, control_file_for, expand_host_names
from winhost.transport.control import ControlError, call

FAULTS_WITH_VALUE = {
    "latency",
    "shell-create",
    "http-error",
    "cut-network",
    "cut-on-output",
    "cut-after-bytes",
}
FAULTS = (
    "latency",
    "shell-create",
    "drop-next-receive",
    "http-error",
    "cut-network",
    "cut-on-output",
    "cut-after-bytes",
    "kill-shells",
    "restart",
    "clear",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winhost", description="Simulated Windows hosts for PSRP clients.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run hosts in the foreground until SIGINT/SIGTERM")
    serve.add_argument(
        "--hosts", required=True, help="comma-separated names, or a count (200 -> host001..host200)"
    )
    serve.add_argument("--inventory", required=True, type=Path, help="Ansible inventory YAML to write")
    serve.add_argument(
        "--state-dir", type=Path, help="persist machines, CA and KDC here (default: temporary)"
    )
    serve.add_argument("--preset", default="fresh", choices=("fresh", "configured"))
    serve.add_argument("--kerberos", action="store_true", help="start a private MIT KDC and accept Kerberos")
    serve.add_argument("--latency-ms", type=int, default=0, help="delay every HTTP request")
    serve.add_argument("--shell-create-ms", type=int, default=0, help="delay every WSMan Create")
    serve.add_argument("--base-address", default="127.0.0.2", help="loopback address of the first host")
    serve.add_argument(
        "--windows-ports",
        action="store_true",
        help="listen on the real ports 5985/5986 of each host's address instead of ephemeral ports",
    )
    serve.add_argument("-v", "--verbose", action="count", default=0)

    stats = sub.add_parser("stats", help="print per-host counters as JSON")
    stats.add_argument("--inventory", required=True, type=Path)
    stats.add_argument("--host")
    stats.add_argument("--reset", action="store_true", help="zero the counters after printing them")

    fault = sub.add_parser("fault", help="inject a fault into one host")
    fault.add_argument("--inventory", required=True, type=Path)
    fault.add_argument("--host", required=True)
    fault.add_argument("fault", choices=FAULTS)
    fault.add_argument(
        "value",
        nargs="?",
        type=int,
        help="ms for latency/shell-create/cut-network/cut-on-output/cut-after-bytes, status for http-error",
    )
    fault.add_argument(
        "--count",
        type=int,
        default=1,
        help="how many requests http-error/drop-next-receive hit; request bytes before cut-after-bytes",
    )
    return parser


def fixed_windows_ports(hosts: str) -> dict[str, dict[int, int]]:
    """Every host listens on 5985/5986 of its own loopback address."""
    return {name: {5985: 5985, 5986: 5986} for name in expand_host_names(hosts)}


def load_control(inventory: Path) -> dict[str, Any]:
    path = control_file_for(inventory.resolve())
    if not path.exists():
        raise SystemExit(
            f"winhost: no control file {path}; is 'winhost serve --inventory {inventory}' running?"
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def raise_open_file_limit() -> None:
    """Each host listens on two sockets and clients add connections: lift the soft RLIMIT_NOFILE
    (often 1024) to the hard limit so that ``--hosts 500`` fits in one process."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 65536 if hard == resource.RLIM_INFINITY else hard
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: keep the limit
        pass


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    raise_open_file_limit()
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    hostset = HostSet(
        args.hosts,
        state_dir=args.state_dir,
        preset=args.preset,
        kerberos=args.kerberos,
        latency_ms=args.latency_ms,
        shell_create_ms=args.shell_create_ms,
        base_address=args.base_address,
        fixed_ports=fixed_windows_ports(args.hosts) if args.windows_ports else None,
    )
    try:
        try:
            hostset.start()
        except RuntimeError as err:
            print(f"winhost: {err}", file=sys.stderr)
            return 2
        inventory = hostset.write_inventory(args.inventory)
        elapsed = time.monotonic() - started
        print(
            f"winhost: {len(hostset.hosts)} host(s) ready in {elapsed:.2f}s; inventory {inventory}",
            flush=True,
        )
        if hostset.kdc is not None:
            print(f"winhost: export KRB5_CONFIG={hostset.kdc.krb5_conf}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        hostset.close()
    return 0


def _stats(args: argparse.Namespace) -> int:
    control = load_control(args.inventory)
    path = "/stats" + (f"?host={args.host}" if args.host else "")
    print(json.dumps(call(control, "GET", path), indent=2, sort_keys=True))
    if args.reset:
        call(control, "POST", "/stats/reset", {"host": args.host} if args.host else {})
    return 0


def _fault(args: argparse.Namespace) -> int:
    if args.fault in FAULTS_WITH_VALUE and args.value is None:
        raise SystemExit(f"winhost: fault {args.fault} needs a value")
    control = load_control(args.inventory)
    payload = {"host": args.host, "fault": args.fault, "value": args.value, "count": args.count}
    print(json.dumps(call(control, "POST", "/fault", payload), indent=2, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "stats":
            return _stats(args)
        return _fault(args)
    except ControlError as err:
        print(f"winhost: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
