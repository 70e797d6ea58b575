"""Shared fixtures: an in-process app on a fresh data dir, projects, tokens, a real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from userlens.config import Settings, load_settings
from userlens.model.project import Project
from userlens.web import UserlensApp, create_app

REPO = Path(__file__).resolve().parent.parent
USERLENS = Path(sys.executable).parent / "userlens"


class FakeClock:
    """A settable clock in microseconds since the epoch."""

    def __init__(self, start_us: int = 1_795_000_000_000_000) -> None:
        self.now_us = start_us

    def __call__(self) -> int:
        return self.now_us

    def advance(self, seconds: float) -> None:
        self.now_us += int(seconds * 1_000_000)


@dataclass
class Env:
    """An in-process Userlens: the app, an HTTP client for it, one project and an API token."""

    app: UserlensApp
    client: TestClient
    project: Project
    api_token: str
    settings: Settings

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}

    def flush(self) -> None:
        """Wait until every acknowledged event is in the store (and so queryable)."""
        assert self.app.services.writer.flush(), "events did not reach the store"

    def events(self, **params: str | int) -> list[dict[str, object]]:
        """Every stored event of the project, newest first, through the public API."""
        self.flush()
        out: list[dict[str, object]] = []
        query: dict[str, str | int] = {"limit": 1000, **params}
        while True:
            resp = self.client.get(
                f"/api/projects/{self.project.id}/events", params=query, headers=self.auth
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            out.extend(body["results"])
            if not body["next_cursor"]:
                return out
            query["cursor"] = body["next_cursor"]


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for `check` to hold: a real server loads acknowledged events a moment later."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def poll_json(
    url: str, headers: dict[str, str], ready: Callable[[Any], bool], timeout: float = 30.0
) -> Any:
    """GET `url` until `ready(body)` holds (or time runs out); return the last body."""
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(url, headers=headers).json()
        if ready(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return load_settings(env={}, data_dir=str(data_dir), **overrides)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    """Build an in-process env; keyword arguments override settings."""
    clients: list[TestClient] = []

    def build(clock: Callable[[], int] | None = None, **overrides: object) -> Env:
        settings = make_settings(tmp_path / f"data{len(clients)}", **overrides)
        app = create_app(settings, now_us=clock)
        meta = app.services.meta
        project = meta.create_project("Test project")
        email = f"admin{len(clients)}@example.com"
        meta.create_user(email, "correct horse battery", is_admin=False)
        from userlens.model.project import Role

        meta.add_member(project.id, email, Role.ADMIN)
        token = meta.create_api_token(email).secret
        client = TestClient(app, raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        return Env(app=app, client=client, project=project, api_token=token, settings=settings)

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A real `userlens serve` process on loopback."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)  # extra USERLENS_* variables

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.settings, "USERLENS_DATA_DIR": str(self.data_dir)}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [str(USERLENS), *args],
            input=stdin.encode() if stdin is not None else None,
            env=self.environ,
            capture_output=True,
            check=True,
            timeout=60,
        )
        return out.stdout.decode()

    def project_with_admin(self, name: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Create a project and an admin through the CLI: the project and API auth headers."""
        project: dict[str, Any] = json.loads(self.cli("project", "create", name, "--json"))
        email = f"admin-{project['id']}@{name.lower()}.test"
        self.cli("user", "create", email, "--admin", stdin="s3cret-pass\n")
        token = json.loads(self.cli("token", "create", email, "--json"))["token"]
        return project, {"Authorization": f"Bearer {token}"}

    def start(self) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(USERLENS), "serve", "--port", str(self.port)],
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/_health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(60)


def running_server(
    data_dir: Path, settings: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """A started server on a new data dir (with extra `USERLENS_*` settings), stopped
    afterwards (for fixtures of any scope)."""
    srv = ServerProcess(data_dir=data_dir, port=free_port(), settings=settings or {})
    srv.data_dir.mkdir()
    srv.start()
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from running_server(tmp_path / "data")
