WITH ev AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, e.session_id AS sid, toDateTime64(dateTrunc($p1, (e.timestamp + toIntervalSecond($p2))), 6) AS b, CASE WHEN (true AND true) THEN multiIf(JSONType(e.properties, $p3) = 'String', JSONExtractString(e.properties, $p3), JSONType(e.properties, $p3) = 'Null', NULL, JSONExtractRaw(e.properties, $p3)) END AS bv, (true AND true) AS ms, (true AND true) AS mr FROM {events} e LEFT ANY JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp < $p4 AND e.timestamp >= $p0 AND true AND ((true AND true) OR (true AND true))),
act AS MATERIALIZED (SELECT person, b, max(ms) AS s, max(mr AND ts >= $p0) AS r, min(CASE WHEN ms THEN ts END) AS s_ts, min(tuple(ts, tuple(bv IS NULL, coalesce(bv, '')))) FILTER (WHERE ms) AS fv FROM ev GROUP BY person, b),
starts AS (SELECT person, b AS cohort, fv FROM act WHERE s),
returns AS (SELECT person, b FROM act WHERE r),
sb AS (SELECT person, cohort, CASE WHEN tupleElement(tupleElement(fv, 2), 1) THEN NULL ELSE tupleElement(tupleElement(fv, 2), 2) END AS bv FROM starts),
top AS (SELECT bv AS top_bv FROM sb WHERE bv IS NOT NULL GROUP BY bv ORDER BY count(DISTINCT person) DESC, bv LIMIT $p5),
ls AS (SELECT lr.*, t.top_bv IS NULL AND lr.bv IS NOT NULL AS is_other, CASE WHEN t.top_bv IS NULL THEN NULL ELSE lr.bv END AS line FROM sb lr LEFT JOIN top t ON t.top_bv = lr.bv) SELECT is_other, line, cohort, NULL AS b, count(*) FROM ls GROUP BY is_other, line, cohort
UNION ALL
SELECT s.is_other, s.line, s.cohort, r.b, count(*) FROM ls s JOIN returns r ON r.person = s.person AND r.b > s.cohort GROUP BY s.is_other, s.line, s.cohort, r.b
-- params: [('p0', datetime.datetime(2026, 11, 18, 23, 0)), ('p1', 'day'), ('p2', 3600), ('p3', 'plan'), ('p4', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p5', 10)]
