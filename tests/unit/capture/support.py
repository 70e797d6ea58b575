"""Helpers shared by the capture tests: an env built once per module, ids, stored events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx2
from starlette.testclient import TestClient

from tests.conftest import Env, make_settings
from userlens.model.project import Role
from userlens.web import create_app

FORM = "application/x-www-form-urlencoded"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def build_env(data_dir: Path, clock: Callable[[], int] | None = None, **overrides: object) -> Env:
    """Like the `make_env` fixture, for fixtures that live longer than one test.

    Building an env costs a few hundred milliseconds (stores, migrations, password hashing), so
    the capture tests share one per module and keep apart by using fresh distinct ids.
    """
    settings = make_settings(data_dir, **overrides)
    app = create_app(settings, now_us=clock)
    meta = app.services.meta
    project = meta.create_project("Capture tests")
    email = "capture-tests@example.com"
    meta.create_user(email, "correct horse battery", is_admin=False)
    meta.add_member(project.id, email, Role.ADMIN)
    secret = meta.create_api_token(email).secret
    asgi: Any = app  # UserlensApp's ASGI signature is narrower than starlette's ASGIApp
    client = TestClient(asgi, raise_server_exceptions=True)
    client.__enter__()
    return Env(app=app, client=client, project=project, api_token=secret, settings=settings)


def close_env(env: Env) -> None:
    env.client.__exit__(None, None, None)


def new_id(prefix: str = "user") -> str:
    """A distinct id (or event name) no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex}"


def stored_by(
    env: Env, *, distinct_id: str | None = None, event: str | None = None
) -> list[dict[str, Any]]:
    """Stored events of the env's project for one distinct id or one event name."""
    params: dict[str, str] = {}
    if distinct_id is not None:
        params["distinct_id"] = distinct_id
    if event is not None:
        params["event"] = event
    assert params, "filter by something, the env is shared"
    return cast(list[dict[str, Any]], env.events(**params))


def only_event(env: Env, distinct_id: str) -> dict[str, Any]:
    events = stored_by(env, distinct_id=distinct_id)
    assert len(events) == 1, events
    return events[0]


def time_us(value: str) -> int:
    """Microseconds since the epoch of an ISO 8601 time as the API returns it."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - EPOCH) // timedelta(microseconds=1)


def iso_us(us: int) -> str:
    """ISO 8601 text of a time in microseconds, the way posthog-js writes it (ms and a Z)."""
    moment = EPOCH + timedelta(microseconds=us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def error_of(resp: httpx2.Response) -> dict[str, Any]:
    """The JSON error body of a 4xx answer (never a 5xx)."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:500])
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str), body
    return cast(dict[str, Any], body)
