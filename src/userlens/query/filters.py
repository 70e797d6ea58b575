"""Property filters as SQL conditions, every name and value a bound parameter.

Semantics, the same on every backend and in the reference implementation:
- person filters read the person's properties as they are now (after every `$set`), not as
  they were when the event happened;
- a property's value is compared in its JSON text form (`"5"` and `5` both read as `5`);
- `exact`, `in`, `contains`, `regex` need the property to be set; `is_not` and `not_contains`
  also hold when it is not set;
- `contains` / `not_contains` ignore case; `gt` / `lt` compare numbers, and hold only for
  values that read as a number.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from userlens.model.insight import Operator, PropertyFilter, Scalar


def as_text(value: Scalar) -> str:
    """A filter value in the text form the store gives property values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


@dataclasses.dataclass
class Params:
    """Allocates parameter names for one query."""

    values: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return "$" + name


# Where each kind of property lives in the queries: the event's JSON, and the JSON of its
# person (joined as `p` by queries that filter on person properties).
COLUMNS = {"event": "e.properties", "person": "p.properties"}


def condition(f: PropertyFilter, params: Params) -> str:
    """The DuckDB condition of one filter."""
    text = f"json_extract_string({COLUMNS[f.type]}, {params.add(json_pointer(f.key))})"
    op, value = f.operator, f.value
    if op is Operator.IS_SET:
        return f"({text} IS NOT NULL)"
    if op is Operator.IS_NOT_SET:
        return f"({text} IS NULL)"
    if op is Operator.IN:
        assert isinstance(value, list)
        return f"list_contains({params.add([as_text(v) for v in value])}, {text})"
    assert value is not None
    assert not isinstance(value, list)
    if op is Operator.EXACT:
        return f"({text} = {params.add(as_text(value))})"
    if op is Operator.IS_NOT:
        return f"({text} IS DISTINCT FROM {params.add(as_text(value))})"
    if op is Operator.CONTAINS:
        return f"coalesce(contains(lower({text}), lower({params.add(as_text(value))})), false)"
    if op is Operator.NOT_CONTAINS:
        return f"NOT coalesce(contains(lower({text}), lower({params.add(as_text(value))})), false)"
    if op is Operator.REGEX:
        return f"coalesce(regexp_matches({text}, {params.add(as_text(value))}), false)"
    number = f"TRY_CAST({text} AS DOUBLE)"
    if op is Operator.GT:
        return f"coalesce({number} > {params.add(float(value))}, false)"
    return f"coalesce({number} < {params.add(float(value))}, false)"


def all_of(filters: list[PropertyFilter], params: Params) -> str:
    return " AND ".join(condition(f, params) for f in filters) or "true"


def person_join(filters: list[PropertyFilter], *, needed: bool = False) -> str:
    """The join that gives person filters their `p`, when any filter (or the caller) needs it."""
    if not needed and not any(f.type == "person" for f in filters):
        return ""
    return " LEFT JOIN {persons} p ON p.id = coalesce(o.override_person_id, e.person_id)"
