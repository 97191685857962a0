-- Span timings of a few traces, for the critical path computed in Python (critical_path.py). Times are epoch
-- nanoseconds so that the interval arithmetic is exact.
SELECT
    trace_id,
    span_id,
    parent_span_id,
    name,
    service_name,
    epoch_ns(start_time) AS start_ns,
    epoch_ns(end_time) AS end_ns
FROM spans
WHERE trace_id IN (SELECT unnest($trace_ids))
ORDER BY trace_id, start_ns, span_id;
