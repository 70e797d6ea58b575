"""Event times: client clock skew is corrected as the protocol says, against an injected clock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Env, FakeClock
from tests.unit.capture.support import (
    EPOCH,
    build_env,
    close_env,
    iso_us,
    new_id,
    only_event,
    time_us,
)
from userlens.capture.timestamps import event_time_us
from userlens.errors import EventRejected

MS = 1_000
SECOND = 1_000_000
HOUR = 3_600 * SECOND
DAY = 24 * HOUR


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, FakeClock]]:
    clock = FakeClock()
    env = build_env(tmp_path_factory.mktemp("skew") / "data", clock=clock)
    yield env, clock
    close_env(env)


@pytest.fixture
def env(clocked: tuple[Env, FakeClock]) -> Env:
    return clocked[0]


@pytest.fixture
def now(clocked: tuple[Env, FakeClock]) -> int:
    """Sets the server clock to a fresh, millisecond-aligned time and returns it."""
    clock = clocked[1]
    clock.now_us = FakeClock().now_us + secrets.randbelow(30 * 86_400_000) * MS
    return clock.now_us


def send(env: Env, payload: Any, path: str = "/e/") -> None:
    resp = env.client.post(
        path, content=orjson.dumps(payload), headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 200, resp.text


def stored_time(env: Env, distinct_id: str) -> int:
    return time_us(str(only_event(env, distinct_id)["timestamp"]))


def event(distinct_id: str, **extra: Any) -> dict[str, Any]:
    return {"event": "tick", "distinct_id": distinct_id, "properties": {}, **extra}


# -- over HTTP --------------------------------------------------------------------------------


@pytest.mark.parametrize("offset_ms", [0, 1_500, 86_400_000, 400 * 86_400_000, -750])
def test_offset_counts_back_from_now(env: Env, now: int, offset_ms: int) -> None:
    distinct_id = new_id()
    send(env, {**event(distinct_id, offset=offset_ms), "api_key": env.project.api_token})
    assert stored_time(env, distinct_id) == now - offset_ms * MS


def test_offset_wins_over_a_timestamp(env: Env, now: int) -> None:
    distinct_id = new_id()
    stale = iso_us(now - 5 * HOUR)
    send(
        env, {**event(distinct_id, offset=2_500, timestamp=stale), "api_key": env.project.api_token}
    )
    assert stored_time(env, distinct_id) == now - 2_500 * MS


@pytest.mark.parametrize(
    "skew", [0, -5 * HOUR, 3 * HOUR + 17 * 60 * SECOND, 2 * DAY, -400 * DAY], ids=str
)
def test_timestamp_and_envelope_sent_at(env: Env, now: int, skew: int) -> None:
    client_now = now + skew
    ages = [0, 4_250 * MS, 90 * SECOND, 2 * HOUR]
    ids = [new_id() for _ in ages]
    batch = [event(d, timestamp=iso_us(client_now - age)) for d, age in zip(ids, ages, strict=True)]
    send(env, {"api_key": env.project.api_token, "sent_at": iso_us(client_now), "batch": batch})
    for distinct_id, age in zip(ids, ages, strict=True):
        assert stored_time(env, distinct_id) == now - age


def test_per_item_sent_at(env: Env, now: int) -> None:
    # Items of one request may come from different page loads, each with its own clock error.
    skews_and_ages = [(-3 * HOUR, 1_000 * MS), (7 * HOUR, 250 * MS), (0, 12 * SECOND)]
    ids = [new_id() for _ in skews_and_ages]
    batch = [
        {
            **event(d, timestamp=iso_us(now + skew - age)),
            "sent_at": iso_us(now + skew),
            "properties": {"token": env.project.api_token},
        }
        for d, (skew, age) in zip(ids, skews_and_ages, strict=True)
    ]
    send(env, batch)
    for distinct_id, (_, age) in zip(ids, skews_and_ages, strict=True):
        assert stored_time(env, distinct_id) == now - age


def test_item_sent_at_beats_the_envelope(env: Env, now: int) -> None:
    distinct_id = new_id()
    skew, age = 6 * HOUR, 3 * SECOND
    item = {**event(distinct_id, timestamp=iso_us(now + skew - age)), "sent_at": iso_us(now + skew)}
    envelope = {"api_key": env.project.api_token, "sent_at": iso_us(now - 9 * DAY), "batch": [item]}
    send(env, envelope)
    assert stored_time(env, distinct_id) == now - age


@pytest.mark.parametrize("param", ["_", "sent_at"])
def test_send_time_in_query_in_milliseconds(env: Env, now: int, param: str) -> None:
    distinct_id = new_id()
    skew, age = -2 * HOUR - 123 * MS, 1_750 * MS
    client_now_ms = (now + skew) // MS
    payload = {
        **event(distinct_id, timestamp=iso_us(now + skew - age)),
        "api_key": env.project.api_token,
    }
    send(env, payload, path=f"/e/?ip=1&{param}={client_now_ms}")
    assert stored_time(env, distinct_id) == now - age


def test_send_time_in_query_that_looks_like_seconds_is_ignored(env: Env, now: int) -> None:
    distinct_id = new_id()
    given = now - 3 * HOUR
    payload = {**event(distinct_id, timestamp=iso_us(given)), "api_key": env.project.api_token}
    send(env, payload, path=f"/e/?_={(now + 5 * HOUR) // SECOND}")
    assert stored_time(env, distinct_id) == given


def test_ignore_sent_at_keeps_the_timestamp(env: Env, now: int) -> None:
    distinct_id = new_id()
    given = now - 26 * HOUR
    item = event(distinct_id, timestamp=iso_us(given), properties={"$ignore_sent_at": True})
    send(
        env, {"api_key": env.project.api_token, "sent_at": iso_us(now + 4 * HOUR), "batch": [item]}
    )
    assert stored_time(env, distinct_id) == given


@pytest.mark.parametrize("historical", [True, False])
def test_historical_migration_keeps_the_timestamp(env: Env, now: int, historical: bool) -> None:
    distinct_id = new_id()
    given = now - 700 * DAY - 1_234 * MS
    sent_at = now - 3 * HOUR  # a historical import sends long after the events happened
    payload = {
        "api_key": env.project.api_token,
        "historical_migration": historical,
        "sent_at": iso_us(sent_at),
        "batch": [event(distinct_id, timestamp=iso_us(given))],
    }
    send(env, payload, path="/batch/")
    expected = given if historical else now + (given - sent_at)
    assert stored_time(env, distinct_id) == expected


def test_no_timestamp_means_now(env: Env, now: int) -> None:
    distinct_id = new_id()
    send(env, {**event(distinct_id), "api_key": env.project.api_token})
    got = only_event(env, distinct_id)
    assert time_us(str(got["timestamp"])) == now
    assert time_us(str(got["received_at"])) == now


def test_timestamp_alone_is_kept(env: Env, now: int) -> None:
    as_iso, as_ms = new_id(), new_id()
    given = now - 11 * DAY - 7 * MS
    send(
        env,
        [
            {**event(as_iso, timestamp=iso_us(given)), "api_key": env.project.api_token},
            {**event(as_ms, timestamp=given // MS), "api_key": env.project.api_token},
        ],
    )
    assert stored_time(env, as_iso) == given
    assert stored_time(env, as_ms) == given


@pytest.mark.parametrize(
    ("ahead", "clamped"),
    [
        (22 * HOUR, False),
        (23 * HOUR, False),
        (23 * HOUR + MS, True),
        (30 * HOUR, True),
        (9 * DAY, True),
    ],
)
def test_more_than_23_hours_ahead_is_clamped_to_now(
    env: Env, now: int, ahead: int, clamped: bool
) -> None:
    alone, corrected = new_id(), new_id()
    client_now = now - 90 * 60 * SECOND  # the client clock is 90 minutes slow
    send(env, {**event(alone, timestamp=iso_us(now + ahead)), "api_key": env.project.api_token})
    send(
        env,
        {
            "api_key": env.project.api_token,
            "sent_at": iso_us(client_now),
            "batch": [event(corrected, timestamp=iso_us(client_now + ahead))],
        },
    )
    for distinct_id in (alone, corrected):
        assert stored_time(env, distinct_id) == (now if clamped else now + ahead)


def test_correction_that_lands_before_2000_is_rejected(env: Env, now: int) -> None:
    distinct_id = new_id()
    payload = {
        "api_key": env.project.api_token,
        "sent_at": "2099-01-01T00:00:00.000Z",
        "batch": [event(distinct_id, timestamp="2001-01-01T00:00:00.000Z")],
    }
    resp = env.client.post("/e/", content=orjson.dumps(payload))
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_timestamp"


# -- property test against a reference --------------------------------------------------------

LOW = (datetime(2000, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
HIGH = (datetime(2100, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
YEAR = 365 * DAY


def reference(
    now: int,
    timestamp: int | None,
    offset: int | None,
    sent_at: int | None,
    *,
    adjust: bool,
) -> int | None:
    """The protocol notes read literally, in microseconds. None: the event is rejected."""
    if offset is not None:
        t = now - offset
    elif timestamp is None:
        t = now
    elif sent_at is not None and adjust:
        t = now + (timestamp - sent_at)
    else:
        t = timestamp
    if t - now > 23 * HOUR:
        t = now
    return t if t >= LOW else None


deltas = st.one_of(
    st.integers(-2 * DAY, 2 * DAY),
    st.sampled_from([23 * HOUR - 1, 23 * HOUR, 23 * HOUR + 1, 23 * HOUR + MS, 0]),
    st.integers(-40 * YEAR, 40 * YEAR),
)


@st.composite
def wire_time(draw: st.DrawFn, around: int) -> tuple[Any, int]:
    """A time near `around` in one of the forms SDKs send, and its value in microseconds."""
    us = min(max(around + draw(deltas), LOW), HIGH - 1)
    moment = EPOCH + timedelta(microseconds=us)
    form = draw(
        st.sampled_from(["iso ms Z", "iso us zone", "iso naive", "ms", "ms text", "ms float"])
    )
    if form == "iso ms Z":
        return iso_us(us), us - us % MS
    if form == "iso us zone":
        zone = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
        return moment.astimezone(zone).isoformat(), us
    if form == "iso naive":
        return moment.replace(tzinfo=None).isoformat(), us
    ms = us // MS
    if form == "ms":
        return ms, ms * MS
    if form == "ms text":
        return str(ms), ms * MS
    return ms + 0.5, ms * MS + 500


@settings(max_examples=400, deadline=None, database=None)
@given(data=st.data(), now=st.integers(LOW + YEAR, HIGH - 2 * YEAR))
def test_event_time_matches_the_reference(data: st.DataObject, now: int) -> None:
    now -= now % MS
    event: dict[str, Any] = {"event": "x"}
    properties: dict[str, Any] = {}
    timestamp = offset = sent_at = None
    envelope_sent_at: Any = None
    if data.draw(st.booleans(), "has timestamp"):
        event["timestamp"], timestamp = data.draw(wire_time(now), "timestamp")
    if data.draw(st.integers(0, 3), "has offset") == 0:
        # Milliseconds, whole or in quarters (exact in a float, so the expected value is exact).
        quarters = data.draw(st.integers(-4 * 2 * DAY // MS, 4 * 40 * YEAR // MS), "offset")
        if data.draw(st.booleans(), "whole ms"):
            event["offset"], offset = quarters, quarters * MS
        else:
            event["offset"], offset = quarters / 4, quarters * MS // 4
    placement = data.draw(st.sampled_from(["none", "envelope", "item", "both"]), "sent_at in")
    if placement != "none":
        wire, sent_at = data.draw(wire_time(data.draw(st.sampled_from([now, timestamp or now]))))
        if placement in ("item", "both"):
            event["sent_at"] = wire
        if placement == "envelope":
            envelope_sent_at = wire
        if placement == "both":  # the item's own send time wins over the envelope's
            envelope_sent_at, _ = data.draw(wire_time(now), "decoy")
    ignore = data.draw(st.sampled_from([None, True, False]), "$ignore_sent_at")
    if ignore is not None:
        properties["$ignore_sent_at"] = ignore
    historical = data.draw(st.booleans(), "historical")

    expected = reference(now, timestamp, offset, sent_at, adjust=not (ignore or historical))
    if expected is None:
        with pytest.raises(EventRejected):
            event_time_us(event, properties, envelope_sent_at, now, historical=historical)
    else:
        assert (
            event_time_us(event, properties, envelope_sent_at, now, historical=historical)
            == expected
        )
