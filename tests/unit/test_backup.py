"""Backups: a copy of the whole data directory, taken while the server runs, that starts as a
server of its own with everything the original held at that moment."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Env, FakeClock, eventually, make_settings
from tests.unit.replay.test_recording_api import _files_under, record_session
from userlens.model.cohort import CohortIn
from userlens.model.filters import CohortDefinition
from userlens.model.project import Role
from userlens.store.backup import list_backups, restore_backup
from userlens.web.app import create_app

PASSWORD = "correct horse battery"


def _root(env: Env, email: str = "root@example.com") -> dict[str, str]:
    """An instance admin's API headers."""
    meta = env.app.services.meta
    meta.create_user(email, PASSWORD, is_admin=True)
    return {"Authorization": f"Bearer {meta.create_api_token(email).secret}"}


def _send(env: Env, events: list[dict[str, Any]], token: str | None = None) -> None:
    body = {"api_key": token or env.project.api_token, "batch": events}
    resp = env.client.post("/batch/", json=body)
    assert resp.status_code == 200, resp.text


def _restored(backup: Path, into: Path, *, by_hand: bool = False) -> TestClient:
    """A server started on a copy of the backup folder, made as `userlens backup restore`
    makes it, or `by_hand` (a plain copy of the folder, as the README also allows)."""
    if by_hand:
        shutil.copytree(backup, into, symlinks=True)
    else:
        restore_backup(backup, into)
        # The recordings are links to the backup's files, not copies.
        kept = [p for p in (backup / "blobs").rglob("*") if p.is_file()]
        assert all(p.stat().st_ino == (into / p.relative_to(backup)).stat().st_ino for p in kept)
    client = TestClient(create_app(make_settings(into)))
    client.__enter__()
    return client


def _all(client: TestClient, url: str, auth: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        body = client.get(url, params=params, headers=auth).json()
        out.extend(body["results"])
        if not body.get("next_cursor"):
            return out
        params["cursor"] = body["next_cursor"]


def test_a_backup_starts_as_a_server_with_everything_of_its_moment(
    make_env: Any, tmp_path: Path
) -> None:
    env: Env = make_env(clock=FakeClock())
    services = env.app.services
    root = _root(env)
    other = services.meta.create_project("Other")
    services.meta.add_member(other.id, "admin0@example.com", Role.ADMIN)
    other_env = dataclasses.replace(env, project=other)
    _send(
        env,
        [
            {"event": "$pageview", "distinct_id": "anon-9", "properties": {"plan": "pro"}},
            {
                "event": "$identify",
                "distinct_id": "ann@shop.test",
                "properties": {"$anon_distinct_id": "anon-9", "$set": {"email": "ann@shop.test"}},
            },
            {"event": "checkout", "distinct_id": "ann@shop.test", "properties": {"total": 12.5}},
        ],
    )
    _send(other_env, [{"event": "signup", "distinct_id": "bob"}], other.api_token)
    session = f"s-{uuid.uuid4().hex}"
    record_session(env, "ann@shop.test", session)
    services.meta.create_cohort(
        env.project.id, CohortIn(name="Ann", definition=CohortDefinition(distinct_ids=["anon-9"]))
    )
    env.flush()
    events_url = f"/api/projects/{env.project.id}/events"
    cohorts_url = f"/api/projects/{env.project.id}/cohorts"
    before = {
        "events": _all(env.client, events_url, env.auth),
        "other": _all(env.client, f"/api/projects/{other.id}/events", env.auth),
        "person": env.client.get(f"{events_url[:-7]}/persons/anon-9", headers=env.auth).json(),
        "snapshots": env.client.get(
            f"/api/projects/{env.project.id}/sessions/{session}/snapshots", headers=env.auth
        ).json(),
        "cohorts": env.client.get(cohorts_url, headers=env.auth).json(),
    }

    resp = env.client.post("/api/backups", headers=root)
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert made["events"] == len(before["events"]) + len(before["other"])
    assert made["persons"] == 2 and made["recorded_sessions"] == 1 and made["metadata"] is True
    # Written after the backup: not in it, and the server goes on as before.
    _send(env, [{"event": "later", "distinct_id": "ann@shop.test"}])
    assert len(env.events()) == len(before["events"]) + 1

    folder = services.settings.backups_dir / made["name"]
    assert orjson.loads((folder / "backup.json").read_bytes())["events"] == made["events"]
    listed = env.client.get("/api/backups", headers=root).json()
    assert [b["name"] for b in listed] == [made["name"]]

    restored = _restored(folder, tmp_path / "restored", by_hand=True)
    try:
        # The same API token, the same password, the same projects and everything in them.
        assert _all(restored, events_url, env.auth) == before["events"]
        assert _all(restored, f"/api/projects/{other.id}/events", env.auth) == before["other"]
        person = restored.get(f"{events_url[:-7]}/persons/anon-9", headers=env.auth).json()
        assert person == before["person"] and person["properties"]["email"] == "ann@shop.test"
        snapshots = restored.get(
            f"/api/projects/{env.project.id}/sessions/{session}/snapshots", headers=env.auth
        ).json()
        assert snapshots == before["snapshots"] and snapshots["events"]
        cohorts = restored.get(cohorts_url, headers=env.auth)
        assert cohorts.json() == before["cohorts"]
        login = restored.post(
            "/api/session", json={"email": "admin0@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        # Its capture token works there too.
        _send(dataclasses.replace(env, client=restored), [{"event": "x", "distinct_id": "z"}])
    finally:
        restored.__exit__(None, None, None)


def test_writes_go_on_during_a_backup_and_the_copy_is_one_moment(env: Env) -> None:
    root = _root(env)
    acknowledged: list[str] = []
    stop = threading.Event()

    def capture() -> None:
        n = 0
        while not stop.is_set():
            batch = [
                {
                    "event": "tick",
                    "uuid": str(uuid.uuid4()),
                    "distinct_id": f"p{n}-{i}",
                    "properties": {"$set": {"n": n}},
                }
                for i in range(20)
            ]
            _send(env, batch)
            acknowledged.extend(e["uuid"] for e in batch)
            n += 1

    sender = threading.Thread(target=capture)
    sender.start()
    try:
        eventually(lambda: len(acknowledged) > 400)
        env.flush()
        stored_before = env.app.services.events.count_events(env.project.id)
        made = env.client.post("/api/backups", headers=root)
    finally:
        stop.set()
        sender.join()
    assert made.status_code == 201, made.text
    # Nothing acknowledged was lost in the source.
    assert {e["uuid"] for e in env.events()} == set(acknowledged)
    copy = env.app.services.settings.backups_dir / made.json()["name"] / "events.duckdb"
    with duckdb.connect(str(copy), read_only=True) as con:
        uuids = {str(r[0]) for r in con.execute("SELECT uuid FROM events").fetchall()}
        # A batch's events and its persons are committed together: a copy of one moment
        # never has an event whose distinct id has no person.
        orphans = con.execute(
            "SELECT count(*) FROM events e LEFT JOIN person_distinct_ids d "
            "USING (project_id, distinct_id) WHERE d.person_id IS NULL"
        ).fetchall()[0][0]
        persons = con.execute("SELECT count(*) FROM persons").fetchall()[0][0]
    assert stored_before <= len(uuids) == made.json()["events"]
    assert uuids <= set(acknowledged)
    assert orphans == 0 and persons == len(uuids)


def test_a_recording_deleted_during_a_backup_is_left_out_of_it(env: Env) -> None:
    services = env.app.services
    kept, gone = f"s-{uuid.uuid4().hex}", f"s-{uuid.uuid4().hex}"
    record_session(env, "kept-visitor", kept)
    record_session(env, "gone-visitor", gone)
    env.flush()
    events = services.events
    blobs = services.blobs
    copy = env.settings.data_dir / "copy"
    copy.mkdir()
    from userlens.store.duckdb import DuckDBEventStore
    from userlens.store.local_blobs import LocalBlobStore

    assert isinstance(events, DuckDBEventStore) and isinstance(blobs, LocalBlobStore)
    copied = LocalBlobStore(copy / "blobs")

    def copy_blobs(keys: list[str]) -> list[str]:
        # The person is deleted after the copy's moment, before their files are linked.
        services.erase_person(env.project.id, "gone-visitor")
        return blobs.link_into(copied, keys)

    counts = events.backup_to(copy / "events.duckdb", copy_blobs=copy_blobs)
    assert counts.recorded_sessions == 1
    with duckdb.connect(str(copy / "events.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT session_id, blob_key FROM recording_chunks").fetchall()
    # Every chunk the copy lists, it holds; the deleted person's are not listed.
    assert {r[0] for r in rows} == {kept}
    root = copy / "blobs"
    held = {str(p.relative_to(root)).removesuffix("@blob") for p in _files_under(root)}
    assert {str(r[1]) for r in rows} <= held


def test_only_instance_admins_back_up_one_at_a_time(env: Env) -> None:
    root = _root(env)
    assert env.client.post("/api/backups").status_code == 401
    for method in (env.client.post, env.client.get):
        denied = method("/api/backups", headers=env.auth)  # a project admin only
        assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    services = env.app.services
    with services._backing_up:
        busy = env.client.post("/api/backups", headers=root)
    assert busy.status_code == 409 and "already running" in busy.json()["detail"]
    assert env.client.post("/api/backups", headers=root).status_code == 201


def test_the_newest_backups_are_kept_and_unfinished_ones_never_count(make_env: Any) -> None:
    clock = FakeClock()
    env: Env = make_env(clock=clock, backup_keep=2)
    root = _root(env)
    folder = env.settings.backups_dir
    folder.mkdir(parents=True)
    (folder / ".partial-2020-01-01T00-00-00Z").mkdir()  # a backup cut short by a crash
    (folder / "notes").mkdir()  # not a backup: no backup.json
    names = []
    for _ in range(3):
        names.append(env.client.post("/api/backups", headers=root).json()["name"])
        clock.advance(3600)
    assert len(set(names)) == 3
    assert [b.name for b in list_backups(folder)] == names[:0:-1]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names[1:], "notes"])


def test_backups_are_made_on_a_schedule(make_env: Any) -> None:
    env: Env = make_env(backup_interval_s=1)
    _send(env, [{"event": "signup", "distinct_id": "u1"}])
    eventually(lambda: bool(list_backups(env.settings.backups_dir)), timeout=30)


def test_a_scheduled_backup_is_due_by_the_newest_backups_age(make_env: Any) -> None:
    clock = FakeClock()
    env: Env = make_env(clock=clock, backup_interval_s=86_400)
    services = env.app.services
    assert services.back_up_if_due() is not None  # none yet
    clock.advance(3600)
    assert services.back_up_if_due() is None  # a restart an hour later makes none
    clock.advance(86_400 - 3600)
    made = services.back_up_if_due()
    assert made is not None and len(list_backups(env.settings.backups_dir)) == 2


def test_a_backup_that_cannot_be_written_says_why_and_leaves_nothing(make_env: Any) -> None:
    env: Env = make_env()
    root = _root(env)
    folder = env.settings.backups_dir
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the backups directory should be")
    failed = env.client.post("/api/backups", headers=root)
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"] == "backup_failed"
    assert "could not be written" in failed.json()["detail"]
    assert env.client.get("/api/backups", headers=root).json() == []
    # Once there is room for it, the next one is made.
    folder.unlink()
    assert env.client.post("/api/backups", headers=root).status_code == 201


def test_events_acknowledged_before_a_backup_are_in_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(env)
    # A small batch waits long to grow before it is loaded.
    monkeypatch.setattr(env.app.services.writer, "_linger_s", 5.0)
    _send(env, [{"event": "just-now", "distinct_id": f"u{i}"} for i in range(50)])
    made = env.client.post("/api/backups", headers=root)  # no wait for the loader
    assert made.status_code == 201, made.text
    assert made.json()["events"] == 50


def _expected_after(events: list[dict[str, Any]], gone: set[str]) -> list[dict[str, Any]]:
    """The reference: a backup's events less those of the erased distinct ids."""
    return [e for e in events if e["distinct_id"] not in gone]


def test_a_deleted_person_is_deleted_from_earlier_backups_and_never_restored(
    make_env: Any, tmp_path: Path
) -> None:
    env: Env = make_env(clock=FakeClock())
    services = env.app.services
    root = _root(env)
    # Two ids that are two persons when the backup is made, and one person when deleted.
    _send(
        env,
        [
            {"event": "$pageview", "distinct_id": "anon-1"},
            {"event": "checkout", "distinct_id": "ann@shop.test"},
            {"event": "$pageview", "distinct_id": "bob"},
            {"event": "signup", "distinct_id": "bob"},
        ],
    )
    gone_session, kept_session = f"s-{uuid.uuid4().hex}", f"s-{uuid.uuid4().hex}"
    record_session(env, "anon-1", gone_session)
    record_session(env, "bob", kept_session)
    listed = services.meta.create_cohort(
        env.project.id,
        CohortIn(name="Both", definition=CohortDefinition(distinct_ids=["anon-1", "bob"])),
    )
    cohort_url = f"/api/projects/{env.project.id}/cohorts/{listed.id}"
    env.flush()
    events_url = f"/api/projects/{env.project.id}/events"
    in_backup = _all(env.client, events_url, env.auth)
    made = env.client.post("/api/backups", headers=root).json()
    folder = env.settings.backups_dir / made["name"]
    _send(
        env,
        [
            {
                "event": "$identify",
                "distinct_id": "ann@shop.test",
                "properties": {"$anon_distinct_id": "anon-1"},
            }
        ],
    )
    env.flush()
    resp = env.client.delete(
        f"/api/projects/{env.project.id}/persons/ann@shop.test", headers=env.auth
    )
    assert resp.status_code == 200, resp.text
    gone = {"anon-1", "ann@shop.test"}
    [listed] = env.client.get("/api/backups", headers=root).json()
    assert listed["pending_erasures"] == 1

    # Restored before the deletion reached the backup: the server repeats it on start.
    early = _restored(folder, tmp_path / "early")
    try:
        assert _all(early, events_url, env.auth) == _expected_after(in_backup, gone)
        for distinct_id in gone:
            person = early.get(f"{events_url[:-7]}/persons/{distinct_id}", headers=env.auth)
            assert person.status_code == 404
        snapshots = f"/api/projects/{env.project.id}/sessions/{{}}/snapshots"
        assert early.get(snapshots.format(gone_session), headers=env.auth).status_code == 404
        assert early.get(snapshots.format(kept_session), headers=env.auth).json()["events"]
        cohort = early.get(cohort_url, headers=env.auth).json()
        assert cohort["definition"]["distinct_ids"] == ["bob"]
    finally:
        early.__exit__(None, None, None)
    assert not (tmp_path / "early" / "pending-erasures.jsonl").exists()

    # Then the job repeats it in the backup itself: its rows and its recording files go.
    assert services.apply_backup_erasures() == 1
    assert services.apply_backup_erasures() == 0
    with duckdb.connect(str(folder / "events.duckdb"), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT distinct_id FROM events").fetchall()}
        ids |= {r[0] for r in con.execute("SELECT distinct_id FROM person_distinct_ids").fetchall()}
        sessions = {r[0] for r in con.execute("SELECT session_id FROM recording_chunks").fetchall()}
    assert ids == {"bob"} and sessions == {kept_session}
    held = {str(p.relative_to(folder / "blobs")) for p in _files_under(folder / "blobs")}
    assert held and not any(gone_session in key for key in held)
    [listed] = env.client.get("/api/backups", headers=root).json()
    assert listed["pending_erasures"] == 0
    assert listed["events"] == len(_expected_after(in_backup, gone)) and listed["persons"] == 1
    late = _restored(folder, tmp_path / "late")
    try:
        assert _all(late, events_url, env.auth) == _expected_after(in_backup, gone)
        cohort = late.get(cohort_url, headers=env.auth).json()
        assert cohort["definition"]["distinct_ids"] == ["bob"]
    finally:
        late.__exit__(None, None, None)


def test_a_deleted_project_is_deleted_from_earlier_backups(make_env: Any, tmp_path: Path) -> None:
    env: Env = make_env(clock=FakeClock())
    services = env.app.services
    root = _root(env)
    other = services.meta.create_project("Other")
    _send(env, [{"event": "kept", "distinct_id": "u1"}])
    _send(env, [{"event": "gone", "distinct_id": "u2"}], other.api_token)
    record_session(dataclasses.replace(env, project=other), "u2", f"s-{uuid.uuid4().hex}")
    env.flush()
    made = env.client.post("/api/backups", headers=root).json()
    folder = env.settings.backups_dir / made["name"]
    assert env.client.delete(f"/api/projects/{other.id}", headers=root).status_code == 200

    assert services.apply_backup_erasures() == 1
    with duckdb.connect(str(folder / "events.duckdb"), read_only=True) as con:
        projects = {r[0] for r in con.execute("SELECT project_id FROM events").fetchall()}
        chunks = con.execute("SELECT count(*) FROM recording_chunks").fetchall()[0][0]
    assert projects == {env.project.id} and chunks == 0
    assert not (folder / "blobs" / "recordings" / str(other.id)).exists() or not _files_under(
        folder / "blobs" / "recordings" / str(other.id)
    )
    restored = _restored(folder, tmp_path / "restored")
    try:
        names = [p["name"] for p in restored.get("/api/projects", headers=root).json()]
        assert "Other" not in names and env.project.name in names
        batch = [{"event": "x", "distinct_id": "y"}]
        refused = restored.post("/batch/", json={"api_key": other.api_token, "batch": batch})
        assert refused.status_code == 401, refused.text
    finally:
        restored.__exit__(None, None, None)


def test_a_deletion_made_while_a_backup_is_written_reaches_it(env: Env) -> None:
    services = env.app.services
    _send(env, [{"event": "$pageview", "distinct_id": f"u{i}"} for i in range(20)])
    env.flush()
    erasing: list[threading.Thread] = []
    real = services.meta.backup_to

    def copy_metadata(path: Path) -> bool:
        # The events are copied (u3 among them); the person is deleted before the backup ends.
        erasing.append(threading.Thread(target=services.erase_person, args=(env.project.id, "u3")))
        erasing[0].start()
        threading.Event().wait(0.5)
        return real(path)

    services.meta.backup_to = copy_metadata  # type: ignore[method-assign]
    made = services.back_up()
    erasing[0].join()
    assert services.events.count_events(env.project.id) == 19
    assert services.apply_backup_erasures() == 1
    folder = env.settings.backups_dir / made.name
    with duckdb.connect(str(folder / "events.duckdb"), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT distinct_id FROM events").fetchall()}
    assert ids == {f"u{i}" for i in range(20)} - {"u3"}


def test_a_deletion_the_backups_cannot_take_says_so_and_a_retry_finishes_it(env: Env) -> None:
    services = env.app.services
    _send(env, [{"event": "$pageview", "distinct_id": who} for who in ("gone", "kept")])
    made = services.back_up()
    blocked = env.settings.backups_dir / made.name / "pending-erasures.jsonl"
    blocked.mkdir()  # where the deletion would be noted, something it cannot append to
    url = f"/api/projects/{env.project.id}/persons/gone"
    failed = env.client.delete(url, headers=env.auth)
    assert failed.status_code == 503, failed.text
    assert "backups could not be told" in failed.json()["detail"]
    assert failed.headers["Retry-After"]
    assert {e["distinct_id"] for e in env.events()} == {"kept"}  # the live stores: gone
    blocked.rmdir()
    assert env.client.delete(url, headers=env.auth).status_code == 200
    assert services.apply_backup_erasures() == 1
    folder = env.settings.backups_dir / made.name
    with duckdb.connect(str(folder / "events.duckdb"), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT distinct_id FROM events").fetchall()}
    assert ids == {"kept"}


def _backup_ids(folder: Path) -> set[str]:
    with duckdb.connect(str(folder / "events.duckdb"), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT distinct_id FROM events").fetchall()}


def test_a_deletion_noted_while_others_are_repeated_waits_for_the_next_run(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import userlens.web.services as services_module

    services = env.app.services
    _send(env, [{"event": "$pageview", "distinct_id": who} for who in ("one", "two", "kept")])
    folder = env.settings.backups_dir / services.back_up().name
    services.erase_person(env.project.id, "one")
    real = services_module.erase_in_backup

    def erase_then_another(at: Path, erasures: list[Any]) -> None:
        real(at, erasures)
        services.erase_person(env.project.id, "two")  # not held up by the run

    monkeypatch.setattr(services_module, "erase_in_backup", erase_then_another)
    assert services.apply_backup_erasures() == 1
    assert _backup_ids(folder) == {"two", "kept"}
    assert list_backups(env.settings.backups_dir)[0].pending_erasures == 1
    monkeypatch.setattr(services_module, "erase_in_backup", real)
    assert services.apply_backup_erasures() == 1
    assert _backup_ids(folder) == {"kept"}
    assert not (folder / "pending-erasures.jsonl").exists()


def test_a_deletion_noted_after_a_line_a_crash_cut_short_is_still_read(env: Env) -> None:
    services = env.app.services
    _send(env, [{"event": "$pageview", "distinct_id": who} for who in ("gone", "kept")])
    folder = env.settings.backups_dir / services.back_up().name
    (folder / "pending-erasures.jsonl").write_bytes(b'\n{"project_id": 1, "distinct_i')
    services.erase_person(env.project.id, "gone")
    assert list_backups(env.settings.backups_dir)[0].pending_erasures == 1
    assert services.apply_backup_erasures() == 1
    assert _backup_ids(folder) == {"kept"}


def _others_can_open(path: Path) -> subprocess.CompletedProcess[str]:
    """Whether another process can open the event store file (it must not, while the server
    holds it)."""
    return subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_keeps_its_event_store_to_itself_after_a_backup(env: Env) -> None:
    """DuckDB keeps other processes out of its file with a POSIX lock, which a process loses
    when it closes any descriptor of that file. Copying the file for a backup must not hand
    the store to a second process (a CLI command, a second server) while the server writes."""
    _send(env, [{"event": "e", "distinct_id": "a"}])
    env.flush()
    path = env.settings.events_db_path
    before = _others_can_open(path)
    assert before.returncode != 0 and "lock" in before.stderr.lower()
    env.app.services.back_up()
    after = _others_can_open(path)
    assert after.returncode != 0 and "lock" in after.stderr.lower(), after.stderr
    _send(env, [{"event": "e", "distinct_id": "b"}])
    assert sorted(e["distinct_id"] for e in env.events()) == ["a", "b"]
