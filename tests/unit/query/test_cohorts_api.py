"""Saved cohorts through the API, used as insight filters; and the project's test-account
filters that insights apply when asked to leave internal users out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Env, FakeClock
from userlens.model.cohort import CohortIn
from userlens.model.filters import CohortDefinition
from userlens.model.project import Role
from userlens.web import cohorts as cohorts_api


def _at(clock: FakeClock, days_ago: float) -> str:
    moment = datetime.fromtimestamp(clock.now_us / 1e6, tz=UTC) - timedelta(days=days_ago)
    return moment.isoformat()


def _seed(env: Env, clock: FakeClock) -> None:
    """ann bought twice two days ago; bob once today; cat (staff) viewed today."""
    batch: list[dict[str, Any]] = [
        {"event": "buy", "distinct_id": "ann", "timestamp": _at(clock, 2)},
        {"event": "buy", "distinct_id": "ann", "timestamp": _at(clock, 2)},
        {"event": "buy", "distinct_id": "bob", "timestamp": _at(clock, 0.1)},
        {
            "event": "view",
            "distinct_id": "cat",
            "timestamp": _at(clock, 0.1),
            "properties": {"$set": {"email": "cat@lensware.test"}},
        },
    ]
    resp = env.client.post("/batch/", json={"api_key": env.project.api_token, "batch": batch})
    assert resp.status_code == 200
    env.flush()


def _persons(env: Env, filters: list[dict[str, Any]], **extra: Any) -> float:
    spec = {"series": [{"math": "unique_persons"}], "date_range": {"date_from": "-7d"}}
    resp = env.client.post(
        f"/api/projects/{env.project.id}/query",
        json={**spec, "filters": filters, **extra},
        headers=env.auth,
    )
    assert resp.status_code == 200, resp.text
    total: float = resp.json()["series"][0]["total"]
    return total


def test_saved_cohorts_filter_insights(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    _seed(env, clock)
    url = f"/api/projects/{env.project.id}/cohorts"
    buyers = {
        "name": "Repeat buyers",
        "definition": {"rules": [{"kind": "did_event", "event": "buy", "min_count": 2}]},
    }
    resp = env.client.post(url, json=buyers, headers=env.auth)
    assert resp.status_code == 201, resp.text
    cohort = resp.json()
    assert cohort["name"] == "Repeat buyers" and cohort["definition"]["rules"][0]["days"] == 30
    by_id = [{"type": "cohort", "cohort_id": cohort["id"]}]
    assert _persons(env, by_id) == 1  # ann
    assert _persons(env, [{**by_id[0], "negate": True}]) == 2  # bob, cat

    # "In the last day" counts back from now: ann's purchases were two days ago.
    recent = {"definition": {"rules": [{"kind": "did_event", "event": "buy", "days": 1}]}}
    resp = env.client.patch(f"{url}/{cohort['id']}", json=recent, headers=env.auth)
    assert resp.status_code == 200
    assert _persons(env, by_id) == 1  # now bob: the cached answer was not reused

    static = {"name": "Beta", "definition": {"distinct_ids": ["ann", "cat", "nobody"]}}
    beta = env.client.post(url, json=static, headers=env.auth).json()
    either = {
        "match": "any",
        "filters": [
            {"type": "cohort", "cohort_id": beta["id"]},
            {"type": "cohort", "cohort_id": cohort["id"]},
        ],
    }
    assert _persons(env, [either]) == 3
    assert [c["name"] for c in env.client.get(url, headers=env.auth).json()] == [
        "Repeat buyers",
        "Beta",
    ]

    assert env.client.delete(f"{url}/{beta['id']}", headers=env.auth).status_code == 204
    resp = env.client.post(
        f"/api/projects/{env.project.id}/query",
        json={"series": [{}], "filters": [{"type": "cohort", "cohort_id": beta["id"]}]},
        headers=env.auth,
    )
    assert resp.status_code == 400
    assert resp.json()["detail"] == f"filters: there is no cohort {beta['id']} in this project"
    resp = env.client.post(
        f"/api/projects/{env.project.id}/query",
        json={"series": [{}], "breakdown_cohorts": [{"type": "cohort", "cohort_id": beta["id"]}]},
        headers=env.auth,
    )
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith(f"breakdown_cohorts: there is no cohort {beta['id']}")


def test_a_cohort_lists_its_persons_as_they_are_now(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    _seed(env, clock)
    url = f"/api/projects/{env.project.id}/cohorts"
    body = {"name": "Buyers", "definition": {"rules": [{"kind": "did_event", "event": "buy"}]}}
    buyers = env.client.post(url, json=body, headers=env.auth).json()
    members = f"{url}/{buyers['id']}/persons"

    resp = env.client.get(members, headers=env.auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["count"] == 2
    assert sorted(p["distinct_ids"][0] for p in resp.json()["persons"]) == ["ann", "bob"]
    one = env.client.get(members, params={"limit": 1}, headers=env.auth).json()
    assert one["count"] == 2 and len(one["persons"]) == 1

    # "In the last 30 days" counts back from now, so members leave as time passes.
    clock.advance(29 * 86400)
    assert [
        p["distinct_ids"] for p in env.client.get(members, headers=env.auth).json()["persons"]
    ] == [["bob"]]

    staff = {
        "name": "Staff",
        "definition": {
            "rules": [
                {
                    "kind": "has_property",
                    "filter": {
                        "key": "email",
                        "type": "person",
                        "operator": "contains",
                        "value": "@lensware",
                    },
                }
            ]
        },
    }
    staff_id = env.client.post(url, json=staff, headers=env.auth).json()["id"]
    found = env.client.get(f"{url}/{staff_id}/persons", headers=env.auth).json()
    assert found["count"] == 1 and found["persons"][0]["distinct_ids"] == ["cat"]
    assert env.client.get(f"{url}/{staff_id}/persons").status_code == 401
    assert (
        env.client.get(
            f"{url}/{staff_id}/persons", params={"limit": 0}, headers=env.auth
        ).status_code
        == 400
    )


def test_persons_behind_a_number_are_saved_as_a_list_cohort(
    make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    _seed(env, clock)
    url = f"/api/projects/{env.project.id}/cohorts"
    trends = {
        "series": [{"event": "buy", "math": "unique_persons"}],
        "date_range": {"date_from": "-7d"},
    }
    drill = {"kind": "trends_persons", "trends": trends, "limit": 1}  # the page is not the limit
    body = {"name": "Bought this week", "persons": drill}
    resp = env.client.post(f"{url}/from-persons", json=body, headers=env.auth)
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert made["name"] == "Bought this week"
    assert sorted(made["definition"]["distinct_ids"]) == ["ann", "bob"]
    members = env.client.get(f"{url}/{made['id']}/persons", headers=env.auth).json()
    assert members["count"] == 2

    # A list stays as it was saved: cat buying later does not join it.
    later = {"event": "buy", "distinct_id": "cat", "timestamp": _at(clock, 0)}
    env.client.post("/batch/", json={"api_key": env.project.api_token, "batch": [later]})
    env.flush()
    assert env.client.get(f"{url}/{made['id']}/persons", headers=env.auth).json()["count"] == 2

    nobody = {
        "name": "None",
        "persons": {**drill, "trends": {**trends, "series": [{"event": "refund"}]}},
    }
    resp = env.client.post(f"{url}/from-persons", json=nobody, headers=env.auth)
    assert resp.status_code == 400 and resp.json()["error"] == "no_persons"
    monkeypatch.setattr(cohorts_api, "MAX_LISTED", 2)
    resp = env.client.post(f"{url}/from-persons", json=body, headers=env.auth)
    assert resp.status_code == 400 and "at most 2 distinct ids" in resp.json()["detail"]
    bad = {"name": "x", "persons": {"kind": "trends", "series": [{}]}}
    assert env.client.post(f"{url}/from-persons", json=bad, headers=env.auth).status_code == 400
    assert env.client.post(f"{url}/from-persons", json=body).status_code == 401


def test_cohorts_stay_in_their_project(env: Env) -> None:
    meta = env.app.services.meta
    other = meta.create_project("Another team")
    theirs = meta.create_cohort(
        other.id, CohortIn(name="Theirs", definition=CohortDefinition(distinct_ids=["x"]))
    )
    mine = f"/api/projects/{env.project.id}/cohorts"
    assert env.client.get(f"{mine}/{theirs.id}", headers=env.auth).status_code == 404
    resp = env.client.patch(f"{mine}/{theirs.id}", json={"name": "Mine"}, headers=env.auth)
    assert resp.status_code == 404
    assert env.client.delete(f"{mine}/{theirs.id}", headers=env.auth).status_code == 404
    assert env.client.get(f"{mine}/{theirs.id}/persons", headers=env.auth).status_code == 404
    assert env.client.get(f"/api/projects/{other.id}/cohorts", headers=env.auth).status_code == 404
    resp = env.client.post(
        f"/api/projects/{env.project.id}/query",
        json={"series": [{}], "filters": [{"type": "cohort", "cohort_id": theirs.id}]},
        headers=env.auth,
    )
    assert resp.status_code == 400  # as if it did not exist
    assert meta.cohort(other.id, theirs.id) is not None
    assert meta.cohort(other.id, theirs.id).name == "Theirs"  # type: ignore[union-attr]


def test_viewers_read_cohorts_but_do_not_change_them(env: Env) -> None:
    meta = env.app.services.meta
    meta.create_user("viewer@team.test", "pass-word-1")
    meta.add_member(env.project.id, "viewer@team.test", Role.VIEWER)
    headers = {"Authorization": f"Bearer {meta.create_api_token('viewer@team.test').secret}"}
    url = f"/api/projects/{env.project.id}/cohorts"
    body = {"name": "Beta", "definition": {"distinct_ids": ["a"]}}
    assert env.client.get(url, headers=headers).status_code == 200
    assert env.client.post(url, json=body, headers=headers).status_code == 403
    drill = {"kind": "trends_persons", "trends": {"series": [{}]}}
    saved = {"name": "Beta", "persons": drill}
    assert env.client.post(f"{url}/from-persons", json=saved, headers=headers).status_code == 403
    assert env.client.post(url, json=body).status_code == 401


def test_bad_cohorts_are_400_naming_the_field(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/cohorts"
    cases = [
        ({"name": "", "definition": {"distinct_ids": ["a"]}}, "body.name"),
        ({"name": "x", "definition": {}}, "body.definition"),
        ({"name": "x", "definition": {"distinct_ids": []}}, "body.definition"),
        (
            {
                "name": "x",
                "definition": {
                    "distinct_ids": ["a"],
                    "rules": [{"kind": "did_event", "event": "e"}],
                },
            },
            "body.definition",
        ),
        (
            {
                "name": "x",
                "definition": {"rules": [{"kind": "has_property", "filter": {"key": "plan"}}]},
            },
            "body.definition.rules.0.has_property.filter",
        ),
        (
            {
                "name": "x",
                "definition": {"rules": [{"kind": "did_event", "event": "e", "days": 0}]},
            },
            "body.definition.rules.0.did_event.days",
        ),
    ]
    for body, field in cases:
        resp = env.client.post(url, json=body, headers=env.auth)
        assert resp.status_code == 400, body
        assert any(p["field"].startswith(field) for p in resp.json()["detail"]), resp.json()


def test_insights_can_leave_test_accounts_out(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    _seed(env, clock)
    settings = f"/api/projects/{env.project.id}/settings"
    staff = {"key": "email", "type": "person", "operator": "not_contains", "value": "@lensware"}
    resp = env.client.patch(settings, json={"test_account_filters": [staff]}, headers=env.auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["test_account_filters"][0]["value"] == "@lensware"

    assert _persons(env, []) == 3
    assert _persons(env, [], filter_test_accounts=True) == 2
    # Inside a funnel's drill-down too.
    funnel = {
        "kind": "funnel",
        "steps": [{}, {}],
        "date_range": {"date_from": "-7d"},
        "filter_test_accounts": True,
    }
    resp = env.client.post(
        f"/api/projects/{env.project.id}/query",
        json={"kind": "funnel_persons", "funnel": funnel, "step": 0},
        headers=env.auth,
    )
    assert resp.status_code == 200
    assert sorted(p["distinct_ids"][0] for p in resp.json()["persons"]) == ["ann", "bob"]

    bad = {"test_account_filters": [{"key": "email", "operator": "gt", "value": "x"}]}
    assert env.client.patch(settings, json=bad, headers=env.auth).status_code == 400


def _with_beta(make_env: Callable[..., Env]) -> tuple[Env, dict[str, Any]]:
    """The seeded project, with a saved list cohort "Beta" of ann and cat."""
    clock = FakeClock()
    env = make_env(clock=clock)
    _seed(env, clock)
    url = f"/api/projects/{env.project.id}/cohorts"
    static = {"name": "Beta", "definition": {"distinct_ids": ["ann", "cat"]}}
    beta: dict[str, Any] = env.client.post(url, json=static, headers=env.auth).json()
    return env, beta


def test_retention_breaks_down_by_saved_cohorts(make_env: Callable[..., Env]) -> None:
    """Daily retention of any event: ann started two days ago, bob and cat today. A line for
    the cohort of ann and cat holds their cohorts alone; the whole stays everyone's."""
    env, beta = _with_beta(make_env)
    query = f"/api/projects/{env.project.id}/query"
    spec = {
        "kind": "retention",
        "period": "day",
        "periods": 4,
        "breakdown_cohorts": [{"type": "cohort", "cohort_id": beta["id"]}],
    }
    resp = env.client.post(query, json=spec, headers=env.auth)
    assert resp.status_code == 200, resp.text
    result = resp.json()
    # A person is in the cohort of the day of their events: the last (today's) holds bob and cat.
    assert [c["size"] for c in result["cohorts"]] == [0, 1, 0, 2]
    assert [
        (line["breakdown_value"], [c["size"] for c in line["cohorts"]]) for line in result["lines"]
    ] == [(str(beta["id"]), [0, 1, 0, 1])]

    ask = {"kind": "retention_persons", "retention": spec, "cohort": 3, "period": 0}
    everyone = env.client.post(query, json=ask, headers=env.auth).json()
    assert sorted(p["distinct_ids"][0] for p in everyone["persons"]) == ["bob", "cat"]
    line = {"value": str(beta["id"]), "is_other": False}
    mine = env.client.post(query, json={**ask, "line": line}, headers=env.auth).json()
    assert [p["distinct_ids"][0] for p in mine["persons"]] == ["cat"]

    both = {**spec, "breakdown": "plan"}
    resp = env.client.post(query, json=both, headers=env.auth)
    assert resp.status_code == 400
    assert resp.json()["detail"] == [
        {"field": "body", "detail": "breakdown_cohorts: not with a property breakdown"}
    ]
    gone = {**spec, "breakdown_cohorts": [{"type": "cohort", "cohort_id": beta["id"] + 1}]}
    resp = env.client.post(query, json=gone, headers=env.auth)
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith(
        f"breakdown_cohorts: there is no cohort {beta['id'] + 1}"
    )


def test_stickiness_breaks_down_by_saved_cohorts(make_env: Callable[..., Env]) -> None:
    """Any event on one day: ann, bob and cat; the Beta line holds ann and cat alone, and a
    line to ask for needs a breakdown."""
    env, beta = _with_beta(make_env)
    query = f"/api/projects/{env.project.id}/query"
    spec: dict[str, Any] = {
        "kind": "stickiness",
        "series": [{}],
        "date_range": {"date_from": "-7d"},
    }
    whole = env.client.post(query, json=spec, headers=env.auth).json()
    assert whole["series"][0]["persons"][0] == 3
    spec["breakdown_cohorts"] = [{"type": "cohort", "cohort_id": beta["id"]}]
    resp = env.client.post(query, json=spec, headers=env.auth)
    assert resp.status_code == 200, resp.text
    (line,) = resp.json()["series"]
    assert (line["series"], line["breakdown_value"], line["persons"][0]) == (0, str(beta["id"]), 2)

    ask = {"kind": "stickiness_persons", "stickiness": spec, "intervals": 1}
    ask["line"] = {"value": str(beta["id"])}
    got = env.client.post(query, json=ask, headers=env.auth).json()
    assert sorted(p["distinct_ids"][0] for p in got["persons"]) == ["ann", "cat"]
    plain = {**ask, "stickiness": {**spec, "breakdown_cohorts": []}}
    resp = env.client.post(query, json=plain, headers=env.auth)
    assert resp.status_code == 400
    assert "line: the stickiness has no breakdown" in str(resp.json()["detail"])


def test_a_deleted_persons_ids_leave_every_list_cohort(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    _seed(env, clock)
    identify = {"event": "$identify", "distinct_id": "ann@shop.test"}
    identify["properties"] = {"$anon_distinct_id": "ann"}  # type: ignore[assignment]
    env.client.post("/e/", json={"api_key": env.project.api_token, **identify})
    env.flush()
    url = f"/api/projects/{env.project.id}/cohorts"
    lists = {
        "Both": ["ann", "bob"],
        "Ann only": ["ann@shop.test", "ann"],
        "Bob only": ["bob"],
    }
    made = {}
    for name, ids in lists.items():
        body = {"name": name, "definition": {"distinct_ids": ids}}
        made[name] = env.client.post(url, json=body, headers=env.auth).json()["id"]
    rules = {"name": "Buyers", "definition": {"rules": [{"kind": "did_event", "event": "buy"}]}}
    buyers = env.client.post(url, json=rules, headers=env.auth).json()

    gone = env.client.delete(f"/api/projects/{env.project.id}/persons/ann", headers=env.auth)
    assert gone.status_code == 200, gone.text
    erased = set(gone.json()["distinct_ids"])
    assert erased == {"ann", "ann@shop.test"}
    for name, ids in lists.items():
        cohort = env.client.get(f"{url}/{made[name]}", headers=env.auth).json()
        assert cohort["definition"]["distinct_ids"] == [i for i in ids if i not in erased]
    # An emptied list still opens and filters (to nobody), and the rule cohort is untouched.
    empty = env.client.get(f"{url}/{made['Ann only']}/persons", headers=env.auth)
    assert empty.status_code == 200 and empty.json()["count"] == 0
    assert _persons(env, [{"type": "cohort", "cohort_id": made["Ann only"]}]) == 0
    assert _persons(env, [{"type": "cohort", "cohort_id": made["Both"]}]) == 1
    after = env.client.get(f"{url}/{buyers['id']}", headers=env.auth).json()
    assert after["definition"] == buyers["definition"]
