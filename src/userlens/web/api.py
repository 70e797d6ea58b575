"""The JSON API: health, projects, events and persons. Described by the OpenAPI document."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError

from userlens import __version__
from userlens.errors import InvalidInput, NotFound, StoreUnavailable
from userlens.model.event import EventCursor, EventFilter, StoredEvent
from userlens.model.filters import FILTER_LIST, EventsWhere, Filter
from userlens.model.project import Role, User
from userlens.query import catalog
from userlens.query.run import engine_of
from userlens.store.disk import MB
from userlens.web.auth import current_user, project_role
from userlens.web.deps import services_of
from userlens.web.insights import prepared_or_invalid
from userlens.web.params import PathId, aware, bad_request, decode_cursor, encode_cursor, field_path

log = logging.getLogger(__name__)

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]


class Health(BaseModel):
    status: str = Field(
        description='"ok", or "failing" when events cannot be loaded or the disk is too full '
        "to take them"
    )
    version: str
    queued_events: int
    disk_free_mb: int = Field(description="free space on the data directory's disk")
    detail: str | None = Field(None, description="what is failing, and why")


class ProjectOut(BaseModel):
    id: int
    name: str
    api_token: str
    timezone: str
    created_at: datetime
    role: Role | None = Field(None, description="the caller's role in the project")


class EventsPage(BaseModel):
    results: list[StoredEvent]
    next_cursor: str | None
    person_names: dict[str, str] = Field(
        default_factory=dict,
        description="the name each listed person goes by (their `email` property, else their "
        "`name`), by person id; persons with neither are not in it",
    )


class PersonOut(BaseModel):
    id: str
    created_at: datetime
    is_identified: bool
    distinct_ids: list[str]
    properties: dict[str, Any]


@router.get(
    "/_health",
    response_model=Health,
    tags=["server"],
    responses={
        503: {
            "model": Health,
            "description": "events cannot be loaded into the store, or the disk is nearly full",
        }
    },
)
def health(request: Request, response: Response) -> Health:
    """Liveness: 200 once the stores are open; 503 while acknowledged events cannot be loaded
    into the event store (they wait in the write-ahead log, and a restart loads them), or
    while capture refuses events because the disk is nearly full."""
    services = services_of(request)
    writer, disk = services.writer, services.disk
    detail = writer.failing
    refused = disk.refused()
    if detail is None and refused is not None:
        free, margin = disk.free() // MB, disk.min_free_bytes // MB
        detail = f"the disk is nearly full ({free:,} MB free): capture refuses " + (
            f"recordings until {2 * margin:,} MB are free (and events below {margin:,} MB)"
            if refused == "recordings"
            else f"events until {margin:,} MB are free, and recordings until {2 * margin:,} MB"
        )
    failing = writer.failing is not None or refused not in (None, "recordings")
    if failing:
        response.status_code = 503
    return Health(
        status="failing" if failing else "ok",
        version=__version__,
        queued_events=writer.queued,
        disk_free_mb=disk.free() // MB,
        detail=detail,
    )


@router.get("/api/projects", response_model=list[ProjectOut], tags=["projects"])
def list_projects(request: Request, user: CurrentUser) -> list[ProjectOut]:
    """Projects the caller can read."""
    meta = services_of(request).meta
    return [
        ProjectOut(
            id=p.id,
            name=p.name,
            api_token=p.api_token,
            timezone=p.timezone,
            created_at=p.created_at,
            role=role,
        )
        for p in meta.projects()
        if (role := meta.role_in(user, p.id)) is not None
    ]


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field("UTC", max_length=64, description="an IANA time zone name")


@router.post("/api/projects", response_model=ProjectOut, status_code=201, tags=["projects"])
def create_project(request: Request, user: CurrentUser, body: ProjectIn) -> ProjectOut:
    """Create a project (instance admins only); its capture token is in the answer."""
    if not user.is_admin:
        raise HTTPException(
            403, detail={"error": "forbidden", "detail": "only admins create projects"}
        )
    try:
        p = services_of(request).meta.create_project(body.name, timezone=body.timezone)
    except InvalidInput as exc:
        raise bad_request("invalid", str(exc)) from None
    return ProjectOut(
        id=p.id,
        name=p.name,
        api_token=p.api_token,
        timezone=p.timezone,
        created_at=p.created_at,
        role=Role.ADMIN,
    )


class ProjectDeletionOut(BaseModel):
    events: int = Field(description="events deleted")
    persons: int = Field(description="persons deleted")
    recorded_sessions: int = Field(description="sessions whose recordings were deleted")
    pending: bool = Field(
        description="true when the store could not finish at once: the project is deleted, "
        "and its remaining data is removed by a sweep within the hour"
    )


@router.delete(
    "/api/projects/{project_id}",
    response_model=ProjectDeletionOut,
    responses={202: {"model": ProjectDeletionOut}},
    tags=["projects"],
)
def delete_project(
    request: Request, response: Response, user: CurrentUser, project_id: PathId
) -> ProjectDeletionOut:
    """Delete a project for good (its admins only): its events, persons, recordings, cohorts,
    saved insights and dashboards; its capture token stops working at once."""
    if project_role(request, user, project_id) is not Role.ADMIN:
        raise HTTPException(
            403, detail={"error": "forbidden", "detail": "only admins delete a project"}
        )
    services = services_of(request)
    try:
        done = services.erase_project(project_id)
    except NotFound as exc:  # deleted by another request meanwhile
        raise HTTPException(404, detail={"error": "not_found", "detail": str(exc)}) from exc
    except StoreUnavailable as exc:
        log.warning("project %d deleted; its data is left to the sweep: %s", project_id, exc)
        response.status_code = 202
        return ProjectDeletionOut(events=0, persons=0, recorded_sessions=0, pending=True)
    return ProjectDeletionOut(
        events=done.events,
        persons=done.persons,
        recorded_sessions=done.recorded_sessions,
        pending=False,
    )


@router.get("/api/projects/{project_id}/events", response_model=EventsPage, tags=["events"])
def list_events(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    event: Annotated[str | None, Query(max_length=200)] = None,
    distinct_id: Annotated[str | None, Query(max_length=200)] = None,
    session_id: Annotated[str | None, Query(max_length=200)] = None,
    person_id: Annotated[
        UUID | None, Query(description="a person's id: the events of all their distinct ids")
    ] = None,
    after: Annotated[datetime | None, Query(description="inclusive, ISO 8601")] = None,
    before: Annotated[datetime | None, Query(description="exclusive, ISO 8601")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    properties: Annotated[
        str | None,
        Query(
            max_length=20_000,
            description='filters, as JSON, as insights take them: `[{"key": "plan", "value": '
            '"pro"}]` for a property (`type` `event` or `person`, and an `operator`), '
            '`{"type": "cohort", "cohort_id": 3}` for a cohort\'s persons, `{"match": "any", '
            '"filters": [...]}` for a group; all must pass',
        ),
    ] = None,
    filter_test_accounts: Annotated[
        bool, Query(description="leave out the project's internal and test users")
    ] = False,
) -> EventsPage:
    """Events newest first. Follow `next_cursor` for older ones."""
    project_role(request, user, project_id)
    after, before = aware(after), aware(before)
    if after is not None and before is not None and before <= after:
        raise bad_request("invalid_range", "before must be later than after")
    found = EventFilter(
        event=event,
        distinct_id=distinct_id,
        session_id=session_id,
        person_id=str(person_id) if person_id else None,
        after=after,
        before=before,
    )
    at = EventCursor(*decode_cursor(cursor)) if cursor else None
    services = services_of(request)
    filters = _filters(properties) if properties else []
    if filters or filter_test_accounts:
        project = services.meta.project(project_id)
        assert project is not None  # the role check found it
        try:
            where = prepared_or_invalid(
                services,
                project,
                EventsWhere(filters=filters, filter_test_accounts=filter_test_accounts),
                services.now(),
            )
            page = catalog.events_page(
                services.events, project_id, found, where.filters, limit=limit, cursor=at
            )
        except InvalidInput as exc:
            problem = str(exc).removeprefix("filters: ")
            raise bad_request("invalid_properties", f"properties: {problem}") from exc
    else:
        page = services.events.events(project_id, found, limit=limit, cursor=at)
    persons = [e.person_id for e in page.events if e.person_id is not None]
    return EventsPage(
        results=list(page.events),
        person_names=catalog.person_names(engine_of(services.events, project_id), persons),
        next_cursor=(
            encode_cursor(page.next_cursor.timestamp, page.next_cursor.uuid)
            if page.next_cursor
            else None
        ),
    )


def _filters(text: str) -> list[Filter]:
    """The `properties` parameter's filters, or a 400 saying what is wrong with them."""
    try:
        filters = FILTER_LIST.validate_json(text)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = field_path([str(p) for p in problem["loc"]])
        raise bad_request(
            "invalid_properties", f"properties{'.' + where if where else ''}: {problem['msg']}"
        ) from exc
    if len(filters) > 50:
        raise bad_request("invalid_properties", "properties: at most 50 filters")
    return filters


@router.get(
    "/api/projects/{project_id}/persons/{distinct_id}", response_model=PersonOut, tags=["persons"]
)
def get_person(
    request: Request, user: CurrentUser, project_id: PathId, distinct_id: str
) -> PersonOut:
    """The person behind a distinct id, with all the ids merged into them."""
    project_role(request, user, project_id)
    person = services_of(request).events.person(project_id, distinct_id)
    if person is None:
        raise HTTPException(404, detail={"error": "not_found", "detail": "no such person"})
    return PersonOut(
        id=person.id,
        created_at=person.created_at,
        is_identified=person.is_identified,
        distinct_ids=list(person.distinct_ids),
        properties=person.properties,
    )
