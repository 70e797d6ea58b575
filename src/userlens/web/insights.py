"""JSON API for insights: a typed spec in, its result out, cached until the data changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from userlens.errors import InvalidInput
from userlens.model.filters import CohortDefinition
from userlens.model.project import Project, User
from userlens.model.queries import InsightQuery, InsightResult
from userlens.query.prepare import prepare
from userlens.query.run import engine_of, run
from userlens.web.auth import current_user, project_role
from userlens.web.cache import CacheKey
from userlens.web.deps import services_of
from userlens.web.params import PathId
from userlens.web.services import Services

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]

# Fields of a spec that say how to draw the answer, not what it is: left out of cache keys.
PRESENTATION = {"display"}


@router.post("/api/projects/{project_id}/query", response_model=InsightResult, tags=["insights"])
def run_query(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    spec: InsightQuery,
    refresh: Annotated[bool, Query(description="compute again, even if cached")] = False,
) -> InsightResult:
    """Run an insight over the project's events, in the project's time zone: `kind` is
    `trends` (the default), `funnel`, `retention`, `paths`, `lifecycle` or `stickiness`, or
    one of their `…_persons` drill-downs, which list the persons behind a number.
    Answers are cached until new data arrives (or for a minute); `refresh` skips the cache.
    Events acknowledged a moment ago may take a second to be counted."""
    project_role(request, user, project_id)
    services = services_of(request)
    project = services.meta.project(project_id)
    assert project is not None  # the role check found it
    now = services.now()
    spec = prepared(services, project, spec, now)
    key: CacheKey = (
        project_id,
        spec.model_dump_json(exclude=PRESENTATION),
        project.timezone,
        services.events.data_version(project_id),
        now.replace(second=0, microsecond=0),
    )
    if not refresh and (hit := services.insight_cache.get(key)) is not None:
        return hit.model_copy(update={"cached": True})
    result = answer(services, project, spec, now)
    services.insight_cache.put(key, result)
    return result


S = TypeVar("S", bound=BaseModel)


def prepared(services: Services, project: Project, spec: S, now: datetime) -> S:
    """`spec` ready to run (`query.prepare`): saved cohorts and the project's test-account
    filters put in; a 400 when it names a cohort the project does not have."""
    try:
        return prepared_or_invalid(services, project, spec, now)
    except InvalidInput as exc:
        raise _invalid(exc) from None


def prepared_or_invalid(services: Services, project: Project, spec: S, now: datetime) -> S:
    """`prepared`, raising `InvalidInput` for a cohort the project does not have."""
    return prepare(
        spec,
        cohorts=lambda cohort_id: _definition(services, project.id, cohort_id),
        test_filters=project.test_account_filters,
        now=now,
        path_rules=project.path_cleaning,
    )


def answer(
    services: Services, project: Project, spec: InsightQuery, now: datetime
) -> InsightResult:
    """A prepared spec run over the project's events; a 400 when the engine refuses it."""
    try:
        return run(spec, project.timezone, now, engine_of(services.events, project.id))
    except InvalidInput as exc:
        raise _invalid(exc) from None


def _invalid(exc: InvalidInput) -> HTTPException:
    return HTTPException(400, detail={"error": "invalid_query", "detail": str(exc)})


def _definition(services: Services, project_id: int, cohort_id: int) -> CohortDefinition | None:
    cohort = services.meta.cohort(project_id, cohort_id)
    return cohort.definition if cohort else None
