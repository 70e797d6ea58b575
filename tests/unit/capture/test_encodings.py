"""Every body encoding, envelope form and path of the capture wire format stores the event."""

from __future__ import annotations

import base64
import dataclasses
import gzip
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lzstring import LZString

from tests.conftest import Env
from tests.unit.capture.support import FORM, new_id, only_event, stored_by
from userlens.capture.decode import decode_body


@dataclasses.dataclass(frozen=True)
class Req:
    method: str
    url: str
    content: bytes | None
    headers: dict[str, str]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def lz64(data: bytes) -> str:
    return str(LZString().compressToBase64(data.decode("utf-8")))


def event_for(distinct_id: str, name: str | None = None) -> dict[str, Any]:
    return {
        "event": name or new_id("event"),
        "distinct_id": distinct_id,
        "properties": {
            "$lib": "web",
            "plan": "pro",
            "seats": 7,
            "nested": {"list": [1, 2.5, None, True], "text": "naïve café ✓"},
        },
    }


def body_with_plus(token: str) -> tuple[dict[str, Any], bytes]:
    """An event and an envelope holding it whose base64 and lz64 both contain '+'.

    '+' is what a form body that was not URL-encoded turns into a space, so every base64 and
    lz64 case below also checks that the server turns spaces back.
    """
    sent = event_for(new_id())
    for filler in range(1, 500):
        sent["properties"]["filler"] = ">" * filler + "?" * (filler % 3)
        body = orjson.dumps({"api_key": token, "batch": [sent]})
        if "+" in b64(body) and "+" in lz64(body):
            return sent, body
    raise AssertionError("no filler gives '+' in both encodings")  # pragma: no cover


def assert_stored(env: Env, sent: dict[str, Any]) -> None:
    got = only_event(env, sent["distinct_id"])
    assert got["event"] == sent["event"]
    assert got["distinct_id"] == sent["distinct_id"]
    for key, value in sent["properties"].items():
        if key != "token":
            assert got["properties"][key] == value, key
    assert "token" not in got["properties"]


def _gzip_magic(body: bytes) -> Req:
    return Req("POST", "/i/v0/e/", gzip.compress(body), {"Content-Type": "text/plain"})


def _gzip_magic_no_header(body: bytes) -> Req:
    return Req("POST", "/e/", gzip.compress(body), {})


def _gzip_content_encoding(body: bytes) -> Req:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return Req("POST", "/batch/", gzip.compress(body), headers)


def _gzip_js(body: bytes) -> Req:
    return Req(
        "POST", "/e/?compression=gzip-js", gzip.compress(body), {"Content-Type": "text/plain"}
    )


def _base64_form(body: bytes) -> Req:
    form = f"data={quote(b64(body), safe='')}".encode()
    return Req("POST", "/e/?compression=base64", form, {"Content-Type": FORM})


def _base64_form_plus_as_space(body: bytes) -> Req:
    encoded = b64(body)
    assert "+" in encoded
    # Not URL-encoded: the form decoder turns each '+' into a space.
    return Req("POST", "/e/?compression=base64", f"data={encoded}".encode(), {"Content-Type": FORM})


def _plain_json(body: bytes) -> Req:
    return Req("POST", "/e/", body, {"Content-Type": "application/json"})


def _plain_json_text(body: bytes) -> Req:
    return Req("POST", "/e/", body, {"Content-Type": "text/plain"})


def _lz64_query(body: bytes) -> Req:
    form = f"data={quote(lz64(body), safe='')}".encode()
    return Req("POST", "/e/?compression=lz64", form, {"Content-Type": FORM})


def _lz64_form_field(body: bytes) -> Req:
    form = f"data={quote(lz64(body), safe='')}&compression=lz64".encode()
    return Req("POST", "/e/", form, {"Content-Type": FORM})


def _lz64_plus_as_space(body: bytes) -> Req:
    encoded = lz64(body)
    assert "+" in encoded
    form = f"compression=lz64&data={encoded}".encode()
    return Req("POST", "/e/", form, {"Content-Type": FORM})


def _lz64_raw_body(body: bytes) -> Req:
    return Req("POST", "/e/?compression=lz64", lz64(body).encode(), {"Content-Type": "text/plain"})


def _get_data(body: bytes) -> Req:
    return Req("GET", f"/e/?data={quote(b64(body), safe='')}", None, {})


def _get_data_plus_as_space(body: bytes) -> Req:
    encoded = b64(body)
    assert "+" in encoded
    return Req("GET", f"/e/?ip=1&data={encoded}", None, {})


ENCODINGS: dict[str, Callable[[bytes], Req]] = {
    "gzip magic bytes, text/plain": _gzip_magic,
    "gzip magic bytes, no content type": _gzip_magic_no_header,
    "gzip Content-Encoding": _gzip_content_encoding,
    "gzip-js query": _gzip_js,
    "base64 form": _base64_form,
    "base64 form, + sent as space": _base64_form_plus_as_space,
    "plain JSON": _plain_json,
    "plain JSON as text/plain": _plain_json_text,
    "lz64 query": _lz64_query,
    "lz64 form field": _lz64_form_field,
    "lz64 form field, + sent as space": _lz64_plus_as_space,
    "lz64 raw body": _lz64_raw_body,
    "GET data=base64": _get_data,
    "GET data=base64, + sent as space": _get_data_plus_as_space,
}


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_each_encoding_stores_the_event(shared_env: Env, encode: Callable[[bytes], Req]) -> None:
    sent, body = body_with_plus(shared_env.project.api_token)
    req = encode(body)
    resp = shared_env.client.request(req.method, req.url, content=req.content, headers=req.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": 1}
    assert_stored(shared_env, sent)


def test_concatenated_gzip_members_are_all_read(shared_env: Env) -> None:
    sent = event_for(new_id())
    body = orjson.dumps({"api_key": shared_env.project.api_token, "batch": [sent]})
    half = len(body) // 2
    two_members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    resp = shared_env.client.post(
        "/e/", content=two_members, headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 200, resp.text
    assert_stored(shared_env, sent)


def js_units(text: str) -> str:
    """`text` as a JavaScript string: UTF-16 code units, so astral characters are two."""
    raw = text.encode("utf-16-le")
    return "".join(chr(int.from_bytes(raw[i : i + 2], "little")) for i in range(0, len(raw), 2))


def test_lz64_from_javascript_with_astral_characters(shared_env: Env) -> None:
    sent = event_for(new_id())
    sent["properties"]["mood"] = "launch day \U0001f680\U0001f389 ok"
    body = orjson.dumps({"api_key": shared_env.project.api_token, "batch": [sent]}).decode()
    data = LZString().compressToBase64(js_units(body))
    resp = shared_env.client.post(
        "/e/",
        content=f"data={quote(data, safe='')}&compression=lz64".encode(),
        headers={"Content-Type": FORM},
    )
    assert resp.status_code == 200, resp.text
    assert_stored(shared_env, sent)


@settings(max_examples=200, deadline=None, database=None)
@given(text=st.text(max_size=300))
def test_lz64_decoding_round_trips_any_text(text: str) -> None:
    data = LZString().compressToBase64(js_units(orjson.dumps({"t": text}).decode()))
    decoded = decode_body(
        data.encode(),
        method="POST",
        content_type="text/plain",
        content_encoding="",
        query={"compression": "lz64"},
        max_size=10_000_000,
    )
    assert decoded == {"t": text}


# -- envelope forms ---------------------------------------------------------------------------


def _envelope_api_key(token: str, events: list[dict[str, Any]]) -> Any:
    return {"api_key": token, "batch": events, "sent_at": None}


def _envelope_token(token: str, events: list[dict[str, Any]]) -> Any:
    return {"token": token, "batch": events}


def _bare_array(token: str, events: list[dict[str, Any]]) -> Any:
    return [{**e, "api_key": token} for e in events]


def _properties_token(token: str, events: list[dict[str, Any]]) -> Any:
    return [{**e, "properties": {**e["properties"], "token": token}} for e in events]


def _dollar_token(token: str, events: list[dict[str, Any]]) -> Any:
    return [{**e, "$token": token} for e in events]


def _event_token(token: str, events: list[dict[str, Any]]) -> Any:
    return [{**e, "token": token} for e in events]


def _envelope_and_matching_event_tokens(token: str, events: list[dict[str, Any]]) -> Any:
    return {"api_key": token, "batch": _properties_token(token, events)}


ENVELOPES: dict[str, Callable[[str, list[dict[str, Any]]], Any]] = {
    "envelope api_key": _envelope_api_key,
    "envelope token": _envelope_token,
    "bare array, api_key per event": _bare_array,
    "properties.token": _properties_token,
    "$token": _dollar_token,
    "token per event": _event_token,
    "envelope and the same token per event": _envelope_and_matching_event_tokens,
}


@pytest.mark.parametrize("wrap", ENVELOPES.values(), ids=ENVELOPES.keys())
@pytest.mark.parametrize("count", [1, 3])
def test_each_envelope_form_stores_every_event(
    shared_env: Env, wrap: Callable[[str, list[dict[str, Any]]], Any], count: int
) -> None:
    sent = [event_for(new_id()) for _ in range(count)]
    resp = shared_env.client.post("/e/", json=wrap(shared_env.project.api_token, sent))
    assert resp.status_code == 200, resp.text
    for event in sent:
        assert_stored(shared_env, event)


@pytest.mark.parametrize("token_key", ["api_key", "token", "$token"])
def test_single_event_object(shared_env: Env, token_key: str) -> None:
    sent = event_for(new_id())
    resp = shared_env.client.post("/e/", json={**sent, token_key: shared_env.project.api_token})
    assert resp.status_code == 200, resp.text
    assert_stored(shared_env, sent)


def test_single_event_with_token_in_properties(shared_env: Env) -> None:
    sent = event_for(new_id())
    sent["properties"]["token"] = shared_env.project.api_token
    resp = shared_env.client.post("/e/", json=sent)
    assert resp.status_code == 200, resp.text
    assert_stored(shared_env, sent)


def test_distinct_id_in_properties_or_dollar_key(shared_env: Env) -> None:
    token = shared_env.project.api_token
    in_props = event_for(new_id())
    dollar = event_for(new_id())
    batch = [
        {
            "event": in_props["event"],
            "properties": {**in_props["properties"], "distinct_id": in_props["distinct_id"]},
        },
        {
            "event": dollar["event"],
            "$distinct_id": dollar["distinct_id"],
            "properties": dollar["properties"],
        },
    ]
    resp = shared_env.client.post("/e/", json={"api_key": token, "batch": batch})
    assert resp.status_code == 200, resp.text
    assert_stored(shared_env, in_props)
    assert_stored(shared_env, dollar)
    assert "distinct_id" not in only_event(shared_env, in_props["distinct_id"])["properties"]


# -- paths ------------------------------------------------------------------------------------

PATHS = ["/e", "/i/v0/e", "/capture", "/track", "/engage", "/batch"]


@pytest.mark.parametrize("slash", ["/", ""], ids=["slash", "no-slash"])
@pytest.mark.parametrize("path", PATHS)
def test_every_capture_path(shared_env: Env, path: str, slash: str) -> None:
    sent = event_for(new_id())
    body = gzip.compress(orjson.dumps({"api_key": shared_env.project.api_token, "batch": [sent]}))
    resp = shared_env.client.post(
        path + slash, content=body, headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 200, resp.text
    assert_stored(shared_env, sent)


@pytest.mark.parametrize("path", ["/e/", "/i/v0/e/", "/capture"])
def test_get_on_event_paths(shared_env: Env, path: str) -> None:
    sent = event_for(new_id())
    data = b64(orjson.dumps({**sent, "api_key": shared_env.project.api_token}))
    resp = shared_env.client.get(path, params={"data": data})
    assert resp.status_code == 200, resp.text
    assert_stored(shared_env, sent)


def test_engage_without_event_name_is_a_set(shared_env: Env) -> None:
    distinct_id = new_id()
    plan = new_id("plan")
    resp = shared_env.client.post(
        "/engage/",
        json={
            "api_key": shared_env.project.api_token,
            "distinct_id": distinct_id,
            "$set": {"plan": plan},
        },
    )
    assert resp.status_code == 200, resp.text
    got = only_event(shared_env, distinct_id)
    assert got["event"] == "$set"
    assert got["properties"]["$set"] == {"plan": plan}


def test_other_methods_are_refused(shared_env: Env) -> None:
    resp = shared_env.client.put("/e/", content=b"{}")
    assert resp.status_code == 405
    assert resp.json()["error"] == "method_not_allowed"


# -- CORS and status --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/e/", "/i/v0/e/", "/batch", "/engage/"])
def test_preflight_mirrors_origin_and_requested_headers(shared_env: Env, path: str) -> None:
    origin = f"https://{new_id('shop')}.example"
    requested = f"content-type, x-{new_id('h')}"
    resp = shared_env.client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": requested,
        },
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == origin
    assert resp.headers["access-control-allow-headers"] == requested
    assert "POST" in resp.headers["access-control-allow-methods"]


def test_post_response_carries_cors_headers(shared_env: Env) -> None:
    origin = f"https://{new_id('app')}.example"
    sent = event_for(new_id())
    resp = shared_env.client.post(
        "/e/",
        content=orjson.dumps({**sent, "api_key": shared_env.project.api_token}),
        headers={"Origin": origin, "Content-Type": "text/plain"},
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == origin
    # sendBeacon sends credentials, so a mirrored origin must allow them.
    assert resp.headers["access-control-allow-credentials"] == "true"
    assert_stored(shared_env, sent)


def test_error_responses_carry_cors_headers_too(shared_env: Env) -> None:
    origin = f"https://{new_id('app')}.example"
    resp = shared_env.client.post("/e/", content=b"{oops", headers={"Origin": origin})
    assert resp.status_code == 400
    assert resp.headers["access-control-allow-origin"] == origin


def test_without_origin_any_origin_is_allowed(shared_env: Env) -> None:
    sent = event_for(new_id())
    resp = shared_env.client.post("/e/", json={**sent, "api_key": shared_env.project.api_token})
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"


def test_success_is_exactly_200_for_many_events(shared_env: Env) -> None:
    # posthog-js retries anything but 200 (204 included), so a batch must answer 200 itself.
    distinct_id = new_id()
    batch = [
        {"event": f"e{i}", "distinct_id": distinct_id, "properties": {"i": i}} for i in range(50)
    ]
    resp = shared_env.client.post(
        "/batch/", json={"api_key": shared_env.project.api_token, "batch": batch}
    )
    assert resp.status_code == 200
    stored = stored_by(shared_env, distinct_id=distinct_id)
    assert sorted(e["properties"]["i"] for e in stored) == list(range(50))
    assert {e["event"] for e in stored} == {f"e{i}" for i in range(50)}
