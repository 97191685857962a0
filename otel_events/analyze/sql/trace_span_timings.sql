-- Span timings of a few traces, for the critical path computed in Python (critical_path.py). Times are epoch
-- nanoseconds so that the interval arithmetic is exact. span_rows is the spans view plus ingest_batch: the
-- store's trace_batches table names the batches holding each trace, so only their row groups are read.
SELECT
    trace_id,
    span_id,
    parent_span_id,
    name,
    service_name,
    epoch_ns(start_time) AS start_ns,
    epoch_ns(end_time) AS end_ns
FROM span_rows
WHERE ingest_batch IN (
        SELECT ingest_batch FROM trace_batches WHERE trace_key IN (SELECT trace_key(unnest($trace_ids)))
    )
    AND trace_id IN (SELECT unnest($trace_ids))
ORDER BY trace_id, start_ns, span_id;
