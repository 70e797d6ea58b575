"""Recordings older than their project's retention are deleted, index and files."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import Env, FakeClock
from tests.unit.replay.test_recording_api import full, meta, post_s, snapshot
from userlens.replay.retention import expire_recordings

DAY_MS = 86_400_000


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_retention_deletes_old_recordings_only(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    now_ms = clock.now_us // 1000
    old, recent = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    for session, age_days in ((old, 40), (recent, 10)):
        ts = now_ms - age_days * DAY_MS
        data = [meta(ts), full(ts + 1, session)]
        assert post_s(env, [snapshot(env, "d", session, "w", data)]).status_code == 200
    env.flush()
    services = env.app.services
    now = datetime.fromtimestamp(clock.now_us / 1e6, tz=UTC)
    blobs_dir = env.settings.blobs_dir

    assert expire_recordings(services.events, services.blobs, services.meta.projects(), now) == 1
    listed = env.client.get(f"/api/projects/{env.project.id}/sessions", headers=env.auth).json()
    assert [s["session_id"] for s in listed["results"]] == [recent]
    assert not any(old in f for f in _files(blobs_dir))
    assert any(recent in f for f in _files(blobs_dir))

    # A shorter retention setting takes the rest on the next sweep.
    project = services.meta.project(env.project.id)
    assert project is not None
    services.meta.set_recording(
        project.id, dataclasses.replace(project.recording, retention_days=5)
    )
    assert expire_recordings(services.events, services.blobs, services.meta.projects(), now) == 1
    assert _files(blobs_dir) == set()
    # Nothing left to do: the sweep is idempotent.
    assert expire_recordings(services.events, services.blobs, services.meta.projects(), now) == 0


def test_the_server_sweeps_on_its_own(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock, retention_interval_s=1)
    ts = clock.now_us // 1000 - 90 * DAY_MS
    session = f"old-{uuid.uuid4().hex}"
    assert (
        post_s(env, [snapshot(env, "d", session, "w", [meta(ts), full(ts + 1, "x")])]).status_code
        == 200
    )
    env.flush()
    url = f"/api/projects/{env.project.id}/sessions"
    deadline = time.monotonic() + 10
    while env.client.get(url, headers=env.auth).json()["results"]:
        assert time.monotonic() < deadline, "the retention sweep did not run"
        time.sleep(0.1)
    assert _files(env.settings.blobs_dir) == set()
