-- completeness (SPEC §6): per stream, what arrived and which sequence numbers are missing. Spans and log
-- records share one counter per stream (SPEC §3), so both are counted together. `duplicates` counts rows
-- sharing a (stream_id, seq): the store suppresses those on ingest, so anything here slipped past it.
WITH items AS (
    SELECT stream_id, service_name, seq FROM spans
    WHERE stream_id IS NOT NULL AND seq IS NOT NULL
      AND start_time >= $since AND start_time < $until AND /*filter:spans*/TRUE
    UNION ALL
    SELECT stream_id, service_name, seq FROM logs
    WHERE stream_id IS NOT NULL AND seq IS NOT NULL
      AND "time" >= $since AND "time" < $until AND /*filter:logs*/TRUE
),
per_stream AS (
    SELECT stream_id, any_value(service_name) AS service_name, count(*) AS received,
           min(seq) AS first_seq, max(seq) AS last_seq, count(DISTINCT seq) AS distinct_seq
    FROM items
    GROUP BY stream_id
),
steps AS (
    SELECT stream_id, seq, lag(seq) OVER (PARTITION BY stream_id ORDER BY seq) AS prev
    FROM (SELECT DISTINCT stream_id, seq FROM items)
),
gaps AS (
    SELECT stream_id,
           list(CASE WHEN seq - prev = 2 THEN CAST(prev + 1 AS VARCHAR)
                     ELSE CAST(prev + 1 AS VARCHAR) || '-' || CAST(seq - 1 AS VARCHAR) END ORDER BY seq) AS gaps
    FROM steps
    WHERE seq - prev > 1
    GROUP BY stream_id
)
SELECT
    p.stream_id,
    p.service_name,
    p.received,
    p.first_seq,
    p.last_seq,
    (p.last_seq - p.first_seq + 1) - p.distinct_seq AS missing,
    p.received - p.distinct_seq AS duplicates,
    coalesce(g.gaps, []) AS gaps
FROM per_stream AS p
LEFT JOIN gaps AS g USING (stream_id)
ORDER BY missing DESC, p.stream_id
LIMIT $limit;
