-- export --kind metric_points: the rows of the public view in the window, as stored (SPEC §7).
SELECT *
FROM metric_points
WHERE "time" >= $since AND "time" < $until
  AND /*filter:metric_points*/TRUE
ORDER BY "time";
