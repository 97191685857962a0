-- stats --by hour|day|minute: the same distribution per operation and time bucket (for charts).
WITH s AS (
    SELECT service_name, name, duration_ms, status_code, date_trunc($unit, start_time) AS bucket
    FROM spans
    WHERE start_time >= $since AND start_time < $until
      AND /*filter:spans*/TRUE
),
g AS (
    SELECT
        bucket,
        service_name,
        name,
        count(*) AS count,
        count(*) FILTER (WHERE status_code = 'error') AS errors,
        avg(duration_ms) AS avg_ms,
        quantile_cont(duration_ms, [0.5, 0.9, 0.95, 0.99]) AS q
    FROM s
    GROUP BY bucket, service_name, name
)
SELECT
    bucket AS "time",
    service_name,
    name,
    count,
    count / $bucket_minutes AS rate_per_min,
    errors,
    avg_ms,
    q[1] AS p50_ms,
    q[2] AS p90_ms,
    q[3] AS p95_ms,
    q[4] AS p99_ms
FROM g
ORDER BY bucket, count DESC, service_name, name
LIMIT $limit;
