-- correlation ID: the chain of spans and logs that carry a correlation id, extended to every trace they belong
-- to and to traces reachable through span links (in either direction, up to $max_hops links away).
WITH RECURSIVE seeds AS (
    SELECT DISTINCT trace_id FROM spans WHERE correlation_id = $correlation_id
    UNION
    SELECT DISTINCT trace_id FROM logs WHERE correlation_id = $correlation_id AND trace_id IS NOT NULL
),
-- span links as undirected edges between traces
edges AS (
    SELECT DISTINCT trace_id AS a, link.trace_id AS b
    FROM (SELECT trace_id, unnest(links) AS link FROM spans WHERE len(links) > 0)
    WHERE link.trace_id <> trace_id
),
reach(trace_id, hops) AS (
    SELECT trace_id, 0 FROM seeds
    UNION
    SELECT CASE WHEN e.a = r.trace_id THEN e.b ELSE e.a END, r.hops + 1
    FROM reach AS r
    JOIN edges AS e ON e.a = r.trace_id OR e.b = r.trace_id
    WHERE r.hops < $max_hops
),
chain AS (SELECT DISTINCT trace_id FROM reach)
SELECT * FROM (
    SELECT
        'span' AS kind, trace_id, span_id, parent_span_id, start_time AS "time", duration_ms, service_name,
        name, NULL AS body, CAST(status_code AS VARCHAR) AS status, CAST(category AS VARCHAR) AS category,
        stream_id, seq, correlation_id
    FROM spans
    WHERE (trace_id IN (SELECT trace_id FROM chain) OR correlation_id = $correlation_id)
      AND /*filter:spans*/TRUE
    UNION ALL
    SELECT
        'log', trace_id, span_id, NULL, "time", NULL, service_name,
        event_name, body, severity_text, CAST(category AS VARCHAR),
        stream_id, seq, correlation_id
    FROM logs
    WHERE (trace_id IN (SELECT trace_id FROM chain) OR correlation_id = $correlation_id)
      AND /*filter:logs*/TRUE
)
ORDER BY "time", seq NULLS LAST, kind DESC, span_id;
