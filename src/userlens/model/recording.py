"""Session recordings: chunk metadata and the session list."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any


@dataclasses.dataclass(slots=True)
class RecordingChunk:
    """One stored blob of rrweb events of one window of one session."""

    project_id: int
    session_id: str
    window_id: str
    distinct_id: str
    blob_key: str
    first_ts_us: int
    last_ts_us: int
    event_count: int
    bytes: int
    has_full_snapshot: bool
    clicks: int
    console_errors: int
    href: str | None
    received_at_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class SessionSummary:
    """A recorded session as the session list shows it."""

    session_id: str
    distinct_id: str
    person_id: str | None
    start: datetime
    end: datetime
    duration_s: float
    windows: int
    recording_bytes: int
    clicks: int
    console_errors: int
    first_url: str | None
    pageviews: int
    errors: int
    rage_clicks: int
    dead_clicks: int
    browser: str | None
    os: str | None
    device_type: str | None
    country: str | None
    # What the person is called: their `email` (or `name`) property, when they have one.
    person_name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SessionFilter:
    distinct_id: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    min_duration_s: float | None = None
    has_errors: bool | None = None
    # A page whose URL contains this (any case) was visited in the session.
    url_contains: str | None = None
    # An event of this name happened in the session.
    did_event: str | None = None
    has_rage_clicks: bool | None = None
    has_dead_clicks: bool | None = None
    browser: str | None = None
    os: str | None = None
    device_type: str | None = None
    country: str | None = None
    # The session's person (after merges) is one of these person ids (a cohort's members).
    person_ids: tuple[str, ...] | None = None
    # "start" (newest first, the default: pages with a cursor), "duration", "errors" or
    # "activity" (clicks), each largest first.
    sort: str = "start"


@dataclasses.dataclass(frozen=True, slots=True)
class SessionCursor:
    start: datetime
    session_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: tuple[SessionSummary, ...]
    next_cursor: SessionCursor | None


@dataclasses.dataclass(frozen=True, slots=True)
class PersonDeletion:
    """What deleting a person removed."""

    events: int
    distinct_ids: tuple[str, ...]
    sessions: tuple[str, ...]
    blob_prefixes: tuple[str, ...]

    def fields(self) -> dict[str, Any]:
        """What the CLI prints of it (`--json`)."""
        return {
            "events": self.events,
            "distinct_ids": list(self.distinct_ids),
            "sessions": list(self.sessions),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ProjectDeletion:
    """What deleting a project's data removed: its events, persons and recordings (the blobs
    under `blob_prefixes`)."""

    events: int
    persons: int
    recorded_sessions: int
    blob_prefixes: tuple[str, ...]

    def fields(self) -> dict[str, Any]:
        """What the CLI prints of it (`--json`)."""
        return {
            "events": self.events,
            "persons": self.persons,
            "recorded_sessions": self.recorded_sessions,
        }
