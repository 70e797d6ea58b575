"""Plain-Python retention, lifecycle and stickiness over a list of events, following the rules
of `userlens.model.retention` and `userlens.model.activity`: what every store must agree
with. Persons are named by their distinct ids; a person's moment is (time, session)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.conformance.insights_reference import Ev, bucket_of, matches, text
from userlens.model.activity import LifecycleStatus
from userlens.model.insight import EventRef, Interval, PropertyFilter
from userlens.model.retention import RetentionQuery, RetentionType

Person = frozenset[str]
Moment = tuple[datetime, str | None]


def _is(ref: EventRef, filters: list[PropertyFilter], e: Ev) -> bool:
    return (
        (ref.event is None or e.event == ref.event)
        and all(matches(f, e) for f in ref.filters)
        and all(matches(f, e) for f in filters)
    )


def first(events: list[Ev]) -> Moment:
    t = min(e.timestamp for e in events)
    sessions = sorted(e.session_id for e in events if e.timestamp == t and e.session_id)
    return t, (sessions[0] if sessions else None)


def last(events: list[Ev]) -> Moment:
    t = max(e.timestamp for e in events)
    sessions = sorted(e.session_id for e in events if e.timestamp == t and e.session_id)
    return t, (sessions[0] if sessions else None)


def _cohorts(
    spec: RetentionQuery,
    starts: dict[Person, list[Ev]],
    start: datetime,
    period: Callable[[Ev], datetime],
) -> dict[datetime, dict[Person, list[Ev]]]:
    """Cohort period -> its persons, with their start events in that period."""
    cohorts: dict[datetime, dict[Person, list[Ev]]] = defaultdict(dict)
    for person, mine in starts.items():
        if spec.type is RetentionType.FIRST_TIME:
            earliest = min(mine, key=lambda e: e.timestamp)
            if earliest.timestamp >= start:
                p = period(earliest)
                cohorts[p][person] = [e for e in mine if period(e) == p]
        else:
            for e in mine:
                if e.timestamp >= start:
                    cohorts[period(e)].setdefault(person, []).append(e)
    return cohorts


def retention(
    events: list[Ev],
    spec: RetentionQuery,
    tz: str,
    buckets: list[datetime],
    start: datetime,
    end: datetime,
) -> list[list[dict[Person, Moment]]]:
    """cells[c][k]: the persons of cohort c back in period k (k = 0: the cohort), each with
    the moment of their first start (k = 0) or return event in that period."""

    def period(e: Ev) -> datetime:
        return bucket_of(e.timestamp, spec.period, tz)

    starts: dict[Person, list[Ev]] = defaultdict(list)
    backs: dict[Person, list[Ev]] = defaultdict(list)
    for e in events:
        if e.timestamp >= end:
            continue
        if _is(spec.start, spec.filters, e):
            starts[e.distinct_ids].append(e)
        if _is(spec.return_event, spec.filters, e) and e.timestamp >= start:
            backs[e.distinct_ids].append(e)
    cohorts = _cohorts(spec, starts, start, period)
    cells = []
    for c, b in enumerate(buckets):
        row = [{person: first(evs) for person, evs in cohorts[b].items()}]
        for later in buckets[c + 1 :]:
            row.append(
                {
                    person: first([e for e in backs[person] if period(e) == later])
                    for person in cohorts[b]
                    if any(period(e) == later for e in backs[person])
                }
            )
        cells.append(row)
    return cells


Line = tuple[bool, str | None]  # is "other", breakdown value


def retention_lines(
    events: list[Ev], spec: RetentionQuery, cells: list[list[dict[Person, Moment]]]
) -> dict[Line, list[list[dict[Person, Moment]]]]:
    """The cells of `retention` split by the line of each person in each cohort: the value of
    the person property `spec.breakdown` they hold now, or (`breakdown_type: "event"`) the
    value of their first start event in the cohort's period (at one moment, the smallest; none
    when none has one), for the `breakdown_limit` values with the most persons in any cohort
    (ties by value); "Other" for the rest; "(none)" when unset."""
    key = spec.breakdown
    assert key is not None
    holds = {e.distinct_ids: text(e.person_properties.get(key)) for e in events}
    # (cohort, person) -> the value that puts them in a line.
    values: dict[tuple[int, Person], str | None] = {}
    for c, row in enumerate(cells):
        for person, (moment, _) in row[0].items():
            if spec.breakdown_type == "person":
                values[c, person] = holds[person]
                continue
            found = [
                value
                for e in events
                if e.distinct_ids == person
                and e.timestamp == moment
                and _is(spec.start, spec.filters, e)
                and (value := text(e.properties.get(key))) is not None
            ]
            values[c, person] = min(found) if found else None
    per_value: dict[str, set[Person]] = defaultdict(set)
    for (_, person), value in values.items():
        if value is not None:
            per_value[value].add(person)
    ranked = sorted(per_value, key=lambda v: (-len(per_value[v]), v))
    top = set(ranked[: spec.breakdown_limit])

    def line(c: int, person: Person) -> Line:
        value = values[c, person]
        return (False, value) if value is None or value in top else (True, None)

    out: dict[Line, list[list[dict[Person, Moment]]]] = {}
    for want in {line(c, person) for c, person in values}:
        out[want] = [
            [{p: m for p, m in cell.items() if line(c, p) == want} for cell in row]
            for c, row in enumerate(cells)
        ]
    return out


def _before(bucket: datetime, interval: Interval, tz: str) -> datetime:
    moment = bucket.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return bucket_of(moment - timedelta(microseconds=1), interval, tz)


def lifecycle(
    events: list[Ev],
    ref: EventRef,
    filters: list[PropertyFilter],
    interval: Interval,
    tz: str,
    buckets: list[datetime],
    end: datetime,
) -> list[dict[LifecycleStatus, dict[Person, Moment]]]:
    """Per bucket and status: its persons, with their first event in the bucket (dormant
    ones: their last in the bucket before)."""
    active: dict[Person, dict[datetime, list[Ev]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        if e.timestamp < end and _is(ref, filters, e):
            active[e.distinct_ids][bucket_of(e.timestamp, interval, tz)].append(e)
    out = []
    for i, b in enumerate(buckets):
        pb = buckets[i - 1] if i else _before(b, interval, tz)
        statuses: dict[LifecycleStatus, dict[Person, Moment]] = {s: {} for s in LifecycleStatus}
        for person, per_bucket in active.items():
            if b in per_bucket:
                if min(per_bucket) == b:
                    status = LifecycleStatus.NEW
                elif pb in per_bucket:
                    status = LifecycleStatus.RETURNING
                else:
                    status = LifecycleStatus.RESURRECTING
                statuses[status][person] = first(per_bucket[b])
            elif pb in per_bucket:
                statuses[LifecycleStatus.DORMANT][person] = last(per_bucket[pb])
        out.append(statuses)
    return out


def stickiness(
    events: list[Ev],
    ref: EventRef,
    filters: list[PropertyFilter],
    interval: Interval,
    tz: str,
    start: datetime,
    end: datetime,
) -> dict[int, dict[Person, Moment]]:
    """Intervals active -> the persons active in exactly that many, with their last event."""
    mine: dict[Person, list[Ev]] = defaultdict(list)
    for e in events:
        if start <= e.timestamp < end and _is(ref, filters, e):
            mine[e.distinct_ids].append(e)
    out: dict[int, dict[Person, Moment]] = defaultdict(dict)
    for person, evs in mine.items():
        n = len({bucket_of(e.timestamp, interval, tz) for e in evs})
        out[n][person] = last(evs)
    return out
