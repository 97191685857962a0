"""``report``: every analysis for one window, as an object, markdown, or one self-contained HTML page (SPEC §6)."""

from __future__ import annotations

from datetime import timedelta
from html import escape

from otel_events.analyze.anomalies import anomalies
from otel_events.analyze.critical_path import compute_critical_path
from otel_events.analyze.operations import completeness, errors, service_map, stats
from otel_events.analyze.output import cell, format_time, render_markdown
from otel_events.analyze.patterns import patterns
from otel_events.analyze.queries import run_query
from otel_events.analyze.source import Source, connection_of, window_params
from otel_events.analyze.svg import CATEGORY_COLOURS, Series, WaterfallSpan, bar_chart, line_chart, waterfall
from otel_events.analyze.traces import slow_traces, span_timings
from otel_events.analyze.window import TimeSpec

Row = dict[str, object]
# Bars per chart and rows per table: a report is an overview, the analyses give the full lists.
TOP = 10
WATERFALLS = 3


def build_report(
    source: Source, *, since: TimeSpec = None, until: TimeSpec = None, filter: str | None = None
) -> dict[str, object]:
    """Run every analysis for the window.

    The filter must name fields that exist in both spans and logs (e.g. ``service = 'checkout'``).

    Returns:
        An object: window, stats, slow_traces, errors, patterns, anomalies, service_map, completeness,
        latency_over_time, category_mix.
    """
    window, params = window_params(since, until)
    common = {"since": window.since, "until": window.until, "filter": filter}
    conn = connection_of(source)
    bucket = max((window.until - window.since) / 24, timedelta(minutes=1))
    over_time = run_query(
        conn, "latency_over_time", {**params, "bucket_ns": int(bucket.total_seconds() * 1e9)}, {"filter": filter}
    )
    return {
        "window": {"since": window.since, "until": window.until, "filter": filter},
        "stats": stats(source, **common, limit=TOP),
        "slow_traces": slow_traces(source, **common, limit=TOP),
        "errors": errors(source, **common, limit=TOP),
        "patterns": patterns(source, **common, limit=TOP),
        "anomalies": anomalies(source, **common, limit=TOP),
        "service_map": service_map(source, **common, limit=TOP * 3),
        "completeness": completeness(source, **common, limit=TOP),
        "latency_over_time": over_time,
        "category_mix": run_query(conn, "category_mix", params, {"filter": filter}),
    }


def _errors_summary(report: dict[str, object]) -> Row:
    e = report["errors"]
    assert isinstance(e, dict)
    return {key: e[key] for key in ("total", "critical", "spans", "error_rate")}


_SECTIONS = (
    ("Operations", "stats"),
    ("Slow traces", "slow_traces"),
    ("Anomalies", "anomalies"),
    ("Log patterns", "patterns"),
    ("Service map", "service_map"),
    ("Completeness", "completeness"),
)


def render_report_markdown(report: dict[str, object]) -> str:
    """The report as markdown: a summary, then one table per analysis."""
    w = report["window"]
    assert isinstance(w, dict)
    e = report["errors"]
    assert isinstance(e, dict)
    lines = [
        "# otel_events report",
        "",
        f"Window: {format_time(w['since'])} to {format_time(w['until'])}"
        + (f", filter `{w['filter']}`" if w["filter"] else ""),
        "",
        "## Errors",
        "",
        render_markdown([_errors_summary(report)]),
        "",
        "### By service",
        "",
        render_markdown(e["by_service"]),
        "",
        "### Top messages",
        "",
        render_markdown(e["top_messages"]),
    ]
    for title, key in _SECTIONS:
        lines += ["", f"## {title}", "", render_markdown(report[key])]  # type: ignore[arg-type]
    return "\n".join(lines) + "\n"


def _depth(parents: dict[str, str | None], span_id: str) -> int:
    depth, seen = 0, set()
    while parents.get(span_id) in parents and span_id not in seen:
        seen.add(span_id)
        span_id = parents[span_id]  # type: ignore[assignment]
        depth += 1
    return depth


def _waterfalls(source: Source, slow: list[Row]) -> list[str]:
    chosen = slow[:WATERFALLS]
    timings = span_timings(source, [str(r["trace_id"]) for r in chosen]) if chosen else {}
    charts = []
    for row in chosen:
        spans = sorted(timings.get(str(row["trace_id"]), []), key=lambda s: (s.start_ns, s.span_id))
        if not spans:
            continue
        t0 = min(s.start_ns for s in spans)
        on_path = {step.span.span_id for step in compute_critical_path(spans)}
        parents = {s.span_id: s.parent_span_id for s in spans}
        bars = [
            WaterfallSpan(
                f"{s.service_name}: {s.name}", (s.start_ns - t0) / 1e6, (s.end_ns - t0) / 1e6,
                _depth(parents, s.span_id), s.span_id in on_path,
            )
            for s in spans
        ]  # fmt: skip
        title = f"{row['root_name']} ({row['duration_ms']:.0f} ms, {row['tier']}) trace {row['trace_id']}"
        charts.append(f"<h3>{escape(title)}</h3>" + waterfall(title, bars))
    return charts


def _table_html(rows: list[Row]) -> str:
    if not rows:
        return "<p class='empty'>no rows</p>"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell(row.get(c), c)[:120])}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#0f172a;background:#fff}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #e2e8f0}h3{font-size:13px;color:#475569}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #e2e8f0;padding:3px 6px;text-align:left}
th{background:#f1f5f9}.cards{display:flex;gap:12px}.card{border:1px solid #e2e8f0;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:20px}.empty{color:#64748b}
"""


def render_report_html(source: Source, report: dict[str, object]) -> str:
    """The report as one self-contained HTML page with inline SVG charts (no scripts, no external resources)."""
    w = report["window"]
    e = report["errors"]
    assert isinstance(w, dict) and isinstance(e, dict)
    over_time = report["latency_over_time"]
    assert isinstance(over_time, list)
    labels = [r["time"].strftime("%m-%d %H:%M") for r in over_time]  # type: ignore[union-attr]
    latency = line_chart(
        "Root span latency percentiles",
        labels,
        [Series(p, [r[f"{p}_ms"] for r in over_time]) for p in ("p50", "p95", "p99")],  # type: ignore[misc]
        unit=" ms",
    )
    by_service = bar_chart(
        "Errors by service", [(str(r["service_name"]), float(r["errors"])) for r in e["by_service"]][:TOP]
    )
    mix = report["category_mix"]
    assert isinstance(mix, list)
    categories = bar_chart(
        "Category mix",
        [(f"{r['signal']} {r['category']}", float(r["count"])) for r in mix],
        colours={f"{s} {c}": colour for c, colour in CATEGORY_COLOURS.items() for s in ("spans", "logs")},
    )
    slow = report["slow_traces"]
    assert isinstance(slow, list)
    summary = _errors_summary(report)
    shown = {k: f"{v:.2%}" if k == "error_rate" else str(v) for k, v in summary.items()}
    cards = "".join(
        f"<div class='card'>{escape(k.replace('_', ' '))}<b>{escape(v)}</b></div>" for k, v in shown.items()
    )
    window_text = f"{format_time(w['since'])} to {format_time(w['until'])}" + (
        f" — filter {w['filter']}" if w["filter"] else ""
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>otel_events report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>otel_events report</h1><p>{escape(window_text)}</p>",
        f"<div class='cards'>{cards}</div>",
        "<h2>Latency percentiles over time</h2>",
        latency,
        "<h2>Errors by service</h2>",
        by_service,
        "<h2>Category mix</h2>",
        categories,
        "<h2>Slowest traces</h2>",
        *_waterfalls(source, slow),
    ]
    for title, key in _SECTIONS:
        parts += [f"<h2>{escape(title)}</h2>", _table_html(report[key])]  # type: ignore[arg-type]
    parts += ["<h2>Top error messages</h2>", _table_html(e["top_messages"]), "</body></html>"]
    return "\n".join(parts)
