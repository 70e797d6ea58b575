WITH ev AS MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, e.session_id AS sid, CAST(NULL AS VARCHAR) AS bv, CASE WHEN (e.event = $p3 AND true) THEN 0 WHEN (e.event = $p4 AND true) THEN 1 END AS k FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p5 AND e.timestamp < $p6 AND true AND (CASE WHEN (e.event = $p3 AND true) THEN 0 WHEN (e.event = $p4 AND true) THEN 1 END) IS NOT NULL),
a0 AS (SELECT person, bv, ts AS t0, sid AS s0 FROM ev WHERE (k = 0)),
a1 AS (SELECT a.*, CASE WHEN n.ts <= a.t0 + to_microseconds($p2) THEN n.ts END AS t1, CASE WHEN n.ts <= a.t0 + to_microseconds($p2) THEN n.sid END AS s1 FROM (SELECT * FROM a0 a WHERE coalesce(a.person IN (SELECT person FROM ev WHERE (k = 1)), false)) a ASOF LEFT JOIN (SELECT person AS who, ts, min(sid) AS sid FROM ev WHERE (k = 1) GROUP BY person, ts) n ON a.person = n.who AND a.t0 < n.ts
UNION ALL
SELECT a.*, CASE WHEN false THEN a.t0 END AS t1, CASE WHEN false THEN a.s0 END AS s1 FROM a0 a WHERE NOT coalesce(a.person IN (SELECT person FROM ev WHERE (k = 1)), false)),
att AS (SELECT a.*, CAST(a.t0 IS NOT NULL AS INTEGER) + CAST(a.t1 IS NOT NULL AS INTEGER) AS steps FROM a1 a  WHERE NOT (false)),
repeats AS (SELECT person AS who FROM a0 GROUP BY person HAVING count(*) > 1),
best AS MATERIALIZED (SELECT * FROM att ANTI JOIN repeats r ON r.who = att.person
UNION ALL
SELECT * FROM (SELECT * FROM att SEMI JOIN repeats r ON r.who = att.person) QUALIFY row_number() OVER (PARTITION BY person ORDER BY steps DESC, t0, s0 NULLS LAST) = 1),
lined AS (SELECT *, false AS is_other, CAST(NULL AS VARCHAR) AS line FROM best),
picked AS (SELECT person, t1 AS moment, s1 AS session FROM lined WHERE t1 IS NOT NULL AND epoch_us(t1) - epoch_us(t0) >= $p0 AND epoch_us(t1) - epoch_us(t0) < $p1) SELECT CAST(k.person AS VARCHAR), (SELECT list(d.distinct_id ORDER BY d.distinct_id) FROM {person_distinct_ids} d WHERE d.person_id = k.person), CAST(p.properties AS VARCHAR), k.moment, k.session, (SELECT count(*) FROM picked) FROM picked k LEFT JOIN {persons} p ON p.id = k.person ORDER BY k.moment DESC NULLS LAST, k.person LIMIT $p7 OFFSET $p8
-- params: [('p0', 60000000), ('p1', 120000000), ('p2', 1209600000000), ('p3', 'signup'), ('p4', 'buy'), ('p5', datetime.datetime(2026, 11, 17, 23, 0)), ('p6', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p7', 100), ('p8', 0)]
