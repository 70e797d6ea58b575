WITH ev AS MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, e.session_id AS sid, toDateTime64(dateTrunc($p2, (e.timestamp + toIntervalSecond($p3))), 6) AS b, (e.event = $p0 AND true) AS m0, (e.event = $p1 AND true) AS m1 FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p4 AND e.timestamp < $p5 AND true AND ((e.event = $p0 AND true) OR (e.event = $p1 AND true))),
counts AS (SELECT 0 AS series, person, count(DISTINCT b) AS n FROM ev WHERE m0 GROUP BY person
UNION ALL
SELECT 1 AS series, person, count(DISTINCT b) AS n FROM ev WHERE m1 GROUP BY person) SELECT series, n, count(*) FROM counts GROUP BY series, n
-- params: [('p0', 'login'), ('p1', 'export'), ('p2', 'day'), ('p3', 3600), ('p4', datetime.datetime(2026, 11, 17, 23, 0)), ('p5', datetime.datetime(2026, 11, 25, 15, 30, 0, 1))]
