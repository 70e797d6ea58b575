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
