WITH ev AS MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, json_extract_string(e.properties, $p8) AS bv, CASE WHEN (e.event = $p2 AND true) THEN 0 WHEN (e.event = $p3 AND coalesce(json_extract_string(e.properties, $p4) = $p5, false)) THEN 1 WHEN (e.event = $p6 AND true) THEN 2 WHEN (e.event = $p7 AND true) THEN 3 END AS k FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p9 AND e.timestamp < $p10 AND true AND true),
a0 AS (SELECT person, bv, ts AS t0 FROM ev WHERE (k = 0)),
a1 AS (SELECT a.*, CASE WHEN n.ts <= a.t0 + to_microseconds($p0) AND n.ts = nx.ts THEN n.ts END AS t1 FROM (SELECT * FROM a0 a WHERE coalesce(a.person IN (SELECT person FROM ev WHERE (k = 1)), false)) a ASOF LEFT JOIN (SELECT person AS who, ts FROM ev WHERE (k = 1)) n ON a.person = n.who AND a.t0 < n.ts ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev) nx ON a.person = nx.who AND a.t0 < nx.ts
UNION ALL
SELECT a.*, CASE WHEN false THEN a.t0 END AS t1 FROM a0 a WHERE NOT coalesce(a.person IN (SELECT person FROM ev WHERE (k = 1)), false)),
a2 AS (SELECT a.*, CASE WHEN n.ts <= a.t0 + to_microseconds($p0) AND n.ts = nx.ts THEN n.ts END AS t2 FROM (SELECT * FROM a1 a WHERE coalesce(a.person IN (SELECT person FROM ev WHERE (k = 2)) AND a.t1 IS NOT NULL, false)) a ASOF LEFT JOIN (SELECT person AS who, ts FROM ev WHERE (k = 2)) n ON a.person = n.who AND a.t1 < n.ts ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev) nx ON a.person = nx.who AND a.t1 < nx.ts
UNION ALL
SELECT a.*, CASE WHEN false THEN a.t1 END AS t2 FROM a1 a WHERE NOT coalesce(a.person IN (SELECT person FROM ev WHERE (k = 2)) AND a.t1 IS NOT NULL, false)),
att AS (SELECT a.*, CAST(a.t0 IS NOT NULL AS INTEGER) + CAST(a.t1 IS NOT NULL AS INTEGER) + CAST(a.t2 IS NOT NULL AS INTEGER) AS steps FROM a2 a ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev WHERE (k = 3)) x0 ON a.person = x0.who AND a.t1 < x0.ts WHERE NOT (coalesce(CASE WHEN a.t2 IS NOT NULL THEN x0.ts < a.t2 ELSE x0.ts <= a.t0 + to_microseconds($p0) END, false))),
repeats AS (SELECT person AS who FROM a0 GROUP BY person HAVING count(*) > 1),
best AS MATERIALIZED (SELECT * FROM att ANTI JOIN repeats r ON r.who = att.person
UNION ALL
SELECT * FROM (SELECT * FROM att SEMI JOIN repeats r ON r.who = att.person) QUALIFY row_number() OVER (PARTITION BY person ORDER BY steps DESC, t0, bv NULLS LAST) = 1),
top AS (SELECT bv AS top_bv FROM best WHERE bv IS NOT NULL GROUP BY bv ORDER BY count(*) DESC, bv LIMIT $p1),
lined AS MATERIALIZED (SELECT b.*, t.top_bv IS NULL AND b.bv IS NOT NULL AS is_other, CASE WHEN t.top_bv IS NULL THEN NULL ELSE b.bv END AS line FROM best b LEFT JOIN top t ON t.top_bv = b.bv),
d AS (SELECT is_other, line, epoch_us(t2) - epoch_us(t0) AS d FROM lined WHERE t2 IS NOT NULL),
r AS (SELECT is_other, line, d, min(d) OVER w AS lo, (max(d) OVER w - min(d) OVER w) // ($p11) + 1 AS width FROM d WINDOW w AS (PARTITION BY is_other, line)) SELECT 0 AS kind, is_other, line, [count(t0), count(t1), count(t2)] AS counts, CAST([avg(epoch_us(t1) - epoch_us(t0)), avg(epoch_us(t2) - epoch_us(t1))] AS DOUBLE[]) AS averages, CAST([quantile_cont(epoch_us(t1) - epoch_us(t0), 0.5), quantile_cont(epoch_us(t2) - epoch_us(t1), 0.5)] AS DOUBLE[]) AS medians, NULL AS lo, NULL AS width, NULL AS bin, NULL AS n FROM lined GROUP BY is_other, line
UNION ALL
SELECT 1, is_other, line, NULL, NULL, NULL, lo, width, (d - lo) // (width) AS bin, count(*) FROM r GROUP BY is_other, line, lo, width, bin
-- params: [('p0', 604800000000), ('p1', 10), ('p10', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p11', 10), ('p2', 'landing'), ('p3', 'signup'), ('p4', '/plan'), ('p5', 'pro'), ('p6', 'checkout'), ('p7', 'cancel'), ('p8', '/$browser'), ('p9', datetime.datetime(2026, 11, 17, 23, 0))]
