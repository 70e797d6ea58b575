WITH ev AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, e.session_id AS sid, toDateTime64(dateTrunc($p3, (e.timestamp + toIntervalSecond($p4))), 6) AS b, (e.event = $p0 AND true) AS ms, (e.event = $p1 AND true) AS mr FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp < $p5 AND true AND ((e.event = $p0 AND true) OR (e.event = $p1 AND true))),
act AS MATERIALIZED (SELECT person, b, max(ms) AS s, max(mr AND ts >= $p2) AS r, min(CASE WHEN ms THEN ts END) AS s_ts FROM ev GROUP BY person, b),
starts AS (SELECT person, min(b) AS cohort FROM act WHERE s GROUP BY person HAVING min(s_ts) >= $p2),
returns AS (SELECT person, b FROM act WHERE r) SELECT cohort, NULL AS b, count(*) FROM starts GROUP BY cohort
UNION ALL
SELECT s.cohort, r.b, count(*) FROM starts s JOIN returns r ON r.person = s.person AND r.b > s.cohort GROUP BY s.cohort, r.b
-- params: [('p0', 'signup'), ('p1', 'signup'), ('p2', datetime.datetime(2026, 11, 18, 23, 0)), ('p3', 'day'), ('p4', 3600), ('p5', datetime.datetime(2026, 11, 25, 15, 30, 0, 1))]
