"""What a project's data holds, for pickers and autocomplete: event names, property names
and a property's common values, each with how often it was seen among recent events; and the
persons a search or a cohort finds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from userlens.model.event import EventCursor, EventFilter, EventPage
from userlens.model.filters import CohortFilter, Filter
from userlens.query.dialect import Engine
from userlens.query.filters import (
    PERSON,
    Params,
    all_of,
    in_cohort,
    overrides,
    person_join,
    utc,
)
from userlens.query.run import engine_of
from userlens.store.events import EventStore
from userlens.store.sql import Query

SAMPLE = 100_000  # the most recent events looked at
SINCE = timedelta(days=30)


class Seen(BaseModel):
    name: str
    count: int


def _recent(params: Params, now: datetime, event: str | None) -> str:
    """The latest events of the last 30 days (of one name, if given), with their persons."""
    name = "" if event is None else f"AND e.event = {params.add(event)} "
    return (
        "(SELECT e.event AS event, e.properties AS properties, p.properties AS person_properties "
        f"FROM {overrides(params.dialect)} "
        "LEFT JOIN {persons} p ON p.id = coalesce(o.override_person_id, e.person_id) "
        f"WHERE e.timestamp >= {params.add(utc(now - SINCE))} {name}"
        f"ORDER BY e.timestamp DESC LIMIT {params.add(SAMPLE)})"
    )


def _seen(engine: Engine, query: Query) -> list[Seen]:
    return [Seen(name=str(n), count=int(c)) for n, c in engine.execute(query) if n is not None]


def event_names(engine: Engine, now: datetime, limit: int = 200) -> list[Seen]:
    params = Params(engine.dialect)
    sql = (
        f"SELECT event, count(*) AS n FROM {_recent(params, now, None)} r "
        f"GROUP BY event ORDER BY n DESC, event LIMIT {params.add(limit)}"
    )
    return _seen(engine, Query(sql, params.values))


def property_names(
    engine: Engine,
    now: datetime,
    kind: Literal["event", "person"],
    event: str | None = None,
    limit: int = 300,
) -> list[Seen]:
    params = Params(engine.dialect)
    column = "r.properties" if kind == "event" else "r.person_properties"
    sql = (
        f"SELECT k, count(*) AS n FROM (SELECT {engine.dialect.each_key(column)} AS k "
        f"FROM {_recent(params, now, event)} r WHERE {column} IS NOT NULL) x "
        f"GROUP BY k ORDER BY n DESC, k LIMIT {params.add(limit)}"
    )
    return _seen(engine, Query(sql, params.values))


def property_values(
    engine: Engine,
    now: datetime,
    kind: Literal["event", "person"],
    key: str,
    limit: int = 50,
) -> list[Seen]:
    params = Params(engine.dialect)
    column = "r.properties" if kind == "event" else "r.person_properties"
    text = params.prop(column, key)
    sql = (
        f"SELECT v, count(*) AS n FROM (SELECT {text} AS v FROM {_recent(params, now, None)} r) x "
        f"WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT {params.add(limit)}"
    )
    return _seen(engine, Query(sql, params.values))


__all__ = [
    "CohortMembers",
    "PersonRow",
    "Seen",
    "cohort_members",
    "cohort_person_ids",
    "event_names",
    "property_names",
    "property_values",
    "search_persons",
]


class PersonRow(BaseModel):
    id: str
    distinct_ids: list[str]
    properties: str
    created_at: datetime


def _newest_first(params: Params, limit: int, offset: int = 0) -> str:
    """Persons newest first, then by id (the first column) so that pages follow one another."""
    return f"ORDER BY p.created_at DESC, 1 LIMIT {params.add(limit)} OFFSET {params.add(offset)}"


def search_persons(engine: Engine, text: str, limit: int = 50, offset: int = 0) -> list[PersonRow]:
    """Persons whose distinct id or properties contain `text` (any case), newest first (then
    by id, so that pages follow one another); all persons when `text` is empty. `offset`
    skips that many."""
    params = Params(engine.dialect)
    d = engine.dialect
    q = params.add(text.strip())
    sql = (
        f"SELECT CAST(p.id AS VARCHAR), {d.sorted_list('d.distinct_id')}, "
        "CAST(p.properties AS VARCHAR), p.created_at "
        "FROM {persons} p JOIN {person_distinct_ids} d ON d.person_id = p.id "
        "GROUP BY p.id, p.properties, p.created_at "
        f"HAVING max(CASE WHEN {d.contains('d.distinct_id', q)} THEN 1 ELSE 0 END) = 1 "
        f"OR {d.contains('CAST(p.properties AS VARCHAR)', q)} "
        f"{_newest_first(params, limit, offset)}"
    )
    return [
        PersonRow(id=str(i), distinct_ids=list(ids), properties=str(props), created_at=at)
        for i, ids, props, at in engine.execute(Query(sql, params.values))
    ]


def person_names(engine: Engine, person_ids: Sequence[str]) -> dict[str, str]:
    """The name each of `person_ids` goes by: their `email` property, else their `name`
    (trimmed, empty counting as unset); persons with neither, or unknown, are left out."""
    if not person_ids:
        return {}
    params = Params(engine.dialect)
    d = engine.dialect
    ids = params.add(sorted(set(person_ids)))
    email, name = params.prop("p.properties", "email"), params.prop("p.properties", "name")
    sql = (
        "SELECT CAST(p.id AS VARCHAR), "
        f"coalesce(nullif(trim({email}), ''), nullif(trim({name}), '')) "
        f"FROM {{persons}} p WHERE {d.in_list('CAST(p.id AS VARCHAR)', ids)}"
    )
    return {str(i): str(n) for i, n in engine.execute(Query(sql, params.values)) if n is not None}


class CohortMembers(BaseModel):
    """How many persons a cohort holds now, and the newest of them."""

    count: int
    persons: list[PersonRow]


def cohort_members(engine: Engine, cohort: CohortFilter, limit: int = 100) -> CohortMembers:
    """The persons in `cohort` (its definition given, its rules' starts set), newest first;
    `negate` is not read."""
    params = Params(engine.dialect)
    d = engine.dialect
    inside = in_cohort(cohort, params, "p.id")
    sql = (
        f"SELECT CAST(p.id AS VARCHAR), {d.sorted_list('d.distinct_id')}, "
        "CAST(p.properties AS VARCHAR), p.created_at, count(*) OVER () "
        "FROM {persons} p JOIN {person_distinct_ids} d ON d.person_id = p.id "
        f"WHERE {inside} GROUP BY p.id, p.properties, p.created_at "
        f"{_newest_first(params, limit)}"
    )
    rows = engine.execute(Query(sql, params.values))
    return CohortMembers(
        count=int(rows[0][4]) if rows else 0,
        persons=[
            PersonRow(id=str(i), distinct_ids=list(ids), properties=str(props), created_at=at)
            for i, ids, props, at, _ in rows
        ],
    )


def cohort_person_ids(engine: Engine, cohort: CohortFilter) -> list[str]:
    """The ids of every person in `cohort` now (its definition given, its rules' starts set)."""
    params = Params(engine.dialect)
    inside = in_cohort(cohort, params, "p.id")
    sql = f"SELECT CAST(p.id AS VARCHAR) FROM {{persons}} p WHERE {inside}"
    return [str(r[0]) for r in engine.execute(Query(sql, params.values))]


def events_page(
    store: EventStore,
    project_id: int,
    found: EventFilter,
    filters: Sequence[Filter],
    *,
    limit: int,
    cursor: EventCursor | None = None,
) -> EventPage:
    """A page of the events that pass `found` and every filter (a property of the event or of
    its person as they are now, a cohort with its definition in, a group), newest first and
    then by uuid as `EventStore.events` lists them: the engine picks the page's events, the
    store reads them."""
    engine = engine_of(store, project_id)
    params = Params(engine.dialect)
    where = [all_of(filters, params)]
    for column, value in (
        ("e.event", found.event),
        ("e.distinct_id", found.distinct_id),
        ("e.session_id", found.session_id),
    ):
        if value is not None:
            where.append(f"{column} = {params.add(value)}")
    if found.person_id is not None:
        where.append(f"CAST({PERSON} AS VARCHAR) = {params.add(found.person_id)}")
    if found.after is not None:
        where.append(f"e.timestamp >= {params.add(utc(found.after))}")
    if found.before is not None:
        where.append(f"e.timestamp < {params.add(utc(found.before))}")
    if cursor is not None:
        at = params.add(utc(cursor.timestamp))
        where.append(
            f"(e.timestamp < {at} OR (e.timestamp = {at} "
            f"AND CAST(e.uuid AS VARCHAR) < {params.add(cursor.uuid)}))"
        )
    sql = (
        f"SELECT CAST(e.uuid AS VARCHAR) AS u FROM {overrides(engine.dialect)}"
        f"{person_join(filters)} WHERE {' AND '.join(where)} "
        f"ORDER BY e.timestamp DESC, u DESC LIMIT {params.add(limit + 1)}"
    )
    uuids = [str(u) for (u,) in engine.execute(Query(sql, params.values))]
    if not uuids:
        return EventPage(events=(), next_cursor=None)
    picked = store.events(project_id, EventFilter(uuids=tuple(uuids[:limit])), limit=limit).events
    more = len(uuids) > limit and picked
    return EventPage(
        events=picked,
        next_cursor=EventCursor(picked[-1].timestamp, picked[-1].uuid) if more else None,
    )
