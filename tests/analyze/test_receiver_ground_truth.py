"""The planted scenario of sdk_scenario.py, produced by the real SDK, sent over OTLP/gRPC to the real receiver, drained
into its DuckDB file: every analysis finds exactly what was planted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from otel_events import analyze
from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from otel_events.sdk.sequence import process_stream
from otel_events.store import Store

from .sdk_scenario import (
    BURST,
    BURST_MINUTE,
    CACHE_MISSES,
    CORRELATION_ID,
    NORMAL,
    SLOW_MINUTE,
    T0,
    WINDOW,
    Planted,
    record_scenario,
    sdk_apps,
)


@dataclass
class Drained:
    store: Store
    planted: Planted
    stream_id: str


@pytest.fixture(scope="module")
def drained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drained]:
    db_path: Path = tmp_path_factory.mktemp("receiver") / "store.duckdb"
    receiver = Receiver(
        ReceiverConfig(db_path=db_path, grpc_endpoint="127.0.0.1:0", http_endpoint="127.0.0.1:0", decode_workers=0)
    )
    ports = receiver.start()
    try:
        # a fresh stream (new id, seq from 1), as a new app process has: earlier tests took numbers of this one
        process_stream().restart()
        stream_id = process_stream().stream_id
        with sdk_apps(f"127.0.0.1:{ports.grpc}") as apps:
            planted = record_scenario(apps)
    finally:
        assert receiver.shutdown(timeout=30), "the receiver did not drain its write-ahead log"
    store = Store(db_path, read_only=True)
    yield Drained(store, planted, stream_id)
    store.close()


def minute(m: float, ms: float = 0.0) -> datetime:
    return T0 + timedelta(minutes=m, milliseconds=ms)


CHECKOUT_PATH = ["GET /checkout", "checkout.process", "SELECT orders", "payments.charge", "charge"]
EXCEPTION_TYPE = "tests.analyze.sdk_scenario.CardDeclinedError"  # the SDK records the qualified class name


def test_everything_the_sdk_sent_was_stored(drained: Drained) -> None:
    con = drained.store.connection
    assert con.execute("SELECT count(*) FROM spans").fetchone()[0] == drained.planted.spans == 55
    assert con.execute("SELECT count(*) FROM logs").fetchone()[0] == drained.planted.logs == 20
    # classified in the app: the receiver kept the SDK's stamps
    assert con.execute(
        "SELECT DISTINCT category_source FROM spans UNION SELECT category_source FROM logs"
    ).fetchall() == [("sdk",)]


def test_slow_traces_find_the_one_slow_trace_and_its_critical_path(drained: Drained) -> None:
    rows = analyze.slow_traces(drained.store, **WINDOW)
    assert [(r["trace_id"], r["tier"], r["duration_ms"], r["root_service"], r["root_name"]) for r in rows] == [
        (drained.planted.slow_trace, "high", 1500.0, "frontend", "GET /checkout")
    ]
    assert rows[0]["start_time"] == minute(SLOW_MINUTE)
    assert rows[0]["critical_path"] == [*CHECKOUT_PATH, "audit.publish"]


def test_critical_path_clips_the_async_child_and_gives_self_times(drained: Drained) -> None:
    rows = analyze.critical_path(drained.store, drained.planted.slow_trace)
    assert [(r["name"], r["service_name"], r["duration_ms"], r["self_time_ms"]) for r in rows] == [
        ("GET /checkout", "frontend", 1500.0, 20.0),  # 0-1500 around checkout.process 10-1490
        ("checkout.process", "checkout", 1480.0, 17.0),
        ("SELECT orders", "checkout", 20.0, 20.0),
        ("payments.charge", "checkout", 1430.0, 10.0),
        ("charge", "payments", 1420.0, 1420.0),
        # 1477-3000, outliving its parent (ends 1490) and the root: only 13 ms inside its parent count
        ("audit.publish", "checkout", 1523.0, 13.0),
    ]


def test_errors_report_the_burst_with_its_exception_events(drained: Drained) -> None:
    report = analyze.errors(drained.store, **WINDOW)
    assert (report["total"], report["critical"], report["spans"]) == (BURST, BURST, drained.planted.spans)
    assert report["error_rate"] == pytest.approx(BURST / drained.planted.spans)
    charges = NORMAL + 1 + BURST
    assert report["by_service"] == [
        {"service_name": "payments", "errors": BURST, "spans": charges, "error_rate": BURST / charges}
    ]
    assert [(o["service_name"], o["name"], o["errors"]) for o in report["by_operation"]] == [
        ("payments", "charge", BURST)
    ]
    assert report["by_exception_type"] == [{"exception_type": EXCEPTION_TYPE, "count": BURST}]
    assert report["top_messages"] == [{"message": "card declined", "count": BURST}]
    assert [(r["trace_id"], r["time"]) for r in report["recent"]] == [
        (drained.planted.burst_traces[i], minute(BURST_MINUTE + i, 50)) for i in reversed(range(BURST))
    ]


def test_stats_per_operation(drained: Drained) -> None:
    rows = {(r["service_name"], r["name"]): r for r in analyze.stats(drained.store, **WINDOW)}
    checkout_ops = [("frontend", "GET /checkout"), ("checkout", "checkout.process"), ("checkout", "SELECT orders"),
                    ("checkout", "payments.charge"), ("payments", "charge")]  # fmt: skip
    others = {("checkout", "audit.publish"): 1, ("worker", "batch.step"): 3, ("worker", "batch.report"): 1}
    assert {key: row["count"] for key, row in rows.items()} == {**dict.fromkeys(checkout_ops, 10), **others}
    root = rows[("frontend", "GET /checkout")]
    assert (root["p50_ms"], root["max_ms"], root["avg_ms"], root["errors"]) == (100.0, 1500.0, 240.0, 0)
    assert rows[("payments", "charge")]["errors"] == BURST


def test_patterns_mine_the_log_templates(drained: Drained) -> None:
    rows = analyze.patterns(drained.store, **WINDOW, baseline="1h")
    assert [(r["template"], r["count"], r["category"], r["is_new"]) for r in rows] == [
        ("Order ord-<*> placed by user <*> total <*>.<*> EUR", NORMAL + 1 + BURST, "system", True),
        ("Cache miss for key sku:<*>", CACHE_MISSES, "system", True),
        ("Payment declined for card ending <*>: insufficient funds", BURST, "critical", True),
        ("batch started", 1, "system", True),
    ]
    declined = rows[2]
    assert (declined["first_seen"], declined["last_seen"]) == (
        minute(BURST_MINUTE, 61),
        minute(BURST_MINUTE + BURST - 1, 61),
    )


def test_trace_lists_spans_and_the_log_in_time_order(drained: Drained) -> None:
    rows = analyze.trace(drained.store, drained.planted.slow_trace)
    assert [(r["kind"], r["name"] or r["body"], r["time"]) for r in rows] == [
        ("span", "GET /checkout", minute(SLOW_MINUTE)),
        ("span", "checkout.process", minute(SLOW_MINUTE, 10)),
        ("span", "SELECT orders", minute(SLOW_MINUTE, 20)),
        ("log", "Order ord-48006 placed by user grace total 62.78 EUR", minute(SLOW_MINUTE, 42)),
        ("span", "payments.charge", minute(SLOW_MINUTE, 45)),
        ("span", "charge", minute(SLOW_MINUTE, 50)),
        ("span", "audit.publish", minute(SLOW_MINUTE, 1477)),
    ]
    assert {r["trace_id"] for r in rows} == {drained.planted.slow_trace}
    assert {r["stream_id"] for r in rows} == {drained.stream_id}


def test_correlation_follows_the_baggage_id_across_traces_and_the_span_link(drained: Drained) -> None:
    planted = drained.planted
    rows = analyze.correlation(drained.store, CORRELATION_ID)
    assert [(r["kind"], r["trace_id"], r["name"] or r["body"], r["correlation_id"]) for r in rows] == [
        ("log", None, "batch started", CORRELATION_ID),
        *[("span", trace_id, "batch.step", CORRELATION_ID) for trace_id in planted.batch_traces],
        ("span", planted.linked_trace, "batch.report", None),  # reached through its span link only
    ]
    assert len(set(planted.batch_traces)) == 3
    # sequence numbers follow emission order across the chain
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)


def test_service_map_edges(drained: Drained) -> None:
    rows = analyze.service_map(drained.store, **WINDOW)
    calls = NORMAL + 1 + BURST
    assert [(r["caller"], r["callee"], r["calls"], r["errors"]) for r in rows] == [
        ("checkout", "payments", calls, BURST),
        ("checkout", "postgresql", calls, 0),  # the SELECT client span names its peer by db.system
        ("frontend", "checkout", calls, 0),
    ]


def test_completeness_shows_one_gap_free_sdk_stream(drained: Drained) -> None:
    total = drained.planted.spans + drained.planted.logs
    (row,) = analyze.completeness(drained.store, **WINDOW)
    assert row["stream_id"] == drained.stream_id
    assert (row["received"], row["first_seq"], row["last_seq"]) == (total, 1, total)
    assert (row["missing"], row["duplicates"], row["gaps"]) == (0, 0, [])
