-- slow-traces (SPEC §6): root spans in the window that are over an absolute threshold, or slower than the
-- p99 of their own root operation over the same window. A trace's latency is its root span's duration: that is
-- what the caller waited for (async children that outlive the root are clipped, as in Jaeger's critical path),
-- and it avoids grouping every span of the store by trace (measured: the `traces` view costs a full GROUP BY).
-- MATERIALIZED: read once; inlined into both of its uses, the scan for roots (a NULL test over every span) ran
-- twice, 454 ms in all at 10M spans (bench_analyze.py).
WITH roots AS MATERIALIZED (
    SELECT trace_id, service_name, name, start_time, duration_ms
    FROM spans
    WHERE parent_span_id IS NULL
      AND start_time >= $since AND start_time < $until
      AND /*filter:spans*/TRUE
),
-- The norm of each root operation; too few samples make a p99 meaningless, so those get no baseline tier.
norms AS (
    SELECT service_name, name, quantile_cont(duration_ms, 0.99) AS p99_ms, count(*) AS samples
    FROM roots
    GROUP BY service_name, name
)
SELECT
    r.trace_id,
    r.service_name AS root_service,
    r.name AS root_name,
    r.start_time,
    r.duration_ms,
    CASE
        WHEN r.duration_ms > 5000 THEN 'critical'
        WHEN r.duration_ms > 1000 THEN 'high'
        WHEN r.duration_ms > 500 THEN 'medium'
        ELSE 'baseline'
    END AS tier,
    n.p99_ms AS operation_p99_ms
FROM roots AS r
JOIN norms AS n ON n.service_name IS NOT DISTINCT FROM r.service_name AND n.name IS NOT DISTINCT FROM r.name
WHERE r.duration_ms > $threshold_ms
   OR (n.samples >= $min_samples AND r.duration_ms > n.p99_ms)
ORDER BY r.duration_ms DESC, r.trace_id
LIMIT $limit;
