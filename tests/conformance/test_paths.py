"""Paths on every store backend against the plain-Python reference: sessions of pageviews and
custom events, repeats, start and end points, caps and minimum weights, and the persons
behind an edge."""

from __future__ import annotations

import contextlib
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.conftest import StoreFactory
from tests.conformance.insight_logs import NOW, filters, path_logs, write_log
from tests.conformance.paths_reference import graph, persons
from tests.conformance.test_event_store import PROJECT
from userlens.model.insight import DateRange
from userlens.model.paths import PathCleaning, PathsPersonsQuery, PathsQuery
from userlens.query import paths as paths_runner
from userlens.query.dates import span
from userlens.query.run import engine_of

NODES = ["/", "/a", "/b", "/c", "signup", "$click", "/p/:id", "/p/1"]
# Rules that group page paths: by an id, by any digits, a path's end, a letter anywhere.
CLEANING = [
    PathCleaning(regex="^/p/\\d+", alias="/p/:id"),
    PathCleaning(regex="\\d+", alias="N"),
    PathCleaning(regex="/c$", alias=""),
    PathCleaning(regex="[ab]", alias="x"),
]


@st.composite
def specs(draw: st.DrawFn) -> PathsQuery:
    anchor = draw(st.sampled_from([None, "start", "end"]))
    point = draw(st.sampled_from(NODES))
    return PathsQuery(
        include=draw(st.sampled_from([["pageview"], ["custom"], ["pageview", "custom"]])),
        start_point=point if anchor == "start" else None,
        end_point=point if anchor == "end" else None,
        steps=draw(st.integers(2, 6)),
        max_nodes_per_step=draw(st.integers(1, 4)),
        min_edge_weight=draw(st.integers(1, 3)),
        date_range=draw(
            st.sampled_from(
                [
                    DateRange(date_from="-1m"),
                    DateRange(date_from="2026-03-25", date_to="2026-03-25"),
                ]
            )
        ),
        filters=draw(st.lists(filters, max_size=1)),
        path_cleaning=draw(st.lists(st.sampled_from(CLEANING), max_size=2)),
        exclude=draw(st.lists(st.sampled_from(NODES), max_size=2)),
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=path_logs(), spec=specs(), pick=st.integers(0, 999), packed=st.booleans())
def test_paths_match_the_reference(
    make_store: StoreFactory, log: list[dict[str, Any]], spec: PathsQuery, pick: int, packed: bool
) -> None:
    store = make_store()
    events = write_log(store, log)
    # Where sessions are packed into lists, also take the window passes kept for ranges whose
    # packed keys could overflow: with a multiplier of 2, any two node names are too many.
    with _pack(None if packed else 2):
        result = paths_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    start, end = span(spec.date_range, "UTC", NOW)
    nodes, edges = graph(events, spec, start, end)

    assert {(n.step, n.name): n.count for n in result.nodes} == nodes
    assert {(e.step, e.source, e.target): e.weight for e in result.edges} == edges
    if not edges:
        return
    step, source, target = sorted(edges)[pick % len(edges)]
    ask = PathsPersonsQuery(paths=spec, step=step, source=source, target=target, limit=1000)
    with _pack(None if packed else 2):
        got = paths_runner.run_persons(ask, "UTC", NOW, engine_of(store, PROJECT))
    assert {frozenset(p.distinct_ids): (p.timestamp, p.session_id) for p in got.persons} == persons(
        events, ask, start, end
    )


def _pack(multiplier: int | None) -> contextlib.AbstractContextManager[object]:
    """Force the packed keys' multiplier (None: as computed)."""
    if multiplier is None:
        return contextlib.nullcontext()
    return mock.patch.object(paths_runner, "pack_for", return_value=multiplier)


@given(span=st.integers(1, 2**70))
def test_packed_keys_stay_below_the_int64_limit(span: int) -> None:
    pack = paths_runner.pack_for(span)
    # The largest key: the last microsecond of the range with the largest rank that fits.
    assert (span - 1) * pack + (pack - 1) < 2**63 or pack == 1


def _visit(store_events: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One person's session: (event, path) in order, a minute apart."""
    return [
        {
            "event": event,
            "id": "a",
            "minute": minute,
            "session": "s1",
            "props": {},
            "set": None,
            "pathname": path or None,
        }
        for minute, (event, path) in enumerate(store_events)
    ]


SESSION = [
    ("$pageview", "/"),
    ("$pageview", "/a"),
    ("$pageview", "/a"),  # a reload: one node
    ("signup", ""),
    ("$pageview", "/b"),
    ("$pageview", "/c"),
    ("$pageview", "/a"),
]


def test_an_end_point_keeps_the_steps_up_to_its_first_visit(make_store: StoreFactory) -> None:
    store = make_store()
    write_log(store, _visit(SESSION))
    spec = PathsQuery(
        include=["pageview", "custom"],
        end_point="/c",
        steps=3,
        date_range=DateRange(date_from="-1m"),
    )
    result = paths_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    assert [(n.step, n.name) for n in result.nodes] == [(0, "signup"), (1, "/b"), (2, "/c")]


def test_a_start_point_begins_at_its_first_visit(make_store: StoreFactory) -> None:
    store = make_store()
    write_log(store, _visit(SESSION))
    spec = PathsQuery(start_point="/a", steps=4, date_range=DateRange(date_from="-1m"))
    result = paths_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    assert [(e.step, e.source, e.target) for e in result.edges] == [
        (0, "/a", "/b"),
        (1, "/b", "/c"),
        (2, "/c", "/a"),
    ]


def test_an_end_points_path_has_no_edge_past_its_end(make_store: StoreFactory) -> None:
    store = make_store()
    short = _visit([("$pageview", "/a"), ("$pageview", "/c"), ("$pageview", "/b")])
    long = [
        {**item, "id": "b", "session": "s2"}
        for item in _visit([("$pageview", p) for p in ("/x", "/y", "/b", "/c")])
    ]
    write_log(store, [*short, *long])
    spec = PathsQuery(end_point="/c", steps=4, date_range=DateRange(date_from="-1m"))
    result = paths_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    # The short path ends at /c (step 1): its next page, /b, is after the end point.
    assert {(e.step, e.source, e.target) for e in result.edges} == {
        (0, "/a", "/c"),
        (0, "/x", "/y"),
        (1, "/y", "/b"),
        (2, "/b", "/c"),
    }
