WITH ev AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, assumeNotNull(e.session_id) AS sid, e.timestamp AS ts, CASE WHEN e.event = '$pageview' THEN coalesce(e.pathname, '') WHEN NOT startsWith(e.event, '$') THEN e.event END AS node FROM {events} e LEFT ANY JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p2 AND e.timestamp < $p3 AND (e.event = '$pageview' OR NOT startsWith(e.event, '$')) AND e.session_id IS NOT NULL AND true),
numbered AS (SELECT person, sid, node, ts, i, nx, nx_ts FROM (SELECT *, row_number() OVER w AS i, lead(toNullable(node)) OVER w AS nx, lead(toNullable(ts)) OVER w AS nx_ts FROM (SELECT * FROM ev QUALIFY lag(toNullable(node)) OVER (PARTITION BY person, sid ORDER BY ts, node) IS DISTINCT FROM node) WINDOW w AS (PARTITION BY person, sid ORDER BY ts, node))),
a AS (SELECT person, sid, min(i) AS i0 FROM numbered WHERE node = $p4 GROUP BY person, sid),
p AS (SELECT x.person AS person, x.sid AS sid, x.node AS node, x.ts AS ts, x.nx AS nx, x.nx_ts AS nx_ts, x.i - a.i0 AS step, x.i + 1 >= a.i0 + $p1 AS last FROM numbered x JOIN a ON a.person = x.person AND a.sid = x.sid WHERE x.i >= a.i0 AND x.i < a.i0 + $p1),
steps AS (SELECT step, node, nx, last, 1 AS c FROM p),
pairs AS MATERIALIZED (SELECT step, node, nx, last, sum(c) AS c FROM steps GROUP BY step, node, nx, last),
counted AS (SELECT step, node, sum(c) AS n FROM pairs GROUP BY step, node),
ranked AS MATERIALIZED (SELECT step, node, n FROM counted QUALIFY row_number() OVER (PARTITION BY step ORDER BY n DESC, node) <= $p0),
edges AS (SELECT x.step AS step, x.node AS source, x.nx AS target, sum(x.c) AS w FROM pairs x JOIN ranked r ON r.step = x.step AND r.node = x.node JOIN ranked t ON t.step = x.step + 1 AND t.node = x.nx WHERE NOT x.last AND x.nx IS NOT NULL GROUP BY x.step, x.node, x.nx) SELECT 'node' AS kind, step, ranked.node AS node, NULL AS target, n FROM ranked
UNION ALL
SELECT 'edge', step, edges.source, edges.target, w FROM edges WHERE w >= $p5
-- params: [('p0', 10), ('p1', 4), ('p2', datetime.datetime(2026, 11, 17, 23, 0)), ('p3', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p4', '/pricing'), ('p5', 1)]
