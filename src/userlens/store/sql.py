"""The one place where insight SQL is scoped to a project.

Builders write `{events}` and `{person_overrides}` where they read those tables; `scope` turns
each into a subquery filtered on the project, bound as a parameter. SQL that names a table
directly is refused, so no builder can forget the tenant filter.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

SCOPED_TABLES = ("events", "person_overrides", "persons", "person_distinct_ids")
_BARE_TABLE = re.compile(r"\b(FROM|JOIN)\s+(" + "|".join(SCOPED_TABLES) + r")\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """SQL with `$name` parameters, not yet scoped to a project."""

    sql: str
    params: dict[str, Any]


def scope(query: Query, project_id: int, sources: Mapping[str, str] | None = None) -> Query:
    """`query` reading one project's rows. `sources` gives a store's own subquery per table
    (filtered on `$project_id`); by default, the table's rows of the project."""
    if _BARE_TABLE.search(query.sql):
        raise ValueError("insight SQL must read tables through {placeholders}, not by name")
    if "project_id" in query.params:
        raise ValueError("'project_id' is bound by scope() alone")
    sql = query.sql
    for table in SCOPED_TABLES:
        source = (
            sources[table]
            if sources is not None
            else f"(SELECT * FROM {table} WHERE project_id = $project_id)"
        )
        if "$project_id" not in source:
            raise ValueError(f"the source of {table} must filter on $project_id")
        sql = sql.replace("{" + table + "}", source)
    return Query(sql, {**query.params, "project_id": project_id})
