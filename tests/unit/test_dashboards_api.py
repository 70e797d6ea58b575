"""Saved insights and dashboards through the JSON API."""

from __future__ import annotations

from tests.conftest import Env
from userlens.model.project import Role

FUNNEL = {"kind": "funnel", "steps": [{"event": "landing"}, {"event": "signup"}]}


def test_a_new_project_has_a_product_overview_whose_tiles_all_run(env: Env) -> None:
    base = f"/api/projects/{env.project.id}"
    boards = env.client.get(f"{base}/dashboards", headers=env.auth).json()
    assert [b["name"] for b in boards] == ["Product overview"]
    tiles = boards[0]["tiles"]
    assert len(tiles) == 6
    for tile in tiles:
        answer = env.client.post(f"{base}/query", json=tile["spec"], headers=env.auth)
        assert answer.status_code == 200, (tile["name"], answer.text)


def test_a_trend_keeps_how_it_is_drawn_without_asking_anything_new(env: Env) -> None:
    base = f"/api/projects/{env.project.id}"
    spec = {"kind": "trends", "series": [{"event": "$pageview"}], "display": "number"}
    saved = env.client.post(
        f"{base}/insights", json={"name": "Views", "spec": spec}, headers=env.auth
    )
    assert saved.status_code == 201, saved.text
    listed = env.client.get(f"{base}/insights", headers=env.auth).json()
    assert [i["spec"]["display"] for i in listed if i["name"] == "Views"] == ["number"]
    overview = env.client.get(f"{base}/dashboards", headers=env.auth).json()[0]["tiles"]
    assert [t["spec"]["display"] for t in overview if t["spec"]["kind"] == "trends"] == [
        "line",
        "number",
        "line",
    ]
    # The same question drawn another way is the same answer, from the cache.
    first = env.client.post(f"{base}/query", json=spec, headers=env.auth).json()
    again = env.client.post(f"{base}/query", json={**spec, "display": "bar"}, headers=env.auth)
    assert again.json()["cached"] is True
    assert again.json()["series"] == first["series"]
    pie = env.client.post(f"{base}/query", json={**spec, "display": "pie"}, headers=env.auth)
    assert pie.status_code == 400, pie.text
    assert [d["field"] for d in pie.json()["detail"]] == ["body.display"]


def test_save_add_rearrange_and_remove(env: Env) -> None:
    base = f"/api/projects/{env.project.id}"
    saved = env.client.post(
        f"{base}/insights", json={"name": "Signup funnel", "spec": FUNNEL}, headers=env.auth
    )
    assert saved.status_code == 201
    insight = saved.json()
    assert insight["spec"]["kind"] == "funnel" and insight["spec"]["window"] == 14
    board = env.client.get(f"{base}/dashboards", headers=env.auth).json()[0]
    ids = [t["id"] for t in board["tiles"]]
    url = f"{base}/dashboards/{board['id']}"
    moved = env.client.patch(url, json={"tiles": [insight["id"], *ids]}, headers=env.auth)
    assert [t["name"] for t in moved.json()["tiles"]][:2] == ["Signup funnel", "Page views"]
    flipped = env.client.patch(url, json={"tiles": [*ids, insight["id"]]}, headers=env.auth)
    assert flipped.json()["tiles"][-1]["name"] == "Signup funnel"
    twice = env.client.patch(url, json={"tiles": [insight["id"], insight["id"]]}, headers=env.auth)
    assert twice.status_code == 400
    gone = env.client.delete(f"{base}/insights/{insight['id']}", headers=env.auth)
    assert gone.status_code == 204
    after = env.client.get(url, headers=env.auth).json()
    assert [t["id"] for t in after["tiles"]] == ids
    renamed = env.client.patch(
        f"{base}/insights/{ids[0]}", json={"name": "Views"}, headers=env.auth
    )
    assert renamed.json()["name"] == "Views"


def test_a_bad_spec_is_refused_naming_the_field(env: Env) -> None:
    resp = env.client.post(
        f"/api/projects/{env.project.id}/insights",
        json={"name": "x", "spec": {"kind": "funnel", "steps": [{"event": "a"}]}},
        headers=env.auth,
    )
    assert resp.status_code == 400, resp.text
    assert "steps" in resp.text


def test_projects_and_roles_are_kept_apart(env: Env) -> None:
    meta = env.app.services.meta
    other = meta.create_project("Other")
    theirs = meta.dashboards(other.id)[0]
    base = f"/api/projects/{env.project.id}"
    mine = env.client.get(f"{base}/dashboards", headers=env.auth).json()[0]
    assert env.client.get(f"{base}/dashboards/{theirs.id}", headers=env.auth).status_code == 404
    assert (
        env.client.get(f"/api/projects/{other.id}/dashboards", headers=env.auth).status_code == 404
    )
    stolen = env.client.patch(
        f"{base}/dashboards/{mine['id']}", json={"tiles": [theirs.tiles[0].id]}, headers=env.auth
    )
    assert stolen.status_code == 400
    meta.create_user("viewer@example.com", "correct horse battery")
    meta.add_member(env.project.id, "viewer@example.com", Role.VIEWER)
    viewer = {"Authorization": f"Bearer {meta.create_api_token('viewer@example.com').secret}"}
    assert env.client.get(f"{base}/dashboards", headers=viewer).status_code == 200
    change = env.client.post(f"{base}/insights", json={"name": "x", "spec": FUNNEL}, headers=viewer)
    assert change.status_code == 403


def test_a_dashboard_keeps_the_dates_and_filters_it_applies_to_every_tile(env: Env) -> None:
    base = f"/api/projects/{env.project.id}"
    board = env.client.get(f"{base}/dashboards", headers=env.auth).json()[0]
    assert board["filters"] == {"date_from": None, "filters": []}
    url = f"{base}/dashboards/{board['id']}"
    wanted = {
        "date_from": "-7d",
        "filters": [{"key": "$browser", "value": "Firefox"}, {"type": "cohort", "cohort_id": 3}],
    }
    saved = env.client.patch(url, json={"filters": wanted}, headers=env.auth)
    assert saved.status_code == 200, saved.text
    again = env.client.get(url, headers=env.auth).json()
    assert again["filters"]["date_from"] == "-7d"
    assert [(f["type"], f.get("key"), f.get("cohort_id")) for f in again["filters"]["filters"]] == [
        ("event", "$browser", None),
        ("cohort", None, 3),
    ]
    assert [t["id"] for t in again["tiles"]] == [t["id"] for t in board["tiles"]]
    # Renaming keeps them; giving none clears them.
    env.client.patch(url, json={"name": "Weekly"}, headers=env.auth)
    assert env.client.get(url, headers=env.auth).json()["filters"]["date_from"] == "-7d"
    cleared = env.client.patch(url, json={"filters": {}}, headers=env.auth).json()
    assert cleared["filters"] == {"date_from": None, "filters": []}
    for bad, field in [
        ({"date_from": "last week"}, "body.filters.date_from"),
        ({"filters": [{"key": "u", "operator": "regex", "value": "(["}]}, "body.filters.filters.0"),
        ({"filters": [{"key": "u"}] * 51}, "body.filters.filters"),
    ]:
        resp = env.client.patch(url, json={"filters": bad}, headers=env.auth)
        assert resp.status_code == 400, bad
        assert any(d["field"].startswith(field) for d in resp.json()["detail"]), resp.json()
