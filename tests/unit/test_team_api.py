"""Members, invitations, personal API tokens and project renames through the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tests.conftest import Env, FakeClock
from userlens.model.project import Role


def test_an_admin_invites_a_new_teammate_who_can_sign_in(env: Env) -> None:
    base = f"/api/projects/{env.project.id}/members"
    invited = env.client.post(
        base, json={"email": "new@example.com", "role": "viewer"}, headers=env.auth
    )
    assert invited.status_code == 201, invited.text
    body = invited.json()
    assert body["role"] == "viewer" and len(body["temporary_password"]) >= 12
    members = env.client.get(base, headers=env.auth).json()
    assert {m["email"]: m["role"] for m in members} == {
        "admin0@example.com": "admin",
        "new@example.com": "viewer",
    }
    signed = env.client.post(
        "/api/session", json={"email": "new@example.com", "password": body["temporary_password"]}
    )
    assert signed.status_code == 200
    # An existing user is added without a new password.
    again = env.client.post(
        base, json={"email": "new@example.com", "role": "member"}, headers=env.auth
    )
    assert again.json()["temporary_password"] is None and again.json()["role"] == "member"
    removed = env.client.delete(f"{base}/{body['user_id']}", headers=env.auth)
    assert removed.status_code == 204
    assert [m["email"] for m in env.client.get(base, headers=env.auth).json()] == [
        "admin0@example.com"
    ]


def test_only_admins_manage_members_and_settings(env: Env) -> None:
    meta = env.app.services.meta
    meta.create_user("m@example.com", "correct horse battery")
    meta.add_member(env.project.id, "m@example.com", Role.MEMBER)
    member = {"Authorization": f"Bearer {meta.create_api_token('m@example.com').secret}"}
    base = f"/api/projects/{env.project.id}"
    assert env.client.get(f"{base}/members", headers=member).status_code == 200
    invite = env.client.post(f"{base}/members", json={"email": "x@example.com"}, headers=member)
    assert invite.status_code == 403
    rename = env.client.patch(f"{base}/settings", json={"name": "Mine"}, headers=member)
    assert rename.status_code == 403


def test_rename_and_time_zone(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/settings"
    changed = env.client.patch(
        url, json={"name": "Shop", "timezone": "Asia/Tokyo"}, headers=env.auth
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Shop" and changed.json()["timezone"] == "Asia/Tokyo"
    bad = env.client.patch(url, json={"timezone": "Mars/Olympus"}, headers=env.auth)
    assert bad.status_code == 400 and "time zone" in bad.json()["detail"]
    listed = env.client.get("/api/projects", headers=env.auth).json()
    assert listed[0]["name"] == "Shop"


def test_personal_tokens_are_shown_once_and_can_be_revoked(env: Env) -> None:
    made = env.client.post("/api/me/tokens", json={"label": "ci"}, headers=env.auth)
    assert made.status_code == 201
    secret = made.json()["token"]
    listed = env.client.get("/api/me/tokens", headers=env.auth).json()
    assert [t["label"] for t in listed] == ["cli", "ci"]
    assert all(secret not in str(t) for t in listed)
    assert secret.startswith(listed[1]["prefix"])
    mine = {"Authorization": f"Bearer {secret}"}
    assert env.client.get("/api/projects", headers=mine).status_code == 200
    gone = env.client.delete(f"/api/me/tokens/{made.json()['id']}", headers=env.auth)
    assert gone.status_code == 204
    assert env.client.get("/api/projects", headers=mine).status_code == 401
    other = env.client.delete(f"/api/me/tokens/{listed[0]['id'] + 100}", headers=env.auth)
    assert other.status_code == 404


def test_a_tokens_last_use_is_kept_to_the_minute(make_env: Callable[..., Env]) -> None:
    clock = FakeClock()
    env = make_env(clock=clock)
    made = env.client.post("/api/me/tokens", json={"label": "ci"}, headers=env.auth).json()
    mine = {"Authorization": f"Bearer {made['token']}"}

    def last_use() -> str | None:
        listed = env.client.get("/api/me/tokens", headers=env.auth).json()
        used: str | None = next(t["last_used_at"] for t in listed if t["id"] == made["id"])
        return used

    assert last_use() is None  # made, not used yet
    assert env.client.get("/api/projects", headers=mine).status_code == 200
    first = last_use()
    assert first is not None
    assert datetime.fromisoformat(first).timestamp() == clock.now_us / 1_000_000
    clock.advance(30)
    env.client.get("/api/projects", headers=mine)
    assert last_use() == first  # within the minute: not written again
    clock.advance(31)
    env.client.get("/api/projects", headers=mine)
    later = last_use()
    assert later is not None
    assert datetime.fromisoformat(later).timestamp() == clock.now_us / 1_000_000
