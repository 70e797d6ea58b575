WITH ev AS NOT MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.session_id AS sid, e.timestamp AS ts, CASE WHEN e.event = '$pageview' THEN coalesce(e.pathname, '') WHEN NOT starts_with(e.event, '$') THEN e.event END AS node FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p2 AND e.timestamp < $p3 AND (e.event = '$pageview' OR NOT starts_with(e.event, '$')) AND e.session_id IS NOT NULL AND true),
names AS (SELECT node, row_number() OVER (ORDER BY node) AS k FROM (SELECT DISTINCT node FROM ev)),
fits AS (SELECT count(*) < $p4 AS ok FROM names),
keyed AS (SELECT person, sid, list_sort(list((epoch_us(ev.ts) - epoch_us($p2)) * $p4 + n.k)) AS l FROM ev JOIN names n ON n.node = ev.node WHERE (SELECT ok FROM fits) GROUP BY person, sid),
runs AS (SELECT person, sid, list_filter(l, lambda x, j: j = 1 OR x % $p4 <> l[j - 1] % $p4) AS l FROM keyed),
unpacked AS (SELECT w.person AS person, w.sid AS sid, a.k AS node, w.ts AS ts, w.i AS i, b.k AS nx, w.nx_ts AS nx_ts FROM (SELECT person, sid, node, ts, i, nx, nx_ts FROM (SELECT *, row_number() OVER w AS i, lead(node) OVER w AS nx, lead(ts) OVER w AS nx_ts FROM (SELECT * FROM (SELECT * FROM ev WHERE NOT (SELECT ok FROM fits)) QUALIFY lag(node) OVER (PARTITION BY person, sid ORDER BY ts, node) IS DISTINCT FROM node) WINDOW w AS (PARTITION BY person, sid ORDER BY ts, node))) w JOIN names a ON a.node = w.node LEFT JOIN names b ON b.node = w.nx),
numbered AS (SELECT person, sid, key % $p4 AS node, make_timestamp(epoch_us($p2) + key // $p4) AS ts, i, nkey % $p4 AS nx, make_timestamp(epoch_us($p2) + nkey // $p4) AS nx_ts FROM (SELECT person, sid, i, l[i] AS key, l[i + 1] AS nkey FROM (SELECT person, sid, l, unnest(range(1, len(l) + 1)) AS i FROM runs))
UNION ALL
SELECT * FROM unpacked),
a AS (SELECT person, sid, min(i) AS i0 FROM numbered WHERE node = (SELECT k FROM names WHERE node = $p5) GROUP BY person, sid),
p AS (SELECT x.person AS person, x.sid AS sid, x.node AS node, x.ts AS ts, x.nx AS nx, x.nx_ts AS nx_ts, x.i - a.i0 AS step, x.i + 1 >= a.i0 + $p1 AS last FROM numbered x JOIN a ON a.person = x.person AND a.sid = x.sid WHERE x.i >= a.i0 AND x.i < a.i0 + $p1),
steps AS (SELECT step, node, nx, last, 1 AS c FROM p),
pairs AS MATERIALIZED (SELECT step, node, nx, last, sum(c) AS c FROM steps GROUP BY step, node, nx, last),
counted AS (SELECT step, node, sum(c) AS n FROM pairs GROUP BY step, node),
ranked AS MATERIALIZED (SELECT step, node, n FROM counted QUALIFY row_number() OVER (PARTITION BY step ORDER BY n DESC, node) <= $p0),
edges AS (SELECT x.step AS step, x.node AS source, x.nx AS target, sum(x.c) AS w FROM pairs x JOIN ranked r ON r.step = x.step AND r.node = x.node JOIN ranked t ON t.step = x.step + 1 AND t.node = x.nx WHERE NOT x.last AND x.nx IS NOT NULL GROUP BY x.step, x.node, x.nx) SELECT 'node' AS kind, step, (SELECT nm.node FROM names nm WHERE nm.k = ranked.node) AS node, NULL AS target, n FROM ranked
UNION ALL
SELECT 'edge', step, (SELECT nm.node FROM names nm WHERE nm.k = edges.source), (SELECT nm.node FROM names nm WHERE nm.k = edges.target), w FROM edges WHERE w >= $p6
-- params: [('p0', 10), ('p1', 4), ('p2', datetime.datetime(2026, 11, 17, 23, 0)), ('p3', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p4', 4194304), ('p5', '/pricing'), ('p6', 1)]
