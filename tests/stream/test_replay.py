"""Replay: SDK -> receiver A -> replay of A's file -> receiver B; the stores are equal. Resume, timing, filters."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otel_events.errors import ConfigError, FilterSyntaxError, ReplayError
from otel_events.sdk import EventLogProcessor, EventSpanProcessor
from otel_events.store import IngestItem, Store
from otel_events.store.to_otlp import rebuild_requests
from otel_events.stream.backoff import Backoff
from otel_events.stream.replay import Replayer, ReplayOptions
from otel_events.stream.replay_checkpoint import CheckpointFile, checkpoint_path
from otel_events.stream.replay_plan import Signal
from tests.stream.replay_support import build_store, log_request, start_receiver, timed_spans
from tests.support import query, wait_until

VIEWS = {
    "spans": "SELECT * EXCLUDE (received_at) FROM spans",
    "logs": "SELECT * EXCLUDE (received_at) FROM logs",
    "metric_points": "SELECT * FROM metric_points",
}


def _send_sdk_telemetry(endpoint: str) -> None:
    resource = Resource.create({"service.name": "checkout", "deployment.environment": "test"})
    plain = TracerProvider(resource=resource)
    plain.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    stamped = TracerProvider(resource=resource)
    stamped.add_span_processor(
        EventSpanProcessor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    )
    tracer = plain.get_tracer("shop", "1.2.3")
    with tracer.start_as_current_span("checkout", kind=trace_api.SpanKind.SERVER) as root:
        root.set_attributes({"http.route": "/cart", "retries": 3, "ratio": 0.5, "cached": True, "tags": ["a", "b"]})
        with tracer.start_as_current_span("charge card") as child:
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    for name in ("cache_metrics", "session_start", "debug"):
        with stamped.get_tracer("shop").start_as_current_span(name, attributes={"n": 1}):
            pass
    plain.shutdown()
    stamped.shutdown()

    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(
        EventLogProcessor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True)))
    )
    logger = logs.get_logger("shop")
    logger.emit(severity_number=SeverityNumber.ERROR, body="payment failed", attributes={"order": 7})
    logger.emit(severity_number=SeverityNumber.INFO, body={"structured": [1, 2]}, event_name="session_start")
    logs.shutdown()

    reader = InMemoryMetricReader()
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meters.get_meter("shop")
    meter.create_counter("orders", unit="1").add(5, {"region": "eu"})
    meter.create_histogram("latency", unit="ms").record(42.0)
    meter.create_gauge("queue_length").set(9)
    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
    assert exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    exporter.shutdown()
    meters.shutdown()


def _view_rows(con, view: str) -> list[tuple]:
    return sorted(con.execute(VIEWS[view]).fetchall(), key=repr)


def _rebuilt_items(con) -> dict[str, list[bytes]]:
    """Every item rebuilt as OTLP, with its resource and scope, serialized: attribute value types included."""
    items: dict[str, list[bytes]] = {}
    for signal, resources, scopes, leaf in (
        ("traces", "resource_spans", "scope_spans", "spans"),
        ("logs", "resource_logs", "scope_logs", "log_records"),
        ("metrics", "resource_metrics", "scope_metrics", "metrics"),
    ):
        found = []
        for request in rebuild_requests(con, signal):
            for resource in getattr(request, resources):
                for scope in getattr(resource, scopes):
                    for item in getattr(scope, leaf):
                        found.append(
                            resource.resource.SerializeToString(deterministic=True)
                            + scope.scope.SerializeToString(deterministic=True)
                            + item.SerializeToString(deterministic=True)
                        )
        items[signal] = sorted(found)
    return items


def test_round_trip_sdk_to_a_replay_to_b_gives_equal_stores(tmp_path: Path) -> None:
    receiver_a = start_receiver(tmp_path / "a.duckdb")
    try:
        _send_sdk_telemetry(f"127.0.0.1:{receiver_a.ports.grpc}")
        wait_until(lambda: query(receiver_a, "SELECT count(*) FROM spans")[0][0] == 5)
        wait_until(lambda: query(receiver_a, "SELECT count(*) FROM logs")[0][0] == 2)
        wait_until(lambda: query(receiver_a, "SELECT count(*) FROM metric_points")[0][0] == 3)
    finally:
        receiver_a.shutdown()

    receiver_b = start_receiver(tmp_path / "b.duckdb")
    try:
        with Store(tmp_path / "a.duckdb", read_only=True) as source:
            result = Replayer(
                source.connection, ReplayOptions(target=f"127.0.0.1:{receiver_b.ports.grpc}", speed=None)
            ).run()
        assert (result.items, result.rejected, result.complete) == (10, 0, True)
        wait_until(lambda: query(receiver_b, "SELECT count(*) FROM metric_points")[0][0] == 3)
        wait_until(lambda: query(receiver_b, "SELECT count(*) FROM spans")[0][0] == 5)
        wait_until(lambda: query(receiver_b, "SELECT count(*) FROM logs")[0][0] == 2)
    finally:
        receiver_b.shutdown()

    with Store(tmp_path / "a.duckdb", read_only=True) as a, Store(tmp_path / "b.duckdb", read_only=True) as b:
        for view in VIEWS:
            assert _view_rows(a.connection, view) == _view_rows(b.connection, view), view
        assert _rebuilt_items(a.connection) == _rebuilt_items(b.connection)
        # The comparison is not vacuous: classification, stamps and typed attributes made it across.
        categories = dict(b.connection.execute("SELECT name, category::VARCHAR FROM spans").fetchall())
        assert categories["charge card"] == "critical" and categories["cache_metrics"] == "performance"
        assert b.connection.execute("SELECT count(*) FROM spans WHERE seq IS NOT NULL").fetchone()[0] == 3


def _raw_store(path: Path, spans_ms: list[int], logs_ms: list[int] | None = None) -> None:
    items = [IngestItem(signal="traces", payload=timed_spans(spans_ms))]
    if logs_ms:
        items.append(IngestItem(signal="logs", payload=log_request(logs_ms)))
    build_store(path, items)


def test_interrupted_replay_resumes_after_the_last_acknowledged_request(tmp_path: Path) -> None:
    # Spans without (stream_id, seq): the target cannot deduplicate them, so a resend would show as a duplicate.
    # One slice of 300 spans sent as 8 requests, then 100 logs: the stop lands inside the slice.
    _raw_store(tmp_path / "a.duckdb", list(range(0, 300)), logs_ms=list(range(300, 600, 3)))
    receiver = start_receiver(tmp_path / "b.duckdb")
    try:
        options = ReplayOptions(target=f"127.0.0.1:{receiver.ports.grpc}", speed=None, max_items=40)
        path = checkpoint_path(tmp_path / "a.duckdb", "nightly", archive=False)
        stop = threading.Event()
        sent: list[int] = []

        def interrupt_after_three(_signal: Signal, items: int) -> None:
            sent.append(items)
            if len(sent) == 3:
                stop.set()

        with Store(tmp_path / "a.duckdb", read_only=True) as source:
            first = Replayer(
                source.connection,
                options,
                checkpoint=CheckpointFile(path),
                source_name="a",
                stop=stop,
                on_request=interrupt_after_three,
            ).run()
            assert (first.requests, first.items, first.complete) == (3, 120, False)
            assert path.exists()
            second = Replayer(source.connection, options, checkpoint=CheckpointFile(path), source_name="a").run()
            assert second.complete and first.items + second.items == 400
            third = Replayer(source.connection, options, checkpoint=CheckpointFile(path), source_name="a").run()
            assert (third.requests, third.complete) == (0, True)
        wait_until(lambda: query(receiver, "SELECT count(*) FROM logs")[0][0] == 100)
        wait_until(lambda: query(receiver, "SELECT count(*) FROM spans")[0][0] == 300)
        assert query(receiver, "SELECT count(DISTINCT span_id), count(*) FROM spans") == [(300, 300)]
    finally:
        receiver.shutdown()


def test_replay_survives_a_target_restart_and_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    _raw_store(tmp_path / "a.duckdb", list(range(0, 200)))
    path = checkpoint_path(tmp_path / "a.duckdb", "move", archive=False)
    receiver = start_receiver(tmp_path / "b.duckdb")
    port = receiver.ports.grpc
    stop_target = threading.Event()

    def stop_receiver_after_two(_signal: Signal, _items: int) -> None:
        if len(calls) == 1:
            stop_target.set()
            receiver.shutdown()
        calls.append(1)

    calls: list[int] = []
    quick = Backoff(initial=0.01, maximum=0.02, max_attempts=3)
    with Store(tmp_path / "a.duckdb", read_only=True) as source:
        options = ReplayOptions(target=f"127.0.0.1:{port}", speed=None, max_items=25, backoff=quick, timeout=2)
        with pytest.raises(ReplayError, match="did not accept a traces request after 3 attempt"):
            Replayer(
                source.connection, options, checkpoint=CheckpointFile(path), on_request=stop_receiver_after_two
            ).run()
        restarted = start_receiver(tmp_path / "b.duckdb")
        try:
            options = ReplayOptions(target=f"127.0.0.1:{restarted.ports.grpc}", speed=None, max_items=25)
            result = Replayer(source.connection, options, checkpoint=CheckpointFile(path)).run()
            assert result.complete and result.items == 150
            wait_until(lambda: query(restarted, "SELECT count(*) FROM spans")[0][0] == 200)
            assert query(restarted, "SELECT count(DISTINCT name) FROM spans") == [(200,)]
        finally:
            restarted.shutdown()


def test_timed_replay_keeps_order_and_scaled_gaps(tmp_path: Path) -> None:
    # Spans at 0, 1000, 1200 and 3000 ms; a log at 2000 ms. At speed 10 the gaps become 100, 20, 80, 100 ms; the
    # spans 20 ms apart are sent together (items closer than 50 ms of wall-clock time share a request).
    _raw_store(tmp_path / "a.duckdb", [0, 1000, 1200, 3000], logs_ms=[2000])
    receiver = start_receiver(tmp_path / "b.duckdb")
    try:
        with Store(tmp_path / "a.duckdb", read_only=True) as source:
            options = ReplayOptions(target=f"127.0.0.1:{receiver.ports.grpc}", speed=10)
            result = Replayer(source.connection, options).run()
        order = [(signal, time_ns) for _, time_ns, signal in result.first_sent]
        assert order[1][1] - order[0][1] == 1_000_000_000
        assert [signal for signal, _ in order] == ["traces", "traces", "logs", "traces"]
        assert [t for _, t in order] == sorted(t for _, t in order)
        sent_at = [moment for moment, _, _ in result.first_sent]
        for earlier, later, (_, t0), (_, t1) in zip(sent_at, sent_at[1:], order, order[1:], strict=False):
            # A send can be late under load, never early: each gap is at least the scaled original gap.
            assert later - earlier >= (t1 - t0) / 1e9 / 10 * 0.95
        wait_until(lambda: query(receiver, "SELECT count(*) FROM spans")[0][0] == 4)
    finally:
        receiver.shutdown()


@pytest.mark.parametrize("speed", [0.05, 100.5, 0])
def test_speed_out_of_range_is_refused(speed: float) -> None:
    with pytest.raises(ConfigError, match=r"speed must be between 0\.1 and 100"):
        ReplayOptions(target="127.0.0.1:1", speed=speed).validate()


def test_filter_and_window_select_what_is_replayed(tmp_path: Path) -> None:
    build_store(
        tmp_path / "a.duckdb",
        [
            IngestItem(signal="traces", payload=timed_spans([0, 10, 20], service="checkout")),
            IngestItem(signal="traces", payload=timed_spans([30, 40], service="search")),
            IngestItem(signal="logs", payload=log_request([5, 15], severity=17)),
        ],
    )
    receiver = start_receiver(tmp_path / "b.duckdb")
    target = f"127.0.0.1:{receiver.ports.grpc}"
    try:
        with Store(tmp_path / "a.duckdb", read_only=True) as source:
            con = source.connection
            only_checkout = Replayer(con, ReplayOptions(target=target, speed=None, filter="service = 'checkout'")).run()
            assert only_checkout.items == 3 + 0  # the logs' service is raw-client
            critical = Replayer(con, ReplayOptions(target=target, speed=None, filter="category = 'critical'")).run()
            assert critical.items == 2 and critical.skipped_kinds == ["metrics"]
            windowed = Replayer(
                con,
                ReplayOptions(
                    target=target,
                    speed=None,
                    kinds=(Signal.TRACES,),
                    since="2023-11-14T22:13:20.025Z",
                    until="2023-11-14T22:13:20.045Z",
                ),
            ).run()
            assert windowed.items == 2  # spans starting at 25 and 35 ms
            with pytest.raises(FilterSyntaxError, match="duration_ms"):
                Replayer(con, ReplayOptions(target=target, kinds=(Signal.LOGS,), filter="duration_ms > 1")).run()
        wait_until(lambda: query(receiver, "SELECT count(*) FROM spans")[0][0] == 5)
        wait_until(lambda: query(receiver, "SELECT count(*) FROM logs")[0][0] == 2)
    finally:
        receiver.shutdown()


def test_checkpoint_for_another_selection_is_refused(tmp_path: Path) -> None:
    _raw_store(tmp_path / "a.duckdb", [0, 1])
    path = checkpoint_path(tmp_path / "a.duckdb", "job", archive=False)
    receiver = start_receiver(tmp_path / "b.duckdb")
    try:
        with Store(tmp_path / "a.duckdb", read_only=True) as source:
            options = ReplayOptions(target=f"127.0.0.1:{receiver.ports.grpc}", speed=None)
            Replayer(source.connection, options, checkpoint=CheckpointFile(path)).run()
            other = ReplayOptions(target=options.target, speed=None, filter="service = 'x'")
            with pytest.raises(ConfigError, match="recorded for a different replay"):
                Replayer(source.connection, other, checkpoint=CheckpointFile(path)).run()
    finally:
        receiver.shutdown()
    with pytest.raises(ConfigError, match="invalid checkpoint name"):
        checkpoint_path(tmp_path / "a.duckdb", "../escape", archive=False)
