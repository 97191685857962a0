-- anomalies --metrics: per (service, metric, attribute set) and time bucket, the z-score of the bucket's value
-- against a baseline (same leave-one-out rule as anomalies.sql). The value of a bucket depends on the metric:
-- gauges and non-monotonic sums average their points, delta sums add them, monotonic cumulative sums use their
-- increase since the previous bucket (the running total itself only ever grows), histograms and summaries use
-- the mean observation (sum / count).
WITH items AS (
    SELECT
        service_name,
        name,
        CAST(attributes AS VARCHAR) AS attributes,
        CAST(type AS VARCHAR) AS type,
        is_monotonic AND CAST(temporality AS VARCHAR) = 'cumulative' AS is_running_total,
        CAST(temporality AS VARCHAR) = 'delta' AND CAST(type AS VARCHAR) = 'sum' AS is_delta_sum,
        coalesce(value, sum / nullif(CAST(count AS DOUBLE), 0)) AS v,
        "time" >= $since AND "time" < $until AS is_current,
        "time" >= $base_since AND "time" < $base_until AS is_base,
        epoch_ns("time") AS t_ns
    FROM metric_points
    WHERE (("time" >= $since AND "time" < $until) OR ("time" >= $base_since AND "time" < $base_until))
      AND /*filter:metric_points*/TRUE
),
bucketed AS (
    SELECT 'cur' AS win, *, (t_ns - epoch_ns(CAST($since AS TIMESTAMP_NS))) // $bucket_ns AS idx
    FROM items WHERE is_current
    UNION ALL
    SELECT 'base', *, (t_ns - epoch_ns(CAST($base_since AS TIMESTAMP_NS))) // $bucket_ns
    FROM items WHERE is_base
),
agg AS (
    SELECT win, service_name, name, attributes, idx,
           any_value(is_running_total) AS is_running_total,
           CASE WHEN any_value(is_delta_sum) THEN sum(v) ELSE avg(v) END AS avg_v,
           arg_max(v, t_ns) AS last_v
    FROM bucketed
    GROUP BY ALL
),
valued AS (
    SELECT win, service_name, name, attributes, idx,
           CASE WHEN is_running_total
                THEN last_v - lag(last_v) OVER (PARTITION BY win, service_name, name, attributes ORDER BY idx)
                ELSE avg_v END AS value,
           CASE WHEN is_running_total THEN 'increase' ELSE 'value' END AS metric
    FROM agg
),
long AS (SELECT * FROM valued WHERE value IS NOT NULL),
base_sums AS (
    SELECT service_name, name, attributes, count(*) AS k, sum(value) AS s, sum(value * value) AS q
    FROM long WHERE win = 'base'
    GROUP BY ALL
),
scored AS (
    SELECT
        c.service_name, c.name, c.attributes, c.idx, c.metric, c.value,
        b.k - CASE WHEN $same_window THEN 1 ELSE 0 END AS k,
        b.s - CASE WHEN $same_window THEN c.value ELSE 0 END AS s,
        b.q - CASE WHEN $same_window THEN c.value * c.value ELSE 0 END AS q
    FROM long AS c
    JOIN base_sums AS b
      ON b.service_name IS NOT DISTINCT FROM c.service_name AND b.name = c.name AND b.attributes = c.attributes
    WHERE c.win = 'cur'
),
stats AS (
    SELECT *, s / k AS mean, sqrt(greatest(q - s * s / k, 0) / greatest(k - 1, 1)) AS std
    FROM scored
    WHERE k >= $min_buckets
),
z AS (
    SELECT *, (value - mean) / greatest(std, 0.05 * abs(mean), 1e-9) AS z FROM stats
)
SELECT
    service_name,
    name,
    NULL AS category,
    CAST($since AS TIMESTAMP) + to_microseconds(CAST(idx * $bucket_ns // 1000 AS BIGINT)) AS bucket_start,
    metric,
    value,
    mean AS baseline_mean,
    std AS baseline_std,
    z,
    attributes
FROM z
WHERE abs(z) >= $sensitivity
ORDER BY abs(z) DESC, service_name, name, bucket_start
LIMIT $limit;
