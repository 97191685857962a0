-- stats (SPEC §6): latency distribution per operation. One quantile_cont call with a list of fractions sorts
-- each group once instead of four times.
WITH s AS (
    SELECT service_name, name, duration_ms, status_code
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
        quantile_cont(duration_ms, [0.5, 0.9, 0.95, 0.99]) AS q,
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
    q[1] AS p50_ms,
    q[2] AS p90_ms,
    q[3] AS p95_ms,
    q[4] AS p99_ms,
    max_ms
FROM g
ORDER BY count DESC, service_name, name
LIMIT $limit;
