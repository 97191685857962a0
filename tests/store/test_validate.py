"""validate_request: garbage, truncated protobuf, wrong id lengths, empty requests."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_events.errors import OtelEventsError
from otel_events.store import IngestItem, RequestDecodeError, Store, validate_request
from tests.store.sdk_payloads import log_payload, metric_payload, trace_payload


@pytest.mark.parametrize("signal", ["traces", "logs", "metrics"])
def test_garbage_is_a_decode_error(signal: str) -> None:
    with pytest.raises(RequestDecodeError, match=f"{signal} request is not valid protobuf") as caught:
        validate_request(signal, b"\xff\xff\xff\xff garbage")
    assert isinstance(caught.value, OtelEventsError)


def test_truncated_protobuf_is_a_decode_error() -> None:
    payload = trace_payload()
    with pytest.raises(RequestDecodeError, match=f"{len(payload) - 7} bytes"):
        validate_request("traces", payload[:-7])


@pytest.mark.parametrize("signal", ["traces", "logs", "metrics"])
def test_empty_request_is_valid(signal: str) -> None:
    result = validate_request(signal, b"")
    assert (result.payload, result.accepted, result.rejected, result.message) == (b"", 0, 0, "")


def test_valid_requests_are_passed_through_unchanged() -> None:
    for signal, payload, items in (
        ("traces", trace_payload(), 3),
        ("logs", log_payload(), 3),
        ("metrics", metric_payload(), 5),
    ):
        result = validate_request(signal, payload)
        assert result.payload is payload
        assert (result.accepted, result.rejected, result.message) == (items, 0, "")


def test_spans_with_wrong_id_lengths_are_dropped_and_named() -> None:
    request = ExportTraceServiceRequest.FromString(trace_payload())
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 15
    spans[1].parent_span_id = b"\x02" * 4
    kept = spans[2].name
    result = validate_request("traces", request.SerializeToString())
    assert (result.accepted, result.rejected) == (1, 2)
    assert result.message == "rejected 2 spans with invalid ids (first: trace_id of 15 bytes (expected 16))"
    cleaned = ExportTraceServiceRequest.FromString(result.payload)
    assert [s.name for s in cleaned.resource_spans[0].scope_spans[0].spans] == [kept]
    # the rest of the request is stored
    with Store(":memory:") as store:
        assert store.ingest([IngestItem("traces", result.payload)]).spans == 1


def test_span_without_span_id_is_rejected() -> None:
    request = ExportTraceServiceRequest.FromString(trace_payload())
    request.resource_spans[0].scope_spans[0].spans[2].span_id = b""
    result = validate_request("traces", request.SerializeToString())
    assert (result.accepted, result.rejected) == (2, 1)
    assert "span_id of 0 bytes (expected 8)" in result.message


def test_log_records_with_wrong_id_lengths_are_dropped_absent_ids_are_fine() -> None:
    request = ExportLogsServiceRequest.FromString(log_payload())
    records = request.resource_logs[0].scope_logs[0].log_records
    assert all(not r.trace_id for r in records)
    records[1].span_id = b"\x01" * 9
    result = validate_request("logs", request.SerializeToString())
    assert (result.accepted, result.rejected) == (2, 1)
    assert result.message == "rejected 1 log records with invalid ids (first: span_id of 9 bytes (expected 0 or 8))"


def test_unknown_signal() -> None:
    with pytest.raises(ValueError, match="unknown signal 'profiles'"):
        validate_request("profiles", b"")
