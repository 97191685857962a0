"""OTLP request classes for fast decoding: the OTLP wire format with item attributes left as raw bytes.

Walking attributes in Python is ~75% of the decode cost (PERF-NOTES). These classes are built from the
OpenTelemetry protobuf descriptors with every span, span event, span link, log record and data point
``attributes`` field re-declared as ``repeated bytes``: upb hands back each ``KeyValue`` still encoded, and the
decoder memoises ``raw bytes -> decoded value`` (realistic attribute sets repeat a lot). Resource and scope
attributes stay messages: they are decoded once per request.

The classes live in a private descriptor pool, so their full names equal the standard ones without clashing
with the default pool.
"""

from __future__ import annotations

from types import ModuleType

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

# Messages whose `attributes` field becomes `repeated bytes` (same field number and wire type 2, so the bytes
# on the wire are identical).
_RAW_ATTRIBUTE_MESSAGES = frozenset(
    {
        "Span",
        "Event",
        "Link",
        "LogRecord",
        "NumberDataPoint",
        "HistogramDataPoint",
        "ExponentialHistogramDataPoint",
        "SummaryDataPoint",
    }
)


def _file_proto(module: ModuleType) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    return proto


def _raw_attributes(message: descriptor_pb2.DescriptorProto) -> None:
    if message.name in _RAW_ATTRIBUTE_MESSAGES:
        for field in message.field:
            if field.name == "attributes":
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                field.ClearField("type_name")
    for nested in message.nested_type:
        _raw_attributes(nested)


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2):
        pool.Add(_file_proto(module))
    for module in (trace_pb2, logs_pb2, metrics_pb2):
        proto = _file_proto(module)
        for message in proto.message_type:
            _raw_attributes(message)
        pool.Add(proto)
    for module in (trace_service_pb2, logs_service_pb2, metrics_service_pb2):
        pool.Add(_file_proto(module))
    return pool


_POOL = _build_pool()


def _message_class(full_name: str) -> type:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(full_name))


RawTraceRequest = _message_class("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest")
RawLogsRequest = _message_class("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest")
RawMetricsRequest = _message_class("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest")

# signal name -> request class with raw attributes
RAW_REQUEST_CLASSES: dict[str, type] = {
    "traces": RawTraceRequest,
    "logs": RawLogsRequest,
    "metrics": RawMetricsRequest,
}

# signal name -> the standard request class (used to rebuild requests for replay)
REQUEST_CLASSES: dict[str, type] = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
