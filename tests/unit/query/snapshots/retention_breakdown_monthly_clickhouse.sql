WITH ev AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, e.session_id AS sid, toDateTime64(dateTrunc($p1, (e.timestamp + toIntervalSecond(CASE WHEN e.timestamp < $p2 THEN $p3 ELSE $p4 END))), 6) AS b, (true AND true) AS ms, (true AND true) AS mr FROM {events} e LEFT ANY JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp < $p5 AND true AND ((true AND true) OR (true AND true))),
act AS MATERIALIZED (SELECT person, b, max(ms) AS s, max(mr AND ts >= $p0) AS r, min(CASE WHEN ms THEN ts END) AS s_ts FROM ev GROUP BY person, b),
starts AS (SELECT person, min(b) AS cohort FROM act WHERE s GROUP BY person HAVING min(s_ts) >= $p0),
returns AS (SELECT person, b FROM act WHERE r),
sb AS (SELECT x.*, multiIf(JSONType(p.properties, $p7) = 'String', JSONExtractString(p.properties, $p7), JSONType(p.properties, $p7) = 'Null', NULL, JSONExtractRaw(p.properties, $p7)) AS bv FROM starts x LEFT JOIN {persons} p ON p.id = x.person),
top AS (SELECT bv AS top_bv FROM sb WHERE bv IS NOT NULL GROUP BY bv ORDER BY count(DISTINCT person) DESC, bv LIMIT $p6),
ls AS (SELECT lr.*, t.top_bv IS NULL AND lr.bv IS NOT NULL AS is_other, CASE WHEN t.top_bv IS NULL THEN NULL ELSE lr.bv END AS line FROM sb lr LEFT JOIN top t ON t.top_bv = lr.bv) SELECT is_other, line, cohort, NULL AS b, count(*) FROM ls GROUP BY is_other, line, cohort
UNION ALL
SELECT s.is_other, s.line, s.cohort, r.b, count(*) FROM ls s JOIN returns r ON r.person = s.person AND r.b > s.cohort GROUP BY s.is_other, s.line, s.cohort, r.b
-- params: [('p0', datetime.datetime(2026, 3, 31, 22, 0)), ('p1', 'month'), ('p2', datetime.datetime(2026, 10, 25, 1, 0)), ('p3', 7200), ('p4', 3600), ('p5', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p6', 10), ('p7', 'plan')]
