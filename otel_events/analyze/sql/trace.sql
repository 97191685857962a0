-- trace TRACE_ID: every span and log record of one trace, in time order, then by sequence number.
SELECT * FROM (
    SELECT
        'span' AS kind, trace_id, span_id, parent_span_id, start_time AS "time", duration_ms, service_name,
        name, NULL AS body, CAST(status_code AS VARCHAR) AS status, CAST(category AS VARCHAR) AS category,
        stream_id, seq, correlation_id
    FROM spans
    WHERE trace_id = $trace_id AND /*filter:spans*/TRUE
    UNION ALL
    SELECT
        'log', trace_id, span_id, NULL, "time", NULL, service_name,
        event_name, body, severity_text, CAST(category AS VARCHAR),
        stream_id, seq, correlation_id
    FROM logs
    WHERE trace_id = $trace_id AND /*filter:logs*/TRUE
)
ORDER BY "time", seq NULLS LAST, kind DESC, span_id;
