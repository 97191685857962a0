-- export --kind spans: the rows of the public view in the window, as stored (SPEC §7).
SELECT *
FROM spans
WHERE start_time >= $since AND start_time < $until
  AND /*filter:spans*/TRUE
ORDER BY start_time;
