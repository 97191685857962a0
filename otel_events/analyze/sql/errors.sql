-- errors (SPEC §6): one row whose columns are the sections of the error report. Errors are spans with status
-- ERROR; `critical` counts every span classified critical (errors, exception events, critical names).
-- One scan grouped per operation feeds every count below: reading the spans once per section (a shared CTE of
-- every span) cost 893 ms at 10M spans against ~300 ms for this (bench_analyze.py).
WITH ops AS (
    SELECT
        service_name,
        name,
        count(*) AS n,
        count(*) FILTER (WHERE status_code = 'error') AS errors,
        count(*) FILTER (WHERE category = 'critical') AS critical
    FROM spans
    WHERE start_time >= $since AND start_time < $until
      AND /*filter:spans*/TRUE
    GROUP BY service_name, name
),
-- span events are read for error spans only: loading them for every span tripled the cost (bench_analyze.py)
e AS (
    SELECT
        trace_id, span_id, service_name, name, start_time, status_message,
        -- the first exception event carries the type and message the application recorded
        list_filter(events, ev -> ev.name = 'exception')[1] AS exception
    FROM spans
    WHERE status_code = 'error'
      AND start_time >= $since AND start_time < $until
      AND /*filter:spans*/TRUE
),
em AS (
    SELECT
        *,
        coalesce(exception.attributes['exception.type'], '(none)') AS exception_type,
        coalesce(nullif(status_message, ''), exception.attributes['exception.message'], '(no message)') AS message
    FROM e
)
SELECT
    (SELECT CAST(coalesce(sum(errors), 0) AS BIGINT) FROM ops) AS total,
    (SELECT CAST(coalesce(sum(critical), 0) AS BIGINT) FROM ops) AS critical,
    (SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM ops) AS spans,
    (SELECT coalesce(sum(errors), 0) / greatest(coalesce(sum(n), 0), 1) FROM ops) AS error_rate,
    (
        SELECT coalesce(list({'service_name': service_name, 'errors': errors, 'spans': n, 'error_rate': errors / n}
                        ORDER BY errors DESC, service_name), [])
        FROM (SELECT service_name, CAST(sum(errors) AS BIGINT) AS errors, CAST(sum(n) AS BIGINT) AS n
              FROM ops GROUP BY service_name)
        WHERE errors > 0
    ) AS by_service,
    (
        SELECT coalesce(list({'service_name': service_name, 'name': name, 'errors': errors, 'spans': n,
                              'error_rate': errors / n} ORDER BY errors DESC, service_name, name), [])
        FROM ops
        WHERE errors > 0
    ) AS by_operation,
    (
        SELECT coalesce(list({'exception_type': exception_type, 'count': n} ORDER BY n DESC, exception_type), [])
        FROM (SELECT exception_type, count(*) AS n FROM em GROUP BY exception_type)
    ) AS by_exception_type,
    (
        SELECT coalesce(list({'message': message, 'count': n} ORDER BY n DESC, message), [])
        FROM (SELECT message, count(*) AS n FROM em GROUP BY message ORDER BY n DESC, message LIMIT $limit)
    ) AS top_messages,
    (
        SELECT coalesce(list({'time': start_time, 'trace_id': trace_id, 'span_id': span_id,
                              'service_name': service_name, 'name': name, 'exception_type': exception_type,
                              'message': message} ORDER BY start_time DESC, span_id), [])
        FROM (SELECT * FROM em ORDER BY start_time DESC, span_id LIMIT $limit)
    ) AS recent;
