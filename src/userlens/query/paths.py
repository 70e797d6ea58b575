"""Paths: per session, its nodes in order with repeats collapsed, cut to the steps from the
start point (or up to the end point), then the top nodes per step and the edges between them
(the rule is in `model/paths.py`).

CTEs: `ev` (events that are nodes, with the node's name), `numbered` (each node of a session
with repeats in a row removed: its position `i`, and the next node), `p` (the path: step,
node, time, and whether it is the path's last), `ranked` (the kept nodes per step). Edges come
from each node and its next one, without a self-join.

`numbered` is two window passes over the session's events (drop repeats, then number). On
engines that sort small lists fast (`Dialect.session_lists`), each session is instead one
list of integers, each packing an event's microseconds since the range start with its node's
rank in name order, so that sorting the list orders by (time, node); repeats are dropped in
the list. That is one hash aggregation instead of two sorts of every event. When the packed
integers could overflow (a long range with many distinct nodes) the query takes the window
passes instead, decided inside the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from userlens.model.insight import PersonsResult
from userlens.model.paths import PathEdge, PathNode, PathsPersonsQuery, PathsQuery, PathsResult
from userlens.query.dates import span
from userlens.query.dialect import Dialect, Engine
from userlens.query.filters import OVERRIDES, PERSON, Params, all_of, person_join, utc
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query

DOLLAR = "'$'"  # custom events are those whose name does not start with it
_ORDER = "PARTITION BY person, sid ORDER BY ts, node"
_COLS = "person, sid, node, ts, i, nx, nx_ts"


def _node(spec: PathsQuery, d: Dialect) -> tuple[str, str]:
    """The node of an event (NULL when it is not one) and the condition that it is one, which
    the scan can use to skip other events."""
    kinds, wanted = [], []
    custom = f"NOT {d.starts_with('e.event', DOLLAR)}"
    if "pageview" in spec.include:
        kinds.append("WHEN e.event = '$pageview' THEN coalesce(e.pathname, '')")
        wanted.append("e.event = '$pageview'")
    if "custom" in spec.include:
        kinds.append(f"WHEN {custom} THEN e.event")
        wanted.append(custom)
    return f"CASE {' '.join(kinds)} END", f"({' OR '.join(wanted)})"


def _ctes(spec: PathsQuery, params: Params, start: datetime, end: datetime) -> str:
    d = params.dialect
    n = params.add(spec.steps)
    # Each node with the next one of its session (`nx`, at `nx_ts`); `last` says whether this
    # node ends the path, so that the edge to the next one is not part of it.
    cols = (
        "x.person AS person, x.sid AS sid, x.node AS node, x.ts AS ts, x.nx AS nx, x.nx_ts AS nx_ts"
    )
    if spec.start_point is not None:
        anchor = params.add(spec.start_point)
        path = (
            f"a AS (SELECT person, sid, min(i) AS i0 FROM numbered WHERE node = {anchor} "
            "GROUP BY person, sid), "
            f"p AS (SELECT {cols}, x.i - a.i0 AS step, x.i + 1 >= a.i0 + {n} AS last "
            "FROM numbered x JOIN a ON a.person = x.person AND a.sid = x.sid "
            f"WHERE x.i >= a.i0 AND x.i < a.i0 + {n})"
        )
    elif spec.end_point is not None:
        anchor = params.add(spec.end_point)
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
    node, is_node = _node(spec, d)
    lo = params.add(utc(start))
    ev = (
        f"ev AS (SELECT {PERSON} AS person, e.session_id AS sid, e.timestamp AS ts, "
        f"{node} AS node FROM {OVERRIDES}{person_join(spec.filters)} "
        f"WHERE e.timestamp >= {lo} AND e.timestamp < {params.add(utc(end))} "
        f"AND {is_node} AND e.session_id IS NOT NULL AND {all_of(spec.filters, params)})"
    )
    if not d.session_lists:
        return f"{ev}, numbered AS ({_windowed(d, 'ev')}), {path}"
    span_us = (end - start) // timedelta(microseconds=1)
    # Without a start or end point only the first `steps` nodes of a session are read.
    first = n if spec.start_point is None and spec.end_point is None else None
    return f"{ev}, {_listed(params, lo, span_us, first)}, {path}"


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


def _listed(params: Params, start: str, span_us: int, first: str | None) -> str:
    """`numbered` from one sorted list of packed integers per session (see the module doc),
    or by the window passes when the packing could overflow. `start` is the bound start of a
    range of `span_us` microseconds; `first`, when given, how many nodes of each session to
    number (the rest are not needed)."""
    pack = params.add(pack_for(span_us))
    count = "len(l)" if first is None else f"least(len(l), {first})"
    origin = f"epoch_us({start})"
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
        "flat AS (SELECT person, sid, i, l[i] AS key, l[i + 1] AS nkey "
        f"FROM (SELECT person, sid, l, unnest(range(1, {count} + 1)) AS i FROM runs)), "
        f"numbered AS (SELECT f.person AS person, f.sid AS sid, a.node AS node, "
        f"make_timestamp({origin} + f.key // {pack}) AS ts, f.i AS i, b.node AS nx, "
        f"make_timestamp({origin} + f.nkey // {pack}) AS nx_ts "
        f"FROM flat f JOIN names a ON a.k = f.key % {pack} "
        f"LEFT JOIN names b ON b.k = f.nkey % {pack} "
        "UNION ALL "
        f"{_windowed(params.dialect, '(SELECT * FROM ev WHERE NOT (SELECT ok FROM fits))')})"
    )


def build(spec: PathsQuery, start: datetime, end: datetime, dialect: Dialect) -> Query:
    """Rows ('node', step, name, NULL, paths) for kept nodes and ('edge', step, source,
    target, weight) for shown edges."""
    params = Params(dialect)
    cap = params.add(spec.max_nodes_per_step)
    return Query(
        f"WITH {_ctes(spec, params, start, end)}, "
        "counted AS (SELECT step, node, count(*) AS n FROM p GROUP BY step, node), "
        "ranked AS MATERIALIZED (SELECT step, node, n FROM counted QUALIFY row_number() "
        f"OVER (PARTITION BY step ORDER BY n DESC, node) <= {cap}), "
        "edges AS (SELECT x.step AS step, x.node AS source, x.nx AS target, count(*) AS w FROM p x "
        "JOIN ranked r ON r.step = x.step AND r.node = x.node "
        "JOIN ranked t ON t.step = x.step + 1 AND t.node = x.nx "
        "WHERE NOT x.last AND x.nx IS NOT NULL GROUP BY x.step, x.node, x.nx) "
        "SELECT 'node' AS kind, step, node, NULL AS target, n FROM ranked "
        "UNION ALL SELECT 'edge', step, source, target, w FROM edges "
        f"WHERE w >= {params.add(spec.min_edge_weight)}",
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
    ctes = _ctes(ask.paths, params, start, end)
    picked = (
        # Per person, their latest pass along the edge (the smallest session id on a tie).
        "along AS (SELECT person, nx_ts AS ts, min(sid) AS sid FROM p "
        f"WHERE NOT last AND step = {params.add(ask.step)} AND node = {params.add(ask.source)} "
        f"AND nx = {params.add(ask.target)} GROUP BY person, nx_ts), "
        f"picked AS (SELECT person, max(ts) AS moment, {params.dialect.arg_max('sid', 'ts')} "
        "AS session "
        "FROM along GROUP BY person)"
    )
    return Query(
        f"WITH {ctes}, {picked} " + persons_sql(params, ask.limit, ask.offset), params.values
    )


def run_persons(
    ask: PathsPersonsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PersonsResult:
    start, end = span(ask.paths.date_range, timezone, now)
    return hits(engine.execute(build_persons(ask, start, end, engine.dialect)))
