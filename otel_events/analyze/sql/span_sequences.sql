-- patterns --spans: recurring parent -> children operation sequences. Children of each parent span are listed
-- in start order; identical sequences under the same parent operation are counted together.
WITH s AS (
    SELECT trace_id, span_id, parent_span_id, service_name, name, start_time
    FROM spans
    WHERE start_time >= $since AND start_time < $until
      AND /*filter:spans*/TRUE
),
children AS (
    SELECT trace_id, parent_span_id, string_agg(name, ' -> ' ORDER BY start_time, name) AS sequence
    FROM s
    WHERE parent_span_id IS NOT NULL
    GROUP BY trace_id, parent_span_id
)
SELECT
    p.service_name,
    p.name AS parent,
    c.sequence,
    count(*) AS count,
    min(p.start_time) AS first_seen,
    max(p.start_time) AS last_seen
FROM children AS c
JOIN s AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
GROUP BY p.service_name, p.name, c.sequence
HAVING count(*) >= $min_count
ORDER BY count DESC, p.service_name, parent, c.sequence
LIMIT $limit;
