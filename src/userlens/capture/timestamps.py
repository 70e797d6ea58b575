"""Event time: parsing the forms SDKs send, and correcting client clock skew."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from userlens.errors import EventRejected

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_US = int((datetime(2000, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()) * 1_000_000
MAX_US = int((datetime(2100, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()) * 1_000_000
FUTURE_LIMIT_US = 23 * 3600 * 1_000_000


def to_us(value: Any, field: str) -> int:
    """Microseconds since the epoch from an ISO 8601 string or a number of milliseconds."""
    if isinstance(value, bool):
        raise EventRejected("invalid_timestamp", f"{field} must be a time, not a boolean")
    if isinstance(value, int | float):
        if not MIN_US <= value * 1000 < MAX_US:  # also catches inf and nan
            raise EventRejected("invalid_timestamp", f"{field} is outside the years 2000-2099")
        us = int(value * 1000)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            if len(text) > 16:
                raise EventRejected("invalid_timestamp", f"{field} is not a plausible time")
            us = int(text) * 1000
        else:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError as exc:
                raise EventRejected(
                    "invalid_timestamp", f"{field} is not an ISO 8601 time: {value[:64]!r}"
                ) from exc
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            # Whole seconds from the float are exact in this range; microseconds come exactly
            # from the datetime (cheaper than timedelta arithmetic on the hot path).
            us = int(parsed.timestamp()) * 1_000_000 + parsed.microsecond
    else:
        raise EventRejected("invalid_timestamp", f"{field} must be a string or a number")
    if not MIN_US <= us < MAX_US:
        raise EventRejected("invalid_timestamp", f"{field} is outside the years 2000-2099")
    return us


def event_time_us(
    event: dict[str, Any],
    properties: dict[str, Any],
    sent_at: Any,
    now_us: int,
    *,
    historical: bool,
) -> int:
    """When the event happened, corrected for the client's clock as the protocol says.

    With `offset` (ms before sending) the time is now - offset. With both `timestamp` and a
    send time, the client's clock error cancels out: now + (timestamp - sent_at). Otherwise the
    given timestamp, else now. Times more than 23 h ahead of the server are clamped to now.
    """
    offset = event.get("offset")
    raw_ts = event.get("timestamp")
    if offset is not None:
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float)
            or not abs(offset * 1000) < MAX_US  # also catches inf and nan
        ):
            raise EventRejected("invalid_offset", "offset must be a plausible number of ms")
        ts = now_us - int(offset * 1000)
    elif raw_ts is not None:
        ts = to_us(raw_ts, "timestamp")
        item_sent_at = event.get("sent_at", sent_at)
        if item_sent_at is not None and not historical and not properties.get("$ignore_sent_at"):
            ts = now_us + (ts - to_us(item_sent_at, "sent_at"))
    else:
        ts = now_us
    if ts > now_us + FUTURE_LIMIT_US:
        return now_us
    if ts < MIN_US:
        raise EventRejected("invalid_timestamp", "event time is before the year 2000")
    return ts
