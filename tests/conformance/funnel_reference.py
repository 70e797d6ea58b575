"""Plain-Python funnels over a list of events, following the counting rule of
`userlens.model.funnel` step by step: what every store's SQL must agree with."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime, timedelta

from tests.conformance.insights_reference import Ev, bucket_of, matches, quantile, text
from userlens.model.funnel import (
    STEP_EDGES,
    FunnelCorrelationPersonsQuery,
    FunnelCorrelationQuery,
    FunnelOrder,
    FunnelPersonsQuery,
    FunnelQuery,
)
from userlens.model.insight import BreakdownLine, PropertyFilter


@dataclasses.dataclass(frozen=True)
class Attempt:
    times: list[datetime]  # of each step reached
    sessions: list[str | None]
    breakdown: str | None

    def order_key(self) -> tuple[object, ...]:
        """Most steps, then earliest, then the smallest breakdown value and session."""
        return (
            -len(self.times),
            self.times[0],
            self.breakdown is None,
            self.breakdown or "",
            self.sessions[0] is None,
            self.sessions[0] or "",
        )


@dataclasses.dataclass
class RefLine:
    counts: list[int]
    gaps: list[list[int]]  # per step after the first: µs from the step before, per person
    totals: list[int]  # µs from the first step to the last, for those who got there
    people: dict[frozenset[str], Attempt]


def _is(event: str | None, filters: list[PropertyFilter], e: Ev) -> bool:
    return (event is None or e.event == event) and all(matches(f, e) for f in filters)


def _first_at(candidates: list[Ev]) -> tuple[datetime, str | None]:
    """The earliest time among candidates, and the smallest session id of those at it."""
    t = min(e.timestamp for e in candidates)
    sessions = sorted(e.session_id for e in candidates if e.timestamp == t and e.session_id)
    return t, (sessions[0] if sessions else None)


def _breakdown(spec: FunnelQuery, e: Ev) -> str | None:
    if spec.breakdown is None:
        return None
    props = e.person_properties if spec.breakdown_type == "person" else e.properties
    return text(props.get(spec.breakdown))


def _ordered(spec: FunnelQuery, mine: list[Ev], start: Ev, window: timedelta) -> Attempt:
    times, sessions = [start.timestamp], [start.session_id]
    for step in spec.steps[1:]:
        after = [e for e in mine if e.timestamp > times[-1]]
        candidates = [e for e in after if _is(step.event, step.filters, e)]
        if not candidates:
            break
        t, session = _first_at(candidates)
        if t > times[0] + window:
            break
        if spec.order is FunnelOrder.STRICT and t != min(e.timestamp for e in after):
            break
        times.append(t)
        sessions.append(session)
    return Attempt(times, sessions, _breakdown(spec, start))


def _unordered(spec: FunnelQuery, mine: list[Ev], start: Ev, window: timedelta) -> Attempt:
    reached = []
    for step in spec.steps:
        candidates = [
            e
            for e in mine
            if start.timestamp <= e.timestamp <= start.timestamp + window
            and _is(step.event, step.filters, e)
        ]
        if candidates:
            t, session = _first_at(candidates)
            reached.append((t, session or ""))
    reached.sort()
    return Attempt(
        [t for t, _ in reached], [s or None for _, s in reached], _breakdown(spec, start)
    )


def _broken(spec: FunnelQuery, mine: list[Ev], a: Attempt, window: timedelta) -> bool:
    for x in spec.exclusions:
        if len(a.times) <= x.from_step:
            continue
        after = a.times[x.from_step]
        for e in mine:
            if not (_is(x.event, x.filters, e) and e.timestamp > after):
                continue
            if len(a.times) > x.to_step:
                if e.timestamp < a.times[x.to_step]:
                    return True
            elif e.timestamp <= a.times[0] + window:
                return True
    return False


def best_attempts(
    events: list[Ev], spec: FunnelQuery, start: datetime, end: datetime
) -> dict[frozenset[str], Attempt]:
    """Each person's counted attempt (persons named by their distinct ids)."""
    window = timedelta(seconds=spec.window_seconds)
    by_person: dict[frozenset[str], list[Ev]] = defaultdict(list)
    for e in events:
        if start <= e.timestamp < end and all(matches(f, e) for f in spec.filters):
            by_person[e.distinct_ids].append(e)
    best = {}
    for person, mine in by_person.items():
        attempts = []
        for e in mine:
            if spec.order is FunnelOrder.UNORDERED:
                if any(_is(s.event, s.filters, e) for s in spec.steps):
                    attempts.append(_unordered(spec, mine, e, window))
            elif _is(spec.steps[0].event, spec.steps[0].filters, e):
                attempts.append(_ordered(spec, mine, e, window))
        kept = [a for a in attempts if not _broken(spec, mine, a, window)]
        if kept:
            best[person] = min(kept, key=Attempt.order_key)
    return best


Key = tuple[bool, str | None]  # is "other", breakdown value


def line_of(spec: FunnelQuery, best: dict[frozenset[str], Attempt]) -> dict[frozenset[str], Key]:
    per_value: dict[str, int] = defaultdict(int)
    for a in best.values():
        if a.breakdown is not None:
            per_value[a.breakdown] += 1
    top = set(sorted(per_value, key=lambda v: (-per_value[v], v))[: spec.breakdown_limit])
    return {
        person: (False, a.breakdown) if a.breakdown is None or a.breakdown in top else (True, None)
        for person, a in best.items()
    }


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def funnel(
    events: list[Ev], spec: FunnelQuery, start: datetime, end: datetime
) -> dict[Key, RefLine]:
    best = best_attempts(events, spec, start, end)
    n = len(spec.steps)
    lines: dict[Key, RefLine] = {}
    for person, key in line_of(spec, best).items():
        line = lines.setdefault(key, RefLine([0] * n, [[] for _ in range(n - 1)], [], {}))
        a = best[person]
        line.people[person] = a
        for i, t in enumerate(a.times):
            line.counts[i] += 1
            if i:
                line.gaps[i - 1].append(_us(t - a.times[i - 1]))
        if len(a.times) == n:
            line.totals.append(_us(a.times[-1] - a.times[0]))
    return lines


def median(values: list[int]) -> float | None:
    return quantile([float(v) for v in values], 0.5) if values else None


def histogram(totals: list[int], bins: int) -> list[tuple[int, int, int]]:
    """(start µs, end µs, persons) of equal bins from the smallest total to the largest."""
    if not totals:
        return []
    lo, hi = min(totals), max(totals)
    width = (hi - lo) // bins + 1
    counts: dict[int, int] = defaultdict(int)
    for t in totals:
        counts[(t - lo) // width] += 1
    return [(lo + b * width, lo + (b + 1) * width, counts[b]) for b in range(max(counts) + 1)]


def step_histogram(totals: list[int], spec: FunnelQuery) -> list[tuple[int, int, int]]:
    """(start µs, end µs, persons) of the bins between readable times, from the first bin
    holding a total to the last."""
    if not totals:
        return []
    edges = [0, *(e * 1_000_000 for e in STEP_EDGES if e < spec.window_seconds)]
    edges.append(spec.window_seconds * 1_000_000)
    counts: dict[int, int] = defaultdict(int)
    for t in totals:
        counts[max(b for b in range(len(edges) - 1) if edges[b] <= t)] += 1
    return [(edges[b], edges[b + 1], counts[b]) for b in range(min(counts), max(counts) + 1)]


def periods(spec: FunnelQuery, line: RefLine, tz: str) -> dict[datetime, list[int]]:
    """Per local period (`over_time`) of the counted attempts' starts, the persons at each
    step; only periods someone started in."""
    assert spec.over_time is not None
    out: dict[datetime, list[int]] = {}
    for a in line.people.values():
        counts = out.setdefault(bucket_of(a.times[0], spec.over_time, tz), [0] * len(spec.steps))
        for i in range(len(a.times)):
            counts[i] += 1
    return out


def persons(
    events: list[Ev], ask: FunnelPersonsQuery, start: datetime, end: datetime, tz: str = "UTC"
) -> set[tuple[frozenset[str], datetime, str | None]]:
    """(person, moment, session) of everyone the drill-down should list."""
    spec, k = ask.funnel, ask.step
    best = best_attempts(events, spec, start, end)
    lines = line_of(spec, best)
    out = set()
    for person, a in best.items():
        if ask.line is not None and lines[person] != (ask.line.is_other, ask.line.value):
            continue
        if ask.period is not None:
            assert spec.over_time is not None
            if bucket_of(a.times[0], spec.over_time, tz) != ask.period:
                continue
        if ask.converted_in is not None:
            took = _us(a.times[-1] - a.times[0])
            since, until = ask.converted_in.from_seconds, ask.converted_in.to_seconds
            if len(a.times) < len(spec.steps) or took < round(since * 1e6):
                continue
            if until is not None and took >= round(until * 1e6):
                continue
        if ask.status == "converted" and len(a.times) > k:
            out.add((person, a.times[k], a.sessions[k]))
        if ask.status == "dropped" and len(a.times) == k:
            out.add((person, a.times[k - 1], a.sessions[k - 1]))
        if ask.status == "not_converted" and len(a.times) < len(spec.steps):
            out.add((person, a.times[-1], a.sessions[-1]))
    return out


def _inside(
    events: list[Ev],
    spec: FunnelQuery,
    line: BreakdownLine | None,
    start: datetime,
    end: datetime,
    left_out: set[str],
) -> list[tuple[frozenset[str], Attempt, bool, list[Ev]]]:
    """Per counted person of `line`: their attempt, whether they converted, and the events
    they did inside it (after its start, up to its last step or its window's end) that may
    count."""
    best = best_attempts(events, spec, start, end)
    lines = line_of(spec, best)
    window = timedelta(seconds=spec.window_seconds)
    left_out = left_out | {s.event for s in spec.steps if s.event is not None}
    mine: dict[frozenset[str], list[Ev]] = defaultdict(list)
    for e in events:
        if start <= e.timestamp < end and all(matches(f, e) for f in spec.filters):
            mine[e.distinct_ids].append(e)
    out = []
    for person, a in best.items():
        if line is not None and lines[person] != (line.is_other, line.value):
            continue
        converted = len(a.times) == len(spec.steps)
        until = a.times[-1] if converted else a.times[0] + window
        did = [
            e for e in mine[person] if a.times[0] < e.timestamp <= until and e.event not in left_out
        ]
        out.append((person, a, converted, did))
    return out


def _person_properties(events: list[Ev]) -> dict[frozenset[str], dict[str, object]]:
    return {e.distinct_ids: e.person_properties for e in events}


Item = tuple[str, str | None]  # an event name, or a person property and its value


def correlation(
    events: list[Ev], ask: FunnelCorrelationQuery, start: datetime, end: datetime
) -> tuple[tuple[int, int], dict[Item, tuple[int, int]]]:
    """(converted, dropped) of the counted persons (of the asked line), and per event they did
    during their counted attempt (or person property value they have) the (converted,
    dropped) persons."""
    totals = [0, 0]
    found: dict[Item, list[int]] = defaultdict(lambda: [0, 0])
    properties = _person_properties(events)
    for person, _, converted, inside in _inside(
        events, ask.funnel, ask.line, start, end, set(ask.exclude)
    ):
        side = 0 if converted else 1
        totals[side] += 1
        items: set[Item] = set()
        if ask.person_properties:
            for key in ask.person_properties:
                value = text(properties[person].get(key))
                if value is not None:
                    items.add((key, value))
        else:
            items = {(e.event, None) for e in inside}
        for item in items:
            found[item][side] += 1
    return (totals[0], totals[1]), {item: (c, d) for item, (c, d) in found.items()}


def correlation_persons(
    events: list[Ev], ask: FunnelCorrelationPersonsQuery, start: datetime, end: datetime
) -> set[tuple[frozenset[str], datetime, str | None]]:
    """(person, moment, session) of those who did the event during their attempt (its first
    time there), or have the person property's value (their attempt's start), and who
    converted (or dropped, as asked)."""
    out = set()
    properties = _person_properties(events)
    for person, a, converted, inside in _inside(events, ask.funnel, ask.line, start, end, set()):
        if converted != ask.converted:
            continue
        if ask.property is not None:
            if text(properties[person].get(ask.property)) == ask.value:
                out.add((person, a.times[0], a.sessions[0]))
            continue
        times = [e for e in inside if e.event == ask.event]
        if times:
            out.add((person, *_first_at(times)))
    return out
