WITH ev AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, assumeNotNull(e.session_id) AS sid, e.timestamp AS ts, CASE WHEN e.event = '$pageview' THEN replaceRegexpAll(coalesce(e.pathname, ''), $p2, $p3) END AS node FROM {events} e LEFT ANY JOIN {person_overrides} o ON o.old_person_id = e.person_id WHERE e.timestamp >= $p5 AND e.timestamp < $p6 AND ((e.event = '$pageview') AND NOT coalesce(has($p4, CASE WHEN e.event = '$pageview' THEN replaceRegexpAll(coalesce(e.pathname, ''), $p2, $p3) END), false)) AND e.session_id IS NOT NULL AND true),
runs AS (SELECT arraySlice(arrayCompact(arrayMap(x -> x.2, arraySort(groupArray((ts, node))))), 1, $p1) AS pre FROM ev GROUP BY person, sid),
steps AS (SELECT i - 1 AS step, pre[i] AS node, if(i < length(pre), toNullable(pre[i + 1]), NULL) AS nx, i >= $p1 AS last, 1 AS c FROM runs ARRAY JOIN arrayEnumerate(pre) AS i),
pairs AS MATERIALIZED (SELECT step, node, nx, last, sum(c) AS c FROM steps GROUP BY step, node, nx, last),
counted AS (SELECT step, node, sum(c) AS n FROM pairs GROUP BY step, node),
ranked AS MATERIALIZED (SELECT step, node, n FROM counted QUALIFY row_number() OVER (PARTITION BY step ORDER BY n DESC, node) <= $p0),
edges AS (SELECT x.step AS step, x.node AS source, x.nx AS target, sum(x.c) AS w FROM pairs x JOIN ranked r ON r.step = x.step AND r.node = x.node JOIN ranked t ON t.step = x.step + 1 AND t.node = x.nx WHERE NOT x.last AND x.nx IS NOT NULL GROUP BY x.step, x.node, x.nx) SELECT 'node' AS kind, step, ranked.node AS node, NULL AS target, n FROM ranked
UNION ALL
SELECT 'edge', step, edges.source, edges.target, w FROM edges WHERE w >= $p7
-- params: [('p0', 10), ('p1', 4), ('p2', '^/product/\\d+'), ('p3', '/product/:id'), ('p4', ['/login']), ('p5', datetime.datetime(2026, 11, 17, 23, 0)), ('p6', datetime.datetime(2026, 11, 25, 15, 30, 0, 1)), ('p7', 1)]
