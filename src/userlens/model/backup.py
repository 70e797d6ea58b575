"""What a backup holds: a whole data directory's copy, as of the moment it started."""

from __future__ import annotations

import dataclasses
from datetime import datetime


@dataclasses.dataclass(frozen=True, slots=True)
class BackupCounts:
    """What the event store's copy holds."""

    events: int
    persons: int
    recorded_sessions: int
    recording_chunks: int


@dataclasses.dataclass(frozen=True, slots=True)
class BackupInfo:
    """One finished backup: a folder under the backups directory named `name`, laid out as a
    data directory (`events.duckdb`, `metadata.sqlite3`, `blobs/`) plus its `backup.json`."""

    name: str
    created_at: datetime
    seconds: float
    events: int
    persons: int
    recorded_sessions: int
    recording_chunks: int
    metadata: bool  # False when the metadata is not in SQLite (back PostgreSQL up apart)
    bytes: int
    version: str  # of Userlens that wrote it
    # Deletions made since the backup that are still to be applied to it (see `Erasure`):
    # applied within a minute to a backup this version can open, else when it is restored.
    pending_erasures: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Erasure:
    """A deletion that backups made before it must repeat, so that it never comes back: a
    person, by every distinct id they had when deleted (a backup may hold them before some
    of those ids were merged), or a whole project (no distinct ids)."""

    project_id: int
    distinct_ids: tuple[str, ...] = ()
