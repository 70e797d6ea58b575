WITH ev AS MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, CAST(NULL AS VARCHAR) AS bv, CASE WHEN (e.event = $p1 AND true) THEN 0 WHEN (e.event = $p2 AND true) THEN 1 WHEN (e.event = $p3 AND true) THEN 2 END AS k FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p4 AND e.timestamp < $p5 AND true AND (CASE WHEN (e.event = $p1 AND true) THEN 0 WHEN (e.event = $p2 AND true) THEN 1 WHEN (e.event = $p3 AND true) THEN 2 END) IS NOT NULL),
a0 AS (SELECT person, bv, ts AS t0 FROM ev WHERE (k = 0)),
r1 AS (SELECT person AS who, min(ts) AS f, max(ts) AS l FROM ev WHERE (k = 1) GROUP BY person),
j1 AS (SELECT a.*, r.f AS f, r.l AS l FROM a0 a LEFT JOIN r1 r ON r.who = a.person),
a1 AS (SELECT a.person, a.bv, a.t0, CASE WHEN a.f > a.t0 AND a.f <= a.t0 + to_microseconds($p0) THEN a.f END AS t1 FROM j1 a WHERE NOT coalesce(a.f <= a.t0 AND a.t0 < a.l, false)
UNION ALL
SELECT a.person, a.bv, a.t0, CASE WHEN n.ts <= a.t0 + to_microseconds($p0) THEN n.ts END AS t1 FROM (SELECT * FROM j1 a WHERE coalesce(a.f <= a.t0 AND a.t0 < a.l, false)) a ASOF LEFT JOIN (SELECT person AS who, ts FROM ev WHERE (k = 1) AND person IN (SELECT person FROM j1 a WHERE coalesce(a.f <= a.t0 AND a.t0 < a.l, false))) n ON a.person = n.who AND a.t0 < n.ts),
r2 AS (SELECT person AS who, min(ts) AS f, max(ts) AS l FROM ev WHERE (k = 2) GROUP BY person),
j2 AS (SELECT a.*, r.f AS f, r.l AS l FROM a1 a LEFT JOIN r2 r ON r.who = a.person WHERE a.t1 IS NOT NULL),
a2 AS (SELECT a.person, a.bv, a.t0, a.t1, CASE WHEN a.f > a.t1 AND a.f <= a.t0 + to_microseconds($p0) THEN a.f END AS t2 FROM j2 a WHERE NOT coalesce(a.f <= a.t1 AND a.t1 < a.l, false)
UNION ALL
SELECT a.person, a.bv, a.t0, a.t1, CASE WHEN n.ts <= a.t0 + to_microseconds($p0) THEN n.ts END AS t2 FROM (SELECT * FROM j2 a WHERE coalesce(a.f <= a.t1 AND a.t1 < a.l, false)) a ASOF LEFT JOIN (SELECT person AS who, ts FROM ev WHERE (k = 2) AND person IN (SELECT person FROM j2 a WHERE coalesce(a.f <= a.t1 AND a.t1 < a.l, false))) n ON a.person = n.who AND a.t1 < n.ts
UNION ALL
SELECT a.person, a.bv, a.t0, a.t1, CASE WHEN false THEN a.t0 END AS t2 FROM a1 a WHERE a.t1 IS NULL),
att AS (SELECT a.*, CAST(a.t0 IS NOT NULL AS INTEGER) + CAST(a.t1 IS NOT NULL AS INTEGER) + CAST(a.t2 IS NOT NULL AS INTEGER) AS steps FROM a2 a  WHERE NOT (false)),
repeats AS (SELECT person AS who FROM a0 GROUP BY person HAVING count(*) > 1),
best AS MATERIALIZED (SELECT * FROM att ANTI JOIN repeats r ON r.who = att.person
UNION ALL
SELECT * FROM (SELECT * FROM att SEMI JOIN repeats r ON r.who = att.person) QUALIFY row_number() OVER (PARTITION BY person ORDER BY steps DESC, t0) = 1),
lined AS (SELECT *, false AS is_other, CAST(NULL AS VARCHAR) AS line FROM best),
d AS (SELECT is_other, line, epoch_us(t2) - epoch_us(t0) AS d FROM lined WHERE t2 IS NOT NULL) SELECT 0 AS kind, is_other, line, [count(t0), count(t1), count(t2)] AS counts, CAST([avg(epoch_us(t1) - epoch_us(t0)), avg(epoch_us(t2) - epoch_us(t1))] AS DOUBLE[]) AS averages, CAST([quantile_cont(epoch_us(t1) - epoch_us(t0), 0.5), quantile_cont(epoch_us(t2) - epoch_us(t1), 0.5)] AS DOUBLE[]) AS medians, NULL AS lo, NULL AS width, NULL AS bin, NULL AS n FROM lined GROUP BY is_other, line
UNION ALL
SELECT 1, is_other, line, NULL, NULL, NULL, NULL, NULL, CASE WHEN d >= $p6 THEN 1 ELSE 0 END + CASE WHEN d >= $p7 THEN 1 ELSE 0 END + CASE WHEN d >= $p8 THEN 1 ELSE 0 END + CASE WHEN d >= $p9 THEN 1 ELSE 0 END + CASE WHEN d >= $p10 THEN 1 ELSE 0 END + CASE WHEN d >= $p11 THEN 1 ELSE 0 END + CASE WHEN d >= $p12 THEN 1 ELSE 0 END + CASE WHEN d >= $p13 THEN 1 ELSE 0 END + CASE WHEN d >= $p14 THEN 1 ELSE 0 END + CASE WHEN d >= $p15 THEN 1 ELSE 0 END + CASE WHEN d >= $p16 THEN 1 ELSE 0 END + CASE WHEN d >= $p17 THEN 1 ELSE 0 END + CASE WHEN d >= $p18 THEN 1 ELSE 0 END + CASE WHEN d >= $p19 THEN 1 ELSE 0 END + CASE WHEN d >= $p20 THEN 1 ELSE 0 END + CASE WHEN d >= $p21 THEN 1 ELSE 0 END + CASE WHEN d >= $p22 THEN 1 ELSE 0 END + CASE WHEN d >= $p23 THEN 1 ELSE 0 END + CASE WHEN d >= $p24 THEN 1 ELSE 0 END + CASE WHEN d >= $p25 THEN 1 ELSE 0 END AS bin, count(*) FROM d GROUP BY is_other, line, bin
-- params: [('p0', 1209600000000), ('p1', 'signup'), ('p10', 60000000), ('p11', 120000000), ('p12', 300000000), ('p13', 600000000), ('p14', 900000000), ('p15', 1800000000), ('p16', 3600000000), ('p17', 7200000000), ('p18', 10800000000), ('p19', 21600000000), ('p2', 'login'), ('p20', 43200000000), ('p21', 86400000000), ('p22', 172800000000), ('p23', 259200000000), ('p24', 432000000000), ('p25', 604800000000), ('p3', 'buy'), ('p4', datetime.datetime(2026, 11, 17, 23, 0)), ('p5', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p6', 1000000), ('p7', 5000000), ('p8', 10000000), ('p9', 30000000)]
