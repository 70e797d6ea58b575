"""Trends: per series, a count per interval bucket in the project's time zone.

One SQL statement answers every series: a UNION ALL of one SELECT per series, each grouped by
GROUPING SETS ((bucket), ()) so that a series' total is counted over the whole range (unique
persons over the range are not the sum of unique persons per day).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from userlens.model.insight import TrendsLine, TrendsMath, TrendsQuery, TrendsResult
from userlens.query.dates import Window, resolve
from userlens.query.filters import Params, all_of
from userlens.store.sql import Query

PERSON = "coalesce(o.override_person_id, e.person_id)"
_AGGREGATE = {
    TrendsMath.TOTAL: "count(*)",
    TrendsMath.UNIQUE_PERSONS: f"count(DISTINCT {PERSON})",
    TrendsMath.UNIQUE_SESSIONS: "count(DISTINCT e.session_id)",
}


def build(spec: TrendsQuery, window: Window, timezone: str) -> Query:
    params = Params()
    start = params.add(window.start.astimezone(UTC).replace(tzinfo=None))
    end = params.add(window.end.astimezone(UTC).replace(tzinfo=None))
    tz = params.add(timezone)
    part = params.add(spec.interval.value)
    common = all_of(list(spec.filters), params)
    selects = []
    for index, series in enumerate(spec.series):
        event = "true" if series.event is None else f"e.event = {params.add(series.event)}"
        selects.append(
            f"SELECT {index} AS series, "
            f"date_trunc({part}, timezone({tz}, e.timestamp AT TIME ZONE 'UTC')) AS bucket, "
            f"{_AGGREGATE[series.math]} AS value "
            "FROM {events} e "
            "LEFT JOIN {person_overrides} o ON o.old_person_id = e.person_id "
            f"WHERE e.timestamp >= {start} AND e.timestamp < {end} AND {event} "
            f"AND {common} AND {all_of(list(series.filters), params)} "
            "GROUP BY GROUPING SETS ((bucket), ())"
        )
    return Query(" UNION ALL ".join(selects), params.values)


def label(spec: TrendsQuery, index: int) -> str:
    series = spec.series[index]
    return f"{series.event or 'Any event'} ({series.math})"


def parse(spec: TrendsQuery, window: Window, timezone: str, rows: Sequence[Any]) -> TrendsResult:
    per_bucket: dict[tuple[int, datetime], float] = {}
    totals: dict[int, float] = {}
    for series, bucket, value in rows:
        if bucket is None:
            totals[int(series)] = float(value)
        else:
            per_bucket[(int(series), bucket)] = float(value)
    return TrendsResult(
        interval=spec.interval,
        timezone=timezone,
        buckets=window.buckets,
        series=[
            TrendsLine(
                label=label(spec, i),
                math=s.math,
                values=[per_bucket.get((i, b), 0.0) for b in window.buckets],
                total=totals.get(i, 0.0),
            )
            for i, s in enumerate(spec.series)
        ],
    )


def run(
    spec: TrendsQuery,
    timezone: str,
    now: datetime,
    execute: Callable[[Query], Sequence[Any]],
) -> TrendsResult:
    """Resolve the dates against `now`, run the SQL through `execute`, shape the answer."""
    window = resolve(spec.date_range, spec.interval, timezone, now)
    return parse(spec, window, timezone, execute(build(spec, window, timezone)))
