"""The `EventStore` protocol every event backend implements, checked by one conformance suite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from userlens.model.event import (
    CapturedEvent,
    EventCursor,
    EventFilter,
    EventPage,
    Person,
    WriteResult,
)


class EventStore(Protocol):
    """Events and persons of every project.

    `write` is called by one writer at a time and is atomic: the whole batch is committed
    (events deduplicated by (project, uuid), persons updated) or nothing is. Reads may run
    concurrently with a write from other threads.
    """

    def write(self, events: Sequence[CapturedEvent]) -> WriteResult: ...

    def events(
        self,
        project_id: int,
        filters: EventFilter,
        *,
        limit: int,
        cursor: EventCursor | None = None,
    ) -> EventPage: ...

    def person(self, project_id: int, distinct_id: str) -> Person | None: ...

    def count_events(self, project_id: int) -> int: ...

    def close(self) -> None: ...
