"""Recordings out of storage: a session's chunks assembled for the player, and deletion."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import zstandard

from userlens.errors import NotFound
from userlens.model.recording import PersonDeletion, ProjectDeletion
from userlens.replay.snapshots import assemble_session
from userlens.store.blobs import BlobStore
from userlens.store.events import EventStore


def session_events(
    store: EventStore, blobs: BlobStore, project_id: int, session_id: str
) -> list[dict[str, Any]]:
    """Every stored rrweb event of a session, decoded, merged and ordered for the Replayer.

    Raises `NotFound` when the session has no recording.
    """
    chunks = store.recording_chunks(project_id, session_id)
    if not chunks:
        raise NotFound(f"no recording for session {session_id}")
    reader = zstandard.ZstdDecompressor()
    windows: dict[str, list[dict[str, Any]]] = {}
    with _collector_paused():
        for chunk in chunks:
            try:
                data = blobs.get(chunk.blob_key)
            except NotFound:
                continue  # deleted under us (retention or a person deletion): play the rest
            windows.setdefault(chunk.window_id, []).extend(orjson.loads(reader.decompress(data)))
        return assemble_session(windows)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsed JSON makes hundreds of thousands of objects and no reference cycles: the cyclic
    garbage collector would run over and over and find nothing (most of the time a long
    recording takes to load). Paused while they are built; reference counting still frees."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def delete_person(
    store: EventStore, blobs: BlobStore, project_id: int, distinct_id: str
) -> PersonDeletion:
    """Remove a person's events, person record and recordings now, not at a later sweep.

    Blobs go first, inside the store's transaction: if anything fails the index still points
    at whatever is left, so a retry finds and removes it.
    """
    return store.delete_person(project_id, distinct_id, before_commit=_remover(blobs))


def delete_project_data(store: EventStore, blobs: BlobStore, project_id: int) -> ProjectDeletion:
    """Remove a project's events, persons and recordings; blobs first, as for a person."""
    return store.delete_project(project_id, before_commit=_remover(blobs))


def _remover(blobs: BlobStore) -> Callable[[PersonDeletion | ProjectDeletion], None]:
    """What a deletion runs before its commit: delete the blobs under the plan's prefixes."""

    def remove(plan: PersonDeletion | ProjectDeletion) -> None:
        for prefix in plan.blob_prefixes:
            blobs.delete_prefix(prefix)

    return remove
