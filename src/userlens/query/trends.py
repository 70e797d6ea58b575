"""Trends: per series, a number per interval bucket in the project's time zone, optionally
broken down by an event property (its top values by total, and "other" for the rest).

One SQL statement answers every series: per series a CTE of the matching events (with the
person after merges, the session, the breakdown value and the math property as a number), the
top breakdown values, and a SELECT grouped by GROUPING SETS so that each line also gets a total
over the whole range (unique persons over a range are not the sum of unique persons per day);
the SELECTs are joined by UNION ALL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from userlens.model.insight import (
    ACTIVE_DAYS,
    PersonsResult,
    TrendsLine,
    TrendsMath,
    TrendsPersonsQuery,
    TrendsQuery,
    TrendsResult,
    TrendsSeries,
)
from userlens.query import formula
from userlens.query.dates import (
    MASK_BITS,
    Window,
    bucket_ends,
    local_naive,
    previous,
    resolve,
    utc_offsets,
)
from userlens.query.dialect import Dialect, Engine
from userlens.query.filters import (
    COLUMNS,
    PERSON,
    Params,
    all_of,
    bucket_index,
    cohort_of_line,
    first_and_last,
    indexed_buckets,
    local_bucket,
    on_line,
    only_in,
    overrides,
    per_cohort,
    person_join,
    utc,
    window_masks,
)
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query

_AGGREGATE = {
    TrendsMath.TOTAL: "count(*)",
    TrendsMath.UNIQUE_PERSONS: "count(DISTINCT person)",
    TrendsMath.UNIQUE_SESSIONS: "count(DISTINCT session_id)",
    TrendsMath.AVG_PER_PERSON: "count(*) / nullif(count(DISTINCT person), 0)",
    # Of the property's value read as a number.
    TrendsMath.SUM: "sum(x)",
    TrendsMath.AVG: "avg(x)",
    TrendsMath.MIN: "min(x)",
    TrendsMath.MAX: "max(x)",
}
_DISTINCT = {TrendsMath.UNIQUE_PERSONS: "person", TrendsMath.UNIQUE_SESSIONS: "session_id"}
# Quantiles interpolate linearly between values.
_QUANTILES = {
    TrendsMath.MEDIAN: 0.5,
    TrendsMath.P90: 0.9,
    TrendsMath.P95: 0.95,
    TrendsMath.P99: 0.99,
}


def _aggregate(math: TrendsMath, dialect: Dialect) -> str:
    if math in _QUANTILES:
        return dialect.quantile("x", _QUANTILES[math])
    return _AGGREGATE[math]


def _matching(series: TrendsSeries, spec: TrendsQuery, params: Params, start: str, end: str) -> str:
    """FROM and WHERE of a series' events in [start, end): its event and every filter, with
    persons after merges (`o`) and, when a filter needs them, their properties (`p`)."""
    event = "true" if series.event is None else f"e.event = {params.add(series.event)}"
    filters = [*spec.filters, *series.filters]
    by_person = spec.breakdown is not None and spec.breakdown_type == "person"
    return (
        f"FROM {overrides(params.dialect)}"
        f"{person_join(filters, needed=by_person)} "
        f"WHERE e.timestamp >= {start} AND e.timestamp < {end} AND {event} "
        f"AND {all_of(filters, params)}"
    )


class _Masks(NamedTuple):
    """Buckets of one length in a fixed UTC offset: an event's bucket index is arithmetic."""

    buckets: list[datetime]
    length: int  # seconds
    offset: int  # seconds east of UTC


def _masks(spec: TrendsQuery, window: Window, tz: str, d: Dialect) -> _Masks | None:
    """Whether distinct persons (sessions) per bucket can be counted with one bit per bucket
    (see `_distinct_bits`)."""
    plan = window_masks(d, window, spec.interval, tz)
    return None if plan is None else _Masks(window.buckets, *plan)


def _distinct_bits(
    index: int, column: str, head: str, params: Params, masks: _Masks
) -> tuple[str, str]:
    """(CTEs after `s`, SELECT) counting distinct `column` values per bucket and over the
    range: per value, a mask with bit i set when it occurs in the i-th bucket; values grouped
    by mask, so each distinct mask is tested once per bucket."""
    d = params.dialect
    origin = params.add(masks.buckets[0] - timedelta(seconds=masks.offset))
    slot = bucket_index(params, origin, masks.length, "ts")
    grid = indexed_buckets(params, masks.buckets, "bucket")
    # Every stored event has a person (the stores require it); a session id may be missing.
    present = "" if column == "person" else f" WHERE {column} IS NOT NULL"
    return (
        f", u{index} AS (SELECT {d.or_bits(d.bit(slot))} AS mask "
        f"FROM s{index}{present} GROUP BY {column}), "
        f"v{index} AS MATERIALIZED (SELECT mask, count(*) AS c FROM u{index} GROUP BY mask), "
        f"g{index} AS ({grid})"
    ), (
        f"{head}g.bucket, sum(CASE WHEN {d.has_bit('v.mask', 'g.i')} THEN v.c ELSE 0 END) "
        "AS value "
        f"FROM g{index} g CROSS JOIN v{index} v GROUP BY g.bucket UNION ALL "
        f"{head}NULL, coalesce(sum(c), 0) FROM v{index}"
    )


def _series_sql(
    index: int,
    series: TrendsSeries,
    spec: TrendsQuery,
    params: Params,
    *,
    start: str,
    end: str,
    bucket: str,
    masks: _Masks | None,
) -> tuple[str, str]:
    """(CTEs, SELECT) of one series; `masks`: distinct counts may take `_distinct_bits`."""
    d = params.dialect
    prop = (
        params.prop("e.properties", series.math_property) if series.math_property else d.null_text()
    )
    breakdown = (
        params.prop(COLUMNS[spec.breakdown_type], spec.breakdown)
        if spec.breakdown
        else d.null_text()
    )
    aggregate = _aggregate(series.math, d)
    ctes = (
        f"s{index} AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, "
        f"e.timestamp AS ts, e.session_id AS session_id, {d.to_number(prop)} AS x, "
        f"{breakdown} AS bv, "
        f"{bucket} AS bucket "
        f"{_matching(series, spec, params, start, end)})"
    )
    if not spec.breakdown:
        head = f"SELECT {index} AS series, false AS is_other, {d.null_text()} AS breakdown, "
        if series.math in _DISTINCT:
            # Distinct persons (sessions): one row per bucket and person first; a bucket's
            # count is then its rows (with a value), and the whole range's a distinct count.
            column = _DISTINCT[series.math]
            if masks is not None:
                more, select = _distinct_bits(index, column, head, params, masks)
                return ctes + more, select
            ctes += f", u{index} AS MATERIALIZED (SELECT DISTINCT bucket, {column} FROM s{index})"
            return ctes, (
                f"{head}bucket, count({column}) AS value FROM u{index} GROUP BY bucket UNION ALL "
                f"{head}NULL, count(DISTINCT {column}) FROM u{index}"
            )
        return ctes, (
            f"{head}s.bucket AS bucket, {aggregate} AS value FROM s{index} s "
            "GROUP BY GROUPING SETS ((s.bucket), ())"
        )
    ctes += (
        f", t{index} AS (SELECT bv FROM s{index} WHERE bv IS NOT NULL GROUP BY bv "
        f"ORDER BY coalesce({aggregate}, 0) DESC, bv ASC "
        f"LIMIT {params.add(spec.breakdown_limit)})"
    )
    select = (
        f"SELECT {index} AS series, t.bv IS NULL AND s.bv IS NOT NULL AS is_other, "
        "CASE WHEN t.bv IS NULL AND s.bv IS NOT NULL THEN NULL ELSE s.bv END AS breakdown, "
        f"s.bucket AS bucket, {aggregate} AS value "
        f"FROM s{index} s LEFT JOIN t{index} t ON t.bv = s.bv "
        "GROUP BY GROUPING SETS ((is_other, breakdown, s.bucket), (is_other, breakdown))"
    )
    return ctes, select


def _active_sql(
    index: int, series: TrendsSeries, spec: TrendsQuery, params: Params, window: Window, tz: str
) -> tuple[str, str]:
    """(CTEs, SELECT) of a dau/wau/mau series.

    A person counts at a bucket's end `bend` when they did the event in [bend - days, bend),
    that is when `bend` lies in (t, t + days] for one of their times t. Per person, those
    spans are cut where the next one starts: (t, min(t + days, next t)] are disjoint and
    cover the same ends, so each person counts at most once per end. And since no bucket end
    falls inside a bucket, a person's latest time in each bucket covers every end their other
    times there do: one time per person and bucket is enough.

    Bucket ends are the next bucket's start (the window's end for the last), so a span
    (lo, hi] covers the ends of the buckets from lo's up to the one before hi's (up to the last
    when hi reaches the window's end). The count at a bucket is then the spans starting in it
    or before, less those whose hi's bucket is it or before: two small aggregates, not a join
    of every span with every bucket."""
    days = ACTIVE_DAYS[series.math]
    lookback = params.add(utc(window.start - timedelta(days=days)))
    end = params.add(utc(window.end))
    d = params.dialect
    slots = _slots(series, spec, params.dialect, window, tz)
    if slots is not None:
        return _active_bits(index, series, spec, params, window, slots, lookback, end)
    grid = d.rows_of({"bucket": params.add(window.buckets)})
    span = d.interval("day", params.add(days))
    part = params.add(spec.interval.value)
    offsets = utc_offsets(window.start - timedelta(days=days), window.end, tz)
    if spec.breakdown:
        # Per person and line, as without a breakdown per person (`_active_lines`).
        by, line = "is_other, line, ", "m.is_other, m.line AS breakdown, "
        ctes = (
            f"{_active_lines(index, series, spec, params, window, lookback, end)}, "
            f"a{index} AS (SELECT person, {by}bk, max(ts) AS ts FROM (SELECT person, {by}ts, "
            f"{local_bucket(params, part, offsets, 'ts')} AS bk FROM l{index}) x "
            f"GROUP BY person, {by}bk), "
        )
    else:
        by, line = "", f"false AS is_other, {d.null_text()} AS breakdown, "
        ctes = (
            f"a{index} AS (SELECT person, bk, max(ts) AS ts FROM (SELECT {PERSON} AS person, "
            f"e.timestamp AS ts, {local_bucket(params, part, offsets)} AS bk "
            f"{_matching(series, spec, params, lookback, end)}) x GROUP BY person, bk), "
        )
    latest = f"lead({d.nullable('ts')}) OVER (PARTITION BY {by}person ORDER BY ts)"
    ctes += (
        f"w{index} AS (SELECT {by}bk AS lo, "
        f"least(ts + {span}, coalesce({latest}, ts + {span})) AS hi FROM a{index}), "
        f"m{index} AS (SELECT {by}lo AS mb, CAST(count(*) AS BIGINT) AS n FROM w{index} "
        f"GROUP BY {by}lo "
        f"UNION ALL SELECT {by}{local_bucket(params, part, offsets, 'hi')} AS mb, "
        f"-CAST(count(*) AS BIGINT) AS n FROM w{index} WHERE hi < {end} GROUP BY {by}mb), "
        f"b{index} AS ({grid})"
    )
    select = (
        f"SELECT {index} AS series, {line}b.bucket AS bucket, sum(m.n) AS value "
        f"FROM b{index} b CROSS JOIN m{index} m WHERE m.mb <= b.bucket "
        f"GROUP BY {'m.is_other, m.line, ' if by else ''}b.bucket"
    )
    return ctes, select


def _active_lines(
    index: int,
    series: TrendsSeries,
    spec: TrendsQuery,
    params: Params,
    window: Window,
    lookback: str,
    end: str,
) -> str:
    """The CTEs of a broken-down dau/wau/mau series' events in [lookback, end): `r{index}`
    with their value, `t{index}` the `breakdown_limit` values with the most persons active
    at the range's end (those its total counts; ties by value), and `l{index}` (person, ts, sid,
    is_other, line): each with its line (`line`: the value, or NULL for "Other" and for events
    without one). A person counts once in a line, whatever its values."""
    value = params.prop(COLUMNS[spec.breakdown_type], spec.breakdown or "")
    recent = params.add(utc(window.end - timedelta(days=ACTIVE_DAYS[series.math])))
    return (
        f"r{index} AS (SELECT {PERSON} AS person, e.timestamp AS ts, e.session_id AS sid, "
        f"{value} AS bv "
        f"{_matching(series, spec, params, lookback, end)}), "
        f"t{index} AS (SELECT bv FROM r{index} WHERE bv IS NOT NULL GROUP BY bv "
        f"ORDER BY count(DISTINCT CASE WHEN ts >= {recent} THEN person END) DESC, bv ASC "
        f"LIMIT {params.add(spec.breakdown_limit)}), "
        f"l{index} AS (SELECT r.person AS person, r.ts AS ts, r.sid AS sid, "
        "t.bv IS NULL AND r.bv IS NOT NULL AS is_other, "
        "CASE WHEN t.bv IS NULL THEN NULL ELSE r.bv END AS line "
        f"FROM r{index} r LEFT JOIN t{index} t ON t.bv = r.bv)"
    )


def _slots(
    series: TrendsSeries, spec: TrendsQuery, d: Dialect, window: Window, tz: str
) -> tuple[int, int, int] | None:
    """Whether a dau/wau/mau series can be counted with one bit per bucket and person, as
    (buckets per active span `k`, a bucket's length in seconds, the UTC offset in seconds);
    None when not: on engines without the bit functions, for buckets of varying length
    (`dates.fixed_length`), when the span is not whole buckets, or when the range and span
    need more bits than a BIGINT has."""
    days = ACTIVE_DAYS[series.math]
    plan = window_masks(d, window, spec.interval, tz, since=window.start - timedelta(days=days))
    if plan is None:
        return None
    length, offset = plan
    k, rest = divmod(days * 86400, length)
    if rest or len(window.buckets) + k - 2 > MASK_BITS:
        return None
    return k, length, offset


def _active_bits(
    index: int,
    series: TrendsSeries,
    spec: TrendsQuery,
    params: Params,
    window: Window,
    slots: tuple[int, int, int],
    lookback: str,
    end: str,
) -> tuple[str, str]:
    """(CTEs, SELECT) of a dau/wau/mau series over buckets of one fixed length.

    A bucket's end is the next bucket's start, so its span [end - days, end) is exactly the
    `k` buckets up to it: bit j of a person's mask says they did the event in the j-th bucket
    from `origin` (the first bucket's start, less k - 1 buckets), and they count at bucket i
    when one of bits i .. i + k - 1 is set. Persons are grouped by mask, so the buckets are
    tested once per distinct mask. The last bucket ends at the window's end, which need not
    be a bucket's start: per person, whether they did the event in [end - days, end)."""
    k, length, offset = slots
    d = params.dialect
    buckets = window.buckets
    origin_local = buckets[0] - timedelta(seconds=length * (k - 1))
    origin = params.add(origin_local - timedelta(seconds=offset))
    recent = params.add(utc(window.end - timedelta(days=ACTIVE_DAYS[series.math])))
    # With a breakdown, the events are read from `l{index}`, as `ts`.
    moment = "ts" if spec.breakdown else "e.timestamp"
    slot = bucket_index(params, origin, length, moment)
    grid = indexed_buckets(params, buckets, "bucket")
    mask = f"CASE WHEN {moment} >= {origin} THEN {d.bit(slot)} ELSE 0 END"
    if spec.breakdown:
        # Per person and line, as without a breakdown per person (`_active_lines`).
        by, line = "is_other, line, ", "m.is_other, m.line AS breakdown, "
        ctes = (
            f"{_active_lines(index, series, spec, params, window, lookback, end)}, "
            f"a{index} AS (SELECT {by}{d.or_bits(mask)} AS mask, "
            f"{d.any_true(f'ts >= {recent}')} AS recent FROM l{index} "
            "GROUP BY person, is_other, line), "
        )
    else:
        by, line = "", f"false AS is_other, {d.null_text()} AS breakdown, "
        ctes = (
            f"a{index} AS (SELECT {d.or_bits(mask)} AS mask, "
            f"{d.any_true(f'e.timestamp >= {recent}')} AS recent "
            f"{_matching(series, spec, params, lookback, end)} GROUP BY {PERSON}), "
        )
    ctes += (
        f"k{index} AS (SELECT {by}mask, recent, count(*) AS c FROM a{index} "
        f"GROUP BY {by}mask, recent), "
        f"b{index} AS ({grid})"
    )
    select = (
        f"SELECT {index} AS series, {line}"
        f"b.bucket AS bucket, sum(CASE WHEN b.i = {params.add(len(buckets) - 1)} "
        "THEN (CASE WHEN m.recent THEN m.c ELSE 0 END) "
        f"WHEN {d.bits_of('m.mask', 'b.i', params.add((1 << k) - 1))} THEN m.c ELSE 0 END) "
        f"AS value FROM b{index} b CROSS JOIN k{index} m "
        f"GROUP BY {'m.is_other, m.line, ' if by else ''}b.bucket"
    )
    return ctes, select


def build(spec: TrendsQuery, window: Window, timezone: str, dialect: Dialect) -> Query:
    params = Params(dialect)
    # Bound once for every counting series (and not at all when there are none: DuckDB
    # refuses parameters that the SQL does not use).
    counting = any(s.math not in ACTIVE_DAYS for s in spec.series)
    bounds = (
        {
            "start": params.add(utc(window.start)),
            "end": params.add(utc(window.end)),
            "bucket": local_bucket(
                params,
                params.add(spec.interval.value),
                utc_offsets(window.start, window.end, timezone),
            ),
        }
        if counting
        else {}
    )
    parts = [
        _active_sql(i, s, spec, params, window, timezone)
        if s.math in ACTIVE_DAYS
        else _series_sql(
            i, s, spec, params, **bounds, masks=_masks(spec, window, timezone, dialect)
        )
        for i, s in enumerate(spec.series)
    ]
    ctes = ", ".join(c for c, _ in parts)
    selects = " UNION ALL ".join(s for _, s in parts)
    return Query(f"WITH {ctes} {selects}", params.values)


def label(spec: TrendsQuery, index: int) -> str:
    series = spec.series[index]
    of = f" of {series.math_property}" if series.math_property else ""
    return f"{series.event or 'Any event'} ({series.math}{of})"


Line = tuple[int, bool, str | None]  # series, is "other", breakdown value


def parse(spec: TrendsQuery, window: Window, timezone: str, rows: Sequence[Any]) -> TrendsResult:
    per_bucket: dict[tuple[Line, datetime], float] = {}
    totals: dict[Line, float] = {}
    for series, is_other, breakdown, bucket, value in rows:
        line: Line = (int(series), bool(is_other), None if breakdown is None else str(breakdown))
        number = 0.0 if value is None else float(value)  # no numbers in a bucket: 0
        if bucket is None:
            totals[line] = number
        else:
            per_bucket[(line, bucket)] = number
    lines: list[TrendsLine] = []
    for i, s in enumerate(spec.series):
        # Active users have no total row: theirs is the last bucket's number.
        found = {key for key in totals if key[0] == i} | {k for k, _ in per_bucket if k[0] == i}
        if not spec.breakdown:
            found = {(i, False, None)}
        values = {key: [per_bucket.get((key, b), 0.0) for b in window.buckets] for key in found}
        if s.math in ACTIVE_DAYS:
            totals.update({key: v[-1] if v else 0.0 for key, v in values.items()})
        # Largest first, "other" last, as the top values were chosen.
        for key in sorted(
            found, key=lambda k: (k[1], -totals.get(k, 0.0), k[2] is None, k[2] or "")
        ):
            name = "Other" if key[1] else ("(none)" if key[2] is None else key[2])
            lines.append(
                TrendsLine(
                    label=f"{label(spec, i)} · {name}" if spec.breakdown else label(spec, i),
                    math=s.math,
                    series=i,
                    breakdown_value=key[2],
                    is_other=key[1],
                    values=values[key],
                    total=totals.get(key, 0.0),
                )
            )
    if spec.formula:
        lines.append(_formula_line(spec.formula, lines, len(window.buckets)))
    zone = ZoneInfo(timezone)
    return TrendsResult(
        interval=spec.interval,
        timezone=timezone,
        buckets=window.buckets,
        start=local_naive(window.start, zone),
        end=local_naive(window.end, zone),
        series=lines,
    )


def _formula_line(text: str, lines: list[TrendsLine], buckets: int) -> TrendsLine:
    tree = formula.parse(text)
    letters = [chr(ord("A") + i) for i in range(len(lines))]

    def at(values: list[float]) -> float:
        return formula.evaluate(tree, dict(zip(letters, values, strict=True)))

    return TrendsLine(
        label=text,
        math=TrendsMath.TOTAL,
        is_formula=True,
        values=[at([line.values[b] for line in lines]) for b in range(buckets)],
        total=at([line.total for line in lines]),
    )


def run(
    spec: TrendsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> TrendsResult:
    """Resolve the dates against `now`, run the SQL on `engine`, shape the answer (and
    the same for the period before, when the spec asks to compare)."""
    if spec.breakdown_cohorts:
        return _by_cohort(spec, timezone, now, engine)
    window = resolve(spec.date_range, spec.interval, timezone, now)
    result = parse(
        spec, window, timezone, engine.execute(build(spec, window, timezone, engine.dialect))
    )
    if not spec.compare:
        return result
    before = previous(window, spec.interval, timezone)
    earlier = parse(
        spec, before, timezone, engine.execute(build(spec, before, timezone, engine.dialect))
    )
    return result.model_copy(
        update={"previous_buckets": earlier.buckets, "previous": earlier.series}
    )


def _by_cohort(
    spec: TrendsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> TrendsResult:
    """Each cohort's lines: the spec again with the cohort as one more filter."""
    parts = per_cohort(spec, lambda one: run(one, timezone, now, engine))

    def named(lines: list[TrendsLine] | None, name: str) -> list[TrendsLine]:
        return [
            line.model_copy(update={"breakdown_value": name, "label": f"{line.label} · {name}"})
            for line in lines or []
        ]

    first = parts[0][1]
    return first.model_copy(
        update={
            "series": [line for name, r in parts for line in named(r.series, name)],
            "previous": None
            if first.previous is None
            else [line for name, r in parts for line in named(r.previous, name)],
        }
    )


def build_persons(
    ask: TrendsPersonsQuery, window: Window, timezone: str, dialect: Dialect
) -> Query:
    """`k` (person, ts, sid) of the counted events behind the number, then a page of persons
    with their last one."""
    params = Params(dialect)
    spec, index = ask.trends, ask.series
    series = spec.series[index]
    ends = bucket_ends(window, timezone)
    if series.math in ACTIVE_DAYS:
        days = timedelta(days=ACTIVE_DAYS[series.math])
        end = ends[-1 if ask.bucket is None else ask.bucket]
        start = end - days
        if spec.breakdown and ask.line is not None:
            # The line's events over the whole range (its values ranked as the answer did),
            # then those in the days before the bucket's end.
            lookback = params.add(utc(window.start - days))
            lines = _active_lines(
                index, series, spec, params, window, lookback, params.add(utc(window.end))
            )
            ctes = (
                f"{lines}, k AS (SELECT person, ts, sid FROM l{index} "
                f"WHERE ts >= {params.add(utc(start))} AND ts < {params.add(utc(end))} "
                f"AND {on_line(params, ask.line)})"
            )
        else:
            matching = _matching(series, spec, params, params.add(utc(start)), params.add(utc(end)))
            ctes = (
                f"k AS (SELECT {PERSON} AS person, e.timestamp AS ts, e.session_id AS sid "
                f"{matching})"
            )
    else:
        bucket = local_bucket(
            params,
            params.add(spec.interval.value),
            utc_offsets(window.start, window.end, timezone),
        )
        series_ctes, _ = _series_sql(
            index,
            series,
            spec,
            params,
            start=params.add(utc(window.start)),
            end=params.add(utc(window.end)),
            bucket=bucket,
            masks=None,  # the drill-down reads s{index} itself
        )
        where = ["true"]
        if ask.bucket is not None:
            where.append(f"s.bucket = {params.add(window.buckets[ask.bucket])}")
        join = ""
        if spec.breakdown and ask.line is not None:
            join = f" LEFT JOIN t{index} t ON t.bv = s.bv"
            other = "(t.bv IS NULL AND s.bv IS NOT NULL)"
            where.append(
                other
                if ask.line.is_other
                else f"NOT {other} AND s.bv IS NOT DISTINCT FROM {params.add(ask.line.value)}"
            )
        ctes = (
            f"{series_ctes}, k AS (SELECT s.person AS person, s.ts AS ts, s.session_id AS sid "
            f"FROM s{index} s{join} WHERE {' AND '.join(where)})"
        )
    picked = "picked AS (SELECT person, last_ts AS moment, last_sid AS session FROM mo)"
    return Query(
        f"WITH {ctes}, {first_and_last(params, 'true', per_bucket=False, source='k')}, {picked} "
        + persons_sql(params, ask.limit, ask.offset),
        params.values,
    )


def run_persons(
    ask: TrendsPersonsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PersonsResult:
    spec = ask.trends
    if spec.breakdown_cohorts:
        # A cohort's line: the persons of the series filtered by that cohort.
        spec = only_in(spec, cohort_of_line(spec.breakdown_cohorts, ask.line))
        ask = ask.model_copy(update={"trends": spec, "line": None})
    window = resolve(spec.date_range, spec.interval, timezone, now)
    if ask.bucket is not None and ask.bucket >= len(window.buckets):
        return PersonsResult(persons=[], total=0)
    return hits(engine.execute(build_persons(ask, window, timezone, engine.dialect)))
