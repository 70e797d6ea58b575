"""`POST /api/projects/{id}/query`: trends over the project's events, clear 400s for bad
specs, and no way into another project's data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.conftest import Env, FakeClock


def _send(env: Env, *events: dict[str, object]) -> None:
    resp = env.client.post("/batch/", json={"api_key": env.project.api_token, "batch": events})
    assert resp.status_code == 200, resp.text
    env.flush()


def test_trends_count_events_and_unique_persons(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    now = datetime.fromtimestamp(clock.now_us / 1e6, tz=UTC).isoformat()
    _send(
        env,
        {
            "event": "signup",
            "distinct_id": "anon-1",
            "timestamp": now,
            "properties": {"amount": 10},
        },
        {
            "event": "signup",
            "distinct_id": "anon-2",
            "timestamp": now,
            "properties": {"plan": "pro"},
        },
        {
            "event": "signup",
            "distinct_id": "anon-2",
            "timestamp": now,
            "properties": {"amount": "2.5"},
        },
        {
            "event": "$identify",
            "distinct_id": "user-1",
            "timestamp": now,
            "properties": {"$anon_distinct_id": "anon-1"},
        },
    )
    spec = {
        "series": [
            {"event": "signup", "math": "total"},
            {"event": "signup", "math": "unique_persons"},
            {"event": "signup", "filters": [{"key": "plan", "operator": "exact", "value": "pro"}]},
            {"event": "signup", "math": "sum", "math_property": "amount"},
        ],
        "interval": "day",
        "date_range": {"date_from": "-7d"},
        "compare": True,
    }
    url = f"/api/projects/{env.project.id}/query"
    resp = env.client.post(url, json=spec, headers=env.auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["buckets"]) == 8 and body["timezone"] == "UTC"
    totals = [s["total"] for s in body["series"]]
    assert totals == [3, 2, 1, 12.5]
    assert body["series"][0]["values"][-1] == 3 and sum(body["series"][0]["values"]) == 3
    # The week before had nothing.
    assert [line["total"] for line in body["previous"]] == [0, 0, 0, 0]
    assert len(body["previous_buckets"]) == len(body["buckets"])


def test_bad_specs_are_400_naming_the_field(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/query"
    cases = [
        ({"series": []}, "series"),
        ({"series": [{"math": "p101"}]}, "series.0.math"),
        ({"series": [{"filters": [{"key": "plan", "operator": "regex", "value": "("}]}]}, "series"),
        ({"series": [{}], "date_range": {"date_from": "last week"}}, "date_range.date_from"),
        ({"series": [{}], "interval": "minute"}, "interval"),
        ({"series": [{"filters": [{"key": "n", "operator": "gt", "value": "x"}]}]}, "series"),
        ({"series": [{}], "surprise": 1}, "surprise"),
        ({"series": [{"math": "p90"}]}, "series.0"),
        ({"series": [{"math": "total", "math_property": "n"}]}, "series.0"),
    ]
    for spec, field in cases:
        resp = env.client.post(url, json=spec, headers=env.auth)
        assert resp.status_code == 400, spec
        body = resp.json()
        assert body["error"] == "invalid_request"
        assert any(p["field"].startswith(f"body.{field}") for p in body["detail"]), body
    backwards = {"series": [{}], "date_range": {"date_from": "2026-01-10", "date_to": "2026-01-01"}}
    resp = env.client.post(url, json=backwards, headers=env.auth)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_query"
    assert "date_range" in resp.json()["detail"]


def test_queries_need_a_member_of_the_project(env: Env) -> None:
    other = env.app.services.meta.create_project("Not yours")
    spec = {"series": [{}]}
    assert (
        env.client.post(f"/api/projects/{other.id}/query", json=spec, headers=env.auth).status_code
        == 404
    )
    assert env.client.post(f"/api/projects/{env.project.id}/query", json=spec).status_code == 401


def test_answers_are_cached_until_new_data_arrives(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    now = datetime.fromtimestamp(clock.now_us / 1e6, tz=UTC).isoformat()
    _send(env, {"event": "signup", "distinct_id": "a", "timestamp": now})
    url = f"/api/projects/{env.project.id}/query"
    spec = {"series": [{"event": "signup"}], "date_range": {"date_from": "-1d"}}

    def ask(**params: str) -> dict[str, object]:
        resp = env.client.post(url, json=spec, headers=env.auth, params=params)
        assert resp.status_code == 200, resp.text
        body: dict[str, object] = resp.json()
        return body

    first = ask()
    assert first["cached"] is False
    again = ask()
    assert again["cached"] is True and again["series"] == first["series"]
    assert ask(refresh="true")["cached"] is False

    _send(env, {"event": "signup", "distinct_id": "b", "timestamp": now})
    fresh = ask()
    assert fresh["cached"] is False
    assert fresh["series"][0]["total"] == 2  # type: ignore[index]

    # Deleting a person changes the data too.
    resp = env.client.delete(f"/api/projects/{env.project.id}/persons/b", headers=env.auth)
    assert resp.status_code == 200
    after = ask()
    assert after["cached"] is False and after["series"][0]["total"] == 1  # type: ignore[index]

    # A minute later, relative ranges have moved: computed again.
    clock.advance(60)
    assert ask()["cached"] is False
