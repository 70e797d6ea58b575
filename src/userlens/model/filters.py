"""Filters of insight specs: conditions on event and person properties, membership of a
cohort, and groups of them matching all or any.

A cohort is a set of persons: a static list of distinct ids, or rules that all (or any) must
hold — did an event at least N times in the last D days (counted back from the moment the
query runs), or has a person property. A cohort filter names a saved cohort (`cohort_id`); the
server puts its `definition` in before the query runs, and a spec may also carry one inline.
"""

from __future__ import annotations

import enum
import re
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from userlens.model.ids import Id, new_input

# Property names reach SQL only as bound parameters, but are still kept to what a product
# would name a property: printable, no control characters, bounded.
PROPERTY_KEY = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
MAX_DEPTH = 3


def _property_key(key: str) -> str:
    if not PROPERTY_KEY.fullmatch(key):
        raise ValueError("a property name is 1-200 printable characters")
    return key


PropertyKey = Annotated[str, AfterValidator(_property_key)]


class Operator(enum.StrEnum):
    EXACT = "exact"
    IS_NOT = "is_not"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    REGEX = "regex"
    GT = "gt"
    LT = "lt"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"
    IN = "in"


Scalar = str | int | float | bool


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropertyFilter(Spec):
    """One condition on an event property, or (`type: "person"`) on a property of the event's
    person as it is now."""

    key: PropertyKey
    type: Literal["event", "person"] = "event"
    operator: Operator = Operator.EXACT
    value: Scalar | list[Scalar] | None = None

    @field_validator("value")
    @classmethod
    def _re2_takes_it(cls, value: Any, info: ValidationInfo) -> Any:
        # A field check, so that it runs on input and not again on a filter read back leniently
        # (`model.ids.STORED`) when a model holding it is built.
        checked = info.data.get("operator") is Operator.REGEX and new_input(info)
        if checked and (refused := not_re2(str(value))) is not None:
            raise ValueError(f"{refused} are not supported in regular expressions")
        return value

    @model_validator(mode="after")
    def _value_fits_operator(self) -> PropertyFilter:
        op, value = self.operator, self.value
        if op in (Operator.IS_SET, Operator.IS_NOT_SET):
            if value is not None:
                raise ValueError(f"'{op}' takes no value")
        elif op is Operator.IN:
            if not isinstance(value, list) or not value or len(value) > 1000:
                raise ValueError("'in' takes a list of 1-1000 values")
        elif value is None or isinstance(value, list):
            raise ValueError(f"'{op}' takes one value")
        if op in (Operator.GT, Operator.LT) and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise ValueError(f"'{op}' compares with a number")
        if op is Operator.REGEX:
            try:
                compile_quietly(str(value))
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return self


def compile_quietly(pattern: str) -> re.Pattern[str]:
    """`re.compile`, without the warnings ("possible nested set" and the like) that it gives
    for some patterns it takes; `re.error` for those it does not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(pattern)


# Escapes and character classes (skipped), then what Python's `re` takes and RE2, the engine
# both event stores match with, does not.
_RE2_SCAN = re.compile(r"\\.|\[(?:\\.|[^\]])*\]|\(\?(?:<[=!]|[=!>(]|P=)|[*+?}]\+", re.DOTALL)
_REFUSED = {
    "(?=": "lookahead assertions",
    "(?!": "lookahead assertions",
    "(?<=": "lookbehind assertions",
    "(?<!": "lookbehind assertions",
    "(?>": "atomic groups",
    "(?(": "conditional groups",
    "(?P=": "backreferences",
}


def not_re2(pattern: str) -> str | None:
    """What in a pattern that Python compiles RE2 will not take, or None when it will."""
    for match in _RE2_SCAN.finditer(pattern):
        token = match.group()
        if token.startswith("\\"):
            if token[1] in "123456789":
                return "backreferences"
            if token[1] == "Z":
                return "\\Z anchors (use \\z or $)"
        elif token.startswith("("):
            return _REFUSED[token]
        elif not token.startswith("["):
            return "possessive quantifiers"
    if _repeats(pattern) > MAX_REPEAT:
        return f"repetitions of more than {MAX_REPEAT} (nested ones multiplied)"
    return None


# RE2 refuses a counted repetition (`{n}`, `{n,}`, `{n,m}`) above this, and nested counted
# repetitions whose counts multiply to more.
MAX_REPEAT = 1000
_REPEAT_SCAN = re.compile(
    r"\\.|\[(?:\\.|[^\]])*\]|\(\?[-a-zA-Z]*\)|(\()|(\))|\{(\d+)(?:,(\d*))?\}|.", re.DOTALL
)


def _repeats(pattern: str) -> int:
    """The largest product of nested counted repetitions along any path through `pattern`."""
    inside = [1]  # per open group, the largest product within it so far
    last = 1  # of the atom a repetition would apply to
    for match in _REPEAT_SCAN.finditer(pattern):
        opened, closed, least, most = match.groups()
        if opened:
            inside.append(1)
            last = 1
        elif closed:
            last = inside.pop() if len(inside) > 1 else 1
        elif least is not None:
            count = int(most) if most else int(least)
            last *= count if count > 0 else 1
            inside[-1] = max(inside[-1], last)
        else:
            last = 1
    return max(inside)


class DidEvent(Spec):
    """Did `event` at least `min_count` times in the last `days` days."""

    kind: Literal["did_event"] = "did_event"
    event: str = Field(min_length=1, max_length=200)
    min_count: int = Field(default=1, ge=1, le=1_000_000)
    days: int = Field(default=30, ge=1, le=3650)
    # Set by the server from the moment the query runs: where the `days` begin (UTC).
    since: datetime | None = None


class HasProperty(Spec):
    """The person's property passes `filter` (a person filter)."""

    kind: Literal["has_property"] = "has_property"
    filter: PropertyFilter

    @field_validator("filter")
    @classmethod
    def _person(cls, f: PropertyFilter) -> PropertyFilter:
        if f.type != "person":
            raise ValueError("a cohort's property rule is on a person property")
        return f


CohortRule = Annotated[DidEvent | HasProperty, Field(discriminator="kind")]


# A list cohort holds at most this many distinct ids.
MAX_LISTED = 100_000


class CohortDefinition(Spec):
    """Either `distinct_ids` (a static list) or `rules`."""

    # A saved list may be empty: deleting a person takes their ids out of every list.
    distinct_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=MAX_LISTED
    )
    match: Literal["all", "any"] = "all"
    rules: list[CohortRule] = Field(default_factory=list, max_length=20)

    @field_validator("distinct_ids")
    @classmethod
    def _some_listed(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # A field check: it runs on input, not on a list read back (`model.ids.STORED`).
        if value == [] and new_input(info):
            raise ValueError("a list cohort needs at least one distinct id")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> CohortDefinition:
        if (self.distinct_ids is None) == (not self.rules):
            raise ValueError("a cohort has either distinct_ids or rules")
        return self


class CohortFilter(Spec):
    """The event's person is (or, with `negate`, is not) in a cohort."""

    type: Literal["cohort"] = "cohort"
    cohort_id: Id | None = None
    definition: CohortDefinition | None = None
    negate: bool = False

    @model_validator(mode="after")
    def _named(self) -> CohortFilter:
        if self.cohort_id is None and self.definition is None:
            raise ValueError("a cohort filter needs cohort_id or a definition")
        return self


class FilterGroup(Spec):
    """Filters that must `all` hold, or of which `any` must."""

    match: Literal["all", "any"] = "all"
    filters: list[Filter] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _shallow(self) -> FilterGroup:
        if depth(self) > MAX_DEPTH:
            raise ValueError(f"filter groups nest at most {MAX_DEPTH} deep")
        return self


def depth(group: FilterGroup) -> int:
    return 1 + max((depth(f) for f in group.filters if isinstance(f, FilterGroup)), default=0)


FILTER_KINDS = frozenset({"property", "cohort", "group"})


def _filter_kind(value: Any) -> str:
    if isinstance(value, dict):
        if "filters" in value or "match" in value:
            return "group"
        return "cohort" if value.get("type") == "cohort" else "property"
    if isinstance(value, FilterGroup):
        return "group"
    return "cohort" if isinstance(value, CohortFilter) else "property"


Filter = Annotated[
    Annotated[PropertyFilter, Tag("property")]
    | Annotated[CohortFilter, Tag("cohort")]
    | Annotated[FilterGroup, Tag("group")],
    Discriminator(_filter_kind),
]

FilterGroup.model_rebuild()


def flatten(filters: Sequence[Filter]) -> list[PropertyFilter]:
    """Every property filter inside, in groups and in cohorts' property rules."""
    out: list[PropertyFilter] = []
    for f in filters:
        if isinstance(f, FilterGroup):
            out += flatten(f.filters)
        elif isinstance(f, CohortFilter):
            rules = f.definition.rules if f.definition else []
            out += [r.filter for r in rules if isinstance(r, HasProperty)]
        else:
            out.append(f)
    return out


FILTER_LIST: TypeAdapter[list[Filter]] = TypeAdapter(list[Filter])


class EventsWhere(Spec):
    """Which events a list shows, as insights filter them: every filter must pass, and with
    `filter_test_accounts` the project's test-account filters too."""

    filters: list[Filter] = Field(default_factory=list, max_length=50)
    filter_test_accounts: bool = False
