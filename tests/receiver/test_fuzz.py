"""A bounded, seeded fuzz run of OTLP payloads over gRPC and HTTP against a receiver with a real store.

Mutations of valid requests (bit flips, truncations, wrong wire types, huge varints, huge lengths), deep
nesting, random bytes, and broken OTLP/JSON. Every answer must be a proper status (never a crash or a 500),
the receiver must keep serving, and what it stored before must be intact afterwards.
"""

from __future__ import annotations

import copy
import gzip
import http.client
import json
import random

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics

from tests.receiver.conftest import LOGS_EXPORT, METRICS_EXPORT, TRACE_EXPORT
from tests.receiver.http_requests import post
from tests.receiver.otlp_requests import make_span, trace_request
from tests.receiver.test_http import LOGS_JSON, METRICS_JSON, TRACE_JSON
from tests.support import count, query, wait_until

SEED = 20260417
CASES = 120  # x 3 transports: the whole test takes ~12 s on the 2-core machine
GRPC_OK = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
HTTP_OK = {200, 400, 413}
METHODS = {"traces": TRACE_EXPORT, "logs": LOGS_EXPORT, "metrics": METRICS_EXPORT}
JSON_DOCUMENTS = {"traces": TRACE_JSON, "logs": LOGS_JSON, "metrics": METRICS_JSON}


# -- protobuf wire helpers -----------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _deeply_nested_span(depth: int) -> bytes:
    """A trace request whose span has an attribute value nested ``depth`` arrays deep."""
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        value = _field(5, _field(1, value))  # AnyValue.array_value -> ArrayValue.values
    span = make_span("deep").SerializeToString() + _field(9, _field(1, b"nested") + _field(2, value))
    return _field(1, _field(2, _field(2, span)))  # resource_spans -> scope_spans -> spans


def _valid_payloads(rng: random.Random) -> dict[str, bytes]:
    spans = [make_span(f"fuzz-{rng.randrange(1000)}", http__route="/x", retries=rng.randrange(5)) for _ in range(3)]
    record = LogRecord(time_unix_nano=1, severity_number=9, body=AnyValue(string_value="fuzz log"))
    record.attributes.append(KeyValue(key="k", value=AnyValue(int_value=rng.randrange(100))))
    point = NumberDataPoint(time_unix_nano=1, as_double=rng.random())
    metric = Metric(name="fuzz.gauge", gauge=Gauge(data_points=[point]))
    return {
        "traces": trace_request(spans).SerializeToString(),
        "logs": ExportLogsServiceRequest(
            resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[record])])]
        ).SerializeToString(),
        "metrics": ExportMetricsServiceRequest(
            resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=[metric])])]
        ).SerializeToString(),
    }


def _mutate_bytes(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    kind = rng.randrange(8)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation
        del data[rng.randrange(len(data)) :]
    elif kind == 2:  # a tag byte with the wrong wire type
        position = rng.randrange(len(data))
        data[position] = (data[position] & ~0x07) | rng.choice((0, 1, 3, 4, 5, 6, 7))
    elif kind == 3:  # a huge (over-long) varint inserted
        position = rng.randrange(len(data) + 1)
        data[position:position] = bytes([rng.choice((0x08, 0x10, 0x48))]) + b"\xff" * rng.randint(9, 20) + b"\x01"
    elif kind == 4:  # a length prefix far past the end
        data = bytearray(_varint(1 << 3 | 2) + _varint(rng.choice((2**31, 2**63, len(data) + 1))) + bytes(data))
    elif kind == 5:  # random bytes
        data = bytearray(rng.randbytes(rng.randint(0, 300)))
    elif kind == 6:  # deep nesting, past and below protobuf's recursion limit
        data = bytearray(_deeply_nested_span(rng.choice((20, 90, 150, 400))))
    else:  # splice two payloads
        cut = rng.randrange(len(data))
        data = data[:cut] + bytearray(rng.randbytes(rng.randint(1, 40))) + data[cut:]
    return bytes(data)


def _mutate_json(rng: random.Random, signal: str) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:  # bad JSON text
        text = json.dumps(JSON_DOCUMENTS[signal])
        return text[: rng.randrange(len(text))].encode()
    if kind == 1:  # deep nesting
        depth = rng.choice((50, 1000, 100_000))
        return ("[" * depth + "]" * depth).encode()
    if kind == 2:  # random bytes, maybe not even UTF-8
        return rng.randbytes(rng.randint(0, 200))
    document = copy.deepcopy(JSON_DOCUMENTS[signal])
    for _ in range(rng.randint(1, 4)):
        _replace_random_value(rng, document)
    return json.dumps(document).encode()


def _replace_random_value(rng: random.Random, document: object) -> None:
    """Replace one value somewhere in the document with a value of a random (often wrong) type."""
    node = document
    for _ in range(12):
        children = (
            list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        )
        if not children:
            return
        key, child = rng.choice(children)
        if not isinstance(child, dict | list) or rng.random() < 0.25:
            node[key] = rng.choice(
                (None, -1, 2**70, 1e308, "zz", "", "NaN", [], {}, True, "0" * 40, "SPAN_KIND_NOPE", [[[]]], {"a": 1})
            )
            return
        node = child


# -- the run -------------------------------------------------------------------------------------------------------


def _send_grpc(channel: grpc.Channel, signal: str, payload: bytes) -> grpc.StatusCode:
    try:
        channel.unary_unary(METHODS[signal])(payload, timeout=10)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_fuzzed_payloads_get_proper_statuses_and_leave_stored_data_intact(make_receiver) -> None:
    receiver = make_receiver(max_message_size=256 * 1024)
    grpc_port, http_port = receiver.ports.grpc, receiver.ports.http
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)

    markers = [make_span(f"marker-{n}", marker=n) for n in range(5)]
    assert _send_grpc(channel, "traces", trace_request(markers[:3]).SerializeToString()) is grpc.StatusCode.OK
    assert post(http_port, "/v1/traces", trace_request(markers[3:]).SerializeToString()).status == 200
    marker_sql = (
        "SELECT name, trace_id, span_id, attributes, service_name FROM spans WHERE name LIKE 'marker-%' ORDER BY name"
    )
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans WHERE name LIKE 'marker-%'") == 5)
    before = query(receiver, marker_sql)

    rng = random.Random(SEED)
    outcomes: dict[str, set] = {"grpc": set(), "http": set(), "json": set()}
    for _ in range(CASES):
        signal = rng.choice(("traces", "logs", "metrics"))
        payload = _mutate_bytes(rng, _valid_payloads(rng)[signal])
        grpc_code = _send_grpc(channel, signal, payload)
        assert grpc_code in GRPC_OK, (grpc_code, payload[:80])
        outcomes["grpc"].add(grpc_code.name)

        headers = {}
        if rng.random() < 0.3:
            payload, headers = gzip.compress(payload), {"Content-Encoding": "gzip"}
        answer = post(http_port, f"/v1/{signal}", payload, headers=headers, connection=connection)
        assert answer.status in HTTP_OK, (answer.status, answer.body[:200], payload[:80])
        outcomes["http"].add(answer.status)

        document = _mutate_json(rng, signal)
        answer = post(http_port, f"/v1/{signal}", document, content_type="application/json", connection=connection)
        assert answer.status in HTTP_OK, (answer.status, answer.body[:200], document[:80])
        if answer.status != 200:
            assert json.loads(answer.body)["message"]  # a google.rpc.Status naming the problem
        outcomes["json"].add(answer.status)
    connection.close()

    # The run exercised both acceptance and refusal on every transport.
    assert {"OK", "INVALID_ARGUMENT"} <= outcomes["grpc"], outcomes
    assert {200, 400} <= outcomes["http"] and {200, 400} <= outcomes["json"], outcomes

    # Still serving, and what was stored before is untouched.
    assert _send_grpc(channel, "traces", trace_request([make_span("after-grpc")]).SerializeToString()).name == "OK"
    assert post(http_port, "/v1/traces", trace_request([make_span("after-http")]).SerializeToString()).status == 200
    channel.close()
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans WHERE name LIKE 'after-%'") == 2, timeout=60)
    assert query(receiver, marker_sql) == before
    assert receiver.counters.snapshot()["store_errors"] == 0
