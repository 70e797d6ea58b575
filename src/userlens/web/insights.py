"""JSON API for insights: a typed spec in, its result out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from userlens.errors import InvalidInput
from userlens.model.insight import TrendsQuery, TrendsResult
from userlens.model.project import User
from userlens.query import trends
from userlens.web.auth import current_user, project_role
from userlens.web.deps import services_of

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]


@router.post("/api/projects/{project_id}/query", response_model=TrendsResult, tags=["insights"])
def run_query(
    request: Request, user: CurrentUser, project_id: int, spec: TrendsQuery
) -> TrendsResult:
    """Run an insight over the project's events (trends for now), in the project's time zone.
    Events acknowledged a moment ago may take a second to be counted."""
    project_role(request, user, project_id)
    services = services_of(request)
    project = services.meta.project(project_id)
    assert project is not None  # the role check found it
    try:
        return trends.run(
            spec,
            project.timezone,
            services.now(),
            lambda query: services.events.query(project_id, query),
        )
    except InvalidInput as exc:
        raise HTTPException(400, detail={"error": "invalid_query", "detail": str(exc)}) from None
