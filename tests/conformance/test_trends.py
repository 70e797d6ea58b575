"""Trends on every store backend against the plain-Python reference, over generated event
logs: merged persons, same-time events, time zones with a daylight-saving change, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.conftest import StoreFactory
from tests.conformance.insights_reference import Ev, trends
from tests.conformance.reference import RefEvent, RefPersons
from tests.conformance.test_event_store import PROJECT, captured
from userlens.errors import InvalidInput
from userlens.model.insight import (
    DateRange,
    Interval,
    Operator,
    PropertyFilter,
    TrendsMath,
    TrendsQuery,
    TrendsSeries,
)
from userlens.query import trends as trends_runner
from userlens.query.dates import resolve

# 2026-03-25: the logs span Europe's change to summer time (29 March).
BASE = datetime(2026, 3, 25, tzinfo=UTC)
NOW = BASE + timedelta(days=10, hours=5)
IDS = ["a", "b", "c", "d"]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]


@st.composite
def logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 40))):
        if draw(st.integers(0, 9)) == 0:
            a, b = draw(st.sampled_from(IDS)), draw(st.sampled_from(IDS))
            out.append({"event": "$identify", "id": a, "other": b, "minute": 0, "props": {}})
            continue
        props: dict[str, Any] = {}
        if draw(st.booleans()):
            props["plan"] = draw(st.sampled_from(["free", "pro", "Pro Max", "team/pro"]))
        if draw(st.booleans()):
            props["n"] = draw(st.integers(-5, 50))
        out.append(
            {
                "event": draw(st.sampled_from(["view", "click", "buy"])),
                "id": draw(st.sampled_from(IDS)),
                # Minutes over ten days, often the same minute twice.
                "minute": draw(st.one_of(st.integers(0, 14_400), st.sampled_from([0, 600, 2_880]))),
                "session": draw(st.sampled_from([None, "s1", "s2", "s3"])),
                "props": props,
            }
        )
    return out


filters = st.one_of(
    st.builds(
        PropertyFilter,
        key=st.just("plan"),
        operator=st.sampled_from(
            [Operator.EXACT, Operator.IS_NOT, Operator.CONTAINS, Operator.NOT_CONTAINS]
        ),
        value=st.sampled_from(["free", "pro", "PRO", "team/"]),
    ),
    st.builds(
        PropertyFilter,
        key=st.sampled_from(["plan", "n", "missing"]),
        operator=st.sampled_from([Operator.IS_SET, Operator.IS_NOT_SET]),
    ),
    st.builds(
        PropertyFilter,
        key=st.just("n"),
        operator=st.sampled_from([Operator.GT, Operator.LT, Operator.EXACT]),
        value=st.integers(-5, 50),
    ),
    st.builds(
        PropertyFilter,
        key=st.sampled_from(["plan", "n"]),
        operator=st.just(Operator.IN),
        value=st.lists(st.sampled_from(["free", "Pro Max", "3", "7"]), min_size=1, max_size=3),
    ),
    st.builds(
        PropertyFilter,
        key=st.just("plan"),
        operator=st.just(Operator.REGEX),
        value=st.sampled_from(["^pro", "o$", "[a-z]+/"]),
    ),
)

series = st.builds(
    TrendsSeries,
    event=st.sampled_from([None, "view", "click", "buy", "never"]),
    math=st.sampled_from(list(TrendsMath)),
    filters=st.lists(filters, max_size=2),
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
    return TrendsQuery(
        series=draw(st.lists(series, min_size=1, max_size=3)),
        interval=interval,
        date_range=date_range,
        filters=draw(st.lists(filters, max_size=1)),
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=logs(), spec=specs(), tz=st.sampled_from(ZONES))
def test_trends_match_the_reference(
    make_store: StoreFactory, log: list[dict[str, Any]], spec: TrendsQuery, tz: str
) -> None:
    store = make_store()
    people = RefPersons()
    written = []
    for i, item in enumerate(log):
        ts = BASE + timedelta(minutes=item["minute"])
        if item["event"] == "$identify":
            people.apply(RefEvent(item["id"], "$identify", other=item["other"]))
            written.append(
                captured(
                    item["id"],
                    event="$identify",
                    ts_us=int(ts.timestamp() * 1e6) + i,
                    anon_distinct_id=item["other"],
                )
            )
            continue
        people.apply(RefEvent(item["id"], item["event"]))
        written.append(
            captured(
                item["id"],
                event=item["event"],
                ts_us=int(ts.timestamp() * 1e6),
                props=item["props"],
                session_id=item["session"],
            )
        )
    store.write(written)

    def person_number(distinct_id: str) -> int:
        person = people.of(distinct_id)
        assert person is not None
        return id(person)

    events = [
        Ev(
            event=c.event,
            timestamp=datetime.fromtimestamp(c.timestamp_us / 1e6, tz=UTC),
            person=person_number(c.distinct_id),
            session_id=c.session_id,
            properties=item["props"],
        )
        for c, item in zip(written, log, strict=True)
    ]
    result = trends_runner.run(spec, tz, NOW, lambda q: store.query(PROJECT, q))
    window = resolve(spec.date_range, spec.interval, tz, NOW)
    want = trends(events, spec, tz, window.start, window.end)

    assert result.buckets == window.buckets
    for line, (per_bucket, total) in zip(result.series, want, strict=True):
        assert set(per_bucket) <= set(result.buckets)
        assert line.values == [per_bucket.get(b, 0.0) for b in result.buckets]
        assert line.total == total


def test_another_projects_events_never_count(make_store: StoreFactory) -> None:
    store = make_store()
    ts = int((NOW - timedelta(hours=1)).timestamp() * 1e6)
    store.write([captured("a", event="view", ts_us=ts)])
    store.write([captured("b", event="view", ts_us=ts, project_id=PROJECT + 1)])
    spec = TrendsQuery(series=[TrendsSeries(event="view")], date_range=DateRange(date_from="-1d"))
    result = trends_runner.run(spec, "UTC", NOW, lambda q: store.query(PROJECT, q))
    assert result.series[0].total == 1


def test_a_regex_the_engine_refuses_is_invalid_input(make_store: StoreFactory) -> None:
    store = make_store()
    store.write([captured("a", event="view", ts_us=int(NOW.timestamp() * 1e6) - 1000)])
    # Python accepts look-ahead; RE2 (DuckDB, ClickHouse) does not.
    bad = PropertyFilter(key="plan", operator=Operator.REGEX, value="(?=x)")
    spec = TrendsQuery(series=[TrendsSeries(filters=[bad])])
    with pytest.raises(InvalidInput):
        trends_runner.run(spec, "UTC", NOW, lambda q: store.query(PROJECT, q))
