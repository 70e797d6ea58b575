"""Funnel specs and results: how many persons went through a sequence of steps, how fast, and
where the others stopped.

The counting rule, the same on every backend and in the reference implementation:
- every event of the first step inside the date range starts an *attempt*; each later step is
  the earliest matching event after the previous step's event (at a later time: the order of
  events in the same microsecond is unknown, so they never convert each other) and at most
  the conversion window after the attempt's start; every step's event is inside the date range;
- `strict`: the next step must also be the person's very next event (no other event of theirs,
  at a time strictly between the two steps);
- `unordered`: an attempt starts at any step's event, and has reached as many steps as there
  are steps with a matching event from its start to the end of its window;
- an exclusion breaks an attempt when its event happens strictly after the attempt's step
  `from_step` and before its step `to_step` (or, when that step was never reached, by the end
  of the window); a broken attempt does not count;
- each person counts once, with their attempt that reached the most steps (the earliest of
  those; then the smallest breakdown value), and is in the breakdown line of that attempt's
  first event (or of their person property);
- over time (`over_time`), each person counts in the period (of the project's time zone) in
  which that same attempt started, so the periods add up to the funnel's counts.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from userlens.model.filters import CohortFilter, Filter, PropertyKey
from userlens.model.insight import BreakdownLine, DateRange, Interval, PersonsPage, Spec


class FunnelOrder(enum.StrEnum):
    ORDERED = "ordered"
    STRICT = "strict"
    UNORDERED = "unordered"


class WindowUnit(enum.StrEnum):
    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


UNIT_SECONDS = {
    WindowUnit.SECOND: 1,
    WindowUnit.MINUTE: 60,
    WindowUnit.HOUR: 3600,
    WindowUnit.DAY: 86_400,
    WindowUnit.WEEK: 604_800,
}


class HistogramScale(enum.StrEnum):
    # Bins between the readable times of `STEP_EDGES` (under 1 s, 1-5 s, ... 1-2 h, ...), up
    # to the window: times to convert spread over orders of magnitude, and equal bins put
    # most of them in the first.
    STEPS = "steps"
    # `histogram_bins` bins of equal width, from the shortest time to the longest.
    LINEAR = "linear"


# Seconds: the edges of the "steps" histogram's bins, those shorter than the window.
STEP_EDGES = (
    1, 5, 10, 30, 60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60, 3_600, 2 * 3_600, 3 * 3_600,
    6 * 3_600, 12 * 3_600, 86_400, 2 * 86_400, 3 * 86_400, 5 * 86_400, 7 * 86_400, 14 * 86_400,
    30 * 86_400, 60 * 86_400, 90 * 86_400, 180 * 86_400, 365 * 86_400,
)  # fmt: skip


class FunnelStep(Spec):
    """One step: an event (any event when `event` is None) and filters on it."""

    event: str | None = Field(default=None, min_length=1, max_length=200)
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    name: str | None = Field(default=None, max_length=200)


class FunnelExclusion(Spec):
    """Attempts with this event between their steps `from_step` and `to_step` do not count."""

    event: str = Field(min_length=1, max_length=200)
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    from_step: int = Field(default=0, ge=0)
    to_step: int = Field(default=1, ge=1)


class FunnelQuery(Spec):
    kind: Literal["funnel"] = "funnel"
    # Leave out the project's internal and test users (its `test_account_filters`).
    filter_test_accounts: bool = False
    steps: list[FunnelStep] = Field(min_length=2, max_length=20)
    order: FunnelOrder = FunnelOrder.ORDERED
    # How long after its first step an attempt may still convert (the edge included).
    window: int = Field(default=14, ge=1, le=100_000_000)
    window_unit: WindowUnit = WindowUnit.DAY
    exclusions: list[FunnelExclusion] = Field(default_factory=list, max_length=10)
    date_range: DateRange = DateRange()
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    # Split by a property of the attempt's first event (or, `breakdown_type: "person"`, of the
    # person): the `breakdown_limit` values with the most persons, "Other", and "(none)".
    breakdown: PropertyKey | None = None
    breakdown_type: Literal["event", "person"] = "event"
    breakdown_limit: int = Field(default=10, ge=1, le=100)
    # Or a line per cohort, of the persons in it (a person in two cohorts counts in both).
    breakdown_cohorts: list[CohortFilter] = Field(default_factory=list, max_length=20)
    # The histogram of the time from the first step to the last: its bins (`HistogramScale`),
    # and how many there are when they are of equal width.
    histogram_scale: HistogramScale = HistogramScale.STEPS
    histogram_bins: int = Field(default=10, ge=1, le=100)
    # Also count each line's persons per period (hour, day, week or month) of their counted
    # attempt's start: how conversion moves over time (`FunnelLine.periods`).
    over_time: Interval | None = None

    @property
    def window_seconds(self) -> int:
        return self.window * UNIT_SECONDS[self.window_unit]

    @property
    def step_edges(self) -> list[int]:
        """The "steps" histogram's inner edges, in seconds: those shorter than the window.
        Bin k holds the times from edge k - 1 (0 for the first) up to edge k, the last one
        those from the last edge up to the window, its end included."""
        return [e for e in STEP_EDGES if e < self.window_seconds]

    @model_validator(mode="after")
    def _one_breakdown(self) -> FunnelQuery:
        if self.breakdown is not None and self.breakdown_cohorts:
            raise ValueError("breakdown_cohorts: not with a property breakdown")
        return self

    @model_validator(mode="after")
    def _window_fits(self) -> FunnelQuery:
        if self.window_seconds > 366 * 86_400:
            raise ValueError("window: at most a year")
        return self

    @model_validator(mode="after")
    def _exclusions_fit(self) -> FunnelQuery:
        for i, x in enumerate(self.exclusions):
            if self.order is FunnelOrder.UNORDERED:
                raise ValueError("exclusions: not with order 'unordered'")
            if not x.from_step < x.to_step < len(self.steps):
                raise ValueError(
                    f"exclusions[{i}]: needs from_step < to_step < {len(self.steps)} (steps)"
                )
        return self


class HistogramBin(Spec):
    start_seconds: float
    end_seconds: float
    count: int


class FunnelStepResult(Spec):
    label: str
    # Persons who reached this step.
    count: int
    # Shares (0-1) of those who reached the first step, and the step before.
    conversion_from_first: float
    conversion_from_previous: float
    # Persons who reached the step before but not this one.
    dropped: int
    # Time from the step before, for those who reached this step; None for the first step.
    median_seconds: float | None = None
    average_seconds: float | None = None


class FunnelPeriod(Spec):
    # Start of the period, as local time in the project's time zone.
    start: datetime
    # Persons at each step whose counted attempt started in the period.
    counts: list[int]
    # Share (0-1) of them who reached the last step.
    conversion: float
    # Whether every attempt of the period has had its whole window inside the date range:
    # the last periods' attempts may still convert.
    complete: bool


class FunnelLine(Spec):
    breakdown_value: str | None = None
    is_other: bool = False
    steps: list[FunnelStepResult]
    # Time from the first step to the last, for those who reached the last.
    histogram: list[HistogramBin]
    # With `over_time`: every period of the date range, in order.
    periods: list[FunnelPeriod] | None = None


class FunnelResult(Spec):
    kind: Literal["funnel"] = "funnel"
    order: FunnelOrder
    window_seconds: int
    lines: list[FunnelLine]
    # The spec's `over_time`, and the time zone of the periods' starts.
    over_time: Interval | None = None
    timezone: str | None = None
    cached: bool = False


MAX_SPAN_SECONDS = 400 * 86_400


class ConversionTime(Spec):
    """A span of times from the first step to the last, as a histogram bin gives it: from
    `from_seconds` (included) up to `to_seconds` (not included; None: no end)."""

    # Conversion windows are at most a year: longer spans are refused, as are NaN and infinity.
    from_seconds: float = Field(ge=0, le=MAX_SPAN_SECONDS, allow_inf_nan=False)
    to_seconds: float | None = Field(default=None, gt=0, le=MAX_SPAN_SECONDS, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> ConversionTime:
        if self.to_seconds is not None and self.to_seconds <= self.from_seconds:
            raise ValueError("to_seconds: must be after from_seconds")
        return self


class FunnelPersonsQuery(PersonsPage):
    """The persons behind a funnel step: those who reached it (`converted`), who reached the
    step before and not this one (`dropped`), or (`not_converted`, with the last step) who
    started and did not reach it, whichever step they stopped at; each with the moment and
    session of the last step they reached."""

    kind: Literal["funnel_persons"] = "funnel_persons"
    funnel: FunnelQuery
    step: int = Field(ge=0, le=19)
    status: Literal["converted", "dropped", "not_converted"] = "converted"
    # Only the persons of this breakdown line (all lines when None).
    line: BreakdownLine | None = None
    # Only those whose counted attempt started in this period (a `FunnelPeriod.start`, local
    # time); needs the funnel's `over_time`.
    period: datetime | None = None
    # Only those who took this long from the first step to the last (a histogram bin's
    # persons); needs the last step and `converted`.
    converted_in: ConversionTime | None = None

    @model_validator(mode="after")
    def _step_fits(self) -> FunnelPersonsQuery:
        last = len(self.funnel.steps) - 1
        if self.step > last:
            raise ValueError(f"step: the funnel has {last + 1} steps (from 0)")
        if self.status == "dropped" and self.step == 0:
            raise ValueError("step: nobody drops at the first step")
        if self.status == "not_converted" and self.step != last:
            raise ValueError(f"step: 'not_converted' is of the last step, {last}")
        if self.period is not None and self.funnel.over_time is None:
            raise ValueError("period: the funnel has no over_time")
        if self.period is not None and self.period.tzinfo is not None:
            raise ValueError("period: a local time without a zone, as the periods' starts are")
        if self.converted_in is not None and (self.step != last or self.status != "converted"):
            raise ValueError(f"converted_in: only for step {last} (the last) and 'converted'")
        return self


class FunnelCorrelationQuery(Spec):
    """What sets the persons who converted apart from those who dropped: the events they did,
    or (with `person_properties`) the values of those person properties they have.

    The persons are those the funnel counts (of one breakdown line, or all of them). A person
    *did* an event when it happened strictly after the start of their counted attempt and no
    later than its end: the last step's time for those who converted, the end of the window
    (and of the date range) for the others. Only events that pass the funnel's own filters
    count, and never one named like a step or in `exclude`. A person *has* a property's value
    when their person properties hold it now (as text; not set: no value).
    """

    kind: Literal["funnel_correlation"] = "funnel_correlation"
    funnel: FunnelQuery
    line: BreakdownLine | None = None
    # Event names left out of the analysis (noise such as "$pageleave").
    exclude: list[str] = Field(default_factory=list, max_length=100)
    # Person properties whose values to weigh instead of events.
    person_properties: list[PropertyKey] = Field(default_factory=list, max_length=10)
    # How many events or values to give each way: most tied to converting, and to dropping.
    limit: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _names(self) -> FunnelCorrelationQuery:
        for name in self.exclude:
            if not name or len(name) > 200:
                raise ValueError("exclude: event names of 1 to 200 characters")
        return self


class Correlated(Spec):
    """An event (`event`) or a person property's value (`property`, `value`), and how it goes
    with converting."""

    event: str | None = None
    property: str | None = None
    value: str | None = None
    # Persons who did it (or have it), of those who converted and of those who dropped.
    converted: int
    dropped: int
    # Odds of converting for those who did it, over the odds for those who did not, each
    # count plus one so that no odds is zero or infinite.
    odds_ratio: float
    # "success" when doing it goes with converting (odds ratio above 1), "failure" when it goes
    # with dropping (below 1); those as likely either way are in neither list.
    direction: Literal["success", "failure"]


class FunnelCorrelationResult(Spec):
    kind: Literal["funnel_correlation"] = "funnel_correlation"
    # Persons the funnel counts who converted (reached the last step), and who dropped.
    converted: int
    dropped: int
    # Most tied to converting first (highest odds ratio), then most tied to dropping.
    success: list[Correlated]
    failure: list[Correlated]
    cached: bool = False


class FunnelCorrelationPersonsQuery(PersonsPage):
    """The persons behind a correlation's count: those the funnel counts (of one line, or
    all) who did `event` during their counted attempt (each with the first time they did it
    then, and its session), or who have `value` for person property `property` (each with
    their attempt's start and its session); and who converted (or, with `converted` false,
    dropped)."""

    kind: Literal["funnel_correlation_persons"] = "funnel_correlation_persons"
    funnel: FunnelQuery
    line: BreakdownLine | None = None
    event: str | None = Field(default=None, min_length=1, max_length=200)
    property: PropertyKey | None = None
    value: str | None = Field(default=None, max_length=1000)
    converted: bool = True

    @model_validator(mode="after")
    def _one(self) -> FunnelCorrelationPersonsQuery:
        if (self.event is None) == (self.property is None):
            raise ValueError("event: give an event, or a property and its value, not both")
        if self.property is not None and self.value is None:
            raise ValueError("value: the property's value, as the correlation gives it")
        return self
