"""Date ranges resolve against an injected now, in the project's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from userlens.errors import InvalidInput
from userlens.model.insight import DateRange, Interval
from userlens.query.dates import previous, resolve, utc_offsets

NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


def test_relative_days_start_at_local_midnight_and_end_now() -> None:
    w = resolve(DateRange(date_from="-7d"), Interval.DAY, "Europe/Paris", NOW)
    assert w.start == datetime(2026, 11, 17, 23, 0, tzinfo=UTC)  # 18 Nov, 00:00 in Paris
    assert w.end == NOW + timedelta(microseconds=1)  # now itself is in the range
    assert w.buckets[0] == datetime(2026, 11, 18) and w.buckets[-1] == datetime(2026, 11, 25)
    assert len(w.buckets) == 8


def test_absolute_dates_are_whole_local_days() -> None:
    w = resolve(
        DateRange(date_from="2026-03-28", date_to="2026-03-29"),
        Interval.HOUR,
        "Europe/Paris",
        NOW,
    )
    assert w.start == datetime(2026, 3, 27, 23, tzinfo=UTC)
    assert w.end == datetime(2026, 3, 29, 22, tzinfo=UTC)  # summer time from 29 March
    assert len(w.buckets) == 47  # the 29th has 23 hours; 02:00 does not exist
    assert datetime(2026, 3, 29, 2) not in w.buckets


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    weeks = resolve(DateRange(date_from="-4w"), Interval.WEEK, "UTC", NOW)
    assert all(b.weekday() == 0 for b in weeks.buckets)
    months = resolve(DateRange(date_from="-1y"), Interval.MONTH, "UTC", NOW)
    assert [b.month for b in months.buckets] == [11, 12, *range(1, 12)]
    assert all(b.day == 1 for b in months.buckets)
    end_of_month = datetime(2026, 3, 31, 12, tzinfo=UTC)
    w = resolve(DateRange(date_from="-1m"), Interval.DAY, "UTC", end_of_month)
    assert w.start == datetime(2026, 2, 28, tzinfo=UTC)  # no 31 February


def test_a_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput, match="date_range"):
        resolve(DateRange(date_from="2026-11-20", date_to="2026-11-10"), Interval.DAY, "UTC", NOW)
    with pytest.raises(InvalidInput, match="interval"):
        resolve(DateRange(date_from="-10y"), Interval.HOUR, "UTC", NOW)


@pytest.mark.parametrize("value", ["yesterday", "-7", "7d", "-7x", "2026-13-01", ""])
def test_bad_dates_are_refused_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationError, match="date_from"):
        DateRange(date_from=value)


def test_the_previous_period_has_the_same_length_just_before() -> None:
    w = resolve(DateRange(date_from="2026-11-16", date_to="2026-11-22"), Interval.DAY, "UTC", NOW)
    before = previous(w, Interval.DAY, "UTC")
    assert before.end == w.start and before.end - before.start == w.end - w.start
    assert before.buckets == [datetime(2026, 11, d) for d in range(9, 16)]


def test_utc_offsets_follow_daylight_saving_changes() -> None:
    start = datetime(2026, 3, 20, tzinfo=UTC)
    end = datetime(2026, 11, 20, tzinfo=UTC)
    assert utc_offsets(start, end, "Europe/Paris") == [
        (start, 3600),
        (datetime(2026, 3, 29, 1, tzinfo=UTC), 7200),  # 02:00 local becomes 03:00
        (datetime(2026, 10, 25, 1, tzinfo=UTC), 3600),
    ]
    assert utc_offsets(start, end, "UTC") == [(start, 0)]
    assert utc_offsets(start, end, "Asia/Kolkata") == [(start, 19800)]
