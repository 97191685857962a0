-- anomalies (SPEC §6): per (service, operation) and time bucket, the z-score of span count, error rate and p95
-- latency against a baseline. The baseline is either a separate window (--baseline) or, by default, the other
-- buckets of the same window (leave-one-out: a bucket is never compared with itself, so one outlier cannot
-- hide by inflating its own baseline). `category` is the most severe category seen in the bucket: keying on it
-- would split error spans (always critical) from the rest and make error rates meaningless.
WITH items AS (
    SELECT
        service_name,
        name,
        category,
        duration_ms,
        status_code = 'error' AS is_error,
        start_time >= $since AND start_time < $until AS is_current,
        start_time >= $base_since AND start_time < $base_until AS is_base,
        epoch_ns(start_time) AS t_ns
    FROM spans
    WHERE ((start_time >= $since AND start_time < $until) OR (start_time >= $base_since AND start_time < $base_until))
      AND /*filter:spans*/TRUE
),
keys AS (SELECT DISTINCT service_name, name FROM items),
-- one row per bucket per window ('cur' and 'base' are the same rows when the baseline is the window itself)
bucketed AS (
    SELECT 'cur' AS win, service_name, name, category, duration_ms, is_error,
           (t_ns - epoch_ns(CAST($since AS TIMESTAMP_NS))) // $bucket_ns AS idx
    FROM items WHERE is_current
    UNION ALL
    SELECT 'base', service_name, name, category, duration_ms, is_error,
           (t_ns - epoch_ns(CAST($base_since AS TIMESTAMP_NS))) // $bucket_ns
    FROM items WHERE is_base
),
agg AS (
    SELECT win, service_name, name, idx,
           CAST(max(category) AS VARCHAR) AS category,
           count(*) AS n,
           count(*) FILTER (WHERE is_error) / count(*) AS error_rate,
           quantile_cont(duration_ms, 0.95) AS p95_ms
    FROM bucketed
    GROUP BY ALL
),
-- every bucket of each window, so that an empty bucket counts as zero spans
grid AS (
    SELECT 'cur' AS win, k.service_name, k.name, r.idx
    FROM keys AS k, range(0, $cur_buckets) AS r(idx)
    UNION ALL
    SELECT 'base', k.service_name, k.name, r.idx
    FROM keys AS k, range(0, $base_buckets) AS r(idx)
),
filled AS (
    SELECT g.win, g.service_name, g.name, g.idx, a.category,
           coalesce(a.n, 0) AS n, a.error_rate, a.p95_ms
    FROM grid AS g
    LEFT JOIN agg AS a
      ON a.win = g.win AND a.idx = g.idx
     AND a.service_name IS NOT DISTINCT FROM g.service_name AND a.name IS NOT DISTINCT FROM g.name
),
long AS (
    SELECT win, service_name, name, idx, category, 'count' AS metric, CAST(n AS DOUBLE) AS value FROM filled
    UNION ALL
    SELECT win, service_name, name, idx, category, 'error_rate', error_rate FROM filled WHERE n > 0
    UNION ALL
    SELECT win, service_name, name, idx, category, 'p95_ms', p95_ms FROM filled WHERE n > 0
),
base_sums AS (
    SELECT service_name, name, metric, count(*) AS k, sum(value) AS s, sum(value * value) AS q
    FROM long WHERE win = 'base'
    GROUP BY ALL
),
scored AS (
    SELECT
        c.service_name, c.name, c.category, c.idx, c.metric, c.value,
        -- leave-one-out when the baseline is this window: remove the bucket itself from the sums
        b.k - CASE WHEN $same_window THEN 1 ELSE 0 END AS k,
        b.s - CASE WHEN $same_window THEN c.value ELSE 0 END AS s,
        b.q - CASE WHEN $same_window THEN c.value * c.value ELSE 0 END AS q
    FROM long AS c
    JOIN base_sums AS b
      ON b.metric = c.metric
     AND b.service_name IS NOT DISTINCT FROM c.service_name AND b.name IS NOT DISTINCT FROM c.name
    WHERE c.win = 'cur'
),
stats AS (
    SELECT *, s / k AS mean,
           sqrt(greatest(q - s * s / k, 0) / greatest(k - 1, 1)) AS std
    FROM scored
    WHERE k >= $min_buckets
),
z AS (
    SELECT *,
           -- a perfectly steady baseline has std 0: floor it (5% of the mean, or one unit per metric) so a small
           -- change is not an infinite z-score
           (value - mean) / greatest(std, 0.05 * abs(mean),
                CASE metric WHEN 'count' THEN 1.0 WHEN 'error_rate' THEN 0.01 ELSE 1.0 END) AS z
    FROM stats
)
SELECT
    service_name,
    name,
    category,
    CAST($since AS TIMESTAMP) + to_microseconds(CAST(idx * $bucket_ns // 1000 AS BIGINT)) AS bucket_start,
    metric,
    value,
    mean AS baseline_mean,
    std AS baseline_std,
    z
FROM z
-- latency and error rate matter when they rise; a count matters both ways (a drop can be an outage)
WHERE (metric = 'count' AND abs(z) >= $sensitivity) OR (metric <> 'count' AND z >= $sensitivity)
ORDER BY abs(z) DESC, service_name, name, bucket_start, metric
LIMIT $limit;
