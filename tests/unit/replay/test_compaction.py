"""Finished recordings are compacted: one blob per window, the same replay, less room, and
still deleted with their person."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import Env, FakeClock
from tests.unit.replay.test_recording_api import T0, click, post_s, record_session, snapshot
from userlens.model.recording import RecordingChunk
from userlens.replay.compaction import compact_recordings, compact_window
from userlens.replay.recordings import delete_person
from userlens.store.events import EventStore

IDLE = timedelta(minutes=40)


def _blobs(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _now(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now_us / 1e6, tz=UTC)


def _replay(env: Env, session: str) -> Any:
    url = f"/api/projects/{env.project.id}/sessions/{session}/snapshots"
    resp = env.client.get(url, headers=env.auth)
    assert resp.status_code == 200
    return resp.json()


def _sessions(env: Env) -> Any:
    url = f"/api/projects/{env.project.id}/sessions"
    return env.client.get(url, headers=env.auth).json()["results"]


def test_finished_recordings_become_one_blob_per_window(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    session = f"s-{uuid.uuid4().hex}"
    record_session(env, "d1", session)
    # More w1 chunks, each a near copy of the others: what compression across chunks wins.
    for i in range(6):
        data = [click(T0 + 5000 + i * 10 + j) for j in range(40)]
        assert post_s(env, [snapshot(env, "d1", session, "w1", data)]).status_code == 200
    env.flush()
    services = env.app.services
    before_blobs = _blobs(env.settings.blobs_dir)
    before_replay = _replay(env, session)
    before_list = _sessions(env)
    assert len(before_blobs) == 9

    # Still receiving: nothing is touched.
    now = _now(clock)
    projects = services.meta.projects()
    assert compact_recordings(services.events, services.blobs, projects, now, idle=IDLE) == 0
    assert _blobs(env.settings.blobs_dir) == before_blobs

    later = now + IDLE + timedelta(seconds=1)
    assert compact_recordings(services.events, services.blobs, projects, later, idle=IDLE) == 1
    after_blobs = _blobs(env.settings.blobs_dir)
    windows = sorted(key.split("/")[3] for key in after_blobs)
    assert windows == ["w1", "w2"]  # w2 had one chunk: left as it was
    assert sum(after_blobs.values()) < sum(before_blobs.values())
    assert _replay(env, session) == before_replay
    after_list = _sessions(env)
    assert [{k: v for k, v in s.items() if k != "recording_bytes"} for s in after_list] == [
        {k: v for k, v in s.items() if k != "recording_bytes"} for s in before_list
    ]
    assert after_list[0]["recording_bytes"] < before_list[0]["recording_bytes"]
    # Idempotent: nothing left to merge.
    assert compact_recordings(services.events, services.blobs, projects, later, idle=IDLE) == 0

    # Deleting the person still takes every byte of the compacted recording.
    delete_person(services.events, services.blobs, env.project.id, "d1")
    assert _blobs(env.settings.blobs_dir) == {}


class _DeletesMidway:
    """The real store, with a person deletion landing just before compaction swaps chunks."""

    def __init__(self, store: EventStore, delete: Callable[[], None]) -> None:
        self._store = store
        self._delete = delete

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def replace_chunks(self, project_id: int, old_keys: Sequence[str], new: RecordingChunk) -> bool:
        self._delete()
        return self._store.replace_chunks(project_id, old_keys, new)


def test_a_deletion_during_compaction_wins(make_env: Callable[..., Env]) -> None:
    env = make_env()
    session = f"s-{uuid.uuid4().hex}"
    record_session(env, "d2", session)
    services = env.app.services
    store = _DeletesMidway(
        services.events,
        lambda: delete_person(services.events, services.blobs, env.project.id, "d2"),
    )
    merged = compact_window(store, services.blobs, env.project.id, session, "w1")  # type: ignore[arg-type]
    assert merged is False
    assert _blobs(env.settings.blobs_dir) == {}  # the merged blob was removed again
    assert _sessions(env) == []


def test_the_server_compacts_on_its_own(make_env: Callable[..., Env]) -> None:
    env = make_env(compaction_interval_s=1, compact_after_s=0)
    session = f"s-{uuid.uuid4().hex}"
    record_session(env, "d3", session)
    before = _replay(env, session)
    assert len(_blobs(env.settings.blobs_dir)) == 3
    deadline = time.monotonic() + 10
    while len(_blobs(env.settings.blobs_dir)) > 2:  # w1's two chunks become one
        assert time.monotonic() < deadline, "compaction did not run"
        time.sleep(0.1)
    assert _replay(env, session) == before
