"""The persons behind a number: a page of them, with their distinct ids and properties.

A drill-down query ends in a CTE `picked(person, moment, session)`, one row per person;
`persons_sql` pages through it (latest moment first) and counts it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from userlens.model.insight import PersonHit, PersonsResult
from userlens.query.filters import Params


def persons_sql(params: Params, limit: int, offset: int) -> str:
    return (
        "SELECT CAST(k.person AS VARCHAR), "
        f"(SELECT {params.dialect.sorted_list('d.distinct_id')} FROM {{person_distinct_ids}} d "
        "WHERE d.person_id = k.person), CAST(p.properties AS VARCHAR), k.moment, k.session, "
        "(SELECT count(*) FROM picked) "
        "FROM picked k LEFT JOIN {persons} p ON p.id = k.person "
        f"ORDER BY k.moment DESC NULLS LAST, k.person "
        f"LIMIT {params.add(limit)} OFFSET {params.add(offset)}"
    )


def hits(rows: Sequence[Any]) -> PersonsResult:
    persons = [
        PersonHit(
            person_id=str(person),
            distinct_ids=list(distinct_ids or []),
            properties=json.loads(properties) if properties else {},
            timestamp=None if moment is None else moment.replace(tzinfo=UTC),
            session_id=session,
        )
        for person, distinct_ids, properties, moment, session, _ in rows
    ]
    return PersonsResult(persons=persons, total=int(rows[0][5]) if rows else 0)
