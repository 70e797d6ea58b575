"""Insight specs and results: what a product manager asks, as typed data.

Specs are pydantic models so that a bad spec is refused with the field named, and so that the
JSON API documents them; runners in `query/` turn them into SQL and rows into results.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from userlens.model.filters import (
    CohortFilter,
    Filter,
    Operator,
    PropertyFilter,
    PropertyKey,
    Scalar,
    Spec,
)
from userlens.model.ids import new_input

__all__ = ["Filter", "Operator", "PropertyFilter", "Scalar", "Spec"]

RELATIVE = re.compile(r"-(\d{1,4})([hdwmy])")
FORMULA = re.compile(r"[A-T0-9.+\-*/() ]{1,500}")


class Interval(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class TrendsDisplay(enum.StrEnum):
    """How the web app draws a trend; the answer is the same for each."""

    LINE = "line"
    BAR = "bar"
    # Each series' total for the range, large, with the change from the period before.
    NUMBER = "number"


class TrendsMath(enum.StrEnum):
    TOTAL = "total"
    UNIQUE_PERSONS = "unique_persons"
    UNIQUE_SESSIONS = "unique_sessions"
    # Events per person: count / unique persons.
    AVG_PER_PERSON = "avg_per_person"
    # Active persons: for each bucket, unique persons in the 1, 7 or 30 days (of 24 h) up to the
    # bucket's end (or now); the total is the last bucket's value.
    DAU = "dau"
    WAU = "wau"
    MAU = "mau"
    # Of a numeric event property (`math_property`); events without a number there are skipped.
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    MEDIAN = "median"
    P90 = "p90"
    P95 = "p95"
    P99 = "p99"


ACTIVE_DAYS = {TrendsMath.DAU: 1, TrendsMath.WAU: 7, TrendsMath.MAU: 30}

PROPERTY_MATHS = frozenset(
    {
        TrendsMath.SUM,
        TrendsMath.AVG,
        TrendsMath.MIN,
        TrendsMath.MAX,
        TrendsMath.MEDIAN,
        TrendsMath.P90,
        TrendsMath.P95,
        TrendsMath.P99,
    }
)


# How far back a relative date may reach, in each unit: a hundred years (hours and days are
# bounded by their four digits).
MAX_BACK = {"w": 5_200, "m": 1_200, "y": 100}
# The days an ISO date may name: events are not kept from before 1970, and a range must end
# well inside what dates can hold once a window or a previous period is added to it.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def date_point(value: str | None, info: ValidationInfo) -> str | None:
    """A relative (`-30d`) or ISO date, as a date range's ends are written."""
    if value is None:
        return value
    bounded = new_input(info)
    relative = RELATIVE.fullmatch(value)
    if relative is not None:
        n, unit = int(relative.group(1)), relative.group(2)
        if bounded and n > MAX_BACK.get(unit, n):
            raise ValueError(f"at most {MAX_BACK[unit]}{unit} back (a hundred years)")
        return value
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("use -<n>h/d/w/m/y or an ISO date like 2026-11-25") from None
    if bounded and not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a date from {FIRST_DAY} to {LAST_DAY}")
    return value


class DateRange(Spec):
    """`date_from`/`date_to`: relative (`-30d`, `-12h`, `-4w`, `-3m`, `-1y`) or ISO dates
    (whole days in the project's time zone); `date_to` defaults to now."""

    date_from: str = "-7d"
    date_to: str | None = None

    @field_validator("date_from", "date_to")
    @classmethod
    def _form(cls, value: str | None, info: ValidationInfo) -> str | None:
        return date_point(value, info)


class EventRef(Spec):
    """An event (any event when `event` is None) that passes its filters."""

    event: str | None = Field(default=None, min_length=1, max_length=200)
    filters: list[Filter] = Field(default_factory=list, max_length=50)


class TrendsSeries(Spec):
    """One line of a trends chart: an event (or any event when `event` is None) and a math."""

    event: str | None = Field(default=None, min_length=1, max_length=200)
    math: TrendsMath = TrendsMath.TOTAL
    math_property: PropertyKey | None = None
    filters: list[Filter] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _property_for_math(self) -> TrendsSeries:
        wants = self.math in PROPERTY_MATHS
        if wants and self.math_property is None:
            raise ValueError(f"math '{self.math}' needs math_property")
        if not wants and self.math_property is not None:
            raise ValueError(f"math '{self.math}' takes no math_property")
        return self


class TrendsQuery(Spec):
    kind: Literal["trends"] = "trends"
    # Leave out the project's internal and test users (its `test_account_filters`).
    filter_test_accounts: bool = False
    series: Annotated[list[TrendsSeries], Field(min_length=1, max_length=20)]
    interval: Interval = Interval.DAY
    date_range: DateRange = DateRange()
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    # Split every series by this event property (or, `breakdown_type: "person"`, the person's
    # property as it is now): its `breakdown_limit` values with the largest totals (ties: by
    # value) get a line each, the rest one "Other" line, and events without it a "(none)" line.
    # For active users (dau, wau, mau) the total is the last bucket's: a person counts in a
    # line at a bucket's end when they did the event with its value in the days before.
    breakdown: PropertyKey | None = None
    breakdown_type: Literal["event", "person"] = "event"
    # Or split every series by cohorts: a line per cohort, of its persons' events (a person in
    # two cohorts counts in both).
    breakdown_cohorts: list[CohortFilter] = Field(default_factory=list, max_length=20)
    breakdown_limit: int = Field(default=10, ge=1, le=100)
    # Also answer for the period of the same length just before, as `previous`.
    compare: bool = False
    # Arithmetic over the series, named A, B, C... in order: `A / B * 100`. Answered as one
    # more line; a division by zero gives 0.
    formula: str | None = Field(default=None, max_length=500)
    # Kept with a saved insight so that its dashboard tile is drawn as it was built; not part
    # of the question (results are cached without it).
    display: TrendsDisplay = TrendsDisplay.LINE

    @model_validator(mode="after")
    def _one_breakdown(self) -> TrendsQuery:
        if self.breakdown is not None and self.breakdown_cohorts:
            raise ValueError("breakdown_cohorts: not with a property breakdown")
        if self.breakdown_cohorts and self.formula is not None:
            raise ValueError("formula: not with a breakdown")
        return self

    @model_validator(mode="after")
    def _formula(self) -> TrendsQuery:
        if self.formula is not None:
            if self.breakdown is not None:
                raise ValueError("formula: not with a breakdown")
            letters = set(re.findall(r"[A-Za-z]+", self.formula))
            known = {chr(ord("A") + i) for i in range(len(self.series))}
            if not letters <= known:
                raise ValueError(f"formula: only the series letters {sorted(known)} may appear")
            if not FORMULA.fullmatch(self.formula):
                raise ValueError("formula: use series letters, numbers, + - * / and brackets")
        return self


class TrendsLine(Spec):
    label: str
    math: TrendsMath
    # The spec's series this line is of (from 0); None for the formula's line.
    series: int | None = None
    breakdown_value: str | None = None
    is_other: bool = False
    is_formula: bool = False
    values: list[float]
    total: float


class TrendsResult(Spec):
    kind: Literal["trends"] = "trends"
    interval: Interval
    timezone: str
    # Start of each bucket, as local time in the project's time zone.
    buckets: list[datetime]
    # The date range, as local times: its first moment and the moment just after its last
    # (the first bucket may start before it, the last end after it).
    start: datetime | None = None
    end: datetime | None = None
    series: list[TrendsLine]
    # With `compare`: the same lines over the period just before, and its buckets.
    previous_buckets: list[datetime] | None = None
    previous: list[TrendsLine] | None = None
    # Served from the cache: computed earlier, with no new data since.
    cached: bool = False


class BreakdownLine(Spec):
    """One line of a broken-down result: a value, "(none)" (None), or "Other". For a cohort
    breakdown, the value is the cohort's id."""

    value: str | None = None
    is_other: bool = False


class PersonsPage(Spec):
    """Which page of persons a drill-down returns."""

    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class TrendsPersonsQuery(PersonsPage):
    """The persons behind a trends number: those with a counted event of series `series` in
    bucket `bucket` (the whole range when None; for dau/wau/mau, in the days up to the
    bucket's end) and, with a breakdown, in line `line`; each with their last such event."""

    kind: Literal["trends_persons"] = "trends_persons"
    trends: TrendsQuery
    series: int = Field(default=0, ge=0, le=19)
    bucket: int | None = Field(default=None, ge=0)
    line: BreakdownLine | None = None

    @model_validator(mode="after")
    def _series_exists(self) -> TrendsPersonsQuery:
        if self.series >= len(self.trends.series):
            raise ValueError(f"series: there are {len(self.trends.series)} (from 0)")
        return self


class PersonHit(Spec):
    """A person behind a number, with the moment (UTC) and session that put them there."""

    person_id: str
    distinct_ids: list[str]
    properties: dict[str, Any]
    timestamp: datetime | None = None
    session_id: str | None = None


class PersonsResult(Spec):
    kind: Literal["persons"] = "persons"
    persons: list[PersonHit]
    # How many persons there are in all (the page is `persons`).
    total: int
    cached: bool = False
