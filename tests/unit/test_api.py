"""The JSON API: authentication, tenant isolation, filters, pagination and clear errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tests.conftest import Env, FakeClock


def _send(env: Env, *events: dict[str, object]) -> None:
    body = {"api_key": env.project.api_token, "batch": list(events)}
    resp = env.client.post("/batch/", json=body)
    assert resp.status_code == 200, resp.text
    env.flush()


def test_api_needs_a_valid_token(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/events"
    missing = env.client.get(url)
    assert missing.status_code == 401 and missing.json()["error"] == "unauthenticated"
    wrong = env.client.get(url, headers={"Authorization": "Bearer ulx_not-a-real-token"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_token"
    # The public capture token is not an API credential.
    capture = env.client.get(url, headers={"Authorization": f"Bearer {env.project.api_token}"})
    assert capture.status_code == 401


def test_a_user_cannot_read_another_projects_data(env: Env) -> None:
    meta = env.app.services.meta
    other = meta.create_project("Someone else's")
    _send(env, {"event": "mine", "distinct_id": "d1"})
    other_body = {"api_key": other.api_token, "event": "theirs", "distinct_id": "d1"}
    assert env.client.post("/e/", json=other_body).status_code == 200
    for path in (
        f"/api/projects/{other.id}/events",
        f"/api/projects/{other.id}/persons/d1",
        "/api/projects/999/events",
    ):
        resp = env.client.get(path, headers=env.auth)
        assert resp.status_code == 404, path
        assert resp.json()["error"] == "not_found"
    assert [e["event"] for e in env.events()] == ["mine"]
    listed = env.client.get("/api/projects", headers=env.auth).json()
    assert [p["id"] for p in listed] == [env.project.id]


def test_filters_and_cursor_pagination(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    sent = []
    for i in range(25):
        e = {
            "event": "a" if i % 2 else "b",
            "distinct_id": f"d{i % 3}",
            "uuid": str(uuid.uuid4()),
            "timestamp": f"2026-11-0{1 + i % 5}T10:00:{i:02d}Z",
        }
        sent.append(e)
    _send(env, *sent)
    got = env.events(event="a", distinct_id="d1", limit=2)
    want = [e for e in sent if e["event"] == "a" and e["distinct_id"] == "d1"]
    assert sorted(g["uuid"] for g in got) == sorted(str(e["uuid"]) for e in want)
    stamps = [g["timestamp"] for g in got]
    assert stamps == sorted(stamps, reverse=True)
    window = env.events(after="2026-11-02T00:00:00Z", before="2026-11-04T00:00:00Z")
    assert {g["timestamp"][:10] for g in window} == {"2026-11-02", "2026-11-03"}


def test_an_events_page_names_its_persons(env: Env) -> None:
    _send(
        env,
        {"event": "$pageview", "distinct_id": "anon"},
        {"event": "$identify", "distinct_id": "u", "properties": {"$anon_distinct_id": "anon"}},
        {"event": "$set", "distinct_id": "u", "$set": {"email": "u@x.test"}},
        {"event": "$pageview", "distinct_id": "nameless"},
    )
    resp = env.client.get(f"/api/projects/{env.project.id}/events", headers=env.auth)
    assert resp.status_code == 200
    body = resp.json()
    by_id = {e["distinct_id"]: e["person_id"] for e in body["results"]}
    # The anonymous events belong to the person they merged into, who goes by their email.
    assert by_id["anon"] == by_id["u"]
    assert body["person_names"] == {by_id["u"]: "u@x.test"}


def test_bad_query_parameters_are_400_naming_the_field(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/events"
    for params, field in (({"limit": 0}, "limit"), ({"after": "yesterday"}, "after")):
        resp = env.client.get(url, params=params, headers=env.auth)
        assert resp.status_code == 400
        assert any(field in p["field"] for p in resp.json()["detail"])
    cursor = env.client.get(url, params={"cursor": "garbage!"}, headers=env.auth)
    assert cursor.status_code == 400 and cursor.json()["error"] == "invalid_cursor"
    backwards = env.client.get(
        url,
        params={"after": "2026-01-02T00:00:00Z", "before": "2026-01-01T00:00:00Z"},
        headers=env.auth,
    )
    assert backwards.status_code == 400 and backwards.json()["error"] == "invalid_range"


def test_person_endpoint(env: Env) -> None:
    _send(
        env,
        {"event": "$pageview", "distinct_id": "anon"},
        {
            "event": "$identify",
            "distinct_id": "u",
            "properties": {"$anon_distinct_id": "anon"},
            "$set": {"email": "u@x.test"},
        },
    )
    person = env.client.get(f"/api/projects/{env.project.id}/persons/anon", headers=env.auth)
    assert person.status_code == 200
    body = person.json()
    assert set(body["distinct_ids"]) == {"anon", "u"}
    assert body["properties"] == {"email": "u@x.test"}
    assert body["is_identified"] is True
    missing = env.client.get(f"/api/projects/{env.project.id}/persons/nobody", headers=env.auth)
    assert missing.status_code == 404


def test_openapi_document_describes_the_api(env: Env) -> None:
    doc = env.client.get("/openapi.json").json()
    assert {
        "/api/projects/{project_id}/events",
        "/api/projects/{project_id}/persons/{distinct_id}",
        "/_health",
    } <= set(doc["paths"])
