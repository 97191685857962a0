-- Schema version 1: base tables of the store. Users query the views in views.sql, never these tables:
-- the tables are shaped for append speed and disk size and may change between versions (with a migration).

-- Closed sets are ENUMs: one byte per row on disk, and `max(category)` follows the declared order (SPEC §5).
CREATE TYPE category AS ENUM ('debug', 'system', 'user_activity', 'performance', 'critical');
CREATE TYPE category_source AS ENUM ('sdk', 'receiver');
CREATE TYPE span_kind AS ENUM ('internal', 'server', 'client', 'producer', 'consumer');
CREATE TYPE status_code AS ENUM ('unset', 'ok', 'error');
CREATE TYPE metric_type AS ENUM ('gauge', 'sum', 'histogram', 'exponential_histogram', 'summary');
CREATE TYPE temporality AS ENUM ('unspecified', 'delta', 'cumulative');

-- One row per schema version applied; the highest is the file's version.
CREATE TABLE schema_info (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMP_NS NOT NULL
);

-- Resources and scopes repeat on every item of a request: normalised, each distinct one is stored once.
-- `proto` keeps the serialized message (plus schema_url) so replay rebuilds it exactly (entity refs, dropped
-- counts, value types); it is also the lookup key for new items.
CREATE TABLE resources (
    resource_id UINTEGER PRIMARY KEY,
    service_name VARCHAR,
    attributes MAP(VARCHAR, VARCHAR),
    schema_url VARCHAR,
    proto BLOB NOT NULL
);

CREATE TABLE scopes (
    scope_id UINTEGER PRIMARY KEY,
    name VARCHAR,
    version VARCHAR,
    schema_url VARCHAR,
    proto BLOB NOT NULL
);

-- Spans. Ids are lowercase hex so that `WHERE trace_id = ?` on the view is pushed down into the scan.
-- attr_types: key -> type code for the attribute values that were not strings (see anyvalue.py); NULL when all
-- values were strings, which is almost always, so the column costs next to nothing on disk.
-- events_extra / links_extra: per-event/link value types and dropped counts, NULL unless needed for replay.
CREATE TABLE span_data (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    parent_span_id VARCHAR,
    trace_state VARCHAR,
    flags UINTEGER,
    name VARCHAR,
    kind span_kind,
    kind_unspecified BOOLEAN,        -- OTLP SPAN_KIND_UNSPECIFIED: shown as internal, replayed as sent
    start_time TIMESTAMP_NS,
    end_time TIMESTAMP_NS,
    status_code status_code,
    status_message VARCHAR,
    resource_id UINTEGER,
    scope_id UINTEGER,
    attributes MAP(VARCHAR, VARCHAR),
    attr_types MAP(VARCHAR, VARCHAR),
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
    received_at TIMESTAMP_NS
);

-- Log records. body is text (non-string bodies as JSON); body_type keeps the original AnyValue kind for replay.
CREATE TABLE log_data (
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
    attributes MAP(VARCHAR, VARCHAR),
    attr_types MAP(VARCHAR, VARCHAR),
    dropped_attributes_count UINTEGER,
    category category,
    rule VARCHAR,
    category_source category_source,
    stream_id VARCHAR,
    seq BIGINT,
    correlation_id VARCHAR,
    tenant VARCHAR,
    received_at TIMESTAMP_NS
);

-- One row per data point. point_extra: the serialized data point holding only what the columns do not
-- (exemplars, flags, exponential-histogram buckets, an int64 value); metric_extra: the metric's metadata.
CREATE TABLE metric_point_data (
    "time" TIMESTAMP_NS,
    start_time TIMESTAMP_NS,
    resource_id UINTEGER,
    scope_id UINTEGER,
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
    attr_types MAP(VARCHAR, VARCHAR),
    point_extra BLOB,
    metric_extra BLOB,
    tenant VARCHAR,
    received_at TIMESTAMP_NS
);

-- Items that passed the receiver's WAL but could not be stored: never silently dropped (SPEC §4).
CREATE TABLE dead_letters (
    received_at TIMESTAMP_NS NOT NULL,
    signal VARCHAR NOT NULL,
    tenant VARCHAR,
    error VARCHAR NOT NULL,
    payload BLOB NOT NULL
);

-- Position of the last WAL record stored, written in the same transaction as the rows so that a restart
-- replays the WAL from exactly there (exactly-once after kill -9).
CREATE TABLE ingest_checkpoint (
    id INTEGER PRIMARY KEY,
    wal_position BIGINT NOT NULL
);
