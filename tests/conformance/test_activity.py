"""Retention, lifecycle and stickiness on every store backend against the plain-Python
reference, over generated event logs (merged persons, same-time events, a daylight-saving
change), with the persons behind each number."""

from __future__ import annotations

import contextlib
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.activity_reference import lifecycle, retention, retention_lines, stickiness
from tests.conformance.conftest import StoreFactory
from tests.conformance.insight_logs import NOW, ZONES, cohorts, filters, logs, write_log
from tests.conformance.test_event_store import PROJECT
from userlens.model.activity import (
    LifecyclePersonsQuery,
    LifecycleQuery,
    LifecycleStatus,
    StickinessPersonsQuery,
    StickinessQuery,
)
from userlens.model.filters import CohortFilter
from userlens.model.insight import BreakdownLine, DateRange, EventRef, Interval, PersonsResult
from userlens.model.retention import RetentionPersonsQuery, RetentionQuery, RetentionType
from userlens.query import lifecycle as lifecycle_runner
from userlens.query import retention as retention_runner
from userlens.query import stickiness as stickiness_runner
from userlens.query.dates import periods_ending, resolve
from userlens.query.run import engine_of

FAST = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Cohort breakdowns: fewer runs (each cohort is a query of its own), and one to three cohorts
# numbered 10, 11, 12 as saved cohorts are, so a line's `breakdown_value` names its cohort.
BY_COHORTS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
saved_cohorts = st.lists(cohorts, min_size=1, max_size=3).map(
    lambda chosen: [c.model_copy(update={"cohort_id": 10 + i}) for i, c in enumerate(chosen)]
)

refs = st.builds(
    EventRef,
    event=st.sampled_from([None, "view", "click", "buy"]),
    filters=st.lists(filters, max_size=1),
)


def _persons(result: PersonsResult) -> dict[frozenset[str], tuple[Any, str | None]]:
    return {frozenset(p.distinct_ids): (p.timestamp, p.session_id) for p in result.persons}


@st.composite
def retention_specs(draw: st.DrawFn) -> RetentionQuery:
    return RetentionQuery(
        start=draw(refs),
        returning=draw(st.one_of(st.none(), refs)),
        period=draw(st.sampled_from([Interval.DAY, Interval.WEEK, Interval.MONTH])),
        periods=draw(st.integers(1, 8)),
        type=draw(st.sampled_from(list(RetentionType))),
        date_to=draw(st.sampled_from([None, "2026-03-30", "-3d"])),
        filters=draw(st.lists(filters, max_size=1)),
        breakdown=draw(st.sampled_from([None, None, "tier", "plan", "n", "missing"])),
        breakdown_type=draw(st.sampled_from(["person", "event"])),
        breakdown_limit=draw(st.integers(1, 3)),
    )


def _check_average(average: list[float | None], want: list[list[dict[Any, Any]]]) -> None:
    """The average: per period, those back over the persons of the cohorts that reached it."""
    for k, share in enumerate(average):
        reached = [row for row in want if row[0] and len(row) > k]
        back, persons = sum(len(row[k]) for row in reached), sum(len(row[0]) for row in reached)
        assert share == (pytest.approx(back / persons) if persons else None)
    assert len(average) == len(want)


def _masks(runner: object, on: bool) -> contextlib.AbstractContextManager[object]:
    """Off: the runner answers without its one-mask-per-person plan (`_bits`), also where it
    would take it."""
    return contextlib.nullcontext() if on else mock.patch.object(runner, "_bits", return_value=None)


@FAST
@given(
    log=logs(),
    spec=retention_specs(),
    tz=st.sampled_from(ZONES),
    cell=st.integers(0, 99),
    bits=st.booleans(),
)
def test_retention_matches_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: RetentionQuery,
    tz: str,
    cell: int,
    bits: bool,
) -> None:
    store = make_store()
    events = write_log(store, log)
    with _masks(retention_runner, bits):
        result = retention_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = periods_ending(spec.date_to, spec.period, spec.periods, tz, NOW)
    want = retention(events, spec, tz, window.buckets, window.start, window.end)

    assert [c.start for c in result.cohorts] == window.buckets
    assert [c.values for c in result.cohorts] == [[len(cell) for cell in row] for row in want]
    for cohort in result.cohorts:
        assert cohort.shares == [v / cohort.size if cohort.size else 0.0 for v in cohort.values]
    _check_average(result.average, want)
    line = None
    if spec.breakdown is None:
        assert result.lines is None
    else:
        # Each line is the table of its persons alone, the most persons first, "Other" last.
        by_line = retention_lines(events, spec, want)
        assert result.lines is not None
        got_lines = {(x.is_other, x.breakdown_value): x for x in result.lines}
        assert set(got_lines) == set(by_line)
        for key, rows in by_line.items():
            assert [c.values for c in got_lines[key].cohorts] == [
                [len(cell) for cell in row] for row in rows
            ]
            _check_average(got_lines[key].average, rows)
        weights = [(x.is_other, -sum(c.size for c in x.cohorts)) for x in result.lines]
        assert weights == sorted(weights)
        if by_line and cell % 2:
            key = sorted(by_line, key=lambda k: (k[0], k[1] or ""))[cell % len(by_line)]
            line = BreakdownLine(is_other=key[0], value=key[1])
            want = by_line[key]

    # The persons of one cell (of one line), with the moment of their start or return.
    cells = [(c, k) for c, row in enumerate(want) for k in range(len(row))]
    cells = [(c, k) for c, k in cells if want[c][k]] or cells
    c, k = cells[cell % len(cells)]
    ask = RetentionPersonsQuery(retention=spec, cohort=c, period=k, line=line, limit=1000)
    got = retention_runner.run_persons(ask, tz, NOW, engine_of(store, PROJECT))
    assert _persons(got) == want[c][k]
    assert got.total == len(want[c][k])


def test_retention_by_an_event_property_takes_each_cohorts_first_start(
    make_store: StoreFactory,
) -> None:
    """Recurring daily retention by the start event's plan. On day 5, ann views twice in one
    minute ("pro" and "free": the smallest holds) and bob once with no plan; on day 6 ann
    views again with "pro". So ann is "free" in day 5's cohort, and back a day later there,
    and "pro" in day 6's."""
    store = make_store()
    day = 24 * 60

    def view(who: str, minute: int, plan: str | None) -> dict[str, Any]:
        props = {} if plan is None else {"plan": plan}
        return {"event": "view", "id": who, "minute": minute, "session": None, "props": props}

    log = [
        {**view("ann", 5 * day + 60, "pro"), "set": {}},
        {**view("ann", 5 * day + 60, "free"), "set": {}},
        {**view("bob", 5 * day + 90, None), "set": {}},
        {**view("ann", 6 * day + 60, "pro"), "set": {}},
    ]
    write_log(store, log)
    spec = RetentionQuery(period=Interval.DAY, periods=8, breakdown="plan", breakdown_type="event")
    result = retention_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    assert result.lines is not None
    # Mar 30 is day 5 of the log, the third of the eight days.
    got = {
        (x.breakdown_value, c): v.values
        for x in result.lines
        for c, v in enumerate(x.cohorts)
        if v.size
    }
    assert got == {
        ("free", 2): [1, 1, 0, 0, 0, 0],
        (None, 2): [1, 0, 0, 0, 0, 0],
        ("pro", 3): [1, 0, 0, 0, 0],
    }
    assert [c.values[:2] for c in result.cohorts[2:4]] == [[2, 1], [1, 0]]
    line = BreakdownLine(value="free")
    ask = RetentionPersonsQuery(retention=spec, cohort=2, period=1, line=line)
    back = retention_runner.run_persons(ask, "UTC", NOW, engine_of(store, PROJECT))
    assert [p.distinct_ids for p in back.persons] == [["ann"]]


@pytest.mark.parametrize("bits", [True, False])
def test_retention_lines_rank_values_by_persons_not_by_cohorts(
    make_store: StoreFactory, bits: bool
) -> None:
    """Recurring daily retention: one gold person starts on three days, two silver persons on
    one day each. With one line, silver (two persons) has it; gold is "Other"."""
    store = make_store()
    day = 24 * 60
    log = [
        {
            "event": "view",
            "id": who,
            "minute": d * day + 60,
            "session": None,
            "props": {},
            "set": {"tier": tier},
        }
        for who, tier, days in [
            ("a", "gold", [5, 6, 7]),
            ("b", "silver", [5]),
            ("c", "silver", [6]),
        ]
        for d in days
    ]
    write_log(store, log)
    spec = RetentionQuery(period=Interval.DAY, periods=8, breakdown="tier", breakdown_limit=1)
    with _masks(retention_runner, bits):
        result = retention_runner.run(spec, "UTC", NOW, engine_of(store, PROJECT))
    assert result.lines is not None
    sizes = {(x.is_other, x.breakdown_value): [c.size for c in x.cohorts] for x in result.lines}
    # Mar 30 is day 5 of the log; the eight days end on Apr 4.
    assert sizes == {
        (False, "silver"): [0, 0, 1, 1, 0, 0, 0, 0],
        (True, None): [0, 0, 1, 1, 1, 0, 0, 0],
    }
    assert [(x.is_other, x.breakdown_value) for x in result.lines] == [
        (False, "silver"),
        (True, None),
    ]
    assert [c.size for c in result.cohorts] == [0, 0, 2, 2, 1, 0, 0, 0]


@BY_COHORTS
@given(
    log=logs(),
    spec=retention_specs(),
    chosen=saved_cohorts,
    tz=st.sampled_from(ZONES),
    cell=st.integers(0, 99),
)
def test_retention_by_cohorts_matches_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    spec: RetentionQuery,
    chosen: list[CohortFilter],
    tz: str,
    cell: int,
) -> None:
    """A line per cohort, in the order asked for: the table of the persons in it (a person in
    two cohorts is in both); the whole stays everyone's."""
    spec = spec.model_copy(update={"breakdown": None, "breakdown_cohorts": chosen})
    store = make_store()
    events = write_log(store, log)
    result = retention_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = periods_ending(spec.date_to, spec.period, spec.periods, tz, NOW)

    def cells(filters: list[Any]) -> list[list[dict[Any, Any]]]:
        only = spec.model_copy(update={"breakdown_cohorts": [], "filters": filters})
        return retention(events, only, tz, window.buckets, window.start, window.end)

    everyone = cells(spec.filters)
    assert [c.values for c in result.cohorts] == [[len(x) for x in row] for row in everyone]
    _check_average(result.average, everyone)
    assert result.lines is not None
    assert [x.breakdown_value for x in result.lines] == [str(10 + i) for i in range(len(chosen))]
    for line, cohort in zip(result.lines, chosen, strict=True):
        want = cells([*spec.filters, cohort])
        assert not line.is_other
        assert [c.values for c in line.cohorts] == [[len(x) for x in row] for row in want]
        _check_average(line.average, want)

    # The persons of one cell of one cohort's line.
    pick = cell % len(chosen)
    want = cells([*spec.filters, chosen[pick]])
    spots = [(c, k) for c, row in enumerate(want) for k in range(len(row))]
    spots = [(c, k) for c, k in spots if want[c][k]] or spots
    c, k = spots[cell % len(spots)]
    line = BreakdownLine(value=str(10 + pick))
    ask = RetentionPersonsQuery(retention=spec, cohort=c, period=k, line=line, limit=1000)
    got = retention_runner.run_persons(ask, tz, NOW, engine_of(store, PROJECT))
    assert _persons(got) == want[c][k]
    assert got.total == len(want[c][k])


@st.composite
def ranges(draw: st.DrawFn) -> tuple[Interval, DateRange]:
    interval = draw(st.sampled_from(list(Interval)))
    if interval is Interval.HOUR:
        return interval, DateRange(date_from=draw(st.sampled_from(["-2d", "2026-03-29", "-36h"])))
    return interval, draw(
        st.sampled_from(
            [
                DateRange(date_from="-7d"),
                DateRange(date_from="-1m"),
                DateRange(date_from="2026-03-26", date_to="2026-03-30"),
                DateRange(date_from="2026-03-29", date_to="2026-03-29"),
            ]
        )
    )


@FAST
@given(
    log=logs(),
    ref=refs,
    span=ranges(),
    extra=st.lists(filters, max_size=1),
    tz=st.sampled_from(ZONES),
    pick=st.integers(0, 999),
    bits=st.booleans(),
)
def test_lifecycle_matches_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    ref: EventRef,
    span: tuple[Interval, DateRange],
    extra: list[Any],
    tz: str,
    pick: int,
    bits: bool,
) -> None:
    interval, date_range = span
    spec = LifecycleQuery(event=ref, interval=interval, date_range=date_range, filters=extra)
    store = make_store()
    events = write_log(store, log)
    with _masks(lifecycle_runner, bits):
        result = lifecycle_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(date_range, interval, tz, NOW)
    want = lifecycle(events, ref, extra, interval, tz, window.buckets, window.end)

    assert result.buckets == window.buckets
    for status in LifecycleStatus:
        assert getattr(result, status.value) == [len(w[status]) for w in want], status

    # One cell, among those with persons when there are any.
    cells = [(b, st) for b in range(len(want)) for st in LifecycleStatus]
    cells = [c for c in cells if want[c[0]][c[1]]] or cells
    bucket, status = cells[pick % len(cells)]
    ask = LifecyclePersonsQuery(lifecycle=spec, bucket=bucket, status=status, limit=1000)
    got = lifecycle_runner.run_persons(ask, tz, NOW, engine_of(store, PROJECT))
    assert _persons(got) == want[bucket][status]


@BY_COHORTS
@given(
    log=logs(),
    ref=refs,
    span=ranges(),
    chosen=saved_cohorts,
    tz=st.sampled_from(ZONES),
    pick=st.integers(0, 999),
)
def test_lifecycle_by_cohorts_matches_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    ref: EventRef,
    span: tuple[Interval, DateRange],
    chosen: list[CohortFilter],
    tz: str,
    pick: int,
) -> None:
    """Everyone's lifecycle, and a line per cohort in the order asked for: its persons alone
    (a person in two cohorts counts in both), with the persons behind each bar."""
    interval, date_range = span
    spec = LifecycleQuery(
        event=ref, interval=interval, date_range=date_range, breakdown_cohorts=chosen
    )
    store = make_store()
    events = write_log(store, log)
    result = lifecycle_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(date_range, interval, tz, NOW)
    everyone = lifecycle(events, ref, [], interval, tz, window.buckets, window.end)
    for status in LifecycleStatus:
        assert getattr(result, status.value) == [len(w[status]) for w in everyone], status
    assert result.lines is not None
    assert [line.breakdown_value for line in result.lines] == [
        str(10 + i) for i in range(len(chosen))
    ]
    wants = [
        lifecycle(events, ref, [cohort], interval, tz, window.buckets, window.end)
        for cohort in chosen
    ]
    for line, want in zip(result.lines, wants, strict=True):
        for status in LifecycleStatus:
            assert getattr(line, status.value) == [len(w[status]) for w in want], status

    # One cell of one cohort's line.
    i = pick % len(chosen)
    cells = [(b, st) for b in range(len(wants[i])) for st in LifecycleStatus]
    cells = [c for c in cells if wants[i][c[0]][c[1]]] or cells
    bucket, status = cells[pick % len(cells)]
    ask = LifecyclePersonsQuery(
        lifecycle=spec,
        bucket=bucket,
        status=status,
        line=BreakdownLine(value=str(10 + i)),
        limit=1000,
    )
    got = lifecycle_runner.run_persons(ask, tz, NOW, engine_of(store, PROJECT))
    assert _persons(got) == wants[i][bucket][status]


@FAST
@given(
    log=logs(),
    series=st.lists(refs, min_size=1, max_size=3),
    span=ranges(),
    extra=st.lists(filters, max_size=1),
    tz=st.sampled_from(ZONES),
    pick=st.integers(0, 999),
    bits=st.booleans(),
)
def test_stickiness_matches_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    series: list[EventRef],
    span: tuple[Interval, DateRange],
    extra: list[Any],
    tz: str,
    pick: int,
    bits: bool,
) -> None:
    interval, date_range = span
    spec = StickinessQuery(series=series, interval=interval, date_range=date_range, filters=extra)
    store = make_store()
    events = write_log(store, log)
    with _masks(stickiness_runner, bits):
        result = stickiness_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(date_range, interval, tz, NOW)
    assert result.intervals == len(window.buckets)
    wants = [
        stickiness(events, ref, extra, interval, tz, window.start, window.end) for ref in series
    ]
    for line, want in zip(result.series, wants, strict=True):
        assert line.persons == [len(want.get(n, {})) for n in range(1, result.intervals + 1)]

    cells = [(i, n) for i in range(len(series)) for n in range(1, result.intervals + 1)]
    cells = [(i, n) for i, n in cells if wants[i].get(n)] or cells
    i, n = cells[pick % len(cells)]
    ask = StickinessPersonsQuery(stickiness=spec, series=i, intervals=n, limit=1000)
    got = stickiness_runner.run_persons(ask, tz, NOW, engine_of(store, PROJECT))
    assert _persons(got) == wants[i].get(n, {})


@BY_COHORTS
@given(
    log=logs(),
    series=st.lists(refs, min_size=1, max_size=2),
    span=ranges(),
    chosen=saved_cohorts,
    tz=st.sampled_from(ZONES),
    pick=st.integers(0, 999),
)
def test_stickiness_by_cohorts_matches_the_reference(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    series: list[EventRef],
    span: tuple[Interval, DateRange],
    chosen: list[CohortFilter],
    tz: str,
    pick: int,
) -> None:
    """A line per series and cohort, series by series and the cohorts in the order asked for:
    the persons of that cohort alone (a person in two cohorts counts in both)."""
    interval, date_range = span
    spec = StickinessQuery(
        series=series, interval=interval, date_range=date_range, breakdown_cohorts=chosen
    )
    store = make_store()
    events = write_log(store, log)
    result = stickiness_runner.run(spec, tz, NOW, engine_of(store, PROJECT))
    window = resolve(date_range, interval, tz, NOW)
    assert [(line.series, line.breakdown_value) for line in result.series] == [
        (i, str(10 + c)) for i in range(len(series)) for c in range(len(chosen))
    ]
    for line in result.series:
        cohort = chosen[int(line.breakdown_value or "") - 10]
        ref = series[line.series]
        want = stickiness(events, ref, [cohort], interval, tz, window.start, window.end)
        assert line.persons == [len(want.get(n, {})) for n in range(1, result.intervals + 1)]

    # The persons of one line's bar.
    line = result.series[pick % len(result.series)]
    cohort = chosen[int(line.breakdown_value or "") - 10]
    want = stickiness(events, series[line.series], [cohort], interval, tz, window.start, window.end)
    bars = [n for n in range(1, result.intervals + 1) if want.get(n)] or [1]
    n = bars[pick % len(bars)]
    ask = StickinessPersonsQuery(
        stickiness=spec,
        series=line.series,
        intervals=n,
        line=BreakdownLine(value=line.breakdown_value),
        limit=1000,
    )
    got = stickiness_runner.run_persons(ask, tz, NOW, engine_of(store, PROJECT))
    assert _persons(got) == want.get(n, {})
