"""The `EventStore` protocol every event backend implements, checked by one conformance suite."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from userlens.model.event import (
    CapturedEvent,
    EventCursor,
    EventFilter,
    EventPage,
    Person,
    WriteResult,
)
from userlens.model.recording import (
    PersonDeletion,
    ProjectDeletion,
    RecordingChunk,
    SessionCursor,
    SessionFilter,
    SessionPage,
)
from userlens.store.sql import Query


class EventStore(Protocol):
    """Events and persons of every project.

    `write` is called by one writer at a time and is atomic: the whole batch is committed
    (events deduplicated by (project, uuid), persons updated) or nothing is. Reads may run
    concurrently with a write from other threads.
    """

    #: The SQL dialect of `query`: "duckdb" or "clickhouse".
    dialect: str

    def write(
        self, events: Sequence[CapturedEvent], chunks: Sequence[RecordingChunk] = ()
    ) -> WriteResult: ...

    def idle(self) -> None:
        """The writer has nothing queued: a moment for housekeeping that would slow a write."""

    def events(
        self,
        project_id: int,
        filters: EventFilter,
        *,
        limit: int,
        cursor: EventCursor | None = None,
    ) -> EventPage: ...

    def person(self, project_id: int, distinct_id: str) -> Person | None: ...

    def recording_chunks(self, project_id: int, session_id: str) -> list[RecordingChunk]:
        """Chunks of one session, oldest first."""
        ...

    def sessions(
        self,
        project_id: int,
        filters: SessionFilter,
        *,
        limit: int,
        cursor: SessionCursor | None = None,
    ) -> SessionPage:
        """Recorded sessions, newest first, with what the session list shows."""
        ...

    def delete_person(
        self, project_id: int, distinct_id: str, *, before_commit: Callable[[PersonDeletion], None]
    ) -> PersonDeletion:
        """Delete the person behind `distinct_id`: their events, person rows and recording
        index, in one transaction. `before_commit` runs inside it (to delete blobs first, so a
        crash can never leave recordings without the index that finds them)."""
        ...

    def delete_project(
        self, project_id: int, *, before_commit: Callable[[ProjectDeletion], None]
    ) -> ProjectDeletion:
        """Delete every event, person and recording index row of a project, in one transaction
        where the store has them; `before_commit` runs inside it (to delete blobs first)."""
        ...

    def expire_recordings(
        self, project_id: int, before: datetime, *, before_commit: Callable[[list[str]], None]
    ) -> list[str]:
        """Forget recording chunks that ended before `before`; `before_commit` gets their blob
        keys inside the transaction (to delete the blobs first)."""
        ...

    def compactable_windows(
        self, project_id: int, received_before: datetime
    ) -> list[tuple[str, str]]:
        """(session, window) pairs stored in more than one chunk, none received since
        `received_before`: recordings that are over and can be merged into one blob."""
        ...

    def replace_chunks(self, project_id: int, old_keys: Sequence[str], new: RecordingChunk) -> bool:
        """Swap the chunks `old_keys` for `new` in one transaction. False (and no change) when
        any of them is gone already (deleted by retention or a person deletion meanwhile)."""
        ...

    def data_version(self, project_id: int) -> int:
        """A number that changes whenever the project's events or persons change (in this
        process), so answers computed from them can be cached until it does."""
        ...

    def query(self, project_id: int, query: Query) -> list[tuple[Any, ...]]:
        """Run an insight query (see `store.sql`) over one project's data."""
        ...

    def count_events(self, project_id: int) -> int: ...

    def close(self) -> None: ...


def unique_events(events: Sequence[CapturedEvent]) -> list[CapturedEvent]:
    """The batch without repeats of a (project, uuid), the first of each kept."""
    seen: set[tuple[int, str]] = set()
    out: list[CapturedEvent] = []
    for e in events:
        key = (e.project_id, e.uuid)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def event_key(event: CapturedEvent) -> tuple[int, str]:
    """(project, uuid in its canonical lower-case form): how a store recognises an event it
    has stored before, whatever case or spelling the sender used."""
    return event.project_id, str(uuid.UUID(event.uuid))
