"""Retention: cohorts of persons by the period of their start event, and how many of each did
the return event in each later period. The rule is in `model/retention.py`.

CTEs: `ev` (start and return events, each with its local period `b`), `act` (per person and
period: did they start, did they come back, their first start then), `starts` (person and
cohort period), `returns` (person and a period they came back in). With a breakdown, each
row of `starts` gets the value its person holds (`sb`, `_valued`), or by an event property the
value of their first start event in the cohort's period (`fv` in `act`, `_first_value`), and
its line (`ls`, `filters.top_lines`); the answer's rows then start with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from userlens.model.insight import PersonsResult
from userlens.model.retention import (
    RetentionCohort,
    RetentionLine,
    RetentionPersonsQuery,
    RetentionQuery,
    RetentionResult,
    RetentionType,
)
from userlens.query.dates import Window, periods_ending, utc_offsets
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
    matches,
    on_line,
    only_in,
    overrides,
    per_cohort,
    person_join,
    top_lines,
    utc,
    window_masks,
)
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query


def _ctes(
    spec: RetentionQuery, params: Params, window: Window, timezone: str, *, keep_events: bool
) -> str:
    """The CTEs; `keep_events` when the query reads `ev` again after `act` (drill-downs)."""
    start_event, back = spec.start, spec.return_event
    starts = matches(start_event.event, start_event.filters, params)
    returns = matches(back.event, back.filters, params)
    start = params.add(utc(window.start))
    # First-time cohorts need every earlier start event, to know which one was the first.
    lower = "" if spec.type is RetentionType.FIRST_TIME else f"AND e.timestamp >= {start} "
    bucket = local_bucket(
        params, params.add(spec.period.value), utc_offsets(window.start, window.end, timezone)
    )
    every = [*spec.filters, *start_event.filters, *back.filters]
    d = params.dialect
    by_event = spec.breakdown is not None and spec.breakdown_type == "event"
    # By an event property: each start event's value (`bv`, read from start events only);
    # per person and period, the first start event's (`fv`: its time, then whether it has
    # none, then the value).
    value, first, fv, first_fv = "", "", "", ""
    if by_event and spec.breakdown:
        value = (
            f"CASE WHEN {starts} THEN {params.prop(COLUMNS['event'], spec.breakdown)} END AS bv, "
        )
        key = d.pair("ts", d.pair("bv IS NULL", "coalesce(bv, '')"))
        first = f", min({key}) FILTER (WHERE ms) AS fv"
        fv, first_fv = ", fv", f", {d.arg_min('fv', 'b')} AS fv"
    cohorts = (
        f"starts AS (SELECT person, min(b) AS cohort{first_fv} FROM act WHERE s "
        f"GROUP BY person HAVING min(s_ts) >= {start})"
        if spec.type is RetentionType.FIRST_TIME
        else f"starts AS (SELECT person, b AS cohort{fv} FROM act WHERE s)"
    )
    ctes = (
        f"ev AS {'MATERIALIZED ' if keep_events else ''}(SELECT {PERSON} AS person, "
        f"e.timestamp AS ts, e.session_id AS sid, {bucket} AS b, {value}{starts} AS ms, "
        f"{returns} AS mr "
        f"FROM {overrides(params.dialect)}{person_join(every)} "
        f"WHERE e.timestamp < {params.add(utc(window.end))} {lower}"
        f"AND {all_of(spec.filters, params)} AND ({starts} OR {returns})), "
        # One pass over the events: per person and period, whether they started and came back.
        "act AS MATERIALIZED (SELECT person, b, max(ms) AS s, "
        f"max(mr AND ts >= {start}) AS r, min(CASE WHEN ms THEN ts END) AS s_ts{first} "
        "FROM ev GROUP BY person, b), "
        f"{cohorts}, "
        "returns AS (SELECT person, b FROM act WHERE r)"
    )
    if spec.breakdown:
        # Each cohort's persons with their value (`sb`), then their line (`ls`).
        lines = top_lines(
            params, "sb", limit=spec.breakdown_limit, rank="count(DISTINCT person)", name="ls"
        )
        valued = _first_value(d, "sb") if by_event else _valued(spec, params, "starts", "sb")
        ctes += f", {valued}, {', '.join(lines)}"
    return ctes


def _first_value(d: Dialect, name: str) -> str:
    """`name`: `starts`' rows, each with the value (`bv`) of the person's first start event in
    the cohort's period (of those at that moment, the smallest; NULL when none has one)."""
    none, text = d.first(d.second("fv")), d.second(d.second("fv"))
    return (
        f"{name} AS (SELECT person, cohort, CASE WHEN {none} THEN NULL ELSE {text} END AS bv "
        "FROM starts)"
    )


def _valued(spec: RetentionQuery, params: Params, source: str, name: str) -> str:
    """`name`: `source`'s rows, each with the value (`bv`) its person holds now of the
    breakdown property (looked up once a person, not once an event)."""
    assert spec.breakdown is not None
    value = params.prop(COLUMNS["person"], spec.breakdown)
    return (
        f"{name} AS (SELECT x.*, {value} AS bv FROM {source} x "
        "LEFT JOIN {persons} p ON p.id = x.person)"
    )


def _bits(spec: RetentionQuery, params: Params, window: Window, timezone: str) -> str | None:
    """The answer's rows from two masks per person, or None where periods vary in length (see
    `dates.fixed_length`) or are too many for a BIGINT.

    Per person: `s` has bit i set when they did the start event in the range's i-th period,
    `r` when they came back in it, and `early` says whether they started before the range.
    Their cohorts are the bits of `s` (recurring), or its lowest bit when not `early`
    (first-time); they count as back in each later period with its bit of `r` set. Persons
    are grouped by (s, r), so each distinct pair is tested once per cohort and period."""
    d = params.dialect
    buckets = window.buckets
    plan = window_masks(d, window, spec.period, timezone)
    # A person's line may differ from cohort to cohort by an event property: no masks.
    if plan is None or (spec.breakdown and spec.breakdown_type == "event"):
        return None
    length, _ = plan
    start_event, back = spec.start, spec.return_event
    starts = matches(start_event.event, start_event.filters, params)
    returns = matches(back.event, back.filters, params)
    start = params.add(utc(window.start))
    first_time = spec.type is RetentionType.FIRST_TIME
    # First-time cohorts need every earlier start event, to know whether one came before.
    lower = "" if first_time else f"AND e.timestamp >= {start} "
    every = [*spec.filters, *start_event.filters, *back.filters]
    bit = d.bit(bucket_index(params, start, length))
    grid = indexed_buckets(params, buckets, "b")
    # The lowest bit's index: how many bits are below it.
    cohort = f"{d.lowest_bit('m.s')} = g.i" if first_time else d.has_bit("m.s", "g.i")
    started = f"CASE WHEN ({starts}) AND e.timestamp >= {start} THEN {bit} ELSE 0 END"
    returned = f"CASE WHEN ({returns}) AND e.timestamp >= {start} THEN {bit} ELSE 0 END"
    in_cohorts = f"s <> 0{' AND NOT early' if first_time else ''}"
    # With a breakdown, each person (`who`) gets their value and line; the lines lead every row.
    who, source, lines, by = "", "a", "", ""
    if spec.breakdown:
        who = f", {PERSON} AS person"
        source = "al"
        lines, by = "is_other, line, ", "m.is_other, m.line, "
    persons = (
        f"a AS (SELECT {d.or_bits(started)} AS s, {d.or_bits(returned)} AS r, "
        f"{d.any_true(f'({starts}) AND e.timestamp < {start}')} AS early{who} "
        f"FROM {overrides(params.dialect)}{person_join(every)} "
        f"WHERE e.timestamp < {params.add(utc(window.end))} {lower}"
        f"AND {all_of(spec.filters, params)} AND ({starts} OR {returns}) GROUP BY {PERSON}), "
    )
    if spec.breakdown:
        # The persons in some cohort with their value (`ac`), then their line (`al`).
        persons += f"ain AS (SELECT * FROM a WHERE {in_cohorts}), "
        persons += f"{_valued(spec, params, 'ain', 'ac')}, "
        persons += ", ".join(top_lines(params, "ac", limit=spec.breakdown_limit, name="al")) + ", "
    return (
        f"{persons}m AS MATERIALIZED (SELECT {lines}s, r, count(*) AS c FROM {source} "
        f"WHERE {in_cohorts} GROUP BY {lines}s, r), "
        f"g AS ({grid}) "
        f"SELECT {by}g.b, NULL AS p, sum(m.c) FROM g CROSS JOIN m WHERE {cohort} "
        f"GROUP BY {by}g.b "
        f"UNION ALL SELECT {by}g.b, h.b, sum(m.c) FROM g CROSS JOIN g h CROSS JOIN m "
        f"WHERE h.i > g.i AND {cohort} AND {d.has_bit('m.r', 'h.i')} GROUP BY {by}g.b, h.b"
    )


def build(spec: RetentionQuery, window: Window, timezone: str, dialect: Dialect) -> Query:
    """Rows (cohort, NULL, size) and (cohort, period, persons back in it)."""
    params = Params(dialect)
    bits = _bits(spec, params, window, timezone)
    if bits is not None:
        return Query(f"WITH {bits}", params.values)
    ctes = _ctes(spec, params, window, timezone, keep_events=False)
    if spec.breakdown:
        return Query(
            f"WITH {ctes} "
            "SELECT is_other, line, cohort, NULL AS b, count(*) FROM ls "
            "GROUP BY is_other, line, cohort "
            "UNION ALL SELECT s.is_other, s.line, s.cohort, r.b, count(*) FROM ls s "
            "JOIN returns r ON r.person = s.person AND r.b > s.cohort "
            "GROUP BY s.is_other, s.line, s.cohort, r.b",
            params.values,
        )
    return Query(
        f"WITH {ctes} "
        "SELECT cohort, NULL AS b, count(*) FROM starts GROUP BY cohort "
        "UNION ALL SELECT s.cohort, r.b, count(*) FROM starts s "
        "JOIN returns r ON r.person = s.person AND r.b > s.cohort GROUP BY s.cohort, r.b",
        params.values,
    )


Line = tuple[bool, str | None]  # is "other", breakdown value


def _cohorts(
    window: Window, sizes: dict[int, int], back: dict[int, dict[int, int]]
) -> list[RetentionCohort]:
    cohorts = []
    for c, start in enumerate(window.buckets):
        size = sizes.get(c, 0)
        values = [size] + [back[c].get(k, 0) for k in range(1, len(window.buckets) - c)]
        cohorts.append(
            RetentionCohort(
                start=start,
                size=size,
                values=values,
                shares=[v / size if size else 0.0 for v in values],
            )
        )
    return cohorts


def parse(
    spec: RetentionQuery, window: Window, timezone: str, rows: Sequence[Any]
) -> RetentionResult:
    """Rows (cohort, period or NULL, persons), each led by its line with a breakdown."""
    index = {b: i for i, b in enumerate(window.buckets)}
    sizes: dict[Line, dict[int, int]] = defaultdict(dict)
    back: dict[Line, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        key: Line = (bool(row[0]), row[1]) if spec.breakdown else (False, None)
        cohort, period, n = row[-3:]
        c = index[cohort]
        if period is None:
            sizes[key][c] = int(n)
        else:
            back[key][c][index[period] - c] = int(n)
    # Everyone: the lines added up (each person is in one line).
    total_sizes: dict[int, int] = defaultdict(int)
    total_back: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for key in sizes.keys() | back.keys():
        for c, n in sizes[key].items():
            total_sizes[c] += n
        for c, per in back[key].items():
            for k, n in per.items():
                total_back[c][k] += n
    cohorts = _cohorts(window, total_sizes, total_back)
    lines = None
    if spec.breakdown:
        # Most persons first (their cohorts' sizes added up), ties by value; "Other" last.
        def order(k: Line) -> tuple[bool, int, bool, str]:
            return k[0], -sum(sizes[k].values()), k[1] is None, k[1] or ""

        lines = []
        for key in sorted(sizes, key=order):
            mine = _cohorts(window, sizes[key], back[key])
            lines.append(
                RetentionLine(
                    breakdown_value=key[1],
                    is_other=key[0],
                    cohorts=mine,
                    average=_average(mine),
                )
            )
    return RetentionResult(
        period=spec.period,
        timezone=timezone,
        cohorts=cohorts,
        average=_average(cohorts),
        lines=lines,
    )


def _average(cohorts: list[RetentionCohort]) -> list[float | None]:
    average: list[float | None] = []
    for i in range(len(cohorts)):
        reached = [c for c in cohorts if c.size and len(c.values) > i]
        size = sum(c.size for c in reached)
        average.append(sum(c.values[i] for c in reached) / size if size else None)
    return average


def _window(spec: RetentionQuery, timezone: str, now: datetime) -> Window:
    return periods_ending(spec.date_to, spec.period, spec.periods, timezone, now)


def run(
    spec: RetentionQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> RetentionResult:
    window = _window(spec, timezone, now)

    def answer(one: RetentionQuery) -> RetentionResult:
        return parse(
            one, window, timezone, engine.execute(build(one, window, timezone, engine.dialect))
        )

    if not spec.breakdown_cohorts:
        return answer(spec)
    # Everyone's table, then a line per cohort.
    lines = [
        RetentionLine(breakdown_value=name, cohorts=mine.cohorts, average=mine.average)
        for name, mine in per_cohort(spec, answer)
    ]
    return answer(only_in(spec, [])).model_copy(update={"lines": lines})


def build_persons(
    ask: RetentionPersonsQuery, window: Window, timezone: str, dialect: Dialect
) -> Query:
    params = Params(dialect)
    spec = ask.retention
    cohort = window.buckets[ask.cohort]
    target = window.buckets[ask.cohort + ask.period]
    flag = "ms" if ask.period == 0 else f"mr AND ts >= {params.add(utc(window.start))}"
    joined = f"m.b = {params.add(target)}"
    where = f"s.cohort = {params.add(cohort)}"
    if ask.line is not None and spec.breakdown:
        where += f" AND {on_line(params, ask.line, 's')}"
    picked = (
        "picked AS (SELECT s.person AS person, m.first_ts AS moment, m.first_sid AS session "
        f"FROM {'ls' if spec.breakdown else 'starts'} s JOIN mo m ON m.person = s.person "
        f"AND {joined} WHERE {where})"
    )
    ctes = _ctes(spec, params, window, timezone, keep_events=True)
    return Query(
        f"WITH {ctes}, {first_and_last(params, flag)}, {picked} "
        + persons_sql(params, ask.limit, ask.offset),
        params.values,
    )


def run_persons(
    ask: RetentionPersonsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PersonsResult:
    window = _window(ask.retention, timezone, now)
    if ask.cohort + ask.period >= len(window.buckets):
        return PersonsResult(persons=[], total=0)
    if ask.retention.breakdown_cohorts:
        # A cohort's line: the persons of its table (no line: everyone's).
        chosen = cohort_of_line(ask.retention.breakdown_cohorts, ask.line)
        retention = only_in(ask.retention, chosen)
        ask = ask.model_copy(update={"retention": retention, "line": None})
    return hits(engine.execute(build_persons(ask, window, timezone, engine.dialect)))
