"""Stickiness: per series, how many persons did its event in exactly n intervals of the date
range (the rule is in `model/activity.py`).

CTEs: `ev` (events of any series in range, a flag per series and the local bucket `b`) and
`counts` (series, person, intervals active).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from userlens.model.activity import (
    StickinessLine,
    StickinessPersonsQuery,
    StickinessQuery,
    StickinessResult,
)
from userlens.model.insight import PersonsResult
from userlens.query.dates import Window, resolve, utc_offsets
from userlens.query.dialect import Dialect, Engine
from userlens.query.filters import (
    PERSON,
    Params,
    all_of,
    bucket_index,
    cohort_of_line,
    first_and_last,
    local_bucket,
    matches,
    only_in,
    overrides,
    per_cohort,
    person_join,
    utc,
    window_masks,
)
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query


def _ctes(
    spec: StickinessQuery, params: Params, window: Window, timezone: str, *, keep_events: bool
) -> str:
    """`ev` is materialised when read more than once: with several series, or for a
    drill-down (`keep_events`)."""
    flags = [matches(s.event, s.filters, params) for s in spec.series]
    bucket = local_bucket(
        params, params.add(spec.interval.value), utc_offsets(window.start, window.end, timezone)
    )
    every = [*spec.filters, *(f for s in spec.series for f in s.filters)]
    per_series = " UNION ALL ".join(
        f"SELECT {i} AS series, person, count(DISTINCT b) AS n FROM ev WHERE m{i} GROUP BY person"
        for i in range(len(spec.series))
    )
    return (
        f"ev AS {'MATERIALIZED ' if keep_events or len(spec.series) > 1 else ''}"
        f"(SELECT {PERSON} AS person, e.timestamp AS ts, "
        f"e.session_id AS sid, {bucket} AS b, "
        + ", ".join(f"{c} AS m{i}" for i, c in enumerate(flags))
        + f" FROM {overrides(params.dialect)}{person_join(every)} "
        f"WHERE e.timestamp >= {params.add(utc(window.start))} "
        f"AND e.timestamp < {params.add(utc(window.end))} "
        f"AND {all_of(spec.filters, params)} AND ({' OR '.join(flags)})), "
        f"counts AS ({per_series})"
    )


def _bits(spec: StickinessQuery, params: Params, window: Window, timezone: str) -> str | None:
    """The answer's rows from one mask per person and series (a bit per bucket they did the
    series' event in, counted with a popcount), in one pass over the events for every series;
    None where buckets vary in length (see `dates.fixed_length`) or are too many."""
    d = params.dialect
    buckets = window.buckets
    plan = window_masks(d, window, spec.interval, timezone)
    if plan is None:
        return None
    length, offset = plan
    flags = [matches(s.event, s.filters, params) for s in spec.series]
    origin = params.add(buckets[0] - timedelta(seconds=offset))
    bit = d.bit(bucket_index(params, origin, length))
    every = [*spec.filters, *(f for s in spec.series for f in s.filters)]
    masks = ", ".join(
        f"{d.or_bits(f'CASE WHEN {flag} THEN {bit} ELSE 0 END')} AS k{i}"
        for i, flag in enumerate(flags)
    )
    counts = " UNION ALL ".join(
        f"SELECT {i} AS series, {d.count_bits(f'k{i}')} AS n, count(*) FROM a "
        f"WHERE k{i} <> 0 GROUP BY n"
        for i in range(len(flags))
    )
    return (
        f"a AS MATERIALIZED (SELECT {masks} FROM {overrides(params.dialect)}{person_join(every)} "
        f"WHERE e.timestamp >= {params.add(utc(window.start))} "
        f"AND e.timestamp < {params.add(utc(window.end))} "
        f"AND {all_of(spec.filters, params)} AND ({' OR '.join(flags)}) GROUP BY {PERSON}) "
        f"{counts}"
    )


def build(spec: StickinessQuery, window: Window, timezone: str, dialect: Dialect) -> Query:
    params = Params(dialect)
    bits = _bits(spec, params, window, timezone)
    if bits is not None:
        return Query(f"WITH {bits}", params.values)
    return Query(
        f"WITH {_ctes(spec, params, window, timezone, keep_events=False)} "
        "SELECT series, n, count(*) FROM counts GROUP BY series, n",
        params.values,
    )


def label(spec: StickinessQuery, index: int) -> str:
    return spec.series[index].event or "Any event"


def parse(spec: StickinessQuery, window: Window, rows: Sequence[Any]) -> StickinessResult:
    intervals = len(window.buckets)
    persons = [[0] * intervals for _ in spec.series]
    for series, n, count in rows:
        persons[int(series)][int(n) - 1] = int(count)
    return StickinessResult(
        interval=spec.interval,
        intervals=intervals,
        series=[
            StickinessLine(label=label(spec, i), persons=line, series=i)
            for i, line in enumerate(persons)
        ],
    )


def run(
    spec: StickinessQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> StickinessResult:
    window = resolve(spec.date_range, spec.interval, timezone, now)

    def answer(one: StickinessQuery) -> StickinessResult:
        return parse(one, window, engine.execute(build(one, window, timezone, engine.dialect)))

    if not spec.breakdown_cohorts:
        return answer(spec)
    # Each series' line per cohort.
    lines = [
        line.model_copy(update={"label": f"{line.label} · {name}", "breakdown_value": name})
        for name, mine in per_cohort(spec, answer)
        for line in mine.series
    ]
    lines.sort(key=lambda line: line.series)
    return StickinessResult(interval=spec.interval, intervals=len(window.buckets), series=lines)


def build_persons(
    ask: StickinessPersonsQuery, window: Window, timezone: str, dialect: Dialect
) -> Query:
    params = Params(dialect)
    picked = (
        "picked AS (SELECT c.person AS person, m.last_ts AS moment, m.last_sid AS session "
        "FROM counts c JOIN mo m ON m.person = c.person "
        f"WHERE c.series = {params.add(ask.series)} AND c.n = {params.add(ask.intervals)})"
    )
    return Query(
        f"WITH {_ctes(ask.stickiness, params, window, timezone, keep_events=True)}, "
        f"{first_and_last(params, f'm{ask.series}', per_bucket=False)}, {picked} "
        + persons_sql(params, ask.limit, ask.offset),
        params.values,
    )


def run_persons(
    ask: StickinessPersonsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PersonsResult:
    spec = ask.stickiness
    if spec.breakdown_cohorts:
        # A cohort's line: the persons of the series filtered by that cohort.
        spec = only_in(spec, cohort_of_line(spec.breakdown_cohorts, ask.line))
        ask = ask.model_copy(update={"stickiness": spec, "line": None})
    window = resolve(spec.date_range, spec.interval, timezone, now)
    return hits(engine.execute(build_persons(ask, window, timezone, engine.dialect)))
