"""`POST /api/projects/{id}/query`: every insight kind over the project's events, clear 400s for bad
specs, and no way into another project's data."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

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


def test_trends_say_the_range_their_buckets_cover(env: Env) -> None:
    """Weekly buckets start on the Monday before the range; the range itself is given too, in
    the project's time zone, for a total to say what it counts."""
    spec = {
        "series": [{"event": "signup"}],
        "interval": "week",
        "date_range": {"date_from": "2026-01-01", "date_to": "2026-01-31"},
    }
    url = f"/api/projects/{env.project.id}/query"
    body = env.client.post(url, json=spec, headers=env.auth).json()
    assert body["buckets"][0] == "2025-12-29T00:00:00"
    assert (body["start"], body["end"]) == ("2026-01-01T00:00:00", "2026-02-01T00:00:00")


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


def test_every_insight_kind_answers_through_the_api(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    at = clock.now_us / 1e6

    def ts(minutes: float) -> str:
        return datetime.fromtimestamp(at - 3600 + minutes * 60, tz=UTC).isoformat()

    _send(
        env,
        {
            "event": "$pageview",
            "distinct_id": "a",
            "timestamp": ts(0),
            "properties": {"$pathname": "/", "$session_id": "s1"},
        },
        {
            "event": "$pageview",
            "distinct_id": "a",
            "timestamp": ts(1),
            "properties": {"$pathname": "/pricing", "$session_id": "s1"},
        },
        {"event": "tour", "distinct_id": "a", "timestamp": ts(1.5), "properties": {}},
        {
            "event": "signup",
            "distinct_id": "a",
            "timestamp": ts(2),
            "properties": {"$session_id": "s1"},
        },
        {
            "event": "$pageview",
            "distinct_id": "b",
            "timestamp": ts(3),
            "properties": {"$pathname": "/", "$session_id": "s2"},
        },
    )
    url = f"/api/projects/{env.project.id}/query"

    def ask(spec: dict[str, object]) -> dict[str, Any]:
        resp = env.client.post(url, json=spec, headers=env.auth)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        assert body["kind"] == spec["kind"].replace("funnel_persons", "persons")  # type: ignore[union-attr]
        return body

    funnel = {
        "kind": "funnel",
        "steps": [{"event": "$pageview"}, {"event": "signup"}],
        "date_range": {"date_from": "-1d"},
    }
    steps = ask(funnel)["lines"][0]["steps"]
    assert [(s["count"], s["dropped"]) for s in steps] == [(2, 0), (1, 1)]
    assert steps[1]["conversion_from_first"] == 0.5 and steps[1]["median_seconds"] == 120
    dropped = ask({"kind": "funnel_persons", "funnel": funnel, "step": 1, "status": "dropped"})
    assert [(p["distinct_ids"], p["session_id"]) for p in dropped["persons"]] == [(["b"], "s2")]
    short = ask({"kind": "funnel_persons", "funnel": funnel, "step": 1, "status": "not_converted"})
    assert short["persons"] == dropped["persons"]  # of two steps, the same persons
    hourly = {**funnel, "over_time": "hour"}
    periods = ask(hourly)["lines"][0]["periods"]
    starts = [datetime.fromisoformat(p["start"]) for p in periods]
    assert {b - a for a, b in itertools.pairwise(starts)} == {timedelta(hours=1)}
    assert not periods[-1]["complete"]
    assert [sum(p["counts"][i] for p in periods) for i in range(2)] == [2, 1]
    first = next(p for p in periods if p["counts"][1])
    converted = ask(
        {"kind": "funnel_persons", "funnel": hourly, "step": 1, "period": first["start"]}
    )
    assert [p["distinct_ids"] for p in converted["persons"]] == [["a"]]
    tied = ask({"kind": "funnel_correlation", "funnel": funnel})
    assert (tied["converted"], tied["dropped"], tied["failure"]) == (1, 1, [])
    assert [(e["event"], e["converted"], e["dropped"]) for e in tied["success"]] == [("tour", 1, 0)]

    trend = {"series": [{"event": "$pageview"}], "date_range": {"date_from": "-1d"}}
    behind = env.client.post(
        url, json={"kind": "trends_persons", "trends": trend}, headers=env.auth
    ).json()
    assert sorted(p["distinct_ids"][0] for p in behind["persons"]) == ["a", "b"]

    paths = ask({"kind": "paths", "date_range": {"date_from": "-1d"}})
    assert {(e["source"], e["target"], e["weight"]) for e in paths["edges"]} == {
        ("/", "/pricing", 1)
    }
    retention = ask({"kind": "retention", "period": "day", "periods": 2})
    assert retention["cohorts"][-1]["size"] == 2
    by_missing = ask({"kind": "retention", "period": "day", "periods": 2, "breakdown": "plan"})
    assert [(x["breakdown_value"], x["cohorts"][-1]["size"]) for x in by_missing["lines"]] == [
        (None, 2)
    ]
    lifecycle = ask({"kind": "lifecycle", "date_range": {"date_from": "-1d"}})
    assert lifecycle["new"][-1] == 2
    sticky = ask(
        {
            "kind": "stickiness",
            "series": [{"event": "$pageview"}],
            "date_range": {"date_from": "-1d"},
        }
    )
    assert sticky["series"][0]["persons"][0] == 2


def test_bad_insight_specs_are_400_naming_the_field(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/query"
    step = {"event": "view"}
    cases = [
        ({"kind": "sankey"}, "body"),
        ({"kind": "funnel", "steps": [step]}, "body.steps"),
        ({"kind": "funnel", "steps": [step, step], "window": 0}, "body.window"),
        ({"kind": "funnel", "steps": [step, step], "window_unit": "fortnight"}, "body.window_unit"),
        (
            {"kind": "funnel", "steps": [step, {"filters": [{"key": "x", "type": "group"}]}]},
            "body.steps.1.filters.0.type",
        ),
        (
            {"kind": "funnel", "steps": [step, step], "exclusions": [{"event": "x", "to_step": 5}]},
            "body",
        ),
        (
            {
                "kind": "funnel",
                "steps": [step, {"filters": [{"key": "u", "operator": "regex", "value": "(["}]}],
            },
            "body.steps.1.filters.0",
        ),
        ({"kind": "funnel", "steps": [step, step], "over_time": "minute"}, "body.over_time"),
        (
            {
                "kind": "funnel_persons",
                "funnel": {"steps": [step, step, step]},
                "step": 1,
                "converted_in": {"from_seconds": 0, "to_seconds": 60},
            },
            "body",
        ),
        (
            {
                "kind": "funnel_persons",
                "funnel": {"steps": [step, step]},
                "step": 1,
                "converted_in": {"from_seconds": 60, "to_seconds": 60},
            },
            "body.converted_in",
        ),
        (
            {
                "kind": "funnel_persons",
                "funnel": {"steps": [step, step]},
                "step": 1,
                "converted_in": {"from_seconds": 0, "to_seconds": 1e300},
            },
            "body.converted_in.to_seconds",
        ),
        (
            {"kind": "funnel_persons", "funnel": {"steps": [step, step]}, "period": "2026-01-05"},
            "body",
        ),
        (
            {
                "kind": "funnel_persons",
                "funnel": {"steps": [step, step], "over_time": "day"},
                "period": "2026-01-05T00:00:00Z",
            },
            "body",
        ),
        ({"kind": "funnel_correlation", "funnel": {"steps": [step]}}, "body.funnel.steps"),
        (
            {"kind": "funnel_correlation", "funnel": {"steps": [step, step]}, "limit": 0},
            "body.limit",
        ),
        (
            {"kind": "funnel_correlation", "funnel": {"steps": [step, step]}, "exclude": [""]},
            "body",
        ),
        (
            {
                "kind": "funnel_correlation",
                "funnel": {"steps": [step, step]},
                "person_properties": ["a\nb"],
            },
            "body.person_properties.0",
        ),
        (
            {
                "kind": "funnel_correlation_persons",
                "funnel": {"steps": [step, step]},
                "event": "tour",
                "property": "plan",
                "value": "pro",
            },
            "body",
        ),
        (
            {
                "kind": "funnel_correlation_persons",
                "funnel": {"steps": [step, step]},
                "property": "plan",
            },
            "body",
        ),
        (
            {
                "kind": "funnel_persons",
                "funnel": {"steps": [step, step, step]},
                "step": 1,
                "status": "not_converted",
            },
            "body",
        ),
        ({"kind": "retention", "period": "hour"}, "body.period"),
        ({"kind": "retention", "periods": 0}, "body.periods"),
        ({"kind": "retention", "breakdown": "plan", "breakdown_limit": 0}, "body.breakdown_limit"),
        (
            {"kind": "retention_persons", "retention": {}, "cohort": 0, "line": {"value": "pro"}},
            "body",
        ),
        ({"kind": "paths", "start_point": "/", "end_point": "/x"}, "body"),
        ({"kind": "paths", "steps": 1}, "body.steps"),
        ({"kind": "paths", "path_cleaning": [{"regex": "\\d*", "alias": "N"}]}, "body.path_"),
        ({"kind": "paths", "path_cleaning": [{"regex": "(?=x)y", "alias": "N"}]}, "body.path_"),
        ({"kind": "paths", "path_cleaning": [{"regex": "(\\d+)", "alias": "\\1"}]}, "body.path_"),
        ({"kind": "paths", "exclude": ["/x"] * 51}, "body.exclude"),
        ({"kind": "stickiness", "series": []}, "body.series"),
        ({"kind": "lifecycle", "interval": "minute"}, "body.interval"),
        (
            {
                "kind": "funnel_persons",
                "funnel": {"steps": [step, step]},
                "step": 0,
                "status": "dropped",
            },
            "body",
        ),
    ]
    for spec, field in cases:
        resp = env.client.post(url, json=spec, headers=env.auth)
        assert resp.status_code == 400, spec
        body = resp.json()
        assert body["error"] == "invalid_request"
        assert any(p["field"].startswith(field) for p in body["detail"]), (spec, body)
    backwards = {
        "kind": "funnel",
        "steps": [step, step],
        "date_range": {"date_from": "2026-01-10", "date_to": "2026-01-01"},
    }
    resp = env.client.post(url, json=backwards, headers=env.auth)
    assert resp.status_code == 400 and "date_range" in resp.json()["detail"]
    # JSON's non-standard Infinity and NaN, which Python's parser reads, are refused too.
    infinite = (
        '{"kind": "funnel_persons", "funnel": {"steps": [{"event": "v"}, {"event": "v"}]}, '
        '"step": 1, "converted_in": {"from_seconds": NaN, "to_seconds": Infinity}}'
    )
    headers = {**env.auth, "Content-Type": "application/json"}
    resp = env.client.post(url, content=infinite, headers=headers)
    assert resp.status_code == 400, resp.text
    assert {p["field"] for p in resp.json()["detail"]} >= {
        "body.converted_in.from_seconds",
        "body.converted_in.to_seconds",
    }
    hourly = {
        "kind": "funnel",
        "steps": [step, step],
        "date_range": {"date_from": "2025-01-01", "date_to": "2026-01-01"},
        "over_time": "hour",
    }
    resp = env.client.post(url, json=hourly, headers=env.auth)
    assert resp.status_code == 400 and resp.json()["detail"].startswith("over_time: more than")


def test_paths_group_pages_and_leave_some_out(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    start = clock.now_us / 1e6 - 3600
    visits = {
        "ana": ["/", "/product/1", "/login", "/product/2", "/cart"],
        "ben": ["/", "/product/77"],
    }
    _send(
        env,
        *(
            {
                "event": "$pageview",
                "distinct_id": who,
                "timestamp": datetime.fromtimestamp(start + 60 * i, tz=UTC).isoformat(),
                "properties": {"$session_id": f"s-{who}", "$pathname": path},
            }
            for who, paths in visits.items()
            for i, path in enumerate(paths)
        ),
    )
    url = f"/api/projects/{env.project.id}/query"
    spec: dict[str, Any] = {
        "kind": "paths",
        "date_range": {"date_from": "-1d"},
        "path_cleaning": [{"regex": "^/product/\\d+", "alias": "/product/:id"}],
        "exclude": ["/login"],
    }
    resp = env.client.post(url, json=spec, headers=env.auth)
    assert resp.status_code == 200, resp.text
    edges = {(e["step"], e["source"], e["target"]): e["weight"] for e in resp.json()["edges"]}
    # ana's two products are one page, seen twice in a row once /login is left out.
    assert edges == {(0, "/", "/product/:id"): 2, (1, "/product/:id", "/cart"): 1}
    bare = env.client.post(
        url, json={"kind": "paths", "date_range": {"date_from": "-1d"}}, headers=env.auth
    )
    assert (1, "/product/1", "/login") in {
        (e["step"], e["source"], e["target"]) for e in bare.json()["edges"]
    }


def test_paths_apply_the_projects_page_groups_first(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    start = clock.now_us / 1e6 - 3600
    _send(
        env,
        *(
            {
                "event": "$pageview",
                "distinct_id": "ana",
                "timestamp": datetime.fromtimestamp(start + 60 * i, tz=UTC).isoformat(),
                "properties": {"$session_id": "s", "$pathname": path},
            }
            for i, path in enumerate(["/shop/p/1", "/shop/p/2/reviews", "/cart"])
        ),
    )
    groups = [{"regex": "/p/\\d+", "alias": "/p/:id"}]
    resp = env.client.patch(
        f"/api/projects/{env.project.id}/settings", json={"path_cleaning": groups}, headers=env.auth
    )
    assert resp.status_code == 200 and resp.json()["path_cleaning"] == groups
    url = f"/api/projects/{env.project.id}/query"

    def edges(**spec: Any) -> set[tuple[str, str]]:
        body = {"kind": "paths", "date_range": {"date_from": "-1d"}, **spec}
        resp = env.client.post(url, json=body, headers=env.auth)
        assert resp.status_code == 200, resp.text
        return {(e["source"], e["target"]) for e in resp.json()["edges"]}

    assert edges() == {("/shop/p/:id", "/shop/p/:id/reviews"), ("/shop/p/:id/reviews", "/cart")}
    # A pattern Python warns about ("possible nested set") is still taken.
    assert edges(path_cleaning=[{"regex": "[[x]", "alias": "y"}]) == edges()
    # The insight's own rules work on what the project's left.
    own = [{"regex": "^/shop/p/:id.*", "alias": "product"}]
    assert edges(path_cleaning=own) == {("product", "/cart")}
    assert edges(project_path_cleaning=False) == {
        ("/shop/p/1", "/shop/p/2/reviews"),
        ("/shop/p/2/reviews", "/cart"),
    }
    # As many rules of its own as the project has is still a spec that runs.
    many = [{"regex": f"/x{i}", "alias": "y"} for i in range(20)]
    env.client.patch(
        f"/api/projects/{env.project.id}/settings", json={"path_cleaning": many}, headers=env.auth
    )
    assert edges(path_cleaning=many) == {
        ("/shop/p/1", "/shop/p/2/reviews"),
        ("/shop/p/2/reviews", "/cart"),
    }
    too_many = env.client.post(
        url, json={"kind": "paths", "path_cleaning": [*many, *own]}, headers=env.auth
    )
    assert too_many.status_code == 400, too_many.text
