from __future__ import annotations

from tests.conftest import Env


def test_single_event_is_stored(env: Env) -> None:
    resp = env.client.post(
        "/e/",
        json={
            "api_key": env.project.api_token,
            "event": "signup",
            "distinct_id": "u1",
            "properties": {"plan": "pro"},
        },
    )
    assert resp.status_code == 200, resp.text
    events = env.events()
    assert [e["event"] for e in events] == ["signup"]
    assert events[0]["properties"]["plan"] == "pro"
