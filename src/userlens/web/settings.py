"""JSON API for a project's settings: its name and time zone, recording, its privacy and
scope, Do-Not-Track, the filters that tell internal and test users apart, and the rules that
group pages in paths insights.

The snippet reads them through the remote config, so a change reaches browsers on their next
page load.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from userlens.errors import InvalidInput
from userlens.model.filters import Filter
from userlens.model.paths import MAX_RULES, PathCleaning
from userlens.model.project import Project, RecordingSettings, Role, User
from userlens.web.auth import current_user, project_role
from userlens.web.deps import services_of
from userlens.web.params import PathId

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]


class RecordingOut(BaseModel):
    enabled: bool
    sample_rate: float
    min_duration_ms: int
    retention_days: int
    mask_inputs: bool
    url_allow: list[str]
    url_deny: list[str]


class RecordingPatch(BaseModel):
    enabled: bool | None = None
    sample_rate: float | None = Field(default=None, ge=0, le=1)
    min_duration_ms: int | None = Field(default=None, ge=0, le=3_600_000)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    mask_inputs: bool | None = None
    url_allow: list[str] | None = Field(default=None, max_length=50)
    url_deny: list[str] | None = Field(default=None, max_length=50)


class SettingsOut(BaseModel):
    name: str
    timezone: str
    recording: RecordingOut
    respect_dnt: bool
    test_account_filters: list[Filter]
    path_cleaning: list[PathCleaning]


class SettingsPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone")
    recording: RecordingPatch | None = None
    respect_dnt: bool | None = None
    # Events that insights keep when they leave out internal and test users: for example
    # `{"key": "email", "type": "person", "operator": "not_contains", "value": "@ourco.com"}`.
    test_account_filters: list[Filter] | None = Field(default=None, max_length=50)
    # Page groups every paths insight applies before its own (unless it opts out):
    # `{"regex": "^/product/\\d+", "alias": "/product/:id"}`.
    path_cleaning: list[PathCleaning] | None = Field(default=None, max_length=MAX_RULES)


def _out(project: Project) -> SettingsOut:
    r = project.recording
    return SettingsOut(
        name=project.name,
        timezone=project.timezone,
        recording=RecordingOut(
            enabled=r.enabled,
            sample_rate=r.sample_rate,
            min_duration_ms=r.min_duration_ms,
            retention_days=r.retention_days,
            mask_inputs=r.mask_inputs,
            url_allow=list(r.url_allow),
            url_deny=list(r.url_deny),
        ),
        respect_dnt=project.respect_dnt,
        test_account_filters=list(project.test_account_filters),
        path_cleaning=list(project.path_cleaning),
    )


@router.get("/api/projects/{project_id}/settings", response_model=SettingsOut, tags=["projects"])
def get_settings(request: Request, user: CurrentUser, project_id: PathId) -> SettingsOut:
    """The project's capture and recording settings."""
    project_role(request, user, project_id)
    project = services_of(request).meta.project(project_id)
    assert project is not None  # the role check above found it
    return _out(project)


@router.patch("/api/projects/{project_id}/settings", response_model=SettingsOut, tags=["projects"])
def patch_settings(
    request: Request, user: CurrentUser, project_id: PathId, patch: SettingsPatch
) -> SettingsOut:
    """Change some settings; fields left out keep their value. Admins only."""
    if project_role(request, user, project_id) is not Role.ADMIN:
        raise HTTPException(
            403, detail={"error": "forbidden", "detail": "only admins change project settings"}
        )
    services = services_of(request)
    project = services.meta.project(project_id)
    assert project is not None
    try:
        if patch.name is not None or patch.timezone is not None:
            project = services.meta.rename_project(
                project_id, patch.name or project.name, patch.timezone or project.timezone
            )
        if patch.recording is not None:
            changes = patch.recording.model_dump(exclude_none=True)
            for key in ("url_allow", "url_deny"):
                if key in changes:
                    changes[key] = tuple(changes[key])
            settings: RecordingSettings = dataclasses.replace(project.recording, **changes)
            project = services.meta.set_recording(project_id, settings)
        if patch.respect_dnt is not None:
            project = services.meta.set_respect_dnt(project_id, patch.respect_dnt)
        if patch.test_account_filters is not None:
            project = services.meta.set_test_account_filters(project_id, patch.test_account_filters)
        if patch.path_cleaning is not None:
            project = services.meta.set_path_cleaning(project_id, patch.path_cleaning)
    except InvalidInput as exc:
        raise HTTPException(400, detail={"error": "invalid_settings", "detail": str(exc)}) from None
    services.tokens.forget(project.api_token)
    return _out(project)
