"""Round trip: rich OTLP requests stored and rebuilt with to_otlp equal the originals up to item order."""

from __future__ import annotations

from collections import Counter

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from otel_events.store import IngestItem, Store
from otel_events.store.to_otlp import rebuild_requests

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def fill_any(target: AnyValue, value: object) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            fill_any(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        for key, item in value.items():
            kv = target.kvlist_value.values.add()
            kv.key = key
            fill_any(kv.value, item)
    elif value is None:
        pass  # an AnyValue with no value set


def add_attributes(target, attributes: dict) -> None:
    for key, value in attributes.items():
        kv = target.add()
        kv.key = key
        if value is not None:
            fill_any(kv.value, value)
        else:
            kv.value.SetInParent()


EVERY_KIND = {
    "s": "text ✓",
    "empty.string": "",
    "b.true": True,
    "b.false": False,
    "i.max": INT64_MAX,
    "i.min": INT64_MIN,
    "i.zero": 0,
    "d": 3.25,
    "d.tiny": 5e-324,
    "d.inf": float("-inf"),
    "d.int_like": 2.0,
    "bytes": b"\x00\xff raw",
    "array": ["a", 1, 1.0, True, b"\x01", [2, [3]], {"k": "v"}],
    "kvlist": {"nested": {"deeper": [1, "x"]}, "n": 7},
    "empty.array": [],
    "no.value": None,
}


def with_resource(container, service: str, schema_url: str = "") -> None:
    add_attributes(container.resource.attributes, {"service.name": service, "host.cpus": 8, "tags": ["a", "b"]})
    container.resource.dropped_attributes_count = 2
    container.schema_url = schema_url


def with_scope(container, name: str) -> None:
    container.scope.name = name
    container.scope.version = "2.0"
    add_attributes(container.scope.attributes, {"scope.flag": True})
    container.scope.dropped_attributes_count = 1
    container.schema_url = "https://opentelemetry.io/schemas/1.30.0"


def trace_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for r, service in enumerate(("checkout", "payment")):
        resource_spans = request.resource_spans.add()
        with_resource(resource_spans, service, "https://example.com/schema" if r else "")
        for s in range(2):
            scope_spans = resource_spans.scope_spans.add()
            with_scope(scope_spans, f"scope.{s}")
            for i in range(3):
                span = scope_spans.spans.add()
                span.trace_id = bytes([r, s, i]) + b"\x11" * 13
                span.span_id = bytes([r, s, i]) + b"\x22" * 5
                if i:
                    span.parent_span_id = bytes([r, s, 0]) + b"\x22" * 5
                span.trace_state = "vendor=1" if i == 1 else ""
                span.flags = 0x100 | i
                span.name = f"op.{r}.{s}.{i}"
                span.kind = i  # includes SPAN_KIND_UNSPECIFIED
                span.start_time_unix_nano = 1_700_000_000_000_000_001 + i
                span.end_time_unix_nano = 1_700_000_000_123_456_789 + i
                span.status.code = i % 3
                span.status.message = "boom" if i == 2 else ""
                add_attributes(span.attributes, EVERY_KIND if i == 0 else {"k": f"v{i}", "n": i})
                span.dropped_attributes_count = i
                if i == 1:
                    add_attributes(
                        span.attributes,
                        {
                            "otel_events.category": "performance",
                            "otel_events.rule": "keyword.performance",
                            "otel_events.stream_id": f"stream-{r}",
                            "otel_events.seq": 10 * s + i,
                            "otel_events.correlation_id": "corr-1",
                        },
                    )
                if i == 2:
                    # stamps without a category: the receiver classifies, the stamps still come back
                    add_attributes(span.attributes, {"otel_events.stream_id": f"other-{r}", "otel_events.seq": 100 + s})
                    add_attributes(span.attributes, {"otel_events.seq.note": "not a stamp", "otel_events.category": 3})
                event = span.events.add()
                event.time_unix_nano = 1_700_000_000_000_000_777
                event.name = "exception" if i == 2 else "tick"
                add_attributes(event.attributes, {"exception.type": "ValueError", "count": i, "ratio": 0.5})
                event.dropped_attributes_count = i
                span.dropped_events_count = 1
                if i:
                    link = span.links.add()
                    link.trace_id = b"\x33" * 16
                    link.span_id = b"\x44" * 8
                    link.trace_state = "t=1"
                    add_attributes(link.attributes, {"link.kind": "follows", "weight": 1.5})
                    link.dropped_attributes_count = 3
                    link.flags = 0x301
                    span.links.add(trace_id=b"\x55" * 16, span_id=b"\x66" * 8)
                    span.dropped_links_count = 4
    return request


def log_request() -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    with_resource(resource_logs, "checkout")
    scope_logs = resource_logs.scope_logs.add()
    with_scope(scope_logs, "logger")
    bodies = ["plain", "", 42, INT64_MIN, 2.5, True, b"\x00bin", ["x", 1, {"k": 2.0}], {"a": [1, 2]}, None, "absent"]
    for i, body in enumerate(bodies):
        record = scope_logs.log_records.add()
        record.time_unix_nano = 1_700_000_000_000_000_000 + i if i % 2 else 0
        record.observed_time_unix_nano = 1_700_000_000_500_000_000 + i
        if i % 3 == 0:
            record.trace_id = bytes([i]) * 16
            record.span_id = bytes([i]) * 8
        record.flags = i % 2
        record.severity_number = (i * 3) % 25
        record.severity_text = "WARN" if i % 4 == 0 else ""
        if body == "absent":
            pass
        elif body is None:
            record.body.SetInParent()
        else:
            fill_any(record.body, body)
        record.event_name = "session_start" if i == 3 else ""
        add_attributes(record.attributes, {"i": i, "tag": "x", "f": float(i)})
        if i == 4:
            add_attributes(
                record.attributes,
                {"otel_events.category": "debug", "otel_events.stream_id": "s-log", "otel_events.seq": 1},
            )
        record.dropped_attributes_count = i % 2
    return request


def metric_request() -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    with_resource(resource_metrics, "checkout")
    scope_metrics = resource_metrics.scope_metrics.add()
    with_scope(scope_metrics, "meter")
    start, now = 1_700_000_000_000_000_000, 1_700_000_060_000_000_000

    gauge = scope_metrics.metrics.add(name="queue.depth", description="items waiting", unit="1")
    add_attributes(gauge.metadata, {"meta": "data"})
    for i, value in enumerate((INT64_MAX, -5, 2.5)):
        point = gauge.gauge.data_points.add(time_unix_nano=now + i, flags=i % 2)
        add_attributes(point.attributes, {"queue": f"q{i}", "prio": i})
        if isinstance(value, int):
            point.as_int = value
        else:
            point.as_double = value
        exemplar = point.exemplars.add(time_unix_nano=now, as_int=3, span_id=b"\x01" * 8, trace_id=b"\x02" * 16)
        add_attributes(exemplar.filtered_attributes, {"user": "u1"})

    total = scope_metrics.metrics.add(name="orders", unit="{order}")
    total.sum.aggregation_temporality = 2
    total.sum.is_monotonic = True
    total.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_double=12.0)
    delta = scope_metrics.metrics.add(name="refunds")
    delta.sum.aggregation_temporality = 1
    delta.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_int=3)

    histogram = scope_metrics.metrics.add(name="latency", unit="ms")
    histogram.histogram.aggregation_temporality = 2
    point = histogram.histogram.data_points.add(start_time_unix_nano=start, time_unix_nano=now, count=6, sum=410.0)
    point.min = 5.0
    point.max = 200.0
    point.bucket_counts.extend([1, 2, 3])
    point.explicit_bounds.extend([10.0, 100.0])
    point.exemplars.add(time_unix_nano=now, as_double=150.0)
    histogram.histogram.data_points.add(time_unix_nano=now, count=0)  # no sum/min/max

    exponential = scope_metrics.metrics.add(name="payload.size", unit="By")
    exponential.exponential_histogram.aggregation_temporality = 1
    point = exponential.exponential_histogram.data_points.add(
        start_time_unix_nano=start, time_unix_nano=now, count=5, sum=9000.0, scale=3, zero_count=1, zero_threshold=0.1
    )
    point.min = 1.0
    point.max = 4096.0
    point.positive.offset = 10
    point.positive.bucket_counts.extend([1, 2, 1])
    point.negative.offset = -2
    point.negative.bucket_counts.extend([0])

    summary = scope_metrics.metrics.add(name="rpc.duration", unit="s")
    point = summary.summary.data_points.add(start_time_unix_nano=start, time_unix_nano=now, count=10, sum=55.5)
    add_attributes(point.attributes, {"rpc.method": "Get"})
    for quantile, value in ((0.0, 0.1), (0.5, 4.0), (1.0, 9.5)):
        point.quantile_values.add(quantile=quantile, value=value)
    return request


def _sorted_attributes(message) -> None:
    """Sort every repeated KeyValue field named attributes, recursively (stored maps do not keep stamp order)."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.is_repeated:
            if field.name == "attributes":
                items = sorted(value, key=lambda kv: kv.key)
                copies = [type(kv)() for kv in items]
                for copy, kv in zip(copies, items, strict=True):
                    copy.CopyFrom(kv)
                del value[:]
                value.extend(copies)
            else:
                for item in value:
                    _sorted_attributes(item)
        else:
            _sorted_attributes(value)


def canonical_items(requests) -> Counter:
    """A multiset of (resource, scope, item) serialized deterministically, with attributes sorted."""
    items: Counter = Counter()
    for request in requests:
        request = type(request).FromString(request.SerializeToString())
        _sorted_attributes(request)
        resources = request.ListFields()[0][1] if request.ListFields() else []
        for resource in resources:
            scopes_field = next(f for f, _ in resource.ListFields() if f.name.startswith("scope_"))
            for scope in getattr(resource, scopes_field.name):
                head = (
                    resource.resource.SerializeToString(deterministic=True),
                    resource.schema_url,
                    scope.scope.SerializeToString(deterministic=True),
                    scope.schema_url,
                )
                if hasattr(scope, "spans"):
                    for span in scope.spans:
                        items[(*head, span.SerializeToString(deterministic=True))] += 1
                elif hasattr(scope, "log_records"):
                    for record in scope.log_records:
                        items[(*head, record.SerializeToString(deterministic=True))] += 1
                else:
                    for metric in scope.metrics:
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            shell = type(metric)()
                            shell.CopyFrom(metric)
                            del getattr(shell, kind).data_points[:]
                            items[
                                (
                                    *head,
                                    shell.SerializeToString(deterministic=True),
                                    point.SerializeToString(deterministic=True),
                                )
                            ] += 1
    return items


@pytest.mark.parametrize(
    ("signal", "build"), [("traces", trace_request), ("logs", log_request), ("metrics", metric_request)]
)
def test_stored_requests_rebuild_exactly(signal: str, build) -> None:
    original = build()
    with Store(":memory:") as store:
        stats = store.ingest([IngestItem(signal, original.SerializeToString())])
        assert stats.dead_letters == 0
        rebuilt = list(rebuild_requests(store.connection, signal, max_items=4))
    assert len(rebuilt) > 1  # several requests of at most 4 items
    assert canonical_items(rebuilt) == canonical_items([original])


def test_rebuild_filters_with_bound_parameters() -> None:
    with Store(":memory:") as store:
        store.ingest([IngestItem("traces", trace_request().SerializeToString())])
        rebuilt = list(rebuild_requests(store.connection, "traces", where="service_name = ?", params=["payment"]))
    names = {span.name for r in rebuilt for rs in r.resource_spans for ss in rs.scope_spans for span in ss.spans}
    assert names == {f"op.1.{s}.{i}" for s in range(2) for i in range(3)}


def test_typed_values_are_readable_as_text_in_sql() -> None:
    with Store(":memory:") as store:
        store.ingest([IngestItem("traces", trace_request().SerializeToString())])
        row = store.connection.execute(
            "SELECT attributes['i.min'], attributes['b.true'], attributes['d'], attributes['bytes'], "
            "attributes['array'], attributes['kvlist'], attributes['no.value'] FROM spans WHERE name = 'op.0.0.0'"
        ).fetchone()
    assert row == (
        str(INT64_MIN),
        "true",
        "3.25",
        "AP8gcmF3",
        '["a",1,1.0,true,"AQ==",[2,[3]],{"k":"v"}]',
        '{"nested":{"deeper":[1,"x"]},"n":7}',
        None,
    )
