"""Every insight kind over the `userlens demo` dataset (a realistic product: landing pages,
sign-ups with identify merges, onboarding, checkout, returning users), on every store backend,
against the plain-Python references."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conformance.activity_reference import lifecycle, retention, stickiness
from tests.conformance.conftest import StoreFactory
from tests.conformance.funnel_reference import correlation, funnel
from tests.conformance.insights_reference import Ev, set_world, trends_by_line
from tests.conformance.paths_reference import graph
from tests.conformance.reference import RefEvent, RefPersons
from tests.conformance.test_event_store import PROJECT, captured
from userlens.demo import generate_events
from userlens.model.activity import LifecycleQuery, LifecycleStatus, StickinessQuery
from userlens.model.funnel import FunnelCorrelationQuery, FunnelQuery, FunnelStep, WindowUnit
from userlens.model.insight import (
    DateRange,
    EventRef,
    Interval,
    PropertyFilter,
    TrendsMath,
    TrendsQuery,
    TrendsSeries,
)
from userlens.model.paths import PathsQuery
from userlens.model.retention import RetentionQuery, RetentionType
from userlens.query import correlation as correlations
from userlens.query import funnels, paths, trends
from userlens.query import lifecycle as lifecycle_runner
from userlens.query import retention as ret
from userlens.query import stickiness as stickiness_runner
from userlens.query.dates import periods_ending, resolve, span
from userlens.query.run import engine_of
from userlens.store.events import EventStore

NOW = datetime(2026, 11, 20, 18, tzinfo=UTC)
TZ = "Europe/Paris"


def _load(store: EventStore) -> list[Ev]:
    """The demo's events into the store, and as the reference sees them."""
    people = RefPersons()
    rows: list[tuple[Any, dict[str, Any]]] = []
    for raw in generate_events(persons=120, days=30, seed=11, now=NOW):
        props = dict(raw["properties"])
        anon = props.pop("$anon_distinct_id", None)
        person_set = props.pop("$set", None)
        people.apply(RefEvent(raw["distinct_id"], raw["event"], other=anon, set_props=person_set))
        at = datetime.fromisoformat(raw["timestamp"])
        rows.append(
            (
                captured(
                    raw["distinct_id"],
                    event=raw["event"],
                    ts_us=int(at.timestamp() * 1e6),
                    uid=raw["uuid"],
                    props=props,
                    session_id=props.get("$session_id"),
                    pathname=props.get("$pathname"),
                    anon_distinct_id=anon,
                    set_props=person_set,
                ),
                props,
            )
        )
    store.write([c for c, _ in rows])
    events = []
    for c, props in rows:
        person = people.of(c.distinct_id)
        assert person is not None
        events.append(
            Ev(
                event=c.event,
                timestamp=datetime.fromtimestamp(c.timestamp_us / 1e6, tz=UTC),
                person=id(person),
                session_id=c.session_id,
                properties=props,
                person_properties=person.props,
                distinct_ids=frozenset(person.ids),
                pathname=c.pathname,
            )
        )
    set_world(events)
    return events


@pytest.fixture
def demo(make_store: StoreFactory) -> tuple[EventStore, list[Ev]]:
    store = make_store()
    return store, _load(store)


def test_trends_on_the_demo(demo: tuple[EventStore, list[Ev]]) -> None:
    store, events = demo
    spec = TrendsQuery(
        series=[TrendsSeries(event="$pageview", math=TrendsMath.UNIQUE_PERSONS)],
        date_range=DateRange(date_from="-30d"),
        breakdown="$browser",
        breakdown_limit=3,
    )
    result = trends.run(spec, TZ, NOW, engine_of(store, PROJECT))
    window = resolve(spec.date_range, spec.interval, TZ, NOW)
    want = trends_by_line(events, spec, TZ, window.start, window.end, window.buckets)
    got = {(line.is_other, line.breakdown_value): line for line in result.series}
    assert set(got) == set(want) and len(want) >= 3
    for key, (per_bucket, total) in want.items():
        assert got[key].values == [per_bucket.get(b, 0.0) for b in result.buckets]
        assert got[key].total == total


def test_the_signup_funnel_on_the_demo(demo: tuple[EventStore, list[Ev]]) -> None:
    store, events = demo
    spec = FunnelQuery(
        steps=[
            FunnelStep(event="$pageview", filters=[PropertyFilter(key="$pathname", value="/")]),
            FunnelStep(event="signed_up"),
            FunnelStep(event="onboarding_step_completed"),
            FunnelStep(event="purchase_completed"),
        ],
        window=14,
        date_range=DateRange(date_from="-30d"),
    )
    result = funnels.run(spec, TZ, NOW, engine_of(store, PROJECT))
    start, end = span(spec.date_range, TZ, NOW)
    want = funnel(events, spec, start, end)[(False, None)]
    counts = [s.count for s in result.lines[0].steps]
    assert counts == want.counts
    assert counts[0] > counts[1] > 0  # a real funnel: some drop off, some convert


def test_what_sets_the_demos_converters_apart(demo: tuple[EventStore, list[Ev]]) -> None:
    """The events of the signup funnel's persons during their attempts, and their browsers,
    against the reference: every count of every item, and each side's order."""
    store, events = demo
    funnel_spec = FunnelQuery(
        steps=[FunnelStep(event="$pageview"), FunnelStep(event="signed_up")],
        window=1,
        window_unit=WindowUnit.DAY,
        date_range=DateRange(date_from="-30d"),
    )
    start, end = span(funnel_spec.date_range, TZ, NOW)
    for ask in [
        FunnelCorrelationQuery(funnel=funnel_spec, limit=100),
        FunnelCorrelationQuery(funnel=funnel_spec, person_properties=["plan"], limit=100),
    ]:
        result = correlations.run(ask, TZ, NOW, engine_of(store, PROJECT))
        (converted, dropped), did = correlation(events, ask, start, end)
        assert (result.converted, result.dropped) == (converted, dropped)
        assert converted > 0 and dropped > 0
        got = {
            (c.event or c.property, c.value): (c.converted, c.dropped)
            for c in [*result.success, *result.failure]
        }
        # Every item but those exactly as likely either way (an odds ratio of one).
        even = {
            i
            for i, (c, d) in did.items()
            if (c + 1) * (dropped - d + 1) == (d + 1) * (converted - c + 1)
        }
        assert got == {i: n for i, n in did.items() if i not in even}
        assert got  # the demo's persons differ


def test_retention_on_the_demo(demo: tuple[EventStore, list[Ev]]) -> None:
    store, events = demo
    for kind in RetentionType:
        spec = RetentionQuery(
            start=EventRef(event="$pageview"), period=Interval.WEEK, periods=5, type=kind
        )
        result = ret.run(spec, TZ, NOW, engine_of(store, PROJECT))
        window = periods_ending(None, spec.period, spec.periods, TZ, NOW)
        want = retention(events, spec, TZ, window.buckets, window.start, window.end)
        assert [c.values for c in result.cohorts] == [[len(x) for x in row] for row in want]


def test_paths_on_the_demo(demo: tuple[EventStore, list[Ev]]) -> None:
    store, events = demo
    spec = PathsQuery(
        include=["pageview", "custom"], steps=5, date_range=DateRange(date_from="-30d")
    )
    result = paths.run(spec, TZ, NOW, engine_of(store, PROJECT))
    start, end = span(spec.date_range, TZ, NOW)
    nodes, edges = graph(events, spec, start, end)
    assert {(n.step, n.name): n.count for n in result.nodes} == nodes
    assert {(e.step, e.source, e.target): e.weight for e in result.edges} == edges
    assert len(edges) > 5


def test_lifecycle_and_stickiness_on_the_demo(demo: tuple[EventStore, list[Ev]]) -> None:
    store, events = demo
    ref = EventRef(event="$pageview")
    spec = LifecycleQuery(event=ref, interval=Interval.WEEK, date_range=DateRange(date_from="-4w"))
    result = lifecycle_runner.run(spec, TZ, NOW, engine_of(store, PROJECT))
    window = resolve(spec.date_range, spec.interval, TZ, NOW)
    want = lifecycle(events, ref, [], spec.interval, TZ, window.buckets, window.end)
    for status in LifecycleStatus:
        assert getattr(result, status.value) == [len(w[status]) for w in want]

    sticky = StickinessQuery(series=[ref], date_range=DateRange(date_from="-30d"))
    got = stickiness_runner.run(sticky, TZ, NOW, engine_of(store, PROJECT))
    window = resolve(sticky.date_range, sticky.interval, TZ, NOW)
    per_n = stickiness(events, ref, [], sticky.interval, TZ, window.start, window.end)
    assert got.series[0].persons == [len(per_n.get(n, {})) for n in range(1, got.intervals + 1)]
    assert sum(got.series[0].persons[1:]) > 0  # returning users exist
