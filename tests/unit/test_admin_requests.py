"""Commands the CLI hands to a running server (it holds the event store): the server carries
them out within a second or so and answers in the metadata database; a request no server took
up can be withdrawn; one a stopping server left half done is carried out at the next start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Env, eventually, make_settings
from userlens.config import Settings
from userlens.model.admin import AdminAction, AdminRequest
from userlens.store.backup import list_backups
from userlens.store.meta import MetaStore
from userlens.web.app import create_app


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_requests_are_taken_up_oldest_first_once_and_withdrawn_only_before(
    tmp_path: Path,
) -> None:
    clock = Clock()
    meta = MetaStore(f"sqlite:///{tmp_path / 'm.sqlite3'}", now=clock)
    requests = meta.requests
    try:
        first = requests.add(AdminAction.DELETE_PERSON, project_id=1, distinct_id="alice")
        second = requests.add(AdminAction.BACKUP)
        third = requests.add(AdminAction.DELETE_PROJECT, project_id=2)
        assert (first.started_at, first.finished_at) == (None, None)

        taken = requests.claim_next()
        assert taken is not None and taken.id == first.id and taken.started_at == clock.now
        assert taken.distinct_id == "alice" and taken.action is AdminAction.DELETE_PERSON
        assert not requests.withdraw(first.id, "too late")  # a server has it: it goes on
        assert requests.withdraw(second.id, "not taken up")
        withdrawn = requests.get(second.id)
        assert withdrawn is not None and withdrawn.error == "not taken up"

        clock.now += timedelta(seconds=5)
        nxt = requests.claim_next()
        assert nxt is not None and nxt.id == third.id  # the withdrawn one is skipped
        assert requests.claim_next() is None

        requests.finish(first.id, result={"events": 3})
        done = requests.get(first.id)
        assert done is not None and done.result == {"events": 3} and done.error is None
        assert done.finished_at == clock.now

        # The server stopped during the third: whoever opens the store next gets it back.
        assert requests.requeue_interrupted() == 1
        again = requests.claim_next()
        assert again is not None and again.id == third.id

        # Answers are kept for a while, then forgotten.
        clock.now += timedelta(days=31)
        requests.finish(third.id, error="no project 2")
        assert requests.get(first.id) is None and requests.get(second.id) is None
        assert requests.get(third.id) is not None
    finally:
        meta.close()


def _answer(meta: MetaStore, request: AdminRequest) -> AdminRequest:
    answered: list[AdminRequest] = []

    def finished() -> bool:
        now = meta.requests.get(request.id)
        assert now is not None
        answered[:] = [now]
        return now.finished_at is not None

    eventually(finished)
    return answered[0]


def _send(client: TestClient, token: str, *distinct_ids: str) -> None:
    batch = [{"event": "e", "distinct_id": who} for who in distinct_ids]
    resp = client.post("/batch/", json={"api_key": token, "batch": batch})
    assert resp.status_code == 200, resp.text


def _ids(env: Env) -> list[Any]:
    return sorted(e["distinct_id"] for e in env.events())


def test_a_running_server_carries_out_what_the_cli_asks(env: Env) -> None:
    meta = env.app.services.meta
    _send(env.client, env.project.api_token, "alice", "alice", "bob")
    env.flush()

    gone = _answer(
        meta,
        meta.requests.add(
            AdminAction.DELETE_PERSON, project_id=env.project.id, distinct_id="alice"
        ),
    )
    assert gone.error is None
    assert gone.result == {"events": 2, "distinct_ids": ["alice"], "sessions": []}
    assert _ids(env) == ["bob"]

    nowhere = _answer(
        meta, meta.requests.add(AdminAction.DELETE_PERSON, project_id=999, distinct_id="bob")
    )
    assert (nowhere.result, nowhere.error) == (None, "no project 999")

    backup = _answer(meta, meta.requests.add(AdminAction.BACKUP))
    assert backup.error is None and backup.result is not None
    [made] = list_backups(env.settings.backups_dir)
    assert backup.result == {"name": made.name} and made.events == 1

    other = meta.create_project("Other")
    _send(env.client, other.api_token, "carol")
    env.flush()
    dropped = _answer(meta, meta.requests.add(AdminAction.DELETE_PROJECT, project_id=other.id))
    assert dropped.result == {"events": 1, "persons": 1, "recorded_sessions": 0}
    assert meta.project(other.id) is None
    assert (
        env.client.post(
            "/e/", json={"api_key": other.api_token, "event": "e", "distinct_id": "x"}
        ).status_code
        == 401
    )
    assert _ids(env) == ["bob"]  # the first project keeps its events


def test_a_failing_request_is_answered_with_its_error_and_not_tried_again(env: Env) -> None:
    services = env.app.services
    meta = services.meta

    def broken() -> Any:
        raise RuntimeError("disk on fire\nand more")

    services.back_up = broken  # type: ignore[method-assign]
    failed = _answer(meta, meta.requests.add(AdminAction.BACKUP))
    assert failed.error == "the server failed: disk on fire"
    assert meta.requests.claim_next() is None


def _server(settings: Settings) -> TestClient:
    client = TestClient(create_app(settings))
    client.__enter__()
    return client


def test_a_request_a_stopped_server_left_half_done_is_carried_out_at_the_next_start(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data")
    client = _server(settings)
    try:
        project = client.app.services.meta.create_project("Shop")  # type: ignore[attr-defined]
        _send(client, project.api_token, "alice", "bob")
    finally:
        client.__exit__(None, None, None)

    # A server took the request up and was stopped before it answered.
    meta = MetaStore(settings.metadata_url)
    try:
        asked = meta.requests.add(
            AdminAction.DELETE_PERSON, project_id=project.id, distinct_id="alice"
        )
        assert meta.requests.claim_next() == meta.requests.get(asked.id)
    finally:
        meta.close()

    client = _server(settings)
    try:
        services = client.app.services  # type: ignore[attr-defined]
        done = _answer(services.meta, asked)
        assert done.result is not None and done.result["events"] == 1
        assert services.events.count_events(project.id) == 1
    finally:
        client.__exit__(None, None, None)
