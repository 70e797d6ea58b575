"""The unmodified posthog-python SDK against a real `userlens serve` process over loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from posthog import Posthog

from tests.conftest import ServerProcess, eventually


def _setup(server: ServerProcess) -> tuple[str, int, dict[str, str]]:
    project = json.loads(server.cli("project", "create", "Shop", "--json"))
    server.cli(
        "user", "create", "pm@shop.test", "--project", str(project["id"]), stdin="s3cret-pass\n"
    )
    token = json.loads(server.cli("token", "create", "pm@shop.test", "--json"))["token"]
    return project["api_token"], project["id"], {"Authorization": f"Bearer {token}"}


def _events(
    server: ServerProcess, project_id: int, auth: dict[str, str], expect: int
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    def loaded() -> bool:
        url = f"{server.url}/api/projects/{project_id}/events?limit=1000"
        resp = httpx.get(url, headers=auth)
        assert resp.status_code == 200, resp.text
        results[:] = resp.json()["results"]
        return len(results) >= expect

    eventually(loaded)
    return results


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_events_identify_alias_and_set(server: ServerProcess, gzip: bool) -> None:
    token, project_id, auth = _setup(server)
    client = Posthog(token, host=server.url, gzip=gzip, sync_mode=True)
    client.capture("viewed_pricing", distinct_id="anon-7", properties={"plan": "team"})
    client.capture(
        "$identify",
        distinct_id="user-7",
        properties={"$anon_distinct_id": "anon-7", "$set": {"email": "u7@shop.test"}},
    )
    client.alias(previous_id="legacy-7", distinct_id="user-7")
    client.set(distinct_id="user-7", properties={"plan": "pro"})
    client.set_once(distinct_id="user-7", properties={"first_seen_plan": "team", "plan": "x"})
    client.shutdown()

    events = _events(server, project_id, auth, 5)
    names = sorted(e["event"] for e in events)
    assert names == sorted(["viewed_pricing", "$identify", "$create_alias", "$set", "$set_once"])
    assert all(e["lib"] == "posthog-python" for e in events)
    pricing = next(e for e in events if e["event"] == "viewed_pricing")
    assert pricing["properties"]["plan"] == "team"

    person = httpx.get(
        f"{server.url}/api/projects/{project_id}/persons/anon-7", headers=auth
    ).json()
    assert set(person["distinct_ids"]) == {"anon-7", "user-7", "legacy-7"}
    assert person["properties"] == {
        "email": "u7@shop.test",
        "plan": "pro",
        "first_seen_plan": "team",
    }
    # The anonymous pageview now belongs to the identified person.
    assert pricing["person_id"] == person["id"]


def test_historical_migration_keeps_timestamps_and_retries_dedupe(server: ServerProcess) -> None:
    token, project_id, auth = _setup(server)
    when = (datetime.now(UTC) - timedelta(days=40)).replace(microsecond=123000)
    client = Posthog(token, host=server.url, historical_migration=True, sync_mode=True)
    event_uuid = "01890f3e-7c1a-7b55-8f00-1234567890ab"
    for _ in range(3):  # a migration script run three times must not triple the data
        client.capture("imported", distinct_id="old-1", timestamp=when, uuid=event_uuid)
    # Loaded in order: once the sentinel is stored, so is every earlier copy.
    client.capture("sentinel", distinct_id="old-1", timestamp=when)
    client.shutdown()
    events = [e for e in _events(server, project_id, auth, 2) if e["event"] == "imported"]
    assert len(events) == 1
    assert datetime.fromisoformat(events[0]["timestamp"]) == when
    assert events[0]["uuid"] == event_uuid
