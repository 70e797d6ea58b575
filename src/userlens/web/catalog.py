"""What a project's data holds, for the web app's pickers: event names, property names and
common values, counted among recent events."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from userlens.model.project import User
from userlens.query import catalog
from userlens.query.catalog import PersonRow, Seen
from userlens.query.run import engine_of
from userlens.web.auth import current_user, project_role
from userlens.web.deps import services_of
from userlens.web.params import PathId

router = APIRouter(tags=["catalog"])
CurrentUser = Annotated[User, Depends(current_user)]
Kind = Annotated[Literal["event", "person"], Query(alias="type")]


@router.get("/api/projects/{project_id}/catalog/events", response_model=list[Seen])
def event_names(request: Request, user: CurrentUser, project_id: PathId) -> list[Seen]:
    """Event names among the project's latest events (last 30 days), most seen first."""
    project_role(request, user, project_id)
    services = services_of(request)
    return catalog.event_names(engine_of(services.events, project_id), services.now())


@router.get("/api/projects/{project_id}/catalog/properties", response_model=list[Seen])
def property_names(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    kind: Kind = "event",
    event: Annotated[str | None, Query(max_length=400)] = None,
) -> list[Seen]:
    """Property names of recent events (`type=event`, of one `event` if given) or of their
    persons (`type=person`), most seen first."""
    project_role(request, user, project_id)
    services = services_of(request)
    engine = engine_of(services.events, project_id)
    return catalog.property_names(engine, services.now(), kind, event)


@router.get("/api/projects/{project_id}/catalog/values", response_model=list[Seen])
def property_values(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    key: Annotated[str, Query(min_length=1, max_length=400)],
    kind: Kind = "event",
) -> list[Seen]:
    """A property's most common values among recent events (or their persons)."""
    project_role(request, user, project_id)
    services = services_of(request)
    engine = engine_of(services.events, project_id)
    return catalog.property_values(engine, services.now(), kind, key)


@router.get("/api/projects/{project_id}/persons", response_model=list[PersonRow], tags=["persons"])
def search_persons(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    search: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PersonRow]:
    """Persons whose distinct id or properties contain `search` (any case), newest first;
    `offset` skips that many, for the next page."""
    project_role(request, user, project_id)
    services = services_of(request)
    engine = engine_of(services.events, project_id)
    return catalog.search_persons(engine, search, limit, offset)
