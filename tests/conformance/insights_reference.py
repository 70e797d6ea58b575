"""Plain-Python insight answers over a list of events, written for clarity, not speed: what
every store's SQL must agree with."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from userlens.model.insight import Interval, Operator, PropertyFilter, TrendsMath, TrendsQuery


@dataclasses.dataclass(frozen=True)
class Ev:
    event: str
    timestamp: datetime  # aware
    person: int  # a stable number for the person (after every merge)
    session_id: str | None
    properties: dict[str, Any]


def text(value: Any) -> str | None:
    """A property value as the store's JSON text form; None when unset or null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matches(f: PropertyFilter, props: dict[str, Any]) -> bool:
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


def value(math: TrendsMath, group: list[Ev]) -> float:
    if math is TrendsMath.TOTAL:
        return float(len(group))
    if math is TrendsMath.UNIQUE_PERSONS:
        return float(len({e.person for e in group}))
    return float(len({e.session_id for e in group if e.session_id is not None}))


def trends(
    events: list[Ev], spec: TrendsQuery, tz: str, start: datetime, end: datetime
) -> list[tuple[dict[datetime, float], float]]:
    """Per series: {bucket: value} for buckets with events, and the total over the range."""
    out = []
    for series in spec.series:
        picked = [
            e
            for e in events
            if start <= e.timestamp.astimezone(UTC) < end
            and (series.event is None or e.event == series.event)
            and all(matches(f, e.properties) for f in [*spec.filters, *series.filters])
        ]
        groups: dict[datetime, list[Ev]] = defaultdict(list)
        for e in picked:
            groups[bucket_of(e.timestamp, spec.interval, tz)].append(e)

        math = series.math
        out.append(({b: value(math, g) for b, g in groups.items()}, value(math, picked)))
    return out
