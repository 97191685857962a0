"""A generated dataset with planted facts, encoded as real OTLP protobuf requests and stored with Store.ingest.

Window: WINDOW_START .. WINDOW_END (4 hours, 48 five-minute buckets). Normal traffic, one of each per minute:
- a checkout trace: frontend `GET /checkout` (100 ms) -> frontend `call checkout` (client) -> checkout
  `checkout.process` (server) -> [`SELECT orders` (client to postgresql), `payments.charge` (client) ->
  payments `charge` (server)], with an `Order ... placed` log in checkout;
- an inventory trace: inventory `inventory.lookup` (30 ms) with a `Cache miss` log;
- a `queue.depth` gauge point on inventory (value 10).
Planted:
- slow checkout traces of 700 ms, 1.5 s and 6 s (the 6 s one with an async `audit.publish` outliving the root);
- one `GET /search` trace of 300 ms among 29 of 50 ms (over its operation's p99: tier `baseline`);
- an error burst: every payments `charge` in bucket 24 fails (CardDeclinedError, "card declined") and logs a
  `Payment declined` error;
- a latency anomaly: `inventory.lookup` takes 300 ms in bucket 36; a metric anomaly: queue.depth 100 in bucket 40;
- correlation id `corr-42` on three `batch.step` traces, the third linking to a fourth trace without the id, and
  on one log record outside any trace;
- streams: one per service with gap-free seq, except payments whose seq skips 17, 18, 19 and 40;
- a baseline window (the 4 hours before) holding only `Order ... placed` and `Cache miss` logs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_events.store import IngestItem, Store

WINDOW_START = datetime(2026, 1, 20, 0, 0)
WINDOW_END = WINDOW_START + timedelta(hours=4)
BASELINE_START = WINDOW_START - timedelta(hours=4)
MINUTES = 240
MS = 1_000_000
_EPOCH = datetime(1970, 1, 1)

SLOW = {"medium": (30, 700), "high": (90, 1500), "critical": (150, 6000)}  # tier -> (minute, duration ms)
SLOW_TRACE_IDS = {tier: f"0001{MINUTES + i + 1:028x}" for i, tier in enumerate(SLOW)}
SEARCH_SLOW_INDEX = 17
ERROR_BUCKET = 24
LATENCY_BUCKET = 36
METRIC_BUCKET = 40
PAYMENTS_SKIPPED_SEQ = (17, 18, 19, 40)
CORRELATION_ID = "corr-42"


def trace_id_for(kind: int, index: int) -> str:
    """Deterministic 32-hex trace id for the ``index``-th trace of a kind."""
    return f"{kind:04x}{index + 1:028x}"


def ts(minute: float, offset_ms: float = 0.0) -> int:
    """Epoch nanoseconds ``minute`` minutes (plus ``offset_ms``) after WINDOW_START."""
    return int(((WINDOW_START - _EPOCH).total_seconds() + minute * 60) * 1e9 + offset_ms * MS)


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


@dataclass
class _Stream:
    stream_id: str
    skipped: tuple[int, ...] = ()
    last: int = 0

    def next_seq(self) -> int:
        self.last += 1
        while self.last in self.skipped:
            self.last += 1
        return self.last


@dataclass
class Dataset:
    """Collects spans, logs and metric points per service, then encodes them as OTLP requests."""

    spans: dict[str, list[Span]] = field(default_factory=lambda: defaultdict(list))
    logs: dict[str, list[LogRecord]] = field(default_factory=lambda: defaultdict(list))
    points: dict[str, list[NumberDataPoint]] = field(default_factory=lambda: defaultdict(list))
    streams: dict[str, _Stream] = field(default_factory=dict)

    def stream(self, service: str) -> _Stream:
        if service not in self.streams:
            skipped = PAYMENTS_SKIPPED_SEQ if service == "payments" else ()
            self.streams[service] = _Stream(f"stream-{service}", skipped)
        return self.streams[service]

    def stamps(self, service: str, correlation_id: str | None) -> list[KeyValue]:
        stream = self.stream(service)
        stamps = [_kv("otel_events.stream_id", stream.stream_id), _kv("otel_events.seq", stream.next_seq())]
        if correlation_id:
            stamps.append(_kv("otel_events.correlation_id", correlation_id))
        return stamps

    def span(
        self,
        service: str,
        trace_id: str,
        span_id: str,
        parent: str | None,
        name: str,
        kind: int,
        start: int,
        end: int,
        *,
        attributes: dict[str, object] | None = None,
        error: tuple[str, str] | None = None,
        correlation_id: str | None = None,
        links: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ) -> None:
        span = Span(
            trace_id=bytes.fromhex(trace_id),
            span_id=bytes.fromhex(span_id),
            parent_span_id=bytes.fromhex(parent) if parent else b"",
            name=name,
            kind=kind,
            start_time_unix_nano=start,
            end_time_unix_nano=end,
        )
        span.attributes.extend(_kv(k, v) for k, v in (attributes or {}).items())
        span.attributes.extend(self.stamps(service, correlation_id))
        for link_trace, link_span in links:
            span.links.add(trace_id=bytes.fromhex(link_trace), span_id=bytes.fromhex(link_span))
        if error:
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=error[1]))
            event = span.events.add(name="exception", time_unix_nano=end)
            event.attributes.extend([_kv("exception.type", error[0]), _kv("exception.message", error[1])])
        self.spans[service].append(span)

    def log(
        self,
        service: str,
        time: int,
        body: str,
        *,
        trace_id: str | None = None,
        span_id: str | None = None,
        severity: int = 9,
        correlation_id: str | None = None,
    ) -> None:
        record = LogRecord(
            time_unix_nano=time,
            observed_time_unix_nano=time,
            severity_number=severity,
            severity_text="ERROR" if severity >= 17 else "INFO",
            body=AnyValue(string_value=body),
            trace_id=bytes.fromhex(trace_id) if trace_id else b"",
            span_id=bytes.fromhex(span_id) if span_id else b"",
        )
        record.attributes.extend(self.stamps(service, correlation_id))
        self.logs[service].append(record)

    def gauge(self, service: str, time: int, value: float) -> None:
        self.points[service].append(NumberDataPoint(time_unix_nano=time, as_double=value))

    def requests(self) -> list[IngestItem]:
        """One OTLP request per service and signal."""
        items = []
        for service, spans in self.spans.items():
            request = ExportTraceServiceRequest()
            rs = request.resource_spans.add(resource=_resource(service))
            rs.scope_spans.add().spans.extend(spans)
            items.append(IngestItem("traces", request.SerializeToString()))
        for service, records in self.logs.items():
            request = ExportLogsServiceRequest()
            rl = request.resource_logs.add(resource=_resource(service))
            rl.scope_logs.add().log_records.extend(records)
            items.append(IngestItem("logs", request.SerializeToString()))
        for service, points in self.points.items():
            request = ExportMetricsServiceRequest()
            rm = request.resource_metrics.add(resource=_resource(service))
            metric = Metric(name="queue.depth", unit="1", gauge=Gauge(data_points=points))
            rm.scope_metrics.add().metrics.append(metric)
            items.append(IngestItem("metrics", request.SerializeToString()))
        return items


def _resource(service: str) -> Resource:
    return Resource(attributes=[_kv("service.name", service)])


SERVER, CLIENT, PRODUCER, INTERNAL = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER, 1


def _checkout_trace(ds: Dataset, index: int, minute: float, duration: int, failing: bool) -> str:
    tid = trace_id_for(1, index)
    sid = [f"{index + 1:012x}{n:04x}" for n in range(1, 8)]
    t0 = ts(minute)
    # Everything inside the root scales with it: the root lasts `duration` ms.
    end = duration
    route = {"http.route": "/checkout"}
    ds.span("frontend", tid, sid[0], None, "GET /checkout", SERVER, t0, t0 + end * MS, attributes=route)
    ds.span("frontend", tid, sid[1], sid[0], "call checkout", CLIENT, t0 + 5 * MS, t0 + (end - 10) * MS)
    ds.span("checkout", tid, sid[2], sid[1], "checkout.process", SERVER, t0 + 10 * MS, t0 + (end - 20) * MS)
    ds.span("checkout", tid, sid[3], sid[2], "SELECT orders", CLIENT, t0 + 15 * MS, t0 + 35 * MS,
            attributes={"db.system": "postgresql"})  # fmt: skip
    ds.span("checkout", tid, sid[4], sid[2], "payments.charge", CLIENT, t0 + 40 * MS, t0 + (end - 100 + 0) * MS
            if duration > 1000 else t0 + (end - 25) * MS)  # fmt: skip
    charge_end = (end - 110) if duration > 1000 else (end - 30)
    error = ("CardDeclinedError", "card declined") if failing else None
    ds.span("payments", tid, sid[5], sid[4], "charge", SERVER, t0 + 45 * MS, t0 + charge_end * MS, error=error)
    if duration == SLOW["critical"][1]:
        # async work that outlives the root: clipped to checkout.process by the critical path
        ds.span("checkout", tid, sid[6], sid[2], "audit.publish", PRODUCER, t0 + (end - 50) * MS, t0 + 9000 * MS)
    ds.log("checkout", t0 + 12 * MS, f"Order ord-{48000 + index} placed by user {['alice', 'bob', 'carol'][index % 3]} "
           f"total {index % 90 + 10}.50 EUR", trace_id=tid, span_id=sid[2])  # fmt: skip
    if failing:
        ds.log("payments", t0 + 50 * MS, f"Payment declined for card ending {1000 + index}: insufficient funds",
               trace_id=tid, span_id=sid[5], severity=17)  # fmt: skip
    return tid


def build_dataset() -> Dataset:
    """Build the planted dataset (see the module docstring)."""
    ds = Dataset()
    index = 0
    for minute in range(MINUTES):
        failing = minute // 5 == ERROR_BUCKET
        _checkout_trace(ds, index, minute, 100, failing)
        index += 1
        inv = trace_id_for(2, minute)
        lookup_ms = 300 if minute // 5 == LATENCY_BUCKET else 30
        start = ts(minute, 30_000)
        ds.span("inventory", inv, f"{minute + 1:016x}", None, "inventory.lookup", SERVER, start, start + lookup_ms * MS)
        ds.log("inventory", start + MS, f"Cache miss for key sku:{minute * 7 % 1000}", trace_id=inv,
               span_id=f"{minute + 1:016x}")  # fmt: skip
        ds.gauge("inventory", ts(minute, 45_000), 100.0 if minute // 5 == METRIC_BUCKET else 10.0)
    for tier, (minute, duration) in SLOW.items():
        assert _checkout_trace(ds, index, minute + 0.5, duration, False) == SLOW_TRACE_IDS[tier]
        index += 1
    for i in range(30):
        tid = trace_id_for(3, i)
        duration = 300 if i == SEARCH_SLOW_INDEX else 50
        start = ts(i * 8, 10_000)
        ds.span("frontend", tid, f"{i + 1:012x}aaaa", None, "GET /search", SERVER, start, start + duration * MS)
    _correlation_chain(ds)
    for minute in range(0, MINUTES, 10):  # the baseline window: only two of the three log templates
        t = ts(minute - MINUTES)
        ds.log("checkout", t, f"Order ord-{minute} placed by user dave total 12.50 EUR")
        ds.log("inventory", t + MS, f"Cache miss for key sku:{minute}")
    return ds


CORRELATED_TRACES = [trace_id_for(4, i) for i in range(3)]
LINKED_TRACE = trace_id_for(5, 0)


def _correlation_chain(ds: Dataset) -> None:
    linked_span = "5555000000000001"
    start = ts(200)
    ds.span("batch", LINKED_TRACE, linked_span, None, "batch.report", INTERNAL, start, start + 10 * MS)
    for i, tid in enumerate(CORRELATED_TRACES):
        t = ts(100 + i * 20)
        links = [(LINKED_TRACE, linked_span)] if i == 2 else []
        ds.span("batch", tid, f"44440000000000{i + 1:02x}", None, "batch.step", INTERNAL, t, t + 20 * MS,
                correlation_id=CORRELATION_ID, links=links)  # fmt: skip
    ds.log("batch", ts(99), "batch started", correlation_id=CORRELATION_ID)


def build_store(path: str = ":memory:") -> Store:
    """A store holding the planted dataset, ingested as OTLP requests."""
    store = Store(path)
    store.ingest(build_dataset().requests())
    return store
