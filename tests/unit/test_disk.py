"""A disk that fills up: capture stops before it is full, recordings first, and nothing that
was acknowledged is lost; health says so; a backup that would not fit is refused."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import orjson
import pytest

from tests.conftest import Env
from userlens.store import disk as disk_module
from userlens.store.disk import MB, DiskGuard

MARGIN_MB = 100


class FakeDisk:
    """The free space of a disk this test fills and empties (a real one cannot be filled
    here safely)."""

    def __init__(self, free_mb: int) -> None:
        self.free_mb = free_mb

    def __call__(self) -> int:
        return self.free_mb * MB


@pytest.fixture
def disk(make_env: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Env, FakeDisk]:
    env: Env = make_env(min_free_disk_mb=MARGIN_MB)
    fake = FakeDisk(10_000)
    monkeypatch.setattr(env.app.services.disk, "_free_bytes", fake)
    monkeypatch.setattr(disk_module, "CHECK_EVERY_S", 0.0)  # read at every request
    return env, fake


def _event(env: Env, name: str) -> Any:
    body = {"api_key": env.project.api_token, "event": name, "distinct_id": "u1"}
    return env.client.post("/e/", json=body)


def _recording(env: Env) -> Any:
    item = {
        "event": "$snapshot",
        "properties": {
            "token": env.project.api_token,
            "distinct_id": "u1",
            "$session_id": f"s-{uuid.uuid4().hex}",
            "$window_id": "w1",
            "$snapshot_data": [{"type": 4, "timestamp": 1_795_000_000_000, "data": {}}],
        },
    }
    body = gzip.compress(orjson.dumps([item]))
    return env.client.post("/s/", content=body, headers={"Content-Type": "text/plain"})


def test_capture_stops_recordings_first_then_events_and_starts_again(
    disk: tuple[Env, FakeDisk],
) -> None:
    env, fake = disk
    assert _event(env, "plenty").status_code == 200
    assert _recording(env).status_code == 200
    health = env.client.get("/_health").json()
    assert health["status"] == "ok" and health["disk_free_mb"] == 10_000

    # Under twice the margin: recordings wait, events still come in.
    fake.free_mb = MARGIN_MB * 2 - 1
    refused = _recording(env)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "60"
    assert refused.json()["error"] == "disk_nearly_full"
    assert "199 MB free" in refused.json()["detail"]
    assert _event(env, "still-taken").status_code == 200
    health_resp = env.client.get("/_health")
    assert health_resp.status_code == 200 and "recordings" in health_resp.json()["detail"]

    # Under the margin: events wait too (the SDK keeps them and sends them again).
    fake.free_mb = MARGIN_MB - 1
    refused = _event(env, "refused")
    assert refused.status_code == 503 and refused.headers["retry-after"] == "60"
    assert refused.json()["error"] == "disk_nearly_full"
    batch = {"api_key": env.project.api_token, "batch": [{"event": "b", "distinct_id": "u2"}]}
    assert env.client.post("/batch/", json=batch).status_code == 503
    health_resp = env.client.get("/_health")
    assert health_resp.status_code == 503 and health_resp.json()["status"] == "failing"

    # Room again: the retry is taken. Only what was acknowledged is stored, each once.
    fake.free_mb = 10_000
    assert _event(env, "refused").status_code == 200
    assert env.client.get("/_health").json()["status"] == "ok"
    names = sorted(e["event"] for e in env.events())
    assert names == ["plenty", "refused", "still-taken"]


def test_a_backup_that_would_not_fit_is_refused(disk: tuple[Env, FakeDisk]) -> None:
    env, fake = disk
    meta = env.app.services.meta
    meta.create_user("root@example.com", "correct horse battery", is_admin=True)
    root = {"Authorization": f"Bearer {meta.create_api_token('root@example.com').secret}"}
    store_mb = env.settings.events_db_path.stat().st_size / MB
    fake.free_mb = MARGIN_MB + int(store_mb)  # the copy would eat into the margin
    refused = env.client.post("/api/backups", headers=root)
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"] == "disk_nearly_full"
    assert "not enough free disk for a backup" in refused.json()["detail"]
    assert env.client.get("/api/backups", headers=root).json() == []
    fake.free_mb = 10_000
    assert env.client.post("/api/backups", headers=root).status_code == 201


def test_a_margin_of_zero_turns_the_guard_off(
    make_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    env: Env = make_env(min_free_disk_mb=0)
    monkeypatch.setattr(env.app.services.disk, "_free_bytes", FakeDisk(0))
    assert _event(env, "taken").status_code == 200
    assert _recording(env).status_code == 200
    assert env.client.get("/_health").status_code == 200


def test_free_space_is_read_at_most_once_a_second() -> None:
    reads: list[int] = []
    now = [0.0]

    def free() -> int:
        reads.append(1)
        return 5 * MB

    guard = DiskGuard(free, 10 * MB, clock=lambda: now[0])
    for _ in range(100):
        assert guard.refused() == "events and recordings"
    assert len(reads) == 1
    now[0] += 1.0
    guard.free()
    assert len(reads) == 2


def test_a_scheduled_backup_without_room_is_put_off_in_one_line(
    make_env: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from userlens.web.app import _backup

    env: Env = make_env(min_free_disk_mb=MARGIN_MB, backup_interval_s=86_400)
    fake = FakeDisk(MARGIN_MB)  # events still come in; a copy of the store does not fit
    monkeypatch.setattr(env.app.services.disk, "_free_bytes", fake)
    assert _event(env, "taken").status_code == 200
    with caplog.at_level("WARNING"):
        assert _backup(env.app.services) == 0
    assert "scheduled backup put off: not enough free disk" in caplog.text
    assert not env.settings.backups_dir.exists() or not any(env.settings.backups_dir.iterdir())
