-- export --kind logs: the rows of the public view in the window, as stored (SPEC §7).
SELECT *
FROM logs
WHERE "time" >= $since AND "time" < $until
  AND /*filter:logs*/TRUE
ORDER BY "time";
