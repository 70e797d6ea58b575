"""Request bodies in flight, all clients together, are bounded: past the budget, 503."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Env

Message = dict[str, Any]


def _body(token: str, kb: int) -> bytes:
    batch = [
        {
            "event": "e",
            "distinct_id": "d",
            "uuid": str(uuid.uuid4()),
            "properties": {"b": "x" * 1000 * kb},
        }
    ]
    return json.dumps({"api_key": token, "batch": batch}).encode()


def _scope(body: bytes, *, declared: bool = True) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if declared:
        headers.append((b"content-length", str(len(body)).encode()))
    return {
        "type": "http",
        "method": "POST",
        "path": "/batch/",
        "headers": headers,
        "query_string": b"",
        "client": ("127.0.0.1", 5000),
    }


class Client:
    """One request through the app's ASGI interface; its body can stall half-way."""

    def __init__(self, body: bytes, *, stall: bool = False) -> None:
        self.body = body
        self.gate = asyncio.Event()
        if not stall:
            self.gate.set()
        self.reads = 0
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.answer: dict[str, Any] = {}

    async def receive(self) -> Message:
        self.reads += 1
        half = len(self.body) // 2
        if self.reads == 1:
            return {"type": "http.request", "body": self.body[:half], "more_body": True}
        await self.gate.wait()
        return {"type": "http.request", "body": self.body[half:], "more_body": False}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message["headers"])
        else:
            self.answer = json.loads(message["body"])


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    """A server that holds at most 1 MB of request bodies at once."""
    return make_env(max_request_bodies_mb=1)


def test_bodies_past_the_budget_are_refused_before_they_are_read(env: Env) -> None:
    app, token = env.app, env.project.api_token
    budget = app.capture._bodies

    async def scenario() -> list[bytes]:
        slow = Client(_body(token, 700), stall=True)  # a client sending its body slowly
        first = asyncio.create_task(app(_scope(slow.body), slow.receive, slow.send))
        while budget.held == 0:
            await asyncio.sleep(0.001)
        assert budget.held == len(slow.body)  # its declared length, taken up front

        other = Client(_body(token, 700))
        await app(_scope(other.body), other.receive, other.send)
        assert other.status == 503
        assert other.answer["error"] == "overloaded"
        assert "request bodies" in other.answer["detail"]
        assert int(other.headers[b"retry-after"]) >= 1
        assert other.reads == 0  # refused before its body was read

        small = Client(_body(token, 100))  # what fits beside the slow one goes through
        await app(_scope(small.body), small.receive, small.send)
        assert small.status == 200

        slow.gate.set()
        await first
        assert slow.status == 200
        assert budget.held == 0

        retried = Client(other.body)  # the refused client retries after Retry-After
        await app(_scope(retried.body), retried.receive, retried.send)
        assert retried.status == 200
        return [slow.body, small.body, retried.body]

    accepted: list[bytes] = []

    async def run() -> None:
        accepted.extend(await scenario())

    asyncio.run(run())
    assert budget.held == 0
    assert app.services.writer.flush()
    # Everything answered 200 is stored, the refused request's events once (on its retry).
    assert {e["uuid"] for e in env.events()} == {
        json.loads(body)["batch"][0]["uuid"] for body in accepted
    }


def test_a_body_without_a_declared_length_counts_as_it_arrives(env: Env) -> None:
    app, token = env.app, env.project.api_token
    budget = app.capture._bodies

    async def scenario() -> None:
        slow = Client(_body(token, 800), stall=True)
        first = asyncio.create_task(app(_scope(slow.body, declared=False), slow.receive, slow.send))
        while budget.held == 0:
            await asyncio.sleep(0.001)
        assert budget.held == len(slow.body) // 2  # the half that arrived

        other = Client(_body(token, 800))  # chunked too: refused once its body would not fit
        await app(_scope(other.body, declared=False), other.receive, other.send)
        assert other.status == 503
        assert budget.held == len(slow.body) // 2  # what it had taken is given back

        slow.gate.set()
        await first
        assert slow.status == 200

    asyncio.run(scenario())
    assert budget.held == 0


def test_refused_and_failed_requests_give_their_share_back(env: Env) -> None:
    app = env.app
    budget = app.capture._bodies

    async def scenario() -> None:
        for body in (b"{not json", json.dumps({"api_key": "nope", "batch": []}).encode()):
            client = Client(body)
            await app(_scope(body), client.receive, client.send)
            assert 400 <= client.status < 500
            assert budget.held == 0

    asyncio.run(scenario())
