"""Every analysis finds exactly the facts planted in the generated dataset (tests/analyze/dataset.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from otel_events import analyze
from otel_events.errors import ConfigError, FilterSyntaxError, NotFoundError
from otel_events.store import Store

from .dataset import (
    CORRELATED_TRACES,
    CORRELATION_ID,
    LINKED_TRACE,
    SLOW_TRACE_IDS,
    WINDOW_END,
    WINDOW_START,
    build_store,
    trace_id_for,
)

W = {"since": WINDOW_START, "until": WINDOW_END}


@pytest.fixture(scope="module")
def store() -> Store:
    store = build_store()
    yield store
    store.close()


def bucket(index: int) -> datetime:
    return WINDOW_START + timedelta(minutes=5 * index)


def test_slow_traces_are_the_planted_ones_with_tiers_and_critical_paths(store: Store) -> None:
    rows = analyze.slow_traces(store, **W)
    assert [(r["trace_id"], r["tier"], r["duration_ms"]) for r in rows] == [
        (SLOW_TRACE_IDS["critical"], "critical", 6000.0),
        (SLOW_TRACE_IDS["high"], "high", 1500.0),
        (SLOW_TRACE_IDS["medium"], "medium", 700.0),
        (trace_id_for(3, 17), "baseline", 300.0),
    ]
    assert rows[0]["root_service"] == "frontend" and rows[0]["root_name"] == "GET /checkout"
    chain = ["GET /checkout", "call checkout", "checkout.process", "SELECT orders", "payments.charge", "charge"]
    assert rows[0]["critical_path"] == [*chain, "audit.publish"]
    assert rows[1]["critical_path"] == chain
    assert rows[3]["critical_path"] == ["GET /search"]


def test_slow_traces_threshold_filter_and_limit(store: Store) -> None:
    rows = analyze.slow_traces(store, **W, threshold_ms=1000, min_samples=10_000)
    assert [r["tier"] for r in rows] == ["critical", "high"]
    assert analyze.slow_traces(store, **W, limit=1)[0]["trace_id"] == SLOW_TRACE_IDS["critical"]
    assert analyze.slow_traces(store, **W, filter="name = 'GET /search'")[0]["tier"] == "baseline"
    assert analyze.slow_traces(store, **W, filter="service = 'inventory'") == []


def test_critical_path_clips_the_async_child_and_gives_self_times(store: Store) -> None:
    rows = analyze.critical_path(store, SLOW_TRACE_IDS["critical"])
    assert [(r["name"], r["self_time_ms"], r["critical_ms"]) for r in rows] == [
        ("GET /checkout", 15.0, 15.0),
        ("call checkout", 15.0, 15.0),
        ("checkout.process", 60.0, 60.0),
        ("SELECT orders", 20.0, 20.0),
        ("payments.charge", 15.0, 15.0),
        ("charge", 5845.0, 5845.0),
        # starts 50 ms before the root ends and runs 3 s longer: only its 30 ms inside its parent count
        ("audit.publish", 30.0, 30.0),
    ]
    assert rows[-1]["duration_ms"] == 3050.0


def test_critical_path_of_unknown_or_malformed_trace(store: Store) -> None:
    with pytest.raises(NotFoundError, match=r"no spans with trace id f+"):
        analyze.critical_path(store, "f" * 32)
    with pytest.raises(ConfigError, match="expected 32 hexadecimal digits"):
        analyze.critical_path(store, "xyz")


def test_errors_report_the_burst(store: Store) -> None:
    report = analyze.errors(store, **W)
    assert report["total"] == 5
    assert report["critical"] == 5
    assert report["spans"] == 1733
    assert report["error_rate"] == pytest.approx(5 / 1733)
    assert report["by_service"] == [{"service_name": "payments", "errors": 5, "spans": 243, "error_rate": 5 / 243}]
    assert [(o["service_name"], o["name"], o["errors"]) for o in report["by_operation"]] == [("payments", "charge", 5)]
    assert report["by_exception_type"] == [{"exception_type": "CardDeclinedError", "count": 5}]
    assert report["top_messages"] == [{"message": "card declined", "count": 5}]
    assert [r["time"] for r in report["recent"]] == [
        bucket(24) + timedelta(minutes=m, milliseconds=45) for m in (4, 3, 2, 1, 0)
    ]
    outside = analyze.errors(store, since=WINDOW_START, until=bucket(24))
    assert outside["total"] == 0 and outside["by_service"] == [] and outside["recent"] == []


def test_stats_per_operation_and_by_hour(store: Store) -> None:
    rows = {(r["service_name"], r["name"]): r for r in analyze.stats(store, **W)}
    lookup = rows[("inventory", "inventory.lookup")]
    assert lookup["count"] == 240 and lookup["rate_per_min"] == 1.0
    assert lookup["p50_ms"] == 30.0 and lookup["p99_ms"] == 300.0 and lookup["avg_ms"] == 35.625
    assert rows[("payments", "charge")]["errors"] == 5
    assert len(rows) == 11
    hourly = analyze.stats(store, **W, by="hour", filter="name = 'inventory.lookup'")
    assert [(r["time"], r["count"], r["p95_ms"]) for r in hourly] == [
        (WINDOW_START + timedelta(hours=h), 60, 300.0 if h == 3 else 30.0) for h in range(4)
    ]


def test_patterns_mine_the_three_templates_and_flag_new_ones(store: Store) -> None:
    rows = analyze.patterns(store, **W, baseline="4h")
    assert [(r["template"], r["count"], r["is_new"], r["category"]) for r in rows] == [
        ("Order ord-<*> placed by user <*> total <*>.<*> EUR", 243, False, "system"),
        ("Cache miss for key sku:<*>", 240, False, "system"),
        ("Payment declined for card ending <*>: insufficient funds", 5, True, "critical"),
        ("batch started", 1, True, "system"),
    ]
    declined = rows[2]
    assert declined["first_seen"] == bucket(24) + timedelta(milliseconds=50)
    assert declined["last_seen"] == bucket(24) + timedelta(minutes=4, milliseconds=50)
    assert declined["example"].startswith("Payment declined for card ending 1")
    assert all(r["is_new"] is False for r in analyze.patterns(store, **W))


def test_span_patterns_are_recurring_child_sequences(store: Store) -> None:
    rows = analyze.span_patterns(store, **W)
    assert [(r["parent"], r["sequence"], r["count"]) for r in rows] == [
        ("payments.charge", "charge", 243),
        ("GET /checkout", "call checkout", 243),
        ("call checkout", "checkout.process", 243),
        ("checkout.process", "SELECT orders -> payments.charge", 242),  # the 243rd also publishes an audit event
    ]
    # the filter selects spans: payments' `charge` children are outside `service = 'checkout'`
    only_checkout = analyze.span_patterns(store, **W, filter="service = 'checkout'")
    assert [(r["parent"], r["sequence"]) for r in only_checkout] == [
        ("checkout.process", "SELECT orders -> payments.charge")
    ]


def test_anomalies_find_latency_error_burst_and_slow_trace_buckets(store: Store) -> None:
    rows = analyze.anomalies(store, **W)
    found = {(r["service_name"], r["name"], r["bucket_start"], r["metric"]) for r in rows}
    slow_bucket = bucket(30)  # the 6 s trace dominates the p95 of every operation on its path
    assert found == {
        ("inventory", "inventory.lookup", bucket(36), "p95_ms"),
        ("payments", "charge", bucket(24), "error_rate"),
        ("frontend", "GET /search", bucket(27), "p95_ms"),
        *{(svc, op, slow_bucket, "p95_ms") for svc, op in [
            ("frontend", "GET /checkout"), ("frontend", "call checkout"), ("checkout", "checkout.process"),
            ("checkout", "payments.charge"), ("payments", "charge")]},
    }  # fmt: skip
    burst = next(r for r in rows if r["metric"] == "error_rate")
    assert burst["category"] == "critical" and burst["value"] == 1.0 and burst["baseline_mean"] == 0.0
    lookup = next(r for r in rows if r["name"] == "inventory.lookup")
    assert (lookup["value"], lookup["baseline_mean"], lookup["z"]) == (300.0, 30.0, 180.0)
    assert analyze.anomalies(store, **W, sensitivity=150) == [rows[0]]


def test_metric_anomalies(store: Store) -> None:
    rows = analyze.anomalies(store, **W, metrics=True)
    assert [(r["name"], r["bucket_start"], r["metric"], r["value"], r["baseline_mean"]) for r in rows] == [
        ("queue.depth", bucket(40), "value", 100.0, 10.0)
    ]


def test_trace_lists_spans_and_logs_in_time_order(store: Store) -> None:
    rows = analyze.trace(store, SLOW_TRACE_IDS["medium"])
    assert [(r["kind"], r["name"] or r["body"]) for r in rows] == [
        ("span", "GET /checkout"),
        ("span", "call checkout"),
        ("span", "checkout.process"),
        ("log", "Order ord-48240 placed by user alice total 70.50 EUR"),
        ("span", "SELECT orders"),
        ("span", "payments.charge"),
        ("span", "charge"),
    ]
    assert analyze.trace(store, "0" * 31 + "9") == []


def test_correlation_follows_the_id_across_traces_and_span_links(store: Store) -> None:
    rows = analyze.correlation(store, CORRELATION_ID)
    assert [(r["kind"], r["trace_id"], r["name"] or r["body"]) for r in rows] == [
        ("log", None, "batch started"),
        *[("span", tid, "batch.step") for tid in CORRELATED_TRACES],
        ("span", LINKED_TRACE, "batch.report"),  # no correlation id: reached through the span link
    ]
    assert analyze.correlation(store, "no-such-id") == []


def test_service_map_edges(store: Store) -> None:
    rows = analyze.service_map(store, **W)
    assert [(r["caller"], r["callee"], r["calls"], r["errors"]) for r in rows] == [
        ("checkout", "payments", 243, 5),
        ("checkout", "postgresql", 243, 0),  # uninstrumented: named by db.system on the client span
        ("frontend", "checkout", 243, 0),
    ]


def test_completeness_reports_the_removed_sequence_numbers(store: Store) -> None:
    rows = analyze.completeness(store, **W)
    assert rows[0] == {
        "stream_id": "stream-payments",
        "service_name": "payments",
        "received": 248,
        "first_seq": 1,
        "last_seq": 252,
        "missing": 4,
        "duplicates": 0,
        "gaps": ["17-19", "40"],
    }
    assert all(r["missing"] == 0 and r["duplicates"] == 0 for r in rows[1:])
    assert len(rows) == 5


def test_compare_against_a_filter_baseline_and_gate(store: Store) -> None:
    # the burst bucket against the hour before it
    rows = analyze.compare(store, since=bucket(24), until=bucket(25), baseline="1h")
    charge = next(r for r in rows if r["kind"] == "operation" and r["name"] == "charge")
    assert (charge["base_error_rate"], charge["error_rate"], charge["error_rate_delta"]) == (0.0, 1.0, 1.0)
    new = [r for r in rows if r["kind"] == "pattern" and r["is_new"]]
    assert [r["name"] for r in new] == ["Payment declined for card ending <*>: insufficient funds"]
    gates = [analyze.Threshold.parse("error_rate_delta>0.5"), analyze.Threshold.parse("p95_delta_pct>50")]
    assert analyze.crossed_thresholds(rows, gates) == ["error_rate_delta>0.5: payments charge has 1"]
    same = analyze.compare(store, **W, filter="service = 'inventory'", baseline="service = 'inventory'")
    assert analyze.crossed_thresholds(same, [*gates, analyze.Threshold.parse("new_patterns>0")]) == []


def test_bad_filter_is_reported_with_position(store: Store) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        analyze.stats(store, **W, filter="service = ")
    assert info.value.position == 10
