"""Decoding of metrics requests: one row per data point, for all five metric types.

Metrics are low volume next to spans, so this path favours simplicity: whatever the columns do not hold
(exemplars, flags, exponential-histogram buckets, an int64 value) stays in ``point_extra``, the data point
serialized with the column fields cleared; it is NULL for the common point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel_events.store.decoder import BatchDecoder

TEMPORALITIES = ("unspecified", "delta", "cumulative")

# Fields copied into columns, cleared from point_extra. as_int is not listed: a DOUBLE cannot hold every int64.
_COLUMN_FIELDS = (
    "attributes",
    "start_time_unix_nano",
    "time_unix_nano",
    "as_double",
    "count",
    "sum",
    "min",
    "max",
    "bucket_counts",
    "explicit_bounds",
    "quantile_values",
)


def append_metrics(decoder: BatchDecoder, request, tenant: str | None) -> None:
    """Append every data point of a raw-attribute ``ExportMetricsServiceRequest``."""
    buffer = decoder.metrics
    registry = decoder.registry
    c = buffer.columns
    for resource_metrics in request.resource_metrics:
        resource_id = registry.resource_id(resource_metrics.resource.SerializeToString(), resource_metrics.schema_url)
        service_name = registry.service_name(resource_id)
        for scope_metrics in resource_metrics.scope_metrics:
            scope_id = registry.scope_id(scope_metrics.scope.SerializeToString(), scope_metrics.schema_url)
            for metric in scope_metrics.metrics:
                metric_type = metric.WhichOneof("data")
                if metric_type is None:
                    raise ValueError(f"metric {metric.name!r} has no data (gauge, sum, histogram, ...)")
                data = getattr(metric, metric_type)
                metric_extra = None
                if len(metric.metadata):
                    holder = type(metric)()
                    holder.metadata.extend(metric.metadata)
                    metric_extra = holder.SerializeToString()
                temporality = (
                    TEMPORALITIES[data.aggregation_temporality] if hasattr(data, "aggregation_temporality") else None
                )
                is_monotonic = data.is_monotonic if metric_type == "sum" else None
                for point in data.data_points:
                    # data points are not stamped by the SDK: otel_events.* keys stay plain attributes
                    values, types, _ = decoder.decode_attributes(point.attributes, strip_stamps=False)
                    buffer.attr_keys.extend(values)
                    buffer.attr_values.extend(values.values())
                    buffer.attr_offsets.append(len(buffer.attr_keys))
                    c["time"].append(point.time_unix_nano)
                    c["start_time"].append(point.start_time_unix_nano or None)
                    c["resource_id"].append(resource_id)
                    c["scope_id"].append(scope_id)
                    c["service_name"].append(service_name)
                    c["name"].append(metric.name)
                    c["description"].append(metric.description or None)
                    c["unit"].append(metric.unit or None)
                    c["type"].append(metric_type)
                    c["is_monotonic"].append(is_monotonic)
                    c["temporality"].append(temporality)
                    c["attr_types"].append(None if types is None else decoder.memo.types_text(types))
                    c["metric_extra"].append(metric_extra)
                    c["tenant"].append(tenant)
                    _append_values(c, metric_type, point)


def _append_values(c: dict[str, list], metric_type: str, point) -> None:
    value = count = total = minimum = maximum = bucket_counts = bounds = quantiles = None
    if metric_type in ("gauge", "sum"):
        kind = point.WhichOneof("value")
        value = point.as_double if kind == "as_double" else float(point.as_int) if kind == "as_int" else None
    elif metric_type == "summary":
        count, total = point.count, point.sum
        quantiles = [{"quantile": q.quantile, "value": q.value} for q in point.quantile_values]
    else:
        count = point.count
        total = point.sum if point.HasField("sum") else None
        minimum = point.min if point.HasField("min") else None
        maximum = point.max if point.HasField("max") else None
        if metric_type == "histogram":
            bucket_counts = list(point.bucket_counts)
            bounds = list(point.explicit_bounds)
    c["value"].append(value)
    c["count"].append(count)
    c["sum"].append(total)
    c["min"].append(minimum)
    c["max"].append(maximum)
    c["bucket_counts"].append(bucket_counts)
    c["explicit_bounds"].append(bounds)
    c["quantiles"].append(quantiles)
    extra = type(point)()
    extra.CopyFrom(point)
    for name in _COLUMN_FIELDS:
        if name in extra.DESCRIPTOR.fields_by_name:
            extra.ClearField(name)
    c["point_extra"].append(extra.SerializeToString() or None)
