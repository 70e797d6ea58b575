"""The capture ASGI app: PostHog-compatible event endpoints, answered only once events are durable.

It can be served on its own (so capture nodes scale apart from the UI) or beside the web app.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import anyio.to_thread
import orjson

from userlens.capture.decode import decode_body, query_params
from userlens.capture.enrich import Enricher, RequestContext
from userlens.capture.envelope import unwrap
from userlens.capture.normalize import normalize
from userlens.capture.recordings import RecordingIngest
from userlens.errors import Backpressure, CaptureError, EventRejected, StoreUnavailable
from userlens.model.event import CapturedEvent
from userlens.model.recording import RecordingChunk
from userlens.store.disk import DiskFull, DiskGuard

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MB = 1024 * 1024
EVENT_PATHS = frozenset({"/e", "/i/v0/e", "/capture", "/track", "/engage"})
BATCH_PATHS = frozenset({"/batch"})
RECORDING_PATHS = frozenset({"/s"})
MAX_REJECTIONS_LISTED = 100


class ProjectResolver(Protocol):
    async def project_id(self, token: str) -> int | None: ...


class EventSink(Protocol):
    async def submit(
        self, events: Sequence[CapturedEvent], chunks: Sequence[RecordingChunk] = ()
    ) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Body caps per route: as sent on the wire, and after decompression (bomb guard); and the
    bodies held at once by all requests together."""

    events_body: int = 2 * MB
    events_decoded: int = 20 * MB
    batch_body: int = 20 * MB
    batch_decoded: int = 60 * MB
    recordings_body: int = 25 * MB
    recordings_decoded: int = 100 * MB
    bodies_in_flight: int = 256 * MB


class BodyBudget:
    """What the request bodies being read and handled hold, all requests together.

    Each body is capped on its own, but a thousand clients sending 20 MB at once would still
    fill memory: past the budget a request is answered 503 with `Retry-After` before its body
    is read. Counted on the event loop only, so no lock.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def reservation(self) -> BodyReservation:
        return BodyReservation(self)


class BodyReservation:
    """One request's share of a `BodyBudget`, given back once it is answered."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.size = 0

    def take(self, size: int) -> None:
        budget = self._budget
        others = budget.held - self.size
        # With nothing else in flight any one body goes through, however large.
        if others and budget.held + size > budget.limit:
            raise Backpressure(
                retry_after=1, detail="too many request bodies being received; retry later"
            )
        budget.held += size
        self.size += size

    def release(self) -> None:
        self._budget.held -= self.size
        self.size = 0


def normalize_path(path: str) -> str:
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


class CaptureApp:
    """ASGI app for `/e/`, `/i/v0/e/`, `/capture/`, `/track/`, `/engage/` and `/batch/`."""

    def __init__(
        self,
        resolver: ProjectResolver,
        sink: EventSink,
        enricher: Enricher,
        *,
        now_us: Callable[[], int],
        recordings: RecordingIngest | None = None,
        limits: Limits | None = None,
        disk: DiskGuard | None = None,
        trust_proxy: bool = False,
    ) -> None:
        self._recordings = recordings
        self._disk = disk
        self._resolver = resolver
        self._sink = sink
        self._enricher = enricher
        self._now_us = now_us
        self._limits = limits or Limits()
        self._bodies = BodyBudget(self._limits.bodies_in_flight)
        self._trust_proxy = trust_proxy

    def handles(self, path: str) -> bool:
        path = normalize_path(path)
        return (
            path in EVENT_PATHS
            or path in BATCH_PATHS
            or (path in RECORDING_PATHS and self._recordings is not None)
        )

    def _caps(self, path: str) -> tuple[int, int]:
        limits = self._limits
        if path in BATCH_PATHS:
            return limits.batch_body, limits.batch_decoded
        if path in RECORDING_PATHS:
            return limits.recordings_body, limits.recordings_decoded
        return limits.events_body, limits.events_decoded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cors = cors_headers(headers)
        method = scope["method"]
        if method == "OPTIONS":
            await respond(send, 200, {"status": 1}, cors)
            return
        if method not in ("GET", "POST"):
            await respond(
                send, 405, _error("method_not_allowed", f"{method} is not supported"), cors
            )
            return
        reservation = self._bodies.reservation()
        try:
            status, body, extra = await self._handle(scope, receive, headers, method, reservation)
        except CaptureError as exc:
            status, body, extra = exc.status, _error(exc.code, exc.detail), []
        except Backpressure as exc:
            status = 503
            body = _error(
                "disk_nearly_full" if isinstance(exc, DiskFull) else "overloaded", exc.detail
            )
            extra = [(b"retry-after", str(exc.retry_after).encode())]
        except StoreUnavailable as exc:
            status, body, extra = (
                503,
                _error("store_unavailable", str(exc)),
                [(b"retry-after", b"5")],
            )
        finally:
            reservation.release()
        await respond(send, status, body, cors + extra)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        method: str,
        reservation: BodyReservation,
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        path = normalize_path(scope["path"])
        body_cap, decoded_cap = self._caps(path)
        query = query_params(scope.get("query_string", b""))
        body = await read_body(receive, headers, body_cap, reservation) if method == "POST" else b""
        try:
            payload = decode_body(
                body,
                method=method,
                content_type=headers.get("content-type", ""),
                content_encoding=headers.get("content-encoding", ""),
                query=query,
                max_size=decoded_cap,
            )
        except CaptureError:
            raise
        except Exception as exc:  # any other decoding failure is the body's fault
            raise CaptureError(400, "undecodable_body", f"body cannot be decoded: {exc}") from exc
        envelope = unwrap(payload, query)
        project_id = await self._resolver.project_id(envelope.token)
        if project_id is None:
            raise CaptureError(401, "unknown_token", "no project has this token")
        if self._disk is not None:
            self._disk.check(recordings=path in RECORDING_PATHS)
        if path in RECORDING_PATHS and self._recordings is not None:
            return await self._ingest_recordings(self._recordings, project_id, envelope.events)
        ctx = RequestContext(
            user_agent=headers.get("user-agent", ""), client_ip=self._client_ip(scope, headers)
        )
        now = self._now_us()
        accepted: list[CapturedEvent] = []
        rejected: list[dict[str, Any]] = []
        for index, raw in enumerate(envelope.events):
            if path == "/engage" and isinstance(raw, dict) and "event" not in raw:
                raw["event"] = "$set"
            try:
                accepted.append(
                    normalize(
                        raw,
                        project_id=project_id,
                        sent_at=envelope.sent_at,
                        historical=envelope.historical,
                        now_us=now,
                        ctx=ctx,
                        enricher=self._enricher,
                    )
                )
            except EventRejected as exc:
                rejected.append({"index": index, "error": exc.code, "detail": exc.detail})
            except (ValueError, TypeError, OverflowError, RecursionError) as exc:
                # A shape of input the validators did not foresee: refuse the event, not the server.
                log.warning("event %d refused: %r", index, exc)
                rejected.append(
                    {"index": index, "error": "invalid_event", "detail": str(exc)[:200]}
                )
        if accepted:
            await self._sink.submit(accepted)
        if not rejected:
            return 200, {"status": 1}, []
        return 400, _rejection_body(rejected, len(accepted)), []

    async def _ingest_recordings(
        self, ingest: RecordingIngest, project_id: int, items: list[Any]
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        # Inflating snapshots and fsyncing blobs both take a while: keep them off the loop.
        groups, rejected = await anyio.to_thread.run_sync(ingest.group, items)
        if groups:
            chunks = await anyio.to_thread.run_sync(
                ingest.store, project_id, groups, self._now_us()
            )
            await self._sink.submit((), chunks)
        if not rejected:
            return 200, {"status": 1}, []
        return 400, _rejection_body(rejected, len(items) - len(rejected)), []

    def _client_ip(self, scope: Scope, headers: dict[str, str]) -> str | None:
        if self._trust_proxy:
            forwarded = headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[0].strip()
        client = scope.get("client")
        return str(client[0]) if client else None


def _rejection_body(rejected: list[dict[str, Any]], accepted: int) -> dict[str, Any]:
    total = accepted + len(rejected)
    code = rejected[0]["error"] if len(rejected) == 1 else "invalid_events"
    detail = (
        rejected[0]["detail"]
        if total == 1
        else f"{len(rejected)} of {total} events were rejected; the other {accepted} were stored"
    )
    return {
        "status": 0,
        "error": code,
        "detail": detail,
        "accepted": accepted,
        "rejected": rejected[:MAX_REJECTIONS_LISTED],
    }


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"status": 0, "error": code, "detail": detail}


async def read_body(
    receive: Receive,
    headers: dict[str, str],
    cap: int,
    reservation: BodyReservation | None = None,
) -> bytes:
    """The whole body, refused past `cap`; counted against `reservation`'s budget (up front when
    its length is declared, else as it arrives)."""
    declared = headers.get("content-length", "")
    if declared.isdigit():
        if int(declared) > cap:
            raise CaptureError(413, "body_too_large", f"body is larger than {cap} bytes")
        if reservation is not None:
            reservation.take(int(declared))
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise CaptureError(400, "client_disconnected", "the client went away mid-body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise CaptureError(413, "body_too_large", f"body is larger than {cap} bytes")
        if reservation is not None and size > reservation.size:
            reservation.take(size - reservation.size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def cors_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    origin = headers.get("origin")
    if not origin:
        return [(b"access-control-allow-origin", b"*")]
    out = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
        (b"access-control-max-age", b"86400"),
        (b"vary", b"Origin"),
    ]
    requested = headers.get("access-control-request-headers")
    if requested:
        out.append((b"access-control-allow-headers", requested.encode("latin-1")))
    return out


async def respond(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    data = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
