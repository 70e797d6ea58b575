"""Hostile and malformed capture requests against a real `userlens serve` over loopback:
each gets a 4xx with a JSON body naming the problem, and the server goes on serving."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ServerProcess, eventually, running_server

MB = 1024 * 1024


def _event(token: str, **extra: Any) -> dict[str, Any]:
    return {"api_key": token, "event": "signup", "distinct_id": "u1", **extra}


def _big_single(token: str) -> bytes:
    """One valid event of ~5 MB, over the 2 MB cap of the single-event routes."""
    return orjson.dumps(_event(token, properties={"p": "x" * 5 * MB}))


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running_server(tmp_path_factory.mktemp("bad-input") / "data")


@pytest.fixture(scope="module")
def shop_token(shared_server: ServerProcess) -> str:
    token: str = shared_server.project_with_admin("Shop")[0]["api_token"]
    return token


def _request(case: str, token: str) -> dict[str, Any]:
    """httpx arguments for one bad request (built only for the case at hand)."""
    gzipped = {**JSON, "content-encoding": "gzip"}
    if case == "declared length over the cap":
        return {"content": _big_single(token), "headers": JSON}
    if case == "chunked body over the cap":
        return {"content": _chunks(_big_single(token)), "headers": JSON}
    if case == "gzip bomb":
        return {"content": gzip.compress(b"[" + b" " * 200 * MB + b"]"), "headers": gzipped}
    if case == "not JSON":
        return {"content": b"{nope", "headers": JSON}
    if case == "gzip header on plain text":
        return {"content": b"\x1f\x8b not really gzip", "headers": gzipped}
    if case == "no token":
        return {"json": {"event": "signup", "distinct_id": "u1"}}
    assert case == "unknown token"
    return {"json": _event("phc_" + "0" * 40)}


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("declared length over the cap", 413, "body_too_large"),
        ("chunked body over the cap", 413, "body_too_large"),
        ("gzip bomb", 413, "decompressed_too_large"),
        ("not JSON", 400, "invalid_json"),
        ("gzip header on plain text", 400, "invalid_gzip"),
        ("no token", 401, "missing_token"),
        ("unknown token", 401, "unknown_token"),
    ],
)
def test_refused_with_a_json_reason(
    shared_server: ServerProcess, shop_token: str, case: str, status: int, code: str
) -> None:
    token = shop_token
    url = f"{shared_server.url}/e/"
    resp = httpx.post(url, timeout=60, **_request(case, token))
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == 0
    assert body["error"] == code
    assert body["detail"]
    # The server is still up and still takes good events.
    ok = httpx.post(url, json=_event(token))
    assert ok.status_code == 200, ok.text


def test_a_batch_with_bad_events_keeps_the_good_ones(shared_server: ServerProcess) -> None:
    server = shared_server
    project, auth = server.project_with_admin("Shop")
    token = project["api_token"]
    batch = [
        {"event": "good", "distinct_id": "a"},
        {"event": "x" * 1_000_000, "distinct_id": "b"},
        {"event": "good", "distinct_id": "c", "properties": "not an object"},
        {"distinct_id": "d"},
        {"event": "good", "distinct_id": "e", "uuid": "not-a-uuid"},
        {"event": "good", "distinct_id": "f"},
    ]
    resp = httpx.post(f"{server.url}/batch/", json={"api_key": token, "batch": batch}, timeout=30)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 4]
    assert all(r["error"] and r["detail"] for r in body["rejected"])
    stored: list[str] = []

    def loaded() -> bool:
        url = f"{server.url}/api/projects/{project['id']}/events"
        stored[:] = sorted(e["distinct_id"] for e in httpx.get(url, headers=auth).json()["results"])
        return len(stored) >= 2

    eventually(loaded)
    assert stored == ["a", "f"]
