"""``otel-events replay`` and ``otel-events retention apply``: argument parsing and output, nothing else."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from otel_events.cli_options import DB_DEFAULT_HELP, db_path, positive_int
from otel_events.errors import ConfigError
from otel_events.store import Store
from otel_events.store.archive import load_archive
from otel_events.store.retention import RetentionPolicy, RetentionReport, apply_retention
from otel_events.stream.progress import ProgressBar
from otel_events.stream.replay import MAX_SPEED, MIN_SPEED, Replayer, ReplayOptions, Transport
from otel_events.stream.replay_checkpoint import CheckpointFile, checkpoint_path
from otel_events.stream.replay_plan import Signal


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` and ``retention`` sub-commands."""
    replay = subparsers.add_parser(
        "replay",
        help="re-export stored telemetry to an OTLP endpoint",
        description="Send stored spans, logs and metric points to an OTLP receiver in their original order and "
        "relative timing (scaled by --speed), resumably with --checkpoint.",
    )
    source = replay.add_mutually_exclusive_group()
    source.add_argument("--db", type=Path, help=f"store to read ({DB_DEFAULT_HELP})")
    source.add_argument("--archive", type=Path, metavar="DIR", help="replay an archive directory instead")
    replay.add_argument("--to", required=True, metavar="HOST:PORT", help="the OTLP receiver")
    replay.add_argument("--http", action="store_true", help="send OTLP/HTTP protobuf instead of OTLP/gRPC")
    replay.add_argument("--filter", metavar="EXPR", help="filter expression, e.g. \"service = 'checkout'\"")
    replay.add_argument("--since", help="start: a duration before now (15m, 2h, 7d) or an ISO time")
    replay.add_argument("--until", help="end (exclusive): a duration before now or an ISO time")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help=f"timing scale between {MIN_SPEED} and {MAX_SPEED:g} (2 = twice as fast; default 1)",
    )
    pace.add_argument("--as-fast-as-possible", action="store_true", help="ignore the original timing")
    replay.add_argument("--checkpoint", metavar="NAME", help="record progress under NAME and resume from it")
    replay.add_argument(
        "--kind", type=_kinds, metavar="KINDS", help="comma-separated: traces,logs,metrics (default: all)"
    )
    replay.add_argument("--batch", type=positive_int, default=512, help="items per request (default 512)")
    replay.add_argument(
        "--header",
        action="append",
        type=_header,
        default=[],
        metavar="KEY=VALUE",
        help="header or metadata sent with every request (repeatable), e.g. authorization='Bearer ...'",
    )
    replay.set_defaults(func=run_replay)

    retention = subparsers.add_parser(
        "retention",
        help="apply the retention limits to a store",
        description="Delete rows older than their category's limit (debug 3 days, system 30, performance 30, "
        "user_activity 90, critical 365, metric points 30), optionally archiving them to Parquet first.",
    )
    actions = retention.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    apply = actions.add_parser("apply", help="delete (or with --dry-run count) expired rows")
    apply.add_argument("--db", type=Path, help=f"store to clean ({DB_DEFAULT_HELP})")
    apply.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    apply.add_argument("--archive", type=Path, metavar="DIR", help="archive expiring rows to Parquet under DIR")
    apply.add_argument("--config", type=Path, help="TOML file whose [retention] table sets the limits")
    apply.set_defaults(func=run_retention_apply)


def _kinds(text: str) -> tuple[Signal, ...]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    known = [signal.value for signal in Signal]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        named = ", ".join(unknown) if unknown else repr(text)
        raise argparse.ArgumentTypeError(f"unknown kind(s) {named}; use {', '.join(known)}")
    return tuple(Signal(name) for name in dict.fromkeys(names))


def _header(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def run_replay(args: argparse.Namespace) -> int:
    """Handler of ``otel-events replay``."""
    options = ReplayOptions(
        target=args.to,
        transport=Transport.HTTP if args.http else Transport.GRPC,
        filter=args.filter,
        since=args.since,
        until=args.until,
        speed=None if args.as_fast_as_possible else args.speed,
        kinds=args.kind,
        max_items=args.batch,
        headers=tuple(args.header),
    ).validate()
    if args.archive is not None:
        store = Store(":memory:")
        load_archive(store.connection, args.archive)
        source, name = args.archive, f"archive:{args.archive.resolve()}"
    else:
        path = db_path(args.db)
        if not path.exists():
            raise ConfigError(f"no store at {path}: pass --db PATH or --archive DIR")
        store = Store(path, read_only=True)
        source, name = path, f"db:{path.resolve()}"
    checkpoint = None
    if args.checkpoint:
        checkpoint = CheckpointFile(checkpoint_path(source, args.checkpoint, archive=args.archive is not None))
    progress: ProgressBar | None = None

    def start(total: int) -> None:
        nonlocal progress
        progress = ProgressBar(total, f"replay to {args.to}")

    def advance(_signal: Signal, items: int) -> None:
        if progress is not None:
            progress.advance(items)

    try:
        replayer = Replayer(store.connection, options, checkpoint=checkpoint, source_name=name, on_request=advance)
        result = replayer.run(on_start=start)
    finally:
        if progress is not None:
            progress.finish()
        store.close()
    if result.skipped_kinds:
        print(f"skipped {', '.join(result.skipped_kinds)}: the filter does not apply to them", file=sys.stderr)
    print(
        f"replayed {result.items} items in {result.requests} requests to {args.to}"
        f" (rejected {result.rejected}, retries {result.retries})"
    )
    return 0


def run_retention_apply(args: argparse.Namespace) -> int:
    """Handler of ``otel-events retention apply``."""
    policy = _policy(args.config)
    if args.archive is not None:
        policy = RetentionPolicy(policy.days, policy.interval, args.archive, policy.chunk_rows, policy.enabled)
    path = db_path(args.db)
    if not path.exists():
        raise ConfigError(f"no store at {path}: pass --db PATH")
    with Store(path) as store:
        report = apply_retention(store.connection, policy, dry_run=args.dry_run)
    print(format_report(report))
    return 0


def _policy(config: Path | None) -> RetentionPolicy:
    if config is None:
        return RetentionPolicy()
    try:
        document = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {config} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {config} cannot be read: {exc}") from None
    table = document.get("retention", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {config}: [retention] must be a table")
    return RetentionPolicy.from_table(table, f"config file {config}")


def format_report(report: RetentionReport) -> str:
    """Counts per kind and category as an aligned table, with a total line."""
    verb = "would delete" if report.dry_run else "deleted"
    rows = [("kind", "category", "older than", verb)]
    for count in report.counts:
        cutoff = count.cutoff.isoformat(sep=" ", timespec="seconds")
        rows.append((count.kind, count.category or "-", cutoff, str(count.rows)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(
            cell.ljust(width) if i < 3 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(
        f"total: {report.total} rows {verb}" + (f", archived to {report.archive_dir}" if report.archive_dir else "")
    )
    return "\n".join(lines)
