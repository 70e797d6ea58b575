"""Bad capture input gets a 4xx whose JSON `error` names the problem, never a 5xx."""

from __future__ import annotations

import asyncio
import base64
import gzip
import tracemalloc
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import orjson
import pytest
from lzstring import LZString

from tests.conftest import Env, FakeClock
from tests.unit.capture.support import (
    FORM,
    error_of,
    iso_us,
    new_id,
    only_event,
    stored_by,
    time_us,
)
from userlens.capture.app import Limits
from userlens.capture.envelope import MAX_EVENTS_PER_REQUEST, MAX_TOKEN_LENGTH
from userlens.capture.normalize import MAX_DISTINCT_ID, MAX_EVENT_NAME, MAX_PROPERTIES_BYTES

LIMITS = Limits()
GIB = 1024**3


def ev(distinct_id: str, **extra: Any) -> dict[str, Any]:
    return {"event": "pageview", "distinct_id": distinct_id, "properties": {"n": 1}, **extra}


def post(env: Env, payload: Any, path: str = "/e/") -> httpx2.Response:
    return env.client.post(
        path, content=orjson.dumps(payload), headers={"Content-Type": "text/plain"}
    )


def envelope(env: Env, *events: Any) -> dict[str, Any]:
    return {"api_key": env.project.api_token, "batch": list(events)}


def assert_refused(resp: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    body = error_of(resp)
    assert resp.status_code == status, resp.text[:500]
    assert body["error"] == code, body
    assert body["status"] == 0
    return body


# -- undecodable bodies -----------------------------------------------------------------------


def _bad_gzip(_token: str) -> tuple[str, bytes, dict[str, str]]:
    return "/e/", b"\x1f\x8b\x08\x00" + b"not deflate at all" * 4, {"Content-Type": "text/plain"}


def _truncated_gzip(token: str) -> tuple[str, bytes, dict[str, str]]:
    whole = gzip.compress(orjson.dumps({"api_key": token, "event": "x", "distinct_id": "u"}))
    return "/e/", whole[: len(whole) // 2], {"Content-Type": "text/plain"}


def _gzip_header_not_gzip(token: str) -> tuple[str, bytes, dict[str, str]]:
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    return "/batch/", b'{"api_key": "' + token.encode() + b'"}', headers


def _base64_wrong_length(_token: str) -> tuple[str, bytes, dict[str, str]]:
    return "/e/?compression=base64", b"data=abcde", {"Content-Type": FORM}


def _base64_not_ascii(_token: str) -> tuple[str, bytes, dict[str, str]]:
    return "/e/?compression=base64", "data=ab\u00e9c".encode(), {"Content-Type": FORM}


def _lz64_garbage(_token: str) -> tuple[str, bytes, dict[str, str]]:
    return "/e/?compression=lz64", b"data=%25%25%25%25", {"Content-Type": FORM}


def _lz64_cut_short(token: str) -> tuple[str, bytes, dict[str, str]]:
    full = LZString().compressToBase64(orjson.dumps({"api_key": token, "event": "x"}).decode())
    return "/e/?compression=lz64", full[:6].encode(), {"Content-Type": "text/plain"}


def _not_json(_token: str) -> tuple[str, bytes, dict[str, str]]:
    return "/e/", b'{"event": "x", "distinct_id": ', {"Content-Type": "application/json"}


def _base64_of_not_json(_token: str) -> tuple[str, bytes, dict[str, str]]:
    data = base64.b64encode(b"<html>not json</html>").decode()
    return "/e/?compression=base64", f"data={data}".encode(), {"Content-Type": FORM}


def _gzip_of_not_json(_token: str) -> tuple[str, bytes, dict[str, str]]:
    return "/e/", gzip.compress(b"\x00\x01 binary"), {}


def _empty_form(_token: str) -> tuple[str, bytes, dict[str, str]]:
    return "/e/", b"data=", {"Content-Type": FORM}


BAD_BODIES: dict[str, tuple[Callable[[str], tuple[str, bytes, dict[str, str]]], str]] = {
    "bad gzip": (_bad_gzip, "invalid_gzip"),
    "truncated gzip": (_truncated_gzip, "invalid_gzip"),
    "Content-Encoding gzip on plain text": (_gzip_header_not_gzip, "invalid_gzip"),
    "base64 of impossible length": (_base64_wrong_length, "invalid_base64"),
    "base64 with non-ASCII": (_base64_not_ascii, "invalid_base64"),
    "lz64 garbage": (_lz64_garbage, "invalid_lz64"),
    "lz64 cut short": (_lz64_cut_short, "invalid_lz64"),
    "not JSON": (_not_json, "invalid_json"),
    "base64 of not JSON": (_base64_of_not_json, "invalid_json"),
    "gzip of not JSON": (_gzip_of_not_json, "invalid_json"),
    "form without data": (_empty_form, "no_data"),
}


@pytest.mark.parametrize(("build", "code"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_undecodable_bodies(
    shared_env: Env, build: Callable[[str], tuple[str, bytes, dict[str, str]]], code: str
) -> None:
    path, body, headers = build(shared_env.project.api_token)
    assert_refused(shared_env.client.post(path, content=body, headers=headers), 400, code)


def test_empty_body(shared_env: Env) -> None:
    assert_refused(shared_env.client.post("/e/", content=b""), 400, "empty_body")


def test_get_without_data(shared_env: Env) -> None:
    assert_refused(shared_env.client.get("/e/?ip=1"), 400, "no_data")


# -- wrong shapes -----------------------------------------------------------------------------


def test_batch_not_a_list(shared_env: Env) -> None:
    payload = {"api_key": shared_env.project.api_token, "batch": {"event": "x"}}
    assert_refused(post(shared_env, payload), 400, "invalid_batch")


@pytest.mark.parametrize("payload", ["just a string", 42, None, True])
def test_payload_not_an_object_or_array(shared_env: Env, payload: Any) -> None:
    resp = shared_env.client.post(
        "/e/", content=orjson.dumps(payload), headers={"Content-Type": "application/json"}
    )
    body = error_of(resp)
    assert resp.status_code == 400
    assert body["error"] in {"invalid_payload", "invalid_json"}


def test_empty_batch(shared_env: Env) -> None:
    assert_refused(post(shared_env, []), 400, "empty_batch")
    assert_refused(post(shared_env, envelope(shared_env)), 400, "empty_batch")


def _single(env: Env, event: dict[str, Any]) -> httpx2.Response:
    return post(env, {**event, "api_key": env.project.api_token})


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"properties": "plan=pro"}, "invalid_properties"),
        ({"properties": ["plan", "pro"]}, "invalid_properties"),
        ({"event": 17}, "invalid_event_name"),
        ({"event": ["pageview"]}, "invalid_event_name"),
        ({"event": ""}, "invalid_event_name"),
        ({"event": "page\x00view"}, "invalid_event_name"),
        ({"uuid": "not-a-uuid"}, "invalid_uuid"),
        ({"uuid": "0190c2b4-1e4c-7f5e-9d2a"}, "invalid_uuid"),
        ({"uuid": 12345}, "invalid_uuid"),
        ({"$set": "plan=pro"}, "invalid_person_properties"),
        ({"$set": ["plan"]}, "invalid_person_properties"),
        ({"$set_once": 3}, "invalid_person_properties"),
        ({"$unset": "plan"}, "invalid_person_properties"),
        ({"timestamp": "yesterday"}, "invalid_timestamp"),
        ({"timestamp": True}, "invalid_timestamp"),
        ({"offset": "soon"}, "invalid_offset"),
        ({"distinct_id": {"id": 1}}, "invalid_distinct_id"),
        ({"distinct_id": ["a", "b"]}, "invalid_distinct_id"),
        ({"distinct_id": ""}, "invalid_distinct_id"),
        ({"distinct_id": "   "}, "invalid_distinct_id"),
    ],
)
def test_one_bad_event_is_rejected_and_not_stored(
    shared_env: Env, change: dict[str, Any], code: str
) -> None:
    distinct_id = new_id()
    event = {**ev(distinct_id), **change}
    body = assert_refused(_single(shared_env, event), 400, code)
    assert body["accepted"] == 0
    assert body["rejected"] == [{"index": 0, "error": code, "detail": body["detail"]}]
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_set_not_an_object_inside_properties(shared_env: Env) -> None:
    distinct_id = new_id()
    event = ev(distinct_id, properties={"$set": "plan=pro"})
    assert_refused(_single(shared_env, event), 400, "invalid_person_properties")
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_missing_event_name(shared_env: Env) -> None:
    distinct_id = new_id()
    event = ev(distinct_id)
    del event["event"]
    assert_refused(_single(shared_env, event), 400, "missing_event")
    assert stored_by(shared_env, distinct_id=distinct_id) == []


@pytest.mark.parametrize("where", ["absent", "null"])
def test_missing_distinct_id(shared_env: Env, where: str) -> None:
    name = new_id("event")
    event: dict[str, Any] = {"event": name, "properties": {"n": 1}}
    if where == "null":
        event["distinct_id"] = None
    assert_refused(_single(shared_env, event), 400, "missing_distinct_id")
    assert stored_by(shared_env, event=name) == []


def test_million_character_event_name(shared_env: Env) -> None:
    distinct_id = new_id()
    resp = _single(shared_env, ev(distinct_id, event="x" * 1_000_000))
    body = assert_refused(resp, 400, "invalid_event_name")
    assert str(MAX_EVENT_NAME) in body["detail"]
    assert len(resp.content) < 2_000  # the name is not echoed back
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_event_name_at_the_limit_is_kept(shared_env: Env) -> None:
    distinct_id = new_id()
    name = new_id("n").ljust(MAX_EVENT_NAME, "n")
    assert _single(shared_env, ev(distinct_id, event=name)).status_code == 200
    assert only_event(shared_env, distinct_id)["event"] == name


# -- distinct ids -----------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [1, -1, 0])
def test_numeric_distinct_id_is_stringified(shared_env: Env, sign: int) -> None:
    number = sign * (uuid.uuid4().int % 10**12)
    marker = new_id("m")
    assert (
        _single(
            shared_env, {**ev("x"), "distinct_id": number, "properties": {"m": marker}}
        ).status_code
        == 200
    )
    got = only_event(shared_env, str(number))
    assert got["distinct_id"] == str(number)
    assert got["properties"]["m"] == marker


def test_long_distinct_id_is_truncated(shared_env: Env) -> None:
    long_id = new_id() * 10
    assert len(long_id) > MAX_DISTINCT_ID
    assert _single(shared_env, ev(long_id)).status_code == 200
    assert (
        only_event(shared_env, long_id[:MAX_DISTINCT_ID])["distinct_id"]
        == long_id[:MAX_DISTINCT_ID]
    )


# -- tokens -----------------------------------------------------------------------------------


def test_missing_token(shared_env: Env) -> None:
    distinct_id = new_id()
    assert_refused(post(shared_env, {"batch": [ev(distinct_id)]}), 401, "missing_token")
    assert_refused(post(shared_env, ev(distinct_id)), 401, "missing_token")
    assert_refused(
        post(shared_env, {"api_key": "", "batch": [ev(distinct_id)]}), 401, "missing_token"
    )
    assert stored_by(shared_env, distinct_id=distinct_id) == []


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda t: t + "x" * (MAX_TOKEN_LENGTH + 1 - len(t)), "invalid_token"),
        (lambda t: t[:-1] + "\u00e9", "invalid_token"),
        (lambda t: t[:4] + "\x00" + t[4:], "invalid_token"),
        (lambda t: t[:4] + "\n" + t[4:], "invalid_token"),
        (lambda t: "phx_" + t[4:], "personal_key"),
        (lambda t: "ulx_" + t[4:], "personal_key"),
        (lambda t: [t], "invalid_token"),
        (lambda t: {"token": t}, "invalid_token"),
        (lambda t: 12345, "invalid_token"),
    ],
    ids=["too long", "non-ASCII", "NUL", "newline", "phx_", "ulx_", "list", "object", "number"],
)
@pytest.mark.parametrize("where", ["envelope", "event", "properties"])
def test_malformed_token(
    shared_env: Env, make_token: Callable[[str], Any], code: str, where: str
) -> None:
    distinct_id = new_id()
    token = make_token(shared_env.project.api_token)
    if where == "envelope":
        payload: Any = {"api_key": token, "batch": [ev(distinct_id)]}
    elif where == "event":
        payload = [{**ev(distinct_id), "token": token}]
    else:
        payload = ev(distinct_id, properties={"token": token})
    assert_refused(post(shared_env, payload), 401, code)
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_unknown_token(shared_env: Env) -> None:
    distinct_id = new_id()
    resp = post(shared_env, {"api_key": "ulc_" + uuid.uuid4().hex, "batch": [ev(distinct_id)]})
    assert_refused(resp, 401, "unknown_token")
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_two_tokens_in_one_request(shared_env: Env) -> None:
    distinct_id = new_id()
    token = shared_env.project.api_token
    other = "ulc_" + uuid.uuid4().hex
    envelope_vs_event = {"api_key": token, "batch": [ev(distinct_id, token=other)]}
    event_vs_event = [ev(distinct_id, api_key=token), ev(distinct_id, properties={"token": other})]
    for payload in (envelope_vs_event, event_vs_event):
        assert_refused(post(shared_env, payload), 400, "multiple_tokens")
    assert stored_by(shared_env, distinct_id=distinct_id) == []


# -- size limits ------------------------------------------------------------------------------


def _big_batch(env: Env, distinct_id: str, total: int) -> tuple[bytes, int]:
    """An envelope of events of about 400 kB each, `total` bytes or more in all."""
    per_event = 400_000
    count = total // per_event + 1
    events = [
        ev(distinct_id, uuid=str(uuid.uuid4()), properties={"i": i, "blob": "z" * per_event})
        for i in range(count)
    ]
    body = orjson.dumps(envelope(env, *events))
    assert len(body) > total
    return body, count


def test_oversized_body_is_413_on_events_but_fine_on_batch(shared_env: Env) -> None:
    distinct_id = new_id()
    body, count = _big_batch(shared_env, distinct_id, LIMITS.events_body)
    assert len(body) < LIMITS.batch_body
    headers = {"Content-Type": "application/json"}
    resp = shared_env.client.post("/e/", content=body, headers=headers)
    assert_refused(resp, 413, "body_too_large")
    assert stored_by(shared_env, distinct_id=distinct_id) == []
    resp = shared_env.client.post("/batch/", content=body, headers=headers)
    assert resp.status_code == 200, resp.text[:300]
    stored = stored_by(shared_env, distinct_id=distinct_id)
    assert sorted(e["properties"]["i"] for e in stored) == list(range(count))


def test_oversized_chunked_body_without_length_is_413(shared_env: Env) -> None:
    distinct_id = new_id()
    body, _ = _big_batch(shared_env, distinct_id, LIMITS.events_body)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    resp = shared_env.client.post("/e/", content=chunks(), headers={"Content-Type": "text/plain"})
    assert "content-length" not in resp.request.headers
    assert_refused(resp, 413, "body_too_large")
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_server_stops_reading_an_endless_body_at_the_cap(shared_env: Env) -> None:
    """Driven at the ASGI level: the app must not keep reading once the cap is passed."""
    chunk = b"x" * (256 * 1024)
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/e/",
        "query_string": b"",
        "headers": [(b"content-type", b"text/plain")],
        "client": ("127.0.0.1", 1234),
    }
    asyncio.run(shared_env.app.capture(scope, receive, send))
    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"])["error"] == "body_too_large"
    assert received * len(chunk) <= LIMITS.events_body + len(chunk)


def test_too_many_events_in_one_request(shared_env: Env) -> None:
    distinct_id = new_id()
    batch = [{"event": "e", "distinct_id": distinct_id}] * (MAX_EVENTS_PER_REQUEST + 1)
    resp = post(shared_env, envelope(shared_env, *batch), path="/batch/")
    assert_refused(resp, 413, "too_many_events")
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def _gzip_of_zeros(size: int) -> bytes:
    """gzip of `size` zero bytes, built a megabyte at a time so the test itself stays small."""
    # Run-length matching finds the same ~1000:1 ratio as level 9, in half the time.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return _gzip_of_zeros(GIB)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/e/", {"Content-Type": "text/plain"}),
        ("/i/v0/e/?compression=gzip-js", {}),
        ("/batch/", {"Content-Encoding": "gzip"}),
    ],
)
def test_gzip_bomb_is_refused_without_inflating_it(
    shared_env: Env, gzip_bomb: bytes, path: str, headers: dict[str, str]
) -> None:
    assert len(gzip_bomb) < LIMITS.events_body  # passes the wire cap: the decoded cap must act
    tracemalloc.start()
    try:
        resp = shared_env.client.post(path, content=gzip_bomb, headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_refused(resp, 413, "decompressed_too_large")
    cap = LIMITS.batch_decoded if path.startswith("/batch") else LIMITS.events_decoded
    # The server inflated up to its decoded cap (so the tracing saw its thread) and then
    # stopped, far short of the gigabyte the whole body stands for.
    assert cap < peak < 4 * cap + 4 * len(gzip_bomb), peak
    assert peak < GIB // 8


_LZ64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def lz64_bomb(codes: int) -> tuple[str, int]:
    """lz-string base64 data standing for "a" repeated (codes + 1)(codes + 2) / 2 times.

    Each code names the dictionary entry about to be made, one "a" longer than the last, so
    the output grows with the square of the input. Returns the data and the output length.
    """
    out: list[str] = []
    value = position = 0

    def write(number: int, width: int) -> None:
        nonlocal value, position
        for _ in range(width):
            value = (value << 1) | (number & 1)
            number >>= 1
            position += 1
            if position == 6:
                out.append(_LZ64_ALPHABET[value])
                value = position = 0

    write(0, 2)  # an 8-bit literal follows
    write(ord("a"), 8)
    size, width, enlarge_in = 4, 3, 4
    for _ in range(codes):
        write(size, width)
        size += 1
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in, width = 2**width, width + 1
    write(2, width)  # end of stream
    write(0, 6 - position)
    return "".join(out), 1 + sum(range(2, codes + 2))


def test_lz64_bomb_builder_matches_the_library() -> None:
    data, length = lz64_bomb(40)
    assert LZString().decompressFromBase64(data) == "a" * length


@pytest.fixture(scope="module")
def lz64_gigabyte() -> str:
    data, length = lz64_bomb(47_000)
    assert length > GIB
    return data


@pytest.mark.parametrize("as_form", [False, True], ids=["raw", "form"])
def test_lz64_bomb_is_refused_without_inflating_it(
    shared_env: Env, lz64_gigabyte: str, as_form: bool
) -> None:
    data = lz64_gigabyte
    assert len(data) < LIMITS.events_body
    body = f"compression=lz64&data={data}".encode() if as_form else data.encode()
    headers = {"Content-Type": FORM if as_form else "text/plain"}
    tracemalloc.start()
    try:
        resp = shared_env.client.post("/e/?compression=lz64", content=body, headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_refused(resp, 413, "decompressed_too_large")
    assert LIMITS.events_decoded < peak < 8 * LIMITS.events_decoded, peak


# -- properties -------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


@pytest.mark.parametrize(("depth", "code"), [(300, "invalid_properties"), (2000, "invalid_json")])
def test_deeply_nested_properties(shared_env: Env, depth: int, code: str) -> None:
    distinct_id = new_id()
    raw = b'{"api_key": "%s", "event": "deep", "distinct_id": "%s", "properties": {"deep": %s}}' % (
        shared_env.project.api_token.encode(),
        distinct_id.encode(),
        _nested(depth),
    )
    assert_refused(shared_env.client.post("/e/", content=raw), 400, code)
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_nesting_that_can_be_stored_is_kept(shared_env: Env) -> None:
    distinct_id = new_id()
    deep: Any = distinct_id
    for _ in range(100):
        deep = [deep]
    assert _single(shared_env, ev(distinct_id, properties={"deep": deep})).status_code == 200
    assert only_event(shared_env, distinct_id)["properties"]["deep"] == deep


def test_huge_properties(shared_env: Env) -> None:
    distinct_id = new_id()
    event = ev(distinct_id, properties={"blob": "b" * (MAX_PROPERTIES_BYTES + 1)})
    body = assert_refused(_single(shared_env, event), 400, "properties_too_large")
    assert len(orjson.dumps(body)) < 2_000
    assert stored_by(shared_env, distinct_id=distinct_id) == []


# -- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        "1970-01-01T00:00:00Z",
        "1999-12-31T23:59:59.999Z",
        "3000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        0,
        946_684_799_999,  # ms: the last millisecond of 1999
        32_503_680_000_000,  # ms: the year 3000
    ],
)
def test_timestamps_out_of_range_are_rejected(shared_env: Env, timestamp: Any) -> None:
    distinct_id = new_id()
    body = assert_refused(
        _single(shared_env, ev(distinct_id, timestamp=timestamp)), 400, "invalid_timestamp"
    )
    assert "2000" in body["detail"]
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_a_few_days_ahead_is_clamped_to_now(make_env: Callable[..., Env], clock: FakeClock) -> None:
    env = make_env(clock=clock)
    distinct_id = new_id()
    ahead = clock.now_us + 2 * 86_400_000_000
    assert _single(env, ev(distinct_id, timestamp=iso_us(ahead))).status_code == 200
    assert time_us(str(only_event(env, distinct_id)["timestamp"])) == clock.now_us


# -- duplicates and mixed batches -------------------------------------------------------------


def test_same_uuid_twice_in_one_batch_is_stored_once(shared_env: Env) -> None:
    distinct_id = new_id()
    event_uuid = str(uuid.uuid4())
    twice = [ev(distinct_id, uuid=event_uuid), ev(distinct_id, uuid=event_uuid)]
    assert post(shared_env, envelope(shared_env, *twice)).status_code == 200
    assert [e["uuid"] for e in stored_by(shared_env, distinct_id=distinct_id)] == [event_uuid]


def test_same_uuid_across_requests_is_stored_once(shared_env: Env) -> None:
    distinct_id = new_id()
    event_uuid = str(uuid.uuid4())
    retried = ev(distinct_id, uuid=event_uuid)
    for _ in range(3):
        assert post(shared_env, envelope(shared_env, retried)).status_code == 200
    other = ev(distinct_id, uuid=str(uuid.uuid4()))
    assert post(shared_env, envelope(shared_env, retried, other)).status_code == 200
    stored = sorted(e["uuid"] for e in stored_by(shared_env, distinct_id=distinct_id))
    assert stored == sorted([event_uuid, other["uuid"]])


def test_uuid_in_other_spellings_is_the_same_event(shared_env: Env) -> None:
    distinct_id = new_id()
    event_uuid = uuid.uuid4()
    spellings = [str(event_uuid), str(event_uuid).upper(), event_uuid.hex, f"{{{event_uuid}}}"]
    for spelling in spellings:
        assert (
            post(shared_env, envelope(shared_env, ev(distinct_id, uuid=spelling))).status_code
            == 200
        )
    assert [e["uuid"] for e in stored_by(shared_env, distinct_id=distinct_id)] == [str(event_uuid)]


def test_mixed_batch_stores_exactly_the_valid_events(shared_env: Env) -> None:
    distinct_id = new_id()
    bad: dict[int, tuple[Any, str]] = {
        1: ({"distinct_id": distinct_id, "properties": {}}, "missing_event"),
        3: ({**ev(distinct_id), "properties": "oops"}, "invalid_properties"),
        4: ("not an event", "invalid_event"),
        6: ({**ev(distinct_id), "uuid": "nope"}, "invalid_uuid"),
        7: ({**ev(distinct_id), "timestamp": "1999-01-01T00:00:00Z"}, "invalid_timestamp"),
        9: ({**ev(distinct_id), "distinct_id": {"x": 1}}, "invalid_distinct_id"),
    }
    batch: list[Any] = []
    good_uuids: list[str] = []
    for index in range(12):
        if index in bad:
            batch.append(bad[index][0])
        else:
            good_uuids.append(str(uuid.uuid4()))
            batch.append(ev(distinct_id, uuid=good_uuids[-1], properties={"index": index}))
    resp = post(shared_env, envelope(shared_env, *batch))
    body = error_of(resp)
    assert resp.status_code == 400
    assert body["error"] == "invalid_events"
    assert body["accepted"] == len(good_uuids)
    assert [(r["index"], r["error"]) for r in body["rejected"]] == [
        (index, code) for index, (_, code) in sorted(bad.items())
    ]
    assert all(isinstance(r["detail"], str) and r["detail"] for r in body["rejected"])
    stored = stored_by(shared_env, distinct_id=distinct_id)
    assert sorted(e["uuid"] for e in stored) == sorted(good_uuids)
    assert sorted(e["properties"]["index"] for e in stored) == [
        i for i in range(12) if i not in bad
    ]


def test_mixed_batch_with_one_rejection_names_it(shared_env: Env) -> None:
    distinct_id = new_id()
    batch = [ev(distinct_id), {"distinct_id": distinct_id}]
    body = assert_refused(post(shared_env, envelope(shared_env, *batch)), 400, "missing_event")
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1]
    assert len(stored_by(shared_env, distinct_id=distinct_id)) == 1


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"timestamp": 1e308}, "invalid_timestamp"),
        ({"timestamp": "9" * 5000}, "invalid_timestamp"),
        ({"offset": 1e308}, "invalid_offset"),
        ({"offset": -1e300}, "invalid_offset"),
    ],
)
def test_absurd_numbers_in_time_fields(shared_env: Env, extra: dict[str, Any], code: str) -> None:
    distinct_id = new_id()
    resp = post(shared_env, {"api_key": shared_env.project.api_token, **ev(distinct_id, **extra)})
    assert_refused(resp, 400, code)
    assert stored_by(shared_env, distinct_id=distinct_id) == []


def test_long_client_supplied_columns_are_cut(shared_env: Env) -> None:
    distinct_id = new_id()
    long = "x" * 20_000
    body = ev(distinct_id, properties={"$pathname": long, "$browser": long})
    assert post(shared_env, envelope(shared_env, body)).status_code == 200
    [stored] = stored_by(shared_env, distinct_id=distinct_id)
    assert 0 < len(stored["pathname"]) < len(long)
    assert 0 < len(stored["browser"]) < len(long)
    assert stored["properties"]["$pathname"] == long  # the full value stays in the properties
