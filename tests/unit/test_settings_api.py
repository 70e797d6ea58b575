"""The project settings API: read by members, changed by admins, validated, and seen by the
snippet's remote config at once."""

from __future__ import annotations

from tests.conftest import Env
from userlens.model.project import Role


def _url(env: Env) -> str:
    return f"/api/projects/{env.project.id}/settings"


def test_read_and_change_settings(env: Env) -> None:
    before = env.client.get(_url(env), headers=env.auth).json()
    assert before == {
        "name": "Test project",
        "timezone": "UTC",
        "recording": {
            "enabled": True,
            "sample_rate": 1.0,
            "min_duration_ms": 0,
            "retention_days": 30,
            "mask_inputs": True,
            "url_allow": [],
            "url_deny": [],
        },
        "respect_dnt": False,
        "test_account_filters": [],
        "path_cleaning": [],
    }
    config_url = f"/array/{env.project.api_token}/config"
    assert env.client.get(config_url).json()["respectDnt"] is False  # now cached
    patch = {"recording": {"sample_rate": 0.5, "url_deny": ["/admin"]}, "respect_dnt": True}
    after = env.client.patch(_url(env), json=patch, headers=env.auth)
    assert after.status_code == 200, after.text
    body = after.json()
    assert body["recording"]["sample_rate"] == 0.5 and body["recording"]["url_deny"] == ["/admin"]
    assert body["recording"]["retention_days"] == 30  # untouched fields keep their value
    assert body["respect_dnt"] is True
    assert env.client.get(_url(env), headers=env.auth).json() == body
    config = env.client.get(config_url).json()  # the token cache was told
    assert config["respectDnt"] is True and config["sessionRecording"]["sampleRate"] == "0.50"


def test_bad_settings_are_400_and_change_nothing(env: Env) -> None:
    before = env.client.get(_url(env), headers=env.auth).json()
    for patch in (
        {"recording": {"sample_rate": 1.5}},
        {"recording": {"url_allow": ["(unclosed"]}},
        {"recording": {"url_deny": [""]}},
        {"recording": {"min_duration_ms": -1}},
        {"respect_dnt": "sometimes"},
        {"recording": {"url_allow": [f"/p{i}" for i in range(51)]}},
        {"path_cleaning": [{"regex": "/?", "alias": "x"}]},
        {"path_cleaning": [{"regex": "/p/\\d+", "alias": "\\1"}]},
        {"path_cleaning": [{"regex": f"/p{i}", "alias": "x"} for i in range(21)]},
    ):
        resp = env.client.patch(_url(env), json=patch, headers=env.auth)
        assert resp.status_code == 400, patch
        assert resp.json()["error"] in {"invalid_request", "invalid_settings"}
        assert resp.json()["detail"]
    assert env.client.get(_url(env), headers=env.auth).json() == before


def test_only_admins_change_settings_and_only_members_read_them(env: Env) -> None:
    meta = env.app.services.meta
    other = meta.create_project("Another team")
    resp = env.client.get(f"/api/projects/{other.id}/settings", headers=env.auth)
    assert resp.status_code == 404
    patch = {"respect_dnt": True}
    resp = env.client.patch(f"/api/projects/{other.id}/settings", json=patch, headers=env.auth)
    assert resp.status_code == 404
    assert meta.project(other.id) is not None
    assert meta.project(other.id).respect_dnt is False  # type: ignore[union-attr]
    meta.create_user("viewer@team.test", "pass-word-1")

    meta.add_member(env.project.id, "viewer@team.test", Role.VIEWER)
    viewer = meta.create_api_token("viewer@team.test").secret
    headers = {"Authorization": f"Bearer {viewer}"}
    assert env.client.get(_url(env), headers=headers).status_code == 200
    resp = env.client.patch(_url(env), json=patch, headers=headers)
    assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
    assert env.client.patch(_url(env), json=patch).status_code == 401
