"""Recording compaction: once a recording is over, its many small chunks (one per ~2 s flush)
become one blob per window, compressed much harder.

A chunk compressed on its own cannot use what the chunks before it already said (the same DOM,
the same mouse paths), so a finished recording merged and compressed again at a high zstd level
takes a fraction of the room. The merged blob is written first, then the index swaps the old
chunks for it in one transaction, and only then are the old blobs deleted: a crash at any point
leaves a playable recording (at worst with an unreferenced blob, removed with the session).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
import zstandard

from userlens.errors import NotFound
from userlens.model.project import Project
from userlens.model.recording import RecordingChunk
from userlens.replay.snapshots import sorted_unique
from userlens.store.blobs import BlobStore
from userlens.store.events import EventStore

log = logging.getLogger(__name__)

COMPACT_LEVEL = 19


def compact_window(
    store: EventStore,
    blobs: BlobStore,
    project_id: int,
    session_id: str,
    window_id: str,
    *,
    level: int = COMPACT_LEVEL,
) -> bool:
    """Merge one window's chunks into one blob. False when there was nothing to merge or the
    chunks changed under us (the merged blob is then removed again)."""
    chunks = [c for c in store.recording_chunks(project_id, session_id) if c.window_id == window_id]
    if len(chunks) < 2:
        return False
    reader = zstandard.ZstdDecompressor()
    events: list[dict[str, Any]] = []
    present: list[RecordingChunk] = []
    for chunk in chunks:
        try:
            events.extend(orjson.loads(reader.decompress(blobs.get(chunk.blob_key))))
        except NotFound:
            continue  # a blob lost earlier: its index row goes with the others
        present.append(chunk)
    merged = sorted_unique(events)
    data = zstandard.ZstdCompressor(level=level).compress(orjson.dumps(merged))
    first = min(chunks, key=lambda c: c.first_ts_us)
    key = (
        f"recordings/{project_id}/{session_id}/{window_id}/"
        f"{first.first_ts_us // 1000:013d}-{uuid.uuid4().hex}.json.zst"
    )
    new = RecordingChunk(
        project_id=project_id,
        session_id=session_id,
        window_id=window_id,
        distinct_id=first.distinct_id,
        blob_key=key,
        first_ts_us=first.first_ts_us,
        last_ts_us=max(c.last_ts_us for c in chunks),
        event_count=len(merged),
        bytes=len(data),
        has_full_snapshot=any(c.has_full_snapshot for c in present),
        clicks=sum(c.clicks for c in present),
        console_errors=sum(c.console_errors for c in present),
        href=first.href,
        received_at_us=max(c.received_at_us for c in chunks),
    )
    blobs.put(key, data)
    if not store.replace_chunks(project_id, [c.blob_key for c in chunks], new):
        blobs.delete_prefix(key)
        return False
    for chunk in chunks:
        blobs.delete_prefix(chunk.blob_key)
    return True


def compact_recordings(
    store: EventStore,
    blobs: BlobStore,
    projects: Iterable[Project],
    now: datetime,
    *,
    idle: timedelta,
    level: int = COMPACT_LEVEL,
) -> int:
    """Compact every window that received nothing for `idle`; returns how many were merged."""
    merged = 0
    for project in projects:
        for session_id, window_id in store.compactable_windows(project.id, now - idle):
            if compact_window(store, blobs, project.id, session_id, window_id, level=level):
                merged += 1
    return merged
