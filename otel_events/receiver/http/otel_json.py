"""The OTLP/JSON mapping: JSON export requests to protobuf bytes, and messages back to JSON.

OTLP/JSON is the proto3 JSON mapping with one exception: trace and span ids are hex strings, not base64
(OTLP specification, "JSON Protobuf Encoding"). Everything else (lowerCamelCase or original field names, enum
names or numbers, 64-bit integers as strings or numbers, unknown fields ignored) is what
``google.protobuf.json_format`` accepts, so ids are rewritten to base64 and the rest is left to ``ParseDict``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_events.errors import RequestDecodeError
from otel_events.receiver.signals import Signal

# Both spellings are accepted by the proto3 JSON mapping, so both are rewritten.
_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_REQUEST_TYPES: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
}
_DATA_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")


def json_to_request(signal: Signal, body: bytes) -> bytes:
    """Parse an OTLP/JSON ``Export*ServiceRequest`` and serialize it as protobuf.

    Raises:
        RequestDecodeError: naming what is wrong (bad JSON, wrong shape, an id that is not hex).
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestDecodeError(f"{signal} request is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestDecodeError(f"{signal} request is nested too deeply") from None
    if not isinstance(document, dict):
        raise RequestDecodeError(f"{signal} request must be a JSON object, got {type(document).__name__}")
    for owner, where in _id_owners(signal, document):
        _hex_ids_to_base64(owner, where)
    request = _REQUEST_TYPES[signal]()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise RequestDecodeError(f"{signal} request does not match the OTLP JSON mapping: {exc}") from None
    except RecursionError:
        raise RequestDecodeError(f"{signal} request is nested too deeply") from None
    return request.SerializeToString()


def message_to_json(message: Message) -> bytes:
    """A response or ``google.rpc.Status`` as OTLP/JSON (lowerCamelCase names; defaults omitted)."""
    return json_format.MessageToJson(message, indent=None).encode()


def _id_owners(signal: Signal, document: dict) -> Iterator[tuple[dict, str]]:
    """Every object that can hold trace/span ids, with a readable path for error messages."""
    if signal is Signal.TRACES:
        for span, path in _items(document, ("resourceSpans", "scopeSpans", "spans")):
            yield span, path
            for index, link in enumerate(_list(span, "links")):
                yield link, f"{path}.links[{index}]"
    elif signal is Signal.LOGS:
        yield from _items(document, ("resourceLogs", "scopeLogs", "logRecords"))
    else:
        for metric, path in _items(document, ("resourceMetrics", "scopeMetrics", "metrics")):
            for kind in _DATA_KINDS:
                data = metric.get(kind)
                if not isinstance(data, dict):
                    continue
                for index, point in enumerate(_list(data, "dataPoints")):
                    for number, exemplar in enumerate(_list(point, "exemplars")):
                        yield exemplar, f"{path}.{kind}.dataPoints[{index}].exemplars[{number}]"


def _items(document: dict, levels: tuple[str, str, str]) -> Iterator[tuple[dict, str]]:
    resource_key, scope_key, item_key = levels
    for r, resource in enumerate(_list(document, resource_key)):
        for s, scope in enumerate(_list(resource, scope_key)):
            for i, item in enumerate(_list(scope, item_key)):
                yield item, f"{resource_key}[{r}].{scope_key}[{s}].{item_key}[{i}]"


def _list(owner: object, camel_key: str) -> list[dict]:
    """The objects of a repeated field under either spelling; anything malformed is left for ParseDict to report."""
    if not isinstance(owner, dict):
        return []
    value = owner.get(camel_key, owner.get(_snake(camel_key)))
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def _hex_ids_to_base64(owner: dict, where: str) -> None:
    for key in _ID_KEYS:
        value = owner.get(key)
        if not isinstance(value, str) or not value:
            continue
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise RequestDecodeError(f"{where}.{key} must be a hex string (OTLP/JSON ids are hex)") from None
        owner[key] = base64.b64encode(raw).decode("ascii")
