"""Plain-Python insight answers over a list of events, written for clarity, not speed: what
every store's SQL must agree with."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from userlens.model.filters import CohortFilter, Filter, FilterGroup, HasProperty, PropertyFilter
from userlens.model.insight import (
    Interval,
    Operator,
    TrendsMath,
    TrendsQuery,
    TrendsSeries,
)


@dataclasses.dataclass(frozen=True)
class Ev:
    event: str
    timestamp: datetime  # aware
    person: int  # a stable number for the person (after every merge)
    session_id: str | None
    properties: dict[str, Any]
    person_properties: dict[str, Any] = dataclasses.field(default_factory=dict)
    distinct_ids: frozenset[str] = frozenset()  # the person's, after every merge
    pathname: str | None = None
    uuid: str = ""


def text(value: Any) -> str | None:
    """A property value as the store's JSON text form; None when unset or null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Every event of the log, for cohorts' did_event rules (set by `set_world`).
WORLD: list[Ev] = []


def set_world(events: list[Ev]) -> None:
    WORLD[:] = events


def in_cohort(f: CohortFilter, e: Ev) -> bool:
    assert f.definition is not None
    if f.definition.distinct_ids is not None:
        return bool(e.distinct_ids & set(f.definition.distinct_ids))
    held = []
    for rule in f.definition.rules:
        if isinstance(rule, HasProperty):
            held.append(matches(rule.filter, e))
        else:
            assert rule.since is not None
            done = [
                x
                for x in WORLD
                if x.distinct_ids == e.distinct_ids
                and x.event == rule.event
                and x.timestamp >= rule.since
            ]
            held.append(len(done) >= rule.min_count)
    return all(held) if f.definition.match == "all" else any(held)


def matches(f: Filter, e: Ev) -> bool:
    if isinstance(f, FilterGroup):
        found = [matches(g, e) for g in f.filters]
        return all(found) if f.match == "all" else any(found)
    if isinstance(f, CohortFilter):
        return in_cohort(f, e) != f.negate
    return _property(f, e)


def _property(f: PropertyFilter, e: Ev) -> bool:
    props = e.person_properties if f.type == "person" else e.properties
    v = text(props.get(f.key))
    want = f.value
    op = f.operator
    if op is Operator.IS_SET:
        return v is not None
    if op is Operator.IS_NOT_SET:
        return v is None
    if op is Operator.IN:
        assert isinstance(want, list)
        return v is not None and v in [text(w) for w in want]
    if op is Operator.EXACT:
        return v is not None and v == text(want)
    if op is Operator.IS_NOT:
        return v != text(want)
    if op is Operator.CONTAINS:
        return v is not None and str(text(want)).lower() in v.lower()
    if op is Operator.NOT_CONTAINS:
        return not (v is not None and str(text(want)).lower() in v.lower())
    if op is Operator.REGEX:
        return v is not None and re.search(str(want), v) is not None
    try:
        number = float(v) if v is not None else None
    except ValueError:
        number = None
    if number is None:
        return False
    assert isinstance(want, int | float)
    return number > want if op is Operator.GT else number < want


def bucket_of(moment: datetime, interval: Interval, tz: str) -> datetime:
    local = moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    if interval is Interval.HOUR:
        return datetime(local.year, local.month, local.day, local.hour)
    day = datetime(local.year, local.month, local.day)
    if interval is Interval.DAY:
        return day
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())
    return datetime(local.year, local.month, 1)


def number(value: Any) -> float | None:
    v = text(value)
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


QUANTILES = {
    TrendsMath.MEDIAN: 0.5,
    TrendsMath.P90: 0.9,
    TrendsMath.P95: 0.95,
    TrendsMath.P99: 0.99,
}


def value(series: TrendsSeries, group: list[Ev]) -> float:
    math = series.math
    if math is TrendsMath.TOTAL:
        return float(len(group))
    if math is TrendsMath.UNIQUE_PERSONS:
        return float(len({e.person for e in group}))
    if math is TrendsMath.UNIQUE_SESSIONS:
        return float(len({e.session_id for e in group if e.session_id is not None}))
    if math is TrendsMath.AVG_PER_PERSON:
        return len(group) / len({e.person for e in group}) if group else 0.0
    assert series.math_property is not None
    found = [number(e.properties.get(series.math_property)) for e in group]
    numbers = [n for n in found if n is not None]
    if not numbers:
        return 0.0
    if math is TrendsMath.SUM:
        return sum(numbers)
    if math is TrendsMath.AVG:
        return sum(numbers) / len(numbers)
    if math is TrendsMath.MIN:
        return min(numbers)
    if math is TrendsMath.MAX:
        return max(numbers)
    return quantile(numbers, QUANTILES[math])


# The days active users look back over.
ACTIVE = {TrendsMath.DAU: 1, TrendsMath.WAU: 7, TrendsMath.MAU: 30}


def active(
    events: list[Ev],
    spec: TrendsQuery,
    series: TrendsSeries,
    tz: str,
    end: datetime,
    buckets: list[datetime],
) -> tuple[dict[datetime, float], float]:
    """dau/wau/mau: per bucket, unique persons in the N days of 24 h before its end."""
    days = ACTIVE[series.math]
    ends = [b.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC) for b in buckets[1:]] + [end]
    matching = [
        e
        for e in events
        if (series.event is None or e.event == series.event)
        and all(matches(f, e) for f in [*spec.filters, *series.filters])
    ]
    per_bucket = {
        b: float(
            len({e.person for e in matching if stop - timedelta(days=days) <= e.timestamp < stop})
        )
        for b, stop in zip(buckets, ends, strict=True)
    }
    return per_bucket, per_bucket[buckets[-1]] if buckets else 0.0


def trends(
    events: list[Ev],
    spec: TrendsQuery,
    tz: str,
    start: datetime,
    end: datetime,
    buckets: list[datetime],
) -> list[tuple[dict[datetime, float], float]]:
    """Per series: {bucket: value} for buckets with events, and the total over the range."""
    out = []
    for series in spec.series:
        if series.math in ACTIVE:
            out.append(active(events, spec, series, tz, end, buckets))
            continue
        picked = [
            e
            for e in events
            if start <= e.timestamp.astimezone(UTC) < end
            and (series.event is None or e.event == series.event)
            and all(matches(f, e) for f in [*spec.filters, *series.filters])
        ]
        groups: dict[datetime, list[Ev]] = defaultdict(list)
        for e in picked:
            groups[bucket_of(e.timestamp, spec.interval, tz)].append(e)

        out.append(({b: value(series, g) for b, g in groups.items()}, value(series, picked)))
    return out


Key = tuple[bool, str | None]  # is "other", breakdown value


def split(events: list[Ev], spec: TrendsQuery) -> dict[Key, list[Ev]]:
    """Events by breakdown line: the top values by the series' total, "other", "(none)"."""
    assert spec.breakdown is not None and len(spec.series) == 1
    by_value: dict[str | None, list[Ev]] = defaultdict(list)
    for e in events:
        props = e.person_properties if spec.breakdown_type == "person" else e.properties
        by_value[text(props.get(spec.breakdown))].append(e)
    ranked = sorted(
        (v for v in by_value if v is not None),
        key=lambda v: (-value(spec.series[0], by_value[v]), v),
    )
    top = set(ranked[: spec.breakdown_limit])
    lines: dict[Key, list[Ev]] = defaultdict(list)
    for v, group in by_value.items():
        key: Key = (False, v) if v is None or v in top else (True, None)
        lines[key].extend(group)
    return lines


def active_split(
    events: list[Ev], spec: TrendsQuery, series: TrendsSeries, start: datetime, end: datetime
) -> dict[Key, list[Ev]]:
    """dau/wau/mau broken down: the series' events from `start` less its days to `end`, by
    line. The top values are those with the most persons active at the end (in its days
    before it), then by value."""
    assert spec.breakdown is not None
    days = timedelta(days=ACTIVE[series.math])
    picked = [
        e
        for e in events
        if start - days <= e.timestamp < end
        and (series.event is None or e.event == series.event)
        and all(matches(f, e) for f in [*spec.filters, *series.filters])
    ]

    def of(e: Ev) -> str | None:
        props = e.person_properties if spec.breakdown_type == "person" else e.properties
        return text(props.get(spec.breakdown))

    persons: dict[str, set[int]] = defaultdict(set)
    for e in picked:
        if (v := of(e)) is not None:
            persons.setdefault(v, set())
            if e.timestamp >= end - days:
                persons[v].add(e.person)
    ranked = sorted(persons, key=lambda v: (-len(persons[v]), v))
    top = set(ranked[: spec.breakdown_limit])
    lines: dict[Key, list[Ev]] = defaultdict(list)
    for e in picked:
        v = of(e)
        lines[(False, v) if v is None or v in top else (True, None)].append(e)
    return lines


def trends_by_line(
    events: list[Ev],
    spec: TrendsQuery,
    tz: str,
    start: datetime,
    end: datetime,
    buckets: list[datetime],
) -> dict[Key, tuple[dict[datetime, float], float]]:
    """A one-series spec with a breakdown: per line, what `trends` gives for one series."""
    series = spec.series[0]
    if series.math in ACTIVE:
        return {
            key: active(group, spec, series, tz, end, buckets)
            for key, group in active_split(events, spec, series, start, end).items()
        }
    picked = [
        e
        for e in events
        if start <= e.timestamp.astimezone(UTC) < end
        and (series.event is None or e.event == series.event)
        and all(matches(f, e) for f in [*spec.filters, *series.filters])
    ]
    out = {}
    for key, group in split(picked, spec).items():
        buckets: dict[datetime, list[Ev]] = defaultdict(list)
        for e in group:
            buckets[bucket_of(e.timestamp, spec.interval, tz)].append(e)
        out[key] = ({b: value(series, g) for b, g in buckets.items()}, value(series, group))
    return out


def trends_persons(
    events: list[Ev],
    spec: TrendsQuery,
    index: int,
    bucket: datetime | None,
    line: Key | None,
    tz: str,
    start: datetime,
    end: datetime,
    within: tuple[datetime, datetime] | None = None,
) -> dict[frozenset[str], tuple[datetime, str | None]]:
    """The persons behind one trends number, each with their last counted event (the smallest
    session among events at that time). For dau/wau/mau, [start, end) is the look-back, and
    `within` the answer's range (which ranks a breakdown's values)."""
    series = spec.series[index]
    picked = [
        e
        for e in events
        if start <= e.timestamp < end
        and (series.event is None or e.event == series.event)
        and all(matches(f, e) for f in [*spec.filters, *series.filters])
    ]
    if line is not None and spec.breakdown is not None and series.math in ACTIVE:
        # Active users: the line's events over the whole range, as the answer ranked them.
        assert within is not None
        one = spec.model_copy(update={"series": [series]})
        mine = {id(e) for e in active_split(events, one, series, *within).get(line, [])}
        picked = [e for e in picked if id(e) in mine]
    elif line is not None and spec.breakdown is not None:
        one = spec.model_copy(update={"series": [series]})
        picked = split(picked, one).get(line, [])
    if bucket is not None and series.math not in ACTIVE:
        picked = [e for e in picked if bucket_of(e.timestamp, spec.interval, tz) == bucket]
    mine: dict[frozenset[str], list[Ev]] = defaultdict(list)
    for e in picked:
        mine[e.distinct_ids].append(e)
    out = {}
    for person, evs in mine.items():
        t = max(e.timestamp for e in evs)
        sessions = sorted(e.session_id for e in evs if e.timestamp == t and e.session_id)
        out[person] = (t, sessions[0] if sessions else None)
    return out
