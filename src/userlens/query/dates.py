"""Date ranges and interval buckets in a project's time zone.

Buckets are local wall-clock times, as the SQL computes them (`date_trunc` on the timestamp
converted to local time): at a daylight-saving change a day has 23 or 25 hours, and the hour
that repeats in autumn is one bucket.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from userlens.errors import InvalidInput
from userlens.model.insight import RELATIVE, DateRange, Interval


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in UTC, and the local bucket starts that cover it."""

    start: datetime
    end: datetime
    buckets: list[datetime]


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):  # the same day, or the month's last
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _point(value: str, now: datetime, tz: ZoneInfo, *, is_end: bool) -> datetime:
    relative = RELATIVE.fullmatch(value)
    if relative is None:
        day = date.fromisoformat(value)
        return _local_midnight(day + timedelta(days=1) if is_end else day, tz)
    n, unit = int(relative.group(1)), relative.group(2)
    if unit == "h":
        return (now - timedelta(hours=n)).replace(minute=0, second=0, microsecond=0)
    today = now.astimezone(tz).date()
    if unit == "d":
        day = today - timedelta(days=n)
    elif unit == "w":
        day = today - timedelta(weeks=n)
    elif unit == "m":
        day = _add_months(today, -n)
    else:
        day = _add_months(today, -12 * n)
    return _local_midnight(day, tz)


def truncate(local: datetime, interval: Interval) -> datetime:
    """The start of the bucket holding a naive local time."""
    if interval is Interval.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval is Interval.DAY:
        return day
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    return day.replace(day=1)


def _next(bucket: datetime, interval: Interval) -> datetime:
    if interval is Interval.HOUR:
        return bucket + timedelta(hours=1)
    if interval is Interval.DAY:
        return bucket + timedelta(days=1)
    if interval is Interval.WEEK:
        return bucket + timedelta(weeks=1)
    month0 = bucket.month
    return bucket.replace(year=bucket.year + month0 // 12, month=month0 % 12 + 1)


def local_naive(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


MAX_BUCKETS = 5000


def _exists(local: datetime, tz: ZoneInfo) -> bool:
    return local_naive(local.replace(tzinfo=tz).astimezone(UTC), tz) == local


def resolve(date_range: DateRange, interval: Interval, timezone: str, now: datetime) -> Window:
    """The UTC window of a date range and its buckets; `now` is injected (aware)."""
    start, end = span(date_range, timezone, now)
    return between(start, end, interval, ZoneInfo(timezone))


def span(date_range: DateRange, timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a date range, aware, for insights without buckets."""
    tz = ZoneInfo(timezone)
    start = _point(date_range.date_from, now, tz, is_end=False)
    # Open-ended ranges run up to and including now.
    end = (
        now + timedelta(microseconds=1)
        if date_range.date_to is None
        else _point(date_range.date_to, now, tz, is_end=True)
    )
    if end <= start:
        raise InvalidInput("date_range: it ends before it starts")
    return start, end


def between(
    start: datetime, end: datetime, interval: Interval, tz: ZoneInfo, *, field: str = "interval"
) -> Window:
    """The window [start, end) with the local buckets that cover it (too many: a 400 naming
    the spec's `field`)."""
    buckets: list[datetime] = []
    bucket = truncate(local_naive(start, tz), interval)
    last = local_naive(end - timedelta(microseconds=1), tz)
    while bucket <= last:
        if _exists(bucket, tz):  # not the hour skipped when clocks go forward
            buckets.append(bucket)
        if len(buckets) > MAX_BUCKETS:
            raise InvalidInput(f"{field}: more than {MAX_BUCKETS} {interval}s in the date range")
        bucket = _next(bucket, interval)
    return Window(start=start, end=end, buckets=buckets)


def previous(window: Window, interval: Interval, timezone: str) -> Window:
    """The period of the same length just before `window`, to compare with."""
    length = window.end - window.start
    return between(window.start - length, window.start, interval, ZoneInfo(timezone))


def bucket_ends(window: Window, timezone: str) -> list[datetime]:
    """Where each bucket ends, in UTC: the next bucket's start, and the window's end last."""
    tz = ZoneInfo(timezone)
    starts = [b.replace(tzinfo=tz).astimezone(UTC) for b in window.buckets[1:]]
    return [*starts, window.end]


def _back(bucket: datetime, interval: Interval) -> datetime:
    if interval is Interval.HOUR:
        return bucket - timedelta(hours=1)
    if interval is Interval.DAY:
        return bucket - timedelta(days=1)
    if interval is Interval.WEEK:
        return bucket - timedelta(weeks=1)
    return datetime.combine(_add_months(bucket.date(), -1), time())


def periods_ending(
    date_to: str | None, interval: Interval, periods: int, timezone: str, now: datetime
) -> Window:
    """The `periods` whole buckets up to the one holding `date_to` (now when None), that one
    ending at `date_to` (so the last may be partial)."""
    if interval is Interval.HOUR:
        raise InvalidInput("period: day, week or month")
    tz = ZoneInfo(timezone)
    end = (
        now + timedelta(microseconds=1)
        if date_to is None
        else _point(date_to, now, tz, is_end=True)
    )
    first = truncate(local_naive(end - timedelta(microseconds=1), tz), interval)
    for _ in range(periods - 1):
        first = _back(first, interval)
    return between(_local_midnight(first.date(), tz), end, interval, tz)


def before(bucket: datetime, interval: Interval, timezone: str) -> datetime:
    """The bucket just before a local bucket start (skipping an hour that does not exist)."""
    tz = ZoneInfo(timezone)
    earlier = _back(bucket, interval)
    while not _exists(earlier, tz):
        earlier = _back(earlier, interval)
    return earlier


def utc_offsets(start: datetime, end: datetime, timezone: str) -> list[tuple[datetime, int]]:
    """The time zone's UTC offsets over [start, end): (from when, in UTC, seconds east of UTC)
    for each change, the first in effect from the start (and, for SQL, also before it)."""
    tz = ZoneInfo(timezone)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    found = [(start, offset(start))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != found[-1][1]:
            lo, hi = day, following  # the change is in (lo, hi]: bisect to the second
            while hi - lo > timedelta(seconds=1):
                middle = lo + (hi - lo) / 2
                if offset(middle) == found[-1][1]:
                    lo = middle
                else:
                    hi = middle
            change = hi.replace(microsecond=0)
            if offset(change) == found[-1][1]:
                change += timedelta(seconds=1)
            found.append((change, offset(change)))
        day = following
    return found


# Bucket lengths that do not depend on the calendar, in seconds.
_FIXED = {Interval.HOUR: 3600, Interval.DAY: 86400, Interval.WEEK: 7 * 86400}
# Bits a BIGINT mask may use (0 .. MASK_BITS), one per bucket.
MASK_BITS = 62


def fixed_length(
    buckets: list[datetime], interval: Interval, offsets: list[tuple[datetime, int]]
) -> int | None:
    """The length in seconds shared by `buckets` (consecutive local bucket starts), when the
    UTC offset does not change over them (`offsets` from `utc_offsets`): then a bucket is a
    plain division of UTC time, and an event's bucket index is arithmetic. None otherwise
    (months, or a daylight-saving change)."""
    length = _FIXED.get(interval)
    if length is None or len(offsets) != 1:
        return None
    step = timedelta(seconds=length)
    if any(b - a != step for a, b in pairwise(buckets)):
        return None
    return length
