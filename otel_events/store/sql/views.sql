-- The public SQL contract (SPEC §5). Column names, order and types are stable; the base tables behind
-- them are not. Re-created on every writable open, so a migration only has to care about tables.

-- The joins are against the small resources/scopes tables (one row per distinct resource/scope), so they
-- cost a hash lookup per span; filters on span columns (e.g. trace_id = ?) are pushed below them.
CREATE OR REPLACE VIEW spans AS
SELECT
    s.trace_id,
    s.span_id,
    s.parent_span_id,
    s.trace_state,
    s.name,
    s.kind,
    s.start_time,
    s.end_time,
    (epoch_ns(s.end_time) - epoch_ns(s.start_time)) / 1e6 AS duration_ms,
    s.status_code,
    s.status_message,
    r.service_name,
    sc.name AS scope_name,
    sc.version AS scope_version,
    s.attributes,
    r.attributes AS resource_attributes,
    s.events,
    s.links,
    s.category,
    s.rule,
    s.category_source,
    s.stream_id,
    s.seq,
    s.correlation_id,
    s.tenant,
    s.received_at
FROM span_data AS s
LEFT JOIN resources AS r ON r.resource_id = s.resource_id
LEFT JOIN scopes AS sc ON sc.scope_id = s.scope_id;

CREATE OR REPLACE VIEW logs AS
SELECT
    l."time",
    l.observed_time,
    l.trace_id,
    l.span_id,
    l.severity_number,
    l.severity_text,
    l.body,
    l.event_name,
    r.service_name,
    sc.name AS scope_name,
    l.attributes,
    r.attributes AS resource_attributes,
    l.category,
    l.rule,
    l.category_source,
    l.stream_id,
    l.seq,
    l.correlation_id,
    l.tenant,
    l.received_at
FROM log_data AS l
LEFT JOIN resources AS r ON r.resource_id = l.resource_id
LEFT JOIN scopes AS sc ON sc.scope_id = l.scope_id;

CREATE OR REPLACE VIEW metric_points AS
SELECT
    m."time",
    m.start_time,
    r.service_name,
    m.name,
    m.description,
    m.unit,
    m.type,
    m.value,
    m.count,
    m.sum,
    m.min,
    m.max,
    m.bucket_counts,
    m.explicit_bounds,
    m.quantiles,
    m.is_monotonic,
    m.temporality,
    m.attributes,
    r.attributes AS resource_attributes,
    m.tenant
FROM metric_point_data AS m
LEFT JOIN resources AS r ON r.resource_id = m.resource_id;

-- One row per trace. The root is the span without a parent (the earliest one if several); a trace whose
-- root has not arrived yet takes its earliest span, so partial traces still get a name.
CREATE OR REPLACE VIEW traces AS
SELECT
    trace_id,
    arg_min(service_name, (parent_span_id IS NOT NULL, start_time)) AS root_service,
    arg_min(name, (parent_span_id IS NOT NULL, start_time)) AS root_name,
    min(start_time) AS start_time,
    max(end_time) AS end_time,
    (epoch_ns(max(end_time)) - epoch_ns(min(start_time))) / 1e6 AS duration_ms,
    count(*) AS span_count,
    count(*) FILTER (WHERE status_code = 'error') AS error_count,
    list_sort(list_distinct(list(service_name))) AS services,
    max(category) AS max_category
FROM spans
GROUP BY trace_id;
