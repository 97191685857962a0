"""``otel-events tail [--target HOST:PORT | --db PATH] [--filter EXPR] [--format table|json]``: live stored items."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from otel_events._proto import events_pb2
from otel_events.cli_options import DB_DEFAULT_HELP, db_path
from otel_events.errors import ReceiverError, StoreError


class TailFormat(StrEnum):
    """Output formats of ``otel-events tail``."""

    TABLE = "table"
    JSON = "json"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tail`` sub-command."""
    parser = subparsers.add_parser(
        "tail",
        help="follow items as the receiver stores them",
        description="Print spans and log records as a running receiver stores them, until interrupted. A reader "
        "too slow for the flow loses the oldest items and is told how many.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="HOST:PORT", help="the receiver's gRPC endpoint")
    where.add_argument(
        "--db",
        type=Path,
        help=f"follow the receiver holding this file ({DB_DEFAULT_HELP})",
    )
    parser.add_argument("--filter", metavar="EXPR", default="", help="filter expression, e.g. \"service = 'checkout'\"")
    parser.add_argument("--format", choices=[f.value for f in TailFormat], default=TailFormat.TABLE.value)
    parser.set_defaults(func=run_tail_command)


def run_tail_command(args: argparse.Namespace) -> int:
    """Handler of ``otel-events tail``; returns the exit code (0 when the receiver stops the stream)."""
    from otel_events.stream.client import EventsClient

    target = args.target or _receiver_of(db_path(args.db))
    with EventsClient(target) as client:
        write_tail(sys.stdout, client.tail(args.filter), TailFormat(args.format))
    return 0


def _receiver_of(db_path: Path) -> str:
    from otel_events.stream.client import receiver_target

    # Tail follows what a receiver stores, so it needs the receiver, never the file itself.
    try:
        return receiver_target(db_path, StoreError(f"{db_path} is locked by a running receiver"))
    except StoreError:
        raise ReceiverError(
            f"no running receiver holds {db_path}: tail follows a receiver (`otel-events serve --db {db_path}`), "
            "or pass --target HOST:PORT"
        ) from None


def write_tail(out: TextIO, responses: Iterable[events_pb2.TailResponse], output_format: TailFormat) -> None:
    """Write each item (and each loss marker) as it arrives, flushing after every message."""
    for response in responses:
        lines = []
        if response.dropped:
            marker = {"kind": "dropped", "count": response.dropped}
            text = f"... {response.dropped} items dropped (reader too slow)"
            lines.append(json.dumps(marker) if output_format is TailFormat.JSON else text)
        for item in response.items:
            record = item_record(item)
            lines.append(json.dumps(record, ensure_ascii=False) if output_format is TailFormat.JSON else _line(record))
        out.write("".join(line + "\n" for line in lines))
        out.flush()


def item_record(item: events_pb2.TailItem) -> dict[str, object]:
    """One item as the JSON object ``tail --format json`` prints."""
    record: dict[str, object] = {
        "kind": item.kind,
        "time": _iso(item.time_unix_nano),
        "trace_id": item.trace_id or None,
        "span_id": item.span_id or None,
        "service_name": item.service_name,
    }
    if item.kind == "log":
        record["name"] = item.name or None
        record["body"] = item.body
    else:
        record["name"] = item.name
    record["category"] = item.category
    record["seq"] = item.seq if item.HasField("seq") else None
    return record


def _iso(time_unix_nano: int) -> str:
    seconds, nanos = divmod(time_unix_nano, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _line(record: dict[str, object]) -> str:
    what = record["body"] if record["kind"] == "log" else record["name"]
    text = str(what or record.get("name") or "").replace("\n", " ")
    seq = "" if record["seq"] is None else f" #{record['seq']}"
    trace = f" trace={record['trace_id']}" if record["trace_id"] else ""
    return (
        f"{record['time']}  {record['kind']:<4}  {record['category']:<13}  {record['service_name']}: {text}{seq}{trace}"
    )
