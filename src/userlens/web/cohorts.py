"""JSON API for a project's saved cohorts: members and admins create, change and delete them;
everyone in the project reads them. Insights use one with a filter `{"type": "cohort",
"cohort_id": N}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from userlens.errors import NotFound
from userlens.model.cohort import Cohort, CohortFromPersons, CohortIn, CohortPatch
from userlens.model.filters import MAX_LISTED, CohortDefinition, CohortFilter
from userlens.model.insight import PersonsResult
from userlens.model.project import Role, User
from userlens.query.catalog import CohortMembers, cohort_members
from userlens.query.prepare import prepare
from userlens.query.run import engine_of
from userlens.web.auth import current_user, project_role
from userlens.web.deps import services_of
from userlens.web.insights import answer, prepared
from userlens.web.params import PathId
from userlens.web.services import Services

router = APIRouter(tags=["cohorts"])
CurrentUser = Annotated[User, Depends(current_user)]
BASE = "/api/projects/{project_id}/cohorts"


def _may_change(request: Request, user: User, project_id: int) -> None:
    if project_role(request, user, project_id) is Role.VIEWER:
        raise HTTPException(
            403, detail={"error": "forbidden", "detail": "viewers do not change cohorts"}
        )


def cohort_now(services: Services, project_id: int, cohort_id: int) -> CohortFilter | None:
    """The project's saved cohort `cohort_id` as a filter ready to run now (its rules' starts
    counted back from now); None when the project has no such cohort."""
    cohort = services.meta.cohort(project_id, cohort_id)
    if cohort is None:
        return None
    return prepare(
        CohortFilter(cohort_id=cohort_id),
        cohorts=lambda _: cohort.definition,
        test_filters=(),
        now=services.now(),
    )


def _missing(cohort_id: int) -> HTTPException:
    return HTTPException(404, detail={"error": "not_found", "detail": f"no cohort {cohort_id}"})


@router.get(BASE, response_model=list[Cohort])
def list_cohorts(request: Request, user: CurrentUser, project_id: PathId) -> list[Cohort]:
    """The project's cohorts, oldest first."""
    project_role(request, user, project_id)
    return services_of(request).meta.cohorts(project_id)


@router.post(BASE, response_model=Cohort, status_code=201)
def create_cohort(
    request: Request, user: CurrentUser, project_id: PathId, body: CohortIn
) -> Cohort:
    """Save a cohort: a static list of distinct ids, or rules."""
    _may_change(request, user, project_id)
    return services_of(request).meta.create_cohort(project_id, body)


@router.post(BASE + "/from-persons", response_model=Cohort, status_code=201)
def cohort_from_persons(
    request: Request, user: CurrentUser, project_id: PathId, body: CohortFromPersons
) -> Cohort:
    """Save the persons behind an insight's number (`persons`: a `…_persons` drill-down) as a
    list cohort: every one of them as they are now, by their distinct ids."""
    _may_change(request, user, project_id)
    services = services_of(request)
    project = services.meta.project(project_id)
    assert project is not None  # the role check found it
    now = services.now()
    spec = prepared(services, project, body.persons, now)
    # One query for everyone (past the API's page size, which `model_copy` does not check):
    # pages asked one after another could shift as events arrive.
    everyone = spec.model_copy(update={"limit": MAX_LISTED + 1, "offset": 0})
    found = answer(services, project, everyone, now)
    assert isinstance(found, PersonsResult)
    ids = list(dict.fromkeys(i for person in found.persons for i in person.distinct_ids))
    if found.total > MAX_LISTED or len(ids) > MAX_LISTED:
        raise HTTPException(
            400,
            detail={
                "error": "too_many_persons",
                "detail": f"{found.total:,} persons: a list cohort holds at most "
                f"{MAX_LISTED:,} distinct ids",
            },
        )
    if not ids:
        raise HTTPException(
            400, detail={"error": "no_persons", "detail": "persons: nobody to save in a cohort"}
        )
    cohort = CohortIn(
        name=body.name,
        description=body.description,
        definition=CohortDefinition(distinct_ids=ids),
    )
    return services.meta.create_cohort(project_id, cohort)


@router.get(BASE + "/{cohort_id}", response_model=Cohort)
def get_cohort(
    request: Request, user: CurrentUser, project_id: PathId, cohort_id: PathId
) -> Cohort:
    project_role(request, user, project_id)
    cohort = services_of(request).meta.cohort(project_id, cohort_id)
    if cohort is None:
        raise _missing(cohort_id)
    return cohort


@router.get(BASE + "/{cohort_id}/persons", response_model=CohortMembers)
def cohort_persons(
    request: Request,
    user: CurrentUser,
    project_id: PathId,
    cohort_id: PathId,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CohortMembers:
    """How many persons are in the cohort now, and the newest `limit` of them."""
    project_role(request, user, project_id)
    services = services_of(request)
    members = cohort_now(services, project_id, cohort_id)
    if members is None:
        raise _missing(cohort_id)
    return cohort_members(engine_of(services.events, project_id), members, limit)


@router.patch(BASE + "/{cohort_id}", response_model=Cohort)
def patch_cohort(
    request: Request, user: CurrentUser, project_id: PathId, cohort_id: PathId, body: CohortPatch
) -> Cohort:
    """Change a cohort; fields left out keep their value."""
    _may_change(request, user, project_id)
    try:
        return services_of(request).meta.update_cohort(project_id, cohort_id, body)
    except NotFound:
        raise _missing(cohort_id) from None


@router.delete(BASE + "/{cohort_id}", status_code=204)
def delete_cohort(
    request: Request, user: CurrentUser, project_id: PathId, cohort_id: PathId
) -> Response:
    _may_change(request, user, project_id)
    try:
        services_of(request).meta.delete_cohort(project_id, cohort_id)
    except NotFound:
        raise _missing(cohort_id) from None
    return Response(status_code=204)
