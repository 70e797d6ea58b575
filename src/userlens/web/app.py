"""`create_app`: one ASGI app that sends capture paths to the capture app, the rest to the API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from userlens import __version__
from userlens.capture.app import MB, CaptureApp, Limits, Receive, Scope, Send
from userlens.capture.recordings import RecordingIngest
from userlens.capture.remote_config import RemoteConfigApp
from userlens.config import Settings
from userlens.errors import Busy
from userlens.model.queries import KINDS
from userlens.replay.retention import expire_recordings
from userlens.store.disk import DiskFull
from userlens.web.api import router
from userlens.web.backups import router as backups_router
from userlens.web.catalog import router as catalog_router
from userlens.web.cohorts import router as cohorts_router
from userlens.web.dashboards import router as dashboards_router
from userlens.web.insights import router as insights_router
from userlens.web.pages import router as pages_router
from userlens.web.params import field_path
from userlens.web.recordings import router as recordings_router
from userlens.web.services import Services, open_services
from userlens.web.session import router as session_router
from userlens.web.settings import router as settings_router
from userlens.web.team import router as team_router

log = logging.getLogger(__name__)


class UserlensApp:
    """The whole server as one ASGI callable. Capture paths skip the API's routing entirely."""

    def __init__(
        self, services: Services, api: FastAPI, capture: CaptureApp, sdk: RemoteConfigApp
    ) -> None:
        self.services = services
        self.api = api
        self.capture = capture
        self.sdk = sdk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.capture.handles(scope["path"]):
            await self.capture(scope, receive, send)
        elif scope["type"] == "http" and self.sdk.handles(scope["path"]):
            await self.sdk(scope, receive, send)
        else:
            await self.api(scope, receive, send)  # type: ignore[arg-type]


def _error_body(exc: StarletteHTTPException) -> dict[str, Any]:
    detail: Any = exc.detail
    if isinstance(detail, dict):
        return detail
    return {"error": "http_error", "detail": str(detail)}


async def _every(interval_s: int, what: str, job: Callable[[], int]) -> None:
    """Run `job` in a worker thread about every `interval_s`, for as long as the server runs
    (the first time after at most a minute)."""
    while True:
        await asyncio.sleep(min(60, interval_s))
        try:
            done = await anyio.to_thread.run_sync(job)
        except Exception:
            log.exception("%s failed; trying again later", what)
        else:
            if done:
                log.info("%s: %d done", what, done)
        await asyncio.sleep(max(0, interval_s - 60))


def _housekeeping(services: Services) -> list[Coroutine[Any, Any, None]]:
    """The recording retention sweep, the compaction of finished recordings, the sweep of
    deleted projects' data, deletions repeated in the backups made before them, the commands
    the CLI hands to the server, and backups when `backup_interval_s` asks for them."""
    settings = services.settings
    jobs = [
        _every(
            settings.retention_interval_s,
            "deleted projects' data (events and recorded sessions removed)",
            services.sweep_deleted_projects,
        ),
        _every(
            settings.retention_interval_s,
            "recording retention (chunks deleted)",
            lambda: expire_recordings(
                services.events, services.blobs, services.meta.projects(), services.now()
            ),
        ),
        _every(
            settings.compaction_interval_s,
            "recording compaction (windows merged)",
            services.compact_recordings,
        ),
        _every(
            60,
            "deletions repeated in earlier backups (backups changed)",
            services.apply_backup_erasures,
        ),
        _every(1, "requests from the CLI (carried out)", services.carry_out_requests),
    ]
    if settings.backup_interval_s:
        # Checked every minute against the newest backup's age, so that restarting the server
        # neither makes an extra backup nor puts the next one off.
        every = min(60, settings.backup_interval_s)
        jobs.append(_every(every, "scheduled backup", lambda: _backup(services)))
    return jobs


def _backup(services: Services) -> int:
    try:
        made = services.back_up_if_due()
    except (Busy, DiskFull) as exc:  # one made through the API; or no room: the next minute
        log.warning("scheduled backup put off: %s", exc)
        return 0
    if made is not None:
        log.info(
            "backup %s: %d events, %d bytes, in %.1fs",
            made.name,
            made.events,
            made.bytes,
            made.seconds,
        )
    return 0


def build_api(services: Services) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs = [asyncio.create_task(job) for job in _housekeeping(services)]
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            services.close()

    api = FastAPI(
        title="Userlens",
        version=__version__,
        description=(
            "Self-hosted product insight. /api routes need `Authorization: Bearer <token>` "
            "or the web app's session cookie (changes through the cookie need X-CSRF-Token)."
        ),
        lifespan=lifespan,
        # The interactive docs pages load scripts from a CDN; a self-hosted server must not.
        docs_url=None,
        redoc_url=None,
    )
    api.state.services = services
    # Pages, scripts and answers travel compressed: a 30-minute recording's snapshots shrink
    # about tenfold. A middle level: most of the saving for a fraction of the CPU of level 9.
    api.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    api.include_router(router)
    api.include_router(session_router)
    api.include_router(pages_router)
    api.include_router(recordings_router)
    api.include_router(settings_router)
    api.include_router(insights_router)
    api.include_router(cohorts_router)
    api.include_router(catalog_router)
    api.include_router(dashboards_router)
    api.include_router(team_router)
    api.include_router(backups_router)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_error_body(exc), status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _field(err["loc"]), "detail": err["msg"].removeprefix("Value error, ")}
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid_request", "detail": problems}, status_code=400)

    return api


def _field(loc: Sequence[object]) -> str:
    """Where a problem is, as `body.series.0.math`: without the kind that pydantic inserts
    when it validates one of several kinds of spec or filter."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] == "body" and parts[1] in KINDS:
        del parts[1]
    return field_path(parts)  # and the kind of filter, after a filter's index


def create_app(settings: Settings, *, now_us: Callable[[], int] | None = None) -> UserlensApp:
    """Open the stores under `settings.data_dir` and build the app. Closing happens on
    ASGI lifespan shutdown (or `app.services.close()`)."""
    services = open_services(settings, now_us=now_us)

    limits = Limits(bodies_in_flight=settings.max_request_bodies_mb * MB)
    tokens = services.tokens
    capture = CaptureApp(
        tokens,
        services.writer,
        services.enricher,
        now_us=services.now_us,
        disk=services.disk,
        trust_proxy=settings.trust_proxy,
        limits=limits,
        recordings=RecordingIngest(services.blobs, max_decoded=limits.recordings_decoded),
    )
    return UserlensApp(services, build_api(services), capture, RemoteConfigApp(tokens))
