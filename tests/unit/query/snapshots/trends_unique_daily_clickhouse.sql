WITH s0 AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, e.session_id AS session_id, toFloat64OrNull(CAST(NULL AS Nullable(String))) AS x, CAST(NULL AS Nullable(String)) AS bv, toDateTime64(dateTrunc($p2, (e.timestamp + toIntervalSecond($p3))), 6) AS bucket FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p0 AND e.timestamp < $p1 AND e.event = $p4 AND true),
u0 AS MATERIALIZED (SELECT DISTINCT bucket, person FROM s0) SELECT 0 AS series, false AS is_other, CAST(NULL AS Nullable(String)) AS breakdown, bucket, count(person) AS value FROM u0 GROUP BY bucket
UNION ALL
SELECT 0 AS series, false AS is_other, CAST(NULL AS Nullable(String)) AS breakdown, NULL, count(DISTINCT person) FROM u0
-- params: [('p0', datetime.datetime(2026, 11, 17, 23, 0)), ('p1', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p2', 'day'), ('p3', 3600), ('p4', 'signup')]
