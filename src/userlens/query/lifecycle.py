"""Lifecycle: per interval, the persons who are new, returning, resurrecting or dormant (the
rule is in `model/activity.py`).

CTEs: `ev` (the event, all history up to the range's end, with its local bucket `b`), `act`
(person and bucket active, with the person's active buckets just before and after: `prev` is
NULL for their first), `grid` (the range's buckets with the one before each) and `statuses`
(person, bucket, status).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from userlens.model.activity import (
    LifecycleLine,
    LifecyclePersonsQuery,
    LifecycleQuery,
    LifecycleResult,
    LifecycleStatus,
)
from userlens.model.insight import PersonsResult
from userlens.query.dates import Window, before, resolve, utc_offsets
from userlens.query.dialect import Dialect, Engine
from userlens.query.filters import (
    PERSON,
    Params,
    all_of,
    bucket_index,
    cohort_of_line,
    first_and_last,
    indexed_buckets,
    local_bucket,
    mask_plan,
    matches,
    only_in,
    overrides,
    per_cohort,
    person_join,
    utc,
)
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query


def _ctes(
    spec: LifecycleQuery, params: Params, window: Window, timezone: str, *, keep_events: bool
) -> str:
    """`keep_events`: materialise `ev` for a drill-down, which reads it twice."""
    event = spec.event
    bucket = local_bucket(
        params,
        params.add(spec.interval.value),
        utc_offsets(window.start - timedelta(days=62), window.end, timezone),
    )
    earlier = [
        before(window.buckets[0], spec.interval, timezone),
        *window.buckets[:-1],
    ]
    d = params.dialect
    grid = d.rows_of({"b": params.add(window.buckets), "pb": params.add(earlier)})
    return (
        f"ev AS {'MATERIALIZED ' if keep_events else ''}(SELECT {PERSON} AS person, "
        f"e.timestamp AS ts, e.session_id AS sid, {bucket} AS b "
        f"FROM {overrides(params.dialect)}{person_join([*spec.filters, *event.filters])} "
        f"WHERE e.timestamp < {params.add(utc(window.end))} "
        f"AND {all_of(spec.filters, params)} AND {matches(event.event, event.filters, params)}), "
        f"act AS (SELECT person, b, lag({d.nullable('b')}) OVER w AS prev, "
        f"lead({d.nullable('b')}) OVER w AS nxt "
        "FROM (SELECT DISTINCT person, b FROM ev) WINDOW w AS (PARTITION BY person ORDER BY b)), "
        f"grid AS ({grid}), "
        "statuses AS ("
        "SELECT g.b AS b, g.pb AS pb, a.person AS person, CASE WHEN a.prev IS NULL THEN 'new' "
        "WHEN a.prev = g.pb THEN 'returning' ELSE 'resurrecting' END AS status "
        "FROM grid g JOIN act a ON a.b = g.b "
        "UNION ALL SELECT g.b, g.pb, a.person, 'dormant' FROM grid g JOIN act a ON a.b = g.pb "
        "WHERE a.nxt IS NULL OR a.nxt <> g.b)"
    )


def _bits(spec: LifecycleQuery, params: Params, window: Window, timezone: str) -> str | None:
    """`statuses` as (bucket, status, persons) from one mask per person, or None where buckets
    vary in length (see `dates.fixed_length`) or are too many for a BIGINT.

    Bit 0 says the person did the event before the bucket preceding the range, bit 1 in that
    bucket, bit i + 2 in the range's i-th bucket. At bucket i a person is active when bit
    i + 2 is set: new when no lower bit is, returning when bit i + 1 is, resurrecting
    otherwise; and dormant when bit i + 1 is set and bit i + 2 is not. Persons are grouped
    by mask, so each distinct mask is tested once per bucket."""
    d = params.dialect
    buckets = window.buckets
    first = before(buckets[0], spec.interval, timezone)
    # From a week before the range: the bucket before it, of an hour, a day or a week.
    since = window.start - timedelta(days=7)
    plan = mask_plan(
        d, [first, *buckets], spec.interval, timezone, since, window.end, top=len(buckets) + 1
    )
    if plan is None:
        return None
    length, offset = plan
    event = spec.event
    origin = params.add(first - timedelta(seconds=offset))
    slot = bucket_index(params, origin, length)
    grid = indexed_buckets(params, buckets, "b")
    now, prior = d.has_bit("m.mask", "g.i + 2"), d.has_bit("m.mask", "g.i + 1")
    mask = f"CASE WHEN e.timestamp < {origin} THEN {d.bit('0')} ELSE {d.bit(f'{slot} + 1')} END"
    return (
        f"a AS (SELECT {d.or_bits(mask)} AS mask "
        f"FROM {overrides(params.dialect)}{person_join([*spec.filters, *event.filters])} "
        f"WHERE e.timestamp < {params.add(utc(window.end))} "
        f"AND {all_of(spec.filters, params)} AND {matches(event.event, event.filters, params)} "
        f"GROUP BY {PERSON}), "
        "masks AS (SELECT mask, count(*) AS c FROM a GROUP BY mask), "
        f"grid AS ({grid}), "
        "statuses AS ("
        f"SELECT g.b AS b, CASE WHEN {d.below('m.mask', 'g.i + 2')} = 0 "
        f"THEN 'new' WHEN {prior} THEN 'returning' ELSE 'resurrecting' END AS status, m.c AS c "
        f"FROM grid g CROSS JOIN masks m WHERE {now} "
        f"UNION ALL SELECT g.b, 'dormant', m.c FROM grid g CROSS JOIN masks m "
        f"WHERE {prior} AND NOT ({now}))"
    )


def build(spec: LifecycleQuery, window: Window, timezone: str, dialect: Dialect) -> Query:
    params = Params(dialect)
    bits = _bits(spec, params, window, timezone)
    if bits is not None:
        return Query(
            f"WITH {bits} SELECT b, status, sum(c) FROM statuses GROUP BY b, status",
            params.values,
        )
    return Query(
        f"WITH {_ctes(spec, params, window, timezone, keep_events=False)} "
        "SELECT b, status, count(*) FROM statuses GROUP BY b, status",
        params.values,
    )


def parse(
    spec: LifecycleQuery, window: Window, timezone: str, rows: Sequence[Any]
) -> LifecycleResult:
    index = {b: i for i, b in enumerate(window.buckets)}
    counts = {status: [0] * len(window.buckets) for status in LifecycleStatus}
    for bucket, status, n in rows:
        counts[LifecycleStatus(status)][index[bucket]] = int(n)
    return LifecycleResult(
        interval=spec.interval,
        timezone=timezone,
        buckets=window.buckets,
        new=counts[LifecycleStatus.NEW],
        returning=counts[LifecycleStatus.RETURNING],
        resurrecting=counts[LifecycleStatus.RESURRECTING],
        dormant=counts[LifecycleStatus.DORMANT],
    )


def run(
    spec: LifecycleQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> LifecycleResult:
    window = resolve(spec.date_range, spec.interval, timezone, now)

    def answer(one: LifecycleQuery) -> LifecycleResult:
        return parse(
            one, window, timezone, engine.execute(build(one, window, timezone, engine.dialect))
        )

    if not spec.breakdown_cohorts:
        return answer(spec)
    # Everyone's, then each cohort's.
    lines = [
        LifecycleLine(
            breakdown_value=name,
            new=mine.new,
            returning=mine.returning,
            resurrecting=mine.resurrecting,
            dormant=mine.dormant,
        )
        for name, mine in per_cohort(spec, answer)
    ]
    return answer(only_in(spec, [])).model_copy(update={"lines": lines})


def build_persons(
    ask: LifecyclePersonsQuery, window: Window, timezone: str, dialect: Dialect
) -> Query:
    params = Params(dialect)
    dormant = ask.status is LifecycleStatus.DORMANT
    # Dormant persons: their last event in the bucket before; the others: their first in it.
    moment, session, at = (
        ("last_ts", "last_sid", "pb") if dormant else ("first_ts", "first_sid", "b")
    )
    picked = (
        f"picked AS (SELECT s.person AS person, m.{moment} AS moment, m.{session} AS session "
        f"FROM statuses s JOIN mo m ON m.person = s.person AND m.b = s.{at} "
        f"WHERE s.b = {params.add(window.buckets[ask.bucket])} "
        f"AND s.status = {params.add(ask.status.value)})"
    )
    return Query(
        f"WITH {_ctes(ask.lifecycle, params, window, timezone, keep_events=True)}, "
        f"{first_and_last(params, 'true')}, "
        f"{picked} " + persons_sql(params, ask.limit, ask.offset),
        params.values,
    )


def run_persons(
    ask: LifecyclePersonsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PersonsResult:
    spec = ask.lifecycle
    if spec.breakdown_cohorts:
        # A cohort's line: its persons (no line: everyone's).
        spec = only_in(spec, cohort_of_line(spec.breakdown_cohorts, ask.line))
        ask = ask.model_copy(update={"lifecycle": spec, "line": None})
    window = resolve(spec.date_range, spec.interval, timezone, now)
    if ask.bucket >= len(window.buckets):
        return PersonsResult(persons=[], total=0)
    return hits(engine.execute(build_persons(ask, window, timezone, engine.dialect)))
