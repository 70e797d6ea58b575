"""Deleting a project: everything of it goes at once, nothing of any other project."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from tests.conftest import Env
from tests.unit.replay.test_recording_api import (
    T0,
    _files_under,
    full,
    meta,
    post_s,
    record_session,
    snapshot,
)
from userlens.model.cohort import CohortIn
from userlens.model.filters import CohortDefinition
from userlens.model.project import Role


def test_deleting_a_project_removes_all_of_it_at_once(env: Env) -> None:
    services = env.app.services
    doomed, kept = env.project, services.meta.create_project("Kept")
    me = services.meta.user_for_api_token(env.api_token)
    assert me is not None
    services.meta.add_member(kept.id, me.email, Role.ADMIN)
    kept_env = dataclasses.replace(env, project=kept)
    session, kept_session = f"s-{uuid.uuid4().hex}", f"s-{uuid.uuid4().hex}"
    record_session(env, "anon-1", session)
    record_session(kept_env, "visitor-2", kept_session, marker="kept-marker")
    beta = CohortIn(name="Beta", definition=CohortDefinition(distinct_ids=["anon-1"]))
    services.meta.create_cohort(doomed.id, beta)
    sent = len(env.events())
    assert sent > 0 and kept_env.events()
    blobs = env.settings.blobs_dir
    assert any(f"recordings/{doomed.id}/" in str(p) for p in _files_under(blobs))

    resp = env.client.delete(f"/api/projects/{doomed.id}", headers=env.auth)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"events": sent, "persons": 1, "recorded_sessions": 1, "pending": False}

    # Gone from every list and every read; its capture token is refused from now on.
    listed = env.client.get("/api/projects", headers=env.auth).json()
    assert [p["id"] for p in listed] == [kept.id]
    for path in ("/events", "/persons/anon-1", "/cohorts", "/sessions", "/settings"):
        got = env.client.get(f"/api/projects/{doomed.id}{path}", headers=env.auth)
        assert got.status_code == 404, path
    event = {"api_key": doomed.api_token, "event": "late", "distinct_id": "anon-1"}
    assert env.client.post("/e/", json=event).status_code == 401
    assert services.events.count_events(doomed.id) == 0
    assert services.meta.cohorts(doomed.id) == []
    # Its recordings are off the disk, and its events out of the write-ahead log.
    assert not any(f"recordings/{doomed.id}/" in str(p) for p in _files_under(blobs))
    wal_files = _files_under(env.settings.wal_dir)
    assert not any(b"pii-marker-7" in p.read_bytes() for p in wal_files)
    # The other project is untouched.
    assert any(kept_session in str(p) for p in _files_under(blobs))
    listed_sessions = env.client.get(f"/api/projects/{kept.id}/sessions", headers=env.auth)
    assert [s["session_id"] for s in listed_sessions.json()["results"]] == [kept_session]
    assert "kept-marker" in str(kept_env.events())
    # A new project never takes the deleted one's id (whose rows may still be on their way).
    assert services.meta.create_project("New").id > max(doomed.id, kept.id)
    again = env.client.delete(f"/api/projects/{doomed.id}", headers=env.auth)
    assert again.status_code == 404


def test_only_a_projects_admins_delete_it(env: Env) -> None:
    meta = env.app.services.meta
    url = f"/api/projects/{env.project.id}"
    for email, role in (("member@x.test", Role.MEMBER), ("viewer@x.test", Role.VIEWER)):
        meta.create_user(email, "long enough pw")
        meta.add_member(env.project.id, email, role)
        token = meta.create_api_token(email).secret
        resp = env.client.delete(url, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
    # An admin of another project does not see this one at all.
    theirs = meta.create_project("Theirs")
    meta.create_user("other@x.test", "long enough pw")
    meta.add_member(theirs.id, "other@x.test", Role.ADMIN)
    token = meta.create_api_token("other@x.test").secret
    resp = env.client.delete(url, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404
    assert env.client.delete(url).status_code == 401
    assert meta.project(env.project.id) is not None


def test_data_the_store_could_not_delete_at_once_is_swept_later(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from userlens.web import services as services_module

    services = env.app.services
    sent = {"api_key": env.project.api_token, "event": "signup", "distinct_id": "d1"}
    assert env.client.post("/e/", json=sent).status_code == 200
    env.flush()
    monkeypatch.setattr(services_module, "DELETION_WAIT_S", 0.3)
    with services.events._write_lock:  # type: ignore[attr-defined]  # the store takes no writes
        late = {**sent, "distinct_id": "d2"}
        assert env.client.post("/e/", json=late).status_code == 200  # acknowledged: logged
        resp = env.client.delete(f"/api/projects/{env.project.id}", headers=env.auth)
        assert resp.status_code == 202, resp.text
        assert resp.json()["pending"] is True
    # The project is gone at once; its events go with the next sweep.
    assert env.client.get("/api/projects", headers=env.auth).json() == []
    assert services.events.count_events(env.project.id) >= 1
    assert services.sweep_deleted_projects() == 2
    assert services.events.count_events(env.project.id) == 0
    assert services.sweep_deleted_projects() == 0


def test_a_recording_that_arrives_as_its_project_goes_is_swept(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from userlens.web import services as services_module

    services = env.app.services
    blobs = env.settings.blobs_dir
    monkeypatch.setattr(services_module, "DELETION_WAIT_S", 0.3)
    with services.events._write_lock:  # type: ignore[attr-defined]  # the store takes no writes
        chunk = snapshot(env, "d1", "late-session", "w1", [meta(T0), full(T0 + 5, "Late")])
        assert post_s(env, [chunk]).status_code == 200  # its blob is written, its index logged
        resp = env.client.delete(f"/api/projects/{env.project.id}", headers=env.auth)
        assert resp.status_code == 202, resp.text
    env.flush()
    # No event of the project is left, only the recording: the sweep still finds it.
    assert services.events.count_events(env.project.id) == 0
    assert any("late-session" in str(p) for p in _files_under(blobs))
    assert services.sweep_deleted_projects() == 1
    assert not any(f"recordings/{env.project.id}/" in str(p) for p in _files_under(blobs))
    assert services.sweep_deleted_projects() == 0
