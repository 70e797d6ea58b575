WITH ev AS MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, CAST(NULL AS VARCHAR) AS bv, CASE WHEN (e.event = $p1 AND true) THEN 0 WHEN (e.event = $p2 AND true) THEN 1 END AS k FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p3 AND e.timestamp < $p4 AND true AND (CASE WHEN (e.event = $p1 AND true) THEN 0 WHEN (e.event = $p2 AND true) THEN 1 END) IS NOT NULL),
a0 AS (SELECT person, bv, ts AS t0 FROM ev WHERE (k = 0)),
r1 AS (SELECT person AS who, min(ts) AS f, max(ts) AS l FROM ev WHERE (k = 1) GROUP BY person),
j1 AS (SELECT a.*, r.f AS f, r.l AS l FROM a0 a LEFT JOIN r1 r ON r.who = a.person),
a1 AS (SELECT a.person, a.bv, a.t0, CASE WHEN a.f > a.t0 AND a.f <= a.t0 + to_microseconds($p0) THEN a.f END AS t1 FROM j1 a WHERE NOT coalesce(a.f <= a.t0 AND a.t0 < a.l, false)
UNION ALL
SELECT a.person, a.bv, a.t0, CASE WHEN n.ts <= a.t0 + to_microseconds($p0) THEN n.ts END AS t1 FROM (SELECT * FROM j1 a WHERE coalesce(a.f <= a.t0 AND a.t0 < a.l, false)) a ASOF LEFT JOIN (SELECT person AS who, ts FROM ev WHERE (k = 1) AND person IN (SELECT person FROM j1 a WHERE coalesce(a.f <= a.t0 AND a.t0 < a.l, false))) n ON a.person = n.who AND a.t0 < n.ts),
att AS (SELECT a.*, CAST(a.t0 IS NOT NULL AS INTEGER) + CAST(a.t1 IS NOT NULL AS INTEGER) AS steps FROM a1 a  WHERE NOT (false)),
repeats AS (SELECT person AS who FROM a0 GROUP BY person HAVING count(*) > 1),
best AS MATERIALIZED (SELECT * FROM att ANTI JOIN repeats r ON r.who = att.person
UNION ALL
SELECT * FROM (SELECT * FROM att SEMI JOIN repeats r ON r.who = att.person) QUALIFY row_number() OVER (PARTITION BY person ORDER BY steps DESC, t0) = 1),
lined AS (SELECT *, false AS is_other, CAST(NULL AS VARCHAR) AS line FROM best),
d AS (SELECT is_other, line, epoch_us(t1) - epoch_us(t0) AS d FROM lined WHERE t1 IS NOT NULL),
r AS (SELECT is_other, line, d, min(d) OVER w AS lo, (max(d) OVER w - min(d) OVER w) // ($p5) + 1 AS width FROM d WINDOW w AS (PARTITION BY is_other, line)) SELECT 0 AS kind, is_other, line, [count(t0), count(t1)] AS counts, CAST([avg(epoch_us(t1) - epoch_us(t0))] AS DOUBLE[]) AS averages, CAST([quantile_cont(epoch_us(t1) - epoch_us(t0), 0.5)] AS DOUBLE[]) AS medians, NULL AS lo, NULL AS width, NULL AS bin, NULL AS n FROM lined GROUP BY is_other, line
UNION ALL
SELECT 1, is_other, line, NULL, NULL, NULL, lo, width, (d - lo) // (width) AS bin, count(*) FROM r GROUP BY is_other, line, lo, width, bin
-- params: [('p0', 1209600000000), ('p1', 'signup'), ('p2', 'buy'), ('p3', datetime.datetime(2026, 11, 17, 23, 0)), ('p4', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p5', 10)]
