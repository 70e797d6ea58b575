"""The retention sweep: recordings older than their project's setting are deleted."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from userlens.model.project import Project
from userlens.store.blobs import BlobStore
from userlens.store.events import EventStore


def expire_recordings(
    store: EventStore, blobs: BlobStore, projects: Iterable[Project], now: datetime
) -> int:
    """Delete every recording chunk that ended before its project's retention window.

    Returns how many chunks went. Blobs are deleted inside the index transaction, so a crash
    leaves, at worst, index rows whose blobs are gone (skipped on playback, swept next time).
    """

    def remove(keys: list[str]) -> None:
        for key in keys:
            blobs.delete_prefix(key)

    expired = 0
    for project in projects:
        cutoff = now - timedelta(days=project.recording.retention_days)
        expired += len(store.expire_recordings(project.id, cutoff, before_commit=remove))
    return expired
