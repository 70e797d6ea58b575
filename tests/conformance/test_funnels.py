"""Funnels on every store backend against the plain-Python reference, over generated event
logs: each order, windows from a minute to days, exclusions, breakdowns, merged persons,
same-time events, and the persons behind each step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conformance.conftest import StoreFactory
from tests.conformance.funnel_reference import (
    correlation,
    correlation_persons,
    funnel,
    histogram,
    median,
    periods,
    persons,
    step_histogram,
)
from tests.conformance.insight_logs import NOW, ZONES, cohorts, filters, logs, write_log
from tests.conformance.insights_reference import bucket_of
from tests.conformance.test_event_store import PROJECT, captured
from userlens.model.filters import CohortFilter
from userlens.model.funnel import (
    ConversionTime,
    Correlated,
    FunnelCorrelationPersonsQuery,
    FunnelCorrelationQuery,
    FunnelExclusion,
    FunnelOrder,
    FunnelPeriod,
    FunnelPersonsQuery,
    FunnelQuery,
    FunnelStep,
    HistogramScale,
    WindowUnit,
)
from userlens.model.insight import BreakdownLine, DateRange, Interval
from userlens.query import correlation as correlations
from userlens.query import funnels
from userlens.query.dates import span
from userlens.query.run import engine_of

EVENTS = [None, "view", "click", "buy", "$identify"]


@st.composite
def steps(draw: st.DrawFn) -> FunnelStep:
    return FunnelStep(
        event=draw(st.sampled_from(EVENTS)),
        filters=draw(st.lists(filters, max_size=1)) if draw(st.integers(0, 3)) == 0 else [],
    )


@st.composite
def specs(draw: st.DrawFn) -> FunnelQuery:
    chosen = draw(st.lists(steps(), min_size=2, max_size=4))
    order = draw(st.sampled_from(list(FunnelOrder)))
    exclusions = []
    if order is not FunnelOrder.UNORDERED and draw(st.booleans()):
        a = draw(st.integers(0, len(chosen) - 2))
        exclusions.append(
            FunnelExclusion(
                event=draw(st.sampled_from(["view", "click", "buy"])),
                from_step=a,
                to_step=draw(st.integers(a + 1, len(chosen) - 1)),
            )
        )
    breakdown = draw(st.sampled_from([None, None, "plan", "n", "tier"]))
    return FunnelQuery(
        steps=chosen,
        order=order,
        window=draw(st.sampled_from([1, 2, 30, 90])),
        window_unit=draw(st.sampled_from([WindowUnit.MINUTE, WindowUnit.HOUR, WindowUnit.DAY])),
        exclusions=exclusions,
        date_range=draw(
            st.sampled_from(
                [
                    DateRange(date_from="-1m"),
                    DateRange(date_from="-7d"),
                    DateRange(date_from="2026-03-26", date_to="2026-03-30"),
                ]
            )
        ),
        filters=draw(st.lists(filters, max_size=1)),
        breakdown=breakdown,
        breakdown_type="person" if breakdown == "tier" else "event",
        breakdown_limit=draw(st.integers(1, 3)),
        histogram_scale=draw(st.sampled_from(HistogramScale)),
        histogram_bins=draw(st.integers(1, 6)),
        over_time=draw(st.sampled_from([None, None, *Interval])),
    )


def _pick_line(spec: FunnelQuery, lines: dict[Any, Any], *, last: bool) -> BreakdownLine | None:
    """With a breakdown and someone in it, the first line (by "Other", then value) or the
    last; else none."""
    if not (spec.breakdown and lines):
        return None
    is_other, value = sorted(lines, key=lambda k: (k[0], k[1] or ""))[-1 if last else 0]
    return BreakdownLine(value=value, is_other=is_other)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=logs(), spec=specs(), tz=st.sampled_from(ZONES))
def test_funnels_match_the_reference(
    make_store: StoreFactory, log: list[dict[str, Any]], spec: FunnelQuery, tz: str
) -> None:
    store = make_store()
    events = write_log(store, log)
    result = funnels.run(spec, tz, NOW, engine_of(store, PROJECT))
    start, end = span(spec.date_range, tz, NOW)
    want = funnel(events, spec, start, end)

    got = {(line.is_other, line.breakdown_value): line for line in result.lines}
    if not want:  # nobody entered: one empty line
        assert [s.count for s in result.lines[0].steps] == [0] * len(spec.steps)
        return
    assert set(got) == set(want)
    for key, ref in want.items():
        line = got[key]
        assert [s.count for s in line.steps] == ref.counts
        assert [s.dropped for s in line.steps] == [0] + [
            ref.counts[i - 1] - ref.counts[i] for i in range(1, len(ref.counts))
        ]
        for step, gaps in zip(line.steps[1:], ref.gaps, strict=True):
            # Times are exact to the microsecond; averages and medians to float rounding.
            want_median = median(gaps)
            want_avg = sum(gaps) / len(gaps) if gaps else None
            assert step.median_seconds == (
                None if want_median is None else pytest.approx(want_median / 1e6, rel=1e-9)
            )
            assert step.average_seconds == (
                None if want_avg is None else pytest.approx(want_avg / 1e6, rel=1e-9)
            )
        bins = [
            (round(b.start_seconds * 1e6), round(b.end_seconds * 1e6), b.count)
            for b in line.histogram
        ]
        if spec.histogram_scale is HistogramScale.LINEAR:
            assert bins == histogram(ref.totals, spec.histogram_bins)
        else:
            assert bins == step_histogram(ref.totals, spec)
        if spec.over_time is None:
            assert line.periods is None
        else:
            _check_periods(spec, line.periods, periods(spec, ref, tz), end, tz)


def _check_periods(
    spec: FunnelQuery,
    got: list[FunnelPeriod] | None,
    want: dict[datetime, list[int]],
    end: datetime,
    tz: str,
) -> None:
    """Every period of the range in order, zeros where nobody started; a period is complete
    once its last possible attempt's window has ended inside the range."""
    assert got is not None and spec.over_time is not None
    starts = [p.start for p in got]
    assert starts == sorted(set(starts))
    assert {p.start: p.counts for p in got if p.counts[0]} == want
    assert all(p.counts == [0] * len(spec.steps) for p in got if p.start not in want)
    for p in got:
        assert p.conversion == (p.counts[-1] / p.counts[0] if p.counts[0] else 0.0)
    last_full = bucket_of(end - timedelta(seconds=spec.window_seconds), spec.over_time, tz)
    assert [p.complete for p in got] == [p.start < last_full for p in got]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=logs(),
    spec=specs(),
    step=st.integers(0, 3),
    status=st.sampled_from(["converted", "dropped", "not_converted"]),
    pick_line=st.booleans(),
    pick_period=st.integers(0, 3),
    pick_bin=st.integers(0, 3),
    tz=st.sampled_from(ZONES),
)
def test_the_persons_behind_a_step_match_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: FunnelQuery,
    step: int,
    status: str,
    pick_line: bool,
    pick_period: int,
    pick_bin: int,
    tz: str,
) -> None:
    step = min(step, len(spec.steps) - 1)
    if status == "dropped":
        step = max(step, 1)
    if status == "not_converted":
        step = len(spec.steps) - 1
    store = make_store()
    events = write_log(store, log)
    start, end = span(spec.date_range, tz, NOW)
    lines = funnel(events, spec, start, end)
    line = _pick_line(spec, lines, last=False) if pick_line else None
    period = None
    if spec.over_time is not None and pick_period and lines:
        # A period someone started in (most of the time), or one nobody did.
        started = sorted({p for ref in lines.values() for p in periods(spec, ref, tz)})
        period = started[pick_period % len(started)] if pick_period < 3 else datetime(2026, 1, 5)
    took = None
    last = len(spec.steps) - 1
    if pick_bin and step == last and status == "converted" and lines:
        # A bin of the histogram: its persons took that long from the first step to the last.
        totals = [t for ref in lines.values() for t in ref.totals]
        if spec.histogram_scale is HistogramScale.LINEAR:
            bins = histogram(totals, spec.histogram_bins)
        else:
            bins = step_histogram(totals, spec)
        if bins:
            i = pick_bin % len(bins)
            lo, hi, _ = bins[i]
            # The last bin holds the longest time: it is asked for without an end.
            took = ConversionTime(
                from_seconds=lo / 1e6, to_seconds=None if i == len(bins) - 1 else hi / 1e6
            )
    ask = FunnelPersonsQuery(
        funnel=spec,
        step=step,
        status=status,
        line=line,
        period=period,
        converted_in=took,
        limit=1000,
    )
    result = funnels.run_persons(ask, tz, NOW, engine_of(store, PROJECT))

    got = {(frozenset(p.distinct_ids), p.timestamp, p.session_id) for p in result.persons}
    assert got == persons(events, ask, start, end, tz)
    assert result.total == len(got)
    moments = [p.timestamp for p in result.persons]
    assert moments == sorted(moments, reverse=True)  # latest first


def _item(c: Correlated) -> tuple[str, str | None]:
    """An event's name, or a person property and its value, as the reference keys them."""
    name = c.event if c.property is None else c.property
    assert name is not None and (c.event is None) == (c.property is not None)
    return name, c.value


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=logs(),
    spec=specs(),
    pick_line=st.booleans(),
    exclude=st.lists(st.sampled_from(["view", "click", "buy", "$identify"]), max_size=2),
    properties=st.sampled_from([[], [], ["tier"], ["tier", "missing"]]),
    limit=st.integers(1, 4),
    tz=st.sampled_from(ZONES),
)
def test_correlated_events_and_properties_match_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: FunnelQuery,
    pick_line: bool,
    exclude: list[str],
    properties: list[str],
    limit: int,
    tz: str,
) -> None:
    store = make_store()
    events = write_log(store, log)
    start, end = span(spec.date_range, tz, NOW)
    lines = funnel(events, spec, start, end)
    line = _pick_line(spec, lines, last=True) if pick_line else None
    ask = FunnelCorrelationQuery(
        funnel=spec, line=line, exclude=exclude, person_properties=properties, limit=limit
    )
    result = correlations.run(ask, tz, NOW, engine_of(store, PROJECT))

    (converted, dropped), did = correlation(events, ask, start, end)
    assert (result.converted, result.dropped) == (converted, dropped)
    got = [*result.success, *result.failure]
    for c in got:
        assert (c.converted, c.dropped) == did[_item(c)]
        # The odds ratio, from the counts as written out in full.
        odds_did = (c.converted + 1) / (c.dropped + 1)
        odds_not = (converted - c.converted + 1) / (dropped - c.dropped + 1)
        assert c.odds_ratio == pytest.approx(odds_did / odds_not, rel=1e-12)
    ratios = {
        item: Fraction(c + 1, d + 1) / Fraction(converted - c + 1, dropped - d + 1)
        for item, (c, d) in did.items()
    }
    for c in got:
        assert c.direction == ("success" if ratios[_item(c)] > 1 else "failure")

    def tie(item: tuple[str, str | None]) -> tuple[str, str]:
        return item[0], item[1] or ""

    # Each side: the `limit` most tied to it, strongest first, ties by name (and value); those
    # exactly as likely either way in neither.
    ups = sorted((i for i in ratios if ratios[i] > 1), key=lambda i: (-ratios[i], tie(i)))
    downs = sorted((i for i in ratios if ratios[i] < 1), key=lambda i: (ratios[i], tie(i)))
    assert [_item(c) for c in result.success] == ups[:limit]
    assert [_item(c) for c in result.failure] == downs[:limit]
    steps = {s.event for s in spec.steps}
    assert not any(c.event in steps or c.event in exclude for c in got if c.event)
    assert all((c.property is not None) == bool(properties) for c in got)


T = datetime(2026, 4, 1, 12, tzinfo=UTC)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=logs(),
    spec=specs(),
    pick_line=st.booleans(),
    event=st.sampled_from(["view", "click", "buy", "$identify"]),
    pick_event=st.integers(0, 3),
    of_tier=st.booleans(),
    converted=st.booleans(),
    tz=st.sampled_from(ZONES),
)
@example(  # two events at one moment, one with a session: the session is the answer
    log=[
        {"event": "$identify", "id": "a", "other": "a", "minute": 0, "props": {}},
        {"event": "view", "id": "b", "minute": 1, "session": None, "props": {}, "set": {}},
        {"event": "view", "id": "b", "minute": 1, "session": "s1", "props": {}, "set": {}},
        {"event": "$identify", "id": "b", "other": "a", "minute": 0, "props": {}},
    ],
    spec=FunnelQuery(
        steps=[FunnelStep(), FunnelStep(), FunnelStep()],
        window=1,
        window_unit=WindowUnit.MINUTE,
        date_range=DateRange(date_from="-1m"),
        breakdown_limit=1,
        histogram_bins=1,
    ),
    pick_line=False,
    event="view",
    pick_event=0,
    of_tier=False,
    converted=False,
    tz="UTC",
)
def test_the_persons_behind_a_correlated_event_match_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: FunnelQuery,
    pick_line: bool,
    event: str,
    pick_event: int,
    of_tier: bool,
    converted: bool,
    tz: str,
) -> None:
    store = make_store()
    events = write_log(store, log)
    start, end = span(spec.date_range, tz, NOW)
    lines = funnel(events, spec, start, end)
    line = _pick_line(spec, lines, last=False) if pick_line else None
    tiers = ["tier"] if of_tier else []
    counts = correlation(
        events, FunnelCorrelationQuery(funnel=spec, line=line, person_properties=tiers), start, end
    )[1]
    item: tuple[str, str | None] = (event, None) if not of_tier else ("tier", "gold")
    if counts and pick_event:
        # Mostly an event someone did inside their attempt (a value someone has); else any
        # name, a step's too (or a value nobody may have).
        item = sorted(counts, key=lambda i: (i[0], i[1] or ""))[pick_event % len(counts)]
    if of_tier:
        ask = FunnelCorrelationPersonsQuery(
            funnel=spec, line=line, property=item[0], value=item[1], converted=converted, limit=1000
        )
    else:
        ask = FunnelCorrelationPersonsQuery(
            funnel=spec, line=line, event=item[0], converted=converted, limit=1000
        )
    result = correlations.run_persons(ask, tz, NOW, engine_of(store, PROJECT))

    got = {(frozenset(p.distinct_ids), p.timestamp, p.session_id) for p in result.persons}
    assert got == correlation_persons(events, ask, start, end)
    assert result.total == len(got)
    # As many as the correlation counts (none for a step's event).
    assert len(got) == counts.get(item, (0, 0))[0 if converted else 1]


def _view_then_buy_unless_cancelled() -> FunnelQuery:
    """view -> buy within an hour, broken by a cancel between them."""
    return FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        window=1,
        window_unit=WindowUnit.HOUR,
        exclusions=[FunnelExclusion(event="cancel", from_step=0, to_step=1)],
        date_range=DateRange(date_from="-7d"),
    )


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1e6)


@pytest.mark.parametrize(
    ("late", "converted"), [(timedelta(0), True), (timedelta(seconds=1), False)]
)
def test_the_window_edge_counts_to_the_second(
    make_store: StoreFactory, late: timedelta, converted: bool
) -> None:
    store = make_store()
    store.write(
        [
            captured("a", event="view", ts_us=_us(T)),
            captured("a", event="buy", ts_us=_us(T + timedelta(hours=1) + late)),
        ]
    )
    spec = FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        window=3600,
        window_unit=WindowUnit.SECOND,
        date_range=DateRange(date_from="-7d"),
    )
    result = funnels.run(spec, "UTC", T + timedelta(days=1), engine_of(store, PROJECT))
    assert [s.count for s in result.lines[0].steps] == [1, 1 if converted else 0]


def test_conversion_over_time_counts_local_periods_and_knows_which_are_complete(
    make_store: StoreFactory,
) -> None:
    """Days in Paris around the clocks going forward (29 March 2026), a one-day window, the
    range ending at 31 March 00:00 there: the 29th's attempts have exactly their window left,
    the 30th's do not."""
    paris = ZoneInfo("Europe/Paris")

    def at(day: int, hour: int, minute: int) -> int:
        return _us(datetime(2026, 3, day, hour, minute, tzinfo=paris))

    store = make_store()
    store.write(
        [
            # The 29th, converting at the window's very edge.
            captured("a", event="view", ts_us=at(29, 23, 30)),
            captured("a", event="buy", ts_us=at(30, 23, 30)),
            # The 28th in Paris, the 27th in UTC.
            captured("b", event="view", ts_us=at(28, 0, 30)),
            captured("c", event="view", ts_us=at(30, 10, 0)),
        ]
    )
    spec = FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        window=1,
        window_unit=WindowUnit.DAY,
        date_range=DateRange(date_from="2026-03-27", date_to="2026-03-30"),
        over_time=Interval.DAY,
    )
    now = datetime(2026, 4, 2, tzinfo=UTC)
    engine = engine_of(store, PROJECT)
    result = funnels.run(spec, "Europe/Paris", now, engine)
    periods = result.lines[0].periods
    assert periods is not None
    assert [(p.start.day, p.counts, p.conversion, p.complete) for p in periods] == [
        (27, [0, 0], 0.0, True),
        (28, [1, 0], 0.0, True),
        (29, [1, 1], 1.0, True),
        (30, [1, 0], 0.0, False),
    ]
    assert result.over_time is Interval.DAY and result.timezone == "Europe/Paris"
    ask = FunnelPersonsQuery(funnel=spec, step=1, period=datetime(2026, 3, 29))
    found = funnels.run_persons(ask, "Europe/Paris", now, engine).persons
    assert [p.distinct_ids for p in found] == [["a"]]


@pytest.mark.parametrize(("order", "converted"), [("strict", 2), ("ordered", 3)])
def test_strict_order_breaks_on_an_event_between_steps(
    make_store: StoreFactory, order: str, converted: int
) -> None:
    """a: a click between view and buy; b: the buy at the same moment as a click (still the
    next moment); c: the click after the buy. Strict order loses a only."""
    store = make_store()
    minute = timedelta(minutes=1)
    store.write(
        [
            captured("a", event="view", ts_us=_us(T)),
            captured("a", event="click", ts_us=_us(T + minute)),
            captured("a", event="buy", ts_us=_us(T + 2 * minute)),
            captured("b", event="view", ts_us=_us(T)),
            captured("b", event="click", ts_us=_us(T + minute)),
            captured("b", event="buy", ts_us=_us(T + minute)),
            captured("c", event="view", ts_us=_us(T)),
            captured("c", event="buy", ts_us=_us(T + minute)),
            captured("c", event="click", ts_us=_us(T + 2 * minute)),
        ]
    )
    spec = FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        order=FunnelOrder(order),
        date_range=DateRange(date_from="-7d"),
    )
    result = funnels.run(spec, "UTC", T + timedelta(days=1), engine_of(store, PROJECT))
    assert [s.count for s in result.lines[0].steps] == [3, converted]


@pytest.mark.parametrize("order", list(FunnelOrder))
def test_the_longest_funnel_matches_the_reference(
    make_store: StoreFactory, order: FunnelOrder
) -> None:
    """Twenty steps and, in order, ten exclusions: persons who go all the way, stop part-way,
    start again, meet an exclusion, or another event between two steps or instead of one;
    each person's events a minute apart."""
    names = [f"s{i}" for i in range(20)]
    journeys = {
        "a": names,
        "b": names[:7],
        "c": [*names[:12], *names],
        "d": [*names[:5], "x", *names[5:15]],
        "e": [*names[:9], "y", *names[9:]],
        "f": [*names[:3], "y", *names[4:]],
    }
    log = [
        {"event": event, "id": who, "minute": 600 + i, "session": None, "props": {}, "set": None}
        for who, journey in journeys.items()
        for i, event in enumerate(journey)
    ]
    store = make_store()
    events = write_log(store, log)
    spec = FunnelQuery(
        steps=[FunnelStep(event=name) for name in names],
        order=order,
        window=1,
        window_unit=WindowUnit.DAY,
        exclusions=[]
        if order is FunnelOrder.UNORDERED
        else [FunnelExclusion(event="x", from_step=i, to_step=i + 1) for i in range(0, 20, 2)],
        date_range=DateRange(date_from="-1m"),
    )
    result = funnels.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    start, end = span(spec.date_range, "UTC", NOW)
    want = funnel(events, spec, start, end)
    assert [s.count for s in result.lines[0].steps] == want[(False, None)].counts


@pytest.mark.parametrize(
    ("step", "status", "after", "session"),
    [
        (0, "converted", timedelta(hours=2), "s2"),
        (1, "converted", timedelta(hours=2, minutes=1), "s3"),
        (1, "dropped", timedelta(hours=4), "s4"),
    ],
)
def test_the_persons_behind_a_step_show_the_counted_attempt(
    make_store: StoreFactory, step: int, status: str, after: timedelta, session: str
) -> None:
    """a's first attempt is broken by a cancel (an exclusion); its second, two hours later,
    converts. b's first attempt is broken too, and its second goes nowhere. Each person is
    shown at the time and session of their counted attempt."""
    store = make_store()
    minute = timedelta(minutes=1)
    store.write(
        [
            captured("a", event="view", ts_us=_us(T), session_id="s1"),
            captured("a", event="cancel", ts_us=_us(T + minute), session_id="s1"),
            captured("a", event="view", ts_us=_us(T + timedelta(hours=2)), session_id="s2"),
            captured("a", event="buy", ts_us=_us(T + timedelta(hours=2) + minute), session_id="s3"),
            captured("b", event="view", ts_us=_us(T), session_id="s1"),
            captured("b", event="cancel", ts_us=_us(T + minute), session_id="s1"),
            captured("b", event="view", ts_us=_us(T + timedelta(hours=4)), session_id="s4"),
        ]
    )
    spec = _view_then_buy_unless_cancelled()
    ask = FunnelPersonsQuery(funnel=spec, step=step, status=status)
    now = T + timedelta(days=1)
    result = funnels.run_persons(ask, "UTC", now, engine_of(store, PROJECT))
    got = {(p.timestamp, p.session_id) for p in result.persons}
    assert (T + after, session) in got
    assert len(got) == (2 if step == 0 else 1)


def test_an_unordered_funnels_persons_show_each_steps_session(make_store: StoreFactory) -> None:
    """Both steps at the same moment, one event with a session and one without: the steps'
    (time, session) pairs sort a missing session first, so the second step has the session."""
    store = make_store()
    store.write(
        [
            captured("a", event="view", ts_us=_us(T)),
            captured("a", event="buy", ts_us=_us(T), session_id="s9"),
        ]
    )
    spec = FunnelQuery(
        steps=[FunnelStep(event="buy"), FunnelStep(event="view")],
        order=FunnelOrder.UNORDERED,
        date_range=DateRange(date_from="-7d"),
    )
    engine = engine_of(store, PROJECT)
    now = T + timedelta(days=1)
    for step, session in ((0, None), (1, "s9")):
        ask = FunnelPersonsQuery(funnel=spec, step=step, status="converted")
        result = funnels.run_persons(ask, "UTC", now, engine)
        assert [(p.timestamp, p.session_id) for p in result.persons] == [(T, session)]


def test_time_to_convert_falls_in_readable_steps_an_edge_in_the_later_bin(
    make_store: StoreFactory,
) -> None:
    """Times on an edge (1 min, 5 min, 1 h) start the bin above it; just under one, the bin
    below. The bins run from the first holding a time to the last, and end at the window."""
    store = make_store()
    took = {"a": 60, "b": 59.999999, "c": 300, "d": 3_600, "e": 7_200}  # seconds
    store.write(
        [
            e
            for who, seconds in took.items()
            for e in (
                captured(who, event="view", ts_us=_us(T)),
                captured(who, event="buy", ts_us=_us(T) + round(seconds * 1e6)),
            )
        ]
    )
    spec = FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        window=2,
        window_unit=WindowUnit.HOUR,
        date_range=DateRange(date_from="-7d"),
    )
    result = funnels.run(spec, "UTC", T + timedelta(days=1), engine_of(store, PROJECT))
    got = [(b.start_seconds, b.end_seconds, b.count) for b in result.lines[0].histogram]
    # The edges shorter than the two-hour window, then the window itself.
    assert got == [
        (30, 60, 1),  # b
        (60, 120, 1),  # a
        (120, 300, 0),
        (300, 600, 1),  # c
        (600, 900, 0),
        (900, 1_800, 0),
        (1_800, 3_600, 0),
        (3_600, 7_200, 2),  # d, and e on the window's edge
    ]
    # A bin's persons are those it counts: asked for as the result gives the bin, the last
    # one without an end (it holds the window's edge).
    engine = engine_of(store, PROJECT)
    bins = result.lines[0].histogram
    for i, b in enumerate(bins):
        ask = FunnelPersonsQuery(
            funnel=spec,
            step=1,
            converted_in=ConversionTime(
                from_seconds=b.start_seconds,
                to_seconds=None if i == len(bins) - 1 else b.end_seconds,
            ),
        )
        found = funnels.run_persons(ask, "UTC", T + timedelta(days=1), engine).persons
        assert len(found) == b.count
        assert {p.distinct_ids[0] for p in found} == {
            who for who, seconds in took.items() if b.start_seconds <= seconds < b.end_seconds
        } | ({"e"} if i == len(bins) - 1 else set())


def test_nobody_in_range_gives_zero_counts(make_store: StoreFactory) -> None:
    store = make_store()
    spec = FunnelQuery(steps=[FunnelStep(event="view"), FunnelStep(event="buy")])
    result = funnels.run(spec, "UTC", T, engine_of(store, PROJECT))
    assert [(s.count, s.conversion_from_first) for s in result.lines[0].steps] == [
        (0, 0.0),
        (0, 0.0),
    ]
    assert result.lines[0].histogram == []


def test_another_projects_events_never_count(make_store: StoreFactory) -> None:
    store = make_store()
    store.write(
        [
            captured("a", event="view", ts_us=_us(T)),
            captured("a", event="buy", ts_us=_us(T) + 1, project_id=PROJECT + 1),
        ]
    )
    spec = FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        date_range=DateRange(date_from="-7d"),
    )
    result = funnels.run(spec, "UTC", T + timedelta(hours=1), engine_of(store, PROJECT))
    assert [s.count for s in result.lines[0].steps] == [1, 0]


@pytest.mark.parametrize(
    ("cancel_after", "broken"),
    [
        (timedelta(minutes=30), True),  # between the steps
        (timedelta(hours=1), True),  # at the window's edge, with no purchase: still inside
        (timedelta(hours=1, seconds=1), False),  # after the window
    ],
)
def test_an_exclusion_breaks_attempts_inside_their_window(
    make_store: StoreFactory, cancel_after: timedelta, broken: bool
) -> None:
    store = make_store()
    store.write(
        [
            captured("a", event="view", ts_us=_us(T)),
            captured("a", event="cancel", ts_us=_us(T + cancel_after)),
        ]
    )
    spec = _view_then_buy_unless_cancelled()
    result = funnels.run(spec, "UTC", T + timedelta(days=1), engine_of(store, PROJECT))
    assert result.lines[0].steps[0].count == (0 if broken else 1)


def test_an_exclusion_at_the_same_time_as_the_next_step_does_not_break(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    store.write(
        [
            captured("a", event="view", ts_us=_us(T)),
            captured("a", event="cancel", ts_us=_us(T + timedelta(minutes=5))),
            captured("a", event="buy", ts_us=_us(T + timedelta(minutes=5))),
        ]
    )
    spec = FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        exclusions=[FunnelExclusion(event="cancel")],
        date_range=DateRange(date_from="-7d"),
    )
    result = funnels.run(spec, "UTC", T + timedelta(days=1), engine_of(store, PROJECT))
    assert [s.count for s in result.lines[0].steps] == [1, 1]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=logs(), spec=specs(), chosen=st.lists(cohorts, min_size=1, max_size=3))
def test_cohort_breakdowns_match_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: FunnelQuery,
    chosen: list[CohortFilter],
) -> None:
    chosen = [c.model_copy(update={"cohort_id": 10 + i}) for i, c in enumerate(chosen)]
    spec = spec.model_copy(update={"breakdown": None, "breakdown_cohorts": chosen})
    store = make_store()
    events = write_log(store, log)
    result = funnels.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    start, end = span(spec.date_range, "UTC", NOW)

    assert [line.breakdown_value for line in result.lines] == [
        str(10 + i) for i in range(len(chosen))
    ]
    for line, cohort in zip(result.lines, chosen, strict=True):
        only = spec.model_copy(update={"breakdown_cohorts": [], "filters": [*spec.filters, cohort]})
        want = funnel(events, only, start, end)
        counts = want[(False, None)].counts if want else [0] * len(spec.steps)
        assert [s.count for s in line.steps] == counts
        # The persons of one cohort's line.
        ask = FunnelPersonsQuery(
            funnel=spec, step=0, line=BreakdownLine(value=line.breakdown_value), limit=1000
        )
        got = funnels.run_persons(ask, "UTC", NOW, engine_of(store, PROJECT))
        plain = FunnelPersonsQuery(funnel=only, step=0, limit=1000)
        assert {(frozenset(p.distinct_ids), p.timestamp, p.session_id) for p in got.persons} == (
            persons(events, plain, start, end)
        )


def test_an_event_done_by_converters_is_tied_to_converting(make_store: StoreFactory) -> None:
    """Four persons view; the two who open the tour buy; of the two who do not, one buys
    after the window and one never does. An event counts up to the purchase (at its very
    time) or the window's end (to the microsecond), never after."""
    store = make_store()
    hour = timedelta(hours=1)
    rows = []

    def did(who: str, event: str, at: timedelta) -> None:
        rows.append(captured(who, event=event, ts_us=_us(T + at)))

    for who, tour, buy_after in [
        ("a", True, timedelta(minutes=30)),
        ("b", True, timedelta(minutes=50)),
        ("c", False, 5 * hour),
        ("d", False, None),
    ]:
        did(who, "view", timedelta(0))
        if tour:
            did(who, "tour", timedelta(minutes=10))
        if buy_after is not None:
            did(who, "buy", buy_after)
        did(who, "help", 5 * hour)  # after every attempt's end: never counted
    did("a", "share", timedelta(minutes=30))  # with the purchase: counted
    did("c", "help", timedelta(minutes=20))  # a dropper, inside the window
    did("d", "chat", hour)  # at the window's end: counted
    did("c", "chat", hour + timedelta(microseconds=1))  # just after it: not
    store.write(rows)
    spec = FunnelQuery(
        steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
        window=1,
        window_unit=WindowUnit.HOUR,
        date_range=DateRange(date_from="2026-03-30", date_to="2026-04-03"),
    )
    ask = FunnelCorrelationQuery(funnel=spec)
    result = correlations.run(ask, "UTC", NOW, engine_of(store, PROJECT))
    assert (result.converted, result.dropped) == (2, 2)
    assert [(e.event, e.converted, e.dropped) for e in result.success] == [
        ("tour", 2, 0),
        ("share", 1, 0),
    ]
    assert [e.odds_ratio for e in result.success] == pytest.approx(
        [(3 / 1) / (1 / 3), (2 / 1) / (2 / 3)]
    )
    # Ties (the same odds ratio) by name.
    assert [(e.event, e.converted, e.dropped) for e in result.failure] == [
        ("chat", 0, 1),
        ("help", 0, 1),
    ]
    assert result.failure[0].odds_ratio == pytest.approx((1 / 2) / (3 / 2))
    left_out = FunnelCorrelationQuery(funnel=spec, exclude=["tour"], limit=1)
    assert [
        e.event for e in correlations.run(left_out, "UTC", NOW, engine_of(store, PROJECT)).success
    ] == ["share"]
