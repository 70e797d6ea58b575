"""Lifecycle and stickiness: how persons' activity moves between intervals, and how many
intervals of a period they were active in.

Lifecycle, per interval of the date range (whole intervals, in the project's time zone), of
the persons who did the event:
- `new`: did it for the first time ever in this interval;
- `returning`: did it in this interval and the one before;
- `resurrecting`: did it in this interval, not in the one before, but at some time earlier;
- `dormant`: did it in the interval before, not in this one;
broken down by cohorts, the same for each cohort's persons alone.

Stickiness: for n = 1 … the number of intervals in the date range, the persons who did the
event in exactly n of them (events inside the range only); broken down by cohorts, the same
for each cohort's persons alone.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from userlens.model.filters import CohortFilter, Filter
from userlens.model.insight import BreakdownLine, DateRange, EventRef, Interval, PersonsPage, Spec


class LifecycleStatus(enum.StrEnum):
    NEW = "new"
    RETURNING = "returning"
    RESURRECTING = "resurrecting"
    DORMANT = "dormant"


class LifecycleQuery(Spec):
    kind: Literal["lifecycle"] = "lifecycle"
    # Leave out the project's internal and test users (its `test_account_filters`).
    filter_test_accounts: bool = False
    event: EventRef = EventRef()
    interval: Interval = Interval.DAY
    date_range: DateRange = DateRange()
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    # Also the same for each cohort's persons alone, as `lines`, in the order given.
    breakdown_cohorts: list[CohortFilter] = Field(default_factory=list, max_length=20)


class LifecycleLine(Spec):
    """One cohort's lifecycle (`breakdown_value`: its id)."""

    breakdown_value: str
    new: list[int]
    returning: list[int]
    resurrecting: list[int]
    dormant: list[int]


class LifecycleResult(Spec):
    kind: Literal["lifecycle"] = "lifecycle"
    interval: Interval
    timezone: str
    buckets: list[datetime]
    # Persons per bucket for each status (dormant ones as a positive count).
    new: list[int]
    returning: list[int]
    resurrecting: list[int]
    dormant: list[int]
    # With a cohort breakdown: each cohort's (the counts above stay everyone's).
    lines: list[LifecycleLine] | None = None
    cached: bool = False


class LifecyclePersonsQuery(PersonsPage):
    """The persons of one status in one bucket, with their first event in it (for dormant
    persons: their last event in the bucket before)."""

    kind: Literal["lifecycle_persons"] = "lifecycle_persons"
    lifecycle: LifecycleQuery
    bucket: int = Field(ge=0)
    status: LifecycleStatus
    # With a cohort breakdown, only the persons of this cohort's line (`value`: its id).
    line: BreakdownLine | None = None

    @model_validator(mode="after")
    def _line_exists(self) -> LifecyclePersonsQuery:
        if self.line is not None and not self.lifecycle.breakdown_cohorts:
            raise ValueError("line: the lifecycle has no breakdown")
        return self


class StickinessQuery(Spec):
    kind: Literal["stickiness"] = "stickiness"
    # Leave out the project's internal and test users (its `test_account_filters`).
    filter_test_accounts: bool = False
    series: list[EventRef] = Field(min_length=1, max_length=20)
    interval: Interval = Interval.DAY
    date_range: DateRange = DateRange()
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    # A line per series and cohort, of the persons in it (a person in two cohorts counts in
    # both), in the order given.
    breakdown_cohorts: list[CohortFilter] = Field(default_factory=list, max_length=20)


class StickinessLine(Spec):
    label: str
    # persons[n - 1]: persons active in exactly n intervals.
    persons: list[int]
    # Which series it is (from 0), and with a cohort breakdown the cohort's id.
    series: int = 0
    breakdown_value: str | None = None


class StickinessResult(Spec):
    kind: Literal["stickiness"] = "stickiness"
    interval: Interval
    intervals: int
    series: list[StickinessLine]
    cached: bool = False


class StickinessPersonsQuery(PersonsPage):
    """The persons of a series active in exactly `intervals` intervals, with their last event
    in the range."""

    kind: Literal["stickiness_persons"] = "stickiness_persons"
    stickiness: StickinessQuery
    series: int = Field(default=0, ge=0, le=19)
    intervals: int = Field(ge=1)
    # With a cohort breakdown, only the persons of this cohort's line (`value`: its id).
    line: BreakdownLine | None = None

    @model_validator(mode="after")
    def _series_exists(self) -> StickinessPersonsQuery:
        if self.series >= len(self.stickiness.series):
            raise ValueError(f"series: there are {len(self.stickiness.series)} (from 0)")
        if self.line is not None and not self.stickiness.breakdown_cohorts:
            raise ValueError("line: the stickiness has no breakdown")
        return self
