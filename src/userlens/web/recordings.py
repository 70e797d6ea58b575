"""JSON API for recordings: the session list, a session's snapshots, deleting a person."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from userlens.errors import InvalidInput, NotFound, StoreUnavailable
from userlens.model.project import Role, User
from userlens.model.recording import SessionCursor, SessionFilter, SessionSummary
from userlens.query.catalog import cohort_person_ids
from userlens.query.run import engine_of
from userlens.replay.recordings import session_events
from userlens.web.auth import current_user, project_role
from userlens.web.cohorts import cohort_now
from userlens.web.deps import services_of
from userlens.web.params import PathId, aware, decode_cursor, encode_cursor

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]


class SessionsPage(BaseModel):
    results: list[SessionSummary]
    next_cursor: str | None


class DeletionOut(BaseModel):
    events: int
    distinct_ids: list[str]
    sessions: list[str]


@router.get("/api/projects/{project_id}/sessions", response_model=SessionsPage, tags=["sessions"])
def list_sessions(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    distinct_id: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[datetime | None, Query(description="sessions still going at or after")] = None,
    before: Annotated[datetime | None, Query(description="sessions started before")] = None,
    min_duration_s: Annotated[float | None, Query(ge=0)] = None,
    has_errors: bool | None = None,
    url_contains: Annotated[str | None, Query(max_length=2000)] = None,
    did_event: Annotated[str | None, Query(max_length=400)] = None,
    has_rage_clicks: bool | None = None,
    has_dead_clicks: bool | None = None,
    browser: Annotated[str | None, Query(max_length=200)] = None,
    os: Annotated[str | None, Query(max_length=200)] = None,
    device_type: Annotated[str | None, Query(max_length=200)] = None,
    country: Annotated[str | None, Query(max_length=200)] = None,
    cohort_id: Annotated[
        int | None, Query(description="sessions of persons in this cohort")
    ] = None,
    sort: Annotated[
        Literal["start", "duration", "errors", "activity"],
        Query(description="newest first (paged by cursor), or the largest first"),
    ] = "start",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> SessionsPage:
    """Recorded sessions, newest first (or sorted by `sort`), with the filters given."""
    project_role(request, user, project_id)
    services = services_of(request)
    person_ids = None
    if cohort_id is not None:
        cohort = cohort_now(services, project_id, cohort_id)
        if cohort is None:
            raise HTTPException(
                400,
                detail={"error": "invalid", "detail": f"cohort_id: there is no cohort {cohort_id}"},
            )
        person_ids = tuple(cohort_person_ids(engine_of(services.events, project_id), cohort))
    try:
        page = services.events.sessions(
            project_id,
            SessionFilter(
                distinct_id=distinct_id,
                after=aware(after),
                before=aware(before),
                min_duration_s=min_duration_s,
                has_errors=has_errors,
                url_contains=url_contains,
                did_event=did_event,
                has_rage_clicks=has_rage_clicks,
                has_dead_clicks=has_dead_clicks,
                browser=browser,
                os=os,
                device_type=device_type,
                country=country,
                person_ids=person_ids,
                sort=sort,
            ),
            limit=limit,
            cursor=SessionCursor(*decode_cursor(cursor)) if cursor else None,
        )
    except InvalidInput as exc:
        raise HTTPException(400, detail={"error": "invalid", "detail": str(exc)}) from None
    return SessionsPage(
        results=list(page.sessions),
        next_cursor=(
            encode_cursor(page.next_cursor.start, page.next_cursor.session_id)
            if page.next_cursor
            else None
        ),
    )


class ReplayTarget(BaseModel):
    project_id: int
    session_id: str


@router.get("/api/replay/{session_id}", response_model=ReplayTarget, tags=["sessions"])
def find_session(request: Request, user: CurrentUser, session_id: str) -> ReplayTarget:
    """Which of the caller's projects holds a recorded session (for links made by the
    snippet's `get_session_url`, which name the session alone)."""
    services = services_of(request)
    for project in services.meta.projects():
        if services.meta.role_in(user, project.id) is None:
            continue
        if services.events.recording_chunks(project.id, session_id):
            return ReplayTarget(project_id=project.id, session_id=session_id)
    raise HTTPException(404, detail={"error": "not_found", "detail": "no such recorded session"})


@router.get("/api/projects/{project_id}/sessions/{session_id}/snapshots", tags=["sessions"])
def get_snapshots(
    request: Request, user: CurrentUser, project_id: PathId, session_id: str
) -> Response:
    """Every rrweb event of the session, decoded and ordered, ready for rrweb's Replayer.

    Each event carries `windowId`. Body: `{"session_id": ..., "events": [...]}`.
    """
    project_role(request, user, project_id)
    services = services_of(request)
    try:
        events = session_events(services.events, services.blobs, project_id, session_id)
    except NotFound as exc:
        raise HTTPException(404, detail={"error": "not_found", "detail": str(exc)}) from exc
    body: dict[str, Any] = {"session_id": session_id, "events": events}
    return Response(orjson.dumps(body), media_type="application/json")


@router.delete(
    "/api/projects/{project_id}/persons/{distinct_id}", response_model=DeletionOut, tags=["persons"]
)
def remove_person(
    request: Request, user: CurrentUser, project_id: PathId, distinct_id: str
) -> DeletionOut:
    """Delete the person behind a distinct id at once: events, person record, recordings."""
    if project_role(request, user, project_id) is Role.VIEWER:
        raise HTTPException(
            403, detail={"error": "forbidden", "detail": "viewers cannot delete data"}
        )
    try:
        done = services_of(request).erase_person(project_id, distinct_id)
    except StoreUnavailable as exc:
        raise HTTPException(
            503,
            detail={"error": "store_unavailable", "detail": str(exc)},
            headers={"Retry-After": "5"},
        ) from exc
    return DeletionOut(
        events=done.events, distinct_ids=list(done.distinct_ids), sessions=list(done.sessions)
    )
