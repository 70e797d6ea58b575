"""How a batch of events changes persons: creation, identify/alias merges, property updates.

The rules are backend-independent and live here; a backend supplies lookups of its current
state (`PersonSource`) and persists the returned `PersonChanges` in the same transaction as
the events.
"""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Sequence
from typing import Any, Protocol

from userlens.model.event import CapturedEvent

PERSON_NAMESPACE = uuidlib.UUID("6f1c3f2e-5b0a-4c39-9f55-3d1c2f0e8a41")

ProjectKey = tuple[int, str]


def person_uuid(project_id: int, distinct_id: str) -> str:
    """The id a person gets when first seen: derived from its first distinct id, so a replayed
    batch creates the same person again rather than a twin."""
    return str(uuidlib.uuid5(PERSON_NAMESPACE, f"{project_id}:{distinct_id}"))


@dataclasses.dataclass(slots=True)
class PersonRow:
    id: str
    created_at_us: int
    properties: dict[str, Any]
    is_identified: bool


class PersonSource(Protocol):
    """Read access to a backend's committed person state."""

    def persons_of(self, keys: Sequence[ProjectKey]) -> dict[ProjectKey, str]:
        """Person id of each (project, distinct_id) that has one."""
        ...

    def load_persons(self, keys: Sequence[ProjectKey]) -> dict[ProjectKey, PersonRow]:
        """Person rows for (project, person_id) keys that exist."""
        ...

    def distinct_ids_of(self, project_id: int, person_id: str) -> list[str]: ...


@dataclasses.dataclass(slots=True)
class PersonChanges:
    """Everything to persist for one batch."""

    upserts: dict[ProjectKey, PersonRow] = dataclasses.field(default_factory=dict)
    deleted: set[ProjectKey] = dataclasses.field(default_factory=set)
    distinct_ids: dict[ProjectKey, str] = dataclasses.field(default_factory=dict)
    # (project, old person) -> surviving person, for events already stored under the old id.
    overrides: dict[ProjectKey, str] = dataclasses.field(default_factory=dict)


def _changes_person(e: CapturedEvent) -> bool:
    return bool(
        e.set_props
        or e.set_once_props
        or e.unset_props
        or e.anon_distinct_id
        or e.alias
        or e.event == "$identify"
    )


class PersonProcessor:
    """Applies a batch's person semantics, in event order, on top of a `PersonSource`."""

    def __init__(self, source: PersonSource) -> None:
        self._source = source
        self._ids: dict[ProjectKey, str] = {}
        self._rows: dict[ProjectKey, PersonRow] = {}
        self.changes = PersonChanges()

    def process(self, events: Sequence[CapturedEvent]) -> PersonChanges:
        self._prefetch(events)
        for event in events:
            self._apply(event)
        return self.changes

    def _prefetch(self, events: Sequence[CapturedEvent]) -> None:
        keys: set[ProjectKey] = set()
        for e in events:
            keys.add((e.project_id, e.distinct_id))
            for other in (e.anon_distinct_id, e.alias):
                if other:
                    keys.add((e.project_id, other))
        self._ids.update(self._source.persons_of(sorted(keys)))
        # Rows of the persons this batch changes, in one lookup rather than one per person.
        wanted: set[ProjectKey] = set()
        for e in events:
            if _changes_person(e):
                for distinct_id in (e.distinct_id, e.anon_distinct_id, e.alias):
                    pid = self._ids.get((e.project_id, distinct_id)) if distinct_id else None
                    if pid is not None:
                        wanted.add((e.project_id, pid))
        if wanted:
            self._rows.update(self._source.load_persons(sorted(wanted)))

    def _apply(self, event: CapturedEvent) -> None:
        project = event.project_id
        other, mode = self._link_target(event)
        if other is not None:
            self._adopt(project, event.distinct_id, other, mode)
        pid = self._person_for(project, event.distinct_id, event.timestamp_us)
        if other is not None:
            pid = self._link(project, event.distinct_id, other, event, mode)
        if event.event == "$identify":
            row = self._row(project, pid)
            if not row.is_identified:
                row.is_identified = True
                self._touch(project, row)
        if event.set_props or event.set_once_props or event.unset_props:
            self._update_properties(project, pid, event)
        event.person_id = pid

    @staticmethod
    def _link_target(event: CapturedEvent) -> tuple[str | None, str]:
        if event.anon_distinct_id and event.anon_distinct_id != event.distinct_id:
            return event.anon_distinct_id, "identify"
        if event.alias and event.alias != event.distinct_id:
            return event.alias, "force" if event.event == "$merge_dangerously" else "alias"
        return None, ""

    def _adopt(self, project: int, distinct_id: str, other_id: str, mode: str) -> None:
        """A new distinct id joins the other id's person instead of getting its own."""
        if (project, distinct_id) in self._ids:
            return
        other_pid = self._ids.get((project, other_id))
        if other_pid is None:
            return
        if mode == "identify" and self._row(project, other_pid).is_identified:
            return
        self._assign(project, distinct_id, other_pid)

    def _person_for(self, project: int, distinct_id: str, ts_us: int) -> str:
        key = (project, distinct_id)
        pid = self._ids.get(key)
        if pid is None:
            pid = person_uuid(project, distinct_id)
            self._ids[key] = pid
            self.changes.distinct_ids[key] = pid
            row = PersonRow(id=pid, created_at_us=ts_us, properties={}, is_identified=False)
            self._rows[(project, pid)] = row
            self.changes.deleted.discard((project, pid))
            self.changes.upserts[(project, pid)] = row
        return pid

    def _row(self, project: int, pid: str) -> PersonRow:
        key = (project, pid)
        row = self._rows.get(key)
        if row is None:
            loaded = self._source.load_persons([key]).get(key)
            # A distinct id can point at a person row that is gone only if the store was
            # edited by hand; recreate it rather than fail the batch.
            row = loaded or PersonRow(id=pid, created_at_us=0, properties={}, is_identified=False)
            self._rows[key] = row
        return row

    def _touch(self, project: int, row: PersonRow) -> None:
        self.changes.upserts[(project, row.id)] = row

    def _link(
        self, project: int, main_id: str, other_id: str, event: CapturedEvent, mode: str
    ) -> str:
        """Make `other_id` (an anonymous id or alias) belong to `main_id`'s person."""
        main_pid = self._ids[(project, main_id)]
        other_pid = self._ids.get((project, other_id))
        if other_pid is None:
            self._assign(project, other_id, main_pid)
            return main_pid
        if other_pid == main_pid:
            return main_pid
        other_row = self._row(project, other_pid)
        main_row = self._row(project, main_pid)
        if mode == "identify" and other_row.is_identified:
            # The anonymous id already belongs to someone identified (a shared device):
            # merging would join two real people, so keep them apart.
            return main_pid
        if mode == "alias" and other_row.is_identified and main_row.is_identified:
            return main_pid
        self._merge(project, source=other_row, target=main_row, event=event)
        return main_pid

    def _assign(self, project: int, distinct_id: str, pid: str) -> None:
        self._ids[(project, distinct_id)] = pid
        self.changes.distinct_ids[(project, distinct_id)] = pid

    def _merge(
        self, project: int, *, source: PersonRow, target: PersonRow, event: CapturedEvent
    ) -> None:
        moved = set(self._source.distinct_ids_of(project, source.id))
        moved.update(d for (p, d), pid in self._ids.items() if p == project and pid == source.id)
        for distinct_id in moved:
            self._assign(project, distinct_id, target.id)
        merged = dict(source.properties)
        merged.update(target.properties)
        target.properties = merged
        target.created_at_us = min(
            x for x in (source.created_at_us, target.created_at_us, event.timestamp_us) if x > 0
        )
        target.is_identified = True
        self._touch(project, target)
        source_key = (project, source.id)
        self.changes.upserts.pop(source_key, None)
        self._rows.pop(source_key, None)
        self.changes.deleted.add(source_key)
        for key, survivor in list(self.changes.overrides.items()):
            if survivor == source.id:
                self.changes.overrides[key] = target.id
        self.changes.overrides[source_key] = target.id

    def _update_properties(self, project: int, pid: str, event: CapturedEvent) -> None:
        row = self._row(project, pid)
        props = row.properties
        before = dict(props)
        for key, value in (event.set_once_props or {}).items():
            props.setdefault(key, value)
        props.update(event.set_props or {})
        for key in event.unset_props or ():
            props.pop(key, None)
        if props != before:
            self._touch(project, row)
