"""OTLP/HTTP end to end: real OpenTelemetry HTTP exporters, hand-written OTLP/JSON, gzip, and every status code."""

from __future__ import annotations

import gzip
import http.client
import json
import zlib

from google.rpc import code_pb2, error_details_pb2
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.receiver.conftest import MemorySink
from tests.receiver.http_requests import post
from tests.receiver.otlp_requests import make_span, trace_request
from tests.support import count, query, wait_until


def test_sdk_http_exporters_send_traces_logs_and_metrics_unchanged(make_receiver) -> None:
    receiver = make_receiver()
    base = f"http://127.0.0.1:{receiver.ports.http}"
    resource = Resource.create({"service.name": "checkout"})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    tracer = tracer_provider.get_tracer("shop", "1.2.3")
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/cart")
        with tracer.start_as_current_span("charge card") as child:
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    tracer_provider.shutdown()

    logs = LoggerProvider(resource=resource)
    exporter = OTLPLogExporter(endpoint=f"{base}/v1/logs", compression=Compression.Gzip)
    logs.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logs.get_logger("shop").emit(severity_number=SeverityNumber.WARN, body="slow payment", attributes={"order": 7})
    logs.shutdown()

    reader = InMemoryMetricReader()
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meters.get_meter("shop").create_counter("orders").add(5, {"region": "eu"})
    metric_exporter = OTLPMetricExporter(endpoint=f"{base}/v1/metrics", compression=Compression.Deflate)
    assert metric_exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    metric_exporter.shutdown()
    meters.shutdown()

    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 2)
    wait_until(lambda: count(receiver, "SELECT count(*) FROM logs") == 1)
    wait_until(lambda: count(receiver, "SELECT count(*) FROM metric_points") == 1)
    spans = dict(query(receiver, "SELECT name, status_code || '/' || kind || '/' || service_name FROM spans"))
    assert spans == {"checkout": "unset/server/checkout", "charge card": "error/internal/checkout"}
    assert query(receiver, "SELECT body, severity_number, attributes['order'] FROM logs") == [("slow payment", 13, "7")]
    assert query(receiver, "SELECT name, type, value FROM metric_points") == [("orders", "sum", 5.0)]
    assert receiver.counters.snapshot()["received_requests"] == 4


TRACE_JSON = {
    # The OTLP specification's examples/trace.json, with an upper-case id and a link.
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
            "scopeSpans": [
                {
                    "scope": {"name": "my.library", "version": "1.0.0"},
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "eee19b7ec3c1b174",
                            "parentSpanId": "eee19b7ec3c1b173",
                            "name": "I'm a server span",
                            "startTimeUnixNano": "1544712660000000000",
                            "endTimeUnixNano": "1544712661000000000",
                            "kind": 2,
                            "attributes": [
                                {"key": "my.span.attr", "value": {"stringValue": "some value"}},
                                {"key": "retries", "value": {"intValue": "3"}},
                            ],
                            "links": [{"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708"}],
                            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                        }
                    ],
                }
            ],
        }
    ]
}

SNAKE_TRACE_JSON = {
    # Original proto field names, enum names, int64 as numbers, and an unknown field (ignored, as OTLP requires).
    "resource_spans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "snake"}}]},
            "scope_spans": [
                {
                    "spans": [
                        {
                            "trace_id": "0af7651916cd43dd8448eb211c80319c",
                            "span_id": "b7ad6b7169203331",
                            "name": "snake span",
                            "kind": "SPAN_KIND_CLIENT",
                            "start_time_unix_nano": 1544712660000000000,
                            "end_time_unix_nano": 1544712660500000000,
                            "future_field": {"anything": 1},
                        }
                    ]
                }
            ],
        }
    ]
}

LOGS_JSON = {
    # The OTLP specification's examples/logs.json (its "name" field is unknown to the proto: ignored).
    "resourceLogs": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "logger"}}]},
            "scopeLogs": [
                {
                    "scope": {},
                    "logRecords": [
                        {
                            "timeUnixNano": "1581452773000000789",
                            "severityNumber": "SEVERITY_NUMBER_INFO",
                            "severityText": "Info",
                            "name": "logA",
                            "body": {"stringValue": "This is a log message"},
                            "attributes": [{"key": "instance_num", "value": {"intValue": 1}}],
                            "traceId": "08040201000000000000000000000000",
                            "spanId": "0102040800000000",
                        }
                    ],
                }
            ],
        }
    ]
}

METRICS_JSON = {
    "resourceMetrics": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "metered"}}]},
            "scopeMetrics": [
                {
                    "metrics": [
                        {
                            "name": "my.counter",
                            "unit": "1",
                            "sum": {
                                "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
                                "isMonotonic": True,
                                "dataPoints": [
                                    {"asDouble": 5, "timeUnixNano": "1544712660300000000", "startTimeUnixNano": "1"}
                                ],
                            },
                        },
                        {
                            "name": "my.histogram",
                            "histogram": {
                                "aggregationTemporality": 1,
                                "dataPoints": [
                                    {
                                        "timeUnixNano": "1544712660300000000",
                                        "count": "2",
                                        "sum": 2,
                                        "bucketCounts": ["1", 1],
                                        "explicitBounds": [1],
                                        "exemplars": [
                                            {
                                                "asDouble": 1.5,
                                                "timeUnixNano": "1544712660300000000",
                                                "traceId": "5b8efff798038103d269b633813fc60c",
                                                "spanId": "eee19b7ec3c1b174",
                                            }
                                        ],
                                    }
                                ],
                            },
                        },
                    ]
                }
            ],
        }
    ]
}


def test_otlp_json_requests_are_stored_like_protobuf(make_receiver) -> None:
    receiver = make_receiver()
    port = receiver.ports.http
    for path, document in (
        ("/v1/traces", TRACE_JSON),
        ("/v1/traces", SNAKE_TRACE_JSON),
        ("/v1/logs", LOGS_JSON),
        ("/v1/metrics", METRICS_JSON),
    ):
        answer = post(port, path, json.dumps(document).encode(), content_type="application/json; charset=utf-8")
        assert (answer.status, answer.headers["content-type"], json.loads(answer.body)) == (
            200,
            "application/json",
            {},
        )

    wait_until(lambda: count(receiver, "SELECT count(*) FROM metric_points") == 2)
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 2)
    wait_until(lambda: count(receiver, "SELECT count(*) FROM logs") == 1)
    rows = query(
        receiver,
        "SELECT name, trace_id, span_id, parent_span_id, kind, status_code, service_name, attributes['retries'],"
        " len(links), duration_ms FROM spans ORDER BY name",
    )
    assert rows == [
        (
            "I'm a server span",
            "5b8efff798038103d269b633813fc60c",
            "eee19b7ec3c1b174",
            "eee19b7ec3c1b173",
            "server",
            "error",
            "my.service",
            "3",
            1,
            1000.0,
        ),
        (
            "snake span",
            "0af7651916cd43dd8448eb211c80319c",
            "b7ad6b7169203331",
            None,
            "client",
            "unset",
            "snake",
            None,
            0,
            500.0,
        ),
    ]
    assert query(receiver, "SELECT links[1].trace_id FROM spans WHERE len(links) = 1") == [
        ("0102030405060708090a0b0c0d0e0f10",)
    ]
    assert query(receiver, "SELECT body, severity_number, trace_id, span_id, attributes['instance_num'] FROM logs") == [
        ("This is a log message", 9, "08040201000000000000000000000000", "0102040800000000", "1")
    ]
    points = query(receiver, "SELECT name, type, value, count, temporality FROM metric_points ORDER BY name")
    assert points == [
        ("my.counter", "sum", 5.0, None, "cumulative"),
        ("my.histogram", "histogram", None, 2, "delta"),
    ]


def test_json_partial_success_and_bad_json_answer_in_json(make_receiver) -> None:
    receiver = make_receiver()
    port = receiver.ports.http
    document = json.loads(json.dumps(SNAKE_TRACE_JSON))
    spans = document["resource_spans"][0]["scope_spans"][0]["spans"]
    spans.append({**spans[0], "trace_id": "abcd", "name": "short id"})
    answer = post(port, "/v1/traces", json.dumps(document).encode(), content_type="application/json")
    assert answer.status == 200
    partial = json.loads(answer.body)["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "trace_id of 2 bytes" in partial["errorMessage"]

    for body, problem in (
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(), "must be a hex"),
        (
            json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}).encode(),
            "OTLP JSON",
        ),
        (json.dumps({"resourceSpans": "oops"}).encode(), "OTLP JSON"),
    ):
        answer = post(port, "/v1/traces", body, content_type="application/json")
        assert answer.status == 400, body
        error = json.loads(answer.body)
        assert error["code"] == code_pb2.INVALID_ARGUMENT and problem in error["message"], error
    assert (
        "resourceSpans[0].scopeSpans[0].spans[0].traceId"
        in json.loads(
            post(
                port,
                "/v1/traces",
                json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(),
                content_type="application/json",
            ).body
        )["message"]
    )
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 1)


def test_protobuf_partial_success_gzip_keep_alive_and_chunked_bodies(make_receiver) -> None:
    receiver = make_receiver()
    port = receiver.ports.http
    mixed = trace_request([make_span("kept"), make_span("bad", trace_id=b"\x01" * 8)]).SerializeToString()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    first = post(port, "/v1/traces", mixed, connection=connection)
    second = post(
        port,
        "/v1/traces",
        gzip.compress(trace_request([make_span("zipped")]).SerializeToString()),
        headers={"Content-Encoding": "gzip"},
        connection=connection,
    )
    assert connection.sock is not None  # the same connection served both (HTTP/1.1 keep-alive)
    connection.request(
        "POST",
        "/v1/traces",
        body=iter([trace_request([make_span("chunked")]).SerializeToString()]),
        headers={"Content-Type": "application/x-protobuf", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    third = connection.getresponse()
    assert (third.status, third.read()) == (200, b"")
    connection.close()

    assert first.status == 200 and first.headers["content-type"] == "application/x-protobuf"
    partial = ExportTraceServiceResponse.FromString(first.body).partial_success
    assert partial.rejected_spans == 1 and "trace_id of 8 bytes" in partial.error_message
    assert (second.status, second.body) == (200, b"")
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 3)
    assert sorted(name for (name,) in query(receiver, "SELECT name FROM spans")) == ["chunked", "kept", "zipped"]


def test_every_error_status(make_receiver) -> None:
    sink = MemorySink()
    receiver = make_receiver(sink=sink, max_message_size=4096)
    port = receiver.ports.http

    not_found = post(port, "/v1/spans", b"x")
    assert not_found.status == 404 and "/v1/spans" in not_found.rpc_status().message
    wrong_method = post(port, "/v1/traces", b"", method="GET")
    assert wrong_method.status == 405 and wrong_method.headers["allow"] == "POST"
    assert post(port, "/v1/traces", b"x", method="PUT").status == 405
    unsupported = post(port, "/v1/traces", b"x", content_type="text/plain")
    assert unsupported.status == 415 and "application/x-protobuf" in unsupported.body.decode()
    brotli = post(port, "/v1/traces", b"x", headers={"Content-Encoding": "br"})
    assert brotli.status == 415 and "Content-Encoding 'br'" in brotli.rpc_status().message

    bad = post(port, "/v1/traces", b"bad")  # the test validator refuses b"bad"
    assert bad.status == 400 and bad.rpc_status().code == code_pb2.INVALID_ARGUMENT
    corrupt = post(port, "/v1/traces", b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"})
    assert corrupt.status == 400 and "cannot be decompressed" in corrupt.rpc_status().message
    truncated = post(port, "/v1/traces", gzip.compress(b"y" * 1000)[:-12], headers={"Content-Encoding": "gzip"})
    assert truncated.status == 400 and "truncated" in truncated.rpc_status().message

    too_long = post(port, "/v1/traces", b"x" * 5000)
    assert too_long.status == 413 and too_long.rpc_status().code == code_pb2.RESOURCE_EXHAUSTED
    bomb = gzip.compress(b"\0" * 10_000_000)  # ~10 KB on the wire, 10 MB inflated
    assert len(bomb) < 4096 * 4
    assert post(
        port, "/v1/traces", bomb[:4000] if len(bomb) > 4096 else bomb, headers={"Content-Encoding": "gzip"}
    ).status in (
        400,
        413,
    )
    small_bomb = zlib.compress(b"\0" * 100_000)
    assert len(small_bomb) < 4096
    inflated = post(port, "/v1/traces", small_bomb, headers={"Content-Encoding": "deflate"})
    assert inflated.status == 413 and "decompressed body" in inflated.rpc_status().message
    assert receiver.counters.snapshot()["rejected"]["too_large"] >= 2

    accepted = post(port, "/v1/logs", zlib.compress(b"z" * 4000), headers={"Content-Encoding": "deflate"})
    assert accepted.status == 200
    assert [record.payload for record in sink.wait_for(1)] == [b"z" * 4000]


def test_full_wal_budget_is_429_with_retry_after_and_a_closed_wal_is_503(make_receiver) -> None:
    sink = MemorySink()
    sink.failures = 10**9  # the store is down: the WAL fills up
    receiver = make_receiver(sink=sink, max_message_size=4096, wal_max_bytes=8192)
    port = receiver.ports.http
    try:
        answers = [post(port, "/v1/traces", b"x" * 1500) for _ in range(8)]  # ~1.5 KiB each with framing
    finally:
        sink.failures = 0
    statuses = [answer.status for answer in answers]
    assert 429 in statuses and statuses.index(429) <= 6 and set(statuses) == {200, 429}, statuses
    full = answers[-1]
    assert full.status == 429 and full.headers["retry-after"] == "1"
    status = full.rpc_status()
    assert status.code == code_pb2.RESOURCE_EXHAUSTED and "retry" in status.message
    retry_info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry_info) and retry_info.retry_delay.seconds == 1

    receiver._wal.close()  # what shutdown does first: appends are refused from then on
    closed = post(port, "/v1/traces", b"x")
    assert closed.status == 503 and closed.headers["retry-after"] == "1"
    assert "shutting down" in closed.rpc_status().message


def test_http_can_be_turned_off(make_receiver) -> None:
    receiver = make_receiver(http_endpoint="none")
    assert receiver.ports.http is None and receiver.status()["http_endpoint"] is None
