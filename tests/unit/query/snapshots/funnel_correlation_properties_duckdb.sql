WITH ev AS MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.timestamp AS ts, json_extract_string(e.properties, $p9) AS bv, CASE WHEN (e.event = $p3 AND true) THEN 0 WHEN (e.event = $p4 AND coalesce(json_extract_string(e.properties, $p5) = $p6, false)) THEN 1 WHEN (e.event = $p7 AND true) THEN 2 WHEN (e.event = $p8 AND true) THEN 3 END AS k FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p10 AND e.timestamp < $p11 AND true AND true),
a0 AS (SELECT person, bv, ts AS t0 FROM ev WHERE (k = 0)),
a1 AS (SELECT a.*, CASE WHEN n.ts <= a.t0 + to_microseconds($p1) AND n.ts = nx.ts THEN n.ts END AS t1 FROM (SELECT * FROM a0 a WHERE coalesce(a.person IN (SELECT person FROM ev WHERE (k = 1)), false)) a ASOF LEFT JOIN (SELECT person AS who, ts FROM ev WHERE (k = 1)) n ON a.person = n.who AND a.t0 < n.ts ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev) nx ON a.person = nx.who AND a.t0 < nx.ts
UNION ALL
SELECT a.*, CASE WHEN false THEN a.t0 END AS t1 FROM a0 a WHERE NOT coalesce(a.person IN (SELECT person FROM ev WHERE (k = 1)), false)),
a2 AS (SELECT a.*, CASE WHEN n.ts <= a.t0 + to_microseconds($p1) AND n.ts = nx.ts THEN n.ts END AS t2 FROM (SELECT * FROM a1 a WHERE coalesce(a.person IN (SELECT person FROM ev WHERE (k = 2)) AND a.t1 IS NOT NULL, false)) a ASOF LEFT JOIN (SELECT person AS who, ts FROM ev WHERE (k = 2)) n ON a.person = n.who AND a.t1 < n.ts ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev) nx ON a.person = nx.who AND a.t1 < nx.ts
UNION ALL
SELECT a.*, CASE WHEN false THEN a.t1 END AS t2 FROM a1 a WHERE NOT coalesce(a.person IN (SELECT person FROM ev WHERE (k = 2)) AND a.t1 IS NOT NULL, false)),
att AS (SELECT a.*, CAST(a.t0 IS NOT NULL AS INTEGER) + CAST(a.t1 IS NOT NULL AS INTEGER) + CAST(a.t2 IS NOT NULL AS INTEGER) AS steps FROM a2 a ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev WHERE (k = 3)) x0 ON a.person = x0.who AND a.t1 < x0.ts WHERE NOT (coalesce(CASE WHEN a.t2 IS NOT NULL THEN x0.ts < a.t2 ELSE x0.ts <= a.t0 + to_microseconds($p1) END, false))),
repeats AS (SELECT person AS who FROM a0 GROUP BY person HAVING count(*) > 1),
best AS MATERIALIZED (SELECT * FROM att ANTI JOIN repeats r ON r.who = att.person
UNION ALL
SELECT * FROM (SELECT * FROM att SEMI JOIN repeats r ON r.who = att.person) QUALIFY row_number() OVER (PARTITION BY person ORDER BY steps DESC, t0, bv NULLS LAST) = 1),
top AS (SELECT bv AS top_bv FROM best WHERE bv IS NOT NULL GROUP BY bv ORDER BY count(*) DESC, bv LIMIT $p2),
lined AS MATERIALIZED (SELECT lr.*, t.top_bv IS NULL AND lr.bv IS NOT NULL AS is_other, CASE WHEN t.top_bv IS NULL THEN NULL ELSE lr.bv END AS line FROM best lr LEFT JOIN top t ON t.top_bv = lr.bv),
cf AS (SELECT person, epoch_us(t0) AS s, CASE WHEN t2 IS NOT NULL THEN epoch_us(t2) ELSE epoch_us(t0) + $p0 END AS u, t2 IS NOT NULL AS won FROM lined WHERE true),
cv AS (SELECT * FROM (SELECT cf.person AS person, cf.won AS won, $p12 AS name, json_extract_string(p.properties, $p13) AS value FROM cf JOIN {persons} p ON p.id = cf.person
UNION ALL
SELECT cf.person AS person, cf.won AS won, $p14 AS name, json_extract_string(p.properties, $p15) AS value FROM cf JOIN {persons} p ON p.id = cf.person) v WHERE value IS NOT NULL) SELECT 0 AS kind, CAST(NULL AS VARCHAR) AS name, CAST(NULL AS VARCHAR) AS value, sum(CASE WHEN won THEN 1 ELSE 0 END), sum(CASE WHEN won THEN 0 ELSE 1 END) FROM cf
UNION ALL
SELECT 1 AS kind, name, value, sum(CASE WHEN won THEN 1 ELSE 0 END), sum(CASE WHEN won THEN 0 ELSE 1 END) FROM cv GROUP BY name, value
-- params: [('p0', 604800000000), ('p1', 604800000000), ('p10', datetime.datetime(2026, 11, 17, 23, 0)), ('p11', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p12', 'plan'), ('p13', '/plan'), ('p14', '$geoip_country_code'), ('p15', '/$geoip_country_code'), ('p2', 10), ('p3', 'landing'), ('p4', 'signup'), ('p5', '/plan'), ('p6', 'pro'), ('p7', 'checkout'), ('p8', 'cancel'), ('p9', '/$browser')]
