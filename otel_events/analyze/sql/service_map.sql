-- service-map (SPEC §6): caller -> callee edges. A span whose parent belongs to another service is a call
-- from the parent's service; a client/producer span with no child span in the store called something that is
-- not instrumented (a database, an external API): its peer attributes name the callee.
WITH s AS (
    SELECT trace_id, span_id, parent_span_id, service_name, kind, attributes, status_code, duration_ms
    FROM spans
    WHERE start_time >= $since AND start_time < $until
      AND /*filter:spans*/TRUE
),
calls AS (
    SELECT p.service_name AS caller, c.service_name AS callee, c.status_code, c.duration_ms
    FROM s AS c
    JOIN s AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    WHERE p.service_name IS DISTINCT FROM c.service_name
    UNION ALL
    SELECT
        c.service_name,
        coalesce(c.attributes['peer.service'], c.attributes['db.system'], c.attributes['server.address']),
        c.status_code,
        c.duration_ms
    FROM s AS c
    WHERE c.kind IN ('client', 'producer')
      AND coalesce(c.attributes['peer.service'], c.attributes['db.system'], c.attributes['server.address']) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM s AS ch WHERE ch.trace_id = c.trace_id AND ch.parent_span_id = c.span_id)
)
SELECT
    caller,
    callee,
    count(*) AS calls,
    count(*) FILTER (WHERE status_code = 'error') AS errors,
    count(*) FILTER (WHERE status_code = 'error') / count(*) AS error_rate,
    quantile_cont(duration_ms, 0.95) AS p95_ms
FROM calls
GROUP BY caller, callee
ORDER BY calls DESC, caller, callee
LIMIT $limit;
