"""Signing in from the web app: first run, cookie sessions, CSRF, sign-out and passwords."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import FakeClock, make_settings
from userlens.model.project import Role
from userlens.web.app import create_app
from userlens.web.auth import SESSION_COOKIE

PASSWORD = "correct horse battery"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, FakeClock]]:
    """A server with no users yet, on a clock the test moves."""
    clock = FakeClock()
    app = create_app(make_settings(tmp_path / "data"), now_us=clock)
    with TestClient(app) as client:
        yield client, clock


def _setup(client: TestClient, email: str = "owner@example.com") -> dict[str, str]:
    resp = client.post("/api/setup", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    return {"X-CSRF-Token": resp.json()["csrf_token"]}


def test_first_run_creates_the_admin_once(fresh: tuple[TestClient, FakeClock]) -> None:
    client, _ = fresh
    assert client.get("/api/setup").json() == {"needed": True}
    assert client.get("/api/me").status_code == 401
    csrf = _setup(client)
    me = client.get("/api/me").json()
    assert me["email"] == "owner@example.com" and me["is_admin"] is True
    assert me["csrf_token"] == csrf["X-CSRF-Token"]
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    assert client.get("/api/setup").json() == {"needed": False}
    again = client.post("/api/setup", json={"email": "x@example.com", "password": PASSWORD})
    assert again.status_code == 409 and again.json()["error"] == "already_set_up"
    short = TestClient(client.app).post(
        "/api/setup", json={"email": "y@example.com", "password": "short"}
    )
    assert short.status_code == 409  # set up already, whatever the password


def test_the_first_admin_needs_a_real_password(fresh: tuple[TestClient, FakeClock]) -> None:
    client, _ = fresh
    resp = client.post("/api/setup", json={"email": "a@example.com", "password": "short"})
    assert resp.status_code == 400 and "8 characters" in resp.json()["detail"]
    assert client.get("/api/setup").json() == {"needed": True}


def test_changes_through_the_cookie_need_the_csrf_token(
    fresh: tuple[TestClient, FakeClock],
) -> None:
    client, _ = fresh
    csrf = _setup(client)
    body = {"name": "Shop"}
    refused = client.post("/api/projects", json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    wrong = client.post("/api/projects", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    made = client.post("/api/projects", json=body, headers=csrf)
    assert made.status_code == 201 and made.json()["name"] == "Shop"
    assert [p["name"] for p in client.get("/api/projects").json()] == ["Shop"]


def test_a_form_from_another_site_cannot_sign_anyone_in(
    fresh: tuple[TestClient, FakeClock],
) -> None:
    client, _ = fresh
    _setup(client)
    anonymous = TestClient(client.app)
    form = anonymous.post("/api/session", data={"email": "owner@example.com", "password": PASSWORD})
    assert form.status_code == 415
    assert SESSION_COOKIE not in anonymous.cookies


def test_sign_in_and_out(fresh: tuple[TestClient, FakeClock]) -> None:
    client, _ = fresh
    _setup(client)
    browser = TestClient(client.app)
    bad = browser.post("/api/session", json={"email": "owner@example.com", "password": "nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_credentials"
    good = browser.post("/api/session", json={"email": "owner@example.com", "password": PASSWORD})
    assert good.status_code == 200
    csrf = {"X-CSRF-Token": good.json()["csrf_token"]}
    assert browser.get("/api/me").status_code == 200
    assert browser.delete("/api/session").status_code == 403  # no CSRF token
    assert browser.delete("/api/session", headers=csrf).status_code == 204
    assert browser.get("/api/me").status_code == 401
    # The first browser is still signed in: sessions are per browser.
    assert client.get("/api/me").status_code == 200


def test_sessions_expire(fresh: tuple[TestClient, FakeClock]) -> None:
    client, clock = fresh
    _setup(client)
    clock.advance(13 * 86400)
    assert client.get("/api/me").status_code == 200
    clock.advance(2 * 86400)
    assert client.get("/api/me").status_code == 401


def test_a_new_password_ends_the_other_sessions(fresh: tuple[TestClient, FakeClock]) -> None:
    client, _ = fresh
    csrf = _setup(client)
    other = TestClient(client.app)
    other.post("/api/session", json={"email": "owner@example.com", "password": PASSWORD})
    assert other.get("/api/me").status_code == 200
    wrong = client.post(
        "/api/me/password",
        json={"current_password": "not it", "new_password": "a new passphrase"},
        headers=csrf,
    )
    assert wrong.status_code == 400
    changed = client.post(
        "/api/me/password",
        json={"current_password": PASSWORD, "new_password": "a new passphrase"},
        headers=csrf,
    )
    assert changed.status_code == 204
    assert other.get("/api/me").status_code == 401
    assert client.get("/api/me").status_code == 200  # this browser was signed in again
    old = other.post("/api/session", json={"email": "owner@example.com", "password": PASSWORD})
    assert old.status_code == 401


def test_a_member_sees_only_their_projects_through_the_cookie(
    fresh: tuple[TestClient, FakeClock],
) -> None:
    client, _ = fresh
    csrf = _setup(client)
    meta = client.app.services.meta  # type: ignore[attr-defined]
    mine = client.post("/api/projects", json={"name": "A"}, headers=csrf).json()
    theirs = client.post("/api/projects", json={"name": "B"}, headers=csrf).json()
    meta.create_user("member@example.com", PASSWORD)
    meta.add_member(mine["id"], "member@example.com", Role.MEMBER)
    member = TestClient(client.app)
    signed = member.post("/api/session", json={"email": "member@example.com", "password": PASSWORD})
    member_csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
    assert [p["name"] for p in member.get("/api/projects").json()] == ["A"]
    assert member.get(f"/api/projects/{theirs['id']}/events").status_code == 404
    assert member.get(f"/api/projects/{mine['id']}/events").status_code == 200
    made = member.post("/api/projects", json={"name": "C"}, headers=member_csrf)
    assert made.status_code == 403
