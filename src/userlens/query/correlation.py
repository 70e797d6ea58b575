"""Funnel correlation: per event, how many of the persons a funnel counts did it during their
counted attempt, among those who converted and among those who dropped, and what that says
about converting (an odds ratio). The rule is in `model/funnel.py` (`FunnelCorrelationQuery`).

The statement reuses the funnel's attempts (`funnels.attempts`, up to `lined`), then:
`cf` (each counted person: their attempt's start and end in microseconds, and whether they
converted), `ce` (the events in range that may count, with their person) and `cx` (each
person and event name they did inside their attempt, once). It returns one row of totals,
then one row per event name. With person properties, `cv` (each counted person's value of
each property) takes the place of `ce` and `cx`. The persons behind a count end in `picked`:
for an event, each with the first time they did it inside their attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from userlens.model.funnel import (
    Correlated,
    FunnelCorrelationPersonsQuery,
    FunnelCorrelationQuery,
    FunnelCorrelationResult,
    FunnelQuery,
)
from userlens.model.insight import BreakdownLine, PersonsResult
from userlens.query import funnels
from userlens.query.dates import span
from userlens.query.dialect import Dialect, Engine
from userlens.query.filters import Params, all_of, on_line, overrides, person_join, utc
from userlens.query.persons import hits, persons_sql
from userlens.store.sql import Query


def _counted(
    spec: FunnelQuery,
    line: BreakdownLine | None,
    params: Params,
    start: datetime,
    end: datetime,
    sessions: bool = False,
) -> str:
    """The funnel's attempts and `cf`: each counted person of `line`, their attempt's start `s`
    and end `u` in microseconds, whether they converted (and with `sessions`, the session of
    its first step)."""
    last = f"t{len(spec.steps) - 1}"
    where = "true" if line is None else on_line(params, line)
    began = funnels.epoch_us_of(params, start, "t0")
    ended = funnels.epoch_us_of(params, start, last)
    window = params.add(spec.window_seconds * funnels.US)
    counted = (
        f"cf AS (SELECT person, {began} AS s, CASE WHEN {last} IS NOT NULL THEN {ended} "
        f"ELSE {began} + {window} END AS u, {last} IS NOT NULL AS won"
        f"{', s0' if sessions else ''} FROM lined WHERE {where})"
    )
    return f"{funnels.attempts(spec, params, start, end, sessions=sessions)}, {counted}"


def _events(
    spec: FunnelQuery,
    params: Params,
    start: datetime,
    end: datetime,
    left_out: Sequence[str],
    only: str | None = None,
) -> str:
    """`ce`: the events in range that may count, with their person and session (only those
    named `only` when given)."""
    d = params.dialect
    steps = {s.event for s in spec.steps if s.event is not None}
    named = "".join(f" AND e.event <> {params.add(name)}" for name in sorted({*steps, *left_out}))
    if only is not None:
        named += f" AND e.event = {params.add(only)}"
    return (
        "ce AS (SELECT coalesce(o.override_person_id, e.person_id) AS person, e.event AS name, "
        f"{d.epoch_us('e.timestamp')} AS ts, e.session_id AS sid "
        f"FROM {overrides(d)}{person_join(spec.filters)} "
        f"WHERE e.timestamp >= {params.add(utc(start))} AND e.timestamp < {params.add(utc(end))} "
        f"AND {all_of(spec.filters, params)}{named})"
    )


def _values(params: Params, keys: Sequence[str]) -> str:
    """`cv`: each counted person's value (as text) of each of the person properties `keys`,
    when set."""
    each = " UNION ALL ".join(
        f"SELECT cf.person AS person, cf.won AS won, {params.add(key)} AS name, "
        f"{params.prop('p.properties', key)} AS value "
        "FROM cf JOIN {persons} p ON p.id = cf.person"
        for key in keys
    )
    return f"cv AS (SELECT * FROM ({each}) v WHERE value IS NOT NULL)"


# A counted person's event inside their attempt.
INSIDE = "ce JOIN cf ON cf.person = ce.person WHERE ce.ts > cf.s AND ce.ts <= cf.u"
TALLY = "sum(CASE WHEN won THEN 1 ELSE 0 END), sum(CASE WHEN won THEN 0 ELSE 1 END)"


def build(ask: FunnelCorrelationQuery, start: datetime, end: datetime, dialect: Dialect) -> Query:
    """One row of totals (kind 0), then per event name, or person property and value (kind
    1), the converted and dropped persons who did it or have it."""
    params = Params(dialect)
    spec = ask.funnel
    counted = _counted(spec, ask.line, params, start, end)
    if ask.person_properties:
        found = f"{_values(params, ask.person_properties)} "
        per = f"SELECT 1 AS kind, name, value, {TALLY} FROM cv GROUP BY name, value"
    else:
        found = (
            f"{_events(spec, params, start, end, ask.exclude)}, "
            "cx AS (SELECT DISTINCT ce.name AS name, cf.person AS person, cf.won AS won "
            f"FROM {INSIDE}) "
        )
        none = dialect.null_text()
        per = f"SELECT 1 AS kind, name, {none} AS value, {TALLY} FROM cx GROUP BY name"
    return Query(
        f"WITH {counted}, {found}"
        f"SELECT 0 AS kind, {dialect.null_text()} AS name, {dialect.null_text()} AS value, "
        f"{TALLY} FROM cf UNION ALL {per}",
        params.values,
    )


def build_persons(
    ask: FunnelCorrelationPersonsQuery, start: datetime, end: datetime, dialect: Dialect
) -> Query:
    params = Params(dialect)
    d = dialect
    spec = ask.funnel
    won = "cf.won" if ask.converted else "NOT cf.won"
    if ask.property is not None:
        counted = _counted(spec, ask.line, params, start, end, sessions=True)
        picked = (
            f"picked AS (SELECT cf.person AS person, {d.from_epoch_us('cf.s')} AS moment, "
            "cf.s0 AS session FROM cf JOIN {persons} p ON p.id = cf.person "
            f"WHERE {won} AND {params.prop('p.properties', ask.property)} = "
            f"{params.add(ask.value)})"
        )
        return Query(
            f"WITH {counted}, {picked} " + persons_sql(params, ask.limit, ask.offset),
            params.values,
        )
    counted = _counted(spec, ask.line, params, start, end)
    events = _events(spec, params, start, end, left_out=(), only=ask.event)
    # The first time they did it, with the smallest session id of that time: an event with
    # no session sorts after every session id (its flag is true), so it is the answer only
    # when no event of that time has one.
    session = d.pair("ce.sid IS NULL", f"coalesce(ce.sid, {funnels.EMPTY})")
    first = f"min({d.pair('ce.ts', session)})"
    picked = (
        f"picked AS (SELECT cf.person AS person, {d.from_epoch_us(d.first(first))} AS moment, "
        f"CASE WHEN {d.first(d.second(first))} THEN NULL ELSE {d.second(d.second(first))} END "
        f"AS session FROM {INSIDE} AND {won} GROUP BY cf.person)"
    )
    return Query(
        f"WITH {counted}, {events}, {picked} " + persons_sql(params, ask.limit, ask.offset),
        params.values,
    )


def odds_ratio(did: tuple[int, int], totals: tuple[int, int]) -> float:
    """(converted, dropped) who did an event, of (converted, dropped) in all: the odds of
    converting for those who did it over the odds for those who did not, each count plus one."""
    (c, d), (total_c, total_d) = did, totals
    return ((c + 1) / (d + 1)) / ((total_c - c + 1) / (total_d - d + 1))


def parse(ask: FunnelCorrelationQuery, rows: Sequence[Any]) -> FunnelCorrelationResult:
    totals = (0, 0)
    counted: list[tuple[str, str | None, int, int]] = []
    for kind, name, value, converted, dropped in rows:
        if kind == 0:
            totals = (int(converted or 0), int(dropped or 0))
        else:
            counted.append((str(name), value, int(converted), int(dropped)))
    success: list[Correlated] = []
    failure: list[Correlated] = []
    for name, value, converted, dropped in counted:
        # Which way it goes, exactly: the two odds compared as products of whole numbers.
        more = (converted + 1) * (totals[1] - dropped + 1)
        less = (dropped + 1) * (totals[0] - converted + 1)
        if more == less:
            continue
        (success if more > less else failure).append(
            Correlated(
                event=None if ask.person_properties else name,
                property=name if ask.person_properties else None,
                value=value,
                converted=converted,
                dropped=dropped,
                odds_ratio=odds_ratio((converted, dropped), totals),
                direction="success" if more > less else "failure",
            )
        )

    def key(c: Correlated) -> tuple[str, str]:
        return (c.event or c.property or "", c.value or "")

    success.sort(key=lambda c: (-c.odds_ratio, key(c)))
    failure.sort(key=lambda c: (c.odds_ratio, key(c)))
    return FunnelCorrelationResult(
        converted=totals[0],
        dropped=totals[1],
        success=success[: ask.limit],
        failure=failure[: ask.limit],
    )


def run(
    ask: FunnelCorrelationQuery, timezone: str, now: datetime, engine: Engine
) -> FunnelCorrelationResult:
    start, end = span(ask.funnel.date_range, timezone, now)
    spec, line = funnels.of_line(ask.funnel, ask.line)
    ask = ask.model_copy(update={"funnel": spec, "line": line})
    return parse(ask, engine.execute(build(ask, start, end, engine.dialect)))


def run_persons(
    ask: FunnelCorrelationPersonsQuery, timezone: str, now: datetime, engine: Engine
) -> PersonsResult:
    start, end = span(ask.funnel.date_range, timezone, now)
    spec, line = funnels.of_line(ask.funnel, ask.line)
    ask = ask.model_copy(update={"funnel": spec, "line": line})
    return hits(engine.execute(build_persons(ask, start, end, engine.dialect)))
