"""`userlens demo`: generate a realistic dataset and send it through the real capture API."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import httpx
import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from userlens import __version__
from userlens.config import Settings
from userlens.demo import Event, generate_events, generate_recordings
from userlens.model.project import Project
from userlens.store.meta import MetaStore
from userlens.web import create_app

BATCH_SIZE = 500
SNAPSHOT_BATCH = 10  # `$snapshot` items per `/s/` request
MAX_ATTEMPTS = 30
DEFAULT_RETRY_S = 1.0
MAX_RETRY_S = 30.0
IN_PROCESS_URL = "http://userlens.in-process"
HEADERS = {
    "Content-Type": "application/json",
    "Content-Encoding": "gzip",
    "User-Agent": f"userlens-demo/{__version__}",
}
TIMEOUT = httpx.Timeout(120.0, connect=5.0)
# A server bound to every interface is reached on loopback.
LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104

Advance = Callable[[str, int], None]  # a path, and how many items were sent there
Post = tuple[str, bytes, int]  # path, gzip-compressed body, items in it


def run_demo(
    settings: Settings,
    *,
    project_id: int | None,
    persons: int,
    days: int,
    seed: int,
    url: str | None,
    now: datetime | None = None,
) -> None:
    """Fill a project (a new "Demo" one unless `project_id`) with `persons` people's events."""
    if persons < 1 or days < 1:
        raise click.ClickException("--persons and --days must be at least 1")
    started = time.monotonic()
    project = _project(settings, project_id)
    moment = now or datetime.now(UTC)
    events = list(generate_events(persons=persons, days=days, seed=seed, now=moment))
    token = project.api_token
    items = generate_recordings(events, token=token, seed=seed, now=moment)
    posts = [
        ("/batch/", encode(token, events[i : i + BATCH_SIZE]), len(events[i : i + BATCH_SIZE]))
        for i in range(0, len(events), BATCH_SIZE)
    ] + [
        ("/s/", _gzip(items[i : i + SNAPSHOT_BATCH]), len(items[i : i + SNAPSHOT_BATCH]))
        for i in range(0, len(items), SNAPSHOT_BATCH)
    ]
    target = (url or _local_url(settings)).rstrip("/")
    with _progress() as progress:
        tasks = {
            "/batch/": progress.add_task("Sending events", total=len(events)),
            "/s/": progress.add_task("Sending recordings", total=len(items)),
        }

        def advance(path: str, count: int) -> None:
            progress.advance(tasks[path], count)

        try:
            where = _run(_deliver(settings, target, posts, advance))
        except httpx.HTTPError as exc:
            raise click.ClickException(f"sending to {target} failed: {exc}") from exc
    sessions = len({i["properties"]["$session_id"] for i in items})
    click.echo(
        f"Sent {len(events)} events for {persons} persons over {days} days, and recordings of "
        f"{sessions} sessions, {where} into project {project.id} ({project.name!r}, token "
        f"{token}) in {time.monotonic() - started:.1f}s"
    )


def _run(coro: Coroutine[Any, Any, str]) -> str:
    """`asyncio.run`, also when this thread already runs a loop (then from a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _project(settings: Settings, project_id: int | None) -> Project:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    meta = MetaStore(settings.metadata_url)
    try:
        found = meta.create_project("Demo") if project_id is None else meta.project(project_id)
    finally:
        meta.close()
    if found is None:
        raise click.ClickException(f"no project {project_id}")
    return found


def _local_url(settings: Settings) -> str:
    """The configured server's address, reachable from this machine."""
    host = LOOPBACK_FOR.get(settings.host, settings.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def encode(token: str, batch: Sequence[Event]) -> bytes:
    """A gzip-compressed `/batch/` envelope. Historical: the server keeps the timestamps."""
    envelope: dict[str, Any] = {"api_key": token, "historical_migration": True, "batch": batch}
    return _gzip(envelope)


def _gzip(body: Any) -> bytes:
    return gzip.compress(orjson.dumps(body), compresslevel=6)


async def _deliver(settings: Settings, target: str, posts: Sequence[Post], advance: Advance) -> str:
    """Send to the server at `target`, or to the app run in this process if none answers there."""
    if not posts:
        return "(nothing to send)"
    async with httpx.AsyncClient(base_url=target, timeout=TIMEOUT, headers=HEADERS) as client:
        try:
            path, body, count = posts[0]
            await post_batch(client, body, path)
        except httpx.ConnectError:
            pass  # nothing listens there: fall back to running the server here
        else:
            advance(path, count)
            await _send_all(client, posts[1:], advance)
            return f"to {target}"
    app = create_app(settings)
    try:
        # The app types scopes as dict, httpx as MutableMapping: the same thing at run time.
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            transport=transport, base_url=IN_PROCESS_URL, timeout=TIMEOUT, headers=HEADERS
        ) as client:
            await _send_all(client, posts, advance)
    finally:
        app.services.close()  # commits everything and closes the stores
    return f"in process (no server answered at {target})"


async def _send_all(client: httpx.AsyncClient, posts: Sequence[Post], advance: Advance) -> None:
    for path, body, count in posts:
        await post_batch(client, body, path)
        advance(path, count)


async def post_batch(client: httpx.AsyncClient, body: bytes, path: str = "/batch/") -> None:
    """POST one body to `path`, waiting out 503s as long as the server asks."""
    for _ in range(MAX_ATTEMPTS):
        resp = await client.post(path, content=body)
        if resp.status_code != 503:
            _check(resp)
            return
        await asyncio.sleep(_retry_after(resp))
    raise click.ClickException(f"the server stayed overloaded after {MAX_ATTEMPTS} attempts")


def _retry_after(resp: httpx.Response) -> float:
    try:
        seconds = float(resp.headers.get("retry-after", DEFAULT_RETRY_S))
    except ValueError:  # an HTTP date or garbage: wait the default
        seconds = DEFAULT_RETRY_S
    return min(max(seconds, 0.0), MAX_RETRY_S)


def _check(resp: httpx.Response) -> None:
    if resp.status_code == 200:
        return
    try:
        body = resp.json()
    except ValueError:
        body = None
    detail = str(body.get("detail")) if isinstance(body, dict) else resp.text[:500]
    if resp.status_code == 401:
        raise click.ClickException(
            f"the server refused the project token ({detail}); "
            "does it use the same metadata database as this command?"
        )
    raise click.ClickException(f"capture failed with HTTP {resp.status_code}: {detail}")
