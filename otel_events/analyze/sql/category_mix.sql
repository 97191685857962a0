-- report: how many spans and log records of each category the window holds (category chart).
SELECT 'spans' AS signal, CAST(category AS VARCHAR) AS category, count(*) AS count
FROM spans
WHERE start_time >= $since AND start_time < $until AND /*filter:spans*/TRUE
GROUP BY ALL
UNION ALL
SELECT 'logs', CAST(category AS VARCHAR), count(*)
FROM logs
WHERE "time" >= $since AND "time" < $until AND /*filter:logs*/TRUE
GROUP BY ALL
ORDER BY signal DESC, category;
