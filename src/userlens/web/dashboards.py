"""JSON API for saved insights and dashboards: members and admins change them, everyone in
the project reads them. A new project starts with a "Product overview" dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from userlens.errors import InvalidInput, NotFound
from userlens.model.project import Role, User
from userlens.model.saved import (
    Dashboard,
    DashboardIn,
    DashboardPatch,
    SavedInsight,
    SavedInsightIn,
    SavedInsightPatch,
)
from userlens.web.auth import current_user, project_role
from userlens.web.deps import services_of
from userlens.web.params import PathId

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]
INSIGHTS = "/api/projects/{project_id}/insights"
DASHBOARDS = "/api/projects/{project_id}/dashboards"


def _may_change(request: Request, user: User, project_id: int) -> None:
    if project_role(request, user, project_id) is Role.VIEWER:
        raise HTTPException(403, detail={"error": "forbidden", "detail": "viewers only read"})


def _missing(what: str) -> HTTPException:
    return HTTPException(404, detail={"error": "not_found", "detail": f"no {what}"})


def _invalid(exc: InvalidInput) -> HTTPException:
    return HTTPException(400, detail={"error": "invalid", "detail": str(exc)})


@router.get(INSIGHTS, response_model=list[SavedInsight], tags=["insights"])
def list_insights(request: Request, user: CurrentUser, project_id: PathId) -> list[SavedInsight]:
    """The project's saved insights, oldest first."""
    project_role(request, user, project_id)
    return services_of(request).meta.insights(project_id)


@router.post(INSIGHTS, response_model=SavedInsight, status_code=201, tags=["insights"])
def save_insight(
    request: Request, user: CurrentUser, project_id: PathId, body: SavedInsightIn
) -> SavedInsight:
    """Save an insight spec under a name."""
    _may_change(request, user, project_id)
    return services_of(request).meta.create_insight(project_id, body)


@router.get(INSIGHTS + "/{insight_id}", response_model=SavedInsight, tags=["insights"])
def get_insight(
    request: Request, user: CurrentUser, project_id: PathId, insight_id: PathId
) -> SavedInsight:
    project_role(request, user, project_id)
    found = services_of(request).meta.insight(project_id, insight_id)
    if found is None:
        raise _missing(f"insight {insight_id}")
    return found


@router.patch(INSIGHTS + "/{insight_id}", response_model=SavedInsight, tags=["insights"])
def patch_insight(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    insight_id: PathId,
    body: SavedInsightPatch,
) -> SavedInsight:
    _may_change(request, user, project_id)
    try:
        return services_of(request).meta.update_insight(project_id, insight_id, body)
    except NotFound:
        raise _missing(f"insight {insight_id}") from None


@router.delete(INSIGHTS + "/{insight_id}", status_code=204, tags=["insights"])
def delete_insight(
    request: Request, user: CurrentUser, project_id: PathId, insight_id: PathId
) -> Response:
    """Delete a saved insight (it leaves every dashboard it was on)."""
    _may_change(request, user, project_id)
    try:
        services_of(request).meta.delete_insight(project_id, insight_id)
    except NotFound:
        raise _missing(f"insight {insight_id}") from None
    return Response(status_code=204)


@router.get(DASHBOARDS, response_model=list[Dashboard], tags=["dashboards"])
def list_dashboards(request: Request, user: CurrentUser, project_id: PathId) -> list[Dashboard]:
    project_role(request, user, project_id)
    return services_of(request).meta.dashboards(project_id)


@router.post(DASHBOARDS, response_model=Dashboard, status_code=201, tags=["dashboards"])
def create_dashboard(
    request: Request, user: CurrentUser, project_id: PathId, body: DashboardIn
) -> Dashboard:
    _may_change(request, user, project_id)
    try:
        return services_of(request).meta.create_dashboard(project_id, body)
    except InvalidInput as exc:
        raise _invalid(exc) from None


@router.get(DASHBOARDS + "/{dashboard_id}", response_model=Dashboard, tags=["dashboards"])
def get_dashboard(
    request: Request, user: CurrentUser, project_id: PathId, dashboard_id: PathId
) -> Dashboard:
    """A dashboard with its tiles' insights, in order."""
    project_role(request, user, project_id)
    found = services_of(request).meta.dashboard(project_id, dashboard_id)
    if found is None:
        raise _missing(f"dashboard {dashboard_id}")
    return found


@router.patch(DASHBOARDS + "/{dashboard_id}", response_model=Dashboard, tags=["dashboards"])
def patch_dashboard(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    dashboard_id: PathId,
    body: DashboardPatch,
) -> Dashboard:
    """Rename, or set its tiles (insight ids, in order: add, remove and rearrange)."""
    _may_change(request, user, project_id)
    try:
        return services_of(request).meta.update_dashboard(project_id, dashboard_id, body)
    except NotFound:
        raise _missing(f"dashboard {dashboard_id}") from None
    except InvalidInput as exc:
        raise _invalid(exc) from None


@router.delete(DASHBOARDS + "/{dashboard_id}", status_code=204, tags=["dashboards"])
def delete_dashboard(
    request: Request, user: CurrentUser, project_id: PathId, dashboard_id: PathId
) -> Response:
    _may_change(request, user, project_id)
    try:
        services_of(request).meta.delete_dashboard(project_id, dashboard_id)
    except NotFound:
        raise _missing(f"dashboard {dashboard_id}") from None
    return Response(status_code=204)
