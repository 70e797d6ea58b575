"""Funnels: the attempts of each person through the steps, found with ASOF joins (for each
attempt, the earliest next-step event after the previous step), the best attempt per person,
and per breakdown line the persons at each step, their times between steps and a histogram of
their time from the first step to the last. The counting rule is in `model/funnel.py`.

The attempts are a chain of CTEs: `ev` (the person's events in range that any step or
exclusion needs, each marked with the step or exclusion it is: `_Marks`), `a0` (the attempts'
starts), `a1`…`a{n-1}` (each adds one step's time, and its session when the persons behind a
step are asked for), `att` (the steps reached and whether an exclusion broke it), `best` (one
attempt per person) and `lined` (its breakdown line; without a breakdown, every person's is
the same). Where the dialect prefers arrays (`Dialect.funnel_arrays`), `best` comes from
`funnel_arrays.py` instead of the joins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from userlens.model.filters import Filter
from userlens.model.funnel import (
    FunnelExclusion,
    FunnelLine,
    FunnelOrder,
    FunnelPeriod,
    FunnelPersonsQuery,
    FunnelQuery,
    FunnelResult,
    FunnelStep,
    FunnelStepResult,
    HistogramBin,
    HistogramScale,
)
from userlens.model.insight import BreakdownLine, PersonsResult
from userlens.query import funnel_arrays
from userlens.query.dates import between, bucket_ends, span, utc_offsets
from userlens.query.dialect import Dialect, Engine
from userlens.query.filters import (
    COLUMNS,
    Params,
    all_of,
    cohort_of_line,
    local_bucket,
    matches,
    on_line,
    only_in,
    overrides,
    per_cohort,
    person_join,
    top_lines,
    utc,
)
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query

US = 1_000_000
EMPTY = "''"


@dataclasses.dataclass(frozen=True, slots=True)
class _Marks:
    """How `ev` marks the events of each step and exclusion, for the join plan.

    When every step and exclusion is a different named event, no event can be two of them:
    one column `k` holds the index of the one it is (steps first, then exclusions). DuckDB
    picks a step's rows faster by `k = i` than by a flag of its own (at 10M events, with the
    `CASE` that `ev` filters by, the bench funnel took 117 ms against 128 with flags).
    Otherwise (a repeated event, or any event) each has a flag: `m{i}`, `x{i}`.
    """

    steps: int
    indexed: bool

    @staticmethod
    def of(spec: FunnelQuery) -> _Marks:
        names = [s.event for s in spec.steps] + [x.event for x in spec.exclusions]
        distinct = None not in names and len(set(names)) == len(names)
        return _Marks(len(spec.steps), distinct)

    def step(self, i: int) -> str:
        return f"(k = {i})" if self.indexed else f"m{i}"

    def exclusion(self, i: int) -> str:
        return f"(k = {self.steps + i})" if self.indexed else f"x{i}"


def _events(
    spec: FunnelQuery,
    params: Params,
    start: datetime,
    end: datetime,
    sessions: bool,
    packed: bool = False,
) -> str:
    """`ev`: one row per event in range (every event for strict order, which needs them all),
    with its session id when the attempts carry sessions, and its marks (`_Marks`). `packed`
    (the array plan): the time as microseconds since the range's start plus one, and the
    steps' and exclusions' flags as the bits of one integer."""
    d = params.dialect
    steps = [matches(s.event, s.filters, params) for s in spec.steps]
    exclusions = [matches(x.event, x.filters, params) for x in spec.exclusions]
    breakdown = (
        params.prop(COLUMNS[spec.breakdown_type], spec.breakdown) if spec.breakdown else None
    )
    lo = params.add(utc(start))
    marked = [*steps, *exclusions]
    if packed:
        bits = " + ".join(f"if({c}, {1 << i}, 0)" for i, c in enumerate(marked))
        flags = [f"{bits} AS flags"]
        moment = f"{d.epoch_us('e.timestamp')} - {d.epoch_us(lo)} + 1"
        wanted = f"({' OR '.join(marked)})"
    else:
        # The index of the first step or exclusion an event is: `ev` keeps the rows where it
        # is not NULL (as an OR of the tests would, which DuckDB filters by far slower).
        which = f"CASE {' '.join(f'WHEN {c} THEN {i}' for i, c in enumerate(marked))} END"
        wanted = f"({which}) IS NOT NULL"
        if _Marks.of(spec).indexed:
            flags = [f"{which} AS k"]
        else:
            flags = [f"{c} AS m{i}" for i, c in enumerate(steps)]
            flags += [f"{c} AS x{i}" for i, c in enumerate(exclusions)]
        moment = "e.timestamp"
    keep = "true" if spec.order is FunnelOrder.STRICT else wanted
    every: list[Filter] = [
        *spec.filters,
        *(f for s in spec.steps for f in s.filters),
        *(f for x in spec.exclusions for f in x.filters),
    ]
    # The array plan reads `ev` once; the joins read it at every step.
    kept = "" if packed else "MATERIALIZED "
    return (
        f"ev AS {kept}(SELECT coalesce(o.override_person_id, e.person_id) AS person, "
        f"{moment} AS ts, {'e.session_id AS sid, ' if sessions else ''}"
        f"{breakdown or d.null_text()} AS bv, "
        f"{', '.join(flags)} "
        f"FROM {overrides(params.dialect)}"
        f"{person_join(every, needed=spec.breakdown_type == 'person' and bool(spec.breakdown))} "
        f"WHERE e.timestamp >= {lo} AND e.timestamp < {params.add(utc(end))} "
        f"AND {all_of(spec.filters, params)} AND {keep})"
    )


def _at_times(flag: str, sessions: bool) -> str:
    """A step's events: with sessions, one row per person and time (the smallest session id
    among them); without, its rows as they are (events at the same time join alike)."""
    if not sessions:
        return f"(SELECT person AS who, ts FROM ev WHERE {flag})"
    return f"(SELECT person AS who, ts, min(sid) AS sid FROM ev WHERE {flag} GROUP BY person, ts)"


def _ordered(spec: FunnelQuery, window: str, sessions: bool) -> list[str]:
    s0 = ", sid AS s0" if sessions else ""
    mark = _Marks.of(spec).step
    ctes = [f"a0 AS (SELECT person, bv, ts AS t0{s0} FROM ev WHERE {mark(0)})"]
    for k in range(1, len(spec.steps)):
        ok = f"n.ts <= a.t0 + {window}"
        joins = (
            f"ASOF LEFT JOIN {_at_times(mark(k), sessions)} n "
            f"ON a.person = n.who AND a.t{k - 1} < n.ts"
        )
        if spec.order is FunnelOrder.STRICT:
            # The person's next event, at any time after the previous step: it must be this one.
            joins += (
                " ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev) nx "
                f"ON a.person = nx.who AND a.t{k - 1} < nx.ts"
            )
            ok += " AND n.ts = nx.ts"
        step = f"SELECT a.*, CASE WHEN {ok} THEN n.ts END AS t{k}"
        if sessions:
            step += f", CASE WHEN {ok} THEN n.sid END AS s{k}"
        found = f"{step} FROM a{k - 1} a {joins}"
        if spec.order is FunnelOrder.ORDERED and not sessions:
            # Each attempt still going learns the person's first and last time of this step.
            # When the first is after the previous step, it is the step's time; only when the
            # previous step falls between them is the attempt joined to the step's events.
            kept = ", ".join(["a.person", "a.bv", *(f"a.t{i}" for i in range(k))])
            ctes.append(
                f"r{k} AS (SELECT person AS who, min(ts) AS f, max(ts) AS l FROM ev "
                f"WHERE {mark(k)} GROUP BY person)"
            )
            still = f" WHERE a.t{k - 1} IS NOT NULL" if k > 1 else ""
            ctes.append(
                f"j{k} AS (SELECT a.*, r.f AS f, r.l AS l FROM a{k - 1} a "
                f"LEFT JOIN r{k} r ON r.who = a.person{still})"
            )
            between = f"coalesce(a.f <= a.t{k - 1} AND a.t{k - 1} < a.l, false)"
            found = (
                f"SELECT {kept}, CASE WHEN a.f > a.t{k - 1} AND a.f <= a.t0 + {window} "
                f"THEN a.f END AS t{k} FROM j{k} a WHERE NOT {between} "
                f"UNION ALL SELECT {kept}, CASE WHEN {ok} THEN n.ts END AS t{k} "
                f"FROM (SELECT * FROM j{k} a WHERE {between}) a ASOF LEFT JOIN "
                f"(SELECT person AS who, ts FROM ev WHERE {mark(k)} AND person IN "
                f"(SELECT person FROM j{k} a WHERE {between})) n "
                f"ON a.person = n.who AND a.t{k - 1} < n.ts"
            )
            if k > 1:
                found += (
                    f" UNION ALL SELECT {kept}, CASE WHEN false THEN a.t0 END AS t{k} "
                    f"FROM a{k - 1} a WHERE a.t{k - 1} IS NULL"
                )
        else:
            # Only attempts still going whose person did this step at all are joined to the
            # step's events; the others are carried on with no time and session for it.
            going = f"a.person IN (SELECT person FROM ev WHERE {mark(k)})"
            if k > 1:
                going += f" AND a.t{k - 1} IS NOT NULL"
            going = f"coalesce({going}, false)"
            none = f"CASE WHEN false THEN a.t{k - 1} END AS t{k}"
            if sessions:
                none += f", CASE WHEN false THEN a.s{k - 1} END AS s{k}"
            found = (
                f"{step} FROM (SELECT * FROM a{k - 1} a WHERE {going}) a {joins} "
                f"UNION ALL SELECT a.*, {none} FROM a{k - 1} a WHERE NOT {going}"
            )
        ctes.append(f"a{k} AS ({found})")
    return ctes


def _unordered(spec: FunnelQuery, window: str, d: Dialect, sessions: bool) -> list[str]:
    n = len(spec.steps)
    mark = _Marks.of(spec).step
    any_step = " OR ".join(mark(i) for i in range(n))
    joins = " ".join(
        f"ASOF LEFT JOIN {_at_times(mark(i), sessions)} n{i} "
        f"ON a.person = n{i}.who AND a.t0 <= n{i}.ts"
        for i in range(n)
    )
    # Each step's first event in the window, as (time, session), sorted by time.
    found = [
        f"CASE WHEN n{i}.ts <= a.t0 + {window} "
        f"THEN {d.pair(f'n{i}.ts', f'coalesce(n{i}.sid, {EMPTY})' if sessions else EMPTY)} END"
        for i in range(n)
    ]
    columns = [f"{d.first(f'l.reached[{i + 1}]')} AS t{i}" for i in range(n)]
    if sessions:
        columns += [f"nullif({d.second(f'l.reached[{i + 1}]')}, '') AS s{i}" for i in range(n)]
    return [
        f"a0 AS (SELECT person, bv, ts AS t0 FROM ev WHERE {any_step})",
        f"l AS (SELECT a.person AS person, a.bv AS bv, {d.sorted_present(found)} AS reached "
        f"FROM a0 a {joins})",
        f"a{n - 1} AS (SELECT l.person AS person, l.bv AS bv, {', '.join(columns)} FROM l)",
    ]


def _broken(x: FunnelExclusion, index: int, mark: str, window: str) -> tuple[str, str]:
    """(join, condition) of one exclusion, whose events in `ev` are those where `mark`."""
    join = (
        f"ASOF LEFT JOIN (SELECT DISTINCT person AS who, ts FROM ev WHERE {mark}) x{index} "
        f"ON a.person = x{index}.who AND a.t{x.from_step} < x{index}.ts"
    )
    until = (
        f"CASE WHEN a.t{x.to_step} IS NOT NULL THEN x{index}.ts < a.t{x.to_step} "
        f"ELSE x{index}.ts <= a.t0 + {window} END"
    )
    return join, f"coalesce({until}, false)"


def _best(order: list[str]) -> list[str]:
    """`best`: each person's counted attempt, the first in `order`. Only persons with several
    attempts are ranked (a window over every attempt was a third of the funnel's time); the
    others' one attempt is theirs."""
    ranked = f"QUALIFY row_number() OVER (PARTITION BY person ORDER BY {', '.join(order)}) = 1"
    return [
        "repeats AS (SELECT person AS who FROM a0 GROUP BY person HAVING count(*) > 1)",
        "best AS MATERIALIZED (SELECT * FROM att ANTI JOIN repeats r ON r.who = att.person "
        "UNION ALL SELECT * FROM (SELECT * FROM att SEMI JOIN repeats r "
        f"ON r.who = att.person) {ranked})",
    ]


def attempts(
    spec: FunnelQuery, params: Params, start: datetime, end: datetime, sessions: bool
) -> str:
    """The CTEs up to `lined`: the counted attempt of each person, with its breakdown line
    (and, when `sessions`, the session of each step it reached)."""
    d = params.dialect
    window_us = params.add(spec.window_seconds * US)
    # The line CTEs come last in the statement but take their parameter first.
    if spec.breakdown:
        lined = top_lines(params, "best", limit=spec.breakdown_limit, materialized=True)
    else:
        lined = [f"lined AS (SELECT *, false AS is_other, {d.null_text()} AS line FROM best)"]
    if d.funnel_arrays:
        ctes = [
            _events(spec, params, start, end, sessions, packed=True),
            funnel_arrays.best(spec, window_us, sessions),
        ]
    else:
        window = d.interval("microsecond", window_us)
        chain = (
            _unordered(spec, window, d, sessions)
            if spec.order is FunnelOrder.UNORDERED
            else _ordered(spec, window, sessions)
        )
        n = len(spec.steps)
        marks = _Marks.of(spec)
        broken = [_broken(x, i, marks.exclusion(i), window) for i, x in enumerate(spec.exclusions)]
        joins = " ".join(j for j, _ in broken)
        any_broken = " OR ".join(c for _, c in broken) or "false"
        steps = " + ".join(f"CAST(a.t{i} IS NOT NULL AS INTEGER)" for i in range(n))
        # Most steps, then earliest; then (for attempts starting at the same time) the
        # smallest breakdown value and session.
        order = ["steps DESC", "t0"]
        if spec.breakdown:
            order.append("bv NULLS LAST")
        if sessions:
            order.append("s0 NULLS LAST")
        ctes = [
            _events(spec, params, start, end, sessions),
            *chain,
            f"att AS (SELECT a.*, {steps} AS steps FROM a{n - 1} a {joins} "
            f"WHERE NOT ({any_broken}))",
            *_best(order),
        ]
    return ", ".join([*ctes, *lined])


def in_us(d: Dialect) -> Callable[[str], str]:
    """A step's time column as microseconds (the array plan's times are already)."""
    return (lambda t: t) if d.funnel_arrays else d.epoch_us


def moment_of(params: Params, start: datetime, column: str) -> str:
    """A step's time column as a timestamp (the array plan's times count microseconds from
    the range's start, plus one)."""
    d = params.dialect
    if not d.funnel_arrays:
        return column
    return d.from_epoch_us(epoch_us_of(params, start, column))


def epoch_us_of(params: Params, start: datetime, column: str) -> str:
    """A step's time column as microseconds since the epoch."""
    d = params.dialect
    if not d.funnel_arrays:
        return d.epoch_us(column)
    return f"{column} - 1 + {d.epoch_us(params.add(utc(start)))}"


def _period(spec: FunnelQuery, params: Params, start: datetime, end: datetime, tz: str) -> str:
    """The local start of the period (`over_time`) in which an attempt started, as
    microseconds from 1970-01-01 00:00 of that clock."""
    assert spec.over_time is not None
    part = params.add(spec.over_time.value)
    moment = moment_of(params, start, "t0")
    bucket = local_bucket(params, part, utc_offsets(start, end, tz), moment)
    return params.dialect.epoch_us(bucket)


def build(
    spec: FunnelQuery, start: datetime, end: datetime, dialect: Dialect, timezone: str
) -> Query:
    """One row per line with its step counts and times, then one row per histogram bin, and
    with `over_time` one row per line and period with its step counts."""
    params = Params(dialect)
    d = dialect
    n = len(spec.steps)
    us = in_us(d)
    gaps = [f"{us(f't{i}')} - {us(f't{i - 1}')}" for i in range(1, n)]
    counts = ", ".join(f"count(t{i})" for i in range(n))
    averages = [f"avg({g})" for g in gaps]
    medians = [d.quantile(g, 0.5) for g in gaps]
    found = attempts(spec, params, start, end, sessions=False)
    if spec.histogram_scale is HistogramScale.STEPS:
        # The bin is how many of the edges the time has reached.
        edges = [params.add(e * US) for e in spec.step_edges]
        reached = [f"CASE WHEN d >= {e} THEN 1 ELSE 0 END" for e in edges]
        binned = (
            "SELECT 1, is_other, line, NULL, NULL, NULL, NULL, NULL, "
            f"{' + '.join(reached) or '0'} AS bin, count(*) FROM d GROUP BY is_other, line, bin"
        )
        ranged = ""
    else:
        # Each line's first bin start (`lo`) and bin width, taken by window functions rather
        # than a join of the line totals back to the rows (ClickHouse: ~25 ms less at 10M).
        ranged = (
            ", r AS (SELECT is_other, line, d, min(d) OVER w AS lo, "
            f"{d.int_div('max(d) OVER w - min(d) OVER w', params.add(spec.histogram_bins))} + 1 "
            "AS width FROM d WINDOW w AS (PARTITION BY is_other, line))"
        )
        binned = (
            "SELECT 1, is_other, line, NULL, NULL, NULL, lo, width, "
            f"{d.int_div('d - lo', 'width')} AS bin, count(*) "
            "FROM r GROUP BY is_other, line, lo, width, bin"
        )
    timed = ""
    if spec.over_time is not None:
        timed = (
            f" UNION ALL SELECT 2, is_other, line, [{counts}], NULL, NULL, "
            f"{_period(spec, params, start, end, timezone)} AS lo, NULL, NULL, NULL "
            "FROM lined GROUP BY is_other, line, lo"
        )
    return Query(
        f"WITH {found}, "
        # Each converted attempt's time from first to last step.
        f"d AS (SELECT is_other, line, {us(f't{n - 1}')} - {us('t0')} AS d "
        f"FROM lined WHERE t{n - 1} IS NOT NULL){ranged} "
        f"SELECT 0 AS kind, is_other, line, [{counts}] AS counts, "
        f"{d.doubles(averages)} AS averages, {d.doubles(medians)} AS medians, "
        "NULL AS lo, NULL AS width, NULL AS bin, NULL AS n "
        f"FROM lined GROUP BY is_other, line UNION ALL {binned}{timed}",
        params.values,
    )


def step_label(step: FunnelStep) -> str:
    return step.name or step.event or "Any event"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _seconds(us: Any) -> float | None:
    return None if us is None else float(us) / US


Line = tuple[bool, str | None]  # is "other", breakdown value


@dataclasses.dataclass(frozen=True)
class Periods:
    """What `over_time` needs to read its rows: the periods' local starts, and whether each
    one's attempts have all had their window inside the range."""

    timezone: str
    starts: list[datetime]
    complete: list[bool]

    @staticmethod
    def of(spec: FunnelQuery, start: datetime, end: datetime, timezone: str) -> Periods | None:
        if spec.over_time is None:
            return None
        window = between(start, end, spec.over_time, ZoneInfo(timezone), field="over_time")
        ends = bucket_ends(window, timezone)
        converting = timedelta(seconds=spec.window_seconds)
        return Periods(timezone, window.buckets, [e + converting <= end for e in ends])

    def of_line(self, spec: FunnelQuery, found: dict[datetime, list[int]]) -> list[FunnelPeriod]:
        none = [0] * len(spec.steps)
        return [
            FunnelPeriod(
                start=at,
                counts=(counts := found.get(at, none)),
                conversion=_share(counts[-1], counts[0]),
                complete=complete,
            )
            for at, complete in zip(self.starts, self.complete, strict=True)
        ]


EPOCH = datetime(1970, 1, 1)


def parse(spec: FunnelQuery, rows: Sequence[Any], periods: Periods | None = None) -> FunnelResult:
    found: dict[Line, tuple[list[int], list[Any], list[Any]]] = {}
    scales: dict[Line, tuple[int, int]] = {}  # first bin's start and the bins' width (µs)
    bins: dict[Line, dict[int, int]] = {}
    timed: dict[Line, dict[datetime, list[int]]] = {}
    for kind, is_other, line, counts, averages, medians, lo, width, bin_, n in rows:
        key: Line = (bool(is_other), line)
        if kind == 0:
            found[key] = ([int(c) for c in counts], list(averages), list(medians))
        elif kind == 2:
            at = EPOCH + timedelta(microseconds=int(lo))
            timed.setdefault(key, {})[at] = [int(c) for c in counts]
        else:
            if lo is not None:
                scales[key] = (int(lo), int(width))
            bins.setdefault(key, {})[int(bin_)] = int(n)
    if not found:
        found[(False, None)] = (
            [0] * len(spec.steps),
            [None] * len(spec.steps),
            [None] * len(spec.steps),
        )
    lines: list[FunnelLine] = []
    # Most persons first, "Other" last; ties by value.
    for key in sorted(found, key=lambda k: (k[0], -found[k][0][0], k[1] is None, k[1] or "")):
        counts, averages, medians = found[key]
        steps = [
            FunnelStepResult(
                label=step_label(step),
                count=counts[i],
                conversion_from_first=_share(counts[i], counts[0]),
                conversion_from_previous=1.0 if i == 0 else _share(counts[i], counts[i - 1]),
                dropped=0 if i == 0 else counts[i - 1] - counts[i],
                median_seconds=None if i == 0 else _seconds(medians[i - 1]),
                average_seconds=None if i == 0 else _seconds(averages[i - 1]),
            )
            for i, step in enumerate(spec.steps)
        ]
        histogram = _histogram(spec, bins.get(key, {}), scales.get(key, (0, 0)))
        lines.append(
            FunnelLine(
                breakdown_value=key[1],
                is_other=key[0],
                steps=steps,
                histogram=histogram,
                periods=None if periods is None else periods.of_line(spec, timed.get(key, {})),
            )
        )
    return _result(spec, lines, periods)


def _result(spec: FunnelQuery, lines: list[FunnelLine], periods: Periods | None) -> FunnelResult:
    return FunnelResult(
        order=spec.order,
        window_seconds=spec.window_seconds,
        lines=lines,
        over_time=spec.over_time,
        timezone=None if periods is None else periods.timezone,
    )


def _histogram(
    spec: FunnelQuery, per_bin: dict[int, int], scale: tuple[int, int]
) -> list[HistogramBin]:
    """The bins from the first that holds a conversion to the last."""
    if not per_bin:
        return []
    if spec.histogram_scale is HistogramScale.STEPS:
        edges = [0, *spec.step_edges, spec.window_seconds]
        return [
            HistogramBin(start_seconds=edges[b], end_seconds=edges[b + 1], count=per_bin.get(b, 0))
            for b in range(min(per_bin), max(per_bin) + 1)
        ]
    lo, width = scale
    return [
        HistogramBin(
            start_seconds=(lo + b * width) / US,
            end_seconds=(lo + (b + 1) * width) / US,
            count=per_bin.get(b, 0),
        )
        for b in range(max(per_bin) + 1)
    ]


def run(
    spec: FunnelQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> FunnelResult:
    start, end = span(spec.date_range, timezone, now)
    periods = Periods.of(spec, start, end, timezone)

    def answer(one: FunnelQuery) -> FunnelResult:
        return parse(one, engine.execute(build(one, start, end, engine.dialect, timezone)), periods)

    if not spec.breakdown_cohorts:
        return answer(spec)
    # A line per cohort.
    lines = [
        mine.lines[0].model_copy(update={"breakdown_value": name})
        for name, mine in per_cohort(spec, answer)
    ]
    return _result(spec, lines, periods)


def _us(local: datetime) -> int:
    """A local time as `_period` gives it."""
    return (local - EPOCH) // timedelta(microseconds=1)


def build_persons(
    ask: FunnelPersonsQuery, start: datetime, end: datetime, dialect: Dialect, timezone: str
) -> Query:
    params = Params(dialect)
    spec, k = ask.funnel, ask.step
    if ask.status == "converted":
        where, moment, session = f"t{k} IS NOT NULL", f"t{k}", f"s{k}"
    elif ask.status == "dropped":
        where, moment, session = f"steps = {k}", f"t{k - 1}", f"s{k - 1}"
    else:
        # Stopped at any step before the last: the time and session of the last they reached.
        where = f"steps < {len(spec.steps)}"
        moment = "CASE steps " + " ".join(f"WHEN {i + 1} THEN t{i}" for i in range(k)) + " END"
        session = "CASE steps " + " ".join(f"WHEN {i + 1} THEN s{i}" for i in range(k)) + " END"
    if ask.line is not None:
        where += f" AND {on_line(params, ask.line)}"
    if ask.period is not None:
        period = _period(spec, params, start, end, timezone)
        where += f" AND {period} = {params.add(_us(ask.period))}"
    if ask.converted_in is not None:
        us = in_us(dialect)
        took = f"{us(f't{k}')} - {us('t0')}"
        where += f" AND {took} >= {params.add(round(ask.converted_in.from_seconds * US))}"
        if ask.converted_in.to_seconds is not None:
            where += f" AND {took} < {params.add(round(ask.converted_in.to_seconds * US))}"
    moment = moment_of(params, start, moment)
    picked = (
        f"picked AS (SELECT person, {moment} AS moment, {session} AS session "
        f"FROM lined WHERE {where})"
    )
    return Query(
        f"WITH {attempts(spec, params, start, end, sessions=True)}, {picked} "
        + persons_sql(params, ask.limit, ask.offset),
        params.values,
    )


def run_persons(
    ask: FunnelPersonsQuery,
    timezone: str,
    now: datetime,
    engine: Engine,
) -> PersonsResult:
    start, end = span(ask.funnel.date_range, timezone, now)
    spec, line = of_line(ask.funnel, ask.line)
    ask = ask.model_copy(update={"funnel": spec, "line": line})
    return hits(engine.execute(build_persons(ask, start, end, engine.dialect, timezone)))


def of_line(
    spec: FunnelQuery, line: BreakdownLine | None
) -> tuple[FunnelQuery, BreakdownLine | None]:
    """The funnel and line to ask for one line's persons: a cohort's line is the funnel of the
    persons in that cohort (no line: everyone's), with no line to pick."""
    if not spec.breakdown_cohorts:
        return spec, line
    return only_in(spec, cohort_of_line(spec.breakdown_cohorts, line)), None
