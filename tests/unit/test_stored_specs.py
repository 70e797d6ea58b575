"""What was saved before a check was added stays readable: a saved insight, a cohort and the
project's test-account filters written with values that new input may no longer carry (a regex
RE2 refuses, a date range two centuries back, a cohort id of 0) still list and open, and
running them answers a 400 that says what is wrong, never a 500."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from tests.conftest import Env
from userlens.store.meta.tables import CohortRow, InsightRow, ProjectRow

LOOKAHEAD = {"key": "plan", "operator": "regex", "value": "^pro(?!fessional)"}


def _store_raw(env: Env, table: Any, row_id: int, **values: Any) -> None:
    """Write values into a stored row as an older server would have, past today's checks."""
    with env.app.services.meta.engine.begin() as con:
        con.execute(update(table).where(table.id == row_id).values(**values))


def _post(env: Env, path: str, body: dict[str, Any]) -> Any:
    resp = env.client.post(f"/api/projects/{env.project.id}{path}", json=body, headers=env.auth)
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def test_specs_saved_before_a_check_stay_readable_and_say_what_is_wrong(env: Env) -> None:
    base = f"/api/projects/{env.project.id}"
    batch = [
        {
            "event": "$pageview",
            "distinct_id": who,
            "properties": {"plan": "pro", "$set": {"plan": "pro"}},
        }
        for who in ("ann", "bob")
    ]
    resp = env.client.post("/batch/", json={"api_key": env.project.api_token, "batch": batch})
    assert resp.status_code == 200
    env.flush()
    trends = {"kind": "trends", "series": [{"event": "$pageview"}]}
    saved = _post(env, "/insights", {"name": "Old", "spec": trends})
    cohort = _post(
        env,
        "/cohorts",
        {"name": "Pros", "definition": {"rules": [{"kind": "has_property", "filter": {
            "key": "plan", "type": "person", "value": "pro"}}]}},
    )  # fmt: skip
    old_spec = {
        **trends,
        "date_range": {"date_from": "-200y"},
        "filters": [LOOKAHEAD, {"type": "cohort", "cohort_id": 0}],
    }
    _store_raw(env, InsightRow, saved["id"], spec=old_spec)
    rule = {"kind": "has_property", "filter": {**LOOKAHEAD, "type": "person"}}
    _store_raw(env, CohortRow, cohort["id"], definition={"match": "all", "rules": [rule]})
    _store_raw(env, ProjectRow, env.project.id, test_account_filters=[LOOKAHEAD])

    listed = env.client.get(f"{base}/insights", headers=env.auth)
    assert listed.status_code == 200, listed.text
    (opened,) = [i for i in listed.json() if i["id"] == saved["id"]]
    assert opened["spec"]["date_range"]["date_from"] == "-200y"
    assert env.client.get(f"{base}/cohorts/{cohort['id']}", headers=env.auth).status_code == 200
    settings = env.client.get(f"{base}/settings", headers=env.auth)
    assert settings.status_code == 200 and settings.json()["test_account_filters"]

    # Run as saved, the spec is checked as new input: a 400 naming what is wrong.
    ran = env.client.post(f"{base}/query", json=opened["spec"], headers=env.auth)
    assert ran.status_code == 400, ran.text
    assert "date_range" in ran.text
    for spec in (
        {**trends, "filter_test_accounts": True},
        {**trends, "filters": [{"type": "cohort", "cohort_id": cohort["id"]}]},
    ):
        ran = env.client.post(f"{base}/query", json=spec, headers=env.auth)
        assert ran.status_code == 400, (spec, ran.text)
        assert ran.json()["detail"], ran.text
    events = env.client.get(f"{base}/events?filter_test_accounts=true", headers=env.auth)
    assert events.status_code == 400 and events.json()["error"] == "invalid_properties"
