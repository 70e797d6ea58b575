"""Recordings end to end in process: `/s/` in, session list and snapshots out, deletion."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import Env

T0 = 1_795_000_000_000  # ms


def cv(value: Any) -> str:
    """posthog-js's partial compression: gzip of the JSON carried as a latin-1 string."""
    return gzip.compress(orjson.dumps(value)).decode("latin-1")


def meta(ts: int, href: str = "https://shop.test/checkout") -> dict[str, Any]:
    return {"type": 4, "timestamp": ts, "data": {"href": href, "width": 1280, "height": 800}}


def full(ts: int, text: str) -> dict[str, Any]:
    node = {"type": 0, "id": 1, "childNodes": [{"type": 3, "id": 2, "textContent": text}]}
    return {
        "type": 2,
        "timestamp": ts,
        "cv": "2024-10",
        "data": cv({"node": node, "initialOffset": {"top": 0, "left": 0}}),
    }


def mutation(ts: int, text: str) -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": ts,
        "cv": "2024-10",
        "data": {
            "source": 0,
            "adds": cv(
                [{"parentId": 1, "nextId": None, "node": {"type": 3, "id": 9, "textContent": text}}]
            ),
            "removes": cv([]),
            "texts": cv([]),
            "attributes": cv([]),
        },
    }


def click(ts: int) -> dict[str, Any]:
    return {"type": 3, "timestamp": ts, "data": {"source": 2, "type": 2, "id": 2, "x": 5, "y": 5}}


def console_error(ts: int) -> dict[str, Any]:
    return {
        "type": 6,
        "timestamp": ts,
        "data": {
            "plugin": "rrweb/console@1",
            "payload": {"level": "error", "payload": ["boom"], "trace": []},
        },
    }


def snapshot(env: Env, distinct_id: str, session: str, window: str, data: Any) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "event": "$snapshot",
        "properties": {
            "token": env.project.api_token,
            "distinct_id": distinct_id,
            "$session_id": session,
            "$window_id": window,
            "$snapshot_data": data,
        },
    }


def post_s(env: Env, items: list[dict[str, Any]]) -> Any:
    body = gzip.compress(orjson.dumps(items))
    return env.client.post("/s/", content=body, headers={"Content-Type": "text/plain"})


def record_session(
    env: Env, distinct_id: str, session: str, marker: str = "pii-marker-7"
) -> list[dict[str, Any]]:
    """Two windows, chunks sent out of order, plus the session's analytics events."""
    w1 = [meta(T0), full(T0 + 5, "Checkout page"), click(T0 + 900), mutation(T0 + 1000, "Paid")]
    w2 = [
        meta(T0 + 2000, "https://shop.test/help"),
        full(T0 + 2001, "Help page"),
        console_error(T0 + 3000),
    ]
    assert post_s(env, [snapshot(env, distinct_id, session, "w1", w1[2:])]).status_code == 200
    assert (
        post_s(
            env,
            [
                snapshot(env, distinct_id, session, "w1", w1[:2]),
                snapshot(env, distinct_id, session, "w2", w2),
            ],
        ).status_code
        == 200
    )
    batch = [
        {
            "event": "$pageview",
            "distinct_id": distinct_id,
            "timestamp": "2026-11-18T10:00:00Z",
            "properties": {
                "$session_id": session,
                "$current_url": "https://shop.test/checkout",
                "secret": marker,
            },
        },
        {
            "event": "$exception",
            "distinct_id": distinct_id,
            "timestamp": "2026-11-18T10:00:01Z",
            "properties": {"$session_id": session},
        },
    ]
    resp = env.client.post("/batch/", json={"api_key": env.project.api_token, "batch": batch})
    assert resp.status_code == 200
    env.flush()
    return [*w1, *w2]


def test_session_list_and_snapshots(env: Env) -> None:
    session = f"s-{uuid.uuid4().hex}"
    sent = record_session(env, "visitor-1", session)
    listed = env.client.get(f"/api/projects/{env.project.id}/sessions", headers=env.auth)
    assert listed.status_code == 200
    [s] = listed.json()["results"]
    assert s["session_id"] == session and s["distinct_id"] == "visitor-1"
    assert s["windows"] == 2 and s["clicks"] == 1 and s["console_errors"] == 1
    assert s["pageviews"] == 1 and s["errors"] == 1
    assert s["duration_s"] == pytest.approx((max(e["timestamp"] for e in sent) - T0) / 1000)
    assert s["first_url"] == "https://shop.test/checkout"

    resp = env.client.get(
        f"/api/projects/{env.project.id}/sessions/{session}/snapshots", headers=env.auth
    )
    assert resp.status_code == 200
    events = resp.json()["events"]
    # Every sent event comes back once, ordered by time, decoded, tagged with its window.
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in sent)
    assert all("cv" not in e for e in events)
    assert {e["windowId"] for e in events} == {"w1", "w2"}
    fulls = [e for e in events if e["type"] == 2]
    texts = [f["data"]["node"]["childNodes"][0]["textContent"] for f in fulls]
    assert texts == ["Checkout page", "Help page"]
    mutations = [e for e in events if e["type"] == 3 and e["data"]["source"] == 0]
    assert mutations[0]["data"]["adds"][0]["node"]["textContent"] == "Paid"
    for window in ("w1", "w2"):
        first = [e["type"] for e in events if e["windowId"] == window][:2]
        assert first == [4, 2], "each window starts with Meta then FullSnapshot"


def test_the_session_list_names_the_person_by_email(env: Env) -> None:
    """A person with an email is listed by it: also when it was set on another distinct id
    of theirs, after the recording."""
    named, anonymous = f"s-{uuid.uuid4().hex}", f"s-{uuid.uuid4().hex}"
    record_session(env, "visitor-1", named)
    record_session(env, "visitor-2", anonymous)
    identify = {
        "event": "$identify",
        "distinct_id": "ada@shop.test",
        "properties": {"$anon_distinct_id": "visitor-1", "$set": {"email": "ada@shop.test"}},
    }
    resp = env.client.post("/capture/", json={"api_key": env.project.api_token, **identify})
    assert resp.status_code == 200
    env.flush()
    listed = env.client.get(f"/api/projects/{env.project.id}/sessions", headers=env.auth)
    names = {s["session_id"]: s["person_name"] for s in listed.json()["results"]}
    assert names == {named: "ada@shop.test", anonymous: None}


def test_the_session_list_keeps_to_a_cohort(env: Env) -> None:
    """Sessions of the persons in a cohort, as it is now: a list cohort, then one by a person
    property set after the recording, on another distinct id of the person."""
    sessions = {who: f"s-{uuid.uuid4().hex}" for who in ("ann", "bob", "cid")}
    for who, session in sessions.items():
        record_session(env, who, session)
    url = f"/api/projects/{env.project.id}/cohorts"
    listed = {"name": "Beta", "definition": {"distinct_ids": ["ann", "cid", "nobody"]}}
    beta = env.client.post(url, json=listed, headers=env.auth).json()["id"]
    sessions_url = f"/api/projects/{env.project.id}/sessions"

    def kept(**params: Any) -> set[str]:
        resp = env.client.get(sessions_url, params=params, headers=env.auth)
        assert resp.status_code == 200, resp.text
        return {s["session_id"] for s in resp.json()["results"]}

    assert kept(cohort_id=beta) == {sessions["ann"], sessions["cid"]}
    assert kept(cohort_id=beta, distinct_id="ann") == {sessions["ann"]}
    assert kept() == set(sessions.values())

    identify = {
        "event": "$identify",
        "distinct_id": "bob@shop.test",
        "properties": {"$anon_distinct_id": "bob", "$set": {"plan": "pro"}},
    }
    assert (
        env.client.post(
            "/capture/", json={"api_key": env.project.api_token, **identify}
        ).status_code
        == 200
    )
    env.flush()
    rule = {"kind": "has_property", "filter": {"key": "plan", "type": "person", "value": "pro"}}
    pro = env.client.post(
        url, json={"name": "Pro", "definition": {"rules": [rule]}}, headers=env.auth
    )
    assert kept(cohort_id=pro.json()["id"]) == {sessions["bob"]}

    resp = env.client.get(sessions_url, params={"cohort_id": 999}, headers=env.auth)
    assert resp.status_code == 400 and "no cohort 999" in resp.json()["detail"]


def test_snapshots_of_unknown_session_and_other_project(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/sessions/nope/snapshots"
    assert env.client.get(url, headers=env.auth).status_code == 404
    other = env.app.services.meta.create_project("Other")
    assert env.client.get(f"/api/projects/{other.id}/sessions", headers=env.auth).status_code == 404


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        ({"$window_id": "w", "$snapshot_data": [meta(T0)]}, "missing_session_id"),
        ({"$session_id": "../etc", "$snapshot_data": [meta(T0)]}, "invalid_session_id"),
        ({"$session_id": "..", "$snapshot_data": [meta(T0)]}, "invalid_session_id"),
        (
            {"$session_id": "s1", "$window_id": ".w", "$snapshot_data": [meta(T0)]},
            "invalid_window_id",
        ),
        ({"$session_id": "s1", "$snapshot_data": "not a list"}, "invalid_snapshot_data"),
        ({"$session_id": "s1"}, "missing_snapshot_data"),
        (
            {
                "$session_id": "s1",
                "$snapshot_data": [
                    {"type": 2, "timestamp": T0, "cv": "2024-10", "data": "not gzip"}
                ],
            },
            "invalid_cv_data",
        ),
    ],
)
def test_bad_snapshot_items_are_refused_and_the_rest_kept(
    env: Env, properties: dict[str, Any], code: str
) -> None:
    good_session = f"s-{uuid.uuid4().hex}"
    good = snapshot(env, "d", good_session, "w", [meta(T0), full(T0 + 1, "ok")])
    bad = {
        "event": "$snapshot",
        "properties": {"token": env.project.api_token, "distinct_id": "d", **properties},
    }
    resp = post_s(env, [bad, good])
    assert resp.status_code == 400
    body = resp.json()
    assert body["rejected"][0]["error"] == code and body["accepted"] == 1
    env.flush()
    url = f"/api/projects/{env.project.id}/sessions/{good_session}/snapshots"
    assert len(env.client.get(url, headers=env.auth).json()["events"]) == 2


def test_truncated_gzip_and_oversized_bodies(env: Env) -> None:
    body = gzip.compress(orjson.dumps([snapshot(env, "d", "s", "w", [meta(T0)])]))
    resp = env.client.post("/s/", content=body[:-10], headers={"Content-Type": "text/plain"})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_gzip"
    huge = b"x" * (30 * 1024 * 1024)
    resp = env.client.post("/s/", content=huge, headers={"Content-Type": "text/plain"})
    assert resp.status_code == 413 and resp.json()["error"] == "body_too_large"


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_deleting_a_person_removes_events_person_and_recordings_at_once(env: Env) -> None:
    session = f"s-{uuid.uuid4().hex}"
    record_session(env, "anon-9", session)
    identify = {
        "event": "$identify",
        "distinct_id": "user-9",
        "properties": {"$anon_distinct_id": "anon-9"},
    }
    env.client.post("/e/", json={"api_key": env.project.api_token, **identify})
    keep_session = f"s-{uuid.uuid4().hex}"
    record_session(env, "someone-else", keep_session, marker="kept-marker")
    blobs = env.settings.blobs_dir
    assert any(session in str(p) for p in _files_under(blobs))
    # An answer that names them, cached by the server.
    spec = {"kind": "trends", "series": [{"math": "unique_persons"}], "breakdown": "$session_id"}
    query = f"/api/projects/{env.project.id}/query"
    assert env.client.post(query, json=spec, headers=env.auth).status_code == 200
    assert len(env.app.services.insight_cache) == 1

    resp = env.client.delete(f"/api/projects/{env.project.id}/persons/user-9", headers=env.auth)
    assert resp.status_code == 200, resp.text
    done = resp.json()
    assert set(done["distinct_ids"]) == {"anon-9", "user-9"}
    assert done["events"] == 3 and done["sessions"] == [session]
    assert len(env.app.services.insight_cache) == 0  # no longer kept in memory

    assert env.events(distinct_id="anon-9") == [] and env.events(distinct_id="user-9") == []
    for distinct_id in ("anon-9", "user-9"):
        url = f"/api/projects/{env.project.id}/persons/{distinct_id}"
        assert env.client.get(url, headers=env.auth).status_code == 404
    base = f"/api/projects/{env.project.id}/sessions"
    assert [s["session_id"] for s in env.client.get(base, headers=env.auth).json()["results"]] == [
        keep_session
    ]
    assert env.client.get(f"{base}/{session}/snapshots", headers=env.auth).status_code == 404
    # The recording files are gone from disk now, not at a later sweep; others are untouched.
    assert not any(session in str(p) for p in _files_under(blobs))
    assert any(keep_session in str(p) for p in _files_under(blobs))
    assert env.events(distinct_id="someone-else")
    # Nor do their events linger in the write-ahead log.
    wal_files = _files_under(env.settings.wal_dir)
    assert wal_files and not any(b"pii-marker-7" in p.read_bytes() for p in wal_files)


def test_a_deletion_that_cannot_reach_queued_events_deletes_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from userlens.web import services as services_module

    monkeypatch.setattr(services_module, "DELETION_WAIT_S", 0.3)
    url = f"/api/projects/{env.project.id}/persons/late-1"
    event = {"api_key": env.project.api_token, "event": "signup", "distinct_id": "late-1"}
    store = env.app.services.events
    with store._write_lock:  # type: ignore[attr-defined]  # the store takes no writes for now
        assert env.client.post("/e/", json=event).status_code == 200  # acknowledged: logged
        resp = env.client.delete(url, headers=env.auth)
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "store_unavailable"
        assert "nothing was deleted" in resp.json()["detail"]
        assert int(resp.headers["retry-after"]) > 0
    # Once the store takes writes again, the same call deletes the event that was queued.
    monkeypatch.setattr(services_module, "DELETION_WAIT_S", 30.0)
    resp = env.client.delete(url, headers=env.auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["events"] == 1
    assert env.events(distinct_id="late-1") == []


def test_viewers_cannot_delete(env: Env) -> None:
    from userlens.model.project import Role

    meta_store = env.app.services.meta
    meta_store.create_user("viewer@x.test", "long enough pw")
    meta_store.add_member(env.project.id, "viewer@x.test", Role.VIEWER)
    token = meta_store.create_api_token("viewer@x.test").secret
    resp = env.client.delete(
        f"/api/projects/{env.project.id}/persons/anyone",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 403


def test_session_filters_and_sorting(env: Env) -> None:
    """Two sessions told apart by what happened in them; each filter against a plain check."""
    long_one, short_one = f"s-{uuid.uuid4().hex}", f"s-{uuid.uuid4().hex}"
    record_session(env, "visitor-1", long_one)
    recorded = post_s(
        env, [snapshot(env, "visitor-2", short_one, "w", [meta(T0), full(T0 + 5, "x")])]
    )
    assert recorded.status_code == 200
    extra = [
        {
            "event": "$rageclick",
            "distinct_id": "visitor-2",
            "timestamp": "2026-11-18T10:00:00Z",
            "properties": {"$session_id": short_one, "$current_url": "https://shop.test/cart"},
        }
    ]
    resp = env.client.post("/batch/", json={"api_key": env.project.api_token, "batch": extra})
    assert resp.status_code == 200
    env.flush()
    url = f"/api/projects/{env.project.id}/sessions"

    def ids(**query: object) -> list[str]:
        got = env.client.get(url, params=query, headers=env.auth)
        assert got.status_code == 200, got.text
        return [s["session_id"] for s in got.json()["results"]]

    assert set(ids()) == {long_one, short_one}
    assert ids(url_contains="CHECKOUT") == [long_one]
    assert ids(url_contains="/cart") == [short_one]
    assert ids(did_event="$exception") == [long_one]
    assert ids(has_rage_clicks="true") == [short_one]
    assert ids(has_rage_clicks="false") == [long_one]
    assert ids(sort="duration") == [long_one, short_one]
    assert ids(sort="errors")[0] == long_one
    bad = env.client.get(url, params={"sort": "nope"}, headers=env.auth)
    assert bad.status_code == 400
