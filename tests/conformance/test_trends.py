"""Trends on every store backend against the plain-Python reference, over generated event
logs: merged persons, same-time events, time zones with a daylight-saving change, filters."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.conftest import StoreFactory
from tests.conformance.insight_logs import NOW, ZONES, cohorts, filters, logs, write_log
from tests.conformance.insights_reference import Ev, trends, trends_by_line, trends_persons
from tests.conformance.test_event_store import PROJECT, captured
from userlens.errors import InvalidInput
from userlens.model.filters import CohortFilter
from userlens.model.ids import STORED
from userlens.model.insight import (
    ACTIVE_DAYS,
    PROPERTY_MATHS,
    BreakdownLine,
    DateRange,
    Interval,
    PropertyFilter,
    TrendsLine,
    TrendsMath,
    TrendsPersonsQuery,
    TrendsQuery,
    TrendsSeries,
)
from userlens.query import trends as trends_runner
from userlens.query.dates import bucket_ends, previous, resolve
from userlens.query.run import engine_of


@st.composite
def series(draw: st.DrawFn) -> TrendsSeries:
    math = draw(st.sampled_from(list(TrendsMath)))
    return TrendsSeries(
        event=draw(st.sampled_from([None, "view", "click", "buy", "never"])),
        math=math,
        # Mostly the numeric property; sometimes one that is never a number.
        math_property=draw(st.sampled_from(["n", "n", "plan"])) if math in PROPERTY_MATHS else None,
        filters=draw(st.lists(filters, max_size=2)),
    )


@st.composite
def specs(draw: st.DrawFn) -> TrendsQuery:
    interval = draw(st.sampled_from(list(Interval)))
    if interval is Interval.HOUR:
        date_range = DateRange(date_from=draw(st.sampled_from(["-2d", "2026-03-28", "-36h"])))
    else:
        date_range = draw(
            st.sampled_from(
                [
                    DateRange(date_from="-7d"),
                    DateRange(date_from="-1m"),
                    DateRange(date_from="2026-03-26", date_to="2026-03-30"),
                    DateRange(date_from="2026-03-29", date_to="2026-03-29"),
                ]
            )
        )
    chosen = draw(st.lists(series(), min_size=1, max_size=3))
    return TrendsQuery(
        series=chosen,
        interval=interval,
        date_range=date_range,
        filters=draw(st.lists(filters, max_size=1)),
        compare=draw(st.booleans()),
        formula=draw(st.sampled_from([None, *(FORMULAS if len(chosen) > 1 else ONE_SERIES)])),
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=logs(), spec=specs(), tz=st.sampled_from(ZONES), bits=st.booleans())
def test_trends_match_the_reference(
    make_store: StoreFactory, log: list[dict[str, Any]], spec: TrendsQuery, tz: str, bits: bool
) -> None:
    """`bits` off: active and distinct counts are made without the one-bit-per-bucket plans,
    also where they would apply."""
    store = make_store()
    events = write_log(store, log)
    with _bit_masks(bits):
        result = trends_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(spec.date_range, spec.interval, tz, NOW)
    want = trends(events, spec, tz, window.start, window.end, window.buckets)

    assert result.buckets == window.buckets
    _same(result.series, result.buckets, _with_formula(spec, result.buckets, want))
    # Each line says which series it is of (the formula's, none), for its drill-down.
    of = [*range(len(spec.series)), *([None] if spec.formula else [])]
    assert [line.series for line in result.series] == of
    if spec.compare:
        before = previous(window, spec.interval, tz)
        assert before.end == window.start
        assert result.previous is not None and result.previous_buckets == before.buckets
        earlier = trends(events, spec, tz, before.start, before.end, before.buckets)
        _same(result.previous, before.buckets, _with_formula(spec, before.buckets, earlier))
    else:
        assert result.previous is None


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


# Formulas, and what they mean in plain Python (a division by zero gives 0).
FORMULAS: dict[str, Callable[..., float]] = {
    "A + B": lambda a, b, *_: a + b,
    "A / B * 100": lambda a, b, *_: _div(a, b) * 100,
    "(A - B) / 2": lambda a, b, *_: (a - b) / 2,
    "-A * 2 + B / (A + 1)": lambda a, b, *_: -a * 2 + _div(b, a + 1),
}
ONE_SERIES: dict[str, Callable[..., float]] = {
    "A * 2.5": lambda a, *_: a * 2.5,
    "-A": lambda a, *_: -a,
}


def _with_formula(
    spec: TrendsQuery, buckets: list[datetime], want: list[tuple[dict[datetime, float], float]]
) -> list[tuple[dict[datetime, float], float]]:
    if spec.formula is None:
        return want
    fn = {**FORMULAS, **ONE_SERIES}[spec.formula]
    per_bucket = {b: fn(*(w[0].get(b, 0.0) for w in want)) for b in buckets}
    return [*want, (per_bucket, fn(*(w[1] for w in want)))]


def _same(
    lines: list[TrendsLine],
    buckets: list[datetime],
    want: list[tuple[dict[datetime, float], float]],
) -> None:
    for line, (per_bucket, total) in zip(lines, want, strict=True):
        assert set(per_bucket) <= set(buckets)
        # Counts are exact; averages and quantiles agree to floating-point rounding.
        assert line.values == pytest.approx(
            [per_bucket.get(b, 0.0) for b in buckets], rel=1e-9, abs=1e-9
        )
        assert line.total == pytest.approx(total, rel=1e-9, abs=1e-9)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=logs(),
    spec=specs(),
    tz=st.sampled_from(ZONES),
    breakdown=st.sampled_from(["plan", "n", "missing", "tier"]),
    limit=st.integers(1, 3),
)
def test_breakdowns_match_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: TrendsQuery,
    tz: str,
    breakdown: str,
    limit: int,
) -> None:
    # Filters and date ranges have their own test: here every event counts, so that ties
    # between breakdown values (and so the tie rule) come up often.
    spec = spec.model_copy(
        update={
            "series": [spec.series[0].model_copy(update={"filters": []})],
            "filters": [],
            "date_range": DateRange(date_from="-1m"),
            "breakdown": breakdown,
            "breakdown_type": "person" if breakdown == "tier" else "event",
            "breakdown_limit": limit,
            "formula": None,
        }
    )
    store = make_store()
    events = write_log(store, log)
    result = trends_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(spec.date_range, spec.interval, tz, NOW)
    want = trends_by_line(events, spec, tz, window.start, window.end, window.buckets)

    got = {(line.is_other, line.breakdown_value): line for line in result.series}
    assert set(got) == set(want)
    for key, (per_bucket, total) in want.items():
        line = got[key]
        assert line.values == pytest.approx(
            [per_bucket.get(b, 0.0) for b in result.buckets], rel=1e-9, abs=1e-9
        )
        assert line.total == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert sum(1 for line in result.series if not line.is_other and line.breakdown_value) <= limit
    assert all(line.series == 0 for line in result.series)


def test_another_projects_events_never_count(make_store: StoreFactory) -> None:
    store = make_store()
    ts = int((NOW - timedelta(hours=1)).timestamp() * 1e6)
    store.write([captured("a", event="view", ts_us=ts)])
    store.write([captured("b", event="view", ts_us=ts, project_id=PROJECT + 1)])
    spec = TrendsQuery(series=[TrendsSeries(event="view")], date_range=DateRange(date_from="-1d"))
    result = trends_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    assert result.series[0].total == 1


def test_a_regex_the_engine_refuses_is_invalid_input(make_store: StoreFactory) -> None:
    store = make_store()
    store.write([captured("a", event="view", ts_us=int(NOW.timestamp() * 1e6) - 1000)])
    # Python accepts look-ahead; RE2 (DuckDB, ClickHouse) does not. New input is refused
    # when it is read; a filter saved before that check is read back as it was, and the engine
    # refuses it when the query runs.
    bad = PropertyFilter.model_validate(
        {"key": "plan", "operator": "regex", "value": "(?=x)"}, context=STORED
    )
    spec = TrendsQuery(series=[TrendsSeries(filters=[bad])])
    with pytest.raises(InvalidInput):
        trends_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))


def test_breakdown_ties_go_to_the_smaller_value(make_store: StoreFactory) -> None:
    store = make_store()
    ts = int((NOW - timedelta(hours=1)).timestamp() * 1e6)
    store.write(
        [
            captured("a", event="view", ts_us=ts, props={"plan": plan})
            for plan in ["pro", "free", "team", "team"]
        ]
    )
    spec = TrendsQuery(
        series=[TrendsSeries(event="view")],
        date_range=DateRange(date_from="-1d"),
        breakdown="plan",
        breakdown_limit=2,
    )
    result = trends_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    lines = [(line.breakdown_value, line.is_other, line.total) for line in result.series]
    assert lines == [("team", False, 2), ("free", False, 1), (None, True, 1)]


@pytest.mark.parametrize("interval", [Interval.DAY, Interval.MONTH])
def test_active_users_by_plan_count_a_person_once_a_line(
    make_store: StoreFactory, interval: Interval
) -> None:
    """Weekly and daily active users by plan, two series in one answer (by day: one mask per
    person and line; by month: spans). ann views with "pro" and "free" today and with "pro"
    ten days ago, bob with "team" three days ago, cat with "free" today and with "team" two
    days ago. Each series ranks the plans by its persons active at the end: this week free
    (ann, cat) and team (bob, cat) lead, ann's pro is "Other"; today free (ann, cat) and pro
    (ann) lead. A person counts once in each line they were active in."""
    store = make_store()
    day = timedelta(days=1)
    rows = [
        ("ann", NOW - timedelta(hours=1), "pro"),
        ("ann", NOW - timedelta(hours=2), "free"),
        ("ann", NOW - 10 * day, "pro"),
        ("bob", NOW - 3 * day, "team"),
        ("cat", NOW - timedelta(hours=3), "free"),
        ("cat", NOW - 2 * day, "team"),
    ]
    store.write(
        [
            captured(who, event="view", ts_us=int(at.timestamp() * 1e6), props={"plan": plan})
            for who, at, plan in rows
        ]
    )
    spec = TrendsQuery(
        series=[
            TrendsSeries(event="view", math=TrendsMath.WAU),
            TrendsSeries(event="view", math=TrendsMath.DAU),
        ],
        interval=interval,
        date_range=DateRange(date_from="-1m"),
        breakdown="plan",
        breakdown_limit=2,
    )
    result = trends_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    totals = {(x.series, x.is_other, x.breakdown_value): x.total for x in result.series}
    assert totals == {
        (0, False, "free"): 2,
        (0, False, "team"): 2,
        (0, True, None): 1,
        (1, False, "free"): 2,
        (1, False, "pro"): 1,
        (1, True, None): 0,
    }
    # Every bucket, as the reference counts it.
    window = resolve(spec.date_range, spec.interval, "UTC", NOW)
    events = [
        Ev(
            event="view",
            timestamp=at,
            person=ord(who[0]),
            session_id=None,
            properties={"plan": plan},
        )
        for who, at, plan in rows
    ]
    for index in range(2):
        one = spec.model_copy(update={"series": [spec.series[index]]})
        want = trends_by_line(events, one, "UTC", window.start, window.end, window.buckets)
        got = {
            (x.is_other, x.breakdown_value): x.values for x in result.series if x.series == index
        }
        assert got == {
            key: [per.get(b, 0.0) for b in window.buckets] for key, (per, _) in want.items()
        }


@pytest.mark.parametrize(
    ("math", "days_ago", "counted"),
    [
        (TrendsMath.DAU, 0.9, True),
        (TrendsMath.DAU, 1.1, False),
        (TrendsMath.WAU, 6.9, True),
        (TrendsMath.WAU, 7.1, False),
        (TrendsMath.MAU, 29.9, True),
        (TrendsMath.MAU, 30.1, False),
    ],
)
def test_active_persons_look_back_exactly_their_days(
    make_store: StoreFactory, math: TrendsMath, days_ago: float, counted: bool
) -> None:
    store = make_store()
    ts = NOW - timedelta(days=days_ago)
    store.write([captured("a", event="view", ts_us=int(ts.timestamp() * 1e6))])
    spec = TrendsQuery(
        series=[TrendsSeries(event="view", math=math)], date_range=DateRange(date_from="-1d")
    )
    result = trends_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    assert result.series[0].total == (1 if counted else 0)
    assert result.series[0].values[-1] == result.series[0].total


@contextlib.contextmanager
def _bit_masks(on: bool) -> Iterator[None]:
    """Off: active and distinct counts without the one-bit-per-bucket plans."""
    if on:
        yield
        return
    with (
        mock.patch.object(trends_runner, "_slots", return_value=None),
        mock.patch.object(trends_runner, "_masks", return_value=None),
    ):
        yield


@pytest.mark.parametrize("bits", [True, False])
@pytest.mark.parametrize("math", [TrendsMath.DAU, TrendsMath.WAU])
def test_active_persons_at_the_edges_of_their_days(
    make_store: StoreFactory, math: TrendsMath, bits: bool
) -> None:
    """Times exactly `days` before a bucket's end, and exactly at a bucket's end, against the
    plain-Python reference: a bucket counts [end - days, end)."""
    store = make_store()
    days = 1 if math is TrendsMath.DAU else 7
    midnight = datetime(2026, 3, 10, tzinfo=UTC)
    times = [
        midnight - timedelta(days=days),  # counts at midnight's bucket end, just
        midnight,  # a bucket end itself: counts from the next end on
        midnight + timedelta(days=1) - timedelta(days=days),
        midnight + timedelta(hours=5),
    ]
    store.write(
        [
            captured(who, event="view", ts_us=int(t.timestamp() * 1e6))
            for who, picked in (("a", (0, 1)), ("b", (0,)), ("c", (1, 3)), ("d", (2,)))
            for t in (times[i] for i in picked)
        ]
    )
    now = midnight + timedelta(days=3)
    spec = TrendsQuery(
        series=[TrendsSeries(event="view", math=math)], date_range=DateRange(date_from="-5d")
    )
    with _bit_masks(bits):
        result = trends_runner.run(spec, "UTC", now, engine_of(store, PROJECT))
    window = resolve(spec.date_range, spec.interval, "UTC", now)
    for bucket, end, value in zip(
        window.buckets, bucket_ends(window, "UTC"), result.series[0].values, strict=True
    ):
        want = {
            who
            for who, picked in (("a", (0, 1)), ("b", (0,)), ("c", (1, 3)), ("d", (2,)))
            if any(end - timedelta(days=days) <= times[i] < end for i in picked)
        }
        assert value == len(want), (bucket, end)


def test_the_data_version_moves_with_the_projects_data(make_store: StoreFactory) -> None:
    store = make_store()
    other = PROJECT + 1
    before, before_other = store.data_version(PROJECT), store.data_version(other)
    store.write([captured("a", event="view")])
    after_write = store.data_version(PROJECT)
    assert after_write != before
    assert store.data_version(other) == before_other  # another project's answers stay valid
    store.delete_person(PROJECT, "a", before_commit=lambda _plan: None)
    assert store.data_version(PROJECT) != after_write


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=logs(),
    spec=specs(),
    tz=st.sampled_from(ZONES),
    chosen=st.lists(cohorts, min_size=1, max_size=3),
)
def test_cohort_breakdowns_match_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: TrendsQuery,
    tz: str,
    chosen: list[CohortFilter],
) -> None:
    chosen = [c.model_copy(update={"cohort_id": 10 + i}) for i, c in enumerate(chosen)]
    spec = spec.model_copy(update={"formula": None, "breakdown_cohorts": chosen})
    store = make_store()
    events = write_log(store, log)
    result = trends_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(spec.date_range, spec.interval, tz, NOW)

    per_cohort = len(spec.series)
    assert len(result.series) == per_cohort * len(chosen)
    for i, cohort in enumerate(chosen):
        lines = result.series[i * per_cohort : (i + 1) * per_cohort]
        assert {line.breakdown_value for line in lines} == {str(10 + i)}
        only = spec.model_copy(update={"filters": [*spec.filters, cohort]})
        _same(
            lines,
            result.buckets,
            trends(events, only, tz, window.start, window.end, window.buckets),
        )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=logs(),
    spec=specs(),
    tz=st.sampled_from(ZONES),
    breakdown=st.sampled_from([None, "plan", "tier"]),
    pick=st.integers(0, 999),
)
def test_the_persons_behind_a_number_match_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: TrendsQuery,
    tz: str,
    breakdown: str | None,
    pick: int,
) -> None:
    # One series (it is the one asked about), so that every line is one of its own.
    index = 0
    one = spec.series[pick % len(spec.series)]
    active = one.math in ACTIVE_DAYS
    spec = spec.model_copy(
        update={
            "series": [one],
            "formula": None,
            "breakdown": breakdown,
            "breakdown_type": "person" if breakdown == "tier" else "event",
            "breakdown_limit": 1 + pick % 2,
        }
    )
    store = make_store()
    events = write_log(store, log)
    result = trends_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(spec.date_range, spec.interval, tz, NOW)
    # A line of the answer (with a breakdown and no events there are none: ask for "(none)"),
    # and one of its buckets, one with a number when there is one (or the whole range).
    chosen = result.series[(pick // 7) % len(result.series)] if result.series else None
    counted = [b for b, v in enumerate(chosen.values) if v] if chosen else []
    buckets = counted or list(range(len(window.buckets)))
    bucket = None if pick % 5 == 0 else buckets[(pick // 5) % len(buckets)]
    line = (
        BreakdownLine(value=chosen.breakdown_value, is_other=chosen.is_other)
        if chosen
        else BreakdownLine()
    )
    ask = TrendsPersonsQuery(
        trends=spec, series=index, bucket=bucket, line=line if spec.breakdown else None, limit=1000
    )
    got = trends_runner.run_persons(ask, tz, NOW, engine_of(store, PROJECT))

    if active:
        end = bucket_ends(window, tz)[-1 if bucket is None else bucket]
        start = end - timedelta(days=ACTIVE_DAYS[spec.series[index].math])
    else:
        start, end = window.start, window.end
    want = trends_persons(
        events,
        spec,
        index,
        None if bucket is None else window.buckets[bucket],
        (line.is_other, line.value) if spec.breakdown else None,
        tz,
        start,
        end,
        (window.start, window.end),
    )
    assert {frozenset(p.distinct_ids): (p.timestamp, p.session_id) for p in got.persons} == want
    assert got.total == len(want)
    if chosen and one.math is TrendsMath.UNIQUE_PERSONS and bucket is not None:
        assert len(want) == chosen.values[bucket]  # the number and its persons agree
