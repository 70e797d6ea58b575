"""Retention specs and results: of the persons who started in a period, how many came back in
each period after.

The rule, the same on every backend and in the reference implementation:
- the cohorts are the `periods` periods (days, weeks from Monday, or months, in the project's
  time zone) up to the one holding `date_to` (now by default; the last one may be partial);
- `recurring`: a person is in the cohort of every period in which they did the start event;
  `first_time`: only in the cohort of the period of their first start event ever, if that is
  one of the cohorts;
- a cohort's period 0 is its size; period k counts its persons who did the return event in the
  k-th period after the cohort's;
- broken down by a person property, each person is in the line of the value it holds now (the
  "(none)" line when it is not set); by an event property (`breakdown_type: "event"`), each
  person's place in a cohort is in the line of the value on their first start event of that
  cohort's period (at the same moment, the smallest value; "(none)" only when none has one),
  so one person may be in different lines in different cohorts. The `breakdown_limit` values
  with the most persons in any cohort have a line each (ties: by value), the others share
  "Other". Each line is the same table for its persons (in those cohorts) alone, so the lines
  add up to the whole;
- broken down by cohorts, each cohort's line is the same table for the persons in it (a
  person in two cohorts is in both lines), and the whole stays everyone's.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from userlens.model.filters import CohortFilter, Filter, PropertyKey
from userlens.model.insight import BreakdownLine, EventRef, Interval, PersonsPage, Spec, date_point


class RetentionType(enum.StrEnum):
    RECURRING = "recurring"
    FIRST_TIME = "first_time"


class RetentionQuery(Spec):
    kind: Literal["retention"] = "retention"
    # Leave out the project's internal and test users (its `test_account_filters`).
    filter_test_accounts: bool = False
    start: EventRef = EventRef()
    # The event that counts as coming back (the start event when None).
    returning: EventRef | None = None
    period: Interval = Interval.WEEK
    periods: int = Field(default=8, ge=1, le=60)
    type: RetentionType = RetentionType.RECURRING
    date_to: str | None = None
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    # A line per value of this person property (as it is now), or of this property of the
    # start event that put a person in a cohort, for the `breakdown_limit` values with the
    # most persons, then "Other" and "(none)".
    breakdown: PropertyKey | None = None
    breakdown_type: Literal["event", "person"] = "person"
    breakdown_limit: int = Field(default=10, ge=1, le=100)
    # Or a line per cohort, of the persons in it, in the order given.
    breakdown_cohorts: list[CohortFilter] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _one_breakdown(self) -> RetentionQuery:
        if self.breakdown is not None and self.breakdown_cohorts:
            raise ValueError("breakdown_cohorts: not with a property breakdown")
        return self

    @property
    def split(self) -> bool:
        """Whether the answer has lines."""
        return self.breakdown is not None or bool(self.breakdown_cohorts)

    @field_validator("date_to")
    @classmethod
    def _date_to(cls, value: str | None, info: ValidationInfo) -> str | None:
        return date_point(value, info)

    @field_validator("period")
    @classmethod
    def _period(cls, value: Interval) -> Interval:
        if value is Interval.HOUR:
            raise ValueError("period: day, week or month")
        return value

    @property
    def return_event(self) -> EventRef:
        return self.returning or self.start


class RetentionCohort(Spec):
    # The cohort's period start, local time in the project's time zone.
    start: datetime
    size: int
    # Persons per period from the cohort's own (index 0, the size) to the last period.
    values: list[int]
    # The same as shares (0-1) of the size.
    shares: list[float]


class RetentionLine(Spec):
    """The retention of one breakdown line's persons."""

    breakdown_value: str | None = None
    is_other: bool = False
    cohorts: list[RetentionCohort]
    average: list[float | None]


class RetentionResult(Spec):
    kind: Literal["retention"] = "retention"
    period: Interval
    timezone: str
    # Everyone's (with a property breakdown, every line's added up).
    cohorts: list[RetentionCohort]
    # Per period after the start (0 first), the share (0-1) of the persons of every cohort
    # that has reached it who came back then: the cohorts added up, each weighed by its size.
    # None where no cohort with persons has reached it.
    average: list[float | None] = Field(default_factory=list)
    # With a breakdown: a line per value with the most persons first, "Other" last; or a line
    # per cohort (`breakdown_value` its id), in the order asked for.
    lines: list[RetentionLine] | None = None
    cached: bool = False


class RetentionPersonsQuery(PersonsPage):
    """The persons of one cell: cohort `cohort` (0 is the oldest), period `period` after it,
    with their first start (period 0) or return event in that period."""

    kind: Literal["retention_persons"] = "retention_persons"
    retention: RetentionQuery
    cohort: int = Field(ge=0, le=59)
    period: int = Field(default=0, ge=0, le=59)
    # With a breakdown, only the persons of this line (all of them when None).
    line: BreakdownLine | None = None

    @model_validator(mode="after")
    def _cell_exists(self) -> RetentionPersonsQuery:
        if self.cohort + self.period >= self.retention.periods:
            raise ValueError(f"period: cohort + period must be below {self.retention.periods}")
        if self.line is not None and not self.retention.split:
            raise ValueError("line: the retention has no breakdown")
        return self
