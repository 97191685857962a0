-- The public SQL contract (SPEC §5). Column names, order and types are stable; the base tables behind
-- them are not. Re-created on every writable open, so a migration only has to care about tables.

-- service_name / scope_name / scope_version are columns of the item tables (schema v3), so the only join left
-- is the LEFT JOIN to the small resources table for resource_attributes; filters on item columns (e.g.
-- trace_id = ?) are pushed below it into the scan.
--
-- span_rows / log_rows are the public columns plus ingest_batch, which the trace lookup macros below filter on;
-- spans / logs are them without it.
CREATE OR REPLACE VIEW span_rows AS
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
    s.service_name,
    s.scope_name,
    s.scope_version,
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
    s.received_at,
    s.ingest_batch
FROM span_data AS s
LEFT JOIN resources AS r ON r.resource_id = s.resource_id;

CREATE OR REPLACE VIEW spans AS SELECT * EXCLUDE (ingest_batch) FROM span_rows;

CREATE OR REPLACE VIEW log_rows AS
SELECT
    -- OTLP: a record whose time is unset (0) is placed at its observed time, as other OTLP backends do;
    -- the raw value stays in log_data so replay reproduces it.
    CASE WHEN epoch_ns(l."time") = 0 THEN l.observed_time ELSE l."time" END AS "time",
    l.observed_time,
    l.trace_id,
    l.span_id,
    l.severity_number,
    l.severity_text,
    l.body,
    l.event_name,
    l.service_name,
    l.scope_name,
    l.attributes,
    r.attributes AS resource_attributes,
    l.category,
    l.rule,
    l.category_source,
    l.stream_id,
    l.seq,
    l.correlation_id,
    l.tenant,
    l.received_at,
    l.ingest_batch
FROM log_data AS l
LEFT JOIN resources AS r ON r.resource_id = l.resource_id;

CREATE OR REPLACE VIEW logs AS SELECT * EXCLUDE (ingest_batch) FROM log_rows;

CREATE OR REPLACE VIEW metric_points AS
SELECT
    m."time",
    m.start_time,
    m.service_name,
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

-- One row per trace, straight from span_data (every column it needs is there, no join). The root is the span
-- without a parent (the earliest one if several); a trace whose root has not arrived yet takes its earliest
-- span, so partial traces still get a name.
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
FROM span_data
GROUP BY trace_id;

-- Trace lookup (SPEC §6 trace / critical-path): `SELECT * FROM trace_spans('<32 hex digits>')` returns what
-- `SELECT * FROM spans WHERE trace_id = ...` does, but reads only the row groups of the ingest batches that hold
-- the trace (trace_batches) instead of every span: ~5 ms instead of ~55 ms at 10M spans. trace_key() maps a
-- trace id to trace_batches' key (NULL, so no rows, for text that is not a trace id).
CREATE OR REPLACE MACRO trace_key(id) AS TRY_CAST('0x' || substr(id, 1, 8) AS UINTEGER);

CREATE OR REPLACE MACRO trace_spans(id) AS TABLE
SELECT * EXCLUDE (ingest_batch) FROM span_rows
WHERE ingest_batch IN (SELECT ingest_batch FROM trace_batches WHERE trace_key = trace_key(id))
    AND trace_id = lower(id);

CREATE OR REPLACE MACRO trace_logs(id) AS TABLE
SELECT * EXCLUDE (ingest_batch) FROM log_rows
WHERE ingest_batch IN (SELECT ingest_batch FROM trace_batches WHERE trace_key = trace_key(id))
    AND trace_id = lower(id);
