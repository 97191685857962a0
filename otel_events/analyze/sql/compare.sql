-- compare (SPEC §6): per operation, the current window (and --filter) against a baseline window or filter.
-- Deltas are current minus baseline; a percentage is relative to the baseline value.
WITH cur AS (
    SELECT service_name, name, count(*) AS n,
           count(*) FILTER (WHERE status_code = 'error') / count(*) AS error_rate,
           quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS q
    FROM spans
    WHERE start_time >= $since AND start_time < $until AND /*filter:spans*/TRUE
    GROUP BY service_name, name
),
base AS (
    SELECT service_name, name, count(*) AS n,
           count(*) FILTER (WHERE status_code = 'error') / count(*) AS error_rate,
           quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS q
    FROM spans
    WHERE start_time >= $base_since AND start_time < $base_until AND /*baseline:spans*/TRUE
    GROUP BY service_name, name
)
SELECT
    'operation' AS kind,
    coalesce(c.service_name, b.service_name) AS service_name,
    coalesce(c.name, b.name) AS name,
    coalesce(b.n, 0) AS base_count,
    coalesce(c.n, 0) AS count,
    b.q[1] AS base_p50_ms,
    c.q[1] AS p50_ms,
    b.q[2] AS base_p95_ms,
    c.q[2] AS p95_ms,
    (c.q[2] - b.q[2]) / nullif(b.q[2], 0) * 100 AS p95_delta_pct,
    b.q[3] AS base_p99_ms,
    c.q[3] AS p99_ms,
    (c.q[3] - b.q[3]) / nullif(b.q[3], 0) * 100 AS p99_delta_pct,
    b.error_rate AS base_error_rate,
    c.error_rate,
    c.error_rate - b.error_rate AS error_rate_delta
FROM cur AS c
FULL JOIN base AS b
  ON b.service_name IS NOT DISTINCT FROM c.service_name AND b.name IS NOT DISTINCT FROM c.name
ORDER BY coalesce(c.n, 0) + coalesce(b.n, 0) DESC, service_name, name
LIMIT $limit;
