"""The stores keep UTC times without a zone; the rest of Userlens uses aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def to_utc(value: datetime) -> datetime:
    """A time read from a store, as an aware UTC datetime."""
    return value.replace(tzinfo=UTC)


def to_naive(value: datetime) -> datetime:
    """A time for a store parameter: UTC, zone dropped."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
