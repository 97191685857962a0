-- patterns (SPEC §6), step 1 of 2: log bodies with their obvious variables masked, grouped. DuckDB does the
-- masking over every body in parallel, so the Drain-style miner in Python (patterns.py) only sees one row per
-- distinct shape, weighted by its count. Masks, in order: UUIDs; whole tokens of hex digits that hold a digit
-- (ids, hashes, plain integers); any remaining run of digits (e.g. the 45.6 in "45.6ms").
WITH l AS (
    SELECT
        "time",
        body,
        category,
        ("time" >= $since AND "time" < $until) AS is_current
    FROM logs
    WHERE body IS NOT NULL
      AND (("time" >= $since AND "time" < $until) OR ("time" >= $base_since AND "time" < $base_until))
      AND /*filter:logs*/TRUE
),
masked AS (
    SELECT
        *,
        regexp_replace(
            regexp_replace(
                regexp_replace(
                    body,
                    '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<*>', 'g'),
                '\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*\b', '<*>', 'g'),
            '[0-9]+(\.[0-9]+)?', '<*>', 'g') AS shape
    FROM l
)
SELECT
    shape,
    count(*) FILTER (WHERE is_current) AS count,
    count(*) FILTER (WHERE NOT is_current) AS baseline_count,
    min("time") FILTER (WHERE is_current) AS first_seen,
    max("time") FILTER (WHERE is_current) AS last_seen,
    arg_min(body, "time") FILTER (WHERE is_current) AS example,
    CAST(max(category) FILTER (WHERE is_current) AS VARCHAR) AS category
FROM masked
GROUP BY shape
ORDER BY count DESC, shape;
