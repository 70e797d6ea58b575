"""The demo dataset: realistic, reproducible, and stored whole through the capture API."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click
import httpx
import orjson
import pytest
from click.testing import CliRunner

from tests.conftest import Env, free_port, make_settings
from userlens.cli import cli
from userlens.cli.demo import post_batch, run_demo
from userlens.demo import Event, generate_events, generate_recordings
from userlens.store.duckdb import DuckDBEventStore
from userlens.store.meta import MetaStore

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
DAYS = 30
APPLE = {"Mac OS X", "iOS"}


@pytest.fixture(scope="module")
def dataset() -> list[Event]:
    return list(generate_events(persons=800, days=DAYS, seed=7, now=NOW))


def when(event: Event) -> datetime:
    assert event["timestamp"].endswith("Z")
    return datetime.fromisoformat(event["timestamp"])


def person_keys(events: Iterable[Event]) -> Callable[[str], str]:
    """Maps a distinct id to its person: anonymous ids join the id they were identified as."""
    merged = {
        e["properties"]["$anon_distinct_id"]: e["distinct_id"]
        for e in events
        if e["event"] == "$identify"
    }

    def person(distinct_id: str) -> str:
        while distinct_id in merged:
            distinct_id = merged[distinct_id]
        return distinct_id

    return person


def by_person(events: list[Event]) -> dict[str, list[Event]]:
    person = person_keys(events)
    out: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        out[person(e["distinct_id"])].append(e)
    return out


def gzip_envelope(token: str, batch: list[Event]) -> bytes:
    body = {"api_key": token, "historical_migration": True, "batch": batch}
    return gzip.compress(orjson.dumps(body))


def in_fresh_loop(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine in a new loop on a new thread: this one may already run a loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def send(env: Env, events: list[Event], size: int = 250) -> None:
    for start in range(0, len(events), size):
        resp = env.client.post(
            "/batch/",
            content=gzip_envelope(env.project.api_token, events[start : start + size]),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        assert resp.status_code == 200, resp.text


# -- the generator ---------------------------------------------------------------------------


def test_same_seed_same_events_other_seed_other_events(dataset: list[Event]) -> None:
    again = list(generate_events(persons=800, days=DAYS, seed=7, now=NOW))
    assert again == dataset
    other = list(generate_events(persons=800, days=DAYS, seed=8, now=NOW))
    assert {e["uuid"] for e in other}.isdisjoint({e["uuid"] for e in dataset})
    assert [e["event"] for e in other] != [e["event"] for e in dataset]


def test_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        next(generate_events(persons=1, days=1, seed=1, now=datetime(2026, 1, 1)))


def test_every_event_is_in_the_window_and_each_persons_in_time_order(
    dataset: list[Event],
) -> None:
    assert all(NOW - timedelta(days=DAYS) <= when(e) < NOW for e in dataset)
    for events in by_person(dataset).values():
        times = [when(e) for e in events]
        assert times == sorted(times)
    assert len({e["uuid"] for e in dataset}) == len(dataset)
    # Spread over the window, not bunched up at one end.
    assert {when(e).date() for e in dataset} >= {
        (NOW - timedelta(days=d)).date() for d in (0, 15, 28)
    }


def test_people_keep_their_device_and_country_with_sensible_pairings(
    dataset: list[Event],
) -> None:
    people = by_person(dataset)
    assert len(people) == 800
    traits = ("$browser", "$os", "$device_type", "$geoip_country_code", "$device_id")
    for events in people.values():
        assert len({tuple(e["properties"][t] for t in traits) for e in events}) == 1
    combos = {
        (e["properties"]["$device_type"], e["properties"]["$os"], e["properties"]["$browser"])
        for e in dataset
    }
    for device, os_name, browser in combos:
        assert (device == "Desktop") == (os_name in {"Mac OS X", "Windows"})
        assert "Safari" not in browser or os_name in APPLE
        assert browser != "Edge" or os_name == "Windows"
    assert {c[0] for c in combos} == {"Desktop", "Mobile", "Tablet"}
    assert {c[1] for c in combos} == {"Mac OS X", "Windows", "iOS", "Android"}
    assert {"Chrome", "Safari", "Firefox", "Edge"} <= {c[2] for c in combos}
    assert all(e["properties"]["$lib"] == "web" for e in dataset)


def test_funnel_narrows_step_by_step(dataset: list[Event]) -> None:
    person = person_keys(dataset)
    steps: list[Callable[[Event], bool]] = [
        lambda e: e["event"] == "$pageview",
        lambda e: e["event"] == "signed_up",
        lambda e: e["event"] == "$pageview" and e["properties"]["$pathname"] == "/checkout",
        lambda e: e["event"] == "checkout_started",
        lambda e: e["event"] == "payment_info_entered",
        lambda e: e["event"] == "purchase_completed",
    ]
    first_at: list[dict[str, datetime]] = []
    for matches in steps:
        seen: dict[str, datetime] = {}
        for e in dataset:
            if matches(e):
                seen.setdefault(person(e["distinct_id"]), when(e))
        first_at.append(seen)
    for before, after in itertools.pairwise(first_at):
        assert 0 < len(after) < len(before)
        assert set(after) <= set(before)
        assert all(before[p] <= after[p] for p in after)  # in funnel order
    assert all(
        e["properties"]["revenue"] > 0 for e in dataset if e["event"] == "purchase_completed"
    )
    onboarding = [
        {
            person(e["distinct_id"])
            for e in dataset
            if e["event"] == "onboarding_step_completed" and e["properties"]["step"] == step
        }
        for step in (1, 2, 3)
    ]
    assert onboarding[0] <= set(first_at[1])
    for before_step, after_step in itertools.pairwise(onboarding):
        assert 0 < len(after_step) < len(before_step)
        assert after_step <= before_step


def test_signups_identify_with_person_properties(dataset: list[Event]) -> None:
    identifies = [e for e in dataset if e["event"] == "$identify"]
    signups = {e["distinct_id"] for e in dataset if e["event"] == "signed_up"}
    assert identifies
    for e in identifies:
        props = e["properties"]
        assert props["$anon_distinct_id"] != e["distinct_id"]
        assert {"email", "plan", "company"} <= set(props["$set"])
        assert props["$device_id"] == props["$anon_distinct_id"]
    assert signups == {e["distinct_id"] for e in identifies}


def test_signed_up_people_return_less_and_less(dataset: list[Event]) -> None:
    """Retention has a shape: more people come back in their first week than in their third."""
    week1 = week3 = cohort = 0
    for events in by_person(dataset).values():
        signup = next((when(e) for e in events if e["event"] == "signed_up"), None)
        if signup is None or signup > NOW - timedelta(days=22):
            continue
        cohort += 1
        later = {(when(e).date() - signup.date()).days for e in events}
        week1 += any(1 <= d <= 7 for d in later)
        week3 += any(15 <= d <= 21 for d in later)
    assert cohort >= 30
    assert cohort > week1 > week3 > 0


def test_campaign_traffic_lands_with_utm_params(dataset: list[Event]) -> None:
    first_page: dict[str, str] = {}
    for e in dataset:
        if e["event"] == "$pageview":
            first_page.setdefault(e["properties"]["$session_id"], e["properties"]["$current_url"])
    campaigns = set()
    for e in dataset:
        url = e["properties"]["$current_url"]
        query = parse_qs(urlsplit(url).query)
        if "utm_source" in query:
            assert url == first_page[e["properties"]["$session_id"]]  # only on landing pages
            campaigns.add((query["utm_source"][0], query["utm_medium"][0]))
    assert campaigns == {("google", "cpc"), ("newsletter", "email"), ("twitter", "social")}
    untagged = [u for u in first_page.values() if "utm_" not in u]
    assert len(untagged) > len(first_page) / 3
    referrers = {e["properties"]["$referring_domain"] for e in dataset}
    assert {"$direct", "www.google.com", "t.co"} <= referrers


def test_clicks_rageclicks_exceptions_and_pageleaves(dataset: list[Event]) -> None:
    names = {e["event"] for e in dataset}
    assert {"$autocapture", "$rageclick", "$exception", "$pageleave"} <= names
    for e in dataset:
        props = e["properties"]
        assert props["$session_id"]
        assert props["$window_id"]
        assert props["$current_url"]
        if e["event"] in ("$autocapture", "$rageclick"):
            chain = props["$elements_chain"]
            assert chain.endswith(";body")
            assert ":" in chain.split(";")[0]
        if e["event"] == "$exception":
            (entry,) = props["$exception_list"]
            assert entry["type"]
            assert entry["value"]
            assert "handled" in entry["mechanism"]
            for frame in entry["stacktrace"]["frames"]:
                assert set(frame) >= {"filename", "function", "lineno", "colno", "in_app"}
    for index, e in enumerate(dataset):
        if e["event"] == "$rageclick":  # a burst of clicks on the same element just before
            clicks = dataset[index - 3 : index]
            assert all(c["event"] == "$autocapture" for c in clicks)
            assert {c["properties"]["$elements_chain"] for c in clicks} == {
                e["properties"]["$elements_chain"]
            }
            assert when(e) - when(clicks[0]) < timedelta(seconds=2)


# -- through the server ----------------------------------------------------------------------


def test_identified_people_merge_their_anonymous_ids(env: Env) -> None:
    events = list(generate_events(persons=40, days=5, seed=11, now=datetime.now(UTC)))
    send(env, events)
    env.flush()
    identifies = [e for e in events if e["event"] == "$identify"]
    assert identifies
    for e in identifies[:5]:
        anon, user = e["properties"]["$anon_distinct_id"], e["distinct_id"]
        url = f"/api/projects/{env.project.id}/persons/"
        by_anon = env.client.get(url + anon, headers=env.auth)
        assert by_anon.status_code == 200, by_anon.text
        person = by_anon.json()
        assert {anon, user} <= set(person["distinct_ids"])
        assert person["is_identified"]
        assert person["properties"]["email"] == e["properties"]["$set"]["email"]
        assert env.client.get(url + user, headers=env.auth).json()["id"] == person["id"]
        anonymous_events = env.events(distinct_id=anon)
        assert anonymous_events
        assert {x["person_id"] for x in anonymous_events} == {person["id"]}


def test_every_event_is_stored_once_with_its_own_time(env: Env) -> None:
    events = list(generate_events(persons=30, days=10, seed=5, now=datetime.now(UTC)))
    send(env, events)
    stored = {e["uuid"]: e for e in env.events()}
    assert len(stored) == len(events)
    for e in events:
        assert datetime.fromisoformat(str(stored[e["uuid"]]["timestamp"])) == when(e)
    send(env, events, size=100)  # a replay, cut differently: nothing new
    assert env.app.services.events.count_events(env.project.id) == len(events)


# -- the command -----------------------------------------------------------------------------


def test_run_demo_falls_back_to_an_in_process_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "d")
    run_demo(
        settings,
        project_id=None,
        persons=25,
        days=7,
        seed=3,
        url=f"http://127.0.0.1:{free_port()}",
        now=NOW,
    )
    expected = len(list(generate_events(persons=25, days=7, seed=3, now=NOW)))
    meta = MetaStore(settings.metadata_url)
    try:
        (project,) = meta.projects()
    finally:
        meta.close()
    assert project.name == "Demo"
    store = DuckDBEventStore(settings.events_db_path)
    try:
        assert store.count_events(project.id) == expected
    finally:
        store.close()
    out = capsys.readouterr().out
    assert f"{expected} events" in out
    assert project.api_token in out
    assert re.search(r"recordings of [1-9]\d* sessions", out)


def test_demo_command_fills_an_existing_project(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    meta = MetaStore(make_settings(data_dir).metadata_url)
    try:
        project = meta.create_project("Mine")
    finally:
        meta.close()
    url = f"http://127.0.0.1:{free_port()}"
    args = ["--data-dir", str(data_dir), "demo", "--persons", "5", "--days", "3", "--url", url]
    result = CliRunner().invoke(cli, [*args, "--project", str(project.id)])
    assert result.exit_code == 0, result.output
    assert f"project {project.id} " in result.stdout
    missing = CliRunner().invoke(cli, [*args, "--project", str(project.id + 1)])
    assert missing.exit_code == 1
    assert f"no project {project.id + 1}" in missing.output


def test_post_batch_waits_out_503s() -> None:
    answers = [
        httpx.Response(503, headers={"Retry-After": "0"}),
        httpx.Response(503, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"status": 1}),
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    async def go(body: bytes) -> None:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            await post_batch(client, body)

    in_fresh_loop(go(b"payload"))
    assert [r.url.path for r in seen] == ["/batch/"] * 3
    answers.append(httpx.Response(400, json={"status": 0, "detail": "bad events"}))
    with pytest.raises(click.ClickException, match="bad events"):
        in_fresh_loop(go(b"payload"))


def test_run_demo_works_where_an_event_loop_already_runs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d")
    url = f"http://127.0.0.1:{free_port()}"

    async def inside_a_loop() -> None:
        run_demo(settings, project_id=None, persons=3, days=2, seed=1, url=url, now=NOW)

    in_fresh_loop(inside_a_loop())
    store = DuckDBEventStore(settings.events_db_path)
    try:
        expected = list(generate_events(persons=3, days=2, seed=1, now=NOW))
        assert store.count_events(1) == len(expected) > 0
    finally:
        store.close()


# -- recordings ------------------------------------------------------------------------------


def _ids(node: dict[str, Any]) -> set[int]:
    return {node["id"]} | {i for kid in node.get("childNodes", []) for i in _ids(kid)}


def test_recent_sessions_come_with_recordings_of_what_happened(dataset: list[Event]) -> None:
    items = generate_recordings(dataset, token="tok", seed=7, now=NOW)
    assert items == generate_recordings(dataset, token="tok", seed=7, now=NOW)
    recorded: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        assert item["event"] == "$snapshot" and item["properties"]["token"] == "tok"
        recorded[item["properties"]["$session_id"]].extend(item["properties"]["$snapshot_data"])
    sessions: dict[str, list[Event]] = defaultdict(list)
    for e in dataset:
        sessions[e["properties"]["$session_id"]].append(e)
    assert 10 <= len(recorded) <= 60
    for session, frames in recorded.items():
        events = sorted(sessions[session], key=when)
        assert when(events[0]) >= NOW - timedelta(days=7)  # recent sessions only
        stamps = [f["timestamp"] for f in frames]
        assert stamps == sorted(stamps)
        assert frames[0]["type"] == 4 and frames[1]["type"] == 2  # a page, then its drawing
        views = [e for e in events if e["event"] == "$pageview"]
        assert [f["data"]["href"] for f in frames if f["type"] == 4] == [
            v["properties"]["$current_url"] for v in views
        ]
        # Each click at its event's moment, on a node of the page drawn last before it.
        drawn: set[int] = set()
        clicks = []
        for f in frames:
            if f["type"] == 2:
                drawn = _ids(f["data"]["node"])
            elif f["type"] == 3 and f["data"]["source"] == 2:
                assert f["data"]["id"] in drawn
                clicks.append(f["timestamp"])
            elif f["type"] == 3 and f["data"]["source"] == 5:
                assert set(f["data"]["text"]) == {"*"}  # typed values are masked
        autocaptured = [e for e in events if e["event"] == "$autocapture"]
        assert clicks == [int(when(e).timestamp() * 1000) for e in autocaptured]
        # Each error in the console at its moment, with its type and message.
        failed = [e for e in events if e["event"] == "$exception" and when(e) >= when(views[0])]
        logged = [f for f in frames if f["type"] == 6]
        assert [f["timestamp"] for f in logged] == [int(when(e).timestamp() * 1000) for e in failed]
        for f, e in zip(logged, failed, strict=True):
            (error,) = e["properties"]["$exception_list"]
            assert f["data"]["plugin"] == "rrweb/console@1"
            assert f["data"]["payload"]["level"] == "error"
            assert error["value"] in f["data"]["payload"]["payload"][0]


def test_demo_recordings_are_listed_and_replayed(env: Env) -> None:
    now = datetime.now(UTC)
    events = list(generate_events(persons=40, days=7, seed=11, now=now))
    items = generate_recordings(events, token=env.project.api_token, seed=11, now=now)
    send(env, events)
    body = gzip.compress(orjson.dumps(items))
    assert (
        env.client.post("/s/", content=body, headers={"Content-Encoding": "gzip"}).status_code
        == 200
    )
    env.flush()
    sessions = {i["properties"]["$session_id"] for i in items}
    listed = env.client.get(
        f"/api/projects/{env.project.id}/sessions", params={"limit": 100}, headers=env.auth
    ).json()["results"]
    assert {s["session_id"] for s in listed} == sessions
    one = sorted(sessions)[0]
    frames = [
        f
        for i in items
        if i["properties"]["$session_id"] == one
        for f in i["properties"]["$snapshot_data"]
    ]
    replay = env.client.get(
        f"/api/projects/{env.project.id}/sessions/{one}/snapshots", headers=env.auth
    ).json()["events"]
    assert [f["timestamp"] for f in replay] == [f["timestamp"] for f in frames]
    # Sessions whose visitor met an error show it in their recording's console.
    errors = defaultdict(int)
    for e in events:
        if e["event"] == "$exception" and e["properties"]["$session_id"] in sessions:
            errors[e["properties"]["$session_id"]] += 1
    assert errors  # the demo's errors happen in some recorded sessions
    assert {s["session_id"]: s["console_errors"] for s in listed} == {
        s: errors.get(s, 0) for s in sessions
    }
