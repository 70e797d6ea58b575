"""Plain-Python paths over a list of events, following the rule of `userlens.model.paths`."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

from tests.conformance.insights_reference import Ev, matches
from userlens.model.paths import PathsPersonsQuery, PathsQuery

Person = frozenset[str]
Path = list[tuple[str, datetime]]  # (node, time of its first event)


def _node(spec: PathsQuery, e: Ev) -> str | None:
    node = None
    if e.event == "$pageview" and "pageview" in spec.include:
        node = e.pathname or ""
        for rule in spec.path_cleaning:
            node = re.sub(rule.regex, rule.alias, node)
    elif not e.event.startswith("$") and "custom" in spec.include:
        node = e.event
    return None if node in spec.exclude else node


def paths(
    events: list[Ev], spec: PathsQuery, start: datetime, end: datetime
) -> list[tuple[Person, str, Path]]:
    """(person, session, path) of every path."""
    sessions: dict[tuple[Person, str], list[tuple[datetime, str]]] = defaultdict(list)
    for e in events:
        node = _node(spec, e)
        if (
            node is not None
            and e.session_id is not None
            and start <= e.timestamp < end
            and all(matches(f, e) for f in spec.filters)
        ):
            sessions[(e.distinct_ids, e.session_id)].append((e.timestamp, node))
    out = []
    for (person, session), visits in sessions.items():
        collapsed: Path = []
        for t, node in sorted(visits):
            if not collapsed or collapsed[-1][0] != node:
                collapsed.append((node, t))
        names = [n for n, _ in collapsed]
        if spec.start_point is not None:
            if spec.start_point not in names:
                continue
            i = names.index(spec.start_point)
            path = collapsed[i : i + spec.steps]
        elif spec.end_point is not None:
            if spec.end_point not in names:
                continue
            i = names.index(spec.end_point)
            path = collapsed[max(0, i - spec.steps + 1) : i + 1]
        else:
            path = collapsed[: spec.steps]
        out.append((person, session, path))
    return out


def graph(
    events: list[Ev], spec: PathsQuery, start: datetime, end: datetime
) -> tuple[dict[tuple[int, str], int], dict[tuple[int, str, str], int]]:
    """Kept nodes {(step, name): paths} and shown edges {(step, source, target): weight}."""
    all_paths = paths(events, spec, start, end)
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for _, _, path in all_paths:
        for step, (node, _) in enumerate(path):
            counts[(step, node)] += 1
    kept: dict[tuple[int, str], int] = {}
    for step in {s for s, _ in counts}:
        ranked = sorted((n for s, n in counts if s == step), key=lambda n: (-counts[(step, n)], n))
        for name in ranked[: spec.max_nodes_per_step]:
            kept[(step, name)] = counts[(step, name)]
    weights: dict[tuple[int, str, str], int] = defaultdict(int)
    for _, _, path in all_paths:
        for step in range(len(path) - 1):
            a, b = path[step][0], path[step + 1][0]
            if (step, a) in kept and (step + 1, b) in kept:
                weights[(step, a, b)] += 1
    edges = {k: w for k, w in weights.items() if w >= spec.min_edge_weight}
    return kept, edges


def persons(
    events: list[Ev], ask: PathsPersonsQuery, start: datetime, end: datetime
) -> dict[Person, tuple[datetime, str]]:
    """Person -> (time they reached the edge's target, session), their latest pass."""
    passes: dict[Person, list[tuple[datetime, str]]] = defaultdict(list)
    for person, session, path in paths(events, ask.paths, start, end):
        if (
            len(path) > ask.step + 1
            and path[ask.step][0] == ask.source
            and path[ask.step + 1][0] == ask.target
        ):
            passes[person].append((path[ask.step + 1][1], session))
    out = {}
    for person, found in passes.items():
        latest = max(t for t, _ in found)
        out[person] = (latest, min(s for t, s in found if t == latest))
    return out
