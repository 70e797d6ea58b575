"""Paths: per session, its nodes in order with repeats collapsed, cut to the steps from the
start point (or up to the end point), then the top nodes per step and the edges between them
(the rule is in `model/paths.py`).

CTEs: `ev` (events that are nodes, with the node's name), `numbered` (each node of a session
with repeats in a row removed: its position `i`, and the next node), `p` (the path: step,
node, time, and whether it is the path's last), `steps` (how many paths were at each node at
each step, and where they went next), `ranked` (the kept nodes per step). Edges come from each
node and its next one, without a self-join.

`numbered` is two window passes over the session's events (drop repeats, then number). On
engines that sort small lists fast (`Dialect.session_lists`), each session is instead one
list of integers, each packing an event's microseconds since the range start with its node's
rank in name order, so that sorting the list orders by (time, node); repeats are dropped in
the list. That is one hash aggregation instead of two sorts of every event. Nodes then stay
ranks until the answer is named, and without an anchor the sessions are grouped by their
first steps, so that only distinct beginnings are unnested. When the packed integers could
overflow (a long range with many distinct nodes) the query takes the window passes instead,
decided inside the same statement. On engines with array functions (`Dialect.session_arrays`,
ClickHouse), the counts without an anchor come from one sorted array of (time, node) per
session, compacted (`arrayCompact`) and cut to its first steps. Both plans then count each
(step, node, next node) once (`pairs`), for the nodes per step and the edges alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from userlens.model.insight import PersonsResult
from userlens.model.paths import PathEdge, PathNode, PathsPersonsQuery, PathsQuery, PathsResult
from userlens.query.dates import span
from userlens.query.dialect import Dialect, Engine
from userlens.query.filters import PERSON, Params, all_of, overrides, person_join, utc
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query

DOLLAR = "'$'"  # custom events are those whose name does not start with it
_ORDER = "PARTITION BY person, sid ORDER BY ts, node"
_COLS = "person, sid, node, ts, i, nx, nx_ts"


def _node(spec: PathsQuery, params: Params) -> tuple[str, str]:
    """The node of an event (NULL when it is not one) and the condition that it is one, which
    the scan can use to skip other events."""
    d = params.dialect
    kinds, wanted = [], []
    custom = f"NOT {d.starts_with('e.event', DOLLAR)}"
    if "pageview" in spec.include:
        path = "coalesce(e.pathname, '')"
        for rule in spec.path_cleaning:
            path = d.replace_all(path, params.add(rule.regex), params.add(rule.alias))
        kinds.append(f"WHEN e.event = '$pageview' THEN {path}")
        wanted.append("e.event = '$pageview'")
    if "custom" in spec.include:
        kinds.append(f"WHEN {custom} THEN e.event")
        wanted.append(custom)
    node = f"CASE {' '.join(kinds)} END"
    is_node = f"({' OR '.join(wanted)})"
    if spec.exclude:
        is_node = f"({is_node} AND NOT {d.in_list(node, params.add(spec.exclude))})"
    return node, is_node


class _Plan:
    """The CTEs of a paths query and how to read their nodes.

    `ranks`: nodes are integer ranks in name order, named by the `names` CTE (the list plan),
    rather than names. `steps` is a CTE of (step, node, nx, last, c): `c` paths were at `node`
    at `step`, `nx` being the next node and `last` saying whether the path ends there."""

    def __init__(self, sql: str, ranks: bool) -> None:
        self.sql = sql
        self.ranks = ranks

    def ref(self, value: str) -> str:
        """The node named by the bound `value`, as the CTEs spell nodes."""
        return _ref(value, self.ranks)

    def name(self, node: str) -> str:
        """SQL for the name of `node` (a column of the CTEs)."""
        return f"(SELECT nm.node FROM names nm WHERE nm.k = {node})" if self.ranks else node


def _ref(value: str, ranks: bool) -> str:
    return f"(SELECT k FROM names WHERE node = {value})" if ranks else value


def _plan(
    spec: PathsQuery, params: Params, start: datetime, end: datetime, *, grouped: bool
) -> _Plan:
    """`grouped`: only the counts of `steps` are needed, not who made each path, so that
    without an anchor sessions with the same first steps are counted together."""
    d = params.dialect
    n = params.add(spec.steps)
    node, is_node = _node(spec, params)
    lo = params.add(utc(start))
    # On the list plan `ev` is read by `names`, the lists and the fallback: scanning the
    # events again is cheaper than materialising them (DuckDB would by default).
    inline = "NOT MATERIALIZED " if d.session_lists else ""
    ev = (
        f"ev AS {inline}(SELECT {PERSON} AS person, {d.present('e.session_id')} AS sid, "
        "e.timestamp AS ts, "
        f"{node} AS node FROM {overrides(params.dialect)}{person_join(spec.filters)} "
        f"WHERE e.timestamp >= {lo} AND e.timestamp < {params.add(utc(end))} "
        f"AND {is_node} AND e.session_id IS NOT NULL AND {all_of(spec.filters, params)})"
    )
    anchored = spec.start_point is not None or spec.end_point is not None
    if d.session_arrays and grouped and not anchored:
        return _Plan(f"{ev}, {_arrays(n)}", ranks=False)
    if not d.session_lists:
        numbered = f"numbered AS ({_windowed(d, 'ev')})"
        path = _path(spec, params, n, ranks=False)
        return _Plan(f"{ev}, {numbered}, {path}{_steps(grouped)}", ranks=False)
    span_us = (end - start) // timedelta(microseconds=1)
    pack = params.add(pack_for(span_us))
    lists = _lists(params, lo, pack)
    if grouped and not anchored:
        return _Plan(f"{ev}, {lists}, {_prefixes(n, pack)}", ranks=True)
    # Without a start or end point only the first `steps` nodes of a session are read.
    numbered = _numbered(lo, pack, None if anchored else n)
    path = _path(spec, params, n, ranks=True)
    return _Plan(f"{ev}, {lists}, {numbered}, {path}{_steps(grouped)}", ranks=True)


def _steps(grouped: bool) -> str:
    return ", steps AS (SELECT step, node, nx, last, 1 AS c FROM p)" if grouped else ""


def _path(spec: PathsQuery, params: Params, n: str, *, ranks: bool) -> str:
    """`p` from `numbered`: each node of a path with the next one of its session (`nx`, at
    `nx_ts`), its step, and `last`: whether the path ends there, so that the edge to the next
    one is not part of it."""
    cols = (
        "x.person AS person, x.sid AS sid, x.node AS node, x.ts AS ts, x.nx AS nx, x.nx_ts AS nx_ts"
    )
    if spec.start_point is not None:
        anchor = _ref(params.add(spec.start_point), ranks)
        path = (
            f"a AS (SELECT person, sid, min(i) AS i0 FROM numbered WHERE node = {anchor} "
            "GROUP BY person, sid), "
            f"p AS (SELECT {cols}, x.i - a.i0 AS step, x.i + 1 >= a.i0 + {n} AS last "
            "FROM numbered x JOIN a ON a.person = x.person AND a.sid = x.sid "
            f"WHERE x.i >= a.i0 AND x.i < a.i0 + {n})"
        )
    elif spec.end_point is not None:
        anchor = _ref(params.add(spec.end_point), ranks)
        path = (
            f"a AS (SELECT person, sid, greatest(min(i) - {n} + 1, 1) AS i0, min(i) AS i1 "
            f"FROM numbered WHERE node = {anchor} GROUP BY person, sid), "
            f"p AS (SELECT {cols}, x.i - a.i0 AS step, x.i = a.i1 AS last "
            "FROM numbered x JOIN a ON a.person = x.person AND a.sid = x.sid "
            "WHERE x.i >= a.i0 AND x.i <= a.i1)"
        )
    else:
        path = (
            f"p AS (SELECT {cols}, x.i - 1 AS step, x.i >= {n} AS last FROM numbered x "
            f"WHERE x.i <= {n})"
        )
    return path


def _windowed(d: Dialect, source: str) -> str:
    """`numbered` by two window passes over `source`: drop repeats, then number."""
    return (
        f"SELECT {_COLS} FROM (SELECT *, row_number() OVER w AS i, "
        f"lead({d.nullable('node')}) OVER w AS nx, lead({d.nullable('ts')}) OVER w AS nx_ts "
        f"FROM (SELECT * FROM {source} "
        f"QUALIFY lag({d.nullable('node')}) OVER ({_ORDER}) IS DISTINCT FROM node) "
        f"WINDOW w AS ({_ORDER}))"
    )


def pack_for(span_us: int) -> int:
    """The multiplier of the packed keys over a range of `span_us` microseconds: a power of
    two such that µs since the start * it + a node rank below it stays under 2**62."""
    return 1 << max(62 - span_us.bit_length(), 0)


def _lists(params: Params, start: str, pack: str) -> str:
    """`names` (each node's rank in name order), `fits` (whether ranks fit under `pack`),
    `runs` (per session, its packed keys in order with repeats in a row dropped) and
    `unpacked` (the window passes' `numbered` with ranks, for when they do not fit). `start`
    is the range's bound start."""
    origin = f"epoch_us({start})"
    fallback = _windowed(params.dialect, "(SELECT * FROM ev WHERE NOT (SELECT ok FROM fits))")
    return (
        "names AS (SELECT node, row_number() OVER (ORDER BY node) AS k "
        "FROM (SELECT DISTINCT node FROM ev)), "
        f"fits AS (SELECT count(*) < {pack} AS ok FROM names), "
        f"keyed AS (SELECT person, sid, list_sort(list("
        f"(epoch_us(ev.ts) - {origin}) * {pack} + n.k)) AS l "
        "FROM ev JOIN names n ON n.node = ev.node WHERE (SELECT ok FROM fits) "
        "GROUP BY person, sid), "
        f"runs AS (SELECT person, sid, list_filter(l, lambda x, j: j = 1 "
        f"OR x % {pack} <> l[j - 1] % {pack}) AS l FROM keyed), "
        "unpacked AS (SELECT w.person AS person, w.sid AS sid, a.k AS node, w.ts AS ts, "
        f"w.i AS i, b.k AS nx, w.nx_ts AS nx_ts FROM ({fallback}) w "
        "JOIN names a ON a.node = w.node LEFT JOIN names b ON b.node = w.nx)"
    )


def _numbered(start: str, pack: str, first: str | None) -> str:
    """`numbered` from `runs`, with ranks for nodes; `first`, when given, how many nodes of
    each session to number (the rest are not needed)."""
    count = "len(l)" if first is None else f"least(len(l), {first})"
    origin = f"epoch_us({start})"
    return (
        f"numbered AS (SELECT person, sid, key % {pack} AS node, "
        f"make_timestamp({origin} + key // {pack}) AS ts, i, nkey % {pack} AS nx, "
        f"make_timestamp({origin} + nkey // {pack}) AS nx_ts "
        "FROM (SELECT person, sid, i, l[i] AS key, l[i + 1] AS nkey "
        f"FROM (SELECT person, sid, l, unnest(range(1, {count} + 1)) AS i FROM runs)) "
        "UNION ALL SELECT * FROM unpacked)"
    )


def _arrays(n: str) -> str:
    """`steps` without an anchor, with array functions: per session its nodes in (time, node)
    order with repeats in a row compacted, cut to the first `n`."""
    return (
        "runs AS (SELECT arraySlice(arrayCompact(arrayMap(x -> x.2, "
        f"arraySort(groupArray((ts, node))))), 1, {n}) AS pre FROM ev GROUP BY person, sid), "
        "steps AS (SELECT i - 1 AS step, pre[i] AS node, "
        f"if(i < length(pre), toNullable(pre[i + 1]), NULL) AS nx, i >= {n} AS last, 1 AS c "
        "FROM runs ARRAY JOIN arrayEnumerate(pre) AS i)"
    )


def _prefixes(n: str, pack: str) -> str:
    """`steps` without an anchor: sessions grouped by their first `n` nodes, so that only
    the distinct beginnings are unnested."""
    return (
        f"prefixes AS (SELECT list_transform(l[1:{n}], lambda x: x % {pack}) AS pre, "
        "count(*) AS c FROM runs GROUP BY pre), "
        f"steps AS (SELECT i - 1 AS step, pre[i] AS node, pre[i + 1] AS nx, i >= {n} AS last, c "
        "FROM (SELECT pre, c, unnest(range(1, len(pre) + 1)) AS i FROM prefixes) "
        f"UNION ALL SELECT i - 1, node, nx, i >= {n}, 1 FROM unpacked WHERE i <= {n})"
    )


def build(spec: PathsQuery, start: datetime, end: datetime, dialect: Dialect) -> Query:
    """Rows ('node', step, name, NULL, paths) for kept nodes and ('edge', step, source,
    target, weight) for shown edges."""
    params = Params(dialect)
    cap = params.add(spec.max_nodes_per_step)
    plan = _plan(spec, params, start, end, grouped=True)
    return Query(
        f"WITH {plan.sql}, "
        "pairs AS MATERIALIZED (SELECT step, node, nx, last, sum(c) AS c FROM steps "
        "GROUP BY step, node, nx, last), "
        "counted AS (SELECT step, node, sum(c) AS n FROM pairs GROUP BY step, node), "
        "ranked AS MATERIALIZED (SELECT step, node, n FROM counted QUALIFY row_number() "
        f"OVER (PARTITION BY step ORDER BY n DESC, node) <= {cap}), "
        "edges AS (SELECT x.step AS step, x.node AS source, x.nx AS target, sum(x.c) AS w "
        "FROM pairs x JOIN ranked r ON r.step = x.step AND r.node = x.node "
        "JOIN ranked t ON t.step = x.step + 1 AND t.node = x.nx "
        "WHERE NOT x.last AND x.nx IS NOT NULL GROUP BY x.step, x.node, x.nx) "
        f"SELECT 'node' AS kind, step, {plan.name('ranked.node')} AS node, NULL AS target, n "
        f"FROM ranked UNION ALL SELECT 'edge', step, {plan.name('edges.source')}, "
        f"{plan.name('edges.target')}, w FROM edges WHERE w >= {params.add(spec.min_edge_weight)}",
        params.values,
    )


def parse(rows: Sequence[Any]) -> PathsResult:
    nodes, edges = [], []
    for kind, step, name, target, n in rows:
        if kind == "node":
            nodes.append(PathNode(step=int(step), name=name, count=int(n)))
        else:
            edges.append(PathEdge(step=int(step), source=name, target=target, weight=int(n)))
    nodes.sort(key=lambda x: (x.step, -x.count, x.name))
    edges.sort(key=lambda x: (x.step, -x.weight, x.source, x.target))
    return PathsResult(nodes=nodes, edges=edges)


def run(
    spec: PathsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PathsResult:
    start, end = span(spec.date_range, timezone, now)
    return parse(engine.execute(build(spec, start, end, engine.dialect)))


def build_persons(
    ask: PathsPersonsQuery, start: datetime, end: datetime, dialect: Dialect
) -> Query:
    params = Params(dialect)
    plan = _plan(ask.paths, params, start, end, grouped=False)
    source, target = plan.ref(params.add(ask.source)), plan.ref(params.add(ask.target))
    picked = (
        # Per person, their latest pass along the edge (the smallest session id on a tie).
        "along AS (SELECT person, nx_ts AS ts, min(sid) AS sid FROM p "
        f"WHERE NOT last AND step = {params.add(ask.step)} AND node = {source} "
        f"AND nx = {target} GROUP BY person, nx_ts), "
        f"picked AS (SELECT person, max(ts) AS moment, {params.dialect.arg_max('sid', 'ts')} "
        "AS session "
        "FROM along GROUP BY person)"
    )
    return Query(
        f"WITH {plan.sql}, {picked} " + persons_sql(params, ask.limit, ask.offset), params.values
    )


def run_persons(
    ask: PathsPersonsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PersonsResult:
    start, end = span(ask.paths.date_range, timezone, now)
    return hits(engine.execute(build_persons(ask, start, end, engine.dialect)))
