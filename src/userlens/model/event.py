"""Events as captured and as stored, and persons."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

# Columns of the events table that queries filter on, in storage order. `properties` holds
# the full property set as JSON; these columns are copies of the most used ones.
EVENT_COLUMNS: tuple[str, ...] = (
    "project_id",
    "uuid",
    "event",
    "distinct_id",
    "person_id",
    "timestamp",
    "received_at",
    "session_id",
    "window_id",
    "current_url",
    "pathname",
    "referrer",
    "referring_domain",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device_type",
    "country",
    "lib",
    "lib_version",
    "properties",
)


@dataclasses.dataclass(slots=True)
class CapturedEvent:
    """One validated, enriched event on its way to the store.

    Times are microseconds since the Unix epoch, UTC. `person_id` is filled in by the writer,
    which alone knows how distinct ids map to persons.
    """

    project_id: int
    uuid: str
    event: str
    distinct_id: str
    timestamp_us: int
    received_at_us: int
    properties_json: str
    session_id: str | None = None
    window_id: str | None = None
    current_url: str | None = None
    pathname: str | None = None
    referrer: str | None = None
    referring_domain: str | None = None
    browser: str | None = None
    browser_version: str | None = None
    os: str | None = None
    os_version: str | None = None
    device_type: str | None = None
    country: str | None = None
    lib: str | None = None
    lib_version: str | None = None
    # Person instructions carried by the event; they are not columns.
    set_props: dict[str, Any] | None = None
    set_once_props: dict[str, Any] | None = None
    unset_props: list[str] | None = None
    anon_distinct_id: str | None = None
    alias: str | None = None
    person_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the store."""

    uuid: str
    event: str
    distinct_id: str
    person_id: str | None
    timestamp: datetime
    received_at: datetime
    session_id: str | None
    window_id: str | None
    current_url: str | None
    pathname: str | None
    referrer: str | None
    referring_domain: str | None
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str | None
    country: str | None
    lib: str | None
    lib_version: str | None
    properties: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Person:
    """A person: one human behind one or more distinct ids."""

    id: str
    created_at: datetime
    properties: dict[str, Any]
    distinct_ids: tuple[str, ...]
    is_identified: bool


@dataclasses.dataclass(frozen=True, slots=True)
class EventFilter:
    """What `EventStore.events` may filter on. Times are inclusive-exclusive [after, before)."""

    event: str | None = None
    distinct_id: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    session_id: str | None = None
    # Only these events (by uuid), when given.
    uuids: tuple[str, ...] | None = None
    # Only the events of this person (by id, after merges: all of their distinct ids).
    person_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EventCursor:
    """Where the next page starts: events are listed newest first by (timestamp, uuid)."""

    timestamp: datetime
    uuid: str


@dataclasses.dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[StoredEvent, ...]
    next_cursor: EventCursor | None


@dataclasses.dataclass(frozen=True, slots=True)
class WriteResult:
    """What one committed batch did."""

    received: int
    inserted: int
