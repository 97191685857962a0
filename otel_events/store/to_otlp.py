"""Rebuild OTLP export requests from stored rows (round-trip tests now, ``otel-events replay`` later).

Items are grouped by resource and scope as an exporter would send them; attribute value types, dropped counts,
flags, schema URLs and the ``otel_events.*`` stamps are restored from the hidden columns, so a request stored
and rebuilt equals the original up to the order of items (SPEC §5).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

import duckdb
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from otel_events.store.anyvalue import text_to_any_value
from otel_events.store.log_decode import BODY_ABSENT
from otel_events.store.metrics_decode import TEMPORALITIES
from otel_events.store.span_decode import SPAN_KINDS, STATUS_CODES
from otel_events.store.stamps import ATTR_CATEGORY, ATTR_CORRELATION_ID, ATTR_RULE, ATTR_SEQ, ATTR_STREAM_ID

# Rows of each signal joined with their resource and scope. `where` fragments may use the base table's columns
# (alias-free: trace_id, name, start_time, category, tenant, ...) and service_name / scope_name.
_SPANS_SQL = """
SELECT * FROM (
    SELECT s.*, r.proto AS resource_proto, r.schema_url AS resource_url,
           sc.proto AS scope_proto, sc.schema_url AS scope_url,
           epoch_ns(s.start_time) AS start_ns, epoch_ns(s.end_time) AS end_ns,
           list_transform(s.events, lambda e: epoch_ns(e."time")) AS event_ns
    FROM span_data AS s JOIN resources AS r USING (resource_id) JOIN scopes AS sc USING (scope_id)
) WHERE {where} ORDER BY resource_id, scope_id, start_ns
"""
_LOGS_SQL = """
SELECT * FROM (
    SELECT l.*, r.proto AS resource_proto, r.schema_url AS resource_url,
           sc.proto AS scope_proto, sc.schema_url AS scope_url,
           epoch_ns(l."time") AS time_ns, epoch_ns(l.observed_time) AS observed_ns
    FROM log_data AS l JOIN resources AS r USING (resource_id) JOIN scopes AS sc USING (scope_id)
) WHERE {where} ORDER BY resource_id, scope_id, time_ns
"""
_METRICS_SQL = """
SELECT * FROM (
    SELECT m.*, sc.name AS scope_name, r.proto AS resource_proto, r.schema_url AS resource_url,
           sc.proto AS scope_proto, sc.schema_url AS scope_url,
           epoch_ns(m."time") AS time_ns, epoch_ns(m.start_time) AS start_ns
    FROM metric_point_data AS m JOIN resources AS r USING (resource_id) JOIN scopes AS sc USING (scope_id)
) WHERE {where} ORDER BY resource_id, scope_id, name, time_ns
"""

_POINT_CLASSES = {
    "gauge": metrics_pb2.NumberDataPoint,
    "sum": metrics_pb2.NumberDataPoint,
    "histogram": metrics_pb2.HistogramDataPoint,
    "exponential_histogram": metrics_pb2.ExponentialHistogramDataPoint,
    "summary": metrics_pb2.SummaryDataPoint,
}


def rebuild_requests(
    con: duckdb.DuckDBPyConnection,
    signal: str,
    *,
    where: str = "TRUE",
    params: Sequence[object] = (),
    max_items: int = 512,
) -> Iterator[ExportTraceServiceRequest | ExportLogsServiceRequest | ExportMetricsServiceRequest]:
    """Yield export requests of at most ``max_items`` items rebuilt from the store.

    Args:
        con: a connection to the store.
        signal: ``"traces"``, ``"logs"`` or ``"metrics"``.
        where: a SQL condition over the base table's columns and service_name / scope_name; values must be
            bound through ``params``, never formatted into the text.
        params: the parameters of ``where``.
        max_items: spans, log records or data points per request.
    """
    if signal == "traces":
        yield from _rebuild(con, _SPANS_SQL, where, params, max_items, ExportTraceServiceRequest, _add_span)
    elif signal == "logs":
        yield from _rebuild(con, _LOGS_SQL, where, params, max_items, ExportLogsServiceRequest, _add_log)
    elif signal == "metrics":
        yield from _rebuild(con, _METRICS_SQL, where, params, max_items, ExportMetricsServiceRequest, _add_point)
    else:
        raise ValueError(f"unknown signal {signal!r} (expected traces, logs or metrics)")


def _rebuild(con, sql, where, params, max_items, request_class, add_item) -> Iterator:
    cursor = con.cursor()
    cursor.execute(sql.format(where=where), list(params))
    names = [d[0] for d in cursor.description]
    request = request_class()
    count = 0
    groups: dict = {}
    while True:
        chunk = cursor.fetchmany(2048)
        if not chunk:
            break
        for values in chunk:
            row = dict(zip(names, values, strict=True))
            if count == max_items:
                yield request
                request = request_class()
                count = 0
                groups = {}
            add_item(_scope_container(request, groups, row), groups, row)
            count += 1
    if count:
        yield request


def _scope_container(request, groups: dict, row: Mapping):
    """The ScopeSpans / ScopeLogs / ScopeMetrics of the row's resource and scope, created on first use."""
    key = (row["resource_id"], row["scope_id"])
    found = groups.get(key)
    if found is not None:
        return found
    resources_field, scopes_field = {
        ExportTraceServiceRequest: ("resource_spans", "scope_spans"),
        ExportLogsServiceRequest: ("resource_logs", "scope_logs"),
        ExportMetricsServiceRequest: ("resource_metrics", "scope_metrics"),
    }[type(request)]
    resource_key = ("resource", row["resource_id"])
    resource_container = groups.get(resource_key)
    if resource_container is None:
        resource_container = getattr(request, resources_field).add()
        resource_container.resource.CopyFrom(Resource.FromString(row["resource_proto"]))
        resource_container.schema_url = row["resource_url"] or ""
        groups[resource_key] = resource_container
    scope_container = getattr(resource_container, scopes_field).add()
    scope_container.scope.CopyFrom(InstrumentationScope.FromString(row["scope_proto"]))
    scope_container.schema_url = row["scope_url"] or ""
    groups[key] = scope_container
    return scope_container


def _fill_attributes(target, values: Mapping[str, str | None] | None, types: Mapping[str, str] | str | None) -> None:
    """Add ``values`` as KeyValues; ``types`` is an ``attr_types`` column (JSON object text) or an extra's map."""
    if isinstance(types, str):
        types = json.loads(types)
    types = types or {}
    for key, text in (values or {}).items():
        kv = target.add()
        kv.key = key
        text_to_any_value(text, types.get(key), kv.value)


def _fill_stamps(target, row: Mapping) -> None:
    stamps = []
    if row["category_source"] == "sdk":
        stamps.append((ATTR_CATEGORY, row["category"]))
        if row["rule"] is not None:
            stamps.append((ATTR_RULE, row["rule"]))
    for key, column in ((ATTR_STREAM_ID, "stream_id"), (ATTR_SEQ, "seq"), (ATTR_CORRELATION_ID, "correlation_id")):
        if row[column] is not None:
            stamps.append((key, row[column]))
    for key, value in stamps:
        kv = target.add()
        kv.key = key
        if isinstance(value, int):
            kv.value.int_value = value
        else:
            kv.value.string_value = value


def _add_span(scope_spans, _groups: dict, row: Mapping) -> None:
    span = scope_spans.spans.add()
    span.trace_id = bytes.fromhex(row["trace_id"])
    span.span_id = bytes.fromhex(row["span_id"])
    if row["parent_span_id"]:
        span.parent_span_id = bytes.fromhex(row["parent_span_id"])
    span.trace_state = row["trace_state"] or ""
    span.flags = row["flags"] or 0
    span.name = row["name"] or ""
    span.kind = 0 if row["kind_unspecified"] else SPAN_KINDS.index(row["kind"], 1)
    span.start_time_unix_nano = row["start_ns"]
    span.end_time_unix_nano = row["end_ns"]
    span.status.code = STATUS_CODES.index(row["status_code"])
    span.status.message = row["status_message"] or ""
    _fill_attributes(span.attributes, row["attributes"], row["attr_types"])
    _fill_stamps(span.attributes, row)
    span.dropped_attributes_count = row["dropped_attributes_count"] or 0
    extras = row["events_extra"] or [None] * len(row["events"])
    for event_row, extra, time_ns in zip(row["events"], extras, row["event_ns"], strict=True):
        event = span.events.add()
        event.time_unix_nano = time_ns
        event.name = event_row["name"] or ""
        _fill_attributes(event.attributes, event_row["attributes"], extra and extra["attr_types"])
        event.dropped_attributes_count = (extra and extra["dropped_attributes_count"]) or 0
    span.dropped_events_count = row["dropped_events_count"] or 0
    extras = row["links_extra"] or [None] * len(row["links"])
    for link_row, extra in zip(row["links"], extras, strict=True):
        link = span.links.add()
        link.trace_id = bytes.fromhex(link_row["trace_id"])
        link.span_id = bytes.fromhex(link_row["span_id"])
        link.trace_state = link_row["trace_state"] or ""
        _fill_attributes(link.attributes, link_row["attributes"], extra and extra["attr_types"])
        if extra:
            link.dropped_attributes_count = extra["dropped_attributes_count"] or 0
            link.flags = extra["flags"] or 0
    span.dropped_links_count = row["dropped_links_count"] or 0


def _add_log(scope_logs, _groups: dict, row: Mapping) -> None:
    record = scope_logs.log_records.add()
    record.time_unix_nano = row["time_ns"] or 0
    record.observed_time_unix_nano = row["observed_ns"] or 0
    if row["trace_id"]:
        record.trace_id = bytes.fromhex(row["trace_id"])
    if row["span_id"]:
        record.span_id = bytes.fromhex(row["span_id"])
    record.flags = row["flags"] or 0
    record.severity_number = row["severity_number"] or 0
    record.severity_text = row["severity_text"] or ""
    if row["body_type"] != BODY_ABSENT:
        text_to_any_value(row["body"], row["body_type"], record.body)
    record.event_name = row["event_name"] or ""
    _fill_attributes(record.attributes, row["attributes"], row["attr_types"])
    _fill_stamps(record.attributes, row)
    record.dropped_attributes_count = row["dropped_attributes_count"] or 0


def _add_point(scope_metrics, groups: dict, row: Mapping) -> None:
    metric_type = row["type"]
    metric_key = (
        "metric",
        row["resource_id"],
        row["scope_id"],
        row["name"],
        row["description"],
        row["unit"],
        metric_type,
        row["temporality"],
        row["is_monotonic"],
        row["metric_extra"],
    )
    data = groups.get(metric_key)
    if data is None:
        metric = scope_metrics.metrics.add()
        if row["metric_extra"]:
            metric.MergeFromString(row["metric_extra"])
        metric.name = row["name"] or ""
        metric.description = row["description"] or ""
        metric.unit = row["unit"] or ""
        data = getattr(metric, metric_type)
        data.SetInParent()
        if metric_type != "gauge" and metric_type != "summary":
            data.aggregation_temporality = TEMPORALITIES.index(row["temporality"])
        if metric_type == "sum":
            data.is_monotonic = bool(row["is_monotonic"])
        groups[metric_key] = data
    point = data.data_points.add()
    if row["point_extra"]:
        point.MergeFromString(row["point_extra"])
    _fill_attributes(point.attributes, row["attributes"], row["attr_types"])
    point.time_unix_nano = row["time_ns"] or 0
    point.start_time_unix_nano = row["start_ns"] or 0
    if metric_type in ("gauge", "sum"):
        if point.WhichOneof("value") is None and row["value"] is not None:
            point.as_double = row["value"]
        return
    point.count = row["count"] or 0
    if row["sum"] is not None:
        point.sum = row["sum"]
    if metric_type == "summary":
        for quantile in row["quantiles"] or []:
            q = point.quantile_values.add()
            q.quantile = quantile["quantile"]
            q.value = quantile["value"]
        return
    if row["min"] is not None:
        point.min = row["min"]
    if row["max"] is not None:
        point.max = row["max"]
    if metric_type == "histogram":
        point.bucket_counts.extend(row["bucket_counts"] or [])
        point.explicit_bounds.extend(row["explicit_bounds"] or [])
