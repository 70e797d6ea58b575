WITH ev AS NOT MATERIALIZED (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.session_id AS sid, e.timestamp AS ts, CASE WHEN e.event = '$pageview' THEN regexp_replace(coalesce(e.pathname, ''), $p2, $p3, 'g') END AS node FROM {events} e LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p5 AND e.timestamp < $p6 AND ((e.event = '$pageview') AND NOT coalesce(list_contains($p4, CASE WHEN e.event = '$pageview' THEN regexp_replace(coalesce(e.pathname, ''), $p2, $p3, 'g') END), false)) AND e.session_id IS NOT NULL AND true),
names AS (SELECT node, row_number() OVER (ORDER BY node) AS k FROM (SELECT DISTINCT node FROM ev)),
fits AS (SELECT count(*) < $p7 AS ok FROM names),
keyed AS (SELECT person, sid, list_sort(list((epoch_us(ev.ts) - epoch_us($p5)) * $p7 + n.k)) AS l FROM ev JOIN names n ON n.node = ev.node WHERE (SELECT ok FROM fits) GROUP BY person, sid),
runs AS (SELECT person, sid, list_filter(l, lambda x, j: j = 1 OR x % $p7 <> l[j - 1] % $p7) AS l FROM keyed),
unpacked AS (SELECT w.person AS person, w.sid AS sid, a.k AS node, w.ts AS ts, w.i AS i, b.k AS nx, w.nx_ts AS nx_ts FROM (SELECT person, sid, node, ts, i, nx, nx_ts FROM (SELECT *, row_number() OVER w AS i, lead(node) OVER w AS nx, lead(ts) OVER w AS nx_ts FROM (SELECT * FROM (SELECT * FROM ev WHERE NOT (SELECT ok FROM fits)) QUALIFY lag(node) OVER (PARTITION BY person, sid ORDER BY ts, node) IS DISTINCT FROM node) WINDOW w AS (PARTITION BY person, sid ORDER BY ts, node))) w JOIN names a ON a.node = w.node LEFT JOIN names b ON b.node = w.nx),
prefixes AS (SELECT list_transform(l[1:$p1], lambda x: x % $p7) AS pre, count(*) AS c FROM runs GROUP BY pre),
steps AS (SELECT i - 1 AS step, pre[i] AS node, pre[i + 1] AS nx, i >= $p1 AS last, c FROM (SELECT pre, c, unnest(range(1, len(pre) + 1)) AS i FROM prefixes)
UNION ALL
SELECT i - 1, node, nx, i >= $p1, 1 FROM unpacked WHERE i <= $p1),
pairs AS MATERIALIZED (SELECT step, node, nx, last, sum(c) AS c FROM steps GROUP BY step, node, nx, last),
counted AS (SELECT step, node, sum(c) AS n FROM pairs GROUP BY step, node),
ranked AS MATERIALIZED (SELECT step, node, n FROM counted QUALIFY row_number() OVER (PARTITION BY step ORDER BY n DESC, node) <= $p0),
edges AS (SELECT x.step AS step, x.node AS source, x.nx AS target, sum(x.c) AS w FROM pairs x JOIN ranked r ON r.step = x.step AND r.node = x.node JOIN ranked t ON t.step = x.step + 1 AND t.node = x.nx WHERE NOT x.last AND x.nx IS NOT NULL GROUP BY x.step, x.node, x.nx) SELECT 'node' AS kind, step, (SELECT nm.node FROM names nm WHERE nm.k = ranked.node) AS node, NULL AS target, n FROM ranked
UNION ALL
SELECT 'edge', step, (SELECT nm.node FROM names nm WHERE nm.k = edges.source), (SELECT nm.node FROM names nm WHERE nm.k = edges.target), w FROM edges WHERE w >= $p8
-- params: [('p0', 10), ('p1', 4), ('p2', '^/product/\\d+'), ('p3', '/product/:id'), ('p4', ['/login']), ('p5', datetime.datetime(2026, 11, 17, 23, 0)), ('p6', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p7', 4194304), ('p8', 1)]
