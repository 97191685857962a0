-- stats (SPEC §6): latency distribution per operation. One quantile_cont call with a list of fractions sorts
-- each group once instead of four times, and it sorts integer nanoseconds: quantiles of BIGINT ran in ~60% of
-- the time of the same over the DOUBLE duration_ms at 10M spans (bench_analyze.py), with the same values.
WITH s AS (
    SELECT service_name, name, duration_ms, epoch_ns(end_time) - epoch_ns(start_time) AS duration_ns, status_code
    FROM spans
    WHERE start_time >= $since AND start_time < $until
      AND /*filter:spans*/TRUE
),
g AS (
    SELECT
        service_name,
        name,
        count(*) AS count,
        count(*) FILTER (WHERE status_code = 'error') AS errors,
        avg(duration_ms) AS avg_ms,
        quantile_cont(duration_ns, [0.5, 0.9, 0.95, 0.99]) AS q,
        max(duration_ms) AS max_ms
    FROM s
    GROUP BY service_name, name
)
SELECT
    service_name,
    name,
    count,
    count / $window_minutes AS rate_per_min,
    errors,
    avg_ms,
    q[1] / 1e6 AS p50_ms,
    q[2] / 1e6 AS p90_ms,
    q[3] / 1e6 AS p95_ms,
    q[4] / 1e6 AS p99_ms,
    max_ms
FROM g
ORDER BY count DESC, service_name, name
LIMIT $limit;
