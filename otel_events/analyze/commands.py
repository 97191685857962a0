"""``otel-events analyze NAME`` and ``otel-events export``: argument parsing and output, nothing else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from otel_events.analyze.anomalies import anomalies
from otel_events.analyze.compare import GATE_COLUMNS, Threshold, compare, crossed_thresholds
from otel_events.analyze.export import ExportFormat, ExportKind, export
from otel_events.analyze.operations import TIME_BUCKETS, completeness, errors, service_map, stats
from otel_events.analyze.output import OutputFormat, render
from otel_events.analyze.patterns import patterns, span_patterns
from otel_events.analyze.report import build_report, render_report_html, render_report_markdown
from otel_events.analyze.source import with_archive
from otel_events.analyze.traces import correlation, critical_path, slow_traces, trace
from otel_events.cli_options import DB_DEFAULT_HELP, db_path, positive_int
from otel_events.errors import ConfigError, NotFoundError
from otel_events.store import Store

Handler = Callable[[argparse.Namespace, Store], object]


def _common(parser: argparse.ArgumentParser, *, limit: int | None, window: bool = True, target: bool = True) -> None:
    parser.add_argument("--db", type=Path, help=f"DuckDB store to read ({DB_DEFAULT_HELP})")
    if target:
        parser.add_argument(
            "--target",
            metavar="HOST:PORT",
            help="run on this receiver's query API (default: the running receiver holding --db, if any)",
        )
    if window:
        parser.add_argument(
            "--since", help="start: a duration before --until (15m, 2h, 7d) or an ISO time (default 24h)"
        )
        parser.add_argument("--until", help="end: an ISO time (default now)")
    parser.add_argument("--filter", metavar="EXPR", help="filter expression, e.g. \"service = 'checkout'\"")
    parser.add_argument("--archive", type=Path, metavar="DIR", help="also read the rows archived under DIR")
    if limit is not None:
        parser.add_argument("--limit", type=positive_int, default=limit, help=f"most rows to show (default {limit})")


def _window(args: argparse.Namespace) -> dict[str, object]:
    return {"since": args.since, "until": args.until, "filter": args.filter}


def _open_store(args: argparse.Namespace) -> Store:
    path = db_path(args.db)
    if not path.exists():
        raise ConfigError(f"no store at {path}: pass --db PATH (a DuckDB file written by `otel-events serve`)")
    store = Store(path, read_only=True)
    with_archive(store, getattr(args, "archive", None))
    return store


def _slow_traces(args: argparse.Namespace, store: Store) -> object:
    return slow_traces(store, **_window(args), limit=args.limit, threshold_ms=args.threshold_ms)


def _critical_path(args: argparse.Namespace, store: Store) -> object:
    return critical_path(store, args.trace_id)


def _errors(args: argparse.Namespace, store: Store) -> object:
    return errors(store, **_window(args), limit=args.limit)


def _stats(args: argparse.Namespace, store: Store) -> object:
    return stats(store, **_window(args), limit=args.limit, by=args.by)


def _patterns(args: argparse.Namespace, store: Store) -> object:
    if args.spans:
        return span_patterns(store, **_window(args), limit=args.limit)
    return patterns(store, **_window(args), limit=args.limit, baseline=args.baseline)


def _anomalies(args: argparse.Namespace, store: Store) -> object:
    return anomalies(
        store,
        **_window(args),
        limit=args.limit,
        sensitivity=args.sensitivity,
        bucket=args.bucket,
        baseline=args.baseline,
        metrics=args.metrics,
    )


def _trace(args: argparse.Namespace, store: Store) -> object:
    rows = trace(store, args.trace_id, filter=args.filter)
    if not rows:
        raise NotFoundError(f"no spans or logs with trace id {args.trace_id} in the store")
    return rows


def _correlation(args: argparse.Namespace, store: Store) -> object:
    rows = correlation(store, args.correlation_id, filter=args.filter)
    if not rows:
        raise NotFoundError(f"no spans or logs with correlation id {args.correlation_id!r} in the store")
    return rows


def _service_map(args: argparse.Namespace, store: Store) -> object:
    return service_map(store, **_window(args), limit=args.limit)


def _completeness(args: argparse.Namespace, store: Store) -> object:
    return completeness(store, **_window(args), limit=args.limit)


def _compare(args: argparse.Namespace, store: Store) -> object:
    thresholds = [Threshold.parse(text) for text in args.fail_on or ()]
    rows = compare(store, **_window(args), baseline=args.baseline, limit=args.limit)
    args.gate_failures = crossed_thresholds(rows, thresholds)
    return rows


def _report(args: argparse.Namespace, store: Store) -> object:
    report = build_report(store, **_window(args))
    if args.format == "html":
        return render_report_html(store, report)
    if args.format in (None, "markdown", "table"):
        return render_report_markdown(report)
    return report


# name -> (help, handler, default --limit or None)
ANALYSES: dict[str, tuple[str, Handler, int | None]] = {
    "slow-traces": ("traces over a threshold or their operation's p99, with critical paths", _slow_traces, 20),
    "critical-path": ("the spans that determine one trace's latency, with self times", _critical_path, None),
    "errors": ("error totals, rate, by service/operation/exception type, top messages, recent", _errors, 10),
    "stats": ("latency distribution and rate per operation", _stats, 100),
    "patterns": ("log templates (Drain), new ones against --baseline; --spans: span sequences", _patterns, 50),
    "anomalies": ("z-score anomalies of count, error rate and p95 per bucket; --metrics", _anomalies, 100),
    "trace": ("all spans and logs of one trace in order", _trace, None),
    "correlation": ("spans and logs of a correlation id across traces and span links", _correlation, None),
    "service-map": ("caller -> callee edges with calls, errors and p95", _service_map, 1000),
    "completeness": ("per stream: received, missing sequence numbers, duplicates", _completeness, 1000),
    "compare": ("the window against --baseline; exit 1 when a --fail-on threshold is crossed", _compare, 100),
    "report": ("every analysis as markdown, JSON or a self-contained HTML page", _report, None),
}


def _add_specific(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "slow-traces":
        parser.add_argument("--threshold-ms", type=float, default=500.0, help="absolute threshold (default 500)")
    elif name in ("critical-path", "trace"):
        parser.add_argument("trace_id", metavar="TRACE_ID", help="32 hexadecimal digits")
    elif name == "correlation":
        parser.add_argument("correlation_id", metavar="ID")
    elif name == "stats":
        parser.add_argument("--by", choices=list(TIME_BUCKETS), help="one row per operation and time bucket")
    elif name == "patterns":
        parser.add_argument("--spans", action="store_true", help="recurring parent -> child span sequences")
        parser.add_argument("--baseline", metavar="WINDOW", help="START..END or a duration D (same window D earlier)")
    elif name == "anomalies":
        parser.add_argument("--sensitivity", type=float, default=3.0, help="z-score to report (default 3)")
        parser.add_argument("--bucket", default="5m", help="bucket length (default 5m)")
        parser.add_argument("--baseline", metavar="WINDOW", help="baseline window (default: the other buckets)")
        parser.add_argument("--metrics", action="store_true", help="score metric points instead of spans")
    elif name == "compare":
        parser.add_argument(
            "--baseline", required=True, metavar="WINDOW|FILTER", help="START..END, a duration D, or a filter"
        )
        parser.add_argument(
            "--fail-on",
            action="append",
            metavar="COLUMN>N",
            help=f"exit 1 when crossed; COLUMN one of {', '.join(GATE_COLUMNS)} (repeatable)",
        )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``analyze`` (one sub-command per analysis) and ``export``."""
    analyze = subparsers.add_parser("analyze", help="run an analysis over the store", description=__doc__)
    names = analyze.add_subparsers(dest="analysis", metavar="NAME")
    names.required = True
    for name, (help_text, handler, limit) in ANALYSES.items():
        parser = names.add_parser(name, help=help_text, description=help_text)
        _common(parser, limit=limit, window=name not in ("critical-path", "trace", "correlation"))
        _add_specific(name, parser)
        formats = [f.value for f in OutputFormat] + (["html"] if name == "report" else [])
        parser.add_argument("--format", choices=formats, default=None, help="output format (default table)")
        if name == "report":
            parser.add_argument("--out", type=Path, help="write the report to this file instead of stdout")
        parser.set_defaults(func=_run_analysis, handler=handler)

    exporter = subparsers.add_parser("export", help="export spans, logs or metrics to JSON lines, CSV or Parquet")
    _common(exporter, limit=None)
    exporter.add_argument("--format", choices=[f.value for f in ExportFormat], required=True)
    exporter.add_argument("--out", type=Path, required=True, help="file to write")
    exporter.add_argument("--kind", choices=[k.value for k in ExportKind], default="spans")
    exporter.set_defaults(func=_run_export)


def _analysis_result(args: argparse.Namespace) -> object:
    """Run the analysis locally, or on a receiver: ``--target``, or the one holding the ``--db`` file (SPEC §4)."""
    from otel_events.errors import StoreError
    from otel_events.stream.client import receiver_target

    if args.target is None:
        try:
            store = _open_store(args)
        except StoreError as exc:
            args.target = receiver_target(db_path(args.db), exc)
        else:
            try:
                return args.handler(args, store)
            finally:
                store.close()
    return _remote_analysis(args)


def _remote_analysis(args: argparse.Namespace) -> object:
    import json

    from otel_events.stream.analysis_call import parameters_of
    from otel_events.stream.client import EventsClient

    with EventsClient(args.target) as client:
        outcome = client.analysis(args.analysis, json.dumps(parameters_of(args)))
    args.gate_failures = list(outcome.gate_failures)
    return outcome.result


def _run_analysis(args: argparse.Namespace) -> int:
    args.gate_failures = []
    result = _analysis_result(args)
    text = result if isinstance(result, str) else render(result, args.format or OutputFormat.TABLE)
    if getattr(args, "out", None):
        args.out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    for message in args.gate_failures:
        print(f"otel-events: regression: {message}", file=sys.stderr)
    return 1 if args.gate_failures else 0


def _run_export(args: argparse.Namespace) -> int:
    """Export from the ``--db`` file, or through a receiver: ``--target``, or the one holding the file (SPEC §4)."""
    from otel_events.errors import StoreError
    from otel_events.stream.client import receiver_target

    count = None
    if args.target is None:
        try:
            store = _open_store(args)
        except StoreError as exc:
            args.target = receiver_target(db_path(args.db), exc)
        else:
            try:
                count = export(
                    store, args.out, output_format=args.format, kind=args.kind, since=args.since, until=args.until,
                    filter=args.filter,
                )  # fmt: skip
            finally:
                store.close()
    if count is None:
        count = _remote_export(args)
    print(f"exported {count} {args.kind} rows to {args.out}", file=sys.stderr)
    return 0


def _remote_export(args: argparse.Namespace) -> int:
    from otel_events.analyze.export import export_query, export_rows
    from otel_events.stream.client import EventsClient

    if args.archive is not None:
        raise ConfigError("--archive reads local files: it cannot be combined with a receiver's query API (--target)")
    # The window and filter resolve here, so the receiver runs exactly the statement a local export would.
    query = export_query(args.kind, since=args.since, until=args.until, filter=args.filter)
    with EventsClient(args.target) as client:
        return export_rows(client.sql_reader(query.sql, query.parameters), args.out, output_format=args.format)
