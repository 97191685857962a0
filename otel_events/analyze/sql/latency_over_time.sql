-- report: latency percentiles of root spans (what callers waited for) per time bucket, for the latency chart.
SELECT
    CAST($since AS TIMESTAMP)
        + to_microseconds(CAST(((epoch_ns(start_time) - epoch_ns(CAST($since AS TIMESTAMP_NS))) // $bucket_ns)
                               * $bucket_ns // 1000 AS BIGINT)) AS "time",
    count(*) AS count,
    quantile_cont(duration_ms, 0.5) AS p50_ms,
    quantile_cont(duration_ms, 0.95) AS p95_ms,
    quantile_cont(duration_ms, 0.99) AS p99_ms
FROM spans
WHERE parent_span_id IS NULL
  AND start_time >= $since AND start_time < $until
  AND /*filter:spans*/TRUE
GROUP BY 1
ORDER BY 1;
