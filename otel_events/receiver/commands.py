"""``otel-events serve`` and ``otel-events status``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from otel_events.errors import ReceiverError, UnreachableError
from otel_events.receiver.config import DEFAULT_DB_PATH, default_wal_dir, load_config
from otel_events.receiver.server import Receiver
from otel_events.receiver.status import read_status
from otel_events.stream.background import status_rows

_logger = logging.getLogger(__name__)

# A status call only reads counters: a receiver that takes longer than this is as good as absent.
_STATUS_TIMEOUT_SECONDS = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` and ``status`` sub-commands."""
    serve = subparsers.add_parser(
        "serve",
        help="run the OTLP receiver, storing into DuckDB",
        description="Receive OTLP/gRPC traces, logs and metrics and store them durably in a DuckDB file.",
    )
    serve.add_argument("--db", type=Path, help=f"DuckDB file to write (default ./{DEFAULT_DB_PATH})")
    serve.add_argument("--grpc", metavar="HOST:PORT", help="OTLP/gRPC listen address (default 127.0.0.1:4317)")
    serve.add_argument("--wal-dir", type=Path, help="write-ahead log directory (default: <db name>.wal next to it)")
    serve.add_argument("--config", type=Path, help="TOML file with a [receiver] table")
    serve.add_argument(
        "--max-message-size", type=_positive_int, metavar="BYTES", help="largest accepted request (default 16 MiB)"
    )
    serve.add_argument("--rules", type=Path, help="classification rules file for items that arrive unclassified")
    serve.add_argument(
        "--wal-max-bytes",
        type=_positive_int,
        metavar="BYTES",
        help="WAL budget not yet stored in DuckDB; filling it sheds debug, then system, ... (default 2 GiB)",
    )
    serve.add_argument(
        "--inflight-max-bytes",
        type=_positive_int,
        metavar="BYTES",
        help="memory budget of requests handled at once; sheds like the WAL budget (default 256 MiB)",
    )
    serve.add_argument(
        "--http", metavar="HOST:PORT", help="OTLP/HTTP listen address or 'none' (default 127.0.0.1:4318)"
    )
    serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM server certificate: serve TLS on both ports")
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key of --tls-cert")
    serve.add_argument(
        "--tls-client-ca", type=Path, metavar="FILE", help="PEM CA of client certificates: require mutual TLS"
    )
    serve.add_argument(
        "--tokens",
        type=Path,
        metavar="FILE",
        help="bearer tokens, '<token> = <tenant>' lines or a TOML [tokens] table (else $OTEL_EVENTS_TOKENS)",
    )
    serve.set_defaults(func=run_serve)

    status = subparsers.add_parser(
        "status",
        help="show the counters of a running receiver",
        description="Show the counters of the receiver running on a database (or WAL directory).",
    )
    where = status.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, help=f"the receiver's DuckDB file (default ./{DEFAULT_DB_PATH})")
    where.add_argument("--wal-dir", type=Path, help="the receiver's write-ahead log directory")
    where.add_argument(
        "--target", metavar="HOST:PORT", help="ask the receiver serving gRPC there (on this or another host)"
    )
    status.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    status.set_defaults(func=run_status)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of bytes, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, got {value}")
    return value


def run_serve(args: argparse.Namespace) -> int:
    """Run the receiver until SIGTERM or SIGINT, then drain and exit."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(
        {
            "db_path": args.db,
            "grpc_endpoint": args.grpc,
            "wal_dir": args.wal_dir,
            "max_message_size": args.max_message_size,
            "rules_file": args.rules,
            "wal_max_bytes": args.wal_max_bytes,
            "inflight_max_bytes": args.inflight_max_bytes,
            "http_endpoint": args.http,
            "tls_cert": args.tls_cert,
            "tls_key": args.tls_key,
            "tls_client_ca": args.tls_client_ca,
            "tokens_file": args.tokens,
        },
        config_file=args.config,
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        _logger.info("received %s: draining into %s", signal.Signals(signum).name, config.db_path)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    receiver = Receiver(config)
    try:
        ports = receiver.start()
        print(f"OTLP/gRPC listening on {config.grpc_host}:{ports.grpc}", flush=True)
        if ports.http is not None:
            print(f"OTLP/HTTP listening on {config.http_host}:{ports.http}", flush=True)
        # Wake up regularly so the signal handler runs promptly in the main thread.
        while not stop.wait(0.5):
            pass
    finally:
        drained = receiver.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not drained:
        print("otel-events: warning: not everything was stored; the WAL replays it on the next start", file=sys.stderr)
        return 1
    return 0


def run_status(args: argparse.Namespace) -> int:
    """Print the status of a running receiver: from its status file, or with ``--target`` from its query API."""
    if args.target is not None:
        status = _remote_status(args.target)
    else:
        status = read_status(args.wal_dir or default_wal_dir(args.db or DEFAULT_DB_PATH))
    if args.format == "json":
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        print(format_status_table(status))
    return 0


def _remote_status(target: str) -> dict[str, object]:
    """The status a receiver answers over ``otel_events.v1.EventsService/Status`` (the same fields as its file)."""
    from otel_events.stream.client import EventsClient

    try:
        with EventsClient(target, timeout=_STATUS_TIMEOUT_SECONDS) as client:
            response = client.status()
    except UnreachableError as exc:
        # The first line answers the question; gRPC's reason (refused, TLS handshake, ...) follows for diagnosis.
        raise ReceiverError(f"no receiver at {target}\n{exc}") from None
    status = json.loads(response.status_json)
    if not isinstance(status, dict):
        raise ReceiverError(f"the receiver at {target} answered a status that is not a JSON object")
    return status


def format_status_table(status: dict[str, object]) -> str:
    """Render the status as an aligned two-column table."""
    rejected = status.get("rejected") or {}
    rows: list[tuple[str, object]] = [
        ("pid", status.get("pid")),
        ("OTLP/gRPC", status.get("grpc_endpoint")),
        ("OTLP/HTTP", status.get("http_endpoint")),
        ("database", status.get("db_path")),
        ("WAL directory", status.get("wal_dir")),
        ("uptime", f"{status.get('uptime_seconds', 0):.0f} s"),
        ("received requests", status.get("received_requests")),
        ("received items", status.get("received_items")),
        ("stored items", status.get("stored_items")),
        *((f"rejected: {reason}", count) for reason, count in dict(rejected).items()),
        ("pressure", _percent(status.get("pressure"))),
        ("in-flight bytes", status.get("inflight_bytes")),
        *((f"shed: {category}", count) for category, count in dict(status.get("shed") or {}).items()),
        ("WAL bytes", status.get("wal_bytes")),
        ("queue depth (requests)", status.get("queue_depth")),
        ("store latency p50", _milliseconds(status.get("store_latency_p50_ms"))),
        ("store latency p99", _milliseconds(status.get("store_latency_p99_ms"))),
        ("store errors", status.get("store_errors")),
        *status_rows(status),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {'-' if value is None else value}" for name, value in rows)


def _percent(value: object) -> str | None:
    return None if value is None else f"{float(value):.0%}"  # type: ignore[arg-type]


def _milliseconds(value: object) -> str | None:
    return None if value is None else f"{value} ms"
