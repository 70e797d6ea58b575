"""The catalog endpoints behind the web app's pickers, and the persons and events lists: scoped
to the caller's projects."""

from __future__ import annotations

from typing import Any

import orjson

from tests.conftest import Env


def _send(env: Env, batch: list[dict[str, Any]]) -> None:
    resp = env.client.post("/batch/", json={"api_key": env.project.api_token, "batch": batch})
    assert resp.status_code == 200
    env.flush()


def test_the_catalog_lists_what_the_project_sent(env: Env) -> None:
    batch = [
        {"event": "signup", "distinct_id": "a", "properties": {"plan": "pro"}},
        {"event": "signup", "distinct_id": "b", "properties": {"plan": "free"}},
        {"event": "buy", "distinct_id": "a", "$set": {"tier": "gold"}},
    ]
    _send(env, batch)
    base = f"/api/projects/{env.project.id}/catalog"
    events = env.client.get(f"{base}/events", headers=env.auth).json()
    assert events == [{"name": "signup", "count": 2}, {"name": "buy", "count": 1}]
    props = env.client.get(f"{base}/properties", params={"event": "signup"}, headers=env.auth)
    assert {"name": "plan", "count": 2} in props.json()
    people = env.client.get(f"{base}/properties", params={"type": "person"}, headers=env.auth)
    assert {p["name"] for p in people.json()} >= {"tier"}
    values = env.client.get(f"{base}/values", params={"key": "plan"}, headers=env.auth)
    assert sorted(v["name"] for v in values.json()) == ["free", "pro"]


def test_the_catalog_of_another_project_is_not_found(env: Env) -> None:
    other = env.app.services.meta.create_project("Other")
    for path in ("events", "properties", "values?key=plan"):
        resp = env.client.get(f"/api/projects/{other.id}/catalog/{path}", headers=env.auth)
        assert resp.status_code == 404, path
    assert env.client.get(f"/api/projects/{env.project.id}/catalog/events").status_code == 401


def test_the_persons_list_pages_newest_first(env: Env) -> None:
    batch = [
        {"event": "seen", "distinct_id": f"p{i}", "timestamp": f"2026-11-0{i + 1}T12:00:00Z"}
        for i in range(5)
    ]
    _send(env, batch)
    url = f"/api/projects/{env.project.id}/persons"

    def page(**params: int) -> list[str]:
        resp = env.client.get(url, params=params, headers=env.auth)
        assert resp.status_code == 200, resp.text
        return [p["distinct_ids"][0] for p in resp.json()]

    assert page() == ["p4", "p3", "p2", "p1", "p0"]
    assert page(limit=2) + page(limit=2, offset=2) + page(limit=2, offset=4) == page()
    assert page(offset=5) == []
    for bad in ({"offset": -1}, {"limit": 0}, {"limit": 501}):
        resp = env.client.get(url, params=bad, headers=env.auth)
        assert resp.status_code in (400, 422) and "detail" in resp.json(), bad
    assert env.client.get(url).status_code == 401


def test_events_are_listed_by_their_properties_and_their_persons(env: Env) -> None:
    batch = [
        {"event": "buy", "distinct_id": "ann", "properties": {"plan": "pro", "$set": {"vip": 1}}},
        {"event": "buy", "distinct_id": "bob", "properties": {"plan": "free"}},
        {"event": "view", "distinct_id": "ann", "properties": {"plan": "pro"}},
    ]
    _send(env, batch)
    url = f"/api/projects/{env.project.id}/events"

    def listed(properties: list[dict[str, object]], **params: str) -> list[tuple[str, str]]:
        resp = env.client.get(
            url,
            params={"properties": orjson.dumps(properties).decode(), **params},
            headers=env.auth,
        )
        assert resp.status_code == 200, resp.text
        return sorted((e["event"], e["distinct_id"]) for e in resp.json()["results"])

    assert listed([{"key": "plan", "value": "pro"}]) == [("buy", "ann"), ("view", "ann")]
    assert listed([{"key": "plan", "value": "pro"}], event="buy") == [("buy", "ann")]
    assert listed([{"key": "vip", "type": "person", "operator": "is_set"}]) == [
        ("buy", "ann"),
        ("view", "ann"),
    ]
    assert listed([{"key": "plan", "operator": "is_not", "value": "pro"}]) == [("buy", "bob")]
    ann = env.client.get(f"/api/projects/{env.project.id}/persons/ann", headers=env.auth).json()
    assert listed([{"key": "plan", "value": "pro"}], event="view", person_id=ann["id"]) == [
        ("view", "ann")
    ]
    resp = env.client.get(url, params={"person_id": "not-a-uuid"}, headers=env.auth)
    assert resp.status_code in (400, 422) and "detail" in resp.json()
    # A hostile key or value is a value like any other: it finds nothing, and changes nothing.
    assert listed([{"key": "plan'); DROP TABLE events; --", "value": "x"}]) == []
    assert listed([{"key": "plan", "value": "' OR 1=1 --"}]) == []
    assert len(listed([])) == 3

    # Cohorts and groups, as insights take them.
    cohorts = f"/api/projects/{env.project.id}/cohorts"
    resp = env.client.post(
        cohorts,
        json={"name": "Bob", "definition": {"distinct_ids": ["bob"]}},
        headers=env.auth,
    )
    assert resp.status_code == 201, resp.text
    bob = resp.json()["id"]
    assert listed([{"type": "cohort", "cohort_id": bob}]) == [("buy", "bob")]
    assert listed([{"type": "cohort", "cohort_id": bob, "negate": True}], event="buy") == [
        ("buy", "ann")
    ]
    either = {
        "match": "any",
        "filters": [{"type": "cohort", "cohort_id": bob}, {"key": "plan", "value": "pro"}],
    }
    assert len(listed([either])) == 3
    assert listed([either], event="view") == [("view", "ann")]
    # The project's test accounts left out on request: its filters are what real users pass.
    real = {"key": "plan", "operator": "is_not", "value": "free"}
    resp = env.client.patch(
        f"/api/projects/{env.project.id}/settings",
        json={"test_account_filters": [real]},
        headers=env.auth,
    )
    assert resp.status_code == 200, resp.text
    assert listed([], filter_test_accounts="true") == [("buy", "ann"), ("view", "ann")]
    assert len(listed([])) == 3

    for bad, field in (
        ("not json", "properties"),
        ('[{"type": "cohort", "cohort_id": 999}]', "properties: there is no cohort 999"),
        ('[{"match": "any", "filters": []}]', "properties.0"),
        ('{"key": "plan"}', "properties"),
        ('[{"key": "plan", "operator": "gt", "value": "x"}]', "properties.0"),
        ('[{"key": "plan", "operator": "sounds_like", "value": "x"}]', "properties.0.operator"),
        ('[{"key": "plan", "operator": "regex", "value": "(?<=a)b"}]', "properties"),
    ):
        resp = env.client.get(url, params={"properties": bad}, headers=env.auth)
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["error"] == "invalid_properties"
        assert resp.json()["detail"].startswith(field), (bad, resp.json())
