"""Filters as SQL conditions, every name and value a bound parameter, and the SQL pieces
every insight shares (the person after merges, local buckets, first and last moments).

Semantics, the same on every backend and in the reference implementation:
- person filters read the person's properties as they are now (after every `$set`), not as
  they were when the event happened;
- a property's value is compared in its JSON text form (`"5"` and `5` both read as `5`);
- `exact`, `in`, `contains`, `regex` need the property to be set; `is_not` and `not_contains`
  also hold when it is not set;
- `contains` / `not_contains` ignore case; `gt` / `lt` compare numbers, and hold only for
  values that read as a number;
- a group holds when all (or any) of its filters do; a cohort filter when the event's person
  (after merges) is in the cohort: one of its distinct ids is in a static list, or its rules
  hold — `did_event` counts the person's events of that name since the rule's start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, Self, TypeVar

from userlens.errors import InvalidInput
from userlens.model.filters import (
    CohortFilter,
    Filter,
    FilterGroup,
    HasProperty,
    Operator,
    PropertyFilter,
    Scalar,
    flatten,
)
from userlens.model.insight import BreakdownLine, Interval
from userlens.query.dates import MASK_BITS, Window, fixed_length, utc_offsets
from userlens.query.dialect import Dialect


def as_text(value: Scalar) -> str:
    """A filter value in the text form the store gives property values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclasses.dataclass
class Params:
    """Allocates parameter names for one query, and knows the engine's `dialect`."""

    dialect: Dialect
    values: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return "$" + name

    def prop(self, column: str, key: str) -> str:
        """The JSON text of property `key` of the JSON in `column` (NULL when unset)."""
        return self.dialect.json_text(column, self.add(self.dialect.json_key(key)))


# Where each kind of property lives in the queries: the event's JSON, and the JSON of its
# person (joined as `p` by queries that filter on person properties).
COLUMNS = {"event": "e.properties", "person": "p.properties"}


def condition(f: Filter, params: Params) -> str:
    """The SQL condition of one filter (a group, a cohort, or a property)."""
    if isinstance(f, FilterGroup):
        joiner = " AND " if f.match == "all" else " OR "
        return "(" + joiner.join(condition(g, params) for g in f.filters) + ")"
    if isinstance(f, CohortFilter):
        inside = in_cohort(f, params)
        return f"(NOT {inside})" if f.negate else inside
    return _property(f, params)


def in_cohort(f: CohortFilter, params: Params, person: str | None = None) -> str:
    """Whether `person` (by default, the event's person after merges) is in the cohort; its
    property rules read the person's properties as `p.properties`."""
    person = person or PERSON
    if f.definition is None:
        raise InvalidInput(f"filters: there is no cohort {f.cohort_id} in this project")
    if f.definition.distinct_ids is not None:
        return (
            f"({person} IN (SELECT d.person_id FROM {{person_distinct_ids}} d "
            "WHERE "
            f"{params.dialect.in_list('d.distinct_id', params.add(f.definition.distinct_ids))}))"
        )
    rules = []
    for rule in f.definition.rules:
        if isinstance(rule, HasProperty):
            rules.append(_property(rule.filter, params))
            continue
        if rule.since is None:
            raise InvalidInput("filters: a cohort's did_event rule was not given its start")
        rules.append(
            f"({person} IN (SELECT coalesce(co.override_person_id, ce.person_id) "
            f"FROM {{events}} ce {params.dialect.left_join_unique} {{person_overrides}} co "
            f"ON co.old_person_id = ce.person_id WHERE ce.event = {params.add(rule.event)} "
            f"AND ce.timestamp >= {params.add(utc(rule.since))} GROUP BY 1 "
            f"HAVING count(*) >= {params.add(rule.min_count)}))"
        )
    return "(" + (" AND " if f.definition.match == "all" else " OR ").join(rules) + ")"


def _property(f: PropertyFilter, params: Params) -> str:
    """True or false, never NULL: a filter under NOT (a negated cohort) must stay exact."""
    d = params.dialect
    text = params.prop(COLUMNS[f.type], f.key)
    op, value = f.operator, f.value
    if op is Operator.IS_SET:
        return f"({text} IS NOT NULL)"
    if op is Operator.IS_NOT_SET:
        return f"({text} IS NULL)"
    if op is Operator.IN:
        assert isinstance(value, list)
        return d.in_list(text, params.add([as_text(v) for v in value]))
    assert value is not None
    assert not isinstance(value, list)
    if op is Operator.EXACT:
        return f"coalesce({text} = {params.add(as_text(value))}, false)"
    if op is Operator.IS_NOT:
        return f"({text} IS DISTINCT FROM {params.add(as_text(value))})"
    if op is Operator.CONTAINS:
        return d.contains(text, params.add(as_text(value)))
    if op is Operator.NOT_CONTAINS:
        return f"NOT {d.contains(text, params.add(as_text(value)))}"
    if op is Operator.REGEX:
        return d.regex(text, params.add(as_text(value)))
    number = d.to_number(text)
    if op is Operator.GT:
        return f"coalesce({number} > {params.add(float(value))}, false)"
    return f"coalesce({number} < {params.add(float(value))}, false)"


def all_of(filters: Sequence[Filter], params: Params) -> str:
    return " AND ".join(condition(f, params) for f in filters) or "true"


def person_join(filters: Sequence[Filter], *, needed: bool = False) -> str:
    """The join that gives person filters their `p`, when any filter (or the caller) needs it."""
    if not needed and not any(f.type == "person" for f in flatten(filters)):
        return ""
    return " LEFT JOIN {persons} p ON p.id = coalesce(o.override_person_id, e.person_id)"


def matches(event: str | None, filters: Sequence[Filter], params: Params) -> str:
    """An event of this name (any name when None) that passes every filter."""
    name = "true" if event is None else f"e.event = {params.add(event)}"
    return f"({name} AND {all_of(filters, params)})"


def utc(moment: datetime) -> datetime:
    """An aware moment as the store's naive UTC timestamp."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def local_time(
    params: Params, offsets: Sequence[tuple[datetime, int]], moment: str = "e.timestamp"
) -> str:
    """An event's local wall-clock time (or that of another UTC `moment`): its UTC timestamp
    plus the offset in effect then. The offsets come from `dates.utc_offsets` (cheap
    arithmetic, where converting each row with the time-zone database is not); the first also
    holds before its start."""
    shifts = [
        f"WHEN {moment} < {params.add(utc(change))} THEN {params.add(before)}"
        for (change, _), (_, before) in zip(offsets[1:], offsets, strict=False)
    ]
    last = params.add(offsets[-1][1])
    seconds = f"CASE {' '.join(shifts)} ELSE {last} END" if shifts else last
    return f"({moment} + {params.dialect.interval('second', seconds)})"


def local_bucket(
    params: Params,
    part: str,
    offsets: Sequence[tuple[datetime, int]],
    moment: str = "e.timestamp",
) -> str:
    """The start of an event's local bucket, or that of `moment` (`part` a bound parameter)."""
    return params.dialect.trunc(part, local_time(params, offsets, moment))


def mask_plan(
    d: Dialect,
    buckets: list[datetime],
    interval: Interval,
    timezone: str,
    start: datetime,
    end: datetime,
    *,
    top: int,
) -> tuple[int, int] | None:
    """Whether a bit-mask plan applies to `buckets` (consecutive local bucket starts) over
    [start, end), as (the buckets' length, the zone's UTC offset), in seconds; None when the
    engine has no bit masks, the plan's highest bit `top` is past `MASK_BITS`, or the buckets
    vary in length (`dates.fixed_length`)."""
    if not d.bit_masks or top > MASK_BITS:
        return None
    offsets = utc_offsets(start, end, timezone)
    length = fixed_length(buckets, interval, offsets)
    return None if length is None else (length, offsets[0][1])


def window_masks(
    d: Dialect,
    window: Window,
    interval: Interval,
    timezone: str,
    since: datetime | None = None,
) -> tuple[int, int] | None:
    """`mask_plan` for one bit per bucket of `window`, the events read from `since` (default:
    the window's start) to its end."""
    buckets = window.buckets
    start = window.start if since is None else since
    return mask_plan(d, buckets, interval, timezone, start, window.end, top=len(buckets) - 1)


def indexed_buckets(params: Params, buckets: list[datetime], name: str) -> str:
    """A SELECT of each bucket (as column `name`) with its index `i`, for the bit-mask plans."""
    return params.dialect.rows_of(
        {name: params.add(buckets), "i": params.add(list(range(len(buckets))))}
    )


def bucket_index(params: Params, origin: str, length: int, moment: str = "e.timestamp") -> str:
    """How many buckets of `length` seconds `moment` lies after `origin` (a bound UTC start):
    its bucket's index, where buckets share one length in a fixed UTC offset
    (`dates.fixed_length`), as the bit-mask plans need."""
    d = params.dialect
    return d.int_div(f"{d.epoch_us(moment)} - {d.epoch_us(origin)}", params.add(length * 10**6))


PERSON = "coalesce(o.override_person_id, e.person_id)"


def overrides(d: Dialect) -> str:
    """FROM events `e`, each with its person's override `o` if it has one (then `PERSON` is
    the person it was merged into)."""
    return (
        f"{{events}} e {d.left_join_unique} {{person_overrides}} o ON o.old_person_id = e.person_id"
    )


def first_and_last(
    params: Params, flag: str, *, per_bucket: bool = True, source: str = "ev"
) -> str:
    """`mo`: per person (and bucket `b` of `source`, unless not `per_bucket`), the first and
    last event time where `flag` holds, each with the smallest session id of the events then.
    `source` has columns person, ts, sid (and b)."""
    keys = "person, b" if per_bucket else "person"
    d = params.dialect
    return (
        f"mo AS (SELECT {keys}, min(ts) AS first_ts, "
        f"nullif({d.arg_min('sid', 'ts')}, '') AS first_sid, max(ts) AS last_ts, "
        f"nullif({d.arg_max('sid', 'ts')}, '') AS last_sid FROM (SELECT {keys}, ts, "
        f"coalesce(min(sid), '') AS sid FROM {source} WHERE {flag} GROUP BY {keys}, ts) "
        f"GROUP BY {keys})"
    )


def cohort_name(cohort: CohortFilter, index: int) -> str:
    """The breakdown value of a cohort's line: its id (or its place, when given inline)."""
    return str(cohort.cohort_id if cohort.cohort_id is not None else index)


def top_lines(
    params: Params,
    source: str,
    *,
    limit: int,
    rank: str = "count(*)",
    name: str = "lined",
    materialized: bool = False,
) -> list[str]:
    """`top` (the `limit` values of `source`'s `bv` with the largest `rank`, ties by value) and
    `name`: `source`'s rows, each with its breakdown line (`is_other`; `line`, its value, or
    NULL for "Other" and for rows without one)."""
    # ClickHouse sees an alias anywhere in the statement: `lr` is one no other piece uses.
    return [
        f"top AS (SELECT bv AS top_bv FROM {source} WHERE bv IS NOT NULL GROUP BY bv "
        f"ORDER BY {rank} DESC, bv LIMIT {params.add(limit)})",
        f"{name} AS {'MATERIALIZED ' if materialized else ''}(SELECT lr.*, "
        "t.top_bv IS NULL AND lr.bv IS NOT NULL AS is_other, "
        "CASE WHEN t.top_bv IS NULL THEN NULL ELSE lr.bv END AS line "
        f"FROM {source} lr LEFT JOIN top t ON t.top_bv = lr.bv)",
    ]


def on_line(params: Params, line: BreakdownLine, alias: str = "") -> str:
    """The condition that keeps the rows of breakdown line `line` (columns `is_other` and
    `line`, of `alias` when given)."""
    at = f"{alias}." if alias else ""
    return (
        f"{at}is_other = {params.add(line.is_other)} "
        f"AND {at}line IS NOT DISTINCT FROM {params.add(line.value)}"
    )


class _CohortSplit(Protocol):
    """A spec that breaks down by cohorts: it has filters, and cohorts to split by."""

    filters: list[Filter]
    breakdown_cohorts: list[CohortFilter]

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Self: ...


_Spec = TypeVar("_Spec", bound=_CohortSplit)
_Result = TypeVar("_Result")


def only_in(spec: _Spec, chosen: Sequence[CohortFilter]) -> _Spec:
    """`spec` for the persons in `chosen` alone (none: everyone), with no cohort breakdown:
    how every kind answers one cohort's line."""
    return spec.model_copy(update={"breakdown_cohorts": [], "filters": [*spec.filters, *chosen]})


def per_cohort(spec: _Spec, answer: Callable[[_Spec], _Result]) -> list[tuple[str, _Result]]:
    """Each cohort's line of a cohort breakdown, in the order asked for: its name, and the
    answer to the spec again with the cohort as one more filter."""
    return [
        (cohort_name(c, i), answer(only_in(spec, [c])))
        for i, c in enumerate(spec.breakdown_cohorts)
    ]


def cohort_of_line(
    cohorts: Sequence[CohortFilter], line: BreakdownLine | None
) -> list[CohortFilter]:
    """The cohort (as a one-item list) whose breakdown line is `line`; none for no line."""
    return [
        c for i, c in enumerate(cohorts) if line is not None and line.value == cohort_name(c, i)
    ]
