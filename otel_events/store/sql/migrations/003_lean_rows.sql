-- Schema version 3: cheaper rows and a trace lookup that does not scan every span. The item tables are
-- rebuilt (DuckDB cannot update a column added in the same transaction), rows keeping their order.
--
-- * service_name, scope_name and scope_version are copied onto every row: they repeat within a request, so
--   dictionary compression stores them for ~0 bytes per row, and the public views no longer join `scopes`
--   (and `resources` only for resource_attributes): the joins cost 3.7x on grouped queries over the view.
-- * attr_types becomes JSON object text ({"http.status_code":"i"}): an item's type codes repeat from item to
--   item, so one dictionary-compressed string per row is smaller than a MAP and much cheaper to insert.
-- * ingest_batch: the number of the Store.ingest transaction that wrote the row. It only grows, so DuckDB's
--   per-row-group min/max lets a query for one batch skip every other row group. Rows written before this
--   version get their row group's number, which has the same property.

CREATE TABLE span_data_v3 (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    parent_span_id VARCHAR,
    trace_state VARCHAR,
    flags UINTEGER,
    name VARCHAR,
    kind span_kind,
    kind_unspecified BOOLEAN,
    start_time TIMESTAMP_NS,
    end_time TIMESTAMP_NS,
    status_code status_code,
    status_message VARCHAR,
    resource_id UINTEGER,
    scope_id UINTEGER,
    service_name VARCHAR,
    scope_name VARCHAR,
    scope_version VARCHAR,
    attributes MAP(VARCHAR, VARCHAR),
    attr_types VARCHAR,
    dropped_attributes_count UINTEGER,
    events STRUCT("time" TIMESTAMP_NS, name VARCHAR, attributes MAP(VARCHAR, VARCHAR))[],
    events_extra STRUCT(attr_types MAP(VARCHAR, VARCHAR), dropped_attributes_count UINTEGER)[],
    dropped_events_count UINTEGER,
    links STRUCT(trace_id VARCHAR, span_id VARCHAR, trace_state VARCHAR, attributes MAP(VARCHAR, VARCHAR))[],
    links_extra STRUCT(attr_types MAP(VARCHAR, VARCHAR), dropped_attributes_count UINTEGER, flags UINTEGER)[],
    dropped_links_count UINTEGER,
    category category,
    rule VARCHAR,
    category_source category_source,
    stream_id VARCHAR,
    seq BIGINT,
    correlation_id VARCHAR,
    tenant VARCHAR,
    received_at TIMESTAMP_NS,
    ingest_batch BIGINT NOT NULL
);
INSERT INTO span_data_v3 BY NAME
SELECT s.* EXCLUDE (attr_types), to_json(s.attr_types)::VARCHAR AS attr_types, r.service_name,
       sc.name AS scope_name, sc.version AS scope_version, s.rowid // 122880 AS ingest_batch
FROM span_data AS s LEFT JOIN resources AS r USING (resource_id) LEFT JOIN scopes AS sc USING (scope_id)
ORDER BY s.rowid;
DROP TABLE span_data;
ALTER TABLE span_data_v3 RENAME TO span_data;

CREATE TABLE log_data_v3 (
    "time" TIMESTAMP_NS,
    observed_time TIMESTAMP_NS,
    trace_id VARCHAR,
    span_id VARCHAR,
    flags UINTEGER,
    severity_number INTEGER,
    severity_text VARCHAR,
    body VARCHAR,
    body_type VARCHAR,
    event_name VARCHAR,
    resource_id UINTEGER,
    scope_id UINTEGER,
    service_name VARCHAR,
    scope_name VARCHAR,
    attributes MAP(VARCHAR, VARCHAR),
    attr_types VARCHAR,
    dropped_attributes_count UINTEGER,
    category category,
    rule VARCHAR,
    category_source category_source,
    stream_id VARCHAR,
    seq BIGINT,
    correlation_id VARCHAR,
    tenant VARCHAR,
    received_at TIMESTAMP_NS,
    ingest_batch BIGINT NOT NULL
);
INSERT INTO log_data_v3 BY NAME
SELECT l.* EXCLUDE (attr_types), to_json(l.attr_types)::VARCHAR AS attr_types, r.service_name,
       sc.name AS scope_name, l.rowid // 122880 AS ingest_batch
FROM log_data AS l LEFT JOIN resources AS r USING (resource_id) LEFT JOIN scopes AS sc USING (scope_id)
ORDER BY l.rowid;
DROP TABLE log_data;
ALTER TABLE log_data_v3 RENAME TO log_data;

CREATE TABLE metric_point_data_v3 (
    "time" TIMESTAMP_NS,
    start_time TIMESTAMP_NS,
    resource_id UINTEGER,
    scope_id UINTEGER,
    service_name VARCHAR,
    name VARCHAR,
    description VARCHAR,
    unit VARCHAR,
    type metric_type,
    value DOUBLE,
    count UBIGINT,
    sum DOUBLE,
    min DOUBLE,
    max DOUBLE,
    bucket_counts UBIGINT[],
    explicit_bounds DOUBLE[],
    quantiles STRUCT(quantile DOUBLE, value DOUBLE)[],
    is_monotonic BOOLEAN,
    temporality temporality,
    attributes MAP(VARCHAR, VARCHAR),
    attr_types VARCHAR,
    point_extra BLOB,
    metric_extra BLOB,
    tenant VARCHAR,
    received_at TIMESTAMP_NS
);
INSERT INTO metric_point_data_v3 BY NAME
SELECT m.* EXCLUDE (attr_types), to_json(m.attr_types)::VARCHAR AS attr_types, r.service_name
FROM metric_point_data AS m LEFT JOIN resources AS r USING (resource_id)
ORDER BY m.rowid;
DROP TABLE metric_point_data;
ALTER TABLE metric_point_data_v3 RENAME TO metric_point_data;

-- Which batches hold rows (spans or logs) of a trace, keyed by the trace id's first 4 bytes as an integer:
-- one row per trace and batch (~0.1 per span; kept sorted by key, ~0.4 B per span on disk). A trace lookup
-- reads the batch numbers here, then only those batches' row groups of span_data / log_data (the trace_spans
-- and trace_logs macros in views.sql). Traces sharing a key (1 in 4 billion pairs) only cost an extra batch to scan.
CREATE TABLE trace_batches (
    trace_key UINTEGER NOT NULL,
    ingest_batch BIGINT NOT NULL
);
INSERT INTO trace_batches
SELECT DISTINCT CAST('0x' || substr(trace_id, 1, 8) AS UINTEGER), ingest_batch FROM span_data
UNION
SELECT DISTINCT CAST('0x' || substr(trace_id, 1, 8) AS UINTEGER), ingest_batch FROM log_data
WHERE trace_id IS NOT NULL;
